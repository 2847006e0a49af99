"""One refresh as a short pipeline: fetch from Mist → build the snapshot → traffic → publish.

A failed step raises and publishes nothing, so the web keeps serving the last good snapshot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import redis

from mist.connection import MistConnection
from mist.errors import MistError
from mist.streams import Fetched
from model.items import gateway_stat, peer_path, port_stat
from model.port_config import PortConfig, index_port_configs
from model.sle import attach as attach_sle
from model.sle import site_sle
from model.snapshot import Snapshot, build_snapshot
from refresh.configs import ConfigCache, DeviceConfigs
from refresh.events import EventStep
from refresh.lease import Lease
from refresh.memory import consumed, give_back_memory
from refresh.overview import stage_single_overview
from refresh.sle import SleCache
from refresh.writer import MetricsDocuments, write_snapshot
from store.keys import DEFAULT_KEYSPACE, Keyspace
from store.lease import LeaseLost
from store.publisher import Publisher
from traffic.step import TrafficResult, TrafficStep
from views.payload import summarize
from views.worst import WorstFigures

log = logging.getLogger("worker")

PortConfigs = dict[str, dict[str, PortConfig]]
STREAMS = ("org", "sites", "gateways", "ports", "peer_paths")


@dataclass(frozen=True)
class OrgScope:
    """Which org a refresh reads and where it publishes: the seed's keys for a single-org
    deployment; in a multi-org one the org's own keys, with its record from the MSP listing
    when there is one (no `GET /orgs/{id}` then), else asked for hourly with the configs."""

    org_id: str
    keyspace: Keyspace = DEFAULT_KEYSPACE
    record: dict[str, Any] | None = None
    multi: bool = False


class RefreshAborted(Exception):
    """The refresh stopped on purpose (SIGTERM, or the lease went to another worker)."""


class Reporter(Protocol):
    """Where the pipeline says how far it got (the worker's status document)."""

    def phase(self, phase: str, done: int, total: int) -> None: ...
    def record(self, name: str, fetched: Fetched | None, error: str | None = None) -> None: ...
    def rejected(self, samples: int) -> None: ...
    def stopping(self) -> bool: ...
    def published_status(self, now: float) -> dict[str, Any]: ...


@dataclass
class Parts:
    """What a refresh runs with (built once by the worker)."""

    client: redis.Redis
    redis_lock: threading.Lock
    mist: MistConnection
    lease: Lease
    configs: ConfigCache
    traffic: TrafficStep
    pool: Executor
    interval: int
    events: EventStep
    metrics_peer_paths: str = "summary"  # METRICS_PEER_PATHS
    trim_memory: bool = True  # give memory back after each step (a multi-org cycle: once)


class Pipeline:
    """Runs one refresh with the worker's parts, telling `report` about each phase."""

    def __init__(self, parts: Parts, report: Reporter) -> None:
        self.parts = parts
        self.report = report
        self.summary: dict[str, int] | None = None  # the last snapshot's counts (the overview)
        self.org_name: str | None = None

    def _org_job(self, scope: OrgScope, config_due: bool) -> Callable[[str], Fetched]:
        """`GET /orgs/{id}` every refresh for one org; in a multi-org deployment the MSP's
        record, else the cached one, asked again only with the configs (hourly)."""
        mist, configs = self.parts.mist, self.parts.configs
        record = scope.record or (None if config_due or not scope.multi else configs.org_record())
        if record is not None:
            return lambda _org_id: Fetched([record], 0, 0.0)
        if not scope.multi:
            return mist.org

        def fetch_and_keep(org_id: str) -> Fetched:
            fetched = mist.org(org_id)
            configs.keep_org_record(fetched.items[0])
            return fetched

        return fetch_and_keep

    def _jobs(self, config_due: bool, scope: OrgScope) -> dict[str, Callable[[str], Fetched]]:
        mist = self.parts.mist
        jobs: dict[str, Callable[[str], Fetched]] = {
            "org": self._org_job(scope, config_due),
            "sites": mist.sites,
            # Each item is cut to its compact form as its page arrives (see model/items.py).
            "gateways": partial(mist.gateway_stats, trim=gateway_stat),
            "ports": partial(mist.port_stats, trim=port_stat),
            "peer_paths": partial(mist.peer_paths, trim=peer_path),
        }
        if config_due:
            jobs.update(
                templates=mist.gateway_templates,
                profiles=mist.device_profiles,
                inventory=mist.inventory,
            )
        return jobs

    def run(self, org: str | OrgScope, now: float) -> int:
        """Fetch, build and publish one snapshot of `org` (an id: the single-org keys);
        returns the keys written."""
        scope = org if isinstance(org, OrgScope) else OrgScope(org)
        org_id = scope.org_id
        configs = self.parts.configs
        config_due = configs.due(now)
        jobs = self._jobs(config_due, scope)
        self.sle = SleCache(self.parts.client, self.parts.redis_lock, scope.keyspace)  # hourly
        jobs["mist_events"] = partial(self.parts.events.read_mist, self.parts.mist, now)
        sle_due = self.sle.due(now)
        if sle_due:
            jobs["sle"] = self.sle.job(partial(self.parts.mist.site_sles, trim=site_sle), now)
        total = len(jobs) + 3
        self.report.phase("fetch", 0, total)
        cached: dict[str, Any] | None = None
        device_job: Future[tuple[DeviceConfigs, Fetched, str | None]] | None = None
        # the events' state, read once for this refresh (Mist's read, troubled configs first)
        read_devices = partial(
            configs.device_configs, events_state=partial(self.parts.events.previous, org_id, now)
        )
        if not config_due:  # steady state: device configs need only the cached inventory
            cached = configs.configs(org_id, {}, now)
            device_job = self.parts.pool.submit(read_devices, cached)
        fetched, done = self._fetch(jobs, org_id, total)
        fetched.pop("sle", None)  # kept in Redis by its job: the state below has it
        sle = self.sle.state()
        config = cached or configs.configs(org_id, fetched, now)
        self.report.phase("device_configs", done, total)
        devices, cost, error = (device_job or _now(read_devices, config)).result()
        device_job = None
        self.report.record("device_configs", cost, error)
        self.report.phase("build", done + 1, total)
        port_configs = _port_configs(fetched, config, devices)
        del devices, config, cached  # port_configs has what build needs
        mist_events = fetched.pop("mist_events", None)  # None: the read failed
        snapshot = self._build(fetched, port_configs, now)
        self.summary = summarize(snapshot.records)
        self.org_name = snapshot.org.get("name")
        del port_configs
        attach_sle(snapshot.sites, sle)
        derived, conditions = self.parts.events.derive(snapshot, org_id, mist_events)
        self.report.phase("history", done + 2, total)
        traffic = self._traffic(snapshot, org_id, now, done + 2, total)
        self.report.phase("publish", done + 3, total)
        return self._publish(
            snapshot,
            traffic,
            now,
            lambda out, metrics: self.parts.events.publish(
                out, org_id, derived, conditions, now, metrics
            ),
            scope.keyspace,
            overview=None if scope.multi else org_id,
        )

    def _fetch(
        self, jobs: Mapping[str, Callable[[str], Fetched]], org_id: str, total: int
    ) -> tuple[dict[str, Fetched], int]:
        """Every stream at once; the first failed snapshot stream fails the refresh."""
        pending = {self.parts.pool.submit(job, org_id): name for name, job in jobs.items()}
        fetched: dict[str, Fetched] = {}
        first_error: MistError | None = None
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                name = pending.pop(future)
                try:
                    fetched[name] = future.result()
                    self.report.record(name, fetched[name])
                except MistError as error:
                    self.report.record(name, None, str(error))
                    if name in STREAMS and first_error is None:
                        first_error = error
                self.report.phase(f"fetch:{name}", len(jobs) - len(pending), total)
            if pending and self.report.stopping():
                raise RefreshAborted("stop requested (SIGTERM)")
        if first_error is not None:
            raise first_error
        return fetched, len(jobs)

    def _build(
        self, fetched: dict[str, Fetched], port_configs: PortConfigs, now: float
    ) -> Snapshot:
        """The snapshot; the raw Mist lists are released as it is built."""
        started = time.monotonic()
        snapshot = build_snapshot(
            org=fetched["org"].items[0],
            sites=fetched["sites"].items,
            gateway_stats=consumed(fetched["gateways"].items),
            port_stats=fetched["ports"].items,
            peer_paths=fetched["peer_paths"].items,
            port_configs=port_configs,
            now=now,
        )
        fetched.clear()  # the raw Mist lists are done with: let history and publish reuse it
        if self.parts.trim_memory:
            give_back_memory()
        log.info(
            "build: %d gateways, %d circuits, %d peer path groups, %.2f s",
            len(snapshot.records),
            len(snapshot.circuits),
            len(snapshot.paths),
            time.monotonic() - started,
        )
        return snapshot

    def _traffic(
        self, snapshot: Snapshot, org_id: str, now: float, done: int, total: int
    ) -> TrafficResult:
        result, backfill = self.parts.traffic.run(
            snapshot.circuits,
            now,
            org_id=org_id,
            before_backfill=lambda: self.report.phase("backfill", done, total),
        )
        self.report.rejected(len(result.rejected))
        filled = Fetched([None] * backfill.filled, backfill.calls, backfill.seconds)
        self.report.record("backfill", filled, backfill.error)
        if self.parts.trim_memory:
            give_back_memory()
        return result

    def _publish(
        self,
        snapshot: Snapshot,
        traffic: TrafficResult,
        now: float,
        events: Callable[[Publisher, MetricsDocuments], WorstFigures | None],
        keyspace: Keyspace = DEFAULT_KEYSPACE,
        overview: str | None = None,
    ) -> int:
        """Everything staged, then switched live at once, only while we still hold the lease;
        with `overview` (a single-org deployment's org) its one-org overview and index too."""
        parts = self.parts
        if not parts.lease.held or not parts.lease.acquire():
            raise RefreshAborted("the lease went to another worker")
        with (
            parts.redis_lock,
            Publisher(
                parts.client,
                interval=parts.interval,
                now=now,
                owner=parts.lease.owner,
                keyspace=keyspace,
            ) as out,
        ):
            try:  # fenced: paused past our lease, no write of ours is applied
                metrics = MetricsDocuments(out, parts.metrics_peer_paths)
                # the events' availability first: the worst circuits rank by its figures
                counted = events(out, metrics)
                write_snapshot(out, snapshot, traffic, metrics, availability=counted)
                status = self.report.published_status(now)
                if overview is not None:
                    stage_single_overview(out, overview, self.org_name, self.summary, now)
                metrics.finish(status, parts.mist.call_totals())
                log.info("metrics: built in %.2f s", metrics.seconds)
                if parts.lease.lost.is_set():  # another worker may be publishing: ours goes
                    raise RefreshAborted("the lease went to another worker")
                return out.commit(status)
            except LeaseLost as lost:  # lapsed while busy: ours again, the next refresh publishes
                if parts.lease.confirm():
                    raise RefreshAborted("the lease lapsed during the publish") from lost
                raise RefreshAborted("the lease went to another worker") from lost


def _now(job: Callable[[Any], Any], argument: Any) -> Future[Any]:
    """A job run on this thread, as a finished future."""
    future: Future[Any] = Future()
    future.set_result(job(argument))
    return future


def _port_configs(
    fetched: Mapping[str, Fetched], configs: Mapping[str, Any], devices: DeviceConfigs
) -> PortConfigs:
    return index_port_configs(
        sites=fetched["sites"].items,
        templates=configs.get("templates") or [],
        profiles=configs.get("profiles") or [],
        inventory=configs.get("inventory") or [],
        device_configs={gateway: entry.get("config") or {} for gateway, entry in devices.items()},
    )
