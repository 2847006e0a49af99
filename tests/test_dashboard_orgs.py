"""The MSP overview in real Chromium at iPad size (static/js/overview.js): several orgs land
on one row per org, worst first; a row opens that org's dashboard with ?org= on every
request; the header switches orgs; deep links survive a reload; one org is today's page.

One redis-server and one gunicorn for the module. The overview is written as the worker
writes it (tests/fixtures/orgs_data.py); the org's dashboard shows a sample org's snapshot
(this web serves it whatever `org` says: per-org data is the worker's), so the test asserts
that each request names the org, not what the answer holds.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from store.keys import DATASET_KEYS, GZ_SUFFIX, Dataset, last_good_key
from tests.fixtures.browser import open_page
from tests.fixtures.orgs_data import HOSTILE_NAME, OVERVIEW_ETAGS, publish_overview, sample_orgs
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sample_data import publish_sample
from tests.fixtures.web_server import WebServer, start_web_server
from views.orgs import CSV_COLUMNS

IPAD_PORTRAIT = {"width": 820, "height": 1180}


class Msp:
    """A redis-server and a web app shared by the module's tests."""

    def __init__(self, directory: Path) -> None:
        self.redis = RedisServer(directory / "redis")
        self.redis.start()
        self.client = self.redis.client()
        self.server: WebServer = start_web_server(
            self.redis.url, directory / "web", STATUS_POLL_MS=500
        )

    def publish(self, orgs: int) -> dict[str, Any]:
        """The overview of the first `orgs` sample orgs (none: no overview), then a sample
        org's snapshot for the dashboard."""
        if orgs:
            document = publish_overview(self.client, sample_orgs(time.time())[:orgs])
        else:
            document = {}
            self.forget_overview()
        publish_sample(self.client, 12, histories=False)
        return document

    def forget_overview(self) -> None:
        for dataset in (Dataset.ORGS, Dataset.ORGS_CSV):
            key = DATASET_KEYS[dataset]
            for live in (key, key + GZ_SUFFIX):
                self.client.delete(live, last_good_key(live))
            self.client.hdel(OVERVIEW_ETAGS, dataset.value)
            self.client.hdel(last_good_key(OVERVIEW_ETAGS), dataset.value)

    def close(self) -> None:
        self.server.stop()
        self.redis.stop()


@pytest.fixture(scope="module")
def msp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Msp]:
    shared = Msp(tmp_path_factory.mktemp("msp"))
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture
def several(msp: Msp) -> dict[str, Any]:
    """Six orgs of every state: the overview document the page is given."""
    return msp.publish(6)


def api_requests(page: Any, shown: str = "") -> list[str]:
    """Every /api/ URL the page asks for from now on (while its own URL holds `shown`: the
    requests of the document a navigation brought, none of the one it left)."""
    urls: list[str] = []

    def record(request: Any) -> None:
        if "/api/" in request.url and shown in page.url:
            urls.append(request.url)

    page.on("request", record)
    return urls


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def shown_names(page: Any) -> list[str]:
    return [str(name) for name in page.locator("tr.org-row .org-link").all_inner_texts()]


def wait_names(page: Any, names: list[str]) -> None:
    """Until the overview shows exactly these orgs (the search redraws after a pause)."""
    page.wait_for_function(
        """(names) => JSON.stringify([...document.querySelectorAll('tr.org-row .org-link')]
            .map((a) => a.textContent)) === JSON.stringify(names)""",
        arg=names,
    )


def open_overview(page: Any, msp: Msp, path: str = "/") -> None:
    page.goto(msp.server.url + path)
    page.wait_for_selector("body[data-orgs-loaded=true]")


def test_the_overview_lists_every_org_worst_first_with_the_servers_words(page, msp, several):
    requests = api_requests(page)
    open_overview(page, msp)
    rows = several["orgs"]
    assert shown_names(page) == [row["name"] for row in rows]
    assert shown_names(page)[0] == "Umbrella Offline" and shown_names(page)[-1] == "Acme Healthy"
    levels = page.eval_on_selector_all("tr.org-row", "rows => rows.map(r => r.className)")
    assert levels == [f"org-row level-{row['level']}" for row in rows]
    first = page.locator("tr.org-row").first
    assert "4 gateways offline · 1 WAN circuit down" in first.inner_text()
    stale = page.locator("tr.org-row", has_text="Contoso Stale")
    assert "HTTP 403 from Mist" in stale.inner_text() and "stale" in stale.inner_text()
    assert page.inner_text("#org-count") == "6 organisations"
    assert "6 organisations" in page.inner_text("#overview-totals")
    # Mist's names are text: the markup shows literally and nothing runs.
    assert HOSTILE_NAME in shown_names(page)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.querySelectorAll('main img').length") == 0
    # The dashboard is not shown and none of an org's data is asked for: only the overview
    # and the deployment's status (its data age and banners).
    assert page.locator("#gateway-table").is_hidden()
    assert page.locator("#summary").is_hidden()
    assert page.locator("#org-select").is_visible()
    page.wait_for_function("() => document.getElementById('age-pill').textContent !== '–'")
    assert {urlsplit(url).path for url in requests} == {"/api/orgs", "/api/status"}
    assert not any("org=" in url for url in requests)
    assert page.problems == []


def test_an_overview_the_worker_stopped_renewing_shows_its_true_age(page, msp, several):
    """Each row's age counts from the document's making by the server's clock, not from
    when the page loaded it."""
    an_hour_ago = time.time() - 3630  # half a minute off any boundary of the words
    publish_overview(msp.client, sample_orgs(an_hour_ago), now=an_hour_ago)
    open_overview(page, msp)
    healthy = page.locator("tr.org-row", has_text="Acme Healthy").locator(".org-age")
    assert healthy.inner_text() == "1 h ago"
    stale = page.locator("tr.org-row", has_text="Contoso Stale").locator(".org-age")
    assert stale.inner_text() == "stale · 1 h 10 min ago"
    assert page.problems == []


def test_search_filters_the_orgs_and_survives_a_reload(page, msp, several):
    open_overview(page, msp)
    page.fill("#org-search", "glob")
    wait_names(page, ["Globex Degraded"])
    assert page.inner_text("#org-count") == "1 of 6 organisations"
    page.wait_for_url("**/?find=glob")
    page.reload()
    page.wait_for_selector("body[data-orgs-loaded=true]")
    assert page.input_value("#org-search") == "glob"
    assert shown_names(page) == ["Globex Degraded"]
    org_id = several["orgs"][0]["org_id"]  # ids are searchable too
    page.fill("#org-search", org_id[:8])
    wait_names(page, [several["orgs"][0]["name"]])
    page.fill("#org-search", "no such org")
    page.wait_for_selector("#org-status", state="visible")
    assert page.problems == []


def test_the_overview_csv_downloads_in_the_overviews_order(page, msp, several):
    open_overview(page, msp)
    with page.expect_download() as download_info:
        page.click("#orgs-csv")
    download = download_info.value
    assert download.suggested_filename.startswith("mist-orgs-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    assert rows[0] == list(CSV_COLUMNS)
    assert [row[1] for row in rows[1:]] == [row["org_id"] for row in several["orgs"]]
    hostile = next(row for row in rows[1:] if "<img" in row[0])
    assert hostile[0] == "'" + HOSTILE_NAME, "a name that is a formula stays text in a sheet"
    assert page.problems == []


def test_a_row_opens_its_orgs_dashboard_and_every_request_names_the_org(page, msp, several):
    open_overview(page, msp)
    chosen = next(row for row in several["orgs"] if row["name"] == "Initech Down")
    requests = api_requests(page, shown=f"org={chosen['org_id']}")
    # A tap anywhere on the row opens it, not only on the name.
    page.locator("tr.org-row", has_text="Initech Down").locator("td.col-gateways").click()
    page.wait_for_url(f"**/?org={chosen['org_id']}")
    page.wait_for_selector("body[data-loaded=true]")
    assert page.locator("#gateway-table").is_visible() and page.locator("#overview").is_hidden()
    page.wait_for_function(
        "(id) => document.getElementById('org-select').value === id", arg=chosen["org_id"]
    )
    page.wait_for_selector("body[data-orgs-loaded=true]")
    assert page.locator("#org-select option:checked").inner_text() == "Initech Down"
    assert page.locator("#org-overview-link").is_visible()
    export = page.get_attribute("#export-all", "href") or ""
    assert query(export)["org"] == [chosen["org_id"]]
    # The dashboard's own views keep the org in the URL, and a detail request names it too.
    gateway = page.locator("tr.gateway-row").first
    gateway.locator("button.expand-button").click()
    page.wait_for_selector(".port-card")
    page.fill("#search", "a")
    page.wait_for_function("() => window.location.search.includes('q=a')")
    assert query(page.url)["org"] == [chosen["org_id"]]
    org_scoped = [url for url in requests if not urlsplit(url).path.startswith("/api/orgs")]
    paths = {urlsplit(url).path for url in org_scoped}
    assert {"/api/gateways/rows", "/api/organization", "/api/gateways"} <= paths
    assert any(path.startswith("/api/gateway/") for path in paths)
    assert all(query(url).get("org") == [chosen["org_id"]] for url in org_scoped), org_scoped
    assert page.problems == []


def test_the_header_switches_orgs_and_a_reload_keeps_the_org(page, msp, several):
    first, second = several["orgs"][1], several["orgs"][3]
    page.goto(f"{msp.server.url}/?org={first['org_id']}")
    page.wait_for_selector("body[data-loaded=true]")
    page.wait_for_selector("body[data-orgs-loaded=true]")
    requests = api_requests(page, shown=f"org={second['org_id']}")
    page.select_option("#org-select", second["org_id"])  # one tap switches
    page.wait_for_url(f"**/?org={second['org_id']}")
    page.wait_for_selector("body[data-loaded=true]")
    page.reload()
    page.wait_for_selector("body[data-loaded=true]")
    page.wait_for_selector("body[data-orgs-loaded=true]")
    assert query(page.url)["org"] == [second["org_id"]]
    assert page.input_value("#org-select") == second["org_id"]
    org_scoped = [url for url in requests if not urlsplit(url).path.startswith("/api/orgs")]
    assert org_scoped and all(query(url).get("org") == [second["org_id"]] for url in org_scoped)
    page.click("#org-overview-link")  # and back to every org
    page.wait_for_selector("body[data-orgs-loaded=true]")
    assert urlsplit(page.url).query == ""
    assert shown_names(page)[0] == several["orgs"][0]["name"]
    assert page.problems == []


@pytest.mark.parametrize("viewport", [None, IPAD_PORTRAIT], ids=["landscape", "portrait"])
def test_the_overview_fits_an_ipad_with_touch_sized_rows(browser, msp, several, viewport):
    tab = open_page(browser, viewport)
    try:
        open_overview(tab, msp)
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= tab.viewport_size["width"], "no sideways scrolling"
        for box in tab.locator("tr.org-row").evaluate_all(
            "rows => rows.map(r => r.getBoundingClientRect().height)"
        ):
            assert box >= 44
        select = tab.locator("#org-select").bounding_box()
        assert select is not None and select["height"] >= 44
        names = tab.locator("tr.org-row .org-link")
        assert names.first.is_visible()
        assert tab.problems == []
    finally:
        tab.context.close()


@pytest.mark.parametrize("orgs", [1, 0], ids=["one org", "no overview"])
def test_one_org_is_todays_page_without_the_overview(page, msp, orgs):
    msp.publish(orgs)
    requests = api_requests(page)
    page.goto(msp.server.url + "/")
    page.wait_for_selector("body[data-loaded=true]")
    assert page.locator("#overview").count() == 0 and page.locator("#org-select").count() == 0
    assert page.get_attribute("html", "data-view") is None
    assert page.locator("#gateway-table").is_visible()
    assert requests and not any("/api/orgs" in url or "org=" in url for url in requests)
    assert page.problems == []
