"""The worker process around its refreshes: heartbeat, signals, start-up backoff and the
container health check (kept apart from worker.py, which runs the refreshes)."""

from __future__ import annotations

import logging
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
