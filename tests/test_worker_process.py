"""`python worker.py` as the containers run it (stdin closed, so any prompt would fail):
--once and --healthcheck exit codes, SIGTERM and SIGKILL mid-refresh, two workers sharing one
Redis, Redis restarting under a running worker, and a token that never leaks."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.drill_ha import PUBLISHED_LINE
from store.codec import etag_of
from store.keys import GZIP_ONLY, LEASE_SECONDS, Dataset
from store.reads import read_served
from tests.fixtures.ports import wait_until
from tests.fixtures.redis_proxy import RedisProxy
from tests.fixtures.web_server import start_web_server
from tests.fixtures.worker_proc import ROOT, worker_env


def last_update(client) -> float:
    raw = client.get("mist:metadata:last_update")
    return float(raw) if raw is not None else 0.0


def assert_consistent(client) -> None:
    """Every served body matches its ETag: a reader never sees half of two refreshes."""
    for dataset in Dataset:
        served = read_served(client, dataset, gzip_ok=False)
        assert served is not None, dataset
        zipped = read_served(client, dataset, gzip_ok=True)
        assert zipped is not None and gzip.decompress(zipped.body) == served.body
        stored = zipped if dataset in GZIP_ONLY else served  # the ETag of what is stored
        assert etag_of(stored.body) == stored.etag, dataset
    pipe = client.pipeline(transaction=True)  # both in one snapshot read
    pipe.get("mist:gateways")
    pipe.get("mist:insights:all:gz")  # stored as gzip alone (GZIP_ONLY)
    gateways_body, insights_zipped = pipe.execute()
    gateways, insights = json.loads(gateways_body), json.loads(gzip.decompress(insights_zipped))
    assert {ts["ts"] for ts in insights.values()} == {gateways["generated_at"]}


def healthcheck(redis_url: str) -> int:
    env = {"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--healthcheck"],
        env=env,
        cwd="/",  # no developer .env may change the outcome
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
    ).returncode


def test_once_exits_0_on_success_1_on_failure_and_healthcheck_follows(
    mistsim, redis_server, worker_proc
):
    assert healthcheck(redis_server.url) == 1  # no heartbeat yet
    env = worker_env(mistsim, redis_server.url, MIST_ORG_ID="")
    once = worker_proc(["--once"], env)
    assert once.wait(60) == 0, once.output()
    assert "refresh published" in once.output()
    assert healthcheck(redis_server.url) == 0
    client = redis_server.client()
    logged = PUBLISHED_LINE.search(once.output())  # the pattern the HA drill reads it with
    assert logged is not None, "the line names the snapshot that went live (the HA drill reads it)"
    assert float(logged[1]) == float(client.get("mist:metadata:last_update"))
    assert client.get("mist:lock:worker") is None  # the lease is given back
    mistsim.set_faults(outage=True)
    failing = worker_proc(["--once"], env)
    assert failing.wait(60) == 1, failing.output()
    assert "Traceback" not in failing.output()
    assert client.get("mist:metadata:worker_status") == b"error"


def test_several_orgs_without_a_choice_exit_2_listing_them(
    mistsim_factory, redis_server, worker_proc
):
    sim = mistsim_factory(orgs=2)
    process = worker_proc(["--once"], worker_env(sim, redis_server.url, MIST_ORG_ID=""))
    assert process.wait(60) == 2
    output = process.output()
    assert "MIST_ORG_ID" in output and sim.org_id in output and "Traceback" not in output


def run_once_capturing(env: dict[str, str], cwd) -> subprocess.CompletedProcess[str]:
    """`worker.py --once` with stdout and stderr apart (the setting error goes to stderr)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--once"],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_msp_token_with_one_org_refreshes_without_mist_org_id(
    mistsim_factory, redis_server, worker_proc
):
    sim = mistsim_factory(msp_tokens=["msp-token"])
    env = worker_env(sim, redis_server.url, MIST_API_TOKEN="msp-token", MIST_ORG_ID="")
    process = worker_proc(["--once"], env)
    assert process.wait(60) == 0, process.output()
    assert f"org detected from the token's privileges: {sim.org_id}" in process.output()
    organization = json.loads(redis_server.client().get("mist:org"))
    assert organization["id"] == sim.org_id
    assert sim.calls()["by_endpoint"]["GET /api/v1/msps/{msp_id}/orgs"] == 1


def test_an_msp_token_with_two_orgs_exits_2_naming_both(mistsim_factory, redis_server, tmp_path):
    sim = mistsim_factory(orgs=2, msp_tokens=["msp-token"])
    env = worker_env(sim, redis_server.url, MIST_API_TOKEN="msp-token", MIST_ORG_ID="")
    result = run_once_capturing(env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "error: setting MIST_ORG_ID: the token sees several orgs" in result.stderr
    assert all(org_id in result.stderr for org_id in sim.org_summary()["org_ids"])
    assert "Traceback" not in result.stderr
    assert redis_server.client().get("mist:org") is None  # nothing read, nothing published


def test_a_refused_msp_listing_exits_2_naming_the_msp(mistsim_factory, redis_server, tmp_path):
    sim = mistsim_factory(msp_tokens=["msp-token"])
    sim.set_faults(forbidden=True, paths="^/api/v1/msps/")
    env = worker_env(sim, redis_server.url, MIST_API_TOKEN="msp-token", MIST_ORG_ID="")
    result = run_once_capturing(env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "error: setting MIST_ORG_ID:" in result.stderr
    assert f"MSP {sim.msp_id} (Example MSP, HTTP 403)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_site_privilege_listed_before_the_org_privilege_still_picks_the_org(
    mistsim_factory, redis_server, worker_proc
):
    """The reported defect: /self lists a site of another org first; that is no choice."""
    sim = mistsim_factory(orgs=2, user_tokens={"alice": "site:2:admin+org:1"})
    env = worker_env(sim, redis_server.url, MIST_API_TOKEN="alice", MIST_ORG_ID="")
    process = worker_proc(["--once"], env)
    assert process.wait(60) == 0, process.output()
    assert f"org detected from the token's privileges: {sim.org_id}" in process.output()
    assert json.loads(redis_server.client().get("mist:org"))["id"] == sim.org_id


@pytest.mark.parametrize(
    ("privileges", "setting", "says"),
    [
        ("site:1:admin+site:2", "MIST_API_TOKEN", "an org-level token is needed (Observer"),
        ("org:2+site:1+org:1", "MIST_ORG_ID", "the token sees several orgs"),
    ],
    ids=["site-only", "several-orgs"],
)
def test_privileges_that_cannot_choose_one_org_exit_2_naming_the_setting(
    mistsim_factory, redis_server, tmp_path, privileges, setting, says
):
    sim = mistsim_factory(orgs=2, user_tokens={"user-token": privileges})
    env = worker_env(sim, redis_server.url, MIST_API_TOKEN="user-token", MIST_ORG_ID="")
    result = run_once_capturing(env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"error: setting {setting}: " in result.stderr and says in result.stderr
    if setting == "MIST_ORG_ID":  # the org-scoped choices are listed
        assert all(org_id in result.stderr for org_id in sim.org_summary()["org_ids"])
    assert "Traceback" not in result.stderr
    client = redis_server.client()
    assert client.get("mist:org") is None  # nothing read, nothing published
    assert json.loads(client.get("mist:metadata:status"))["last_error"].startswith("start-up:")


def test_a_rejected_token_is_named_in_the_status_and_the_others_refresh(
    mistsim_factory, redis_server, worker_proc
):
    sim = mistsim_factory(tokens=["test-token"])
    env = worker_env(sim, redis_server.url, MIST_API_TOKEN="test-token,revoked-5c1e9a")
    process = worker_proc(["--once"], env)  # MIST_ORG_ID set: the tokens are checked anyway
    assert process.wait(60) == 0, process.output()
    assert "token 2 was rejected by Mist (HTTP 401); using the others" in process.output()
    tokens = json.loads(redis_server.client().get("mist:metadata:status"))["tokens"]
    assert [(t["label"], t["rejected"]) for t in tokens] == [("token 1", False), ("token 2", True)]
    assert sim.calls()["by_token"]["revoked-5c1e9a"] == 1  # its /self, nothing more
    assert sim.calls()["by_endpoint"]["GET /api/v1/self"] == 2
    assert "revoked-5c1e9a" not in process.output()


def test_every_token_rejected_exits_2_naming_mist_api_token(
    mistsim_factory, redis_server, tmp_path
):
    sim = mistsim_factory(tokens=["test-token"])
    env = worker_env(sim, redis_server.url, MIST_API_TOKEN="revoked-a1,revoked-b2")
    result = run_once_capturing(env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "error: setting MIST_API_TOKEN: Mist rejected every configured token" in result.stderr
    assert "revoked-a1" not in result.stderr + result.stdout
    status = json.loads(redis_server.client().get("mist:metadata:status"))
    assert [t["rejected"] for t in status["tokens"]] == [True, True]


def test_mist_unreachable_at_start_is_retried_never_exit_2(
    mistsim_factory, redis_server, worker_proc
):
    sim = mistsim_factory()
    sim.set_faults(outage=True)
    client = redis_server.client()
    stopped = worker_proc([], worker_env(sim, redis_server.url), name="stopped")
    wait_until(lambda: "retrying in" in stopped.output(), 30, "a retried /self")
    stopped.signal(signal.SIGTERM)  # honoured while retrying
    assert stopped.wait(15) == 0, stopped.output()
    process = worker_proc([], worker_env(sim, redis_server.url, WORKER_INTERVAL="1"))
    failed = "start-up check of the tokens failed, will try again"
    wait_until(lambda: process.output().count(failed) >= 2, 60, "two start-up tries")
    assert process.process.poll() is None, process.output()
    status = json.loads(client.get("mist:metadata:status"))
    assert status["status"] == "error" and status["last_error"].startswith("start-up: ")
    sim.clear_faults()
    wait_until(lambda: last_update(client) > 0, 60, "a publish once Mist is back")
    process.signal(signal.SIGTERM)
    assert process.wait(30) == 0, process.output()
    assert "error: setting" not in process.output() + stopped.output()


def test_token_canary_never_reaches_logs_or_redis(mistsim_factory, redis_server, worker_proc):
    canary = "CANARY-tok-7f3a9c1e5b2d4f60"
    sim = mistsim_factory(tokens=["exhausted-9d8c7b6a5f4e3d2c", canary], edge_cases=True)
    sim.set_faults(exhausted_tokens=["exhausted-9d8c7b6a5f4e3d2c"])
    env = worker_env(sim, redis_server.url, LOG_LEVEL="DEBUG", MIST_ORG_ID="")
    process = worker_proc(["--once"], env)
    assert process.wait(60) == 0, process.output()
    sim.set_faults(outage=True)
    failing = worker_proc(["--once"], env)
    assert failing.wait(60) == 1
    client = redis_server.client()
    secrets = [canary.encode(), b"exhausted-9d8c7b6a5f4e3d2c"]
    keys = list(client.scan_iter(match="*", count=1000))
    assert len(keys) > 20
    for key in keys:
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key)]
        elif kind == b"hash":
            values = [*client.hkeys(key), *client.hvals(key)]
        else:
            values = []
        for value in [key, *values]:
            if value is None:  # gone between SCAN and GET (a TTL): nothing left to leak
                continue
            if value.startswith(b"\x1f\x8b"):
                value = gzip.decompress(value)
            assert not any(secret in value for secret in secrets), key
    for output in (process.output(), failing.output()):
        assert canary not in output and "exhausted-9d8c7b6a5f4e3d2c" not in output
    assert "token 1 is rate limited" in process.output()


def test_sigterm_stops_after_the_current_phase_and_releases_the_lease(
    mistsim_factory, redis_server, worker_proc
):
    sim = mistsim_factory(latency_ms=400)
    client = redis_server.client()
    process = worker_proc([], worker_env(sim, redis_server.url))
    wait_until(lambda: client.get("mist:lock:worker") is not None, 30, "the worker's lease")
    wait_until(
        lambda: client.get("mist:metadata:worker_status") == b"running", 30, "a running refresh"
    )
    assert niceness(process.process.pid) == max(10, os.nice(0))  # behind the web for CPU
    process.signal(signal.SIGTERM)
    assert process.wait(30) == 0, process.output()
    assert client.get("mist:lock:worker") is None
    assert "Traceback" not in process.output()


def niceness(pid: int) -> int:
    """A running process's niceness, as the kernel schedules it (/proc/PID/stat field 19)."""
    stat = (Path("/proc") / str(pid) / "stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_a_worker_started_nicer_than_10_stays_as_nice():
    """lower_priority raises the niceness to 10, never lowers one an operator chose."""
    script = (
        "import os; from refresh.process import lower_priority; lower_priority(); print(os.nice(0))"
    )
    for added in (0, 15):  # on top of the niceness this test runs at
        started = min(19, os.nice(0) + added)
        result = subprocess.run(
            ["nice", "-n", str(added), sys.executable, "-c", script],
            cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert result.stdout.split() == [str(max(10, started))], result.stderr


def mid_fetch(client) -> bool:
    """The worker is fetching and has some of its fetches done, not all."""
    if client.get("mist:metadata:worker_status") != b"running":
        return False
    status = json.loads(client.get("mist:metadata:status"))
    progress = status["progress"] or {}
    return str(status["phase"]).startswith("fetch:") and progress.get("done", 0) > 0


def test_sigkill_mid_refresh_leaves_readers_a_consistent_snapshot(
    mistsim_factory, redis_server, worker_proc
):
    sim = mistsim_factory(gateways=60, sites=20)
    client = redis_server.client()
    process = worker_proc([], worker_env(sim, redis_server.url, WORKER_INTERVAL="1"))
    # (the one-org overview is switched with its snapshot: both are there at once)
    wait_until(lambda: last_update(client) > 0 and client.exists("mist:orgs"), 60, "a publish")
    assert_consistent(client)
    sim.set_faults(latency_ms=400)  # each refresh now takes seconds: kill it in the middle
    client.set("mist:metadata:worker_status", "marker")
    wait_until(lambda: mid_fetch(client), 30, "a refresh with some of its fetches done")
    process.signal(signal.SIGKILL)
    process.wait(10)
    assert_consistent(client)
    assert json.loads(client.get("mist:metadata:status"))["status"] == "running"


@pytest.mark.parametrize(
    ("marker", "nth"),
    [(b"mist:staged:", 4), (b"RENAME", 3)],
    ids=["in-the-staging", "inside-the-switch"],
)
def test_sigkill_inside_the_publish_keeps_the_old_snapshot_whole(
    mistsim, redis_server, worker_proc, marker, nth
):
    """Killed while staging (some staged keys written) or with the switch's MULTI half sent
    (some RENAMEs queued, no EXEC): readers keep the whole old snapshot, and the next
    refresh publishes over the leftovers."""
    client = redis_server.client()
    first = worker_proc(["--once"], worker_env(mistsim, redis_server.url), name="first")
    assert first.wait(60) == 0, first.output()
    published = last_update(client)
    bodies = {key: client.get(key) for key in ("mist:gateways", "mist:gateways:rows")}
    mistsim.advance(300)
    proxy = RedisProxy(redis_server.port)
    try:
        proxy.hold(marker, nth)
        env = worker_env(mistsim, proxy.url)
        killed = worker_proc(["--once", "--lease-seconds", "3"], env, name="killed")
        assert proxy.held.wait(60), killed.output()
        killed.signal(signal.SIGKILL)
        killed.wait(10)
    finally:
        proxy.close()
    assert last_update(client) == published
    assert {key: client.get(key) for key in bodies} == bodies
    assert_consistent(client)
    assert list(client.scan_iter("mist:staged:*")), "killed after some staging reached Redis"
    wait_until(lambda: client.get("mist:lock:worker") is None, 10, "the dead one's lease")
    following = worker_proc(["--once"], worker_env(mistsim, redis_server.url), name="next")
    assert following.wait(60) == 0, following.output()
    assert last_update(client) > published
    assert_consistent(client)


WEB_PATHS = ("/health", "/api/gateways", "/api/gateways/rows", "/api/status", "/api/sites")


def test_redis_frozen_while_the_web_serves_and_the_worker_publishes(
    mistsim, redis_server, worker_proc, tmp_path
):
    """redis-server SIGSTOPped with the worker inside its publish: the web answers 503 JSON
    within its 2 s Redis timeout (never hangs), the worker's publish times out (30 s) and is
    recorded as a Redis error, and once Redis runs again the worker publishes a whole
    snapshot; readers never see half of one."""
    client = redis_server.client()
    web = start_web_server(redis_server.url, tmp_path / "web")
    proxy = RedisProxy(redis_server.port)
    assert redis_server.process is not None
    pid = redis_server.process.pid
    try:
        # A snapshot whose keys outlive the freeze (3 intervals of 300 s).
        env = worker_env(mistsim, redis_server.url, WORKER_INTERVAL="300")
        once = worker_proc(["--once"], env, name="once")
        assert once.wait(60) == 0, once.output()
        assert all(web.get(path).status_code == 200 for path in WEB_PATHS)
        published = last_update(client)
        proxy.hold(b"mist:staged:", 2)  # its first publish, a little way into its staging
        process = worker_proc([], worker_env(mistsim, proxy.url, WORKER_INTERVAL="2"))
        assert proxy.held.wait(60), process.output()
        os.kill(pid, signal.SIGSTOP)
        try:
            for path in WEB_PATHS:
                began = time.monotonic()
                response = web.get(path)
                assert time.monotonic() - began < 2 + 1.5, path  # its timeout, plus slack
                assert response.status_code == 503, (path, response.text)
                assert response.headers["Content-Type"].startswith("application/json"), path
                assert "redis" in response.json()["error"].lower(), path
            wait_until(lambda: "refresh failed" in process.output(), 45, "the publish timing out")
        finally:
            os.kill(pid, signal.SIGCONT)
        assert "refresh failed after" in process.output() and ": Redis: " in process.output()
        assert last_update(client) == published, "the frozen publish switched nothing live"
        assert_consistent(client)
        wait_until(lambda: last_update(client) > published, 60, "a publish once Redis runs")
        assert_consistent(client)
        status = json.loads(client.get("mist:metadata:status"))
        assert status["status"] == "idle" and status["last_error"].startswith("Redis: "), status
        assert "imeout" in status["last_error"], "a frozen Redis is a timeout, not a refusal"
        assert all(web.get(path).status_code == 200 for path in WEB_PATHS)
        assert process.process.poll() is None, process.output()
    finally:
        proxy.close()
        web.stop()


def test_two_workers_only_one_spends_tokens_and_the_other_takes_over(
    mistsim, redis_server, worker_proc
):
    client = redis_server.client()
    env = worker_env(mistsim, redis_server.url, WORKER_INTERVAL="1")
    first = worker_proc(["--lease-seconds", "3"], env, name="first")
    wait_until(lambda: client.get("mist:lock:worker") is not None, 30, "a lease holder")
    second = worker_proc(["--lease-seconds", "3"], env, name="second")
    wait_until(lambda: last_update(client) > 0, 30, "a first publish")
    owner = client.get("mist:lock:worker").decode()
    holder, standby = (first, second) if str(first.process.pid) in owner else (second, first)
    wait_until(  # several intervals, past the lease's 3 s: the holder keeps refreshing
        lambda: holder.output().count("refresh published") >= 4, 30, "four refreshes"
    )
    assert "refresh published" in holder.output()
    assert "refresh published" not in standby.output()
    assert "holding the worker lease" not in standby.output()
    holder.signal(signal.SIGKILL)
    holder.wait(10)
    killed_at = time.time()
    wait_until(lambda: "refresh published" in standby.output(), 30, "the standby taking over")
    assert time.time() - killed_at < 3 + 12  # lease lapse + one refresh, with CI slack
    assert str(standby.process.pid) in client.get("mist:lock:worker").decode()
    assert last_update(client) > killed_at


def redis_failure_logged(output: str) -> bool:
    """The worker said that Redis failed it (a refresh or its lease)."""
    return "could not reach Redis" in output or ("refresh failed" in output and "Redis" in output)


def test_redis_restart_under_a_running_worker_loses_nothing(mistsim, redis_server, worker_proc):
    client = redis_server.client()
    process = worker_proc([], worker_env(mistsim, redis_server.url, WORKER_INTERVAL="1"))
    wait_until(lambda: last_update(client) > 0, 30, "a first publish")
    seen = len(process.output())
    redis_server.kill()
    wait_until(  # the worker's refreshes fail meanwhile; it must not die
        lambda: redis_failure_logged(process.output()[seen:]), 30, "a refresh failing on Redis"
    )
    assert process.process.poll() is None, process.output()
    redis_server.start()
    client = redis_server.client()
    assert last_update(client) > 0  # AOF kept the snapshot
    assert_consistent(client)
    restarted_at = time.time()
    wait_until(lambda: last_update(client) > restarted_at, 30, "a publish after the restart")
    assert process.process.poll() is None, process.output()


def test_settings_come_from_dot_env_in_the_working_directory(
    mistsim, redis_server, worker_proc, tmp_path
):
    env = worker_env(mistsim, redis_server.url)
    dot_env = {name: env.pop(name) for name in ("MIST_API_TOKEN", "MIST_HOST", "MIST_CA_BUNDLE")}
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in dot_env.items()))
    process = worker_proc(["--once"], env)  # runs with tmp_path as its working directory
    assert process.wait(60) == 0, process.output()
    assert last_update(redis_server.client()) > 0


def test_once_does_not_spend_tokens_while_another_worker_holds_the_lease(
    mistsim, redis_server, worker_proc
):
    client = redis_server.client()
    client.set("mist:lock:worker", "gw-host:4242:abcd", px=30_000)
    process = worker_proc(["--once"], worker_env(mistsim, redis_server.url))
    assert process.wait(60) == 1
    assert "gw-host:4242:abcd" in process.output()
    assert mistsim.calls()["total"] == 0
    assert client.get("mist:lock:worker") == b"gw-host:4242:abcd"  # not released by us


def test_a_standby_takes_over_within_15_s_of_the_active_worker_being_killed(
    mistsim, redis_server, worker_proc
):
    client = redis_server.client()
    env = worker_env(mistsim, redis_server.url, WORKER_INTERVAL="2")
    first = worker_proc([], env, name="first")  # the default lease, renewed by the heartbeat
    wait_until(lambda: last_update(client) > 0, 30, "a first publish")
    second = worker_proc([], env, name="second")
    time.sleep(LEASE_SECONDS + 2)  # longer than a lease: the heartbeat keeps it with `first`
    assert str(first.process.pid) in client.get("mist:lock:worker").decode()
    assert "refresh published" not in second.output()
    first.signal(signal.SIGKILL)
    first.wait(10)
    killed_at = time.time()
    wait_until(lambda: last_update(client) > killed_at, 30, "the standby's publish")
    assert time.time() - killed_at <= 15, second.output()
    assert str(second.process.pid) in client.get("mist:lock:worker").decode()
