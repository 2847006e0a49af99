"""The page's availability views in Chromium at iPad size: a flapped WAN port's card shows its
availability and flaps, the ISP view ranks the ISPs as /api/isps does, and the events
timeline lists events newest first, filters them and picks up a new refresh by itself.
Real worker refreshes (`worker.py --once`) of a mistsim org into redis-server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.events import EVENT_TYPES
from tests.fixtures.sim_stack import SimStack
from tests.test_dashboard import expand, load

TOKEN = "tok-sla-test"


class FlappedOrg(SimStack):
    """A mistsim org refreshed three times: one WAN port went down, then up again."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, TOKEN, "--gateways", "12", "--sites", "4")
        self.refresh(advance=60)
        self.gateway = self.quiet_gateway()
        self.port_id = self.gateway["ports"][0]["port_id"]
        self.link("down")
        self.refresh(advance=60)
        self.link("up")
        self.refresh(advance=60)
        self.serve()

    def link(self, state: str) -> None:
        self.sim.admin("POST", "link", json={"mac": self.gateway["mac"], "port_id": self.port_id,
                                             "state": state})  # fmt: skip

    def quiet_gateway(self) -> dict[str, Any]:
        raw = self.redis.client().get("mist:gateways")
        assert isinstance(raw, bytes)
        body = json.loads(raw)
        return next(
            g
            for g in body["gateways"]
            if g["status"] == "connected" and g["ports"] and all(p["up"] for p in g["ports"])
        )


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlappedOrg]:
    shared = FlappedOrg(tmp_path_factory.mktemp("sla"))
    try:
        yield shared
    finally:
        shared.close()


def test_an_expanded_port_shows_its_availability_and_flaps(page, org):
    load(page, org)
    expand(page, org.gateway)
    card = page.locator(f'.port-card[data-port="{org.port_id}"]')
    card.locator(".sla-availability").wait_for()
    windows = card.locator(".sla-flaps .sla-window").all_inner_texts()
    assert [w.split() for w in windows] == [["24", "h", "1"], ["7", "d", "1"], ["30", "d", "1"]]
    part = org.api(f"/api/gateway/{org.gateway['id']}/availability")
    row = next(p for p in part["ports"] if p["port_id"] == org.port_id)
    shown = card.locator(".sla-availability .sla-window-value").all_inner_texts()
    expected = ["100 %" if v >= 100 else f"{v:.2f} %" for v in row["availability"]]
    assert shown == expected
    assert "down" in card.locator(".sla-down").inner_text()
    other = org.gateway["ports"][1]["port_id"] if len(org.gateway["ports"]) > 1 else None
    if other:
        flaps = page.locator(f'.port-card[data-port="{other}"] .sla-flaps .sla-window-value')
        flaps.first.wait_for()
        assert flaps.all_inner_texts() == ["0", "0", "0"]
    assert page.problems == []


def test_the_isp_view_ranks_isps_as_the_server_does(page, org):
    load(page, org)
    page.click('#view-nav [data-view="isps"]')
    page.wait_for_selector("#isp-rows tr")
    assert page.locator("#gateway-table").is_hidden()
    document = org.api("/api/isps")
    names = page.locator("#isp-rows .isp-name > span:first-child").all_inner_texts()
    assert names == [isp["isp"] for isp in document["isps"]]
    ranks = page.locator("#isp-rows .isp-rank").all_inner_texts()
    assert ranks == [str(n) for n in range(1, len(names) + 1)]
    flapped = org.gateway["ports"][0]["isp"]
    row = page.locator("#isp-rows tr", has=page.locator(".isp-name", has_text=flapped)).first
    assert row.locator(".isp-flaps").inner_text() == "1"
    box = page.locator("#view-nav [data-view=isps]").bounding_box()
    assert box is not None and box["height"] >= 44
    assert page.evaluate("location.hash") == "#isps"
    page.click('#view-nav [data-view="gateways"]')
    assert page.locator("#gateway-table").is_visible() and page.locator("#isp-view").is_hidden()
    assert page.problems == []


def event_rows(page: Any) -> list[dict[str, Any]]:
    return page.locator("#timeline-list li").evaluate_all(
        """(items) => items.map((li) => ({type: li.dataset.type, time: Number(li.dataset.time),
            severity: [...li.classList].find((c) => c.startsWith('severity-')).slice(9),
            text: li.textContent}))"""
    )


def test_the_timeline_lists_newest_first_filters_and_follows_refreshes(page, org):
    page.goto(org.server.url + "/#events")
    page.wait_for_selector("#timeline-list li")
    rows = event_rows(page)
    times = [row["time"] for row in rows]
    assert times == sorted(times, reverse=True)
    kinds = {row["type"] for row in rows}
    assert {"port_down", "port_up"} <= kinds
    options = page.locator("#timeline-type option").evaluate_all("(os) => os.map((o) => o.value)")
    assert options[1:] == list(EVENT_TYPES)
    page.select_option("#timeline-type", "port_down")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#timeline-list li')]"
        ".every((li) => li.dataset.type === 'port_down')"
    )
    # (mistsim flaps other ports on its own too: the flipped port is among the downs listed)
    assert any(org.gateway["name"] in row["text"] for row in event_rows(page))
    page.select_option("#timeline-type", "")
    page.select_option("#timeline-severity", "info")
    page.wait_for_function(
        "() => document.querySelectorAll('#timeline-list li').length > 0 && "
        "[...document.querySelectorAll('#timeline-list li')]"
        ".every((li) => li.classList.contains('severity-info'))"
    )
    page.select_option("#timeline-severity", "")
    newest = max(times)
    org.link("down")
    org.refresh()  # a refresh lands: the shown timeline picks it up by itself
    page.wait_for_function(
        "(newest) => Number(document.querySelector('#timeline-list li').dataset.time) > newest",
        arg=newest,
        timeout=15000,
    )
    # the refresh's own events are the newest; mistsim's own flaps may sit beside them
    fresh = [row for row in event_rows(page) if row["time"] > newest]
    downs = {"port_down", "path_down", "gateway_wan_down"}
    assert any(row["type"] in downs and org.gateway["name"] in row["text"] for row in fresh)
    org.link("up")
    org.refresh()
    assert page.problems == []
