"""The site WAN SLE score and the "Worst circuits" view in real Chromium at iPad size, on an
edge-case org the worker read from mistsim (one simulator, redis-server, gunicorn and browser
for the module), and its availability and flaps rankings on an org published by the worker's
own code with hand-made 24 h figures."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import refresh.writer
from sla.accumulator import port_key
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sample_data import publish_sample
from tests.fixtures.sim_stack import SimStack
from tests.fixtures.web_server import WebServer, start_web_server
from views.worst import PortFigures, WorstCircuits

TOKEN = "tok-worst-test"


class Org(SimStack):
    """An org of 30 gateways (mistsim's edge cases among them), refreshed once."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, TOKEN, "--gateways", "30", "--sites", "8", "--edge-cases")
        self.refresh()
        self.serve()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    shared = Org(tmp_path_factory.mktemp("worst"))
    try:
        yield shared
    finally:
        shared.close()


def percent(value: float) -> str:
    """Per cent with one decimal, cut as the page cuts it (never up to a line)."""
    return f"{math.floor(value * 1000 + 1e-9) / 10:.1f}"


def ranked_ids(document: dict, measure: str) -> list[list[str]]:
    columns = document["columns"]
    g, p = columns.index("gateway_id"), columns.index("port")
    return [[document["rows"][i][g], document["rows"][i][p]] for i in document["rankings"][measure]]


def _names(document: dict, measure: str) -> list[list[str]]:
    columns = document["columns"]
    g = columns.index("gateway")
    return [[document["rows"][i][g]] for i in document["rankings"][measure]]


def shown(page: Any) -> list[list[str]]:
    return page.locator("#worst-rows tr").evaluate_all(
        "rows => rows.map((r) => [r.dataset.gateway, r.dataset.port])"
    )


def test_the_site_score_shows_in_the_table_and_the_site_filter(page, org):
    page.goto(org.server.url + "/")
    page.wait_for_selector("body[data-loaded=true]")
    sites = {site["id"]: site for site in org.api("/api/sites")}
    rows = org.api("/api/gateways/rows")
    columns = rows["columns"]
    first = dict(zip(columns, rows["rows"][0], strict=True))
    site_id = rows["sites"][first["site"]][0]
    sle = sites[site_id]["sle"]
    assert sle is not None and sle["grade"] in ("good", "fair", "poor")
    score = page.locator(f'tr.gateway-row[data-id="{first["id"]}"] .site-sle')
    assert score.get_attribute("data-grade") == sle["grade"]
    for name in ("gateway-health", "wan-link-health", "application-health"):
        value = score.locator(f'.sle-value[data-sle="{name}"]')
        expected = "–" if sle[name] is None else percent(sle[name])
        assert value.inner_text() == expected
        grade = sle["grades"][name] or "none"
        assert f"sle-{grade}" in (value.get_attribute("class") or "")
    assert "Gateway health" in (score.get_attribute("title") or "")
    # on the site's own line, beside the site's name: rows stay one name line and one site line
    line = page.locator(f'tr.gateway-row[data-id="{first["id"]}"] .site-line')
    assert line.locator(".gateway-site").count() == 1 and line.locator(".site-sle").count() == 1
    option = page.locator(f'#site-filter option[value="{site_id}"]')
    option.wait_for(state="attached")
    assert f"SLE {sle['grade']}" in option.inner_text()
    assert option.get_attribute("data-sle") == sle["grade"]
    assert page.problems == []


def test_the_worst_view_lists_sorts_and_opens_a_gateway(page, org):
    document = org.api("/api/worst")
    page.goto(org.server.url + "/")
    page.wait_for_selector("body[data-loaded=true]")
    page.click("#view-worst")
    page.wait_for_selector("#worst-rows tr")
    assert page.locator("#gateway-table").is_hidden() and page.url.endswith("#worst")
    assert shown(page) == ranked_ids(document, "score")
    assert "worst" in page.inner_text("#worst-caption")
    # a measure's column header shows its own worst N, worst first; again: the other way round
    page.click("#worst-head-row th[data-sort=latency] button")
    assert shown(page) == ranked_ids(document, "latency")
    assert page.get_attribute("#worst-head-row th[data-sort=latency]", "aria-sort") == "descending"
    page.click("#worst-head-row th[data-sort=latency] button")
    assert shown(page) == list(reversed(ranked_ids(document, "latency")))
    page.click("#worst-measures button[data-measure=mos]")
    assert shown(page) == ranked_ids(document, "mos")
    # text columns sort what is shown A→Z
    page.click("#worst-head-row th[data-sort=gateway] button")
    names = page.locator("#worst-rows .worst-open").all_inner_texts()
    in_order = page.evaluate(
        """(names) => {
            const c = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
            return names.every((name, i) => i === 0 || c.compare(names[i - 1], name) <= 0);
        }""",
        names,
    )
    assert in_order and sorted(names) == sorted(row[0] for row in _names(document, "mos"))
    # nothing wider than the iPad
    assert page.evaluate("document.documentElement.scrollWidth") <= 1180
    # a row opens its gateway: the table again, that gateway expanded with its WAN ports
    target = shown(page)[0]
    page.locator("#worst-rows tr").first.click()
    expanded = page.locator(f'tr.gateway-row[data-id="{target[0]}"] .expand-button')
    expanded.wait_for()
    assert expanded.get_attribute("aria-expanded") == "true"
    assert page.locator("#worst-view").is_hidden() and not page.url.endswith("#worst")
    page.wait_for_selector(f'article.port-card[data-gateway="{target[0]}"]')
    assert f"open={target[0]}" in page.url
    assert page.problems == []


def test_the_worst_view_opens_from_its_link(page, org):
    page.goto(org.server.url + "/#worst")
    page.wait_for_selector("#worst-rows tr")
    assert page.get_attribute("#view-worst", "aria-current") == "page"
    assert page.problems == []


class Counted:
    """mistsim's org published by the worker's own build and publish code, its worst circuits
    built with hand-made 24 h figures, as the availability step hands them in: one port flapped
    4 times and was up 97.5 % of the day, one was down a minute (one flap), one flapped twice
    too briefly to lose a second."""

    def __init__(self, directory: Path) -> None:
        self.redis = RedisServer(directory / "redis")
        self.redis.start()
        client = self.redis.client()
        now = time.time()
        first = publish_sample(client, 12, now=now, histories=False)
        ports = [
            [record["id"], item["port_id"]]
            for record in first.gateways
            if record.get("status") == "connected"
            for item in record.get("ports") or ()
            if item.get("enabled") is not False
        ]
        self.flapping, self.brief, self.quick = ports[3], ports[0], ports[5]
        figures: dict[str, PortFigures] = {
            port_key(*self.flapping): (97.5, 4),
            port_key(*self.brief): (99.95, 1),
            port_key(*self.quick): (100.0, 2),
        }
        with pytest.MonkeyPatch.context() as patch:  # the same org again, now counted
            patch.setattr(
                refresh.writer,
                "WorstCircuits",
                lambda sites, *_args, **_kwargs: WorstCircuits(sites, availability=figures),
            )
            publish_sample(client, 12, now=now, histories=False)
        self.server: WebServer = start_web_server(
            self.redis.url, directory / "web", STATUS_POLL_MS=500
        )

    def close(self) -> None:
        self.server.stop()
        self.redis.stop()


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Counted]:
    shared = Counted(tmp_path_factory.mktemp("worst-availability"))
    try:
        yield shared
    finally:
        shared.close()


def cells(page: Any, measure: str) -> list[str]:
    return page.locator(f"#worst-rows td.col-{measure}").all_inner_texts()


def test_the_worst_view_ranks_by_availability_and_flaps(page, counted):
    document = counted.server.get("/api/worst").json()
    assert document["measures"][-2:] == ["availability", "flaps"]
    # by hand: the port that flapped most and was up least is first in both
    assert ranked_ids(document, "availability") == [counted.flapping, counted.brief]
    assert ranked_ids(document, "flaps") == [counted.flapping, counted.quick, counted.brief]
    page.goto(counted.server.url + "/#worst")
    page.wait_for_selector("#worst-rows tr")
    for measure, label in (("availability", "Availability 24 h"), ("flaps", "Flaps 24 h")):
        assert page.inner_text(f"#worst-head-row th[data-sort={measure}]").strip() == label
        assert page.inner_text(f"#worst-measures button[data-measure={measure}]") == label
    assert set(cells(page, "availability")) <= {"100 %", "97.50 %", "99.95 %"}
    page.click("#worst-measures button[data-measure=availability]")
    assert shown(page) == [counted.flapping, counted.brief]
    assert cells(page, "availability") == ["97.50 %", "99.95 %"]
    assert cells(page, "flaps") == ["4", "1"]
    first = page.locator("#worst-rows td.col-availability").first
    assert "metric-bad" in (first.get_attribute("class") or "")  # under 99 %: poor
    assert "availability over the last 24 h" in page.inner_text("#worst-caption")
    page.click("#worst-head-row th[data-sort=flaps] button")
    assert shown(page) == [counted.flapping, counted.quick, counted.brief]
    assert cells(page, "flaps") == ["4", "2", "1"]
    assert page.get_attribute("#worst-head-row th[data-sort=flaps]", "aria-sort") == "descending"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1180
    page.locator("#worst-rows tr").first.click()  # opens the flapping port's gateway
    page.wait_for_selector(f'article.port-card[data-gateway="{counted.flapping[0]}"]')
    assert page.problems == []
