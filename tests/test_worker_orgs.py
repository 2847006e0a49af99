"""Several orgs, one deployment: the worker refreshes every org of MIST_ORG_ID (a list or `*`)
under its own keys, one org's failure stays its own, and the overview lists them all
(real SDK, real redis-server, mistsim over HTTPS with `--orgs N --spread-orgs`)."""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
import threading

import pytest
import redis

import worker as worker_module
from mist.connection import MistConnection
from mist.errors import MistSettingError
from settings import load_worker_settings
from store.keys import Dataset, org_keyspace
from store.reads import OrgIndex, read_gateway, read_org_index, read_served, read_status_published
from store.status import read_status
from tests.fixtures.worker_proc import ROOT, worker_env

PER_ORG = (
    "GET /api/v1/orgs/{org_id}/sites",
    "GET /api/v1/orgs/{org_id}/stats/devices",
    "GET /api/v1/orgs/{org_id}/stats/ports/search",
    "GET /api/v1/orgs/{org_id}/stats/vpn_peers/search",
)


def make_worker(sim, redis_server, *, tokens=None, **env) -> worker_module.Worker:
    environ = worker_env(sim, redis_server.url, WORKER_INTERVAL="60", **env)
    if tokens is not None:
        environ["MIST_API_TOKEN"] = ",".join(tokens)
    settings = load_worker_settings(environ, env_file=None)
    connection = MistConnection.from_settings(settings, timeout=5.0, backoff=0.01, retries=1)
    instance = worker_module.Worker(settings, connection=connection, lease_seconds=30)
    assert instance.acquire_lease()
    return instance


def sim_orgs(sim) -> list[dict]:
    response = sim.http.get(f"{sim.url}/__mistsim/orgs", timeout=10)
    return list(response.json()["orgs"])


def served(client, dataset, org_id: str | None = None):
    keyspace = org_keyspace(org_id) if org_id else None
    found = (
        read_served(client, dataset, gzip_ok=True, keyspace=keyspace)
        if keyspace
        else read_served(client, dataset, gzip_ok=True)
    )
    assert found is not None, (dataset, org_id)
    return json.loads(gzip.decompress(found.body))


def org_status(client, org_id: str) -> dict:
    found = read_status(client, org_keyspace(org_id))
    assert found is not None
    return found


def test_two_orgs_by_list_each_under_their_own_keys(mistsim_factory, redis_server):
    sim = mistsim_factory(gateways=30, sites=8, orgs=2, spread_orgs=True)
    orgs = sim_orgs(sim)
    ids = [org["org_id"] for org in orgs]
    instance = make_worker(sim, redis_server, MIST_ORG_ID=",".join(ids))
    assert instance.refresh()
    client = redis_server.client()
    for org in orgs:
        gateways = served(client, Dataset.GATEWAYS, org["org_id"])
        assert gateways["summary"]["gateways"] == org["gateways"]
        assert served(client, Dataset.ORG, org["org_id"])["id"] == org["org_id"]
        first = gateways["gateways"][0]["id"]
        assert read_gateway(client, first, org_keyspace(org["org_id"])) is not None
        assert org_status(client, org["org_id"])["summary"]["gateways"] == org["gateways"]
    assert client.get("mist:gateways") is None  # the single-org keys stay unused
    index = read_org_index(client)
    assert index is not None and index.multi and list(index.orgs) == ids
    overview = served(client, Dataset.ORGS)
    rows = {row["org_id"]: row for row in overview["orgs"]}  # worst first, not listed order
    assert sorted(rows) == sorted(ids)
    assert {i: rows[i]["gateways_online"] + rows[i]["gateways_offline"] for i in rows} == {
        org["org_id"]: org["gateways"] for org in orgs
    }
    csv = read_served(client, Dataset.ORGS_CSV, gzip_ok=False)
    assert csv is not None and csv.body.count(b"\r\n") == 3
    assert instance.refresh()  # the first one also asked /self of each token
    status = json.loads(read_status_published(client)[0] or b"{}")
    assert [row["org_id"] for row in status["orgs"]] == ids
    per_org = [row["calls_last_refresh"] for row in status["orgs"]]
    assert all(calls >= 4 for calls in per_org)
    assert status["calls_last_refresh"] == sum(per_org) + status["listing_calls"]


def test_every_org_of_an_msp_token_within_four_calls_per_org_and_its_events(
    mistsim_factory, redis_server
):
    sim = mistsim_factory(gateways=120, sites=30, orgs=12, spread_orgs=True, msp_tokens=["msp"])
    instance = make_worker(sim, redis_server, tokens=["msp"], MIST_ORG_ID="*")
    for _ in range(12):  # the first cycles read the configs and the device configs
        sim.reset()
        assert instance.refresh()
        if not any("/devices/" in endpoint for endpoint in sim.calls()["by_endpoint"]):
            break
    by_endpoint = sim.calls()["by_endpoint"]
    orgs = sim_orgs(sim)
    steady = {
        endpoint: count for endpoint, count in by_endpoint.items() if "insights" not in endpoint
    }
    listing = steady.pop("GET /api/v1/msps/{msp_id}/stats/orgs")
    assert listing == math.ceil(len(orgs) / 1000)
    assert "GET /api/v1/orgs/{org_id}" not in steady  # the MSP listing names every org
    assert sum(steady.get(endpoint, 0) for endpoint in PER_ORG) == 4 * len(orgs)
    events = steady.pop("GET /api/v1/orgs/{org_id}/devices/events/search")
    assert events == len(orgs)  # Mist's own record since the last refresh: one page each
    assert sum(steady.values()) == 4 * len(orgs)
    client = redis_server.client()
    overview = served(client, Dataset.ORGS)
    assert {row["org_id"] for row in overview["orgs"]} == {org["org_id"] for org in orgs}
    assert all(row["error"] is None for row in overview["orgs"])
    names = {row["org_id"]: row["name"] for row in overview["orgs"]}
    assert names == {org["org_id"]: org["name"] for org in orgs}


def test_one_org_failing_leaves_the_others_fresh(mistsim_factory, redis_server):
    sim = mistsim_factory(gateways=40, sites=10, orgs=4, spread_orgs=True, msp_tokens=["msp"])
    orgs = sim_orgs(sim)
    broken = orgs[2]["org_id"]
    instance = make_worker(sim, redis_server, tokens=["msp"], MIST_ORG_ID="*")
    assert instance.refresh()
    client = redis_server.client()
    before = org_status(client, broken)["last_update"]
    sim.set_faults(forbidden=True, paths=f"/orgs/{broken}/")
    instance.clock = lambda: before + 61
    assert not instance.refresh()  # a cycle with a failed org is not a whole success
    failed = org_status(client, broken)
    assert failed["status"] == "error" and "403" in failed["last_error"]
    assert failed["last_update"] == before  # its data stays the last good
    assert "msp" not in failed["last_error"]
    for org in orgs:
        if org["org_id"] != broken:
            assert org_status(client, org["org_id"])["last_update"] > before
    rows = {row["org_id"]: row for row in served(client, Dataset.ORGS)["orgs"]}
    assert "403" in rows[broken]["error"] and rows[broken]["last_update"] == before
    assert sum(row["error"] is not None for row in rows.values()) == 1
    sim.set_faults(forbidden=False, paths=None, error_rate=1.0)
    sim.set_faults(paths=f"/orgs/{orgs[1]['org_id']}/")
    assert not instance.refresh()
    rows = {row["org_id"]: row for row in served(client, Dataset.ORGS)["orgs"]}
    assert rows[broken]["error"] is None and rows[orgs[1]["org_id"]]["error"] is not None


def test_an_org_that_leaves_the_msp_drops_out_and_its_keys_expire(mistsim_factory, redis_server):
    sim = mistsim_factory(gateways=30, sites=8, orgs=3, spread_orgs=True, msp_tokens=["msp"])
    orgs = sim_orgs(sim)
    leaving = orgs[1]["org_id"]
    instance = make_worker(sim, redis_server, tokens=["msp"], MIST_ORG_ID="*")
    assert instance.refresh()
    client = redis_server.client()
    sim.http.post(f"{sim.url}/__mistsim/orgs", json={"leave": [leaving]}, timeout=10)
    sim.reset()
    assert instance.refresh()
    index = read_org_index(client)
    assert index is not None and leaving not in index.orgs and len(index.orgs) == 2
    assert leaving not in {row["org_id"] for row in served(client, Dataset.ORGS)["orgs"]}
    assert not any(leaving in endpoint for endpoint in sim.calls()["by_endpoint"])
    key = org_keyspace(leaving).dataset_key(Dataset.GATEWAYS)
    assert 0 < client.ttl(key) <= 180  # not refreshed: gone within 3 intervals
    for kept in (org_keyspace(leaving).status, org_keyspace(leaving).last_update):
        assert 0 < client.ttl(kept) <= 7 * 86400  # its own records leave with its last-good copy


def test_one_org_in_a_list_keeps_the_single_org_keys(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server)
    assert instance.orgs is None
    assert instance.refresh()
    client = redis_server.client()
    assert served(client, Dataset.ORG)["id"] == mistsim.org_id
    index = read_org_index(client)
    assert index is not None and not index.multi and index.orgs == (mistsim.org_id,)
    (row,) = served(client, Dataset.ORGS)["orgs"]
    assert row["org_id"] == mistsim.org_id and row["error"] is None
    assert row["gateways_online"] + row["gateways_offline"] == mistsim.org_summary()["gateways"]


def test_one_orgs_overview_goes_live_in_its_snapshots_switch(mistsim, redis_server):
    """A single-org deployment's overview and index are renamed live by the same MULTI/EXEC
    as its snapshot: once /api/gateways answers, /api/orgs does (never a 503 in between)."""
    instance = make_worker(mistsim, redis_server)
    client = redis_server.client()

    def run() -> None:
        instance.refresh()
        client.echo("refreshed")  # tells the monitor below that the refresh is over

    refresh = threading.Thread(target=run)
    blocks: list[list[str]] = []
    with redis.Redis.from_url(redis_server.url).monitor() as monitor:
        refresh.start()
        while True:
            words = monitor.next_command()["command"].split(" ")
            if words[0].upper() == "ECHO" and "refreshed" in words[1]:
                break
            if words[0].upper() == "MULTI":
                blocks.append([])
            elif blocks:
                blocks[-1].append(" ".join(word.strip('"') for word in words[:3]))
    refresh.join(timeout=60)
    (switch,) = [block for block in blocks if "RENAME mist:staged:gateways mist:gateways" in block]
    assert "RENAME mist:staged:orgs mist:orgs" in switch
    assert any(command.startswith("SET mist:orgs:index") for command in switch)
    assert not [b for b in blocks if b is not switch and "RENAME mist:staged:orgs mist:orgs" in b]
    (row,) = served(client, Dataset.ORGS)["orgs"]
    assert row["org_id"] == mistsim.org_id and row["error"] is None


def test_one_org_failing_out_of_200_leaves_199_fresh(mistsim_factory, redis_server):
    sim = mistsim_factory(
        gateways=400, sites=200, orgs=200, spread_orgs=True, msp_tokens=["msp-a", "msp-b"]
    )
    orgs = [org["org_id"] for org in sim_orgs(sim)]
    broken = orgs[137]
    sim.set_faults(error_rate=1.0, paths=f"/orgs/{broken}/")
    instance = make_worker(sim, redis_server, tokens=["msp-a", "msp-b"], MIST_ORG_ID="*")
    assert not instance.refresh()
    client = redis_server.client()
    rows = served(client, Dataset.ORGS)["orgs"]
    assert sorted(row["org_id"] for row in rows) == sorted(orgs)  # the overview: worst first
    failed = [row["org_id"] for row in rows if row["error"] is not None]
    assert failed == [broken]
    fresh = [row for row in rows if row["last_update"] is not None and not row["stale"]]
    assert len(fresh) == 199
    status = json.loads(read_status_published(client)[0] or b"{}")
    assert status["status"] == "error" and "1 of 200 orgs failed" in status["last_error"]
    assert (
        read_served(client, Dataset.GATEWAYS, gzip_ok=False, keyspace=org_keyspace(broken)) is None
    )


def test_every_org_of_org_tokens_names_each_org_once_an_hour(mistsim_factory, redis_server):
    sim = mistsim_factory(gateways=40, sites=10, orgs=6, spread_orgs=True)
    instance = make_worker(sim, redis_server, MIST_ORG_ID="*")  # org tokens, no MSP
    assert instance.refresh()
    first = sim.calls()["by_endpoint"]
    assert first["GET /api/v1/orgs/{org_id}"] == 6  # no MSP listing names them
    sim.reset()
    assert instance.refresh()
    assert "GET /api/v1/orgs/{org_id}" not in sim.calls()["by_endpoint"]  # cached for the hour
    names = {row["name"] for row in served(redis_server.client(), Dataset.ORGS)["orgs"]}
    assert names == {org["name"] for org in sim_orgs(sim)}


def test_worker_once_with_every_org_exits_0_and_a_bad_setting_exits_2(
    mistsim_factory, redis_server, tmp_path
):
    sim = mistsim_factory(gateways=20, sites=6, orgs=3, spread_orgs=True, msp_tokens=["msp"])
    env = worker_env(sim, redis_server.url, MIST_ORG_ID="*", MIST_API_TOKEN="msp")
    command = [sys.executable, str(ROOT / "worker.py"), "--once"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    index = read_org_index(redis_server.client())
    assert index is not None and len(index.orgs) == 3
    env["MIST_ORG_ID"] = f"{sim.org_id},not-an-org"
    bad = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "MIST_ORG_ID" in bad.stderr and "msp" not in bad.stderr


def test_the_msp_listing_falls_back_and_a_failed_listing_keeps_the_orgs(
    mistsim_factory, redis_server
):
    sim = mistsim_factory(gateways=20, sites=6, orgs=3, spread_orgs=True, msp_tokens=["msp"])
    ids = [org["org_id"] for org in sim_orgs(sim)]
    sim.set_faults(forbidden=True, paths="/stats/orgs")  # a restricted MSP admin
    instance = make_worker(sim, redis_server, tokens=["msp"], MIST_ORG_ID="*")
    assert instance.refresh()
    assert sim.calls()["by_endpoint"]["GET /api/v1/msps/{msp_id}/orgs"] == 1
    assert read_org_index(redis_server.client()) == OrgIndex(multi=True, orgs=tuple(ids))
    sim.clear_faults()
    sim.set_faults(error_rate=1.0, paths="^/api/v1/msps/")
    assert not instance.refresh()  # the listing failed: said in the status, orgs kept
    assert read_org_index(redis_server.client()) == OrgIndex(multi=True, orgs=tuple(ids))
    status = json.loads(read_status_published(redis_server.client())[0] or b"{}")
    assert "org listing" in status["last_error"]
    assert all(row["last_error"] is None for row in status["orgs"])


def test_every_org_needs_org_level_privileges(mistsim_factory, redis_server):
    sim = mistsim_factory(orgs=2, user_tokens={"sam": "site:1:admin+site:2"})
    instance = make_worker(sim, redis_server, tokens=["sam"], MIST_ORG_ID="*")
    with pytest.raises(MistSettingError) as caught:
        instance.start()
    assert caught.value.setting == "MIST_API_TOKEN" and "site-level" in str(caught.value)
