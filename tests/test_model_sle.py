"""Mist's WAN SLEs per site: one sites-sle result read as Mist sent it, and the one
good / fair / poor rule every view colours them by."""

from __future__ import annotations

from typing import Any

import pytest

from model.sle import SLE_GRADES, attach, grade, site_score, site_sle, sle_state

# The "WAN SLE" example of getOrgSitesSle in the Mist OpenAPI spec 2509.1.1 (MIT; notice in
# tests/data/mist-openapi/LICENSE).
WAN_EXAMPLE = {
    "application_health": 0.8250000047942866,
    "gateway-health": 1,
    "num_clients": 65,
    "num_gateways": 1,
    "site_id": "f5fcbee5-1234-5678-9101-1619ede87879",
    "wan-link-health": 0.9988471089272484,
}


def test_the_spec_example_is_read_with_its_values_unchanged() -> None:
    read = site_sle(WAN_EXAMPLE)
    assert read == {
        "site_id": "f5fcbee5-1234-5678-9101-1619ede87879",
        "gateway-health": 1,
        "wan-link-health": 0.9988471089272484,
        "application-health": 0.8250000047942866,  # Mist's underscore, our hyphen
        "num_gateways": 1,
    }


@pytest.mark.parametrize(
    "item",
    [None, [], "x", {"gateway-health": 1}, {"site_id": ""}, {"site_id": 12}],
)
def test_an_entry_without_a_site_is_dropped(item: object) -> None:
    assert site_sle(item) is None


def test_values_outside_0_to_1_or_not_numbers_are_missing_not_guessed() -> None:
    read = site_sle(
        {
            "site_id": "s",
            "gateway-health": 1.5,
            "wan_link_health": "0.9",
            "application_health": float("nan"),
            "num_gateways": -1,
        }
    )
    assert read == {
        "site_id": "s",
        "gateway-health": None,
        "wan-link-health": None,
        "application-health": None,
        "num_gateways": None,
    }
    read = site_sle({"site_id": "s", "wan_link_health": 0.5})
    assert read is not None and read["wan-link-health"] == 0.5


def test_the_grade_rule_has_two_lines() -> None:
    assert SLE_GRADES == {"good": 0.95, "fair": 0.80}
    assert [grade(v) for v in (1, 0.95, 0.9499, 0.8, 0.7999, 0, None)] == [
        "good", "good", "fair", "fair", "poor", "poor", None,
    ]  # fmt: skip


def test_a_site_s_grade_is_its_worst_sle() -> None:
    score = site_score(
        {"gateway-health": 1, "wan-link-health": 0.9, "application-health": None}, 10, 3610
    )
    assert score == {
        "gateway-health": 1,
        "wan-link-health": 0.9,
        "application-health": None,
        "grades": {"gateway-health": "good", "wan-link-health": "fair", "application-health": None},
        "grade": "fair",
        "start": 10,
        "end": 3610,
    }
    empty = site_score({}, None, None)
    assert empty["grade"] is None


def test_attach_gives_every_site_its_sle_or_none() -> None:
    sites: list[dict[str, Any]] = [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}]
    state = sle_state([site_sle(WAN_EXAMPLE | {"site_id": "a"})], 100, 3700, 4000.0)
    assert state["fetched_at"] == 4000.0 and state["start"] == 100 and state["end"] == 3700
    attach(sites, state)
    assert sites[0]["sle"]["wan-link-health"] == 0.9988471089272484
    assert sites[0]["sle"]["grade"] == "fair"  # application health 0.825
    assert sites[1]["sle"] is None
    attach(sites, None)
    assert sites[0]["sle"] is None
