"""The sites' WAN SLEs from Mist: paged in the body (⌈sites/1000⌉ calls), read at most once
an hour and kept in Redis, a failure never failing the refresh."""

from __future__ import annotations

import threading
from typing import Any

import fakeredis
import pytest
import requests

from mist.errors import MalformedResponse, MistError
from mist.sle import SleFetched, site_sles
from model.sle import site_sle
from refresh.sle import SLE_MAX_AGE, SLE_RETRY, SleCache
from store.keys import KEY_SLE, SLE_TTL


class FakeMist:
    """Answers getOrgSitesSle for `sites` sites, as Mist pages it (style D)."""

    def __init__(self, sites: int, fail: bool = False) -> None:
        self.sites = [
            {"site_id": f"site-{n}", "gateway-health": 1 - n / 10_000} for n in range(sites)
        ]
        self.queries: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.fail = fail

    def exchange(self, invoke: Any, counter: Any) -> tuple[Any, requests.Response]:
        seen: dict[str, Any] = {}

        class Session:
            def mist_get(self, uri: str, query: dict[str, str]) -> None:
                seen.update(uri=uri, query=query)

        invoke(Session())
        if counter is not None:
            counter.add()
        with self.lock:
            self.queries.append({"uri": seen["uri"], **seen["query"]})
        if self.fail:
            raise MistError("HTTP 500 from Mist")
        limit, page = int(seen["query"]["limit"]), int(seen["query"]["page"])
        body = {
            "start": 1000, "end": 4600, "interval": 3600, "limit": limit, "page": page,
            "total": len(self.sites), "results": self.sites[(page - 1) * limit : page * limit],
        }  # fmt: skip
        response = requests.Response()
        response.status_code = 200
        return body, response


@pytest.mark.parametrize(("sites", "calls"), [(0, 1), (1, 1), (1000, 1), (1001, 2), (2500, 3)])
def test_every_site_in_ceil_sites_over_1000_calls(sites: int, calls: int) -> None:
    mist = FakeMist(sites)
    fetched = site_sles(mist.exchange, "org-1", trim=site_sle)
    assert fetched.calls == calls == len(mist.queries)
    assert [item["site_id"] for item in fetched.items] == [f"site-{n}" for n in range(sites)]
    assert (fetched.start, fetched.end) == (1000.0, 4600.0)
    query = mist.queries[0]
    assert query == {
        "uri": "/api/v1/orgs/org-1/insights/sites-sle",
        "sle": "wan", "duration": "1h", "limit": "1000", "page": "1",
    }  # fmt: skip
    assert sorted(int(q["page"]) for q in mist.queries) == list(range(1, calls + 1))


def test_an_answer_without_results_is_malformed() -> None:
    def exchange(invoke: Any, counter: Any) -> tuple[Any, requests.Response]:
        response = requests.Response()
        response.status_code = 200
        return {"detail": "?"}, response

    with pytest.raises(MalformedResponse):
        site_sles(exchange, "org-1")


def cache() -> tuple[SleCache, fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis()
    return SleCache(client, threading.Lock()), client


def test_read_at_most_once_an_hour_and_kept_with_its_time() -> None:
    sle, client = cache()
    now = 1_764_190_000.0
    assert sle.due(now)
    mist = FakeMist(3)
    job = sle.job(lambda org: site_sles(mist.exchange, org, trim=site_sle), now)
    fetched = job("org-1")
    assert isinstance(fetched, SleFetched) and fetched.calls == 1
    state = sle.state()
    assert state["fetched_at"] == now and state["end"] == 4600.0
    assert state["sites"]["site-1"]["gateway-health"] == 0.9999
    assert SLE_TTL - 5 <= client.ttl(KEY_SLE) <= SLE_TTL
    assert not sle.due(now + 60)
    assert not sle.due(now + SLE_MAX_AGE - 1)
    assert sle.due(now + SLE_MAX_AGE)


def test_a_failed_read_keeps_the_last_values_and_waits_ten_minutes() -> None:
    sle, _ = cache()
    now = 1_764_190_000.0
    sle.job(lambda org: site_sles(FakeMist(2).exchange, org, trim=site_sle), now)("o")
    later = now + SLE_MAX_AGE
    failing = FakeMist(2, fail=True)
    with pytest.raises(MistError):
        sle.job(lambda org: site_sles(failing.exchange, org, trim=site_sle), later)("o")
    state = sle.state()
    assert state["fetched_at"] == now and state["attempted_at"] == later
    assert set(state["sites"]) == {"site-0", "site-1"}  # the last values stay
    assert not sle.due(later + SLE_RETRY - 1)
    assert sle.due(later + SLE_RETRY)


def test_redis_away_is_no_state_and_due() -> None:
    class Down(fakeredis.FakeRedis):
        def get(self, *args: Any, **kwargs: Any) -> Any:
            import redis

            raise redis.ConnectionError("down")

    sle = SleCache(Down(), threading.Lock())
    assert sle.state() == {} and sle.due(1.0)
