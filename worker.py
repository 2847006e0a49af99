"""The refresh loop: fetch from Mist → build circuits and history → publish to Redis.

The only process that spends Mist API tokens. One worker at a time holds a lease in Redis
(`mist:lock:worker`); a second one waits and takes over when the lease lapses. A failed refresh
publishes nothing, so the web keeps serving the last good snapshot. The steps live in
`refresh/`; this module runs them and keeps the status document.

    python worker.py               run forever (every WORKER_INTERVAL seconds)
    python worker.py --once        one refresh; exit 0 on success, 1 on failure
    python worker.py --healthcheck exit 0 when this worker's heartbeat is fresh, else 1
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import redis
import schedule

from alerts.rules import load_rules
from alerts.service import Alerts
from mist.connection import MistConnection
from mist.errors import MistError, MistSettingError
from mist.orgs import OrgCatalog
from mist.streams import CallCounter, Fetched
from refresh.configs import ConfigCache
from refresh.events import EventStep
from refresh.lease import Lease
from refresh.memory import collections_between_refreshes, tune_malloc
from refresh.orgs import MultiOrgRefresh
from refresh.pipeline import Parts, Pipeline, RefreshAborted
from refresh.process import (
    healthcheck,
    heartbeat_loop,
    install_signals,
    lower_priority,
    start_backoff,
)
from refresh.status import Redactor, RefreshStatus, record_stream, show_status
from settings import (
    WorkerSettings,
    configure_logging,
    fail,
    load_or_exit,
    load_worker_settings,
)
from store.events import Retention
from store.keys import KEY_LOCK, LEASE_SECONDS
from store.lease import lock_owner
from store.reads import connect
from store.status import read_status, write_status
from traffic.step import TrafficStep

log = logging.getLogger("worker")

ONCE_DRAIN_SECONDS = 10.0  # --once waits this long at most for its alerts to go out


class Worker:
    """One worker process: owns a Mist connection, a Redis client and (maybe) the lease."""

    def __init__(
        self,
        settings: WorkerSettings,
        *,
        client: redis.Redis | None = None,
        connection: MistConnection | None = None,
        lease_seconds: float = LEASE_SECONDS,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.interval = settings.worker_interval
        self.client = client or connect(
            settings.redis_url, timeout=30.0, sentinel=settings.sentinel
        )
        self.mist = connection or MistConnection.from_settings(settings)
        self.clock = clock
        self.org_id: str | None = settings.org_id
        self.stop_requested = threading.Event()
        self.redactor = Redactor(settings.tokens, urls=settings.alerts.urls)
        owner = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._redis_lock = threading.Lock()
        self.lease = Lease(self.client, self._redis_lock, owner, seconds=lease_seconds, clock=clock)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="stream")
        self._fanout = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fanout")
        self.pipeline = Pipeline(self._parts(), self)
        self.status = RefreshStatus.resume(self.interval, self._safe(read_status))
        self.alerts: Alerts | None = None
        if settings.alerts.urls:  # events queue alerts once derived; threads send them
            self.alerts = Alerts(
                self.client, settings.alerts, interval=self.interval, fence=(KEY_LOCK, owner)
            )
            self.pipeline.parts.events.alerts = self.alerts
            self.status.receivers = self.alerts.status
        self._clock_start = time.monotonic()
        self.orgs: MultiOrgRefresh | None = None  # MIST_ORG_ID a list or `*`
        if settings.multi_org:
            catalog = OrgCatalog(self.mist, settings.org_ids, all_orgs=settings.all_orgs)
            self.orgs = MultiOrgRefresh(self, catalog, self.pipeline.parts)

    def _parts(self) -> Parts:
        lock, mist = self._redis_lock, self.mist
        return Parts(
            client=self.client,
            redis_lock=lock,
            mist=mist,
            lease=self.lease,
            configs=ConfigCache(self.client, lock, mist, self._fanout, interval=self.interval),
            traffic=TrafficStep(
                self.client,
                lock,
                mist,
                self._fanout,
                interval=self.interval,
                tokens_available=mist.tokens_available,
                new_counter=CallCounter,
            ),
            pool=self._pool,
            interval=self.interval,
            metrics_peer_paths=self.settings.metrics_peer_paths,
            events=EventStep(
                self.client,
                lock,
                interval=self.interval,
                hold=self.settings.event_hold,
                retention=Retention(max_age=self.settings.event_retention_days * 86400),
            ),
        )

    def _safe(self, read: Callable[[redis.Redis], Any]) -> Any:
        try:
            return read(self.client)
        except redis.RedisError:
            return None

    # ------------------------------------------------------------ what the pipeline reports

    def _write_status(self) -> None:
        self.status.tokens = self.mist.token_status()
        self.status.rate_limited = self.mist.rate_limited
        try:
            with self._redis_lock:
                write_status(self.client, self.status.document())
        except redis.RedisError as error:
            log.warning("could not write status to Redis: %s", error)

    def stopping(self) -> bool:
        return self.stop_requested.is_set()

    def phase(self, phase: str, done: int, total: int) -> None:
        """A new phase (and the place a refresh stops when asked to or when the lease went)."""
        if self.stop_requested.is_set():
            raise RefreshAborted("stop requested (SIGTERM)")
        if self.lease.lost.is_set():
            raise RefreshAborted("the lease went to another worker")
        self.status.phase, self.status.done, self.status.total = phase, done, total
        self._write_status()

    def record(self, name: str, fetched: Fetched | None, error: str | None = None) -> None:
        """One stream's items, calls and time (or its error) in the status document."""
        record_stream(self.status, self.redactor, name, fetched, error)

    def rejected(self, samples: int) -> None:
        """Counter jumps refused this refresh as faster than their port (DATA.md §3.4)."""
        self.status.rejected_samples = samples

    # ------------------------------------------------------------ lease and org

    def acquire_lease(self) -> bool:
        """Take (or keep) the lease. A worker that takes it over goes on from the status the
        holder left: its own view may predate the snapshot served, and /api/status must
        never name older data than /api/gateways serves (the drill saw that happen)."""
        taking_over = not self.lease.held
        if not self.lease.acquire():
            return False
        stored = self._safe(read_status) if taking_over else None
        if stored is not None:
            receivers = self.status.receivers  # this process's own: the alert receivers
            self.status = RefreshStatus.resume(self.interval, stored)
            self.status.receivers = receivers
        return True

    def start(self) -> str:
        """Check the tokens (one `/self` each, even with MIST_ORG_ID set) and settle the org;
        the status then names every token Mist rejected."""
        if self.orgs is not None:
            self.orgs.catalog.start()
            self.org_id = "*"  # settled: the orgs are listed again each cycle
            self._write_status()
            return self.org_id
        self.org_id = self.mist.start(self.settings.org_id)
        if not self.settings.org_id:
            log.info("org detected from the token's privileges: %s", self.org_id)
        self._write_status()
        return self.org_id

    def start_failed(self, error: MistError) -> None:
        """Start-up could not settle tokens and org: say why in the status (a setting error
        before the process exits 2, else before it tries again)."""
        message = self.redactor.redact(str(error) or type(error).__name__)
        self.status.status = "error"
        self.status.last_error = f"start-up: {message}"
        self.status.last_error_at = self.clock()
        self._write_status()

    def ensure_org(self) -> str:
        """The org to read; settled by `start` unless a refresh runs first (tests do)."""
        if self.org_id is None:
            return self.start()
        return self.org_id

    def start_alerts(self) -> None:
        """Delivery threads, sending while this worker holds the lease; a delivery shows the
        receivers' figures at once unless a refresh is running or holds Redis."""
        if self.alerts is not None:
            changed = partial(show_status, self.client, self._redis_lock, lambda: self.status)
            self.alerts.start(may_send=lambda: self.lease.held, on_change=changed)

    def close(self) -> None:
        if self.alerts is not None:
            self.alerts.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._fanout.shutdown(wait=False, cancel_futures=True)
        self.mist.close()

    # ------------------------------------------------------------ one refresh

    def refresh(self) -> bool:
        """Fetch, build and publish one snapshot; on failure keep the old one and say why.
        The cyclic collector waits for the end of it (refresh.memory)."""
        with collections_between_refreshes():
            return self._refresh()

    def _refresh(self) -> bool:
        started = self.clock()
        clock_start = self._clock_start = time.monotonic()
        self.mist.begin_refresh()
        self.status.status = "running"
        self.status.last_attempt = started
        self.status.datasets = {}
        if self.orgs is not None:
            return self._refresh_orgs(started)
        try:
            published = self.pipeline.run(self.ensure_org(), started)
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
        self._record_success(published, started, clock_start)
        if self.alerts is not None:
            self.alerts.wake()
        return True

    def _refresh_orgs(self, started: float) -> bool:
        """One cycle over every org of a multi-org deployment (refresh/orgs.py)."""
        orgs = self.orgs
        if orgs is None:
            return False
        self.ensure_org()
        self._write_status()
        try:
            done = orgs.run(started)
        except RefreshAborted as reason:
            log.warning("refresh abandoned: %s", reason)
            done = False
        except (MistError, redis.RedisError) as error:
            self._record_failure(error, started, self._clock_start, events=False)
            return False
        self.status.refresh_seconds = round(time.monotonic() - self._clock_start, 3)
        self._write_status()
        log.info(
            "cycle over %d orgs: %d Mist calls, %.2f s",
            len(orgs.statuses),
            self.mist.calls_this_refresh,
            self.status.refresh_seconds,
        )
        return done

    def published_status(self, now: float) -> dict[str, Any]:
        """The status that goes out with the snapshot (in its transaction)."""
        self._succeeded(now)
        return self.status.document()

    def _succeeded(self, started: float) -> None:
        self.status.status = "idle"
        self.status.phase = None
        self.status.last_update = started
        self.status.calls_last_refresh = self.mist.calls_this_refresh
        self.status.refresh_seconds = round(time.monotonic() - self._clock_start, 3)
        self.status.tokens = self.mist.token_status()
        self.status.rate_limited = self.mist.rate_limited

    def _record_success(self, published: int, started: float, clock_start: float) -> None:
        seconds = time.monotonic() - clock_start
        self._succeeded(started)
        self._write_status()
        log.info(
            "refresh published: %d keys, %d Mist calls, %.2f s; data of %r",
            published,
            self.mist.calls_this_refresh,
            seconds,
            started,  # the snapshot's last_update and generated_at: which one went live
        )

    def _record_failure(
        self, error: Exception, started: float, clock_start: float, *, events: bool = True
    ) -> None:
        message = self.redactor.redact(str(error) or type(error).__name__)
        if isinstance(error, redis.RedisError):
            message = f"Redis: {message}"
        log.error("refresh failed after %.2f s: %s", time.monotonic() - clock_start, message)
        self.status.status = "error"
        self.status.last_error = message
        self.status.last_error_at = started
        self.status.calls_last_refresh = self.mist.calls_this_refresh
        self.status.refresh_seconds = round(time.monotonic() - clock_start, 3)
        self._write_status()
        if not events:
            return
        self.pipeline.parts.events.failed(
            self.org_id,
            started,
            exhausted=self.mist.tokens_available() == 0,
            last_update=self.status.last_update,
        )

    # ------------------------------------------------------------ running

    def tick(self) -> None:
        """Every second: take (or keep) the lease and refresh when the interval has passed."""
        if self.stop_requested.is_set() or not self.acquire_lease():
            return
        last = self.status.last_attempt
        stored = self._safe(read_status)
        if stored and isinstance(stored.get("last_attempt"), int | float):
            last = max(last or 0.0, float(stored["last_attempt"]))
        if last is None or self.clock() - last >= self.interval:
            self.refresh()


# ---------------------------------------------------------------- command line


def _start(worker: Worker) -> bool:
    """Token check and org choice before the first refresh. What Mist answered that shows a
    setting is wrong (every token refused, site-only privileges, no single org) exits 2
    naming it; Mist unreachable is not a bad setting: False, the caller tries again."""
    try:
        worker.start()
    except MistSettingError as error:
        worker.start_failed(error)
        fail(error.setting, str(error))
    except MistError as error:
        if worker.stopping():
            return False  # SIGTERM cut the check short: nothing to report
        worker.start_failed(error)
        log.warning("start-up check of the tokens failed, will try again: %s", error)
        return False
    return True


def run_once(worker: Worker) -> int:
    if not worker.acquire_lease():
        owner = worker._safe(lock_owner)
        log.error("the lease is held by %s; not refreshing", owner or "? (Redis unreachable)")
        return 1
    beat_stop = threading.Event()
    beat = threading.Thread(target=heartbeat_loop, args=(worker.lease, beat_stop), daemon=True)
    beat.start()
    try:
        worker.lease.heartbeat()
        ok = _start(worker) and worker.refresh()
        if worker.alerts is not None:  # send what this refresh queued, for a few seconds
            worker.start_alerts()
            worker.alerts.drain(ONCE_DRAIN_SECONDS)
        return 0 if ok else 1
    finally:
        beat_stop.set()
        worker.lease.release()


def run_forever(worker: Worker) -> int:
    beat_stop = threading.Event()
    beat = threading.Thread(target=heartbeat_loop, args=(worker.lease, beat_stop), daemon=True)
    beat.start()
    worker.lease.heartbeat()
    worker.start_alerts()
    schedule.clear()
    schedule.every(1).seconds.do(worker.tick)
    log.info("worker %s running every %d s", worker.lease.owner, worker.interval)
    started, failures, retry_at = False, 0, 0.0
    try:
        while not worker.stop_requested.is_set():
            if not started and time.monotonic() >= retry_at and worker.acquire_lease():
                started = _start(worker)
                failures = 0 if started else failures + 1
                retry_at = time.monotonic() + start_backoff(failures)
            if started:
                schedule.run_pending()
            worker.stop_requested.wait(0.5)
    finally:
        beat_stop.set()
        worker.lease.release()
        schedule.clear()
    log.info("worker stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MistCircuitStats worker")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one refresh, then exit")
    mode.add_argument("--healthcheck", action="store_true", help="exit 0 if heartbeat fresh")
    parser.add_argument(
        "--lease-seconds", type=float, default=float(LEASE_SECONDS), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.healthcheck:
        return healthcheck()
    settings = load_or_exit(load_worker_settings)
    load_or_exit(lambda: load_rules(settings.alerts.rules_file, len(settings.alerts.urls)))
    configure_logging(settings.log_level)
    tune_malloc()
    lower_priority()
    worker = Worker(settings, lease_seconds=args.lease_seconds)
    for handler in logging.getLogger().handlers:
        handler.addFilter(worker.redactor)
    install_signals(worker.stop_requested, worker.mist.cancelled)
    try:
        return run_once(worker) if args.once else run_forever(worker)
    finally:
        worker.close()


if __name__ == "__main__":
    sys.exit(main())
