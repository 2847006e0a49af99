"""The refresh loop: fetch from Mist → build circuits and history → publish to Redis.

The only process that spends Mist API tokens. One worker at a time holds a lease in Redis
(`mist:lock:worker`); a second one waits and takes over when the lease lapses. A failed refresh
publishes nothing, so the web keeps serving the last good snapshot.

    python worker.py               run forever (every WORKER_INTERVAL seconds)
    python worker.py --once        one refresh; exit 0 on success, 1 on failure
    python worker.py --healthcheck exit 0 when this worker's heartbeat is fresh, else 1
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis
import schedule

import history
import redis_cache
from mist_connection import (
    CallCounter,
    Fetched,
    MistConnection,
    MistError,
    OrgChoiceError,
)
from model.items import gateway_stat, peer_path, port_stat
from model.port_config import index_port_configs
from model.snapshot import Circuit, Snapshot, build_snapshot
from redis_cache import Dataset
from settings import (
    Secret,
    WorkerSettings,
    configure_logging,
    fail,
    load_or_exit,
    load_web_settings,
    load_worker_settings,
)
from views.export import CSV_COLUMNS, CircuitRows
from views.payload import (
    drain_gateway_records,
    drain_peer_paths,
    gateways_payload_head,
    insights_records,
)
from views.rows import GatewayRows

log = logging.getLogger("worker")

CONFIG_MAX_AGE = 3600  # templates, profiles and inventory: at most hourly
SECRET_WORDS = ("password", "secret", "psk", "passphrase", "token", "key")
STREAMS = ("org", "sites", "gateways", "ports", "peer_paths")
CONFIG_STREAMS = ("templates", "profiles", "inventory")


class RefreshAborted(Exception):
    """The refresh stopped on purpose (SIGTERM, or the lease went to another worker)."""


def backfill_cap(interval: int) -> int:
    """Backfill calls per token per refresh: at most a tenth of a token's hourly budget."""
    return max(1, 500 * interval // 3600)


def device_config_cap(interval: int) -> int:
    """Device configs per token per refresh: a fifth of its hourly budget, over refreshes."""
    return max(10, 1000 * interval // 3600)


def scrub_config(document: Any) -> Any:
    """Drop secrets (PPPoE/LTE passwords, PSKs, …) before a config object is cached in Redis."""
    if isinstance(document, dict):
        return {
            key: scrub_config(value)
            for key, value in document.items()
            if not any(word in str(key).lower() for word in SECRET_WORDS)
        }
    if isinstance(document, list):
        return [scrub_config(value) for value in document]
    return document


def _config_subset(document: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return scrub_config({name: document.get(name) for name in fields if name in document})


TEMPLATE_FIELDS = ("id", "name", "type", "port_config", "vars", "modified_time")
DEVICE_FIELDS = (
    "id", "name", "site_id", "deviceprofile_id", "port_config", "vars", "modified_time",
)  # fmt: skip
INVENTORY_FIELDS = ("id", "mac", "name", "site_id", "deviceprofile_id", "modified_time", "type")


HISTORY_CHUNK = 250  # ports per read: a chunk of full histories decodes to ~20 MB of samples


@dataclass
class HistoryResult:
    """What each port's stored history needs written (mostly one appended sample) and the
    24 h volume of every WAN port."""

    writes: dict[tuple[str, str], redis_cache.HistoryWrite] = field(default_factory=dict)
    volumes: dict[tuple[str, str], tuple[int | None, int | None]] = field(default_factory=dict)
    stored: dict[tuple[str, str], redis_cache.StoredHistory] = field(default_factory=dict)

    def finish(
        self,
        port: tuple[str, str],
        port_history: history.PortHistory,
        now: float,
        interval: int,
        *,
        needs_backfill: bool = False,
    ) -> None:
        """A port whose whole history was read: its volume and its write."""
        port_history = history.prune(port_history, now)
        hourly = history.hourly_bytes(port_history, now=now, interval=interval)
        self.volumes[port] = history.volume_of_hours(hourly, now=now)
        write = redis_cache.plan_history_write(
            redis_cache.history_key(*port),
            self.stored.pop(port, None),
            port_history,
            now=now,
            interval=interval,
            needs_backfill=needs_backfill,
            hourly=hourly,
        )
        if write is not None:
            self.writes[port] = write


class TokenRedactor(logging.Filter):
    """Last line of defence: a token that somehow reaches a log record is replaced by ***."""

    def __init__(self, tokens: Sequence[Secret]) -> None:
        super().__init__()
        self._tokens = [token.reveal() for token in tokens if token.reveal()]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(token in message for token in self._tokens):
            for token in self._tokens:
                message = message.replace(token, "***")
            record.msg, record.args = message, None
        return True


@dataclass
class RefreshStatus:
    """The status JSON of DATA.md §3.4, rewritten to Redis at every phase."""

    interval: int
    status: str = "idle"
    phase: str | None = None
    done: int = 0
    total: int = 0
    last_update: float | None = None
    last_attempt: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    calls_last_refresh: int | None = None
    refresh_seconds: float | None = None
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    rate_limited: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "phase": self.phase,
            "progress": {"done": self.done, "total": self.total},
            "last_update": self.last_update,
            "last_attempt": self.last_attempt,
            "interval": self.interval,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "calls_last_refresh": self.calls_last_refresh,
            "refresh_seconds": self.refresh_seconds,
            "datasets": self.datasets,
            "tokens": self.tokens,
            "rate_limited": self.rate_limited,
        }

    @classmethod
    def resume(cls, interval: int, stored: Mapping[str, Any] | None) -> RefreshStatus:
        """Continue from what a previous worker left (last success, last error)."""
        status = cls(interval=interval)
        if stored:
            for name in ("last_update", "last_attempt", "last_error", "last_error_at"):
                value = stored.get(name)
                if value is None or isinstance(value, str | int | float):
                    setattr(status, name, value)
            if stored.get("status") == "error":
                status.status = "error"
        return status


class Worker:
    """One worker process: owns a Mist connection, a Redis client and (maybe) the lease."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        client: redis.Redis | None = None,
        connection: MistConnection | None = None,
        lease_seconds: float = 60.0,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.interval = settings.worker_interval
        self.client = client or redis_cache.connect(settings.redis_url, timeout=30.0)
        self.mist = connection or MistConnection.from_settings(settings)
        self.lease_seconds = lease_seconds
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.org_id: str | None = settings.org_id
        self.stop_requested = threading.Event()
        self.holds_lease = False
        self.lease_lost = threading.Event()
        self._redis_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stream")
        self._fanout = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fanout")
        self.status = RefreshStatus.resume(self.interval, self._safe(redis_cache.read_status))

    # ------------------------------------------------------------ small helpers

    def _safe(self, read: Callable[[redis.Redis], Any]) -> Any:
        try:
            return read(self.client)
        except redis.RedisError:
            return None

    def _write_status(self) -> None:
        self.status.tokens = self.mist.token_status()
        self.status.rate_limited = self.mist.rate_limited
        try:
            with self._redis_lock:
                redis_cache.write_status(self.client, self.status.document())
        except redis.RedisError as error:
            log.warning("could not write status to Redis: %s", error)

    def _phase(self, phase: str, done: int, total: int) -> None:
        if self.stop_requested.is_set():
            raise RefreshAborted("stop requested (SIGTERM)")
        if self.lease_lost.is_set():
            raise RefreshAborted("the lease went to another worker")
        self.status.phase, self.status.done, self.status.total = phase, done, total
        self._write_status()

    def heartbeat(self) -> None:
        """Prove liveness and keep our lease while we hold it (runs on its own thread)."""
        try:  # no _redis_lock: a long publish must not delay the heartbeat or the lease
            redis_cache.write_heartbeat(self.client, self.clock())
            if self.holds_lease and not redis_cache.renew_lock(
                self.client, self.worker_id, self.lease_seconds
            ):
                log.warning("lost the worker lease to another worker")
                self.holds_lease = False
                self.lease_lost.set()
        except redis.RedisError as error:
            log.warning("heartbeat failed: %s", error)

    def acquire_lease(self) -> bool:
        try:
            with self._redis_lock:
                ours = redis_cache.acquire_lock(self.client, self.worker_id, self.lease_seconds)
        except redis.RedisError as error:
            log.warning("could not reach Redis for the lease: %s", error)
            return False
        if ours and not self.holds_lease:
            log.info("holding the worker lease (%s)", self.worker_id)
            self.lease_lost.clear()
        self.holds_lease = ours
        return ours

    def release_lease(self) -> None:
        if not self.holds_lease:
            return
        try:
            with self._redis_lock:
                redis_cache.release_lock(self.client, self.worker_id)
            log.info("released the worker lease")
        except redis.RedisError as error:
            log.warning("could not release the lease: %s", error)
        self.holds_lease = False

    def ensure_org(self) -> str:
        if self.org_id is None:
            self.org_id = self.mist.detect_org(None)
            log.info("org detected from the token's privileges: %s", self.org_id)
        return self.org_id

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._fanout.shutdown(wait=False, cancel_futures=True)
        self.mist.close()

    # ------------------------------------------------------------ one refresh

    def refresh(self) -> bool:
        """Fetch, build and publish one snapshot; on failure keep the old one and say why."""
        started = self.clock()
        clock_start = time.monotonic()
        self.mist.begin_refresh()
        self.status.status = "running"
        self.status.last_attempt = started
        self.status.datasets = {}
        try:
            org_id = self.ensure_org()
            published = self._refresh(org_id, started)
        except RefreshAborted as reason:
            log.warning("refresh abandoned: %s; the previous snapshot stays", reason)
            self.status.status = "idle" if self.status.last_update else "error"
            self.status.phase = None
            self._write_status()
            return False
        except (MistError, redis.RedisError) as error:
            self._record_failure(error, started, clock_start)
            return False
        except Exception as error:  # a bug or a payload we did not foresee: keep the old data
            log.exception("refresh failed unexpectedly")
            self._record_failure(error, started, clock_start)
            return False
        seconds = time.monotonic() - clock_start
        self.status.status = "idle"
        self.status.phase = None
        self.status.last_update = started
        self.status.calls_last_refresh = self.mist.calls_this_refresh
        self.status.refresh_seconds = round(seconds, 3)
        self._write_status()
        log.info(
            "refresh published: %d keys, %d Mist calls, %.2f s",
            published,
            self.mist.calls_this_refresh,
            seconds,
        )
        return True

    def _redact(self, text: str) -> str:
        """Error texts go to Redis and logs: make sure no token value can ride along."""
        for token in self.settings.tokens:
            if token.reveal():
                text = text.replace(token.reveal(), "***")
        return text

    def _record_failure(self, error: Exception, started: float, clock_start: float) -> None:
        message = self._redact(str(error) or type(error).__name__)
        if isinstance(error, redis.RedisError):
            message = f"Redis: {message}"
        log.error("refresh failed after %.2f s: %s", time.monotonic() - clock_start, message)
        self.status.status = "error"
        self.status.last_error = message
        self.status.last_error_at = started
        self.status.calls_last_refresh = self.mist.calls_this_refresh
        self.status.refresh_seconds = round(time.monotonic() - clock_start, 3)
        self._write_status()

    def _record(self, name: str, fetched: Fetched | None, error: str | None = None) -> None:
        entry = {
            "items": len(fetched.items) if fetched else 0,
            "calls": fetched.calls if fetched else 0,
            "seconds": round(fetched.seconds, 3) if fetched else 0.0,
            "error": None if error is None else self._redact(error),
        }
        self.status.datasets[name] = entry
        if error:
            log.warning("%s: failed: %s", name, entry["error"])
        else:
            log.info(
                "%s: %d items, %d calls, %.2f s",
                name,
                entry["items"],
                entry["calls"],
                entry["seconds"],
            )

    def _refresh(self, org_id: str, now: float) -> int:
        config_due = self._config_due(now)
        jobs: dict[str, Callable[[str], Fetched]] = {
            "org": self.mist.org,
            "sites": self.mist.sites,
            # Each item is cut to its compact form as its page arrives (see model/items.py).
            "gateways": partial(self.mist.gateway_stats, trim=gateway_stat),
            "ports": partial(self.mist.port_stats, trim=port_stat),
            "peer_paths": partial(self.mist.peer_paths, trim=peer_path),
        }
        if config_due:
            jobs.update(
                templates=self.mist.gateway_templates,
                profiles=self.mist.device_profiles,
                inventory=self.mist.inventory,
            )
        total_phases = len(jobs) + 3
        self._phase("fetch", 0, total_phases)
        futures: dict[str, Future[Fetched]] = {
            name: self._pool.submit(job, org_id) for name, job in jobs.items()
        }
        cached_configs: dict[str, Any] | None = None
        device_job = None
        if not config_due:  # steady state: device configs need only the cached inventory
            cached_configs = self._configs(org_id, {}, now)
            device_job = self._pool.submit(self._device_configs, cached_configs)
        fetched: dict[str, Fetched] = {}
        first_error: MistError | None = None
        pending = dict(futures)
        done = 0
        while pending:
            # No loop variable may keep a finished future: it holds its stream's items.
            for name in [name for name, future in pending.items() if future.done()]:
                done += 1
                try:
                    fetched[name] = pending.pop(name).result()
                    self._record(name, fetched[name])
                except MistError as error:
                    self._record(name, None, str(error))
                    if name in STREAMS and first_error is None:
                        first_error = error
                self._phase(f"fetch:{name}", done, total_phases)
            if pending and self.stop_requested.is_set():
                raise RefreshAborted("stop requested (SIGTERM)")
            if pending:
                time.sleep(0.02)
        futures.clear()  # a finished future keeps its result: `fetched` is the only holder now
        if first_error is not None:
            raise first_error

        configs = cached_configs or self._configs(org_id, fetched, now)
        self._phase("device_configs", done, total_phases)
        device_configs, device_cost, device_error = (
            device_job.result() if device_job else self._device_configs(configs)
        )
        device_job = None
        self._record("device_configs", device_cost, device_error)
        done += 1
        self._phase("build", done, total_phases)
        built = time.monotonic()
        port_configs = index_port_configs(
            sites=fetched["sites"].items,
            templates=configs.get("templates") or [],
            profiles=configs.get("profiles") or [],
            inventory=configs.get("inventory") or [],
            device_configs={
                gateway_id: entry.get("config") or {}
                for gateway_id, entry in device_configs.items()
            },
        )
        del device_configs, configs, cached_configs  # port_configs has what build needs
        snapshot = build_snapshot(
            org=fetched["org"].items[0],
            sites=fetched["sites"].items,
            gateway_stats=_consumed(fetched["gateways"].items),
            port_stats=fetched["ports"].items,
            peer_paths=fetched["peer_paths"].items,
            port_configs=port_configs,
            now=now,
        )
        fetched.clear()  # the raw Mist lists are done with: let history and publish reuse it
        del port_configs
        _give_back_memory()
        log.info(
            "build: %d gateways, %d circuits, %d peer path groups, %.2f s",
            len(snapshot.records),
            len(snapshot.circuits),
            len(snapshot.paths),
            time.monotonic() - built,
        )
        done += 1
        self._phase("history", done, total_phases)
        histories = self._histories(snapshot, now)
        _give_back_memory()
        done += 1
        self._phase("publish", done, total_phases)
        if not self.holds_lease or not self.acquire_lease():
            raise RefreshAborted("the lease went to another worker")
        with (
            self._redis_lock,
            redis_cache.Publisher(self.client, interval=self.interval, now=now) as out,
        ):
            self._encode_into(out, snapshot, histories)
            if self.lease_lost.is_set():  # another worker may be publishing: ours goes
                raise RefreshAborted("the lease went to another worker")
            return out.commit()

    def _encode_into(
        self, out: redis_cache.Publisher, snapshot: Snapshot, histories: HistoryResult
    ) -> None:
        """Encode the snapshot straight into the open publish transaction.

        Each gateway's and each peer-path list's bytes leave as they are made, the big
        documents a megabyte at a time as they grow, while the snapshot's compact records
        are released one by one: at 10,000 gateways the worker never holds the snapshot
        twice, nor any whole document but the page's table.
        """
        volumes = histories.volumes
        head = gateways_payload_head(snapshot)

        def peer_path_bodies() -> Iterator[tuple[str, bytes]]:
            """Each gateway's peer paths encoded once: its own key and the whole document."""
            for (gateway_id, mac), paths in drain_peer_paths(snapshot):
                body = redis_cache.encode_json(paths)
                out.peer_paths(gateway_id, mac, body)
                yield gateway_id, body

        with out.document(Dataset.VPN_PEERS_ALL) as document:
            redis_cache.write_json_object(document, peer_path_bodies())
        table = GatewayRows(snapshot.sites)
        circuit_rows = CircuitRows(snapshot.sites)

        def gateway_bodies(export: redis_cache.CsvEncoder) -> Iterator[bytes]:
            """Each gateway encoded once: its own key and the payload share the bytes."""
            for record in drain_gateway_records(snapshot, volumes):
                table.add(record)
                for row in circuit_rows.of(record):
                    export.add(row)
                body = redis_cache.encode_json(record)  # bytes count as encoded: no copy
                out.gateway(record["id"], body)
                yield body

        with out.document(Dataset.GATEWAYS) as payload, out.document(Dataset.EXPORT_CSV) as csv:
            export = redis_cache.CsvEncoder(CSV_COLUMNS, csv)
            redis_cache.write_json_document(payload, head, "gateways", gateway_bodies(export))
        out.served(Dataset.GATEWAY_ROWS, redis_cache.encode_json(table.document(head)))
        with out.document(Dataset.INSIGHTS_ALL) as document:
            redis_cache.write_json_object(document, insights_records(snapshot, volumes))
        out.served(Dataset.ORG, redis_cache.encode_json(snapshot.org))
        out.served(Dataset.SITES, redis_cache.encode_json(snapshot.sites))
        for port, write in histories.writes.items():
            out.history_write(port, write)

    # ------------------------------------------------------------ config (hourly, cached)

    def _cached_config(self, kind: str) -> Any:
        try:
            return redis_cache.read_config(self.client, kind)
        except redis.RedisError:
            return None

    def _config_due(self, now: float) -> bool:
        fetched_at = self._cached_config("fetched_at")
        cached = self._cached_config("inventory")
        return (
            not isinstance(fetched_at, int | float)
            or cached is None
            or (now - fetched_at >= CONFIG_MAX_AGE)
        )

    def _configs(self, org_id: str, fetched: dict[str, Fetched], now: float) -> dict[str, Any]:
        """Fresh config when it was due and fetched, else the cached copy (rare changes)."""
        configs: dict[str, Any] = {}
        fresh: dict[str, Any] = {}
        shapes = {
            "templates": TEMPLATE_FIELDS,
            "profiles": TEMPLATE_FIELDS,
            "inventory": INVENTORY_FIELDS,
        }
        for kind in CONFIG_STREAMS:
            if kind in fetched:
                items = [
                    _config_subset(item, shapes[kind])
                    for item in fetched[kind].items
                    if isinstance(item, dict)
                ]
                configs[kind] = fresh[kind] = items
            else:
                configs[kind] = self._cached_config(kind) or []
        if len(fresh) == len(CONFIG_STREAMS):
            fresh["fetched_at"] = now
        if fresh:
            with self._redis_lock:
                redis_cache.write_configs(self.client, fresh)
        return configs | {"org_id": org_id}

    def _device_configs(
        self, configs: Mapping[str, Any]
    ) -> tuple[dict[str, dict[str, Any]], Fetched, str | None]:
        """Cached device configs, refreshed for gateways whose inventory entry moved (capped).

        Runs on a stream thread, so it reports (devices, cost, error) instead of touching status.
        """
        cached = self._cached_config("devices")
        devices: dict[str, dict[str, Any]] = cached if isinstance(cached, dict) else {}
        inventory = [item for item in configs.get("inventory") or [] if item.get("site_id")]
        known = {item.get("id") for item in inventory}
        stale = [
            item
            for item in inventory
            if item.get("id") not in devices
            or devices[item["id"]].get("modified_time") != item.get("modified_time")
        ]
        cap = device_config_cap(self.interval) * max(1, self.mist.tokens_available())
        counter = CallCounter()
        started = time.monotonic()
        futures = {
            item["id"]: self._fanout.submit(
                self.mist.device_config, item["site_id"], item["id"], counter
            )
            for item in stale[:cap]
        }
        modified = {item["id"]: item.get("modified_time") for item in stale[:cap]}
        errors = 0
        last_error = ""
        for gateway_id, future in futures.items():
            try:
                config = future.result()
            except MistError as error:
                errors += 1
                last_error = str(error)
                continue
            devices[gateway_id] = {
                "modified_time": modified.get(gateway_id),
                "config": _config_subset(config, DEVICE_FIELDS),
            }
        devices = {
            gateway_id: entry for gateway_id, entry in devices.items() if gateway_id in known
        }
        if futures:
            with self._redis_lock:
                redis_cache.write_configs(self.client, {"devices": devices})
        if len(stale) > cap:
            log.info("device_configs: %d more to fetch in later refreshes", len(stale) - cap)
        return (
            devices,
            Fetched(list(futures), counter.calls, time.monotonic() - started),
            f"{errors} failed, last: {last_error}" if errors else None,
        )

    # ------------------------------------------------------------ traffic history

    def _histories(self, snapshot: Snapshot, now: float) -> HistoryResult:
        """Add this refresh's counters to every WAN port's history, backfill a capped few.

        The usual port needs only its home key: its state takes the new counters and one
        record is appended. A port that is new, due for a `:fine` trim, waiting for backfill
        or back from a long gap has its whole history read, in chunks, so a 10,000-gateway
        org never holds every port's week of samples as Python objects at once.
        """
        started = time.monotonic()
        result = HistoryResult()
        cap = backfill_cap(self.interval) * max(1, self.mist.tokens_available())
        ports_to_fill = max(1, cap if self.mist.insights_keyed else cap // 2)
        candidates: list[tuple[Circuit, history.PortHistory, tuple[int, int]]] = []
        waiting = new_ports = whole_reads = 0
        for first in range(0, len(snapshot.circuits), HISTORY_CHUNK):
            chunk = snapshot.circuits[first : first + HISTORY_CHUNK]
            with self._redis_lock:
                states = redis_cache.read_history_states(
                    self.client, [(c.gateway_id, c.port_id) for c in chunk]
                )
            whole: list[Circuit] = []
            for circuit in chunk:
                port = (circuit.gateway_id, circuit.port_id)
                stored_state = states.get(port)
                new_ports += port not in states
                planned = (
                    redis_cache.plan_counters_write(
                        redis_cache.history_key(*port),
                        stored_state,
                        now=now,
                        interval=self.interval,
                        rx_bytes=circuit.rx_bytes,
                        tx_bytes=circuit.tx_bytes,
                    )
                    if stored_state is not None
                    else None
                )
                if planned is None:
                    whole.append(circuit)
                    continue
                write, state = planned
                result.volumes[port] = history.volume_of_hours(state.hourly, now=now)
                if write is not None:
                    result.writes[port] = write
            if not whole:
                continue
            whole_reads += len(whole)
            ports = [(c.gateway_id, c.port_id) for c in whole]
            with self._redis_lock:
                stored = redis_cache.read_stored_histories(self.client, ports)
            result.stored.update(stored)  # finish() takes each back: what the keys hold now
            for circuit, port in zip(whole, ports, strict=True):
                port_stored = stored.get(port)
                port_history = history.add_counters(
                    port_stored.history if port_stored else None,
                    ts=now,
                    rx_bytes=circuit.rx_bytes,
                    tx_bytes=circuit.tx_bytes,
                )
                window = history.backfill_window(port_history, now=now) if circuit.site_id else None
                if window is not None and len(candidates) < ports_to_fill:
                    candidates.append((circuit, port_history, window))
                    continue
                waiting += window is not None
                result.finish(
                    port, port_history, now, self.interval, needs_backfill=window is not None
                )
        log.info(
            "history: %d ports (%d new, %d read whole), %.2f s",
            len(snapshot.circuits),
            new_ports,
            whole_reads,
            time.monotonic() - started,
        )
        self._phase("backfill", self.status.done, self.status.total)
        self._backfill(candidates, result, now)
        if waiting:
            log.info("backfill: %d ports left for later refreshes", waiting)
        return result

    def _backfill(
        self,
        candidates: list[tuple[Circuit, history.PortHistory, tuple[int, int]]],
        result: HistoryResult,
        now: float,
    ) -> None:
        """Fill holes from Mist insights, within a tenth of each token's hourly budget.

        The first port goes alone while Mist's answer shape is unknown (a refused two-metric
        call costs one more); the rest go concurrently, as many as the calls left allow.
        """
        counter = CallCounter()
        started = time.monotonic()
        budget = backfill_cap(self.interval) * max(1, self.mist.tokens_available())

        def fill(item: tuple[Circuit, history.PortHistory, tuple[int, int]]) -> Any:
            circuit, _, window = item
            return self.mist.port_insights(
                circuit.site_id or "",
                circuit.gateway_id,
                circuit.port_id,
                start=window[0],
                end=window[1],
                counter=counter,
            )

        outcomes: list[Future[Any] | None] = []
        if candidates and not self.mist.insights_shape_known:
            probe: Future[Any] = Future()
            try:
                probe.set_result(fill(candidates[0]))
            except MistError as error:
                probe.set_exception(error)
            outcomes.append(probe)
        per_port = 1 if self.mist.insights_keyed else 2
        room = max(0, (budget - counter.calls) // per_port)
        rest = candidates[len(outcomes) :]
        outcomes += [self._fanout.submit(fill, item) for item in rest[:room]]
        outcomes += [None] * (len(rest) - min(room, len(rest)))  # over budget: next refresh
        errors: list[str] = []
        filled = 0
        for (circuit, port_history, window), outcome in zip(candidates, outcomes, strict=True):
            pending = True
            if outcome is not None:
                try:
                    points, step = outcome.result()
                    port_history = history.merge_backfill(
                        port_history, points=points, step=step, now=now, window=window
                    )
                    filled += 1
                    pending = False
                except MistError as error:
                    errors.append(str(error))
            result.finish(
                (circuit.gateway_id, circuit.port_id),
                port_history,
                now,
                self.interval,
                needs_backfill=pending,
            )
        self._record(
            "backfill",
            Fetched([None] * filled, counter.calls, time.monotonic() - started),
            f"{len(errors)} failed, last: {errors[-1]}" if errors else None,
        )

    # ------------------------------------------------------------ running

    def tick(self) -> None:
        """Every second: take (or keep) the lease and refresh when the interval has passed."""
        if self.stop_requested.is_set() or not self.acquire_lease():
            return
        last = self.status.last_attempt
        stored = self._safe(redis_cache.read_status)
        if stored and isinstance(stored.get("last_attempt"), int | float):
            last = max(last or 0.0, float(stored["last_attempt"]))
        if last is None or self.clock() - last >= self.interval:
            self.refresh()


def _consumed(items: list[Any]) -> Iterator[Any]:
    """The items in order, each dropped from the list as it is taken (a gateway's stats
    leave memory as soon as its record is built, not after the whole build)."""
    items.reverse()
    while items:
        yield items.pop()


def _give_back_memory() -> None:
    """Collect cycles and hand freed heap pages back to the OS between the big phases.

    Peak RSS is what a 10,000-gateway org costs the host: freed raw Mist lists should make
    room for what comes next instead of sitting in the allocator.
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only; musl has none
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()
_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def _tune_malloc() -> None:
    """Big blocks (pages of Mist JSON, the encoded documents) straight from the OS and back.

    glibc raises its mmap threshold each time it frees a big mapped block (up to 32 MB);
    the next big blocks then come from the heap, where they leave holes malloc_trim cannot
    give back: about 40 MB of peak RSS at 10,000 gateways. A fixed threshold keeps them out.
    """
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 1 << 20)


# ---------------------------------------------------------------- command line


def _heartbeat_loop(worker: Worker, stop: threading.Event) -> None:
    period = min(redis_cache.HEARTBEAT_PERIOD, max(0.5, worker.lease_seconds / 3))
    while not stop.wait(period):
        worker.heartbeat()


def _install_signals(worker: Worker) -> None:
    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the current phase", signum)
        worker.stop_requested.set()
        worker.mist.cancelled.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def _start(worker: Worker) -> None:
    """Org detection; a token Mist refuses, or an org we cannot choose, is a setting error.

    Anything else (Mist unreachable) is left to the refresh, which records it in the status.
    """
    try:
        worker.ensure_org()
    except OrgChoiceError as error:
        fail("MIST_ORG_ID", str(error))
    except MistError as error:
        if error.status in (401, 403):
            fail("MIST_API_TOKEN", f"Mist refused the token(s): {error}")
        log.warning("org detection failed, the refresh will retry: %s", error)


def run_once(worker: Worker) -> int:
    if not worker.acquire_lease():
        owner = worker._safe(redis_cache.lock_owner)
        log.error("the lease is held by %s; not refreshing", owner or "? (Redis unreachable)")
        return 1
    beat_stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(worker, beat_stop), daemon=True)
    beat.start()
    try:
        worker.heartbeat()
        _start(worker)
        return 0 if worker.refresh() else 1
    finally:
        beat_stop.set()
        worker.release_lease()


def run_forever(worker: Worker) -> int:
    beat_stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(worker, beat_stop), daemon=True)
    beat.start()
    worker.heartbeat()
    schedule.clear()
    schedule.every(1).seconds.do(worker.tick)
    log.info("worker %s running every %d s", worker.worker_id, worker.interval)
    started = False
    try:
        while not worker.stop_requested.is_set():
            if not started and worker.acquire_lease():
                _start(worker)
                started = True
            if started:
                schedule.run_pending()
            worker.stop_requested.wait(0.5)
    finally:
        beat_stop.set()
        worker.release_lease()
        schedule.clear()
    log.info("worker stopped")
    return 0


def healthcheck() -> int:
    """Exit 0 when the heartbeat in Redis is fresh (≤ 3 heartbeat periods), else 1."""
    web = load_or_exit(load_web_settings)
    try:
        client = redis_cache.connect(web.redis_url)
        beat = redis_cache.read_heartbeat(client)
    except redis.RedisError as error:
        print(f"unhealthy: Redis: {error}", file=sys.stderr)
        return 1
    if beat is None or time.time() - beat > 3 * redis_cache.HEARTBEAT_PERIOD:
        print("unhealthy: no fresh worker heartbeat", file=sys.stderr)
        return 1
    print("healthy")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MistCircuitStats worker")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one refresh, then exit")
    mode.add_argument("--healthcheck", action="store_true", help="exit 0 if heartbeat fresh")
    parser.add_argument("--lease-seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.healthcheck:
        return healthcheck()
    settings = load_or_exit(load_worker_settings)
    configure_logging(settings.log_level)
    _tune_malloc()
    redactor = TokenRedactor(settings.tokens)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    worker = Worker(settings, lease_seconds=args.lease_seconds)
    _install_signals(worker)
    try:
        return run_once(worker) if args.once else run_forever(worker)
    finally:
        worker.close()


if __name__ == "__main__":
    sys.exit(main())
