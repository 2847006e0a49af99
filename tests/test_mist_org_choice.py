"""mist.org_choice: the org comes from /self, through an MSP's org listing when the token is
an MSP's, or must be chosen with MIST_ORG_ID."""

from __future__ import annotations

import pytest

from mist.errors import ORG_CHOICES_LISTED, OrgChoiceError
from mist.org_choice import only_org, privileged
from tests.fixtures.mist_connect import connect

MSP_ORGS = "GET /api/v1/msps/{msp_id}/orgs"


def test_org_is_detected_from_self_or_must_be_chosen(mistsim_factory):
    sim = mistsim_factory()
    assert connect(sim).detect_org(None) == sim.org_id
    several = mistsim_factory(orgs=3)
    with pytest.raises(OrgChoiceError) as caught:
        connect(several).detect_org(None)
    assert several.org_id in str(caught.value) and len(caught.value.orgs) == 3
    assert connect(several).detect_org(several.org_id) == several.org_id


def test_an_msp_token_with_one_org_finds_it_through_the_msp(mistsim_factory):
    sim = mistsim_factory(msp_tokens=["msp-token"])
    connection = connect(sim, tokens=["msp-token"])
    assert connection.detect_org(None) == sim.org_id
    assert sim.calls()["by_endpoint"] == {"GET /api/v1/self": 1, MSP_ORGS: 1}
    assert connection.calls_this_refresh == 2  # counted like every other call
    assert connection.token_status()[0]["calls_this_hour"] == 2
    assert len(connection.sites(sim.org_id).items) == 10  # and the MSP token reads the org


def test_an_msp_token_with_two_orgs_must_choose_naming_both(mistsim_factory):
    sim = mistsim_factory(orgs=2, msp_tokens=["msp-token"])
    with pytest.raises(OrgChoiceError) as caught:
        connect(sim, tokens=["msp-token"]).detect_org(None)
    org_ids = sim.org_summary()["org_ids"]
    assert list(caught.value.orgs) == org_ids
    message = str(caught.value)
    assert "MIST_ORG_ID" in message
    assert f"{org_ids[0]} (Example Retail Co)" in message and f"{org_ids[1]} (" in message


def test_the_msp_org_listing_is_paged_across_a_page_boundary(mistsim_factory):
    sim = mistsim_factory(orgs=1001, msp_tokens=["msp-token"])
    connection = connect(sim, tokens=["msp-token"])
    with pytest.raises(OrgChoiceError) as caught:
        connection.detect_org(None)
    assert list(caught.value.orgs) == sim.org_summary()["org_ids"]  # all, once, in order
    assert sim.calls()["by_endpoint"][MSP_ORGS] == 2  # 1,000 + 1 at limit=1000
    assert connection.calls_this_refresh == 3
    message = str(caught.value)  # one readable line, not 1,001 orgs
    assert message.count(" (Other Org ") == ORG_CHOICES_LISTED - 1
    assert message.endswith(f"and {1001 - ORG_CHOICES_LISTED} more")


def test_a_refused_msp_listing_names_the_msp_instead_of_crashing(mistsim_factory):
    sim = mistsim_factory(msp_tokens=["msp-token"])
    sim.set_faults(forbidden=True, paths="^/api/v1/msps/")  # a restricted MSP admin
    with pytest.raises(OrgChoiceError) as caught:
        connect(sim, tokens=["msp-token"]).detect_org(None)
    message = str(caught.value)
    assert f"MSP {sim.msp_id} (Example MSP, HTTP 403)" in message
    assert "no org privilege" in message and message.endswith("set MIST_ORG_ID")
    assert sim.calls()["by_endpoint"][MSP_ORGS] == 1  # a 403 is an answer, not retried


def test_privileges_name_orgs_by_their_org_scope_and_msps_apart():
    orgs_seen, msps = privileged(
        [
            {"scope": "site", "org_id": "o1", "org_name": "From Site", "name": "A Site"},
            {"scope": "org", "org_id": "o1", "name": "Org One"},
            {"scope": "site", "org_id": "o2", "name": "Only A Site"},
            {"scope": "msp", "msp_id": "m1", "msp_name": "The MSP"},
            "not a privilege",
        ]
    )
    assert orgs_seen == {"o1": "Org One", "o2": ""}
    assert msps == {"m1": "The MSP"}


def test_one_org_despite_a_refused_msp_is_read():
    assert only_org({"o1": "Org One"}, ["MSP m1 (The MSP, HTTP 403)"]) == "o1"
    with pytest.raises(OrgChoiceError, match=r"several orgs \(Mist would not list the orgs"):
        only_org({"o1": "", "o2": ""}, ["MSP m1 (The MSP, HTTP 404)"])
