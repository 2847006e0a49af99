"""What is broken, where, since when (issue 18): what a NOC engineer sees on an iPad, landscape
(1180×820) and portrait (820×1180), in real Chromium on the edge-case org the worker read from
mistsim. Each test asserts what is on screen, from the server's own documents."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from store.keys import KEY_HEARTBEAT
from tests.fixtures.browser import close_page, open_page
from tests.test_dashboard import Org, expand, load, serve_rows, wait_count

PORTRAIT = {"width": 820, "height": 1180}
OK, FAIR, BAD = "rgb(61, 220, 132)", "rgb(198, 227, 90)", "rgb(255, 77, 94)"

# The contrast of an element's text on what is really behind it (tints composed up the tree).
CONTRAST = """(node) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const layers = [];
  for (let n = node; n; n = n.parentElement) {
    const [r, g, b, a = 1] = parse(getComputedStyle(n).backgroundColor);
    if (a > 0) layers.push([r, g, b, a]);
    if (a >= 1) break;
  }
  let bg = [0, 0, 0];
  for (const [r, g, b, a] of layers.reverse()) {
    bg = [r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a)];
  }
  const lum = ([r, g, b]) => {
    const f = (v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const fg = parse(getComputedStyle(node).color).slice(0, 3);
  const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    shared = Org(tmp_path_factory.mktemp("glance"))
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture(params=[None, PORTRAIT], ids=["landscape", "portrait"])
def ipad(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The page on an iPad held either way."""
    tab = open_page(browser, request.param)
    try:
        yield tab
    finally:
        close_page(tab)


def rows_of(org: Org) -> list[dict[str, Any]]:
    document = org.api("/api/gateways/rows")
    return [dict(zip(document["columns"], row, strict=True)) for row in document["rows"]]


def shown_ids(page: Any) -> list[str]:
    return [
        str(i)
        for i in page.locator("tr.gateway-row").evaluate_all("rs => rs.map(r => r.dataset.id)")
    ]


def open_peer_paths(page: Any, opener: Any) -> None:
    """Tap a Peer paths button until its dialog shows rows: a redraw (the full payload a
    search asked for arriving) may replace the card between press and release, and a person
    would simply tap again."""
    for attempt in range(4):
        if attempt == 1:
            opener.focus()
            page.keyboard.press("Enter")  # the keyboard works as well as a tap
        elif attempt > 1:
            opener.evaluate("button => button.click()")  # found and pressed in one task
        else:
            opener.click()
        try:
            page.wait_for_selector("#peer-rows tr", timeout=3000)
            return
        except PlaywrightTimeoutError:
            if attempt == 3:
                raise


def colour(locator: Any) -> str:
    return str(locator.evaluate("n => getComputedStyle(n).color"))


# ------------------------------------------------------------------ colours that show


def test_bad_fair_and_good_colours_win_over_bootstraps_table_and_carry_a_mark(ipad, org):
    page = ipad
    gateway = next(
        g for g in org.api("/api/gateways")["gateways"] if g["peers_total"] and g["ports"]
    )
    port = next(p for p in gateway["ports"] if p["peers_total"])
    base = {
        **{"port_id": port["port_id"], "peer_router_name": "dc1-hub", "type": "ipsec"},
        **{"up": True, "is_active": True, "uptime": 3600, "mtu": 1400},
        **{"latency": 20.0, "jitter": 1.0, "mos": 4.4},
    }
    paths = [
        {**base, "peer_port_id": f"ge-0/0/{n}", "loss": loss}
        for n, loss in enumerate((0.0, 0.2, 1.5))
    ]
    page.route(
        "**/vpn-peers",
        lambda route: route.fulfill(status=200, json=paths, headers={"Cache-Control": "no-store"}),
    )
    load(page, org)
    expand(page, gateway)
    open_peer_paths(
        page, page.locator(f'.port-card[data-port="{port["port_id"]}"] [data-action=peer-paths]')
    )
    loss = page.locator("#peer-rows tr td:nth-child(8)")
    assert [colour(loss.nth(n)) for n in range(3)] == [OK, FAIR, BAD]
    bad = loss.nth(2)
    assert bad.locator("svg").count() == 1, "a mark besides the colour"
    assert "(bad)" in bad.text_content()
    assert loss.nth(0).locator("svg").count() == 0
    page.keyboard.press("Escape")
    # The main table: a WAN-port count with a port down is red and marked, an offline badge
    # reads at AA contrast (a fresh page: every gateway, no search kept in the URL).
    load(page, org)
    wait_count(page, f"{len(rows_of(org))} gateways")
    count = page.locator("tr.gateway-row td.col-ports .count-bad").first
    assert colour(count) == BAD
    assert count.locator("svg").count() == 1 and "(some down)" in count.text_content()
    offline = page.locator("tr.gateway-row .status-down").first
    if offline.is_visible():  # portrait drops the status column: the problem words say it
        assert offline.evaluate(CONTRAST) >= 4.5
        assert offline.locator("svg").count() == 1
    problem = page.locator("tr.gateway-row.offline .problem-text").first
    assert problem.evaluate(CONTRAST) >= 4.5
    assert page.problems == []


# ------------------------------------------------------------------ the worst first


def test_worst_first_by_the_servers_severity_with_the_problem_in_words(ipad, org):
    page = ipad
    rows = rows_of(org)
    load(page, org)
    assert page.get_attribute("th[data-sort=severity]", "aria-sort") == "descending"
    shown = shown_ids(page)
    by_id = {row["id"]: row for row in rows}
    ranks = [by_id[i]["severity"] for i in shown]
    assert ranks == sorted(ranks, reverse=True)
    assert ranks[0] == max(row["severity"] for row in rows)
    first = by_id[shown[0]]
    assert first["status"] != "connected", "the edge-case org has offline gateways: they lead"
    cell = page.locator("tr.gateway-row").first.locator(".problem-text")
    assert cell.text_content() == first["problem_text"]
    assert re.fullmatch(r"offline( \d+ (d|h|min|s)( \d+ (h|min))?)?", first["problem_text"])
    healthy = next(i for i in shown if not by_id[i]["problem_text"])
    assert page.locator(f'tr.gateway-row[data-id="{healthy}"] .col-problem').text_content() == "—"
    # sortable by the worst path, worst first
    if page.locator("th[data-sort=worst]").is_visible():
        page.click("th[data-sort=worst] button")
        scores = [by_id[i]["worst"] for i in shown_ids(page)]
        known = [s for s in scores if s is not None]
        assert known == sorted(known, reverse=True) and known[0] == max(
            r["worst"] for r in rows if r["worst"] is not None
        )
        worst_row = next(r for r in rows if r["worst"] == known[0])
        assert (
            page.locator("tr.gateway-row .col-worst").first.text_content().strip()
            == worst_row["worst_text"]
        )
    assert page.problems == []


def test_summary_cards_are_filters_that_survive_a_reload(ipad, org):
    page = ipad
    rows = rows_of(org)
    load(page, org)
    offline = [r["id"] for r in rows if r["status"] != "connected"]
    page.click(".card-filter[data-filter=offline]")
    wait_count(page, f"{len(offline)} of {len(rows)}")
    assert sorted(shown_ids(page)) == sorted(offline)
    assert page.get_attribute(".card-filter[data-filter=offline]", "aria-pressed") == "true"
    assert "show=offline" in page.url
    page.reload()
    page.wait_for_selector("body[data-loaded=true]")
    wait_count(page, f"{len(offline)} of {len(rows)}")
    assert page.inner_text("#card-filter-text") == "Showing: Offline gateways"
    page.click(".card-filter[data-filter=degraded]")
    degraded = sorted(r["id"] for r in rows if r["degraded"])
    wait_count(page, f"{len(degraded)} of")
    assert sorted(shown_ids(page)) == degraded
    page.click("#card-filter-clear")
    wait_count(page, f"{len(rows)} gateways")
    assert "show=" not in page.url
    assert page.problems == []


# ------------------------------------------------------------------ since when


def test_down_for_on_down_rows_and_down_port_cards_sortable(ipad, org):
    page = ipad
    rows = rows_of(org)
    gateways = {g["id"]: g for g in org.api("/api/gateways")["gateways"]}
    load(page, org)
    offline = next(r for r in rows if r["status"] != "connected" and r["since"])
    cell = page.locator(f'tr.gateway-row[data-id="{offline["id"]}"] .col-since time')
    assert re.fullmatch(r"\d+ (d|h|min|s)( \d+ (h|min))?", cell.text_content())
    assert (
        page.locator(f'tr.gateway-row[data-id="{offline["id"]}"] .col-uptime').text_content() == "—"
    )
    page.click("th[data-sort=since] button")
    assert page.get_attribute("th[data-sort=since]", "aria-sort") == "descending"
    order = [r for i in shown_ids(page) for r in rows if r["id"] == i]
    dated = [r["since"] for r in order if r["since"]]
    assert dated == sorted(dated), "down longest first"
    assert order[0]["since"] == min(r["since"] for r in rows if r["since"])
    # a port that is down says since when on its card
    down = next(
        (g, p)
        for g in gateways.values()
        for p in g["ports"]
        if p["down"] and p["down_since"] and g["status"] == "connected"
    )
    expand(page, down[0])
    card = page.locator(f'.port-card[data-port="{down[1]["port_id"]}"]')
    facts = card.locator(".port-facts").inner_text()
    assert re.search(r"Down for\s+\d+ (d|h|min|s)", facts)
    assert "Enabled" not in facts, "no rows without information"
    assert page.problems == []


def test_port_cards_show_the_worst_path_labelled_and_why_degraded(page, org):
    gateways = org.api("/api/gateways")["gateways"]
    gateway, port = next(
        (g, p) for g in gateways for p in g["ports"] if p["degraded"] and p["worst"]
    )
    load(page, org)
    expand(page, gateway)
    card = page.locator(f'.port-card[data-port="{port["port_id"]}"]')
    worst = port["worst"]
    facts = card.locator(".port-facts").inner_text()
    assert f"to {worst['peer']}" in facts
    for label in ("Latency", "Jitter", "Loss", "MOS"):
        assert label in facts
    assert f"{worst['loss']:.2f} %" in facts and f"{worst['latency']:.1f} ms" in facts
    words = {"loss": "loss", "latency": "latency", "jitter": "jitter", "mos": "MOS"}
    assert (
        card.locator(".badge-degraded")
        .inner_text()
        .strip()
        .startswith(f"degraded: {words[worst['metric']]}")
    )
    assert card.locator(".metric-label.deciding").inner_text().strip().lower() == (
        worst["metric"] if worst["metric"] != "mos" else "mos"
    )
    assert page.problems == []


# ------------------------------------------------------------------ never lose the context


def test_sticky_header_age_pill_and_the_view_in_the_url(ipad, org):
    page = ipad
    rows = rows_of(org)
    load(page, org)
    assert page.locator("#age-pill").is_visible()
    assert page.inner_text("#age-pill").startswith("data ")
    page.mouse.wheel(0, 1500)
    page.wait_for_timeout(300)
    bar = page.locator(".app-header").bounding_box()
    header = page.locator("th[data-sort=name]").bounding_box()
    assert bar and header
    assert abs(header["y"] - (bar["y"] + bar["height"])) <= 2, "the column header sticks"
    assert page.locator("#age-pill").is_visible()
    # filters, sort, page size, page and the open gateway come back after a reload
    page.check("#problems-only")
    page.click("th[data-sort=name] button")
    page.select_option("#page-size", "25")
    problems = [r for r in rows if r["problem"]]
    wait_count(page, f"{len(problems)} of")
    first = shown_ids(page)[0]
    page.locator(f'button[data-gateway="{first}"]').click()
    page.wait_for_selector(".port-card, .ports-row p")
    url = page.url
    assert "problems=1" in url and "sort=name%3Aasc" in url and "size=25" in url
    assert f"open={first}" in url
    page.reload()
    page.wait_for_selector("body[data-loaded=true]")
    wait_count(page, f"{len(problems)} of")
    assert page.is_checked("#problems-only")
    assert page.get_attribute("th[data-sort=name]", "aria-sort") == "ascending"
    assert page.input_value("#page-size") == "25"
    assert page.get_attribute(f'button[data-gateway="{first}"]', "aria-expanded") == "true"
    assert page.problems == []


def test_changing_page_scrolls_to_the_table_top(ipad, org):
    page = ipad
    total = len(rows_of(org))
    # The app bar's height must hold still while the test measures under it: no worker beats
    # here, so its heartbeat expiring mid-test would add the "not responding" pill (and, in
    # portrait, a second line to the bar). Gone from the start, the pill is there throughout.
    org.redis.client().delete(KEY_HEARTBEAT)
    load(page, org)
    page.wait_for_selector("#worker-pill:not([hidden])")
    page.select_option("#page-size", "25")
    assert total > 25
    page.locator("#page-next").scroll_into_view_if_needed()
    page.click("#page-next")
    page.wait_for_function("() => document.getElementById('page-info').textContent[0] === '2'")
    assert "page=2" in page.url
    # back to a full page from the pager at the bottom: the table's top comes back into view
    page.locator("#page-prev").scroll_into_view_if_needed()
    page.click("#page-prev")
    page.wait_for_function("() => document.getElementById('page-info').textContent.startsWith('1')")
    page.wait_for_timeout(300)
    bar = page.locator(".app-header").bounding_box()
    table = page.locator(".table-wrap").bounding_box()
    assert bar and table
    assert 0 <= table["y"] - (bar["y"] + bar["height"]) <= 24, "the table's top, under the bar"
    assert page.evaluate("window.scrollY") > 0
    assert "page=" not in page.url
    assert page.problems == []


# ------------------------------------------------------------------ density and portrait


def test_dense_rows_and_nothing_sideways_in_portrait(ipad, org):
    page = ipad
    gateways = org.api("/api/gateways")["gateways"]
    load(page, org)
    width = page.viewport_size["width"]
    heights = page.locator("tr.gateway-row").evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    assert max(heights) <= 56, f"rows of about 48 px, not {max(heights)}"
    names = page.locator("tr.gateway-row .gateway-name").evaluate_all(
        "ns => ns.map(n => [getComputedStyle(n).whiteSpace, getComputedStyle(n).textOverflow])"
    )
    assert set(map(tuple, names)) == {("nowrap", "ellipsis")}
    assert page.locator("tr.gateway-row .gateway-site").count() == len(heights)
    # an expanded gateway with two or more ports: every card and its Traffic button in view
    gateway = next(g for g in gateways if len(g["ports"]) >= 2 and g["peers_total"])
    expand(page, gateway)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for button in page.locator(".port-card [data-action=traffic]").all():
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    # the peer dialog shows MOS, MTU and uptime without scrolling sideways
    open_peer_paths(page, page.locator(".port-card [data-action=peer-paths]:not([disabled])").first)
    dialog = page.locator("#peer-dialog").bounding_box()
    last = page.locator("#peer-dialog thead th").last.bounding_box()
    # (within a pixel: a column's sub-pixel edge, 800.4 of 800, is not a sideways scroll)
    assert dialog and last and last["x"] + last["width"] <= dialog["x"] + dialog["width"] + 1
    close = page.locator("#peer-dialog .dialog-close").bounding_box()
    assert close and close["y"] >= 0
    assert page.problems == []


def test_smaller_items_spaces_counts_and_idle_buttons(page, org):
    rows = rows_of(org)
    load(page, org)
    assert page.locator("#summary .pair").first.text_content().split() == [
        page.inner_text("#sum-gateways-online"),
        "online",
    ]
    assert "WAN ports in all on them" in page.inner_text("#row-count")
    page.fill("#search", "no-such-gateway-anywhere")
    wait_count(page, f"0 of {len(rows)}")
    assert page.is_disabled("#export-filtered")
    assert page.is_disabled("#page-prev") and page.is_disabled("#page-next")
    assert page.problems == []


def test_rows_document_without_problem_words_shows_a_dash(page, org):
    """The page computes no problem words of its own: none sent, none shown."""
    serve_rows(
        page,
        lambda document: document.update(
            rows=[[*row[:-4], "", row[-3], row[-2], ""] for row in document["rows"]]
        ),
    )
    load(page, org)
    texts = page.locator("tr.gateway-row .col-problem").all_inner_texts()
    assert texts and {t.strip() for t in texts} == {"—"}
    assert page.problems == []


def test_template_variables_never_show_raw(page, org):
    """Until the server knows a port's variables it says "not resolved yet", never "{{…}}"."""
    load(page, org)
    gateway = next(g for g in org.api("/api/gateways")["gateways"] if g["ports"])
    port = gateway["ports"][0]
    unresolved = {**port, "description": None, "gateway_ip": None, "wan_name": None,
                  "unresolved": ["wan_name", "description", "gateway_ip"]}  # fmt: skip
    answer = {**gateway, "ports": [unresolved, *gateway["ports"][1:]]}
    page.route(
        f"**/api/gateway/{gateway['id']}",
        lambda route: route.fulfill(status=200, json=answer, headers={"Cache-Control": "no-store"}),
    )
    page.route(
        "**/api/gateways",
        lambda route: route.fulfill(
            status=200,
            json={**org.api("/api/gateways"), "gateways": [answer]},
            headers={"Cache-Control": "no-store"},
        ),
    )
    expand(page, gateway)
    card = page.locator(f'.port-card[data-port="{port["port_id"]}"]')
    text = card.inner_text()
    assert "{{" not in page.inner_text("main")
    assert "WAN name not resolved yet" in text
    assert re.search(r"Description\s+not resolved yet", text)
    assert re.search(r"Gateway IP\s+not resolved yet", text)
    assert page.problems == []


def test_timestamps_name_their_time_zone_with_a_browser_or_utc_switch(browser, org):
    page = open_page(browser, timezone_id="America/New_York", locale="en-US")
    try:
        load(page, org)
        page.wait_for_function(
            "() => /updated .+/.test(document.getElementById('sum-updated').textContent)"
        )
        assert re.search(r"\b(EST|EDT)\b", page.inner_text("#sum-updated"))
        assert "America/New_York" in page.inner_text("#time-zone")
        page.select_option("#time-zone", "utc")
        page.wait_for_function(
            "() => /UTC/.test(document.getElementById('sum-updated').textContent)"
        )
        assert "tz=utc" in page.url
        page.reload()
        page.wait_for_selector("body[data-loaded=true]")
        page.wait_for_function(
            "() => /UTC/.test(document.getElementById('sum-updated').textContent)"
        )
        assert page.input_value("#time-zone") == "utc"
        assert page.problems == []
    finally:
        page.context.close()
