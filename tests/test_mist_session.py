"""mist.session: the headless SDK session reaches our host, ignores our environment, and
every request it makes has a timeout."""

from __future__ import annotations

import time

import pytest

from mist.errors import MistError
from mist.session import SdkSessions
from tests.fixtures.mist_connect import connect


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
    session = SdkSessions("127.0.0.1:8443", ca_bundle=None, timeout=30.0).new()
    assert token_calls == [] and cloud_calls == []  # the SDK read nothing from os.environ
    assert session._url("/api/v1/self") == "https://127.0.0.1:8443/api/v1/self"
    assert session._apitoken == []  # the SDK did not pick up MIST_APITOKEN
    assert "Authorization" not in session._session.headers
    monkeypatch.undo()
    official = SdkSessions("api.eu.mist.com", ca_bundle=None, timeout=30.0).new()
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


def test_a_timeout_changed_on_the_connection_applies_to_the_next_request(mistsim):
    connection = connect(mistsim, timeout=30.0, retries=0)
    assert len(connection.sites(mistsim.org_id).items) == 10  # the session exists already
    mistsim.set_faults(hang=True, paths="/sites")
    connection.timeout = 0.5
    started = time.monotonic()
    with pytest.raises(MistError, match="no answer"):
        connection.sites(mistsim.org_id)
    assert time.monotonic() - started < 5
