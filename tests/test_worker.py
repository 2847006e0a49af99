"""One refresh end to end, in process: real mistapi SDK → mistsim over HTTPS → real Redis (AOF).
What a user of the dashboard would notice: every dataset present, fresh, within the call budget,
and the last good data still served when Mist misbehaves."""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import re
import time
import weakref

import pytest

import worker as worker_module
from mist.connection import MistConnection
from refresh.configs import device_config_cap
from refresh.memory import consumed
from refresh.pipeline import STREAMS
from settings import Secret, load_worker_settings
from store.histories import port_history, read_port_history, read_stored_histories
from store.keys import Dataset
from store.reads import (
    read_etag,
    read_gateway_peer_paths,
    read_health,
    read_served,
    scan_keys,
)
from store.status import read_status
from tests.fixtures.worker_proc import worker_env
from traffic.step import backfill_cap

EVERY_REFRESH = (
    "GET /api/v1/orgs/{org_id}",
    "GET /api/v1/orgs/{org_id}/sites",
    "GET /api/v1/orgs/{org_id}/stats/devices",
    "GET /api/v1/orgs/{org_id}/stats/ports/search",
    "GET /api/v1/orgs/{org_id}/stats/vpn_peers/search",
    "GET /api/v1/orgs/{org_id}/devices/events/search",  # Mist's own events (one page)
)


def make_worker(sim, redis_server, *, interval=60, **env) -> worker_module.Worker:
    environ = worker_env(sim, redis_server.url, WORKER_INTERVAL=str(interval), **env)
    settings = load_worker_settings(environ, env_file=None)
    connection = MistConnection.from_settings(settings, timeout=5.0, backoff=0.01)
    instance = worker_module.Worker(settings, connection=connection, lease_seconds=30)
    assert instance.acquire_lease()
    return instance


def calls_by_kind(sim) -> dict[str, int]:
    by_endpoint = sim.calls()["by_endpoint"]
    kinds = {"every": 0, "config": 0, "device": 0, "insights": 0, "sle": 0, "other": 0}
    for endpoint, count in by_endpoint.items():
        if endpoint in EVERY_REFRESH:
            kinds["every"] += count
        elif endpoint.endswith("/insights/sites-sle"):
            kinds["sle"] += count
        elif "insights" in endpoint:
            kinds["insights"] += count
        elif endpoint.startswith("GET /api/v1/sites/") and "/devices" in endpoint:
            kinds["device"] += count
        elif any(word in endpoint for word in ("gatewaytemplates", "deviceprofiles", "inventory")):
            kinds["config"] += count
        else:
            kinds["other"] += count
    return kinds


def histories(client, ports):
    return {
        port: port_history(found) for port, found in read_stored_histories(client, ports).items()
    }


def stored_status(client) -> dict:
    status = read_status(client)
    assert status is not None
    return status


def served_json(client, dataset):
    served = read_served(client, dataset, gzip_ok=True)
    assert served is not None, dataset
    return json.loads(gzip.decompress(served.body))


def test_a_refresh_publishes_every_key_with_its_ttl(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)
    assert instance.refresh()
    client = redis_server.client()
    summary = mistsim.org_summary()
    gateways = served_json(client, Dataset.GATEWAYS)
    assert gateways["summary"]["gateways"] == summary["gateways"] == len(gateways["gateways"])
    assert gateways["summary"]["circuits"] == summary["wan_ports"]
    assert served_json(client, Dataset.ORG)["id"] == mistsim.org_id
    assert len(served_json(client, Dataset.SITES)) == summary["sites"]
    peers_all = served_json(client, Dataset.VPN_PEERS_ALL)
    assert sum(len(paths) for paths in peers_all.values()) == summary["peer_paths"]
    insights = served_json(client, Dataset.INSIGHTS_ALL)
    assert len(insights) == summary["wan_ports"]

    keys = set(scan_keys(client))
    for key in (
        "mist:org",
        "mist:org:gz",
        "mist:sites",
        "mist:sites:gz",
        "mist:gateways",
        "mist:gateways:gz",
        "mist:vpn_peers:all:gz",
        "mist:insights:all:gz",
        "mist:metadata:etags",
    ):
        assert key in keys
        assert 170 <= client.ttl(key) <= 180, key  # 3 × WORKER_INTERVAL
    for key in ("mist:metadata:last_update", "mist:metadata:worker_status", "mist:metadata:status"):
        assert client.ttl(key) == -1, key
    for key in ("mist:vpn_peers:all", "mist:insights:all", "mist:export:csv"):
        assert key not in keys, f"{key}: stored as gzip alone (GZIP_ONLY)"
    assert client.get("mist:metadata:worker_status") == b"idle"
    for gateway in gateways["gateways"]:
        body = read_gateway_peer_paths(client, gateway["id"])
        assert body is not None and json.loads(body) == peers_all.get(gateway["id"], [])
        assert 170 <= client.ttl(f"mist:vpn_peers:{gateway['id']}-{gateway['mac']}") <= 180
        for port in gateway["ports"]:
            key = f"mist:insights:{gateway['id']}:{port['port_id']}"
            assert key in keys
            assert 7 * 86400 - 120 <= client.ttl(key) <= 7 * 86400
    for kind in ("templates", "profiles", "inventory", "devices", "fetched_at"):
        assert client.ttl(f"mist:config:{kind}") > 6 * 86400
    status = stored_status(client)
    assert status["status"] == "idle" and status["last_error"] is None
    assert status["calls_last_refresh"] == mistsim.calls()["total"]
    assert status["datasets"]["gateways"]["items"] == summary["gateways"]
    assert status["tokens"] == [
        {"label": "token 1", "calls_this_hour": mistsim.calls()["total"], "limit": 5000,
         "exhausted": False, "rejected": False}
    ]  # fmt: skip
    assert read_health(client)["interval"] == 60
    assert not [key for key in keys if not key.startswith("mist:")]


def test_small_org_reaches_a_steady_six_call_refresh(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=300)
    totals = []
    for _ in range(4):
        mistsim.reset()
        assert instance.refresh()
        totals.append(mistsim.calls()["total"])
    first = totals[0]
    assert first <= 6 + 3 + 20 + 41 + 1  # streams + config + device configs + backfill + SLE
    assert totals[-1] == 6  # config cached, devices unchanged, history complete
    assert calls_by_kind(mistsim)["every"] == 6


def test_a_steady_refresh_reads_only_the_home_keys_of_its_ports(mistsim, redis_server, caplog):
    """Once every port has its history, a refresh appends one sample per port from its home
    key alone (no week of samples read back) and still shows each port's 24 h volume."""
    instance = make_worker(mistsim, redis_server, interval=300)
    assert instance.refresh()
    time.sleep(1.1)  # a second reading: every connected port makes its first sample
    assert instance.refresh()
    client = redis_server.client()
    ports = [
        (gateway["id"], port["port_id"])
        for gateway in served_json(client, Dataset.GATEWAYS)["gateways"]
        for port in gateway["ports"]
    ]
    before = histories(client, ports)
    time.sleep(1.1)
    caplog.clear()
    with caplog.at_level("INFO", logger="worker"):
        assert instance.refresh()
    assert f"history: {len(ports)} ports (0 new, 0 read whole)" in caplog.text
    after = histories(client, ports)
    gateways = served_json(client, Dataset.GATEWAYS)["gateways"]
    volumes = {(g["id"], p["port_id"]): p["rx_bytes_24h"] for g in gateways for p in g["ports"]}
    sampled = [port for port in ports if after[port].fine]
    assert sampled, "connected ports make samples"
    for port in sampled:
        assert len(after[port].fine) == len(before[port].fine) + 1
        assert volumes[port] is not None and volumes[port] >= 0


def test_1000_gateway_org_stays_within_25_calls(mistsim_factory, redis_server):
    """1,000 gateways × 4 WAN ports × 6 peer paths in 500 sites (the issue's budget)."""
    sim = mistsim_factory(gateways=1000, sites=500, wan_ports_min=4, wan_ports_max=4, peer_paths=6)
    summary = sim.org_summary()
    instance = make_worker(sim, redis_server, interval=300)
    assert instance.refresh()
    first = calls_by_kind(sim)
    assert first["config"] == 3  # templates, profiles, inventory: one page each
    tokens = len(sim.tokens)
    # configs spend what each token's hour leaves after the refresh's own calls (the status
    # has them by then: the hourly config is fetched first), far more than a fifth of it;
    # two gateways a site: one site's device list reads both
    first_cap = device_config_cap(300, first["every"] / tokens) * tokens
    assert first["device"] == first_cap > device_config_cap(300) * tokens
    assert first["insights"] <= backfill_cap(300)
    sim.reset()
    assert instance.refresh()
    second = calls_by_kind(sim)
    assert second["config"] == 0  # hourly, cached in Redis
    assert second["other"] == 0
    pages = [summary["sites"], summary["gateways"], summary["ports"], summary["peer_paths"]]
    assert second["every"] == 1 + sum(-(-items // 1000) for items in pages) + 1  # + events
    steady = second["every"] + second["config"]
    assert steady <= 25, second
    # device configs and backfill shrink to zero as their caches fill; each is capped (the
    # cost is the last status': a page of events more or less than this refresh's)
    assert 0 < second["device"] <= device_config_cap(300, (second["every"] - 2) / tokens) * tokens
    assert second["insights"] <= backfill_cap(300)
    gateways = served_json(redis_server.client(), Dataset.GATEWAYS)
    # two refreshes: every WAN port knows whether it follows its template (none "not read")
    ports = [port for gateway in gateways["gateways"] for port in gateway["ports"]]
    assert ports and all(port["override"] is not None for port in ports)
    assert gateways["summary"]["circuits"] == summary["wan_ports"]
    assert gateways["summary"]["gateways"] == 1000


def test_mist_outage_and_malformed_payloads_leave_the_last_good_data(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)
    assert instance.refresh()
    client = redis_server.client()
    before = {d: read_served(client, d, gzip_ok=False) for d in Dataset}
    last_update = client.get("mist:metadata:last_update")
    for fault in ({"outage": True}, {"malformed": True}, {"hang": True}):
        mistsim.set_faults(**fault)
        instance.mist.timeout = 0.5
        started = time.monotonic()
        assert not instance.refresh()
        assert time.monotonic() - started < 15
        mistsim.clear_faults()
        for dataset in Dataset:
            assert read_served(client, dataset, gzip_ok=False) == before[dataset]
        assert client.get("mist:metadata:last_update") == last_update
        assert client.get("mist:metadata:worker_status") == b"error"
        status = stored_status(client)
        assert status["status"] == "error"
        assert status["last_error"] and status["last_error_at"] >= status["last_update"]
    assert instance.refresh()  # Mist is back: the next refresh recovers
    status = stored_status(client)
    assert status["status"] == "idle"
    assert float(client.get("mist:metadata:last_update")) > float(last_update)


def test_edge_case_org_is_stored_intact(mistsim_factory, redis_server):
    sim = mistsim_factory(edge_cases=True)
    instance = make_worker(sim, redis_server)
    assert instance.refresh()
    client = redis_server.client()
    names = {g["name"] for g in served_json(client, Dataset.GATEWAYS)["gateways"]}
    site_names = {s["name"] for s in served_json(client, Dataset.SITES)}
    assert "<script>window.__pwned=1</script>" in names
    assert "ゲートウェイ-東京-01" in names
    assert "G" * 200 in names
    assert "Café 🚀 Branch 🛰️" in site_names
    assert '"quoted" & <b>bold</b> \' single' in site_names
    raw = client.get("mist:sites")
    assert "東京本社 データセンター".encode() in raw  # UTF-8, not \\u escapes


def test_traffic_history_grows_per_refresh_and_backfill_is_capped(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)  # backfill cap: 8 per token
    assert instance.refresh()
    client = redis_server.client()
    status = stored_status(client)
    assert status["datasets"]["backfill"]["calls"] <= backfill_cap(60) == 8
    gateway = served_json(client, Dataset.GATEWAYS)["gateways"][0]
    port_id = gateway["ports"][0]["port_id"]
    first = read_port_history(client, gateway["id"], port_id)
    assert first is not None and first.last_rx_bytes is not None
    time.sleep(1.1)
    assert instance.refresh()
    second = read_port_history(client, gateway["id"], port_id)
    assert second is not None and (second.last_ts or 0) > (first.last_ts or 0)
    assert len(second.fine) == len(first.fine) + 1


@pytest.mark.parametrize("flag", ["bad-token"])
def test_a_rejected_token_is_an_error_in_status(mistsim, redis_server, flag):
    instance = make_worker(mistsim, redis_server, MIST_API_TOKEN=flag)
    assert not instance.refresh()
    status = stored_status(redis_server.client())
    assert "401" in status["last_error"] and flag not in json.dumps(status)


def test_exhausted_tokens_rotate_and_a_fully_limited_org_keeps_its_data(
    mistsim_factory, redis_server
):
    sim = mistsim_factory(tokens=["tok-a", "tok-b", "tok-c"])
    sim.set_faults(exhausted_tokens=["tok-a", "tok-b"])
    instance = make_worker(sim, redis_server)
    started = time.monotonic()
    assert instance.refresh()
    assert time.monotonic() - started < 5  # no 5/10/20 s SDK sleeps
    client = redis_server.client()
    status = stored_status(client)
    assert [t["exhausted"] for t in status["tokens"]] == [True, True, False]
    assert status["rate_limited"] is False
    etag = read_etag(client, Dataset.GATEWAYS)
    sim.set_faults(exhausted_tokens=["tok-a", "tok-b", "tok-c"])
    assert not instance.refresh()
    status = stored_status(client)
    assert status["rate_limited"] is True and "rate limited" in status["last_error"]
    assert read_etag(client, Dataset.GATEWAYS) == etag


def test_trimmed_mist_items_build_exactly_the_same_dashboard(mistsim_factory):
    """The worker keeps each item only in its compact form (model.items: gateway_stat,
    port_stat, peer_path); if the model starts reading another field without keeping it
    there, this fails instead of the dashboard silently losing it."""
    from model.items import gateway_stat, peer_path, port_stat
    from model.port_config import index_port_configs
    from model.snapshot import Snapshot, build_snapshot
    from views.payload import (
        drain_gateway_records,
        drain_peer_paths,
        gateways_payload_head,
        insights_records,
    )

    sim = mistsim_factory(edge_cases=True)
    connection = MistConnection(sim.host, [Secret(sim.tokens[0])], ca_bundle=sim.ca_path)
    raw = {
        "org": connection.org(sim.org_id).items[0],
        "sites": connection.sites(sim.org_id).items,
        "gateway_stats": connection.gateway_stats(sim.org_id).items,
        "port_stats": connection.port_stats(sim.org_id).items,
        "peer_paths": connection.peer_paths(sim.org_id).items,
    }
    configs = index_port_configs(
        sites=raw["sites"],
        templates=connection.gateway_templates(sim.org_id).items,
        profiles=connection.device_profiles(sim.org_id).items,
        inventory=connection.inventory(sim.org_id).items,
        device_configs={},
    )
    trimmed = dict(raw)
    compact = {
        "gateway_stats": gateway_stat,
        "port_stats": port_stat,
        "peer_paths": peer_path,
    }
    for name, trim in compact.items():
        trimmed[name] = [trim(item) for item in raw[name]]
        kept = [item for item in trimmed[name] if item is not None]
        assert sum(map(len, kept)) < sum(map(len, raw[name]))  # it does cut
        assert all(type(item) is not dict for item in kept)

    def published(snapshot: Snapshot) -> tuple:
        """What the worker encodes of a snapshot, in its order (the head before draining)."""
        head = gateways_payload_head(snapshot)
        insights = list(insights_records(snapshot, {}))
        paths = list(drain_peer_paths(snapshot))
        return head, insights, paths, list(drain_gateway_records(snapshot, {}))

    full = build_snapshot(**raw, port_configs=configs, now=1.0)
    cut = build_snapshot(**trimmed, port_configs=configs, now=1.0)
    expected = published(full)
    assert expected[0]["summary"]["gateways"] > 0 and expected[2] and expected[3]
    assert published(cut) == expected


def test_a_changed_device_config_is_fetched_once_and_shown_within_the_hour(mistsim, redis_server):
    clock = [time.time()]
    environ = worker_env(mistsim, redis_server.url, WORKER_INTERVAL="60")
    settings = load_worker_settings(environ, env_file=None)
    connection = MistConnection.from_settings(settings, timeout=5.0, backoff=0.01)
    instance = worker_module.Worker(settings, connection=connection, clock=lambda: clock[0])
    assert instance.acquire_lease()
    for _ in range(3):  # 20 gateways, 10 device configs per refresh: all cached after two
        clock[0] += 60
        assert instance.refresh()
    client = redis_server.client()
    gateway = served_json(client, Dataset.GATEWAYS)["gateways"][0]
    changed = mistsim.change_config(gateway["mac"], "Circuit 99999 / New Carrier <LLC>")
    mistsim.reset()
    clock[0] += 60
    assert instance.refresh()  # within the hour: config is not asked for again
    assert calls_by_kind(mistsim)["config"] == 0 and calls_by_kind(mistsim)["device"] == 0
    clock[0] += 3600
    mistsim.reset()
    assert instance.refresh()  # the hourly inventory shows one moved gateway: one device call
    assert calls_by_kind(mistsim) | {"every": 0} == {
        "every": 0, "config": 3, "device": 1, "insights": calls_by_kind(mistsim)["insights"],
        "sle": 1, "other": 0,  # the sites' WAN SLEs are hourly too
    }  # fmt: skip
    after = next(
        g for g in served_json(client, Dataset.GATEWAYS)["gateways"] if g["id"] == gateway["id"]
    )
    port = next(p for p in after["ports"] if p["port_id"] == changed["port_id"])
    assert port["description"] == "Circuit 99999 / New Carrier <LLC>"
    assert port["override"] is True


@pytest.mark.parametrize("shape", ["keyed", "results"])
def test_backfill_stays_within_its_cap_whatever_shape_mist_answers(
    mistsim_factory, redis_server, shape
):
    sim = mistsim_factory(insights_shape=shape)
    instance = make_worker(sim, redis_server, interval=60)  # cap: 8 calls per token
    for _ in range(2):
        sim.reset()
        assert instance.refresh()
        insights_calls = calls_by_kind(sim)["insights"]
        assert 0 < insights_calls <= backfill_cap(60) == 8
        backfill = stored_status(redis_server.client())["datasets"]["backfill"]
        assert backfill["calls"] == insights_calls and backfill["error"] is None
        assert backfill["items"] == (8 if shape == "keyed" else insights_calls // 2)


def test_status_walks_through_the_phases_with_progress(mistsim, redis_server, monkeypatch):
    instance = make_worker(mistsim, redis_server)
    seen: list[dict] = []
    original = worker_module.write_status

    def record(client, status):
        seen.append(json.loads(json.dumps(status)))
        original(client, status)

    monkeypatch.setattr(worker_module, "write_status", record)
    assert instance.refresh()
    phases = [s["phase"] for s in seen if s["status"] == "running"]
    assert phases[0] == "fetch"
    assert {f"fetch:{name}" for name in STREAMS} <= set(phases)
    tail = [p for p in phases if not p.startswith("fetch")]
    assert tail == ["device_configs", "build", "history", "backfill", "publish"]
    progress = [s["progress"]["done"] for s in seen if s["status"] == "running"]
    assert progress == sorted(progress) and progress[-1] == seen[-2]["progress"]["total"]
    assert seen[-1]["status"] == "idle" and seen[-1]["phase"] is None


def test_consumed_items_leave_their_list_as_they_are_taken():
    """The build takes each gateway's compact stats through refresh.memory.consumed: in order, and
    gone from the fetched list as soon as taken, so the list never outlives its use."""
    items = ["a", "b", "c"]
    taken = [(item, len(items)) for item in consumed(items)]
    assert taken == [("a", 2), ("b", 1), ("c", 0)]
    assert items == []


def test_the_status_goes_out_with_the_snapshot_it_names(mistsim, redis_server, monkeypatch):
    """The idle status naming a refresh is in that refresh's publish transaction: no reader
    ever sees a snapshot whose status still names the one before."""
    instance = make_worker(mistsim, redis_server)
    client = redis_server.client()
    monkeypatch.setattr(worker_module, "write_status", lambda *args: None)  # only the publish
    assert instance.refresh()
    status = stored_status(client)
    assert status["status"] == "idle" and status["phase"] is None
    assert status["last_update"] == float(client.get("mist:metadata:last_update"))
    assert client.get("mist:metadata:interval") == b"60"


def test_a_worker_taking_the_lease_over_goes_on_from_the_status_left(mistsim, redis_server):
    """A standby started before the holder's last publish must not write its own older view
    of the status on taking over: /api/status would name older data than is served."""
    settings = load_worker_settings(
        worker_env(mistsim, redis_server.url, WORKER_INTERVAL="60"), env_file=None
    )
    connection = MistConnection.from_settings(settings, timeout=5.0, backoff=0.01)
    standby = worker_module.Worker(settings, connection=connection, lease_seconds=30)
    holder = make_worker(mistsim, redis_server)
    assert holder.refresh()
    assert not standby.acquire_lease()
    holder.lease.release()
    assert standby.acquire_lease()
    standby.start()  # a standby writes its status as it takes over, before its first refresh
    client = redis_server.client()
    assert stored_status(client)["last_update"] == float(client.get("mist:metadata:last_update"))


def _strict_json(raw: bytes) -> object:
    """json.loads as a browser's JSON.parse reads: NaN and Infinity are not JSON."""

    def reject(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(raw, parse_constant=reject)


def _stored_values(client) -> dict[str, bytes]:
    """Every stored string and hash field under our prefix but the binary histories."""
    found: dict[str, bytes] = {}
    for key in scan_keys(client):
        if key.endswith((":fine", ":coarse")) or key == "mist:lock:worker":
            continue
        kind = client.type(key)
        if kind == b"string":
            found[key] = bytes(client.get(key))
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                found[f"{key}#{field.decode()}"] = bytes(value)
    return {
        key: gzip.decompress(value) if key.split("#")[0].endswith(":gz") else value
        for key, value in found.items()
    }


def test_nonstandard_numbers_and_formula_names_are_served_safe(mistsim_factory, redis_server):
    """mistsim's edge org (formula names, a 1,000-character name) with NaN, Infinity, 1e308
    and 10**400 in every answer: the worker still publishes, every served body is standard
    JSON with capped values, and no CSV cell is one Excel would run."""
    sim = mistsim_factory(edge_cases=True)
    sim.set_faults(nonstandard=True, paths="/(sites|stats/vpn_peers|stats/ports)")
    instance = make_worker(sim, redis_server)
    assert instance.refresh()
    client = redis_server.client()
    values = _stored_values(client)
    json_bodies = {key: v for key, v in values.items() if v[:1] in (b"{", b"[")}
    assert "mist:gateways" in json_bodies and "mist:vpn_peers:all:gz" in {
        key.split("#")[0] for key in json_bodies
    }
    for key, body in json_bodies.items():
        _strict_json(body)  # raises on NaN / Infinity
        assert b"n" * 300 not in body, f"{key}: a name longer than 256 characters"
    assert {site["name"] for site in served_json(client, Dataset.SITES)} == {None}, "NaN: none"
    gateways = served_json(client, Dataset.GATEWAYS)["gateways"]
    latencies = [p["latency"] for g in gateways for p in g["ports"] if p["latency"] is not None]
    assert latencies and max(latencies) <= 60_000, "1e308 ms is capped, never averaged to inf"
    served_csv = read_served(client, Dataset.EXPORT_CSV, gzip_ok=False)
    assert served_csv is not None
    text = served_csv.body.decode("utf-8-sig")
    assert "'=HYPERLINK(" in text and "x;'=1+1" in text
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            for piece in re.split("[;\t]", cell):
                assert not piece.startswith(("=", "+", "-", "@", "\r")), cell


def test_a_refresh_runs_without_the_cyclic_collector_and_its_cycles_go_after(
    mistsim, redis_server, monkeypatch
):
    """No automatic collection lands inside a refresh (at 10,000 gateways a dozen full
    collections, each scanning the whole snapshot, cost seconds and collected nothing); the
    cycles a refresh made are collected by its end, and the collector is on between them."""
    instance = make_worker(mistsim, redis_server)
    during: list[bool] = []
    made: list[weakref.ref] = []
    run = instance.pipeline.run

    class Node:
        me: object = None

    def watched(*args):
        during.append(gc.isenabled())
        node = Node()
        node.me = node  # a cycle: only the collector frees it
        made.append(weakref.ref(node))
        del node
        return run(*args)

    monkeypatch.setattr(instance.pipeline, "run", watched)
    assert gc.isenabled()
    assert instance.refresh()
    assert during == [False], "the refresh ran with the collector off"
    assert gc.isenabled(), "on again between refreshes"
    assert made and made[0]() is None, "the refresh's cycle was collected"
