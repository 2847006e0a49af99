"""The device-config catch-up: how many configs a refresh reads, and which first.

No org-wide Mist call tells whether a gateway's ports follow its template or are set on the
device itself (the 2509 spec: `searchOrgDeviceLastConfigs` answers AP radio/WLAN history,
`listOrgDevices` mac and name, inventory and `listOrgDevicesStats` no port_config), so each
gateway's config is one `GET /sites/{id}/devices/{id}`. These tests hold the two levers:
the cap spends what the 5,000-calls-an-hour budget leaves (a whole 10,000-gateway org in
about an hour on three tokens, never past the budget), and gateways with a WAN port down or
degraded are read first. Pure unit tests: fakeredis and a stand-in for the Mist connection.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import fakeredis
import pytest

from mist.tokens import HOURLY_LIMIT
from model.events import SEP
from refresh.configs import (
    ConfigCache,
    device_config_cap,
    estimated_refresh_calls,
    every_refresh_calls,
    troubled_gateways,
)
from refresh.events import EventStep
from store.codec import encode_json
from store.events import Retention
from store.keys import events_state_key
from store.status import write_status
from traffic.step import backfill_cap

ORG = "00000000-0000-0000-0000-00000000000a"


def refreshes_to_read(gateways: int, tokens: int, interval: int, refresh_calls: int) -> int:
    """Refreshes until every gateway's config is read, at the cap the worker uses."""
    per_refresh = device_config_cap(interval, refresh_calls / tokens) * tokens
    return math.ceil(gateways / per_refresh)


def test_a_10000_gateway_org_learns_every_ports_source_within_an_hour() -> None:
    # 10,000 gateways, 4 WAN ports and 6 peer paths each: 138 calls every refresh (the bench)
    refreshes = refreshes_to_read(10_000, tokens=3, interval=300, refresh_calls=138)
    assert refreshes * 300 / 3600 <= 1.0
    # 1,000 gateways: two refreshes (today 5); 100 gateways: one
    assert refreshes_to_read(1_000, tokens=3, interval=300, refresh_calls=17) == 2
    assert refreshes_to_read(100, tokens=3, interval=300, refresh_calls=6) == 1


@pytest.mark.parametrize("gateways", [100, 1_000, 10_000, 30_000])
@pytest.mark.parametrize("interval", [60, 300, 900])
def test_a_token_never_spends_more_than_its_hour(gateways: int, interval: int) -> None:
    """Every-refresh pages + device configs + backfill stay within 5,000 calls a token an
    hour, with a tenth to spare, whatever the org's size (one token: the hardest case)."""
    refresh_calls = estimated_refresh_calls(gateways)
    per_hour = 3600 / interval
    configs = device_config_cap(interval, refresh_calls)
    spent = (refresh_calls + configs + backfill_cap(interval)) * per_hour
    if configs > 10:  # beyond the floor the budget rule holds with a tenth to spare
        assert spent <= HOURLY_LIMIT * 9 / 10 + per_hour
    assert configs >= 10  # a huge org still catches up, slowly


def test_without_the_orgs_cost_the_cap_stays_a_fifth_of_the_hour() -> None:
    """A multi-org cycle shares one allowance and cannot tell one org's cost: the old rule."""
    assert device_config_cap(300) == 83
    assert device_config_cap(60) == 16
    assert device_config_cap(300, 10_000) == 10  # a refresh that eats the hour: the floor


def test_the_refresh_cost_is_read_from_the_last_status() -> None:
    status = {
        "datasets": {
            "org": {"calls": 1},
            "sites": {"calls": 5},
            "gateways": {"calls": 10},
            "ports": {"calls": 61},
            "peer_paths": {"calls": 60},
            "mist_events": {"calls": 1},
            "device_configs": {"calls": 249},  # catch-up: not a refresh's own cost
            "templates": {"calls": 1},
        }
    }
    assert every_refresh_calls(status) == 138
    assert every_refresh_calls(None) is None
    assert every_refresh_calls({"datasets": {"ports": {"calls": "x"}}}) is None
    # a worker's first refresh while its streams still run: a part is no measure
    partial = {"datasets": {"org": {"calls": 1}, "sites": {"calls": 5}}}
    assert every_refresh_calls(partial) is None
    assert estimated_refresh_calls(10_000) == 153  # first refresh: only the inventory known


def test_troubled_gateways_are_those_with_a_port_down_or_degraded() -> None:
    state = {
        "gateways": {"offline": [False, False], "all-down": [True, True], "fine": [True, False]},
        "ports": {
            f"down{SEP}ge-0/0/0": [False, True, False, 0],
            f"disabled{SEP}ge-0/0/0": [False, False, False, 0],
            f"degraded{SEP}ge-0/0/1": [True, True, True, 0],
            f"fine{SEP}ge-0/0/0": [True, True, False, 1],
        },
    }
    assert troubled_gateways(state) == {"offline", "all-down", "down", "degraded"}
    assert troubled_gateways(None) == set()
    assert troubled_gateways({"gateways": "junk", "ports": {"x": "junk"}}) == set()


class FakeMist:
    """The calls ConfigCache makes of a MistConnection: device reads and token budgets."""

    def __init__(self, tokens: int = 1, calls_this_hour: int = 0) -> None:
        self.tokens = tokens
        self.calls_this_hour = calls_this_hour
        self.read: list[str] = []
        self.sites: list[str] = []
        self.inventory: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def tokens_available(self) -> int:
        """Usable now: token 1 not once its hour is spent."""
        return self.tokens - (1 if self.calls_this_hour >= HOURLY_LIMIT else 0)

    def token_status(self) -> list[dict[str, Any]]:
        """Token 1 has spent `calls_this_hour`, the others nothing yet (the worker uses one
        token until its hour is spent)."""
        return [
            {
                "limit": HOURLY_LIMIT,
                "calls_this_hour": self.calls_this_hour if n == 0 else 0,
                "exhausted": False,
                "rejected": False,
            }
            for n in range(self.tokens)
        ]

    def device_config(self, site: str, device_id: str, counter: Any) -> dict[str, Any]:
        counter.add()
        with self.lock:
            self.read.append(device_id)
        return {"id": device_id, "site_id": site, "port_config": {}, "modified_time": 1}

    def site_device_configs(self, site: str, counter: Any) -> list[dict[str, Any]]:
        """A site's device list: its gateways are those of `inventory` in that site."""
        counter.add()
        listed = [item for item in self.inventory if item["site_id"] == site]
        with self.lock:
            self.sites.append(site)
            self.read.extend(item["id"] for item in listed)
        return [item | {"port_config": {"ge-0/0/0": {"usage": "wan"}}} for item in listed]


def gateway_id(n: int) -> str:
    return f"00000000-0000-0000-1000-{n:012d}"


def cache_with(client: fakeredis.FakeRedis, mist: FakeMist, interval: int) -> ConfigCache:
    fanout = ThreadPoolExecutor(max_workers=4)
    return ConfigCache(client, threading.Lock(), mist, fanout, interval=interval)  # type: ignore[arg-type]


def site_id(n: int) -> str:
    return f"00000000-0000-0000-0000-{n:012d}"


def inventory(gateways: int, per_site: int = 1) -> dict[str, Any]:
    """`gateways` in sites of `per_site` each (a branch: one)."""
    items = [
        {"id": gateway_id(n), "site_id": site_id(n // per_site), "modified_time": 1}
        for n in range(gateways)
    ]
    return {"inventory": items, "org_id": ORG}


@pytest.mark.parametrize("shared", [False, True], ids=["read-here", "events-step-read"])
def test_gateways_with_a_port_down_or_degraded_are_read_first(shared: bool) -> None:
    """3,000 gateways, 200 of them in trouble (the last refresh's event state), at the end
    of the inventory: the first refresh's reads (285) cover every one of them. The worker
    hands over the events step's own read of that state (read once a refresh): the order
    is the same although the stored state is gone by then."""
    client = fakeredis.FakeRedis()
    troubled = {gateway_id(n) for n in range(2800, 3000)}
    state = {
        "gateways": {g: [True, False] for g in troubled},
        "ports": {f"{g}{SEP}ge-0/0/0": [False, True, False, 0] for g in troubled},
    }
    client.set(events_state_key(ORG), encode_json(state))
    mist = FakeMist(tokens=1)
    events_state = None
    if shared:
        step = EventStep(client, threading.Lock(), interval=300, hold=600, retention=Retention())
        assert step.previous(ORG, 1000.0) is not None  # Mist's read window asked for it
        client.delete(events_state_key(ORG))
        events_state = partial(step.previous, ORG, 1000.0)
    cache = cache_with(client, mist, 300)
    devices, cost, error = cache.device_configs(inventory(3000), events_state)
    assert error is None
    assert len(mist.read) == 285 and cost.calls == len(mist.read)
    assert troubled <= set(mist.read)
    assert set(devices) == set(mist.read)


def test_the_cap_follows_the_orgs_measured_cost() -> None:
    """The last status says what a refresh costs: the more pages, the fewer configs."""
    client = fakeredis.FakeRedis()
    mist = FakeMist(tokens=1)
    streams = {"sites": 1, "gateways": 2, "ports": 57, "peer_paths": 40}
    write_status(client, {"datasets": {name: {"calls": n} for name, n in streams.items()}})
    cache_with(client, mist, 300).device_configs(inventory(2000))
    assert len(mist.read) == device_config_cap(300, 100) == 233


def test_the_cap_never_spends_a_tokens_last_tenth() -> None:
    """Another process spent most of the token's hour: configs leave the last tenth alone."""
    client = fakeredis.FakeRedis()
    mist = FakeMist(tokens=1, calls_this_hour=HOURLY_LIMIT - 600)
    cache_with(client, mist, 300).device_configs(inventory(2000))
    assert len(mist.read) == 600 - HOURLY_LIMIT // 10 - estimated_refresh_calls(2000) == 67
    mist = FakeMist(tokens=1, calls_this_hour=HOURLY_LIMIT - 100)
    cache_with(fakeredis.FakeRedis(), mist, 300).device_configs(inventory(2000))
    assert mist.read == []


def test_a_site_with_several_gateways_is_one_call() -> None:
    """2,000 gateways, two a site: one device-list call reads both, so the refresh's calls
    (its cap) cover twice the gateways; a site with one stale gateway keeps its own call."""
    client = fakeredis.FakeRedis()
    mist = FakeMist(tokens=1)
    org = inventory(2000, per_site=2)
    mist.inventory = org["inventory"]
    cache = cache_with(client, mist, 300)
    devices, cost, error = cache.device_configs(org)
    cap = device_config_cap(300, estimated_refresh_calls(2000))
    assert error is None and cost.calls == len(mist.sites) == cap
    assert len(devices) == len(cost.items) == 2 * cap
    assert devices[gateway_id(1)]["config"]["port_config"] == {"ge-0/0/0": {"usage": "wan"}}
    # one gateway of a cached site moves: its own config, not its site's list
    org["inventory"][0] = org["inventory"][0] | {"modified_time": 2}
    mist.sites.clear()
    mist.read.clear()
    devices, cost, error = cache.device_configs(org)
    assert error is None and site_id(0) not in mist.sites and gateway_id(0) in mist.read
    assert devices[gateway_id(0)]["modified_time"] == 2


def test_a_token_whose_hour_is_spent_still_counts_while_the_others_have_budget() -> None:
    """Three tokens, the first spent (the worker moves to the next one): the hour is still
    planned for three, so catch-up keeps its pace; only what is left bounds it."""
    client = fakeredis.FakeRedis()
    mist = FakeMist(tokens=3, calls_this_hour=HOURLY_LIMIT)
    cache_with(client, mist, 300).device_configs(inventory(10_000))
    per_token = estimated_refresh_calls(10_000) / 3
    assert len(mist.read) == 3 * device_config_cap(300, per_token) == 846
