"""Several orgs, one deployment: each refresh cycle reads every org, each published on its own.

The orgs come from `mist.orgs.OrgCatalog` (one paged MSP listing per MSP and cycle names
them all). Each org runs the same pipeline as a single-org deployment, under its own keys
(`store.keys.org_keyspace`), staged and switched on its own: an org that fails (403, 404,
5xx, a malformed answer) publishes nothing, keeps its last-good copy and says why in its own
status, and the others go on. Orgs run in parallel, a few per token with budget. After the
cycle the overview (`views.orgs`) and the org index go live with the worker's status.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import redis

from mist.connection import MistConnection
from mist.errors import MistError
from mist.orgs import OrgCatalog, OrgCycle
from mist.streams import Fetched
from refresh.configs import ConfigCache, device_config_cap
from refresh.lease import Lease
from refresh.overview import overview_bytes, summary_of
from refresh.pipeline import OrgScope, Parts, Pipeline, RefreshAborted
from refresh.status import Redactor, RefreshStatus
from store.keys import Keyspace, org_keyspace
from store.lease import LeaseLost
from store.overview import index_document, publish_overview
from store.status import read_status, write_status
from traffic.step import TrafficStep, backfill_cap
from views.orgs import OrgSummary

log = logging.getLogger("worker")

ORGS_PER_TOKEN = 4  # orgs refreshed at once per token with budget
MAX_PARALLEL_ORGS = 8


class Host(Protocol):
    """What the cycle needs of the worker that runs it."""

    client: redis.Redis
    mist: MistConnection
    lease: Lease
    interval: int
    redactor: Redactor
    status: RefreshStatus
    stop_requested: threading.Event
    pipeline: Pipeline


def parallel_orgs(orgs: int, tokens: int) -> int:
    """How many orgs run at once: a few per token with budget, bounded."""
    return max(1, min(orgs, MAX_PARALLEL_ORGS, ORGS_PER_TOKEN * max(1, tokens)))


def backfill_share(total: int, orgs: int, position: int, cycle: int) -> int:
    """An org's part of the refresh's backfill calls: shared out evenly, the remainder
    (or all of it, when there are more orgs than calls) going round the orgs by cycle."""
    if orgs <= 0:
        return 0
    share, extra = divmod(total, orgs)
    return share + (1 if (position - cycle) % orgs < extra else 0)


class Allowance:
    """Calls a cycle may spend on one kind of catch-up, first come first served by the orgs
    (an org with 5,000 new gateways does not wait for 199 orgs' unused shares)."""

    def __init__(self, calls: int) -> None:
        self._left = calls
        self._lock = threading.Lock()

    def take(self, wanted: int) -> int:
        with self._lock:
            granted = max(0, min(wanted, self._left))
            self._left -= granted
            return granted


class _SharedConfigs(ConfigCache):
    """The org's config cache, its device-config reads taken from the cycle's allowance."""

    def __init__(self, base: ConfigCache, keyspace: Keyspace, allowance: Allowance) -> None:
        self.__dict__.update(base.__dict__)
        self.keyspace = keyspace
        self._allowance = allowance

    def device_cap(self, wanted: int) -> int:
        return self._allowance.take(wanted)


class _SharedTraffic(TrafficStep):
    """The traffic step with the org's share of the backfill budget (not a whole one)."""

    def __init__(self, base: TrafficStep, budget: int) -> None:
        self.__dict__.update(base.__dict__)
        self._share = budget

    def _budget(self) -> int:
        return self._share


@dataclass
class OrgReport:
    """One org's reporter (refresh.pipeline.Reporter): its status, datasets and calls."""

    host: Host
    org_id: str
    status: RefreshStatus
    started: float = field(default_factory=time.monotonic)
    calls: int = 0
    pipeline: Pipeline | None = None
    name: str | None = None

    def phase(self, phase: str, done: int, total: int) -> None:
        if self.host.stop_requested.is_set():
            raise RefreshAborted("stop requested (SIGTERM)")
        if self.host.lease.lost.is_set():
            raise RefreshAborted("the lease went to another worker")
        self.status.phase, self.status.done, self.status.total = phase, done, total

    def record(self, name: str, fetched: Fetched | None, error: str | None = None) -> None:
        self.calls += fetched.calls if fetched else 0
        self.status.datasets[name] = {
            "items": len(fetched.items) if fetched else 0,
            "calls": fetched.calls if fetched else 0,
            "seconds": round(fetched.seconds, 3) if fetched else 0.0,
            "error": None if error is None else self.host.redactor.redact(error),
        }
        if error:
            log.warning(
                "org %s: %s: failed: %s", self.org_id, name, self.host.redactor.redact(error)
            )

    def rejected(self, samples: int) -> None:
        self.status.rejected_samples = samples

    def stopping(self) -> bool:
        return self.host.stop_requested.is_set()

    def published_status(self, now: float) -> dict[str, Any]:
        """The org's status, live with its snapshot: its calls, counts and no error."""
        status = self.status
        status.status, status.phase, status.last_update = "idle", None, now
        status.last_error = status.last_error_at = None
        status.calls_last_refresh = self.calls
        status.refresh_seconds = round(time.monotonic() - self.started, 3)
        status.tokens = self.host.mist.token_status()
        status.rate_limited = self.host.mist.rate_limited
        summary = self.pipeline.summary if self.pipeline else None
        self.name = (self.pipeline.org_name if self.pipeline else None) or self.name
        status.extra = {"org_id": self.org_id, "name": self.name, "summary": summary}
        return status.document()


class MultiOrgRefresh:
    """Runs one cycle over every org; keeps each org's status between cycles."""

    def __init__(self, host: Host, catalog: OrgCatalog, parts: Parts) -> None:
        self.host = host
        self.catalog = catalog
        self.parts = parts
        self.statuses: dict[str, RefreshStatus] = {}
        self.cycles = 0

    def _status_of(self, org_id: str) -> RefreshStatus:
        if org_id not in self.statuses:
            keyspace = org_keyspace(org_id)
            try:
                stored = read_status(self.host.client, keyspace)
            except redis.RedisError:
                stored = None
            resumed = RefreshStatus.resume(self.host.interval, stored)
            if stored:
                resumed.extra = {k: stored.get(k) for k in ("org_id", "name", "summary")}
            self.statuses[org_id] = resumed
        return self.statuses[org_id]

    def run(self, now: float) -> bool:
        """Every org once; True when every org published."""
        cycle = self.catalog.cycle()
        for error in cycle.errors:
            log.warning("org listing: %s", self.host.redactor.redact(error))
        orgs = list(cycle.orgs)
        if not orgs and cycle.errors:  # nothing listed yet: a failed refresh, not an empty MSP
            raise MistError(cycle.errors[0])
        tokens = max(1, self.host.mist.tokens_available())
        budget = backfill_cap(self.host.interval) * tokens
        devices = Allowance(device_config_cap(self.host.interval) * tokens)
        workers = parallel_orgs(len(orgs), tokens)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="org") as pool:
            futures = {
                org_id: pool.submit(
                    self._one,
                    OrgScope(org_id, org_keyspace(org_id), cycle.orgs[org_id], multi=True),
                    now,
                    backfill_share(budget, len(orgs), position, self.cycles),
                    devices,
                )
                for position, org_id in enumerate(orgs)
            }
            results = {org_id: future.result() for org_id, future in futures.items()}
        self.cycles += 1  # memory goes back after the cycle (refresh.memory)
        self._finish(cycle, results, now)
        return all(results.values()) and not cycle.errors

    def _one(self, scope: OrgScope, now: float, backfill: int, devices: Allowance) -> bool:
        """One org's refresh; its failure is its own (status, events), never the cycle's."""
        status = self._status_of(scope.org_id)
        status.status, status.last_attempt, status.datasets = "running", now, {}
        report = OrgReport(self.host, scope.org_id, status)
        report.name = (scope.record or {}).get("name") or status.extra.get("name")
        parts = replace(
            self.parts,
            configs=_SharedConfigs(self.parts.configs, scope.keyspace, devices),
            traffic=_SharedTraffic(self.parts.traffic, backfill),
            trim_memory=False,  # a full collection per org would cost more than the org
        )
        report.pipeline = pipeline = Pipeline(parts, report)
        try:
            pipeline.run(scope, now)
        except RefreshAborted as reason:
            log.warning("org %s: refresh abandoned: %s", scope.org_id, reason)
            status.status, status.phase = ("idle" if status.last_update else "error"), None
            return False
        except (MistError, redis.RedisError, LeaseLost, Exception) as error:  # its own failure
            self._failed(scope, report, error, now)
            return False
        log.info("org %s published: %d Mist calls", scope.org_id, report.calls)
        return True

    def _failed(self, scope: OrgScope, report: OrgReport, error: Exception, now: float) -> None:
        status = report.status
        message = self.host.redactor.redact(str(error) or type(error).__name__)
        if isinstance(error, redis.RedisError):
            message = f"Redis: {message}"
        elif not isinstance(error, MistError):
            log.exception("org %s: refresh failed unexpectedly", scope.org_id)
        log.error("org %s: refresh failed: %s", scope.org_id, message)
        status.status, status.phase = "error", None
        status.last_error, status.last_error_at = message, now
        status.calls_last_refresh = report.calls
        status.extra = {**status.extra, "org_id": scope.org_id, "name": report.name}
        try:
            write_status(self.host.client, status.document(), scope.keyspace)
        except redis.RedisError as failure:
            log.warning("org %s: could not write its status: %s", scope.org_id, failure)
        self.parts.events.failed(
            scope.org_id,
            now,
            exhausted=self.host.mist.tokens_available() == 0,
            last_update=status.last_update,
        )

    def _finish(self, cycle: OrgCycle, results: dict[str, bool], now: float) -> None:
        """The worker's status (per-org calls and the total), the overview and the index."""
        main = self.host.status
        failed = [org_id for org_id, ok in results.items() if not ok]
        main.status, main.phase = ("error" if failed or cycle.errors else "idle"), None
        main.calls_last_refresh = self.host.mist.calls_this_refresh
        main.tokens = self.host.mist.token_status()
        main.rate_limited = self.host.mist.rate_limited
        if any(results.values()):
            main.last_update = now
        if failed or cycle.errors:
            first = self.statuses[failed[0]].last_error if failed else None
            main.last_error = _failure_text(failed, len(results), first, cycle.errors)
            main.last_error = self.host.redactor.redact(main.last_error)
            main.last_error_at = now
        main.extra = {"listing_calls": cycle.calls, "orgs": self._org_rows(list(results))}
        summaries = [self._summary(org_id) for org_id in results]
        self.host.status.datasets = {}
        try:
            publish_overview(
                self.host.client,
                interval=self.host.interval,
                now=now,
                owner=self.host.lease.owner,
                overview=overview_bytes(summaries, now, self.host.interval),
                index=index_document(list(results), multi=True),
                last_update=now if any(results.values()) else None,
                status=main.document(),
            )
        except (redis.RedisError, LeaseLost) as error:
            log.warning("could not publish the org overview: %s", error)

    def _org_rows(self, orgs: list[str]) -> list[dict[str, Any]]:
        rows = []
        for org_id in orgs:
            status = self.statuses[org_id]
            rows.append(
                {
                    "org_id": org_id,
                    "name": status.extra.get("name"),
                    "status": status.status,
                    "calls_last_refresh": status.calls_last_refresh,
                    "last_update": status.last_update,
                    "last_error": status.last_error if status.status == "error" else None,
                }
            )
        return rows

    def _summary(self, org_id: str) -> OrgSummary:
        status = self.statuses[org_id]
        return summary_of(
            org_id,
            status.extra.get("name"),
            status.extra.get("summary"),
            status.last_update,
            status.last_error if status.status == "error" else None,
        )


def _failure_text(failed: list[str], total: int, first: str | None, listing: list[str]) -> str:
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {total} orgs failed (org {failed[0]}: {first})")
    parts.extend(f"org listing: {error}" for error in listing[:1])
    return "; ".join(parts)
