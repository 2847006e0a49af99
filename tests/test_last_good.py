"""Last known data through a long Mist outage, in real Chromium: once the live snapshot has
expired (3 intervals) the page still shows every gateway from the last-good copy, with the
stale banner, the data's age and the worker's last error; the next good refresh brings it
back to live without a reload."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from store.keys import KEY_ETAGS, KEY_GATEWAYS, LAST_GOOD_TTL, last_good_key
from tests.fixtures.mistsim_server import MistSim
from tests.fixtures.ports import wait_until
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.web_server import start_web_server
from tests.fixtures.worker_proc import ROOT, worker_env

TOKEN = "tok-last-good-test"


def worker_once(sim: MistSim, redis: RedisServer, cwd: Path, interval: int) -> int:
    result = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--once"],
        cwd=cwd,
        env=worker_env(sim, redis.url, WORKER_INTERVAL=str(interval)),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
    )
    return result.returncode


def test_a_page_opened_after_the_live_keys_expired_shows_the_last_known_data(page, tmp_path):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    sim = MistSim(
        ["--port", "0", "--gateways", "30", "--sites", "5", "--tokens", TOKEN],
        tmp_path / "ca.pem",
        [TOKEN],
    )
    web = start_web_server(redis.url, tmp_path / "web", STATUS_POLL_MS=500)
    client = redis.client()
    try:
        assert worker_once(sim, redis, tmp_path, interval=2) == 0  # live keys live 6 s
        published = web.get("/api/gateways").json()["gateways"]
        assert 0 < client.ttl(last_good_key(KEY_GATEWAYS)) <= LAST_GOOD_TTL
        sim.set_faults(outage=True)
        assert worker_once(sim, redis, tmp_path, interval=2) == 1  # Mist is away
        wait_until(
            lambda: not client.exists(KEY_GATEWAYS, KEY_ETAGS), 15, "the live keys to expire"
        )
        status = web.get("/api/status").json()
        assert status["source"] == "last_good" and status["stale"] is True
        assert status["status"] == "error" and status["last_error"]

        page.goto(web.url + "/")
        page.wait_for_selector("body[data-loaded=true]")
        assert f"{len(published)} gateways" in page.inner_text("#row-count")
        page.wait_for_selector("#stale-banner", state="visible")
        banner = page.inner_text("#stale-banner")
        assert "last known data" in banner and "stale" in banner, banner
        assert re.search(r"last updated .+ \((just now|\d.* ago)\)", banner), "the data's age"
        page.wait_for_function(  # the age keeps counting while the page stays open
            "() => / ago\\)/.test(document.getElementById('stale-banner').textContent)"
        )
        assert page.locator("#error-banner").is_visible()
        assert "failed" in page.inner_text("#error-banner")
        page.evaluate("window.__sameDocument = true")

        sim.clear_faults()
        refreshed_at = time.time()
        assert worker_once(sim, redis, tmp_path, interval=300) == 0
        page.wait_for_selector("#stale-banner", state="hidden", timeout=10000)
        assert "source" not in web.get("/api/status").json()
        assert page.evaluate("window.__sameDocument") is True, "no page reload"
        assert f"{len(published)} gateways" in page.inner_text("#row-count")
        assert web.get("/api/status").json()["last_update"] >= refreshed_at - 1
        assert page.problems == []
    finally:
        web.stop()
        sim.stop()
        redis.stop()
