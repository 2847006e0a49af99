"""Availability end to end: the worker's refreshes (real SDK, mistsim, redis-server) move the
sums on and publish /api/availability, /api/isps, their CSV, each gateway's part and the
metric families; the web serves them like every prepared document (gzip, ETag, 503)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
from typing import Any

import redis

from model.events import derive_events
from refresh.availability import AvailabilityStep
from sla.accumulator import DAY
from store.publisher import Publisher
from store.sla import decode_bucket, decode_state, encode_bucket, encode_state, read_sla
from tests.test_events import gateway, port, quiet_gateway, snapshot
from tests.test_metrics import promtool
from tests.test_worker import make_worker

ORG_ID = "org-1"


def web_client(redis_server) -> Any:
    import app as web

    return web.create_app({"REDIS_CLIENT": redis_server.client()}).test_client()


def publish(redis_server, *records, now: float, state=None) -> dict[str, Any]:
    """One refresh of `records` through the worker's availability step; returns the events'
    state for the next."""
    client = redis_server.client()
    snap = snapshot(*records, now=now)
    derived = derive_events(state, snap, hold=1)
    step = AvailabilityStep(client, threading.Lock(), interval=60)
    prepared = step.prepare(snap, ORG_ID, derived.state)
    with Publisher(client, interval=60, now=now) as out:
        step.publish(out, prepared, derived.events)
        out.commit()
    return derived.state


def flap_a_quiet_port(mistsim, redis_server) -> tuple[Any, dict[str, Any], str]:
    """Three refreshes of a real worker: a quiet gateway's first WAN port went down at the
    second and up at the third. Returns (worker, gateway record, port id)."""
    worker = make_worker(mistsim, redis_server, interval=60)
    assert worker.refresh()
    record = quiet_gateway(redis_server.client())
    first = record["ports"][0]["port_id"]
    for state in ("down", "up"):
        link = {"mac": record["mac"], "port_id": first, "state": state}
        mistsim.admin("POST", "link", json=link)
        assert worker.refresh()
    return worker, record, first


def test_a_port_down_between_refreshes_is_a_flap_in_every_document(mistsim, redis_server):
    _, record, first = flap_a_quiet_port(mistsim, redis_server)
    web = web_client(redis_server)
    document = web.get("/api/availability").get_json()
    assert document["windows"] == ["24h", "7d", "30d"] and document["observed_only"] is True
    [part] = [g for g in document["gateways"] if g["gateway_id"] == record["id"]]
    ports = {p["port_id"]: p for p in part["ports"]}
    told = web.get(f"/api/events?gateway={record['id']}").get_json()  # what a failure needs
    assert ports[first]["flaps"] == [1, 1, 1] and ports[first]["flaps_total"] == 1, (
        ports[first],
        [(e["type"], e.get("port_id"), e["source"], e["time"]) for e in told["events"]],
    )
    others = [p for p in ports.values() if p["port_id"] != first]
    assert all(p["flaps_total"] == 0 for p in others)
    assert any(p["flaps"][0] == 1 for p in part["paths"])  # its peer paths went down too
    own = web.get(f"/api/gateway/{record['id']}/availability")
    assert own.status_code == 200 and own.get_json() == part
    isps = web.get("/api/isps").get_json()["isps"]
    isp = ports[first]["isp"] or "Unknown ISP"
    assert any(entry["isp"] == isp and entry["flaps"]["24h"] >= 1 for entry in isps)
    assert [entry["rank"] for entry in isps] == list(range(1, len(isps) + 1))
    metrics = web.get("/metrics").data.decode()
    flapped = [
        line
        for line in metrics.splitlines()
        if line.startswith("mist_wan_port_flaps_total{")
        and f'gateway_id="{record["id"]}"' in line
        and f'port="{first}"' in line
    ]
    assert flapped and flapped[0].endswith(" 1")
    assert "mist_wan_port_availability_ratio{" in metrics and 'window="7d"' in metrics
    checked = promtool("check", "metrics", stdin=web.get("/metrics").data)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_served_like_every_document_gzip_etag_and_503_before_the_first(redis_server):
    web = web_client(redis_server)
    for route in ("/api/availability", "/api/isps", "/api/availability.csv", "/api/isps.csv"):
        answer = web.get(route)
        assert answer.status_code == 503 and "error" in answer.get_json(), route
    state = publish(redis_server, gateway("gw1", port("a")), now=20_000 * DAY)
    publish(redis_server, gateway("gw1", port("a", up=False)), now=20_000 * DAY + 60, state=state)
    for route in ("/api/availability", "/api/isps", "/api/availability.csv", "/api/isps.csv"):
        plain = web.get(route)
        assert plain.status_code == 200, route
        zipped = web.get(route, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(zipped.data) == plain.data
        again = web.get(route, headers={"If-None-Match": plain.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
    store = redis.Redis.from_url(redis_server.url)
    assert not store.exists("mist:availability", "mist:availability:csv"), "gzip alone"
    assert store.exists("mist:availability:gz", "mist:availability:csv:gz") == 2
    assert "Content-Encoding" not in web.get("/api/availability").headers, "inflated as sent"
    assert web.get("/api/availability.csv").headers["Content-Type"].startswith("text/csv")
    disposition = web.get("/api/isps.csv").headers["Content-Disposition"]
    assert disposition == 'attachment; filename="mist-isps.csv"'
    assert web.get("/api/gateway/nope/availability").status_code == 404
    assert web.get("/api/gateway/bad%20id/availability").status_code == 400


def test_csv_is_excel_safe_and_names_come_back_intact(redis_server):
    hostile = gateway("gw1", port("a")._replace(isp='=HYPERLINK("http://x")', wan_name="wan;@1"))
    hostile = hostile._replace(stat=hostile.stat._replace(name="+cmd|' /C calc'!A0 ünï 🚀"))
    state = publish(redis_server, hostile, now=20_000 * DAY)
    publish(redis_server, hostile, now=20_000 * DAY + 60, state=state)
    web = web_client(redis_server)
    body = web.get("/api/availability.csv").data
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0]["gateway_name"] == "'+cmd|' /C calc'!A0 ünï 🚀"
    assert rows[0]["isp"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["availability_24h"] == "100.0" and rows[0]["up"] == "yes"
    isps = list(csv.DictReader(io.StringIO(web.get("/api/isps.csv").data.decode("utf-8-sig"))))
    assert isps[0]["isp"].startswith("'=")
    document = json.loads(web.get("/api/availability").data)
    assert document["gateways"][0]["gateway_name"] == "+cmd|' /C calc'!A0 ünï 🚀"


def test_the_state_and_buckets_survive_their_encoding(redis_server):
    start = 20_000 * DAY + 86_000
    state = publish(redis_server, gateway("gw1", port("a")), now=start)
    publish(redis_server, gateway("gw1", port("a")), now=start + 600, state=state)  # a new day
    stored, _ = read_sla(redis_server.client(), ORG_ID, ())
    assert stored is not None and stored.day == 20_001
    assert decode_state(encode_state(stored)) == stored
    assert decode_state(b"not zlib") is None and decode_state(None) is None
    buckets = {3: [60, 0, 0, 0], 7: [3600, 1200, 10, 2]}
    assert decode_bucket(encode_bucket(buckets)) == buckets
    closed = redis_server.client().get(f"mist:sla:{ORG_ID}:d20000")
    assert decode_bucket(closed) == {0: [400, 0, 0, 0]}
    assert redis_server.client().ttl(f"mist:sla:{ORG_ID}:d20000") > 30 * DAY


def test_the_families_carry_mist_wan_port_up_labels_and_pass_promtool():
    import fakeredis
    from prometheus_client.parser import text_string_to_metric_families

    from tests.fixtures.sample_data import publish_sample

    store = fakeredis.FakeRedis()
    publish_sample(store, 6, edge_cases=True)
    zipped = store.get("mist:metrics:gz")  # stored as gzip alone (store.keys.GZIP_ONLY)
    assert isinstance(zipped, bytes)
    body = gzip.decompress(zipped)
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    up = {tuple(sorted(s.labels.items())) for s in families["mist_wan_port_up"].samples}
    flaps = families["mist_wan_port_flaps"].samples
    assert flaps and {tuple(sorted(s.labels.items())) for s in flaps} == up
    assert all(s.name == "mist_wan_port_flaps_total" and s.value == 0 for s in flaps)
    assert families["mist_wan_port_availability_ratio"].type == "gauge"
    checked = promtool("check", "metrics", stdin=body)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == b""
