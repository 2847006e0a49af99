"""The worker process around its refreshes: heartbeat, signals, start-up backoff, CPU
priority and the container health check (kept apart from worker.py, which runs the
refreshes)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

import redis

from refresh.lease import Lease
from settings import load_or_exit, load_web_settings
from store.keys import HEARTBEAT_PERIOD, HEARTBEAT_TTL
from store.reads import connect
from store.status import read_heartbeat

log = logging.getLogger("worker")

START_BACKOFF_MAX = 60.0  # seconds between start-up tries while Mist cannot be reached
WORKER_NICENESS = 10  # the worker's CPU priority (0 normal, 19 lowest): behind the web's


def lower_priority() -> None:
    """Raise this process's niceness to WORKER_NICENESS (never lower it: a worker started
    under `nice -n 15` stays there).

    A refresh is batch work (minutes of CPU at tens of thousands of gateways); the web
    answers people. Where both share cores (one machine, one cgroup, the bench) the kernel
    then gives a woken web thread the core first and the refresh takes what is left: on an
    idle machine it runs just as fast. Containers with cgroups of their own get the same
    from the compose file's `cpu_shares` and the Kubernetes CPU requests."""
    try:
        current = os.nice(0)
        if current < WORKER_NICENESS:
            os.nice(WORKER_NICENESS - current)
    except OSError as error:  # a platform or sandbox without it: run as started
        log.warning("could not lower the worker's CPU priority: %s", error)


def heartbeat_loop(lease: Lease, stop: threading.Event) -> None:
    """Renew the lease and the heartbeat a few times per lease until `stop`."""
    period = min(HEARTBEAT_PERIOD, max(0.5, lease.seconds / 3))
    while not stop.wait(period):
        lease.heartbeat()


def install_signals(stop_requested: threading.Event, cancelled: threading.Event) -> None:
    """SIGTERM/SIGINT stop after the current phase and cut Mist waits short."""

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the current phase", signum)
        stop_requested.set()
        cancelled.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def start_backoff(failures: int) -> float:
    """Seconds before start-up is tried again after `failures` failed tries (2, 4, … 60)."""
    return min(START_BACKOFF_MAX, 2.0 ** min(failures, 6))


def healthcheck() -> int:
    """Exit 0 when the heartbeat in Redis is fresh (≤ 3 heartbeat periods), else 1."""
    web = load_or_exit(load_web_settings)
    try:
        client = connect(web.redis_url, sentinel=web.sentinel)
        beat = read_heartbeat(client)
    except redis.RedisError as error:
        print(f"unhealthy: Redis: {error}", file=sys.stderr)
        return 1
    if beat is None or time.time() - beat > HEARTBEAT_TTL:
        print("unhealthy: no fresh worker heartbeat", file=sys.stderr)
        return 1
    print("healthy")
    return 0
