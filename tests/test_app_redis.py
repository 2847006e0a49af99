"""The web app on a real redis-server that the real worker filled from mistsim (edge-case org).

One simulator, one redis-server and two `worker.py --once` runs per module; each test reads
through a gunicorn-served app or Flask's test client, as a user's browser would.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

import app as web
from mistsim import edge
from model.values import TEXT_MAX
from store import keys
from tests.fixtures.mistsim_server import MistSim
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.web_server import start_web_server
from tests.fixtures.worker_proc import run_worker_once
from views.rows import FIRST_ROWS, has_problem, port_down

ROOT = Path(__file__).resolve().parents[1]
GZIP = {"Accept-Encoding": "gzip"}
SIM_ARGS = ["--port", "0", "--gateways", "20", "--sites", "12", "--tokens", "tok-web-test"]
SIM_ARGS += ["--edge-cases"]

GZIP_ONLY_KEYS = {keys.DATASET_KEYS[dataset] for dataset in keys.GZIP_ONLY}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """mistsim (edge cases) → worker --once twice → redis-server, plus a gunicorn web app."""
    directory = tmp_path_factory.mktemp("app-redis")
    redis = RedisServer(directory / "redis")
    redis.start()
    sim = MistSim(
        SIM_ARGS,
        directory / "ca.pem",
        ["tok-web-test"],
    )
    server = None
    try:
        run_worker_once(sim, redis.url, directory)
        sim.advance(300)
        run_worker_once(sim, redis.url, directory)
        server = start_web_server(redis.url, directory / "web")
        yield {"redis": redis, "sim": sim, "server": server, "directory": directory}
    finally:
        if server is not None:
            server.stop()
        sim.stop()
        redis.stop()


def gateways_of(filled: dict[str, Any]) -> dict[str, Any]:
    return dict(filled["server"].get("/api/gateways").json())


def test_gateways_from_the_worker_gzipped_with_etag_and_304(filled):
    server = filled["server"]
    response = requests.get(server.url + "/api/gateways", headers=GZIP, stream=True, timeout=10)
    raw = response.raw.read()
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    payload = json.loads(gzip.decompress(raw))
    assert payload["summary"]["gateways"] == len(payload["gateways"]) > 0
    again = server.get("/api/gateways", headers={**GZIP, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/gateways/rows", keys.KEY_GATEWAY_ROWS),
        ("/api/gateways/first", keys.KEY_GATEWAY_FIRST),
        ("/api/export.csv", keys.KEY_EXPORT_CSV),
    ],
)
def test_rows_and_csv_are_the_bytes_the_worker_stored(filled, path, key):
    """Plain and gzip are the worker's two keys byte for byte (the CSV, stored as gzip alone:
    its one key, inflated for the plain answer); the gzip ETag answers 304."""
    server, store = filled["server"], filled["redis"].client()
    plain = requests.get(server.url + path, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    stored_plain = store.get(key)
    if key in GZIP_ONLY_KEYS:
        assert stored_plain is None, "stored as gzip alone"
        stored_plain = gzip.decompress(store.get(key + ":gz"))
    assert plain.content == stored_plain
    zipped = requests.get(server.url + path, headers=GZIP, stream=True, timeout=10)
    raw = zipped.raw.read()
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert raw == store.get(key + ":gz")
    assert gzip.decompress(raw) == plain.content
    if path.endswith(".csv"):
        assert zipped.headers["Content-Disposition"].startswith("attachment;")
        assert zipped.headers["Cache-Control"] == "no-store"
        return
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    again = server.get(path, headers={**GZIP, "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_first_screen_is_the_rows_first_rows_of_the_same_publish(filled):
    """/api/gateways/first: the rows document's head and first rows, with the sites and
    zones they name, from the same publish (same generated_at) and the rows' totals."""
    server = filled["server"]
    rows = server.get("/api/gateways/rows").json()
    first = server.get("/api/gateways/first").json()
    assert first["generated_at"] == rows["generated_at"] is not None
    for field in ("thresholds", "summary", "columns", "csv"):
        assert first[field] == rows[field], field
    count = min(FIRST_ROWS, len(rows["rows"]))
    assert 0 < len(first["rows"]) == count
    assert first["rows_total"] == len(rows["rows"])
    at = rows["columns"].index("ports_total")
    assert first["ports_total"] == sum(row[at] or 0 for row in rows["rows"])

    def resolved(document: dict[str, Any], row: list[Any]) -> list[Any]:
        """A row with its site (and the site's zone) in place of their indexes."""
        at = document["columns"].index("site")
        site = list(document["sites"][row[at]])
        site[3] = None if site[3] is None else document["zones"][site[3]]
        return [*row[:at], site, *row[at + 1 :]]

    assert [resolved(first, row) for row in first["rows"]] == [
        resolved(rows, row) for row in rows["rows"][:count]
    ]
    site_at = rows["columns"].index("site")
    assert len(first["sites"]) == len({row[site_at] for row in first["rows"]})  # no others
    assert len(first["zones"]) == len({site[3] for site in first["sites"]} - {None})


def test_rows_and_each_gateway_agree_with_the_gateways_payload(filled):
    server, store = filled["server"], filled["redis"].client()
    payload = gateways_of(filled)
    document = server.get("/api/gateways/rows").json()
    assert document["summary"] == payload["summary"]
    columns = document["columns"]
    ids = [row[columns.index("id")] for row in document["rows"]]
    assert sorted(ids) == sorted(gateway["id"] for gateway in payload["gateways"])
    severities = [row[columns.index("severity")] for row in document["rows"]]
    ranked = [-1 if severity is None else severity for severity in severities]
    assert ranked == sorted(ranked, reverse=True), "rows come worst first, the page's order"
    for gateway in payload["gateways"][:5]:
        response = server.get(f"/api/gateway/{gateway['id']}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.content == store.hget(keys.KEY_GATEWAY_DETAILS, gateway["id"])
        assert response.json() == gateway
    missing = server.get("/api/gateway/00000000-0000-0000-1000-ffffffffffff")
    assert missing.status_code == 404 and "no such gateway" in missing.json()["error"]
    assert server.get("/api/gateway/not%20an%20id").status_code == 400


def test_the_worker_decides_every_problem_flag_the_page_shows(filled):
    """A port's `down` (right after `up`), a row's ports_down, peers_down and problem: all
    from the worker, by the one rule (views.rows.port_down / has_problem)."""
    payload = gateways_of(filled)
    document = filled["server"].get("/api/gateways/rows").json()
    rows = [dict(zip(document["columns"], row, strict=True)) for row in document["rows"]]
    ports = [port for gateway in payload["gateways"] for port in gateway["ports"]]
    assert any(port["down"] for port in ports) and not all(port["down"] for port in ports)
    for port in ports:
        keys = list(port)
        assert keys[keys.index("up") + 1] == "down"
        assert port["down"] is port_down(port)
    by_id = {gateway["id"]: gateway for gateway in payload["gateways"]}
    assert len(rows) == len(by_id)
    for row in rows:
        gateway = by_id[row["id"]]
        assert row["ports_down"] == sum(1 for port in gateway["ports"] if port["down"])
        assert row["peers_down"] == gateway["peers_total"] - gateway["peers_up"]
        assert row["problem"] is has_problem(gateway)
    assert any(row["peers_down"] for row in rows), "the edge-case org has a peer path down"


def test_hostile_names_arrive_verbatim_as_json_text(filled):
    """Every name mistsim's edge-case org gives Mist comes back exactly: not escaped, trimmed
    or dropped, in the parsed JSON and as literal UTF-8 in the served bytes; only a name
    longer than TEXT_MAX is cut there (the dashboard keeps no more of any name)."""
    server = filled["server"]
    gateways_body = server.get("/api/gateways").content
    sites_body = server.get("/api/sites").content
    gateway_names = {gateway["name"] for gateway in json.loads(gateways_body)["gateways"]}
    site_names = {site["name"] for site in json.loads(sites_body)}
    expected_gateways = {name[:TEXT_MAX] for name in edge.GATEWAY_NAMES}
    expected_sites = {name[:TEXT_MAX] for name in edge.SITE_NAMES}
    assert any(len(name) > TEXT_MAX for name in (*edge.GATEWAY_NAMES, *edge.SITE_NAMES))
    assert expected_gateways <= gateway_names
    assert expected_sites <= site_names
    for name in expected_gateways:
        assert json.dumps(name, ensure_ascii=False).encode() in gateways_body, name
    for name in expected_sites:
        assert json.dumps(name, ensure_ascii=False).encode() in sites_body, name
    assert server.get("/api/organization").json()["name"] == "Example <b>Retail</b> Co 🚀"


def test_a_gateways_peer_paths_and_a_ports_traffic(filled):
    server = filled["server"]
    payload = gateways_of(filled)
    gateway = next(g for g in payload["gateways"] if g["peers_total"])
    paths = server.get(f"/api/gateway/{gateway['id']}/vpn-peers").json()
    assert len(paths) == gateway["peers_total"]
    assert {path["port_id"] for path in paths} <= {port["port_id"] for port in gateway["ports"]}
    port = gateway["ports"][0]["port_id"]
    for range_name, step in (("1h", 300), ("24h", 300), ("7d", 3600)):
        traffic = server.get(
            f"/api/gateway/{gateway['id']}/port/{quote(port, safe='')}/traffic?range={range_name}"
        )
        assert traffic.status_code == 200, traffic.text
        series = traffic.json()
        assert series["port_id"] == port and series["step"] == step
        assert len(series["t"]) == len(series["rx_bps"]) == len(series["tx_bps"])


def test_status_of_the_worker_run(filled):
    status = filled["server"].get("/api/status").json()
    assert status["status"] == "idle", "a worker between refreshes, its last one published"
    assert (status["phase"], status["last_error"]) == (None, None)
    assert status["progress"]["done"] == status["progress"]["total"] > 0, "every step done"
    assert status["calls_last_refresh"] > 0
    assert status["stale"] is False and status["age"] < 300
    assert all(token["label"].startswith("token ") for token in status["tokens"])
    assert "tok-web-test" not in json.dumps(status)


def test_server_csv_matches_the_circuits(filled):
    response = filled["server"].get("/api/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    payload = gateways_of(filled)
    expected = sum(max(1, len(gateway["ports"])) for gateway in payload["gateways"])
    assert len(rows) - 1 == expected
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row)


def test_the_token_never_reaches_redis_or_the_web(filled):
    client = filled["redis"].client()
    for key in client.scan_iter("mist:*"):
        if client.type(key) == b"string":
            assert b"tok-web-test" not in client.get(key), key
    page = filled["server"].get("/").text
    assert "tok-web-test" not in page
    assert "tok-web-test" not in filled["server"].output()


def test_redis_dies_and_comes_back(filled, redis_server):
    """Against its own redis-server: 503 with a reason while it is down, data once it is back."""
    client = redis_server.client()
    source = filled["redis"].client()
    for key in (
        "mist:gateways",
        "mist:gateways:gz",
        "mist:gateways:rows",
        "mist:gateways:rows:gz",
        "mist:metadata:etags",
    ):
        dump = source.dump(key)
        assert dump is not None
        client.restore(key, 0, dump, replace=True)
    flask_client = web.create_app({"REDIS_URL": redis_server.url}).test_client()
    assert flask_client.get("/api/gateways").status_code == 200
    assert flask_client.get("/api/gateways/rows").status_code == 200
    redis_server.kill()
    for path in ("/health", "/api/gateways", "/api/gateways/rows", "/api/status"):
        response = flask_client.get(path)
        assert response.status_code == 503, path
        assert "redis" in response.get_json()["error"].lower()
    redis_server.start()
    assert flask_client.get("/api/gateways").status_code == 200, "AOF brought the data back"
    assert flask_client.get("/api/gateways/rows").status_code == 200
    assert flask_client.get("/health").status_code == 200
