"""mist.tokens: rotation on 429 without the SDK's sleeps, Retry-After, refused tokens and the
hourly budget we keep ourselves."""

from __future__ import annotations

import time

import pytest

from mist.errors import MistError, RateLimited
from mist.tokens import HOURLY_LIMIT, TokenPool
from settings import Secret
from tests.fixtures.mist_connect import connect


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


def test_our_own_hourly_count_moves_to_the_next_token_and_resets_on_the_hour():
    clock = [7200.0]
    pool = TokenPool([Secret("a"), Secret("b")], lambda: clock[0])
    for _ in range(HOURLY_LIMIT):
        pool.count(pool.pick())
    assert pool.pick() == 1  # token 1 spent its budget without Mist saying so
    assert pool.status()[0]["calls_this_hour"] == HOURLY_LIMIT
    assert pool.calls_this_refresh == HOURLY_LIMIT
    clock[0] += 3600  # a new clock hour: Mist's budgets (and ours) start again
    assert [s["calls_this_hour"] for s in pool.status()] == [0, 0]
    assert pool.available() == 2
    pool.begin_refresh()
    assert pool.calls_this_refresh == 0 and not pool.rate_limited


def test_a_429_without_retry_after_waits_for_the_next_hour():
    clock = [3 * 3600 + 100.0]
    pool = TokenPool([Secret("a")], lambda: clock[0])
    pool.exhaust(pool.pick(), None)
    with pytest.raises(RateLimited, match=r"next budget in 3500 s"):
        pool.pick()
    assert pool.rate_limited
    clock[0] = 4 * 3600.0
    assert pool.pick() == 0
