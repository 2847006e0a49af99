"""The details users of the original dashboard still miss (issue 15) and the last of issue 18,
in real Chromium at iPad size: each test asserts what a NOC engineer sees, against the
server's own documents. The org is mistsim's, published by the worker's own build and
publish code with a week of traffic history per WAN port (tests/fixtures/sample_data.py)."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from store.keys import KEY_HEARTBEAT
from store.status import write_heartbeat
from tests.fixtures.browser import close_page, open_page
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sample_data import SampleOrg, publish_sample
from tests.fixtures.web_server import WebServer, start_web_server
from tests.test_dashboard import expand as open_ports


class Stack:
    """One redis-server with the published org and one gunicorn, for the whole module."""

    def __init__(self, directory: Path) -> None:
        self.redis = RedisServer(directory / "redis")
        self.redis.start()
        self.sample: SampleOrg = publish_sample(self.redis.client(), 20, edge_cases=True)
        self.server: WebServer = start_web_server(
            self.redis.url, directory / "web", STATUS_POLL_MS=500
        )

    def api(self, path: str) -> Any:
        return self.server.get(path).json()

    def close(self) -> None:
        self.server.stop()
        self.redis.stop()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    shared = Stack(tmp_path_factory.mktemp("details"))
    try:
        yield shared
    finally:
        shared.close()


def load(page: Any, org: Stack, query: str = "") -> None:
    page.goto(f"{org.server.url}/{query}")
    page.wait_for_selector("body[data-loaded=true]")


def expand(page: Any, gateway: dict[str, Any]) -> Any:
    """Find the gateway by its MAC and open its WAN ports as tests.test_dashboard does (the
    search's redraws settled first, tapped again when one replaced the row under the tap:
    one tap, lost under load, timed this out); returns its first port card."""
    open_ports(page, gateway)
    card = page.locator(f'.port-card[data-gateway="{gateway["id"]}"]').first
    card.wait_for()
    return card


def serve_gateway(page: Any, org: Stack, answer: dict[str, Any]) -> None:
    """The page sees `answer` for its gateway, whether it asks for the one gateway or (a
    search) for every gateway."""
    headers = {"Cache-Control": "no-store"}
    page.route(
        f"**/api/gateway/{answer['id']}",
        lambda route: route.fulfill(status=200, json=answer, headers=headers),
    )
    payload = org.sample.payload
    gateways = [answer if g["id"] == answer["id"] else g for g in payload["gateways"]]
    page.route(
        "**/api/gateways",
        lambda route: route.fulfill(
            status=200, json={**payload, "gateways": gateways}, headers=headers
        ),
    )


def rows_of(org: Stack) -> list[dict[str, Any]]:
    document = org.api("/api/gateways/rows")
    return [dict(zip(document["columns"], row, strict=True)) for row in document["rows"]]


def download_rows(page: Any, selector: str) -> list[dict[str, str]]:
    with page.expect_download() as download_info:
        page.click(selector)
    raw = Path(download_info.value.path()).read_bytes()
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


# ------------------------------------------------------------------ summary cards


def test_the_degraded_card_names_every_cause_it_counts_mos_too(page, org):
    load(page, org)
    causes = org.api("/api/gateways/rows")["summary"]["degraded_causes"]
    shown = page.inner_text("#sum-degraded-causes")
    assert shown == "latency ≥ 100 ms, jitter ≥ 30 ms, loss ≥ 0.5 % or MOS < 3.6"
    assert all(cause in shown for cause in causes)
    assert page.problems == []


def test_down_circuits_of_offline_gateways_are_counted_apart(page, org):
    summary = org.api("/api/gateways/rows")["summary"]
    rows = rows_of(org)
    assert summary["circuits_down_offline"] > 0, "the edge-case org has an offline gateway"
    assert (
        summary["circuits_down_online"] + summary["circuits_down_offline"]
        == (summary["circuits_down"])
    )
    load(page, org)
    assert page.inner_text("#sum-circuits-down") == f"{summary['circuits_down_online']:,}"
    assert page.inner_text("#sum-circuits-offline") == (
        f"+ {summary['circuits_down_offline']:,} on offline gateways"
    )
    # its filter keeps the online gateways with a port down, as the count does
    page.click(".card-filter[data-filter=ports]")
    kept = sorted(r["id"] for r in rows if r["status"] == "connected" and r["ports_down"])
    assert kept, "the edge-case org has an online gateway with a WAN port down"
    page.wait_for_function(
        "(n) => document.querySelectorAll('tr.gateway-row').length === n", arg=len(kept)
    )
    ids = page.locator("tr.gateway-row").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert sorted(ids) == kept
    assert page.problems == []


# ------------------------------------------------------------------ buttons without data


def test_csv_and_pager_buttons_are_inactive_without_data(page, org):
    """Before the worker's first refresh there is nothing to export or page through."""
    no_data = {"error": "no data yet", "status": 503}
    for path in ("**/api/gateways/rows", "**/api/gateways", "**/api/organization"):
        page.route(path, lambda route: route.fulfill(status=503, json=no_data))
    page.goto(org.server.url + "/")
    page.wait_for_function(
        "() => /Waiting|Could not/.test(document.getElementById('table-status').textContent)"
    )
    assert page.is_disabled("#export-filtered")
    assert page.is_disabled("#page-prev") and page.is_disabled("#page-next")
    link = page.locator("#export-all")
    assert link.get_attribute("href") is None and link.get_attribute("aria-disabled") == "true"
    link.click(force=True, no_wait_after=True)
    page.wait_for_timeout(200)
    assert page.url.rstrip("/") == org.server.url.rstrip("/"), "nowhere to go"
    # once the rows arrive, the org's CSV is a link again
    page.unroute_all(behavior="ignoreErrors")
    load(page, org)
    assert link.get_attribute("href") == "/api/export.csv"
    assert link.get_attribute("aria-disabled") is None
    assert not page.is_disabled("#export-filtered")


# ------------------------------------------------------------------ the worker's heartbeat


def test_a_missing_heartbeat_reads_worker_not_responding_not_idle(page, org):
    client = org.redis.client()
    client.delete(KEY_HEARTBEAT)
    load(page, org)
    page.wait_for_selector("#worker-pill:not([hidden])")
    assert page.inner_text("#worker-pill") == "worker not responding"
    page.click(".app-footer summary")
    facts = page.inner_text("#worker-facts")
    assert re.search(r"Worker\s+not responding", facts) and "idle" not in facts
    write_heartbeat(client, time.time())  # the worker is back
    page.wait_for_selector("#worker-pill", state="hidden")
    assert re.search(r"Worker\s+idle", page.inner_text("#worker-facts"))
    assert page.problems == []


# ------------------------------------------------------------------ port cards


def test_a_port_whose_config_is_not_read_yet_says_so_never_from_template(page, org):
    gateway = next(g for g in org.sample.gateways if len(g["ports"]) >= 2)
    first, second = gateway["ports"][0], gateway["ports"][1]
    answer = {**gateway, "ports": [{**first, "override": None}, {**second, "override": False}]}
    serve_gateway(page, org, answer)
    load(page, org)
    expand(page, gateway)
    unknown = page.locator(f'.port-card[data-port="{first["port_id"]}"] .port-facts').inner_text()
    assert re.search(r"Address\s+.*config not read yet", unknown)
    assert "from template" not in unknown
    known = page.locator(f'.port-card[data-port="{second["port_id"]}"] .port-facts').inner_text()
    assert "from template" in known and "not read yet" not in known
    assert page.problems == []


# ------------------------------------------------------------------ volumes


def test_the_expanded_row_and_the_csv_give_each_ports_seven_days(page, org):
    gateway = next(
        g for g in org.sample.gateways
        if g["status"] == "connected" and any(p["rx_bytes_7d"] and p["up"] for p in g["ports"])
    )  # fmt: skip
    port = next(p for p in gateway["ports"] if p["rx_bytes_7d"] and p["up"])
    assert port["rx_bytes_7d"] > port["rx_bytes_24h"] > 0, "a week of history holds more"
    assert not port["bytes_24h_partial"]
    load(page, org)
    card = expand(page, gateway)
    card = page.locator(
        f'.port-card[data-gateway="{gateway["id"]}"][data-port="{port["port_id"]}"]'
    )
    facts = card.locator(".port-facts").inner_text()
    week = page.evaluate(
        """async ([rx, tx]) => { const f = await import('/static/js/format.js');
            return `↓ ${f.formatBytes(rx)}  ↑ ${f.formatBytes(tx)}`; }""",
        [port["rx_bytes_7d"], port["tx_bytes_7d"]],
    )
    assert re.search(r"Last 7 d\s+" + re.escape(" ".join(week.split())), facts), facts
    assert "history filling" not in facts
    # the org's CSV and the page's own have the week too
    served = list(
        csv.DictReader(io.StringIO(org.server.get("/api/export.csv").text.lstrip("\ufeff")))
    )
    row = next(
        r for r in served if r["gateway_id"] == gateway["id"] and r["port"] == port["port_id"]
    )
    assert (row["rx_bytes_7d"], row["tx_bytes_7d"]) == (
        str(port["rx_bytes_7d"]),
        str(port["tx_bytes_7d"]),
    )
    shown = download_rows(page, "#export-filtered")
    mine = next(
        r for r in shown if r["gateway_id"] == gateway["id"] and r["port"] == port["port_id"]
    )
    assert mine["rx_bytes_7d"] == row["rx_bytes_7d"] and mine["bytes_24h_partial"] == "no"
    assert mine["uptime_s"] == row["uptime_s"] == str(gateway["uptime"])
    assert mine["wan_prefix_length"] == row["wan_prefix_length"]
    assert row["wan_prefix_length"] == (
        port["ip"].split("/")[1] if "/" in (port["ip"] or "") else ""
    )
    assert page.problems == []


def test_a_day_built_while_history_fills_is_labelled_partial(page, org):
    gateway = next(g for g in org.sample.gateways if g["status"] == "connected" and g["ports"])
    port = next(p for p in gateway["ports"] if p["up"])
    filling = {**port, "rx_bytes_24h": 2_500_000_000, "tx_bytes_24h": 310_000_000,
               "bytes_24h_partial": True, "rx_bytes_7d": None, "tx_bytes_7d": None,
               "bytes_7d_partial": False, "bytes_7d_at": None}  # fmt: skip
    answer = {**gateway, "ports": [filling if p is port else p for p in gateway["ports"]]}
    serve_gateway(page, org, answer)
    load(page, org)
    expand(page, gateway)
    card = page.locator(f'.port-card[data-port="{port["port_id"]}"]')
    facts = card.locator(".port-facts").inner_text()
    assert re.search(r"Last 24 h\s+↓ ≥ 2\.50 GB\s+↑ ≥ 310 MB, history filling", facts), facts
    assert re.search(r"Last 7 d\s+not reckoned yet", facts)
    assert page.problems == []


# ------------------------------------------------------------------ the peer-path dialog


def test_the_peer_path_dialog_shows_vpn_name_hops_and_a_tile_of_active_paths(page, org):
    gateway = next(g for g in org.sample.gateways if g["peers_total"] and g["ports"])
    port = next(p for p in gateway["ports"] if p["peers_total"])
    served = org.api(f"/api/gateway/{gateway['id']}/vpn-peers")
    assert all("vpn_name" in path and "hop_count" in path for path in served), "§3.3 fields"
    base = {
        **{"port_id": port["port_id"], "peer_router_name": "dc1-hub", "type": "ipsec"},
        **{"uptime": 3600, "mtu": 1400, "latency": 20.0, "jitter": 1.0, "loss": 0.0, "mos": 4.4},
    }
    paths = [
        {**base, "peer_port_id": "ge-0/0/1", "up": True, "is_active": True,
         "vpn_name": "Corp_VPN", "hop_count": 1},
        {**base, "peer_port_id": "ge-0/0/2", "up": True, "is_active": False,
         "vpn_name": "Corp_VPN", "hop_count": 2},
        {**base, "peer_port_id": "ge-0/0/3", "up": False, "is_active": False,
         "vpn_name": None, "hop_count": None},
    ]  # fmt: skip
    page.route(
        "**/vpn-peers",
        lambda route: route.fulfill(status=200, json=paths, headers={"Cache-Control": "no-store"}),
    )
    load(page, org)
    expand(page, gateway)
    page.locator(f'.port-card[data-port="{port["port_id"]}"] [data-action=peer-paths]').click()
    page.wait_for_selector("#peer-rows tr")
    tiles = page.locator("#peer-tiles .peer-tile").evaluate_all(
        "ts => ts.map(t => [t.dataset.tile, t.querySelector('.peer-tile-value').textContent])"
    )
    assert tiles == [["total", "3"], ["up", "2"], ["active", "1"]]
    firsts = page.locator("#peer-rows tr td:first-child").all_inner_texts()
    assert [" ".join(f.split()) for f in firsts] == [
        "dc1-hub VPN Corp_VPN · 1 hop",
        "dc1-hub VPN Corp_VPN · 2 hops",
        "dc1-hub",
    ]
    assert page.problems == []


# ------------------------------------------------------------------ the traffic dialog


def wait_chart(page: Any) -> None:
    page.wait_for_function(
        """() => document.querySelector('#traffic-chart canvas')
            && !document.getElementById('traffic-summary').textContent.includes('…')"""
    )


def test_the_traffic_dialog_shows_data_transferred_and_opens_on_the_last_range(page, org):
    gateway = next(
        g for g in org.sample.gateways
        if g["status"] == "connected" and any(p["up"] for p in g["ports"])
    )  # fmt: skip
    port = next(p for p in gateway["ports"] if p["up"])
    load(page, org)
    expand(page, gateway)
    opener = page.locator(f'.port-card[data-port="{port["port_id"]}"] [data-action=traffic]')
    opener.click()
    wait_chart(page)
    assert page.get_attribute("[data-range='24h']", "aria-pressed") == "true"
    page.click("#traffic-ranges [data-range='7d']")
    wait_chart(page)
    page.click("#traffic-views [data-view='bytes']")
    assert page.get_attribute("[data-view='bytes']", "aria-pressed") == "true"
    path = f"/api/gateway/{gateway['id']}/port/{port['port_id'].replace('/', '%2F')}/traffic"
    week = org.api(path + "?range=7d")
    assert week["rx_bytes_total"] and len(week["rx_bytes"]) == len(week["t"])
    totals = page.evaluate(
        """async ([rx, tx]) => { const f = await import('/static/js/format.js');
            return [f.formatBytes(rx), f.formatBytes(tx)]; }""",
        [week["rx_bytes_total"], week["tx_bytes_total"]],
    )
    summary = page.inner_text("#traffic-summary")
    assert summary.startswith(
        f"Transferred in the last 7d: received {totals[0]}, transmitted {totals[1]} · bytes per 1 h"
    ), summary
    page.keyboard.press("Escape")
    # the next time (and after a reload) the dialog opens on the range and view last chosen
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if "/traffic" in r.url else None)
    load(page, org)  # a fresh view: no gateway open
    expand(page, gateway)
    opener.click()
    wait_chart(page)
    assert seen and "range=7d" in seen[0]
    assert page.get_attribute("[data-range='7d']", "aria-pressed") == "true"
    assert page.inner_text("#traffic-summary").startswith("Transferred in the last 7d")
    page.click("#traffic-views [data-view='bps']")
    assert page.inner_text("#traffic-summary").startswith("Receive: average")
    assert page.problems == []


# ------------------------------------------------------------------ time zones


def test_times_can_be_shown_in_each_sites_own_time_zone(browser, org):
    document = org.api("/api/gateways/rows")
    zones = {
        site[0]: document["zones"][site[3]] for site in document["sites"] if site[3] is not None
    }
    sites = {s["id"]: s for s in org.api("/api/sites")}
    assert zones and all(sites[site]["timezone"] == zone for site, zone in zones.items())
    rows = rows_of(org)
    # an offline gateway: its "down for" names the moment in its site's zone on focus
    offline = next(
        (r, document["sites"][r["site"]][0])
        for r in rows
        if r["since"] and document["sites"][r["site"]][0] in zones
    )
    row, site = offline
    zone = zones[site]
    page = open_page(browser, timezone_id="Pacific/Auckland", locale="en-US")
    try:
        load(page, org, "?tz=site")
        assert page.input_value("#time-zone") == "site"
        cell = page.locator(f'tr.gateway-row[data-id="{row["id"]}"] .col-since time')
        expected = page.evaluate(
            """([moment, zone]) => new Intl.DateTimeFormat(undefined, { timeZone: zone,
                timeZoneName: 'short', weekday: 'short', year: 'numeric', month: 'short',
                day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
                hourCycle: 'h23' }).format(new Date(moment * 1000))""",
            [row["since"], zone],
        )
        assert cell.get_attribute("title") == expected
        # and the traffic chart of a port of that site names the zone on its axis
        gateway = next(
            g for g in org.sample.gateways
            if g["site_id"] in zones and g["status"] == "connected" and g["ports"]
        )  # fmt: skip
        page.goto(f"{org.server.url}/?tz=site")
        page.wait_for_selector("body[data-loaded=true]")
        expand(page, gateway)
        page.locator(
            f'.port-card[data-gateway="{gateway["id"]}"] [data-action=traffic]'
        ).first.click()
        wait_chart(page)
        site_zone = zones[gateway["site_id"]]
        assert f"Time ({site_zone})" in page.inner_text("#traffic-chart")
        assert f"times in {site_zone}" in page.inner_text("#traffic-summary")
        # UTC still names UTC; browser time names the browser's zone
        page.keyboard.press("Escape")
        page.select_option("#time-zone", "")
        page.locator(
            f'.port-card[data-gateway="{gateway["id"]}"] [data-action=traffic]'
        ).first.click()
        wait_chart(page)
        assert "Time (Pacific/Auckland)" in page.inner_text("#traffic-chart")
        assert page.problems == []
    finally:
        close_page(page)
