"""The config cache: templates, device profiles and inventory hourly, device configs as they move.

Port configuration changes rarely, so it is read at most hourly and kept in Redis (7 days),
secrets scrubbed. Device configs are one call per gateway (no org-wide call of the Mist API
returns a device's own port_config, see `device_config_cap`): only gateways whose inventory
entry moved since the cached copy are read, those with a WAN port down or degraded first,
as many per refresh as the tokens' hourly budget leaves once every other call is paid.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import redis

from mist.connection import MistConnection
from mist.errors import MistError
from mist.streams import CallCounter, Fetched
from mist.tokens import HOURLY_LIMIT
from model.events import SEP
from model.values import TEXT_MAX
from store.configs import read_config, write_configs
from store.events import read_state
from store.keys import DEFAULT_KEYSPACE, Keyspace
from store.status import read_status

log = logging.getLogger("worker")

CONFIG_MAX_AGE = 3600  # templates, profiles and inventory: at most hourly
CONFIG_STREAMS = ("templates", "profiles", "inventory")
SECRET_WORDS = ("password", "secret", "psk", "passphrase", "token", "key")
TEMPLATE_FIELDS = ("id", "name", "type", "port_config", "vars", "modified_time")
DEVICE_FIELDS = (
    "id", "name", "site_id", "deviceprofile_id", "port_config", "vars", "modified_time",
)  # fmt: skip
INVENTORY_FIELDS = ("id", "mac", "name", "site_id", "deviceprofile_id", "modified_time", "type")
FIELDS = {"templates": TEMPLATE_FIELDS, "profiles": TEMPLATE_FIELDS, "inventory": INVENTORY_FIELDS}
DeviceConfigs = dict[str, dict[str, Any]]
# What a token's hour may spend on device configs once its every-refresh calls are paid:
# backfill keeps its tenth (traffic.step.backfill_cap) and a tenth stays in reserve (the
# hourly config and SLE pages, retries, another process on the same token).
DEVICE_CONFIG_HOURLY = HOURLY_LIMIT * 8 // 10
DEVICE_CONFIG_FLOOR = 10  # per token per refresh, however large the org
UNKNOWN_REFRESH_SHARE = 1000  # per token per hour when the org's own refresh cost is unknown
# The calls every refresh makes (DATA.md §1 rows 1-5 and 13), as the status names them.
EVERY_REFRESH = ("org", "sites", "gateways", "ports", "peer_paths", "mist_events")
PAGED_STREAMS = ("sites", "gateways", "ports", "peer_paths")  # the cost that grows with pages
# A first refresh knows only the inventory: pages per 1,000 gateways (1 stats, about 6 port
# and 6 peer-path pages at 4 WAN ports and 6 paths each, 1 sites) and a few org-wide calls.
PAGES_PER_1000_GATEWAYS = 15
ORG_CALLS = 3


def device_config_cap(interval: int, refresh_calls: float | None = None) -> int:
    """Device configs per token per refresh, within the 5,000 calls a token has an hour.

    `refresh_calls`: what one refresh of the org costs each token (its pages: they grow
    with the org). Known, configs take what 4/5 of the hour leaves after those calls, so a
    10,000-gateway org reads all its configs in about an hour on three tokens; unknown (a
    multi-org cycle, whose orgs' costs add up), a fifth of the hour as before.
    """
    if refresh_calls is None:
        per_hour = float(UNKNOWN_REFRESH_SHARE)
    else:
        per_hour = DEVICE_CONFIG_HOURLY - max(0.0, refresh_calls) * 3600 / interval
    return max(DEVICE_CONFIG_FLOOR, int(per_hour * interval // 3600))


def estimated_refresh_calls(gateways: int) -> int:
    """A refresh's every-refresh calls guessed from the inventory alone (first refresh)."""
    return ORG_CALLS + PAGES_PER_1000_GATEWAYS * -(-gateways // 1000)


def every_refresh_calls(status: Mapping[str, Any] | None) -> int | None:
    """The every-refresh calls of the last refresh (its status' datasets), else None: also
    when a paged stream is missing, as in a worker's first refresh while its streams are
    still running (a part of the cost would let configs take the rest of the hour)."""
    datasets = (status or {}).get("datasets")
    if not isinstance(datasets, Mapping):
        return None
    calls: dict[str, int] = {}
    for name in EVERY_REFRESH:
        entry = datasets.get(name)
        count = entry.get("calls") if isinstance(entry, Mapping) else None
        if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            calls[name] = count
    return sum(calls.values()) if all(name in calls for name in PAGED_STREAMS) else None


EventsState = Callable[[], Mapping[str, Any] | None]
"""The org's events state for this refresh (refresh/events.py's EventStep.previous)."""


def troubled_gateways(state: Mapping[str, Any] | None) -> set[str]:
    """Gateways the last refresh saw offline, with every WAN down, or with a WAN port down
    (enabled) or held degraded (model/events.py's state): their configs are read first."""
    troubled: set[str] = set()
    state = state or {}
    gateways, ports = state.get("gateways"), state.get("ports")
    for gateway_id, seen in (gateways if isinstance(gateways, Mapping) else {}).items():
        if isinstance(seen, list) and len(seen) >= 2 and (seen[0] is False or seen[1] is True):
            troubled.add(gateway_id)
    for key, seen in (ports if isinstance(ports, Mapping) else {}).items():
        if not isinstance(seen, list) or len(seen) < 3:
            continue
        up, enabled, held = seen[0], seen[1], seen[2]
        if (up is False and enabled is not False) or held is True:
            troubled.add(str(key).split(SEP, 1)[0])
    return troubled


def scrub_config(document: Any) -> Any:
    """Drop secrets (PPPoE/LTE passwords, PSKs, …) and cut strings at TEXT_MAX (as the model
    reads them) before a config object is cached in Redis: no 10 MB name is kept."""
    if isinstance(document, dict):
        return {
            key: scrub_config(value)
            for key, value in document.items()
            if not any(word in str(key).lower() for word in SECRET_WORDS)
        }
    if isinstance(document, list):
        return [scrub_config(value) for value in document]
    if isinstance(document, str):
        return document[:TEXT_MAX]
    return document


def config_subset(document: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return scrub_config({name: document.get(name) for name in fields if name in document})


def site_reads(stale: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The stale gateways as reads, in their order: a site with several of them is one
    `GET /sites/{id}/devices?type=gateway` (every gateway config of the site), any other
    gateway its own `GET /sites/{id}/devices/{id}`. Each read is one call (a site holding
    more than 1,000 gateways: one a page)."""
    by_site: dict[str, list[dict[str, Any]]] = {}
    for item in stale:
        by_site.setdefault(item["site_id"], []).append(item)
    return list(by_site.values())


class ConfigCache:
    """The worker's view of port configuration: fresh when due, else the cached copy."""

    def __init__(
        self,
        client: redis.Redis,
        redis_lock: threading.Lock,
        mist: MistConnection,
        fanout: Executor,
        *,
        interval: int,
        keyspace: Keyspace = DEFAULT_KEYSPACE,
    ) -> None:
        self._client = client
        self._lock = redis_lock
        self._mist = mist
        self._fanout = fanout
        self._interval = interval
        self.keyspace = keyspace  # an org's own cache in a multi-org deployment
        self._gateways = 0  # the inventory's size: a first refresh's cost is guessed from it

    def _cached(self, kind: str) -> Any:
        try:
            return read_config(self._client, kind, self.keyspace)
        except redis.RedisError:
            return None

    def _write(self, documents: Mapping[str, Any]) -> None:
        with self._lock:
            write_configs(self._client, documents, self.keyspace)

    def device_cap(self, wanted: int) -> int:
        """Device configs this refresh may read of the `wanted` (a multi-org worker shares
        one allowance between its orgs): each token's share of its hour after this org's
        every-refresh calls, and never the last tenth the tokens have left this hour.

        Every token Mist has not rejected counts, also one whose hour is spent: the worker
        uses one token until its hour is spent, then the next, so the hour is planned for
        all of them (the clamp on what is left keeps it within the budget)."""
        budgets = self._mist.token_status()
        tokens = max(1, sum(1 for token in budgets if not token.get("rejected")))
        refresh_calls = self._refresh_calls()
        cap = device_config_cap(self._interval, refresh_calls / tokens) * tokens
        left = sum(
            max(0, int(token.get("limit") or 0) - int(token.get("calls_this_hour") or 0))
            for token in budgets
            if not token.get("exhausted")
        )
        return max(0, min(cap, left - HOURLY_LIMIT // 10 * tokens - refresh_calls))

    def _refresh_calls(self) -> int:
        """What one refresh of this org costs besides catch-up: the last refresh's own
        count when the status has it, else guessed from the inventory."""
        try:
            measured = every_refresh_calls(read_status(self._client, self.keyspace))
        except redis.RedisError:
            measured = None
        return measured if measured is not None else estimated_refresh_calls(self._gateways)

    def org_record(self) -> dict[str, Any] | None:
        """The org's own record as last fetched (multi-org: asked for with the configs)."""
        cached = self._cached("org")
        return cached if isinstance(cached, dict) else None

    def keep_org_record(self, record: Mapping[str, Any]) -> None:
        self._write({"org": config_subset(record, ("id", "name", "msp_id", "msp_name"))})

    def due(self, now: float) -> bool:
        """Whether templates, profiles and inventory are to be fetched this refresh."""
        fetched_at = self._cached("fetched_at")
        return (
            not isinstance(fetched_at, int | float)
            or self._cached("inventory") is None
            or (now - fetched_at >= CONFIG_MAX_AGE)
        )

    def configs(self, org_id: str, fetched: Mapping[str, Fetched], now: float) -> dict[str, Any]:
        """Fresh config when it was due and fetched, else the cached copy (rare changes)."""
        configs: dict[str, Any] = {}
        fresh: dict[str, Any] = {}
        for kind in CONFIG_STREAMS:
            if kind in fetched:
                items = [
                    config_subset(item, FIELDS[kind])
                    for item in fetched[kind].items
                    if isinstance(item, dict)
                ]
                configs[kind] = fresh[kind] = items
            else:
                configs[kind] = self._cached(kind) or []
        if len(fresh) == len(CONFIG_STREAMS):
            fresh["fetched_at"] = now
        if fresh:
            self._write(fresh)
        return configs | {"org_id": org_id}

    def device_configs(
        self, configs: Mapping[str, Any], events_state: EventsState | None = None
    ) -> tuple[DeviceConfigs, Fetched, str | None]:
        """Cached device configs, refreshed for gateways whose inventory entry moved (capped).
        `events_state`: the events' state as this refresh read it (refresh/events.py's
        `previous`, shared), for the troubled gateways; without it the state is read here.

        Runs on a stream thread, so it reports (devices, cost, error) instead of touching status.
        """
        cached = self._cached("devices")
        devices: DeviceConfigs = cached if isinstance(cached, dict) else {}
        inventory = [
            item
            for item in configs.get("inventory") or []
            if isinstance(item.get("id"), str) and isinstance(item.get("site_id"), str)
        ]
        stale = [
            item
            for item in inventory
            if item.get("id") not in devices
            or devices[item["id"]].get("modified_time") != item.get("modified_time")
        ]
        reads = site_reads(self._troubled_first(stale, configs.get("org_id"), events_state))
        self._gateways = len(inventory)
        reads = reads[: self.device_cap(len(reads))]
        counter = CallCounter()
        started = time.monotonic()
        errors = self._fetch_devices(reads, devices, counter)
        known = {item.get("id") for item in inventory}
        devices = {
            gateway_id: entry for gateway_id, entry in devices.items() if gateway_id in known
        }
        read = [item["id"] for group in reads for item in group]
        if read:
            self._write({"devices": devices})
        if len(stale) > len(read):
            log.info("device_configs: %d more to fetch in later refreshes", len(stale) - len(read))
        cost = Fetched(read, counter.calls, time.monotonic() - started)
        return devices, cost, f"{len(errors)} failed, last: {errors[-1]}" if errors else None

    def _troubled_first(
        self, stale: list[dict[str, Any]], org_id: Any, events_state: EventsState | None
    ) -> list[dict[str, Any]]:
        """The stale gateways, those the last refresh saw with a WAN port down or degraded
        (or offline) first: the circuits a NOC looks at learn their source first."""
        if len(stale) < 2 or not isinstance(org_id, str):
            return stale
        try:
            state = events_state() if events_state else read_state(self._client, org_id)
            troubled = troubled_gateways(state)
        except redis.RedisError:
            return stale
        return sorted(stale, key=lambda item: item.get("id") not in troubled)

    def _fetch_devices(
        self, reads: list[list[dict[str, Any]]], devices: DeviceConfigs, counter: CallCounter
    ) -> list[str]:
        """Read each group's configs into `devices` (one gateway: its own config; several:
        their site's device list); returns the errors."""
        futures = [
            (group, self._fanout.submit(self._read_group, group, counter)) for group in reads
        ]
        errors: list[str] = []
        for group, future in futures:
            try:
                configs = future.result()
            except MistError as error:
                errors.append(str(error))
                continue
            for item in group:
                config = configs.get(item["id"])
                if config is None:
                    errors.append(f"gateway {item['id']} not in its site's device list")
                    continue
                devices[item["id"]] = {
                    "modified_time": item.get("modified_time"),
                    "config": config_subset(config, DEVICE_FIELDS),
                }
        return errors

    def _read_group(
        self, group: list[dict[str, Any]], counter: CallCounter
    ) -> dict[str, Mapping[str, Any]]:
        """gateway id -> its own config, for the gateways of one read."""
        site_id = group[0]["site_id"]
        if len(group) == 1:
            return {group[0]["id"]: self._mist.device_config(site_id, group[0]["id"], counter)}
        listed = self._mist.site_device_configs(site_id, counter)
        return {
            item["id"]: item
            for item in listed
            if isinstance(item, Mapping) and isinstance(item.get("id"), str)
        }
