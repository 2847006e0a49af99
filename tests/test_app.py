"""The web app through Flask's test client: every route, header and error a user would notice.

Pure unit tests on fakeredis, filled by the worker's own build and publish code from mistsim's
answers (tests/fixtures/sample_data.py), so each test checks the bytes a user gets;
tests/test_app_redis.py repeats the important paths against a real redis-server filled by the
worker process from mistsim over HTTPS.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from flask.testing import FlaskClient
from werkzeug.test import Client

import app as web
from history.samples import measured_hour
from history.series import RANGES
from mistsim.api import MistApi
from mistsim.runtime import Runtime
from model.sle import site_score
from store import keys, reads
from store.codec import excel_safe
from store.status import write_heartbeat, write_status
from tests.fixtures.mist_answers import FORMULA_SITE, mist_answers, simulated_org
from tests.fixtures.ports import free_port, port_open, wait_until
from tests.fixtures.sample_data import SampleOrg, plain_body, publish_sample, status_document
from views.export import CSV_COLUMNS
from views.rows import ROW_COLUMNS, compact_sle, has_problem
from web.fast import CSV_ROUTES, SERVED_ROUTES

ROOT = Path(__file__).resolve().parents[1]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture
def store() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture
def org(store):
    return publish_sample(store, 12, edge_cases=True)


@pytest.fixture
def client(store) -> FlaskClient:
    return web.create_app({"REDIS_CLIENT": store}).test_client()


HOSTILE_ISP = "x;=1+1"  # mistsim's edge ISP of gateway 3: a formula in a `;` locale
PEER_PATH_FIELDS = (
    "port_id", "peer_router_name", "peer_port_id", "peer_mac", "peer_site_id", "type", "up",
    "is_active", "uptime", "latency", "jitter", "loss", "mos", "mtu", "last_seen", "vpn_name",
    "hop_count",
)  # fmt: skip


def circuits_of(store: fakeredis.FakeRedis) -> list[dict]:
    """The gateways of the published payload (a test may decode; the app may not)."""
    body = store.get(keys.KEY_GATEWAYS)
    assert isinstance(body, bytes)
    return list(json.loads(body)["gateways"])


def first_port(org: SampleOrg) -> tuple[str, str]:
    """The first WAN port served whose link is up (every WAN port has a history)."""
    gateway, port = next((g, p) for g in org.gateways for p in g["ports"] if p["up"])
    assert (gateway["id"], port["port_id"]) in org.histories
    return gateway["id"], port["port_id"]


def served_gateway(org: SampleOrg, index: int) -> dict:
    """The served record of mistsim's gateway number `index`."""
    gateway_id = org.sim.gateways[index].id
    return next(gateway for gateway in org.gateways if gateway["id"] == gateway_id)


def mist_peer_paths(org: SampleOrg, mac: str) -> list[dict]:
    """What Mist's peer path search said of one gateway, in DATA.md §3.3 fields."""
    return [
        {name: item.get(name) for name in PEER_PATH_FIELDS}
        for item in org.answers.peer_paths
        if item["mac"] == mac
    ]


def stored(rate: float | None) -> object:
    """A rate as the history keys give it back: float32, rounded to whole bits/s."""
    return None if rate is None else pytest.approx(rate, rel=1e-6, abs=1)


def by_path(paths: list[dict]) -> list[dict]:
    return sorted(paths, key=lambda p: (p["port_id"], p["peer_mac"], p["peer_port_id"]))


# ------------------------------------------------------------------ page, headers, static


def test_every_response_carries_the_security_headers(client, org):
    paths = (
        "/",
        "/health",
        "/api/gateways",
        "/api/gateways/rows",
        "/api/nope",
        "/static/js/api.js",
    )
    for path in paths:
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["Referrer-Policy"] == "no-referrer", path


def test_page_is_no_cache_has_no_inline_script_and_versioned_assets(client, org):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    page = response.get_data(as_text=True)
    assert 'data-bs-theme="dark"' in page
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all('src="/static/' in tag for tag in scripts)
    assert not re.search(r"<script\b[^>]*>(?!</script>)", page), "inline script"
    assert " style=" not in page and "<style" not in page, "inline styles break the CSP"
    assert re.search(r'/static/js/main\.js\?v=[0-9a-f]{12}"', page)
    assert re.search(r'/static/vendor/bootstrap/bootstrap\.used\.css\?v=[0-9a-f]{12}"', page)
    assert 'rel="manifest"' in page and 'rel="apple-touch-icon"' in page
    assert "cdn" not in page.lower()


def test_versioned_static_is_cached_forever_gzipped_and_revalidates(client):
    page = client.get("/").get_data(as_text=True)
    url = re.search(r'href="(/static/vendor/bootstrap/bootstrap\.used\.css\?v=[0-9a-f]+)"', page)
    assert url
    response = client.get(url.group(1), headers=GZIP)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"].startswith("text/css")
    plain = (ROOT / "static/vendor/bootstrap/bootstrap.used.css").read_bytes()
    assert gzip.decompress(response.data) == plain
    again = client.get(url.group(1), headers={**GZIP, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    unversioned = client.get("/static/vendor/bootstrap/bootstrap.used.css")
    assert unversioned.headers["Cache-Control"] == "no-cache"
    assert unversioned.data == plain


def test_module_imports_carry_the_version_so_modules_cache_too(client):
    page = client.get("/").get_data(as_text=True)
    main_url = re.search(r'src="(/static/js/main\.js\?v=([0-9a-f]+))"', page)
    assert main_url
    source = client.get(main_url.group(1)).get_data(as_text=True)
    imports = re.findall(r"from '(\./[a-z]+\.js[^']*)'", source)
    assert imports and all(f"?v={main_url.group(2)}" in spec for spec in imports)
    chart = client.get("/static/js/chart.js").get_data(as_text=True)
    assert re.search(r"vendor/uplot/uPlot\.esm\.js\?v=[0-9a-f]{12}", chart)


def test_no_page_code_turns_data_into_html():
    """Mist strings reach the page as text: no innerHTML & co. anywhere in our modules."""
    for module in (ROOT / "static/js").glob("*.js"):
        source = module.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{module.name} uses {sink}"
    template = (ROOT / "templates/index.html").read_text()
    assert "|safe" not in template and "autoescape false" not in template


def test_only_page_assets_are_served_from_static(client):
    assert client.get("/static/icons/make_icons.py").status_code == 404
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/vendor/VERSIONS.md").status_code == 404


def test_manifest_and_icons_make_an_installable_app(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/manifest+json")
    manifest = json.loads(response.get_data(as_text=True))
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    sizes = {}
    for icon in manifest["icons"]:
        png = client.get(icon["src"])
        assert png.status_code == 200 and png.headers["Content-Type"] == "image/png"
        width, height = struct.unpack(">II", png.data[16:24])
        sizes[icon["sizes"]] = (width, height)
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}
    touch = client.get("/static/icons/apple-touch-icon.png")
    assert struct.unpack(">II", touch.data[16:24]) == (180, 180)


# ------------------------------------------------------------------ served datasets


def test_gateways_are_the_stored_bytes_gzipped_with_etag_and_vary(client, store, org):
    plain = client.get("/api/gateways")
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "application/json"
    assert plain.data == store.get(keys.KEY_GATEWAYS)
    assert "Content-Encoding" not in plain.headers
    zipped = client.get("/api/gateways", headers=GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert zipped.data == store.get(keys.KEY_GATEWAYS + ":gz")
    assert gzip.decompress(zipped.data) == plain.data
    assert plain.headers["ETag"] != zipped.headers["ETag"], "two encodings, two ETags"
    assert json.loads(plain.data)["summary"]["gateways"] == 12


def test_if_none_match_answers_304_from_the_cheap_read(client, org, monkeypatch):
    etag = client.get("/api/gateways", headers=GZIP).headers["ETag"]

    def no_body(*args, **kwargs):
        raise AssertionError("the body must not be loaded for a matching ETag")

    monkeypatch.setattr(reads, "read_served", no_body)
    response = client.get("/api/gateways", headers={**GZIP, "If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""
    assert response.headers["ETag"] == etag


def test_head_answers_headers_only(client, org):
    response = client.head("/api/gateways", headers=GZIP)
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Security-Policy"] == CSP


def test_a_new_refresh_changes_the_etag(client, store, org):
    etag = client.get("/api/gateways").headers["ETag"]
    publish_sample(store, 13)
    response = client.get("/api/gateways", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert json.loads(response.data)["summary"]["gateways"] == 13


def expected_rows_ids(org: SampleOrg) -> list[str]:
    """Every gateway once (the rows come worst first: that order has its own test)."""
    return sorted(gateway["id"] for gateway in org.gateways)


def expected_org(org: SampleOrg) -> dict:
    return {"id": org.sim.id, "name": "Example <b>Retail</b> Co 🚀", "msp_name": "Example MSP"}


def expected_sle(org: SampleOrg, site_id: str) -> dict | None:
    """A site's `sle`: Mist's three values as sent (application_health spelt with `_`), graded
    by the server's one rule; None for a site Mist gave no SLE (no gateway)."""
    answer = org.answers.site_sles
    raw = {result["site_id"]: result for result in answer["results"]}.get(site_id)
    if raw is None:
        return None
    values = {
        "gateway-health": raw.get("gateway-health"),
        "wan-link-health": raw.get("wan-link-health"),
        "application-health": raw.get("application_health"),
    }
    return site_score(values, answer["start"], answer["end"])


def expected_sites(org: SampleOrg) -> list[dict]:
    """Every site Mist listed with its gateway count and WAN SLEs, by name (case-insensitively)."""
    sites = [
        {
            "id": site.id,
            "name": site.name,
            "country_code": site.country_code,
            "timezone": site.timezone,
            "address": site.address,
            "gateway_count": len(site.gateways),
            "sle": expected_sle(org, site.id),
        }
        for site in org.sim.sites
    ]
    return sorted(sites, key=lambda site: (site["name"].casefold(), site["id"]))


def expected_peer_paths(org: SampleOrg) -> dict[str, list[dict]]:
    return {g.id: by_path(mist_peer_paths(org, g.mac)) for g in org.sim.gateways}


def expected_insights(org: SampleOrg) -> dict[str, dict]:
    """Each WAN port's rates as Mist's port search said, and its 24 h volume."""
    rates = {(item["mac"], item["port_id"]): item for item in org.answers.port_stats}
    expected = {}
    for (gateway_id, port_id), (rx_bytes, tx_bytes) in org.volumes.items():
        port = rates[(org.sim.gateway_by_id[gateway_id].mac, port_id)]
        expected[f"{gateway_id}:{port_id}"] = {
            "rx_bps": port.get("rx_bps"),
            "tx_bps": port.get("tx_bps"),
            "rx_bytes_24h": rx_bytes,
            "tx_bytes_24h": tx_bytes,
            "ts": org.now,
        }
    return expected


@pytest.mark.parametrize(
    ("path", "served", "expected"),
    [
        (
            "/api/gateways/rows",
            lambda doc: sorted(row[0] for row in doc["rows"]),
            expected_rows_ids,
        ),
        ("/api/organization", lambda doc: doc, expected_org),
        ("/api/sites", lambda doc: doc, expected_sites),
        (
            "/api/vpn-peers/all",
            lambda doc: {gateway_id: by_path(paths) for gateway_id, paths in doc.items()},
            expected_peer_paths,
        ),
        ("/api/insights/all", lambda doc: doc, expected_insights),
    ],
)
def test_every_dataset_route_serves_its_document(client, org, path, served, expected):
    response = client.get(path, headers=GZIP)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert served(json.loads(gzip.decompress(response.data))) == expected(org)


def test_the_edge_org_is_what_the_dataset_tests_expect(org):
    """The expectations above hold what makes them worth checking: 12 gateways in served
    order, hostile site names, hubs without peer paths, volumes for every WAN port."""
    assert len(expected_rows_ids(org)) == 12
    names = [site["name"] for site in expected_sites(org)]
    assert names[:3] == [
        "<img src=x onerror=alert(1)>",
        "<script>window.__pwned=1</script>",
        FORMULA_SITE,
    ]
    paths = expected_peer_paths(org)
    assert sorted(len(p) for p in paths.values()) == [0, 0, 0, *[6] * 9]
    insights = expected_insights(org)
    assert len(insights) == org.payload["summary"]["circuits"] == 28
    assert all(value["rx_bytes_24h"] > 0 for value in insights.values())


def test_the_sample_org_is_the_same_for_a_seed_and_a_moment():
    """What the web tests expect is reproducible: same seed and time, same bytes served."""
    now = 1_764_190_000.0
    stores = [fakeredis.FakeRedis() for _ in range(3)]
    first, again, other = (
        publish_sample(store, 12, edge_cases=True, now=now, seed=seed)
        for store, seed in zip(stores, (1, 1, 2), strict=True)
    )
    assert again.gateways_body == first.gateways_body
    assert again.peer_paths_body == first.peer_paths_body
    csv_bodies = [plain_body(store, keys.Dataset.EXPORT_CSV) for store in stores[:2]]
    assert isinstance(csv_bodies[0], bytes) and csv_bodies[0].startswith(b"\xef\xbb\xbf")
    assert csv_bodies[1] == csv_bodies[0]
    assert other.gateways_body != first.gateways_body


def test_the_sample_org_is_what_mistsim_answers_over_its_api(monkeypatch):
    """The fixture renders Mist's answers in process: they are the items mistsim's API sends
    for the worker's calls (DATA.md §1) at the same moment."""
    now = 1_764_190_000.0
    answers = mist_answers(simulated_org(12, seed=1, edge_cases=True, now=now), now)
    sim = simulated_org(12, seed=1, edge_cases=True, now=now)
    runtime = Runtime(["tok-sample"], rate_limit=5000, retry_after=None)
    monkeypatch.setattr(runtime, "now", lambda: now)
    api = Client(MistApi(sim, runtime))

    def get(path: str) -> Any:
        response = api.get(f"/api/v1{path}", headers={"Authorization": "Token tok-sample"})
        assert response.status_code == 200, path
        return response.get_json()

    org = f"/orgs/{sim.id}"
    assert get(org) == answers.org
    assert get(f"{org}/sites?limit=1000") == answers.sites
    assert get(f"{org}/stats/devices?type=gateway&limit=1000") == answers.gateway_stats
    ports = get(f"{org}/stats/ports/search?device_type=gateway&limit=1000")
    assert ports["results"] == answers.port_stats
    paths = get(f"{org}/stats/vpn_peers/search?limit=1000&duration=1h")
    assert paths["results"] == answers.peer_paths
    assert get(f"{org}/gatewaytemplates?limit=1000") == answers.templates
    assert get(f"{org}/deviceprofiles?type=gateway&limit=1000") == answers.profiles
    assert get(f"{org}/inventory?type=gateway&limit=1000") == answers.inventory
    devices = {g.id: get(f"/sites/{g.site_id}/devices/{g.id}") for g in sim.gateways}
    assert devices == answers.devices
    assert len(answers.gateway_stats) == 12 and len(answers.peer_paths) == 54


def test_before_the_first_refresh_the_api_says_so(client):
    response = client.get("/api/gateways")
    assert response.status_code == 503
    assert "no data yet" in response.get_json()["error"]


def test_gateway_rows_are_compact_and_consistent_with_the_payload(client, store, org):
    zipped = client.get("/api/gateways/rows", headers=GZIP)
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert zipped.headers["Cache-Control"] == "private, no-cache"
    assert zipped.data == store.get(keys.KEY_GATEWAY_ROWS + ":gz"), "the stored bytes"
    plain = client.get("/api/gateways/rows")
    assert plain.data == store.get(keys.KEY_GATEWAY_ROWS)
    assert plain.headers["ETag"] != zipped.headers["ETag"], "two encodings, two ETags"
    document = json.loads(gzip.decompress(zipped.data))
    full = client.get("/api/gateways").get_json()
    assert document["summary"] == full["summary"]
    assert document["thresholds"] == full["thresholds"]
    assert document["columns"] == list(ROW_COLUMNS)
    rows = [dict(zip(document["columns"], row, strict=True)) for row in document["rows"]]
    # every gateway once, worst first (the page's default order), ties as in the payload
    order = {g["id"]: n for n, g in enumerate(full["gateways"])}
    assert sorted(order, key=order.__getitem__) == [g["id"] for g in full["gateways"]]
    ranks = [(-row["severity"], order[row["id"]]) for row in rows]
    assert len(rows) == len(order) and ranks == sorted(ranks)
    by_id = {g["id"]: g for g in full["gateways"]}
    served_sites = client.get("/api/sites").get_json()
    site_names = {site["id"]: site["name"] for site in served_sites}
    site_sles = {site["id"]: site["sle"] for site in served_sites}
    for row in rows:
        gateway = by_id[row["id"]]
        assert row["name"] == gateway["name"] and row["ports_total"] == gateway["ports_total"]
        assert row["problem"] == has_problem(gateway)
        assert row["ports_down"] == sum(1 for port in gateway["ports"] if port["down"])
        assert row["peers_down"] == gateway["peers_total"] - gateway["peers_up"]
        site_id, site_name, site_sle, _zone = document["sites"][row["site"]]
        assert site_id == gateway["site_id"] and site_name == site_names[site_id]
        assert site_sle == compact_sle(site_sles[site_id]) and site_sle is not None
    again = client.get(
        "/api/gateways/rows", headers={**GZIP, "If-None-Match": zipped.headers["ETag"]}
    )
    assert again.status_code == 304


def test_gateway_rows_follow_a_new_refresh(client, store, org):
    etag = client.get("/api/gateways/rows").headers["ETag"]
    publish_sample(store, 5)
    response = client.get("/api/gateways/rows", headers={"If-None-Match": etag})
    assert response.status_code == 200 and len(response.get_json()["rows"]) == 5


def test_one_gateway_with_its_wan_ports(client, store, org):
    gateway = served_gateway(org, 3)
    response = client.get(f"/api/gateway/{gateway['id']}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.data == store.hget(keys.KEY_GATEWAY_DETAILS, gateway["id"]), "the stored bytes"
    assert response.get_json() == gateway
    sim = org.sim.gateways[3]
    ports = [(p["port_id"], p["wan_name"], p["description"], p["isp"]) for p in gateway["ports"]]
    assert ports == [
        (port.port_id, port.wan_name, port.description, port.isp and port.isp.name)
        for port in sim.wan_ports
    ], "each WAN port as the org is configured, its description from the template's vars"
    assert ports[0][3] == HOSTILE_ISP, "Mist's text, verbatim"
    missing = client.get("/api/gateway/00000000-0000-0000-1000-ffffffffffff")
    assert missing.status_code == 404
    assert missing.get_json()["error"] == "no such gateway in the current data"
    assert client.get("/api/gateway/<b>").status_code == 400


def test_a_gateway_that_left_the_org_is_a_404_after_the_refresh(client, store, org):
    """The next refresh's details no longer hold it: the API says so, in JSON."""
    gateway_id = org.gateways[0]["id"]
    store.hdel(keys.KEY_GATEWAY_DETAILS, gateway_id)
    response = client.get(f"/api/gateway/{gateway_id}")
    assert response.status_code == 404 and "no such gateway" in response.get_json()["error"]


def test_before_the_first_refresh_rows_and_csv_say_so(client):
    for path in ("/api/gateways/rows", "/api/export.csv"):
        response = client.get(path, headers=GZIP)
        assert response.status_code == 503, path
        assert response.headers["Content-Type"] == "application/json", path
        assert "no data yet" in response.get_json()["error"], path
    assert client.get("/api/gateway/00000000-0000-0000-1000-4c9614000000").status_code == 404


def test_no_served_route_decodes_json(client, org, monkeypatch):
    """The web sends the worker's bytes: a served route that parsed JSON would fail here."""
    gateway_id = org.gateways[0]["id"]
    paths = [*SERVED_ROUTES, f"/api/gateway/{gateway_id}", "/api/export.csv"]
    assert "/api/gateways/rows" in paths

    def no_decoding(*args, **kwargs):
        raise AssertionError("json.loads called while serving a prepared dataset")

    monkeypatch.setattr(json, "loads", no_decoding)
    for path in paths:
        for headers in ({}, GZIP):
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.data[:200])


# ------------------------------------------------------------------ status and health


def test_status_adds_age_and_stale(client, store, org):
    now = time.time()
    publish_sample(store, 12, now=now - 1000)  # the worker has not published for 1000 s
    status = client.get("/api/status").get_json()
    assert 999 <= status["age"] <= 1010
    assert status["stale"] is True
    assert status["tokens"][0]["label"] == "token 1"
    publish_sample(store, 12, now=now - 30)
    assert client.get("/api/status").get_json()["stale"] is False


def test_status_is_the_stored_document_with_the_age_added(client, store, org):
    """/api/status sends the worker's bytes as stored; only `age` and `stale` are added."""
    now = time.time()
    write_status(store, status_document(now, last_update=org.now, interval=300))
    body = client.get("/api/status").get_data()
    stored = store.get("mist:metadata:status")
    assert body.startswith(stored[:-1] + b',"age":')
    assert json.loads(body)["stale"] is False


def test_status_says_when_the_workers_heartbeat_is_missing(client, store, org):
    """A dead worker leaves "idle" behind; the server says it is not responding."""
    assert client.get("/api/status").get_json()["worker_responding"] is False
    write_heartbeat(store, time.time())
    status = client.get("/api/status").get_json()
    assert status["worker_responding"] is True and status["status"] == "idle"


def test_status_before_the_worker_ever_ran(client):
    status = client.get("/api/status").get_json()
    assert status["status"] == "starting"
    assert status["age"] is None and status["stale"] is False


def test_health_reports_redis_age_and_worker(client, org):
    response = client.get("/health")
    assert response.status_code == 200
    health = response.get_json()
    assert health["redis"] is True and health["worker_status"] == "idle"
    assert 0 <= health["age"] < 60


def test_health_never_loads_the_org(client, org, monkeypatch):
    def no_body(*args, **kwargs):
        raise AssertionError("/health must stay cheap")

    monkeypatch.setattr(reads, "read_served", no_body)
    assert client.get("/health").status_code == 200


def test_redis_down_is_a_503_with_a_reason_not_a_trace():
    dead = web.create_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}).test_client()
    for path in (
        "/health",
        "/api/status",
        "/api/gateways",
        "/api/gateways/rows",
        "/api/export.csv",
    ):
        response = dead.get(path)
        assert response.status_code == 503, path
        body = response.get_json()
        assert "redis" in body["error"].lower(), path
        assert "Traceback" not in response.get_data(as_text=True)
    assert dead.get("/").status_code == 200, "the page itself does not need Redis"


# ------------------------------------------------------------------ per-gateway routes


def test_one_gateways_peer_paths(client, org):
    sim = org.sim.gateways[3]
    response = client.get(f"/api/gateway/{sim.id}/vpn-peers")
    assert response.status_code == 200
    paths = response.get_json()
    assert paths == org.peer_paths[sim.id], "the gateway's own key holds its part of the whole"
    assert len(paths) == 6
    assert by_path(paths) == by_path(mist_peer_paths(org, sim.mac)), "Mist's paths, verbatim"


def test_traffic_of_a_port_with_a_slash_in_its_id(client, org):
    gateway_id, port_id = first_port(org)
    url = f"/api/gateway/{gateway_id}/port/{port_id.replace('/', '%2F')}/traffic?range=6h"
    response = client.get(url)
    assert response.status_code == 200
    series = response.get_json()
    assert series["gateway_id"] == gateway_id and series["port_id"] == port_id
    assert series["range"] == "6h" and series["step"] == 300
    assert len(series["t"]) == len(series["rx_bps"]) == len(series["tx_bps"]) == 72
    assert all(b - a == 300 for a, b in zip(series["t"], series["t"][1:], strict=False))
    history = org.histories[(gateway_id, port_id)]
    fine = {int(ts): (rx, tx) for ts, rx, tx in history.fine}
    # Samples every 300 s on the grid: each point is its sample (stored as float32), and
    # the 40 minutes the worker was down stay a gap.
    expected = [fine.get(t, (None, None)) for t in series["t"]]
    assert series["rx_bps"] == [stored(rx) for rx, _ in expected]
    assert series["tx_bps"] == [stored(tx) for _, tx in expected]
    # 8 for the hole, one more when the clock passed a step since the publish
    assert series["rx_bps"].count(None) in (8, 9)
    week = client.get(f"/api/gateway/{gateway_id}/port/{port_id}/traffic?range=7d").get_json()
    assert week["step"] == 3600 and len(week["t"]) == 168
    fine_from = measured_hour(history.fine[0][0])
    hourly = {hour: (rx, tx) for hour, rx, tx in history.coarse if hour < fine_from}
    older = [(t, rx) for t, rx in zip(week["t"], week["rx_bps"], strict=True) if t < fine_from]
    assert len(older) >= 140, "the days before the fine tier come from the hourly buckets"
    assert older == [(t, stored(hourly[t][0])) for t, _ in older]
    # A whole week, the last day from the fine samples; the current hour has its value once
    # a sample measured it (in the first refresh interval of an hour, none has yet).
    assert None not in week["rx_bps"][:-1], "a whole week, the last day from the fine samples"
    newest = max(ts for ts, _, _ in history.fine)
    assert (week["rx_bps"][-1] is None) == (measured_hour(newest) < week["t"][-1])


def test_a_bad_range_names_the_ranges_history_knows(client, org):
    gateway_id, port_id = first_port(org)
    response = client.get(f"/api/gateway/{gateway_id}/port/{port_id}/traffic?range=2y")
    assert response.status_code == 400
    assert response.get_json()["error"] == "range must be one of " + ", ".join(RANGES)
    for range_name in RANGES:
        url = f"/api/gateway/{gateway_id}/port/{port_id}/traffic?range={range_name}"
        assert client.get(url).get_json()["range"] == range_name


def test_the_page_offers_exactly_the_ranges_history_knows(client):
    page = client.get("/").get_data(as_text=True)
    assert re.findall(r'data-range="([^"]+)"', page) == list(RANGES)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/gateway/00000000-0000-0000-1000-ffffffffffff/vpn-peers", 404),
        ("/api/gateway/<script>alert(1)/vpn-peers", 400),
        ("/api/gateway/<script>alert(1)<%2Fscript>/vpn-peers", 404),
        ("/api/gateway/{gw}/port/ge-0%2F0%2F0/traffic?range=2y", 400),
        ("/api/gateway/{gw}/port/ge-0%2F0%2F0/traffic?range=<b>x</b>", 400),
        ("/api/gateway/{gw}/port/" + "x/" * 300 + "/traffic?range=1h", 400),
        ("/api/gateway/{gw}/port/<img src=x>/traffic?range=1h", 400),
        ("/api/gateway/{gw}/port/ge-9%2F9%2F9/traffic?range=1h", 404),
        ("/api/gateway/00000000-0000-0000-1000-ffffffffffff/port/ge-0%2F0%2F0/traffic", 404),
        ("/api/nope", 404),
        ("/api/gateways/<script>", 404),
    ],
)
def test_bad_requests_get_a_json_4xx_that_echoes_no_markup(client, org, url, status):
    url = url.replace("{gw}", org.gateways[0]["id"])
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_data(as_text=True)
    assert "<" not in body and ">" not in body
    assert isinstance(response.get_json()["error"], str)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/gateways", "/api/status", "/health", "/api/export.csv"])
def test_the_fast_paths_answer_any_other_method_with_a_json_405(client, org, path, method):
    """One routing table: the fast path answers every method of its paths itself."""
    response = client.open(path, method=method, data="x")
    assert response.status_code == 405
    assert response.get_json() == {"error": "method not allowed", "status": 405}
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == CSP


def test_flask_knows_no_route_of_the_fast_paths(store):
    """No second routing table: Flask has none of the paths the fast path answers."""
    flask_app = web.create_app({"REDIS_CLIENT": store})
    rules = {rule.rule for rule in flask_app.url_map.iter_rules()}
    fast = set(flask_app.extensions["fast_paths"].routes)
    known = {"/health", "/api/status", "/api/export.csv", "/metrics", *SERVED_ROUTES, *CSV_ROUTES}
    known.add("/api/events")  # web/events.py's EventsRoute
    overview = {"/api/orgs", "/api/orgs.csv"}  # web/overview.py: every org, not org-scoped
    assert known | overview == fast
    assert not rules & fast


def test_a_flask_route_still_answers_a_wrong_method_with_a_json_405(client, org):
    gateway_id = org.gateways[0]["id"]
    response = client.post(f"/api/gateway/{gateway_id}", data="x")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method not allowed"


def test_an_unexpected_error_is_a_json_500_without_details(client, org, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(reads, "read_served", broken)
    response = client.get("/api/gateways")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internal detail" not in body and "Traceback" not in body
    assert response.get_json()["error"].startswith("internal error")


def test_no_debugger_whatever_the_log_level(store):
    flask_app = web.create_app({"REDIS_CLIENT": store, "LOG_LEVEL": "DEBUG"})
    assert flask_app.debug is False
    assert flask_app.test_client().get("/console").status_code == 404


# ------------------------------------------------------------------ CSV export


def test_server_csv_has_one_row_per_wan_port_and_is_excel_safe(client, store, org):
    response = client.get("/api/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(
        r'attachment; filename="mist-circuits-\d{8}-\d{4}\.csv"',
        response.headers["Content-Disposition"],
    )
    assert response.data == plain_body(store, keys.Dataset.EXPORT_CSV), "the bytes the worker wrote"
    assert store.get(keys.KEY_EXPORT_CSV) is None, "stored as gzip alone (GZIP_ONLY)"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    ports = sum(max(1, len(g["ports"])) for g in org.gateways)
    assert len(rows) - 1 == ports == 29, "28 WAN ports, and a gateway without any"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    sites = {row[0] for row in rows[1:]}
    assert sites == {excel_safe(site.name) for site in org.sim.sites if site.gateways}
    assert '\'=HYPERLINK("http://evil")' in sites
    assert "<img src=x onerror=alert(1)>" in sites, "text stays verbatim, it is not HTML"
    records = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    sim = org.sim.gateways[3]
    mine = [(r["port"], r["isp"], r["description"]) for r in records if r["gateway_id"] == sim.id]
    assert mine == [
        (p.port_id, excel_safe(p.isp and p.isp.name), excel_safe(p.description))
        for p in sim.wan_ports
    ]
    assert mine[0][1] == "x;'=1+1", "Mist's text, the formula after `;` neutralised"


def test_server_csv_gzipped_when_the_browser_accepts_it(client, store, org):
    zipped = client.get("/api/export.csv", headers=GZIP)
    assert zipped.status_code == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert zipped.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert zipped.headers["Content-Disposition"].startswith("attachment;")
    assert zipped.data == store.get(keys.KEY_EXPORT_CSV + ":gz")
    assert gzip.decompress(zipped.data) == client.get("/api/export.csv").data


def test_server_csv_follows_a_new_refresh(client, store, org):
    before = client.get("/api/export.csv").data
    publish_sample(store, 3)
    after = client.get("/api/export.csv").data
    assert after != before
    assert len(after.decode("utf-8-sig").splitlines()) - 1 == sum(
        max(1, len(g["ports"])) for g in circuits_of(store)
    )


def test_the_rows_document_carries_the_servers_csv_format(client, org):
    """The page's own CSV takes its columns and Excel-safe rule from here (static/js/csv.js)."""
    document = client.get("/api/gateways/rows").get_json()
    assert document["csv"] == {
        "columns": list(CSV_COLUMNS),
        "formula_starts": "=+-@\t\r",
        "cell_breaks": ";\t\r\n",
        "cell_quotes": '"',
    }
    for start in document["csv"]["formula_starts"]:
        assert excel_safe(start + "x") == "'" + start + "x"
        for mark in document["csv"]["cell_breaks"]:
            assert excel_safe("x" + mark + start) == "x" + mark + "'" + start
    assert excel_safe("x=") == "x="
    assert excel_safe('x;"=1') == "x;'\"=1", "a quote before the formula does not hide it"


def test_the_page_has_a_csv_getter_for_every_server_column():
    """csv.js keeps only one getter per column name; the names come from the server."""
    source = (ROOT / "static/js/csv.js").read_text()
    block = source[source.index("CSV_GETTERS = {") : source.index("};")]
    getters = re.findall(r"^  ([a-z0-9_]+): ", block, flags=re.MULTILINE)
    assert sorted(getters) == sorted(CSV_COLUMNS)
    assert "CSV_COLUMNS =" not in source and "[=+" not in source, "no copy of the server's format"


# ------------------------------------------------------------------ settings, process, imports


def test_a_bad_setting_exits_2_naming_it(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env={"PORT": "not-a-port", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_app_py_serves_on_port(tmp_path):
    """The development server: `python app.py` listens on PORT (no debugger, no reloader)."""
    port = free_port()
    env = {
        "PORT": str(port),
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "PATH": "/usr/bin:/bin",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: port_open(port), timeout=30, what="python app.py")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
            assert "Mist circuits" in response.read().decode()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 503
            assert json.loads(error.read())["error"] == "redis unreachable"
        else:
            raise AssertionError("/health must be 503 without Redis")
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "Debugger is active" not in output and "Traceback" not in output


def test_the_web_app_never_imports_mist_code():
    """Walk the import graph of app.py through the repo's own modules."""
    seen: set[str] = set()
    reached: set[str] = set()
    todo = ["app"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        module = ROOT / name.replace(".", "/")
        files = sorted(module.glob("*.py")) if module.is_dir() else [module.with_suffix(".py")]
        for node in (n for f in files if f.exists() for n in ast.walk(ast.parse(f.read_text()))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for imported in names:
                top = imported.split(".")[0]
                reached.add(top)
                todo.append(top)
    assert {"web", "store", "history"} <= reached
    assert not {"views", "refresh", "traffic"} & reached, "worker code stays out"
    assert "mistapi" not in reached
    assert "mist" not in reached
    assert "mistsim" not in reached


def test_the_web_app_holds_no_token(store, monkeypatch):
    monkeypatch.setenv("MIST_API_TOKEN", "tok-should-never-show")
    flask_app = web.create_app({"REDIS_CLIENT": store})
    assert "tok-should-never-show" not in repr(dict(flask_app.config))
    assert "tok-should-never-show" not in flask_app.test_client().get("/").get_data(as_text=True)
