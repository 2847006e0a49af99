"""mist.connection with the real mistapi SDK against mistsim over HTTPS: bounded retries,
malformed bodies and refused tokens, each answered the way the worker relies on."""

from __future__ import annotations

import pytest

from mist.errors import MalformedResponse, MistError
from tests.fixtures.mist_connect import connect


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


def test_a_cancelled_connection_makes_no_new_attempt(mistsim):
    connection = connect(mistsim)
    connection.cancelled.set()
    with pytest.raises(MistError, match="shutting down"):
        connection.org(mistsim.org_id)
    assert mistsim.calls()["total"] == 0
    assert connection.calls_this_refresh == 0


def test_json_nested_too_deep_is_a_malformed_answer_not_a_crash(mistsim):
    mistsim.set_faults(deep=True)
    connection = connect(mistsim, retries=1)
    with pytest.raises(MalformedResponse, match="malformed JSON"):
        connection.sites(mistsim.org_id)
    assert mistsim.calls()["total"] == 2, "retried like any malformed answer"


def test_nan_and_infinity_from_mist_read_as_missing_values(mistsim):
    mistsim.set_faults(nonstandard=True)
    connection = connect(mistsim)
    paths = connection.peer_paths(mistsim.org_id).items
    sites = connection.sites(mistsim.org_id).items
    assert paths and sites
    assert {site["name"] for site in sites} == {None}, "NaN names are no names"
    assert {(p["mos"], p["jitter"], p["loss"], p["latency"]) for p in paths} == {
        (None, None, None, 1e308)
    }
