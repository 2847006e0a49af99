"""The config cache: templates, device profiles and inventory hourly, device configs as they move.

Port configuration changes rarely, so it is read at most hourly and kept in Redis (7 days),
secrets scrubbed. Device configs are one call per gateway: only gateways whose inventory
entry moved since the cached copy are read, capped per refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import redis

from mist.connection import MistConnection
from mist.errors import MistError
from mist.streams import CallCounter, Fetched
from model.values import TEXT_MAX
from store.configs import read_config, write_configs
from store.keys import DEFAULT_KEYSPACE, Keyspace

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


def device_config_cap(interval: int) -> int:
    """Device configs per token per refresh: a fifth of its hourly budget, over refreshes."""
    return max(10, 1000 * interval // 3600)


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
        one allowance between its orgs)."""
        return device_config_cap(self._interval) * max(1, self._mist.tokens_available())

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
        self, configs: Mapping[str, Any]
    ) -> tuple[DeviceConfigs, Fetched, str | None]:
        """Cached device configs, refreshed for gateways whose inventory entry moved (capped).

        Runs on a stream thread, so it reports (devices, cost, error) instead of touching status.
        """
        cached = self._cached("devices")
        devices: DeviceConfigs = cached if isinstance(cached, dict) else {}
        inventory = [item for item in configs.get("inventory") or [] if item.get("site_id")]
        stale = [
            item
            for item in inventory
            if item.get("id") not in devices
            or devices[item["id"]].get("modified_time") != item.get("modified_time")
        ]
        cap = self.device_cap(len(stale))
        counter = CallCounter()
        started = time.monotonic()
        errors = self._fetch_devices(stale[:cap], devices, counter)
        known = {item.get("id") for item in inventory}
        devices = {
            gateway_id: entry for gateway_id, entry in devices.items() if gateway_id in known
        }
        if stale[:cap]:
            self._write({"devices": devices})
        if len(stale) > cap:
            log.info("device_configs: %d more to fetch in later refreshes", len(stale) - cap)
        cost = Fetched(
            [item["id"] for item in stale[:cap]], counter.calls, time.monotonic() - started
        )
        return devices, cost, f"{len(errors)} failed, last: {errors[-1]}" if errors else None

    def _fetch_devices(
        self, items: list[dict[str, Any]], devices: DeviceConfigs, counter: CallCounter
    ) -> list[str]:
        """Read each gateway's config into `devices`; returns the errors."""
        futures = {
            item["id"]: (
                item.get("modified_time"),
                self._fanout.submit(self._mist.device_config, item["site_id"], item["id"], counter),
            )
            for item in items
        }
        errors: list[str] = []
        for gateway_id, (modified_time, future) in futures.items():
            try:
                config = future.result()
            except MistError as error:
                errors.append(str(error))
                continue
            devices[gateway_id] = {
                "modified_time": modified_time,
                "config": config_subset(config, DEVICE_FIELDS),
            }
        return errors
