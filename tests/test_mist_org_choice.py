"""mist.org_choice and MistConnection.start: every token is checked with its own /self; the org
comes from the privileges that can read org-wide data (org-scoped, or an MSP's org listing),
never from a site-level one, or must be chosen with MIST_ORG_ID."""

from __future__ import annotations

import pytest

from mist.errors import ORG_CHOICES_LISTED, MistError, MistSettingError, OrgChoiceError
from mist.org_choice import Privileges, only_org
from tests.fixtures.mist_connect import connect

SELF = "GET /api/v1/self"
MSP_ORGS = "GET /api/v1/msps/{msp_id}/orgs"


def test_org_is_detected_from_self_or_must_be_chosen(mistsim_factory):
    sim = mistsim_factory()
    assert connect(sim).start(None) == sim.org_id
    several = mistsim_factory(orgs=3)
    with pytest.raises(OrgChoiceError) as caught:
        connect(several).start(None)
    assert several.org_id in str(caught.value) and len(caught.value.orgs) == 3
    assert caught.value.setting == "MIST_ORG_ID"
    assert connect(several).start(several.org_id) == several.org_id
    assert several.calls()["by_endpoint"] == {SELF: 2}  # checked even with the org given


def test_a_site_privilege_in_another_org_listed_first_does_not_hide_the_org(mistsim_factory):
    """The reported defect: /self lists a site of org 2 before the org privilege on org 1."""
    sim = mistsim_factory(orgs=2, user_tokens={"alice": "site:2:admin+org:1"})
    connection = connect(sim, tokens=["alice"])
    assert connection.start(None) == sim.org_id
    assert sim.calls()["by_endpoint"] == {SELF: 1}
    assert len(connection.sites(sim.org_id).items) == 10
    other_org = sim.org_summary()["org_ids"][1]
    with pytest.raises(MistError) as caught:  # the site privilege cannot read org 2 org-wide
        connection.gateway_stats(other_org)
    assert caught.value.status == 403


@pytest.mark.parametrize("role", ["read", "helpdesk", "installer"])
def test_an_org_privilege_of_any_role_chooses_after_site_privileges(mistsim_factory, role):
    sim = mistsim_factory(orgs=3, user_tokens={"olga": f"site:1+site:3+org:1:{role}"})
    assert connect(sim, tokens=["olga"]).start(None) == sim.org_id


def test_site_level_privileges_alone_need_an_org_level_token(mistsim_factory):
    sim = mistsim_factory(orgs=2, user_tokens={"sam": "site:1:admin+site:2"})
    with pytest.raises(MistSettingError) as caught:
        connect(sim, tokens=["sam"]).start(None)
    assert not isinstance(caught.value, OrgChoiceError)
    assert caught.value.setting == "MIST_API_TOKEN"
    message = str(caught.value)
    assert "only site-level privileges" in message and "Observer" in message
    assert "in org Example Retail Co" in message and "in org Other Org 2" in message
    assert sim.calls()["by_endpoint"] == {SELF: 1}


def test_a_user_token_with_an_msp_privilege_finds_the_org_through_the_msp(mistsim_factory):
    sim = mistsim_factory(user_tokens={"mia": "msp:admin"})
    connection = connect(sim, tokens=["mia"])
    assert connection.start(None) == sim.org_id
    assert sim.calls()["by_endpoint"] == {SELF: 1, MSP_ORGS: 1}
    assert len(connection.sites(sim.org_id).items) == 10


@pytest.mark.parametrize("privileges", ["org:1+msp", "msp+site:1+org:1"])
def test_org_and_msp_privileges_on_the_same_org_choose_it(mistsim_factory, privileges):
    sim = mistsim_factory(user_tokens={"olga": privileges})
    assert connect(sim, tokens=["olga"]).start(None) == sim.org_id
    assert sim.calls()["by_endpoint"] == {SELF: 1, MSP_ORGS: 1}


def test_the_msp_is_listed_with_the_token_that_holds_it(mistsim_factory):
    sim = mistsim_factory(tokens=["org-token"], user_tokens={"mia": "msp"})
    connection = connect(sim, tokens=["org-token", "mia"])
    assert connection.start(None) == sim.org_id
    by_token = sim.calls()["by_token"]
    assert by_token["org-token"] == 1 and by_token["mia"] == 2  # /self each; mia lists
    assert sim.calls()["by_endpoint"][MSP_ORGS] == 1  # no 403 with the org token first


def test_several_org_privileges_must_be_chosen_listing_only_the_orgs(mistsim_factory):
    sim = mistsim_factory(orgs=3, user_tokens={"otto": "org:2+site:3+org:1"})
    with pytest.raises(OrgChoiceError) as caught:
        connect(sim, tokens=["otto"]).start(None)
    org_ids = sim.org_summary()["org_ids"]
    assert list(caught.value.orgs) == [org_ids[1], org_ids[0]]  # not org 3: a site there
    assert "several orgs" in str(caught.value) and org_ids[2] not in str(caught.value)


def test_a_rejected_token_is_named_and_left_while_the_others_go_on(mistsim_factory):
    sim = mistsim_factory(tokens=["test-token"])
    connection = connect(sim, tokens=["test-token", "revoked-token"])
    assert connection.start(sim.org_id) == sim.org_id
    assert [(t["label"], t["rejected"]) for t in connection.token_status()] == [
        ("token 1", False),
        ("token 2", True),
    ]
    for _ in range(3):
        assert len(connection.sites(sim.org_id).items) == 10
    assert sim.calls()["by_token"]["revoked-token"] == 1  # its /self, then never again


def test_every_token_rejected_or_forbidden_is_a_setting_error(mistsim_factory):
    sim = mistsim_factory(tokens=["test-token"])
    with pytest.raises(MistSettingError) as caught:
        connect(sim, tokens=["revoked-a", "revoked-b"]).start(sim.org_id)
    assert caught.value.setting == "MIST_API_TOKEN" and "MIST_API_TOKEN" in str(caught.value)
    sim.set_faults(forbidden=True, paths="^/api/v1/self$")  # Mist answers 403 to /self
    connection = connect(sim)
    with pytest.raises(MistSettingError, match="rejected every configured token"):
        connection.start(None)
    assert connection.token_status()[0]["rejected"] is True


def test_mist_unreachable_at_start_is_not_a_setting_error(mistsim_factory):
    sim = mistsim_factory()
    sim.set_faults(outage=True)
    connection = connect(sim, retries=1)
    with pytest.raises(MistError) as caught:
        connection.start(sim.org_id)
    assert not isinstance(caught.value, MistSettingError)
    assert connection.token_status()[0]["rejected"] is False
    sim.clear_faults()
    assert connection.start(None) == sim.org_id  # and the next try succeeds


def test_an_msp_token_with_one_org_finds_it_through_the_msp(mistsim_factory):
    sim = mistsim_factory(msp_tokens=["msp-token"])
    connection = connect(sim, tokens=["msp-token"])
    assert connection.start(None) == sim.org_id
    assert sim.calls()["by_endpoint"] == {SELF: 1, MSP_ORGS: 1}
    assert connection.calls_this_refresh == 2  # counted like every other call
    assert connection.token_status()[0]["calls_this_hour"] == 2
    assert len(connection.sites(sim.org_id).items) == 10  # and the MSP token reads the org


def test_an_msp_token_with_two_orgs_must_choose_naming_both(mistsim_factory):
    sim = mistsim_factory(orgs=2, msp_tokens=["msp-token"])
    with pytest.raises(OrgChoiceError) as caught:
        connect(sim, tokens=["msp-token"]).start(None)
    org_ids = sim.org_summary()["org_ids"]
    assert list(caught.value.orgs) == org_ids
    message = str(caught.value)
    assert "MIST_ORG_ID" in message
    assert f"{org_ids[0]} (Example Retail Co)" in message and f"{org_ids[1]} (" in message


def test_the_msp_org_listing_is_paged_across_a_page_boundary(mistsim_factory):
    sim = mistsim_factory(orgs=1001, msp_tokens=["msp-token"])
    connection = connect(sim, tokens=["msp-token"])
    with pytest.raises(OrgChoiceError) as caught:
        connection.start(None)
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
        connect(sim, tokens=["msp-token"]).start(None)
    message = str(caught.value)
    assert f"MSP {sim.msp_id} (Example MSP, HTTP 403)" in message
    assert "no org privilege" in message and message.endswith("set MIST_ORG_ID")
    assert sim.calls()["by_endpoint"][MSP_ORGS] == 1  # a 403 is an answer, not retried


def test_privileges_choose_by_scope_whatever_their_order():
    seen = Privileges()
    seen.add(
        {
            "privileges": [
                {"scope": "site", "org_id": "o2", "org_name": "Org Two", "name": "A Site"},
                {"scope": "sitegroup", "org_id": "o3", "name": "Some Sites"},
                {"scope": "org", "org_id": "o1", "name": "Org One", "msp_id": "m9"},
                {"scope": "msp", "msp_id": "m1", "msp_name": "The MSP"},
                "not a privilege",
            ]
        },
        0,
    )
    seen.add({"privileges": [{"scope": "msp", "msp_id": "m1", "name": "Same MSP"}]}, 1)
    assert seen.orgs == {"o1": "Org One"}  # an org privilege's msp_id names no MSP of ours
    assert seen.msps == {"m1": ("The MSP", 0)}  # listed with the first token holding it
    assert seen.site_level == ["site A Site in org Org Two", "sitegroup Some Sites in org o3"]
    with pytest.raises(MistError, match="without privileges"):
        seen.add({"name": "no privileges"}, 2)


def test_one_org_despite_a_refused_msp_is_read():
    assert only_org({"o1": "Org One"}, ["MSP m1 (The MSP, HTTP 403)"], []) == "o1"
    with pytest.raises(OrgChoiceError, match=r"several orgs \(Mist would not list the orgs"):
        only_org({"o1": "", "o2": ""}, ["MSP m1 (The MSP, HTTP 404)"], [])
    many_sites = [f"site S{n} in org O" for n in range(8)]
    with pytest.raises(MistSettingError, match=r"S4 in org O; and 3 more\)"):
        only_org({}, [], many_sites)
