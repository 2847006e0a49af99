"""The dashboard in real Chromium at iPad size, on an edge-case org the worker read from mistsim.

One simulator, one redis-server, one gunicorn and one browser for the whole module; each test
opens a fresh page. The page polls /api/status every 0.5 s here (10 s in production).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from store.keys import KEY_LAST_UPDATE
from store.status import read_status, write_heartbeat, write_status
from tests.fixtures.sim_stack import SimStack

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tok-dashboard-test"


class Org(SimStack):
    """Everything the module's tests share: an org refreshed twice, 5 minutes apart."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, TOKEN, "--gateways", "30", "--sites", "8", "--edge-cases")
        self.refresh()
        self.refresh(advance=300)
        self.serve()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    shared = Org(tmp_path_factory.mktemp("dashboard"))
    try:
        yield shared
    finally:
        shared.close()


def load(page: Any, org: Org) -> None:
    page.goto(org.server.url + "/")
    page.wait_for_selector("body[data-loaded=true]")


def problem_ids(org: Org) -> set[str]:
    """The gateways "problems only" keeps: the server's `problem` flag in the rows document."""
    document = org.api("/api/gateways/rows")
    columns = document["columns"]
    rows = [dict(zip(columns, row, strict=True)) for row in document["rows"]]
    return {row["id"] for row in rows if row["problem"]}


def serve_rows(page: Any, change: Callable[[dict[str, Any]], None]) -> None:
    """Every /api/gateways/rows the page asks for is the server's document after `change`."""

    def handle(route: Any) -> None:
        try:
            document = route.fetch().json()
        except PlaywrightError:  # the page closed while it asked: nobody is waiting for it
            return
        change(document)
        route.fulfill(status=200, json=document, headers={"Cache-Control": "no-cache"})

    page.route("**/api/gateways/rows", handle)


def wait_count(page: Any, prefix: str) -> None:
    """Until the "N of M gateways" line starts with `prefix`."""
    page.wait_for_function(
        "(prefix) => document.getElementById('row-count').textContent.startsWith(prefix)",
        arg=prefix,
    )


def row_names(page: Any) -> list[str]:
    return [str(name) for name in page.locator("tr.gateway-row .gateway-name").all_inner_texts()]


# ------------------------------------------------------------------ load, XSS, accessibility


def test_loads_at_ipad_size_with_hostile_names_shown_as_text(page, org):
    load(page, org)
    payload = org.api("/api/gateways")
    summary = payload["summary"]
    assert page.inner_text("#sum-gateways-online") == f"{summary['gateways_online']:,}"
    assert page.inner_text("#sum-circuits-up") == f"{summary['circuits_up']:,}"
    assert page.inner_text("#sum-peers-up") == f"{summary['peer_paths_up']:,}"
    assert page.inner_text("#sum-degraded") == f"{summary['circuits_degraded']:,}"
    assert f"{summary['gateways']} gateways" in page.inner_text("#row-count")
    assert page.locator("tr.gateway-row").count() == min(50, summary["gateways"])
    # Mist's strings are text: markup shows literally and nothing runs.
    hostile = [g["name"] for g in payload["gateways"] if "<" in (g["name"] or "")]
    assert hostile, "the edge-case org should carry markup in a gateway name"
    page.fill("#search", hostile[0])
    page.wait_for_function("() => document.querySelectorAll('tr.gateway-row').length >= 1")
    assert hostile[0] in row_names(page)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    assert page.evaluate("document.querySelectorAll('[onerror],[onload]').length") == 0
    org_name = org.api("/api/organization")["name"]
    assert page.inner_text("#org-name").startswith(org_name.strip()[:10])
    assert page.problems == []


def test_touch_targets_and_labels(page, org):
    load(page, org)
    page.locator("tr.gateway-row").first.click()
    small = page.evaluate(
        """() => [...document.querySelectorAll(
                'button, select, input[type=search], a.btn, .toggle-field, summary')]
            .filter((el) => el.offsetParent !== null)
            .map((el) => [el.id || el.className || el.tagName, el.getBoundingClientRect()])
            .filter(([, r]) => r.height < 44 || r.width < 44)
            .map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
    )
    assert small == []
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('button, select, input')]
            .filter((el) => !(el.getAttribute('aria-label') || (el.labels && el.labels.length)
                              || el.textContent.trim()))
            .map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []


# ------------------------------------------------------------------ search, filters, sort


def test_search_site_filter_problems_only_and_sort(page, org):
    load(page, org)
    payload = org.api("/api/gateways")
    gateways = payload["gateways"]
    total = len(gateways)
    # search by ISP of one port: every word must appear in one of the gateway's fields
    sites = {s["id"]: s["name"] for s in org.api("/api/sites")}
    isp = next(p["isp"] for g in gateways for p in g["ports"] if p.get("isp"))
    word = isp.split()[0].lower()

    def haystack(g: dict[str, Any]) -> str:
        fields = [g["name"], sites.get(g["site_id"]), g["model"], g["ip"], g["ext_ip"], g["mac"]]
        for p in g["ports"]:
            fields += [p.get(k) for k in ("port_id", "wan_name", "description", "isp", "asn")]
            fields += [p.get("ip"), p.get("gateway_ip")]
        return "\n".join(str(f) for f in fields if f).lower()

    expected = sum(1 for g in gateways if word in haystack(g))
    assert 0 < expected < total
    page.fill("#search", word)
    wait_count(page, f"{expected} of {total}")
    # search by WAN IP
    ip = next(g["ext_ip"] or g["ip"] for g in gateways if g["ext_ip"] or g["ip"])
    page.fill("#search", ip)
    wait_count(page, f"{sum(1 for g in gateways if ip.lower() in haystack(g))} of {total}")
    texts = page.locator("tr.gateway-row").all_inner_texts()
    assert texts and all(ip in text for text in texts)
    page.fill("#search", "")
    # site filter
    site_id = gateways[0]["site_id"]
    page.select_option("#site-filter", site_id)
    in_site = sum(1 for g in gateways if g["site_id"] == site_id)
    wait_count(page, f"{in_site} of")
    cells = page.locator("tr.gateway-row .gateway-site").evaluate_all(
        "cells => cells.map((c) => c.firstChild.textContent)"
    )
    assert cells and {c.strip() for c in cells} == {sites[site_id].strip() or "—"}
    page.select_option("#site-filter", "")
    # problems only
    problems = len(problem_ids(org))
    assert 0 < problems < total, "the edge-case org has some gateways with problems"
    page.check("#problems-only")
    wait_count(page, f"{problems} of")
    page.uncheck("#problems-only")
    # sort by gateway name, both ways
    header = page.locator("th[data-sort=name] button")
    header.click()
    assert page.get_attribute("th[data-sort=name]", "aria-sort") == "ascending"
    ascending = row_names(page)
    header.click()
    assert page.get_attribute("th[data-sort=name]", "aria-sort") == "descending"
    descending = row_names(page)
    assert ascending[0] != descending[0]
    in_order = page.evaluate(
        """(names) => {
            const collator = new Intl.Collator(undefined, {numeric: true, sensitivity: 'base'});
            return names.every((n, i) => i === 0 || collator.compare(names[i - 1], n) <= 0);
        }""",
        ascending,
    )
    assert in_order
    assert page.problems == []


# ------------------------------------------------------------------ expand and dialogs


def first_gateway_with_paths(org: Org) -> dict[str, Any]:
    gateways = org.api("/api/gateways")["gateways"]
    return next(g for g in gateways if g["peers_total"] and g["ports"])


def expand(page: Any, gateway: dict[str, Any]) -> Any:
    page.fill("#search", gateway["mac"])
    wait_count(page, "1 of")  # the search has redrawn the table: the row is the final one
    # The search also asked for every WAN port (the full payload): once it is drawn, no
    # redraw is on its way to replace the row or its cards under a tap.
    page.wait_for_selector("body[data-full=true]")
    button = page.locator(f'button[data-gateway="{gateway["id"]}"]')
    for attempt in range(3):
        # A redraw (the full payload a search asked for arriving) may replace the row between
        # focus and key press; a person would simply tap again, and so does the test.
        if button.get_attribute("aria-expanded") != "true":
            button.focus()
            page.keyboard.press("Enter")  # the keyboard works as well as a tap
        try:
            page.wait_for_selector(".port-card", timeout=5000)
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
    assert button.get_attribute("aria-expanded") == "true"
    return button


ADDRESS_MODES = {"static": "Static", "dhcp": "DHCP", "pppoe": "PPPoE"}
OVERRIDE = {True: " · device override", False: " · from template", None: " · config not read yet"}


def shown(value: Any) -> str:
    """What the page prints for a Mist value (format.js `text`): a dash when there is none."""
    return "—" if value is None or value == "" else str(value)


def expected_facts(port: dict[str, Any]) -> dict[str, str]:
    """The port card's facts, as a user reads them, for the port's JSON: only what says
    something (an empty field, "enabled: yes" or "untagged" is left out)."""
    unresolved = set(port.get("unresolved") or [])

    def known(name: str) -> str:
        return "not resolved yet" if name in unresolved else shown(port[name])

    facts: dict[str, str] = {}
    if port["description"] or "description" in unresolved:
        facts["Description"] = known("description")
    if port["isp"] or port["asn"]:
        facts["ISP"] = shown(port["isp"]) + (f" {port['asn']}" if port["asn"] else "")
    if port["ip"] or "ip" in unresolved:
        facts["WAN IP"] = known("ip")
    if port["gateway_ip"] or "gateway_ip" in unresolved:
        facts["Gateway IP"] = known("gateway_ip")
    if port["vlan"]:
        facts["VLAN"] = str(port["vlan"])
    mode = port["address_mode"]
    facts["Address"] = ADDRESS_MODES.get(mode, shown(mode)) + OVERRIDE[port.get("override")]
    facts["Peer paths"] = f"{port['peers_up']}/{port['peers_total']} up"
    return facts


def test_expand_shows_every_wan_port_with_its_facts(page, org):
    load(page, org)
    gateway = next(
        g
        for g in org.api("/api/gateways")["gateways"]
        if g["peers_total"] and any(p["isp"] and p["ip"] and p["address_mode"] for p in g["ports"])
    )
    expand(page, gateway)
    cards = page.locator(".port-card")
    assert cards.count() == len(gateway["ports"])
    for port in gateway["ports"]:
        card = page.locator(f'.port-card[data-port="{port["port_id"]}"]')
        assert card.locator(".port-id").inner_text() == port["port_id"]
        facts = card.locator(".port-facts").evaluate(
            """(dl) => Object.fromEntries([...dl.querySelectorAll('dt')]
                .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))"""
        )
        expected = expected_facts(port)
        shown_facts = {name: value.strip() for name, value in facts.items() if name in expected}
        assert shown_facts == expected, port["port_id"]
        assert "Enabled" not in facts and "{{" not in str(facts), "nothing without information"
    assert page.problems == []


PATH_METRICS = ("latency", "jitter", "loss", "mos")


def metric_level(metric: str, value: Any, bands: list[float] | None) -> str:
    """The colour class a metric cell must carry for the server's threshold bands."""
    if value is None or not bands:
        return "metric"
    if metric == "mos":
        level = "good" if value >= bands[0] else "warn" if value >= bands[1] else "bad"
    else:
        below = [value < band for band in bands]
        level = "good" if below[0] else "fair" if below[1] else "warn" if below[2] else "bad"
    return f"metric metric-{level}"


def test_peer_path_dialog_with_thresholds_closes_on_escape(page, org):
    load(page, org)
    gateway, port = next(
        (g, p) for g in org.api("/api/gateways")["gateways"] for p in g["ports"] if p["peers_up"]
    )
    thresholds = org.api("/api/gateways/rows")["thresholds"]
    paths = [
        path
        for path in org.api(f"/api/gateway/{gateway['id']}/vpn-peers")
        if path["port_id"] == port["port_id"]
    ]
    expand(page, gateway)
    card = page.locator(f'.port-card[data-port="{port["port_id"]}"]')
    opener = card.locator("[data-action=peer-paths]")
    opener.click()
    dialog = page.locator("#peer-dialog")
    page.wait_for_selector("#peer-rows tr")
    assert dialog.evaluate("d => d.open")
    assert page.locator("#peer-rows tr").count() == port["peers_total"]
    assert f"{port['peers_up']} of {port['peers_total']} peer paths up" in page.inner_text(
        "#peer-subtitle"
    )
    averages = page.locator("#peer-averages tr")
    assert averages.count() == 1
    ups = port["peers_up"]
    assert averages.locator("th").inner_text() == f"Average of {ups} up path{'s' * (ups != 1)}"
    levels = page.locator("#peer-rows tr").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('td.metric')].map(c => c.className))"
    )
    expected = [
        [metric_level(m, path[m] if path["up"] else None, thresholds.get(m)) for m in PATH_METRICS]
        for path in paths
    ]
    assert levels == expected, "each cell coloured by the server's thresholds"
    assert any("metric-" in level for row in levels for level in row)
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('peer-dialog').open")
    assert page.evaluate("document.activeElement.dataset.action") == "peer-paths"
    assert page.problems == []


def test_traffic_dialog_draws_a_time_chart_and_switches_range(page, org):
    load(page, org)
    # a port whose id has a slash (ge-0/0/0; SSR ports have none) on a gateway that is up
    gateway, port = next(
        (g, p)
        for g in org.api("/api/gateways")["gateways"]
        for p in g["ports"]
        if "/" in p["port_id"] and p.get("up") and g["status"] == "connected"
    )
    expand(page, gateway)
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url) if "/traffic" in r.url else None)
    card = page.locator(f'.port-card[data-port="{port["port_id"]}"]')
    card.locator("[data-action=traffic]").click()
    try:
        page.wait_for_selector("#traffic-chart canvas")
    except Exception as error:
        raise AssertionError(f"24 h chart: {page.inner_text('#traffic-summary')!r}") from error
    assert "%2F" in requests_seen[0], "port ids travel URL-encoded"
    assert "range=24h" in requests_seen[0]
    page.click("#traffic-ranges [data-range='7d']")
    assert page.get_attribute("[data-range='7d']", "aria-pressed") == "true"
    try:
        page.wait_for_function(
            """() => document.querySelector('#traffic-chart canvas')
                && !document.getElementById('traffic-summary').textContent.includes('…')"""
        )
    except Exception as error:
        raise AssertionError(f"7 d chart: {page.inner_text('#traffic-summary')!r}") from error
    assert any("range=7d" in url for url in requests_seen)
    assert page.locator("#traffic-chart canvas").count() == 1
    legend = page.inner_text("#traffic-chart")
    assert "Receive (rx)" in legend and "Transmit (tx)" in legend
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('traffic-dialog').open")
    assert page.problems == []


# ------------------------------------------------------------------ CSV


def test_csv_of_exactly_the_filtered_rows_is_excel_safe(page, org):
    load(page, org)
    gateways = org.api("/api/gateways")["gateways"]
    server_csv = org.api("/api/gateways/rows")["csv"]
    page.check("#problems-only")
    problems = problem_ids(org)
    shown = [g for g in gateways if g["id"] in problems]
    with page.expect_download() as download_info:
        page.click("#export-filtered")
    path = download_info.value.path()
    raw = Path(path).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM for Excel"
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == server_csv["columns"], "the server's columns, in its order"
    assert len(rows) - 1 == sum(max(1, len(g["ports"])) for g in shown)
    assert {row[2] for row in rows[1:]} == {g["id"] for g in shown}
    for row in rows[1:]:
        for cell in row:
            for piece in re.split("[;\t]", cell):  # Excel's cells in a `;` locale, or pasted
                assert not piece.startswith(("=", "+", "-", "@", "\r")), cell
    cells = page.evaluate(
        """async (spec) => {
            const csv = await import('/static/js/csv.js');
            const spots = csv.unsafeSpots(spec);
            return ['=1+1', '+49', '-cmd', '@SUM(A1)', '\\tx', '\\rx', 'plain', null, true,
                    'x;=1+1', 'a\\t@b', '\\t\\t=', 'a;b=c', 'x]=']
                .map((value) => csv.excelSafe(value, spots));
        }""",
        server_csv,
    )
    assert cells == [
        *("'=1+1", "'+49", "'-cmd", "'@SUM(A1)", "'\tx", "'\rx", "plain", "", "yes"),
        *("x;'=1+1", "a\t'@b", "'\t'\t'=", "a;b=c", "x]="),
    ]
    assert page.problems == []


# ------------------------------------------------------------------ freshness


def test_stale_and_rate_limit_banners(page, org):
    client = org.redis.client()
    saved = read_status(client)
    assert saved is not None
    try:
        load(page, org)
        assert page.locator("#stale-banner").is_hidden()
        old = time.time() - 3 * 3600
        client.set(KEY_LAST_UPDATE, repr(old))  # as if nothing published for 3 h
        write_status(client, {**saved, "last_update": old, "interval": 300, "rate_limited": True})
        page.wait_for_selector("#stale-banner", state="visible")
        banner = page.inner_text("#stale-banner")
        assert "stale" in banner and "3 h" in banner
        assert time.strftime("%Y", time.localtime(old)) in banner, "a date, not just a clock"
        assert page.locator("#ratelimit-banner").is_visible()
        assert "rate limit" in page.inner_text("#ratelimit-banner")
        write_heartbeat(client, time.time())  # a running worker is alive: its heartbeat is there
        write_status(
            client,
            {**saved, "status": "running", "phase": "ports", "progress": {"done": 3, "total": 5}},
        )
        page.wait_for_selector("#worker-phase", state="visible")
        assert "3/5" in page.inner_text("#worker-phase")
    finally:
        client.set(KEY_LAST_UPDATE, repr(float(saved["last_update"])))
        write_status(client, saved)
    page.wait_for_selector("#stale-banner", state="hidden")
    assert page.problems == []


def wait_polls(page: Any, polls: list[str], more: int) -> None:
    """Until the page has polled /api/status `more` times again: an observable state, not a
    sleep that a slow machine outruns."""
    target = len(polls) + more
    deadline = time.monotonic() + 15
    while len(polls) < target:
        assert time.monotonic() < deadline, f"{len(polls)} status polls, waited for {target}"
        page.wait_for_timeout(50)


def test_picks_up_a_new_refresh_without_reloading(page, org):
    fetches: list[int] = []
    polls: list[str] = []
    page.on(
        "response",
        lambda r: fetches.append(r.status) if r.url.endswith("/api/gateways/rows") else None,
    )
    page.on("response", lambda r: polls.append(r.url) if "/api/status" in r.url else None)
    load(page, org)
    page.evaluate("window.__sameDocument = true")
    # The first status poll confirms the data with one conditional request (a 304).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(fetches) < 2:
        page.wait_for_timeout(100)
    settled = list(fetches)
    assert settled == [200, 304]
    wait_polls(page, polls, 3)  # three polls with nothing new: no request for the org at all
    assert fetches == settled
    before = org.api("/api/status")["last_update"]
    org.sim.advance(300)
    org.refresh()
    assert org.api("/api/status")["last_update"] != before
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and fetches.count(200) < 2:
        page.wait_for_timeout(100)
    assert fetches.count(200) == 2, fetches
    assert page.evaluate("window.__sameDocument") is True, "no page reload"
    assert page.inner_text("#sum-age") in ("just now",) or "s ago" in page.inner_text("#sum-age")
    assert page.problems == []


def test_status_json_is_what_the_page_reads(org):
    status = org.api("/api/status")
    assert {"status", "last_update", "age", "stale", "interval"} <= set(status)
    assert TOKEN not in json.dumps(status)


# ------------------------------------------------------------------ the server decides


def test_the_stale_banner_shows_exactly_what_the_status_says(page, org):
    """No interval maths in the page: stale with a small age warns, fresh with a huge age not."""
    status = {**org.api("/api/status"), "status": "idle", "rate_limited": False}
    answer = {**status, "stale": True, "age": 5}

    polls: list[str] = []

    def handle(route: Any) -> None:
        polls.append(route.request.url)
        route.fulfill(status=200, json=answer, headers={"Cache-Control": "no-store"})

    page.route("**/api/status", handle)
    load(page, org)
    page.wait_for_selector("#stale-banner", state="visible")
    assert "stale" in page.inner_text("#stale-banner")
    assert "warn" in (page.get_attribute("#sum-age", "class") or "")
    answer = {**status, "stale": False, "age": 30 * 86400, "interval": 60}
    page.wait_for_selector("#stale-banner", state="hidden")
    wait_polls(page, polls, 2)  # two more polls and a second of ticking age: still not stale
    assert page.locator("#stale-banner").is_hidden()
    assert "warn" not in (page.get_attribute("#sum-age", "class") or "")
    assert page.problems == []


def latency_class(page: Any, org: Org, thresholds: dict[str, Any]) -> str:
    """The colour class of a port's latency when the rows document carries `thresholds`."""
    page.unroute("**/api/gateways/rows")
    serve_rows(page, lambda document: document.update(thresholds=thresholds))
    load(page, org)
    gateway = next(
        g
        for g in org.api("/api/gateways")["gateways"]
        if any(p["latency"] is not None for p in g["ports"])
    )
    expand(page, gateway)
    port = next(p for p in gateway["ports"] if p["latency"] is not None)
    card = page.locator(f'.port-card[data-port="{port["port_id"]}"]')
    return str(card.locator(".port-metrics .metric").first.get_attribute("class"))


def test_metric_colours_follow_the_thresholds_the_server_sends(page, org):
    served = org.api("/api/gateways/rows")["thresholds"]
    assert latency_class(page, org, {**served, "latency": [0, 0, 0]}) == "metric metric-bad"
    huge = [10**6, 2 * 10**6, 3 * 10**6]
    assert latency_class(page, org, {**served, "latency": huge}) == "metric metric-good"
    without = {name: bands for name, bands in served.items() if name != "latency"}
    assert latency_class(page, org, without) == "metric", "no thresholds of its own"
    assert page.problems == []


def test_the_page_csv_follows_the_servers_columns_and_rule(page, org):
    server_csv = org.api("/api/gateways/rows")["csv"]
    load(page, org)
    missing = page.evaluate(
        """async (spec) => (await import('/static/js/csv.js')).missingGetters(spec)""",
        server_csv,
    )
    assert missing == [], "every server column has a getter"
    changed = {"columns": ["port", "gateway_id", "isp"], "formula_starts": "g"}
    serve_rows(page, lambda document: document.update(csv=changed))
    load(page, org)
    with page.expect_download() as download_info:
        page.click("#export-filtered")
    raw = Path(download_info.value.path()).read_bytes()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == changed["columns"]
    ports = [row[0] for row in rows[1:] if row[0]]
    assert any(port.startswith("'ge-") for port in ports), "the server's rule, not a copy"
    assert all(not port.startswith("g") for port in ports)
    assert all(not row[1].startswith("'") for row in rows[1:]), "ids start with 0"
    assert page.problems == []
