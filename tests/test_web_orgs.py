"""`?org=<org_id>` on every org-scoped route: the worker filled a real redis-server from an
MSP of three orgs (mistsim `--spread-orgs`); the web answers through Flask's test client."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

import app as web
from tests.test_worker_orgs import make_worker, sim_orgs

ORG_ROUTES = (
    "/api/organization",
    "/api/sites",
    "/api/gateways",
    "/api/gateways/rows",
    "/api/vpn-peers/all",
    "/api/insights/all",
    "/api/export.csv",
    "/metrics",
    "/api/events",
)


@pytest.fixture
def msp(mistsim_factory, redis_server) -> dict[str, Any]:
    sim = mistsim_factory(gateways=30, sites=8, orgs=3, spread_orgs=True, msp_tokens=["msp"])
    worker = make_worker(sim, redis_server, tokens=["msp"], MIST_ORG_ID="*")
    assert worker.refresh()
    client = web.create_app({"REDIS_URL": redis_server.url}).test_client()
    return {"sim": sim, "orgs": sim_orgs(sim), "client": client, "worker": worker}


def _json(response) -> Any:
    body = response.data
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return json.loads(body)


def test_without_org_several_orgs_answer_400_naming_the_choice(msp):
    ids = [org["org_id"] for org in msp["orgs"]]
    gateway = _json(msp["client"].get(f"/api/gateways?org={ids[0]}"))["gateways"][0]["id"]
    for path in (*ORG_ROUTES, f"/api/gateway/{gateway}", f"/api/gateway/{gateway}/vpn-peers"):
        response = msp["client"].get(path)
        assert response.status_code == 400, path
        body = _json(response)
        assert body["orgs"] == ids and "?org=" in body["error"], path


def test_each_org_answers_with_its_own_data(msp):
    client = msp["client"]
    for org in msp["orgs"]:
        query = f"?org={org['org_id']}"
        assert _json(client.get("/api/organization" + query))["id"] == org["org_id"]
        gateways = _json(client.get("/api/gateways" + query, headers={"Accept-Encoding": "gzip"}))
        assert gateways["summary"]["gateways"] == org["gateways"]
        rows = _json(client.get("/api/gateways/rows" + query))
        assert len(rows["rows"]) == org["gateways"]
        first = gateways["gateways"][0]
        detail = client.get(f"/api/gateway/{first['id']}{query}")
        assert detail.status_code == 200 and _json(detail)["id"] == first["id"]
        other = next(o for o in msp["orgs"] if o is not org)
        wrong = client.get(f"/api/gateway/{first['id']}?org={other['org_id']}")
        assert wrong.status_code == 404  # another org's gateway is not this org's
        status = _json(client.get("/api/status" + query))
        assert status["org_id"] == org["org_id"] and status["stale"] is False
        csv = client.get("/api/export.csv" + query)
        assert csv.status_code == 200 and csv.data.startswith("\ufeff".encode())
        metrics = client.get("/metrics" + query)
        assert metrics.status_code == 200 and b"mist_data_age_seconds" in metrics.data
        assert client.get("/api/events" + query).status_code == 200


def test_unknown_or_malformed_org_and_the_org_independent_routes(msp):
    client = msp["client"]
    unknown = client.get("/api/gateways?org=00000000-1111-4222-8333-444444444444")
    assert (
        unknown.status_code == 404 and _json(unknown)["error"] == "no such org in this deployment"
    )
    assert client.get("/api/gateways?org=not-an-org").status_code == 400
    assert client.get("/api/sites?org=00000000-1111-4222-8333-444444444444").status_code == 404
    health = client.get("/health")
    assert health.status_code == 200 and _json(health)["stale"] is False
    status = _json(client.get("/api/status"))  # the worker's own, with every org's calls
    assert [row["org_id"] for row in status["orgs"]] == [org["org_id"] for org in msp["orgs"]]
    assert status["calls_last_refresh"] >= sum(row["calls_last_refresh"] for row in status["orgs"])


def test_a_single_org_deployment_answers_with_and_without_its_org(mistsim, redis_server):
    worker = make_worker(mistsim, redis_server)
    assert worker.refresh()
    client = web.create_app({"REDIS_URL": redis_server.url}).test_client()
    plain = client.get("/api/gateways")
    same = client.get(f"/api/gateways?org={mistsim.org_id}")
    assert plain.status_code == same.status_code == 200 and plain.data == same.data
    other = client.get("/api/gateways?org=00000000-1111-4222-8333-444444444444")
    assert other.status_code == 404
    assert _json(client.get("/api/organization"))["id"] == mistsim.org_id
