"""mist_connection with the real mistapi SDK against mistsim over HTTPS: custom host, paging,
token rotation on 429 without the SDK's sleeps, timeouts, retries and malformed bodies."""

from __future__ import annotations

import itertools
import time

import pytest

import mist_connection
from mist_connection import MalformedResponse, MistConnection, MistError, RateLimited
from settings import Secret


def connect(sim, tokens=None, **options) -> MistConnection:
    options.setdefault("timeout", 5.0)
    options.setdefault("backoff", 0.01)
    return MistConnection(
        sim.host,
        [Secret(t) for t in (tokens or sim.tokens)],
        ca_bundle=sim.ca_path,
        **options,
    )


def test_sdk_builds_urls_for_a_custom_host_and_ignores_our_environment(monkeypatch):
    """Fails loudly if a mistapi upgrade changes the private parts we rely on (REFERENCE §5)."""
    import mistapi

    monkeypatch.setenv("MIST_HOST", "api.eu.mist.com")
    monkeypatch.setenv("MIST_APITOKEN", "env-canary-token")
    token_calls: list[str] = []
    cloud_calls: list[str] = []
    monkeypatch.setattr(
        mistapi.APISession, "set_api_token", lambda s, t, **k: token_calls.append(t)
    )
    monkeypatch.setattr(mistapi.APISession, "set_cloud", lambda s, c: cloud_calls.append(c))
    assert "_load_env" in vars(mistapi.APISession)  # the SDK method our session overrides
    connection = MistConnection("127.0.0.1:8443", [Secret("ours")])
    session = connection.new_sdk_session()
    assert token_calls == [] and cloud_calls == []  # the SDK read nothing from os.environ
    assert session._url("/api/v1/self") == "https://127.0.0.1:8443/api/v1/self"
    assert session._apitoken == []  # the SDK did not pick up MIST_APITOKEN
    assert "Authorization" not in session._session.headers
    monkeypatch.undo()
    official = MistConnection("api.eu.mist.com", [Secret("ours")]).new_sdk_session()
    assert official._url("/api/v1/self") == "https://api.eu.mist.com/api/v1/self"


def test_a_request_without_an_answer_times_out_instead_of_hanging(mistsim):
    mistsim.set_faults(hang=True, paths="/sites")
    connection = connect(mistsim, timeout=0.5, retries=1)
    started = time.monotonic()
    with pytest.raises(MistError, match="no answer"):
        connection.sites(mistsim.org_id)
    assert time.monotonic() - started < 5
    mistsim.clear_faults()
    assert len(connection.sites(mistsim.org_id).items) == 10


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


def test_429_rotates_past_two_exhausted_tokens_without_sleeping(mistsim_factory):
    sim = mistsim_factory(tokens=["tok-a", "tok-b", "tok-c"])
    sim.set_faults(exhausted_tokens=["tok-a", "tok-b"])
    connection = connect(sim)
    started = time.monotonic()
    assert len(connection.sites(sim.org_id).items) == 10
    assert len(connection.gateway_stats(sim.org_id).items) == 20
    assert time.monotonic() - started < 2  # the SDK would have slept 5 + 10 s
    by_token = sim.calls()["by_token"]
    assert by_token.get("tok-a") == 1 and by_token.get("tok-b") == 1  # tried once each, then left
    assert by_token["tok-c"] == 2
    status = connection.token_status()
    assert [t["label"] for t in status] == ["token 1", "token 2", "token 3"]
    assert [t["exhausted"] for t in status] == [True, True, False]
    assert "tok-" not in repr(status)
    sim.set_faults(exhausted_tokens=["tok-a", "tok-b", "tok-c"])
    with pytest.raises(RateLimited):
        connection.org(sim.org_id)
    assert connection.rate_limited


def test_5xx_is_retried_a_bounded_number_of_times(mistsim):
    mistsim.set_faults(outage=True)
    connection = connect(mistsim, retries=2)
    with pytest.raises(MistError, match="gave up after 3 attempts"):
        connection.org(mistsim.org_id)
    assert mistsim.calls()["total"] == 3


def test_malformed_json_is_an_error_not_empty_data(mistsim):
    mistsim.set_faults(malformed=True)
    connection = connect(mistsim, retries=1)
    with pytest.raises(MalformedResponse):
        connection.sites(mistsim.org_id)
    with pytest.raises(MalformedResponse):
        connection.port_stats(mistsim.org_id)


def test_a_wrong_token_is_reported_with_its_status(mistsim):
    connection = connect(mistsim, tokens=["not-a-valid-token"])
    with pytest.raises(MistError) as caught:
        connection.org(mistsim.org_id)
    assert caught.value.status == 401
    assert "not-a-valid-token" not in str(caught.value)


def test_org_is_detected_from_self_or_must_be_chosen(mistsim_factory):
    sim = mistsim_factory()
    assert connect(sim).detect_org(None) == sim.org_id
    several = mistsim_factory(orgs=3)
    with pytest.raises(mist_connection.OrgChoiceError) as caught:
        connect(several).detect_org(None)
    assert several.org_id in str(caught.value) and len(caught.value.orgs) == 3
    assert connect(several).detect_org(several.org_id) == several.org_id


@pytest.mark.parametrize("shape", ["keyed", "results"])
def test_port_insights_accept_both_shapes(mistsim_factory, shape):
    sim = mistsim_factory(insights_shape=shape)
    connection = connect(sim)
    stats = connection.gateway_stats(sim.org_id).items
    gateway = stats[0]
    port = connection.port_stats(sim.org_id).items[0]
    gateway = next(g for g in stats if g["mac"] == port["mac"])
    now = int(time.time())
    counter = mist_connection.CallCounter()
    points, step = connection.port_insights(
        gateway["site_id"],
        gateway["id"],
        port["port_id"],
        start=now - 7 * 86400,
        end=now,
        counter=counter,
    )
    assert step == 3600
    assert len(points) >= 24 * 6
    assert any(rx is not None and rx > 0 for _, rx, _ in points)
    assert any(tx is not None and tx > 0 for _, _, tx in points)
    assert all(b[0] - a[0] == 3600 for a, b in itertools.pairwise(points))
    assert connection.insights_keyed is (shape == "keyed")
    assert counter.calls == (1 if shape == "keyed" else 3)
    counter = mist_connection.CallCounter()
    connection.port_insights(
        gateway["site_id"], gateway["id"], port["port_id"], start=now - 86400, end=now,
        counter=counter,
    )  # fmt: skip
    assert counter.calls == (1 if shape == "keyed" else 2)  # the fallback is remembered


def test_pages_of_one_stream_run_concurrently(mistsim_factory):
    sim = mistsim_factory(gateways=20, sites=3500)
    sim.set_faults(latency_ms=1000)
    connection = connect(sim, page_workers=4)
    started = time.monotonic()
    fetched = connection.sites(sim.org_id)
    assert len(fetched.items) == 3500 and fetched.calls == 4
    # one page after the other would take over 4 s; page 1 then pages 2-4 together about 2 s
    assert time.monotonic() - started < 3.5


def test_retry_after_sets_when_an_exhausted_token_is_tried_again(mistsim_factory):
    sim = mistsim_factory(tokens=["only-token"], rate_limit=2, retry_after=30)
    clock = [1_000_000.0]
    connection = connect(sim, clock=lambda: clock[0])
    connection.org(sim.org_id)
    connection.org(sim.org_id)
    started = time.monotonic()
    with pytest.raises(RateLimited, match=r"next budget in 30 s"):
        connection.org(sim.org_id)
    assert time.monotonic() - started < 2  # no sleeping on Retry-After either
    with pytest.raises(RateLimited):  # still within Retry-After: Mist is not even asked
        connection.org(sim.org_id)
    assert sim.calls()["total"] == 3
    clock[0] += 31
    assert connection.tokens_available() == 1


def test_a_rejected_token_is_skipped_and_all_rejected_is_a_401(mistsim_factory):
    sim = mistsim_factory(tokens=["good-token"])
    connection = connect(sim, tokens=["revoked-token", "good-token"])
    assert len(connection.sites(sim.org_id).items) == 10
    assert len(connection.sites(sim.org_id).items) == 10
    assert sim.calls()["by_token"].get("revoked-token", 0) <= 1  # tried once, then left alone
    assert [t["exhausted"] for t in connection.token_status()] == [True, False]
    everything_revoked = connect(sim, tokens=["revoked-a", "revoked-b"])
    with pytest.raises(MistError) as caught:
        everything_revoked.org(sim.org_id)
    assert caught.value.status == 401 and "MIST_API_TOKEN" in str(caught.value)
    assert not isinstance(caught.value, RateLimited)


MSP_ORGS = "GET /api/v1/msps/{msp_id}/orgs"


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
    with pytest.raises(mist_connection.OrgChoiceError) as caught:
        connect(sim, tokens=["msp-token"]).detect_org(None)
    org_ids = sim.org_summary()["org_ids"]
    assert list(caught.value.orgs) == org_ids
    message = str(caught.value)
    assert "MIST_ORG_ID" in message
    assert f"{org_ids[0]} (Example Retail Co)" in message and f"{org_ids[1]} (" in message


def test_the_msp_org_listing_is_paged_across_a_page_boundary(mistsim_factory):
    sim = mistsim_factory(orgs=1001, msp_tokens=["msp-token"])
    connection = connect(sim, tokens=["msp-token"])
    with pytest.raises(mist_connection.OrgChoiceError) as caught:
        connection.detect_org(None)
    assert list(caught.value.orgs) == sim.org_summary()["org_ids"]  # all, once, in order
    assert sim.calls()["by_endpoint"][MSP_ORGS] == 2  # 1,000 + 1 at limit=1000
    assert connection.calls_this_refresh == 3
    message = str(caught.value)  # one readable line, not 1,001 orgs
    assert message.count(" (Other Org ") == mist_connection.ORG_CHOICES_LISTED - 1
    assert message.endswith(f"and {1001 - mist_connection.ORG_CHOICES_LISTED} more")


def test_a_refused_msp_listing_names_the_msp_instead_of_crashing(mistsim_factory):
    sim = mistsim_factory(msp_tokens=["msp-token"])
    sim.set_faults(forbidden=True, paths="^/api/v1/msps/")  # a restricted MSP admin
    with pytest.raises(mist_connection.OrgChoiceError) as caught:
        connect(sim, tokens=["msp-token"]).detect_org(None)
    message = str(caught.value)
    assert f"MSP {sim.msp_id} (Example MSP, HTTP 403)" in message
    assert "no org privilege" in message and message.endswith("set MIST_ORG_ID")
    assert sim.calls()["by_endpoint"][MSP_ORGS] == 1  # a 403 is an answer, not retried
