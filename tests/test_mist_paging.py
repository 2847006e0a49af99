"""mist.paging against mistsim: header paging (concurrent) and cursor paging cross page
boundaries without fetching a page twice."""

from __future__ import annotations

import time

import requests

from mist.paging import page_count
from tests.fixtures.mist_connect import connect


def test_header_and_cursor_paging_cross_page_boundaries(mistsim_factory):
    sim = mistsim_factory(gateways=2100, sites=1500, wan_ports_min=1, wan_ports_max=1)
    summary = sim.org_summary()
    connection = connect(sim)
    sites = connection.sites(sim.org_id)
    gateways = connection.gateway_stats(sim.org_id)
    ports = connection.port_stats(sim.org_id)
    peer_paths = connection.peer_paths(sim.org_id)
    assert len(sites.items) == summary["sites"] == 1500 and sites.calls == 2
    assert len({s["id"] for s in sites.items}) == 1500  # no page fetched twice
    assert len(gateways.items) == summary["gateways"] == 2100 and gateways.calls == 3
    assert len({g["mac"] for g in gateways.items}) == 2100
    assert len(ports.items) == summary["ports"]
    assert ports.calls == -(-summary["ports"] // 1000)
    assert len(peer_paths.items) == summary["peer_paths"]
    assert peer_paths.calls == -(-summary["peer_paths"] // 1000)
    calls = sim.calls()
    assert calls["total"] == sites.calls + gateways.calls + ports.calls + peer_paths.calls
    assert connection.calls_this_refresh == calls["total"]


def test_pages_of_one_stream_run_concurrently(mistsim_factory):
    sim = mistsim_factory(gateways=20, sites=3500)
    sim.set_faults(latency_ms=1000)
    connection = connect(sim, page_workers=4)
    started = time.monotonic()
    fetched = connection.sites(sim.org_id)
    assert len(fetched.items) == 3500 and fetched.calls == 4
    # one page after the other would take over 4 s; page 1 then pages 2-4 together about 2 s
    assert time.monotonic() - started < 3.5


def test_page_count_reads_the_x_page_headers_or_says_nothing():
    def answer(**headers: str) -> requests.Response:
        response = requests.Response()
        response.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
        return response

    assert page_count(answer(X_Page_Total="2001", X_Page_Limit="1000")) == 3
    assert page_count(answer(X_Page_Total="0", X_Page_Limit="1000")) == 1
    assert page_count(answer(X_Page_Total="5")) is None
    assert page_count(answer(X_Page_Total="5", X_Page_Limit="0")) is None
    assert page_count(answer(X_Page_Total="many", X_Page_Limit="1000")) is None
