"""mistsim's auth, rate limits, faults and call accounting, over real HTTPS: the failures the
worker must survive, produced on demand."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import requests
from mistapi.api.v1.orgs import sites

from tests.fixtures.mistsim_server import REPO, MistSim, json_of, sdk_session


def test_unknown_token_is_401_and_other_org_is_403_with_mists_bodies(mistsim: MistSim) -> None:
    sites_path = f"/api/v1/orgs/{mistsim.org_id}/sites"
    for token in ("not-a-token", ""):
        response = mistsim.get(sites_path, token=token)
        assert response.status_code == 401
        assert response.json() == {"detail": "Authentication credentials were not provided."}
    other = mistsim.get("/api/v1/orgs/00000000-1111-4222-8333-444444444444/sites")
    assert other.status_code == 403
    assert other.json() == {"detail": "You do not have permission to perform this action."}
    foreign_site = mistsim.get("/api/v1/sites/00000000-1111-4222-8333-444444444444/devices/x")
    assert foreign_site.status_code == 403
    missing = mistsim.get("/api/v1/orgs/x/nothing/here")
    assert missing.status_code == 404 and "detail" in missing.json()
    bad = mistsim.get(f"/api/v1/orgs/{mistsim.org_id}/sites", limit="many")
    assert bad.status_code == 400 and "limit" in bad.json()["detail"]


def test_hourly_budget_gives_429_with_optional_retry_after_and_usage_reflects_it(
    mistsim_factory,
) -> None:
    sim: MistSim = mistsim_factory(tokens=["tok-a", "tok-b"], rate_limit=4, retry_after=7)
    org_path = f"/api/v1/orgs/{sim.org_id}"
    for _ in range(2):
        assert sim.get(org_path).status_code == 200
    usage = sim.get("/api/v1/self/usage").json()
    assert usage["requests"] == 3 and usage["request_limit"] == 4
    assert 0 < usage["seconds"] <= 3600
    assert sim.get(org_path).status_code == 200  # the 4th and last call this hour
    limited = sim.get(org_path)
    assert limited.status_code == 429
    assert limited.json() == {
        "detail": "Too Many Request. The API Token used for the request reached the 4 API "
        "Calls per hour threshold"
    }
    assert limited.headers["Retry-After"] == "7"
    assert sim.get(org_path, token="tok-b").status_code == 200  # budgets are per token
    sim.advance(3600)  # a new clock hour: a fresh budget
    assert sim.get(org_path).status_code == 200
    calls = sim.calls()
    assert calls["by_token"] == {"tok-a": 6, "tok-b": 1}
    assert calls["by_endpoint"]["GET /api/v1/orgs/{org_id}"] == 6


def test_429_has_no_retry_after_unless_asked(mistsim_factory) -> None:
    sim: MistSim = mistsim_factory(rate_limit=1)
    assert sim.get("/api/v1/self").status_code == 200
    limited = sim.get("/api/v1/self")
    assert limited.status_code == 429 and "Retry-After" not in limited.headers


def test_sdk_rotates_to_the_next_token_when_one_is_exhausted(mistsim_factory) -> None:
    sim: MistSim = mistsim_factory(tokens=["tok-a", "tok-b"], retry_after=0)
    sim.set_faults(exhausted_tokens=["tok-a"])
    session = sdk_session(sim)
    response = sites.listOrgSites(session, sim.org_id, limit=100)
    assert response.status_code == 200 and len(response.data) == 10
    assert sim.calls()["by_token"] == {"tok-a": 1, "tok-b": 1}


def test_self_lists_every_org_with_orgs_flag(mistsim_factory) -> None:
    sim: MistSim = mistsim_factory(orgs=3)
    privileges = sim.get("/api/v1/self").json()["privileges"]
    org_ids = [p["org_id"] for p in privileges if p["scope"] == "org"]
    assert len(org_ids) == 3 and org_ids[0] == sim.org_id
    assert sim.get(f"/api/v1/orgs/{org_ids[2]}").status_code == 200
    assert sim.get(f"/api/v1/orgs/{org_ids[2]}/sites").json() == []


def test_latency_error_rate_outage_and_malformed_faults(mistsim: MistSim) -> None:
    path = f"/api/v1/orgs/{mistsim.org_id}"
    mistsim.set_faults(latency_ms=300)
    began = time.monotonic()
    assert mistsim.get(path).status_code == 200
    assert time.monotonic() - began >= 0.3
    mistsim.clear_faults()

    mistsim.set_faults(error_rate=1.0)
    statuses = {mistsim.get(path).status_code for _ in range(12)}
    assert statuses <= {500, 502, 503, 504} and len(statuses) > 1
    mistsim.clear_faults()

    mistsim.set_faults(outage=True)
    down = mistsim.get(path)
    assert down.status_code == 503
    with pytest.raises(json.JSONDecodeError):
        down.json()
    assert mistsim.calls()["total"] > 0  # the admin API still answers during an outage
    mistsim.clear_faults()

    mistsim.set_faults(malformed=True)
    broken = mistsim.get(path)
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.text)
    mistsim.clear_faults()
    assert mistsim.get(path).json()["id"] == mistsim.org_id


def test_faults_can_be_limited_to_some_paths(mistsim: MistSim) -> None:
    mistsim.set_faults(outage=True, paths=r"/stats/")
    assert mistsim.get(f"/api/v1/orgs/{mistsim.org_id}").status_code == 200
    stats = mistsim.get(f"/api/v1/orgs/{mistsim.org_id}/stats/devices", type="gateway")
    assert stats.status_code == 503
    assert mistsim.admin("GET", "faults")["paths"] == "/stats/"
    bad = mistsim.http.post(f"{mistsim.url}/__mistsim/faults", json={"paths": "("}, timeout=10)
    assert bad.status_code == 400
    bad = mistsim.http.post(f"{mistsim.url}/__mistsim/faults", json={"bogus": 1}, timeout=10)
    assert bad.status_code == 400


def test_hang_holds_requests_until_cleared(mistsim: MistSim) -> None:
    mistsim.set_faults(hang=True)
    result: dict[str, Any] = {}

    def call() -> None:
        began = time.monotonic()
        result["status"] = mistsim.get(f"/api/v1/orgs/{mistsim.org_id}").status_code
        result["seconds"] = time.monotonic() - began

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(1.0)
    assert worker.is_alive(), "a hung request must not answer"
    with pytest.raises(requests.exceptions.Timeout):  # the client's own deadline fires
        mistsim.http.get(
            f"{mistsim.url}/api/v1/self",
            headers={"Authorization": "Token test-token"},
            timeout=0.5,
        )
    mistsim.clear_faults()
    worker.join(timeout=10)
    assert result["status"] == 200 and result["seconds"] >= 1.0


def test_accounting_counts_every_api_request_by_template_and_token(mistsim: MistSim) -> None:
    org_id = mistsim.org_id
    site = mistsim.get(f"/api/v1/orgs/{org_id}/sites").json()[1]
    gateway = mistsim.get(f"/api/v1/orgs/{org_id}/inventory", type="gateway").json()[0]
    mistsim.get(f"/api/v1/sites/{site['id']}/stats/ports/search")
    mistsim.get(f"/api/v1/sites/{gateway['site_id']}/devices/{gateway['id']}")
    mistsim.get(f"/api/v1/orgs/{org_id}/sites", token="nope")  # 401s count too
    mistsim.org_summary()  # admin calls never count
    calls = mistsim.calls()
    assert calls["by_endpoint"] == {
        "GET /api/v1/orgs/{org_id}/sites": 2,
        "GET /api/v1/orgs/{org_id}/inventory": 1,
        "GET /api/v1/sites/{site_id}/stats/ports/search": 1,
        "GET /api/v1/sites/{site_id}/devices/{device_id}": 1,
    }
    assert calls["by_token"] == {"test-token": 4, "nope": 1}
    assert calls["total"] == 5
    mistsim.set_faults(outage=True)
    mistsim.reset()
    assert mistsim.calls() == {"total": 0, "by_endpoint": {}, "by_token": {}}
    assert mistsim.admin("GET", "faults")["outage"] is False


def test_command_line_rejects_bad_settings_by_name_and_stops_cleanly(
    mistsim: MistSim, tmp_path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    for argv, setting in (
        (["--error-rate", "2"], "--error-rate"),
        (["--wan-ports-min", "3", "--wan-ports-max", "2"], "--wan-ports-max"),
        (["--port", "0", "--ca-file", str(blocker / "ca.pem")], "--ca-file"),
        (["--user-tokens", "alice=org:2"], "--user-tokens"),  # only one org
        (["--user-tokens", "alice=site:1:observer"], "--user-tokens"),  # Mist calls it read
        (["--user-tokens", "sim-token=msp"], "--user-tokens"),  # a token of --tokens
    ):
        bad = subprocess.run(
            [sys.executable, "-m", "mistsim", *argv],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 2 and setting in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "mistsim", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0
    for flag in ("--rate-limit", "--retry-after", "--edge-cases", "--insights-shape", "--orgs"):
        assert flag in helped.stdout
    mistsim.stop()
    assert mistsim.process.returncode == 0


def test_admin_reboot_resets_counters_and_config_change_bumps_modified_time(
    mistsim: MistSim,
) -> None:
    org = f"/api/v1/orgs/{mistsim.org_id}"
    gateway = json_of(mistsim.get(f"{org}/stats/devices", type="gateway"))[3]
    mistsim.advance(600)
    before = json_of(mistsim.get(f"{org}/stats/devices", type="gateway", mac=gateway["mac"]))[0]
    mistsim.reboot(gateway["mac"])
    mistsim.advance(120)
    after = json_of(mistsim.get(f"{org}/stats/devices", type="gateway", mac=gateway["mac"]))[0]
    assert after["uptime"] < 200 < before["uptime"]
    for name, entry in after["if_stat"].items():
        assert entry["rx_bytes"] < before["if_stat"][name]["rx_bytes"]

    inventory = json_of(mistsim.get(f"{org}/inventory", type="gateway", mac=gateway["mac"]))[0]
    changed = mistsim.change_config(gateway["mac"], "Circuit 4242 / New Carrier")
    assert changed["modified_time"] > inventory["modified_time"]
    device = json_of(mistsim.get(f"/api/v1/sites/{gateway['site_id']}/devices/{gateway['id']}"))
    assert device["modified_time"] == changed["modified_time"]
    assert device["port_config"][changed["port_id"]]["description"] == "Circuit 4242 / New Carrier"
    again = json_of(mistsim.get(f"{org}/inventory", type="gateway", mac=gateway["mac"]))[0]
    assert again["modified_time"] == changed["modified_time"]
