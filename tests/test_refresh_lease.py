"""The worker's lease under a busy process (refresh/lease.py): a refresh that keeps the
interpreter from renewing for longer than the lease still publishes (the lapsed lease is
taken back, nobody else holding it), while a lease another worker took stops the refresh
before it publishes. Real worker, mistsim and redis-server; the heartbeat runs on its own
thread as in `worker.py`. The "busy" part is a C call that keeps the GIL (libc sleep through
ctypes.PyDLL) for three leases: no Python thread can run meanwhile, as in a full garbage
collection of a 50,000-gateway heap."""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

import worker as worker_module
from mist.connection import MistConnection
from refresh.lease import Lease
from refresh.process import heartbeat_loop
from settings import load_worker_settings
from store.keys import KEY_LOCK
from store.lease import lock_owner
from store.reads import read_last_update
from tests.fixtures.ports import wait_until
from tests.fixtures.worker_proc import worker_env

LEASE = 1.0  # seconds: short, so the stall below outlasts it three times
_LIBC = ctypes.PyDLL(None)  # PyDLL: the GIL stays held for the whole call


def _hold_the_interpreter(seconds: int) -> None:
    """Block every Python thread of this process, the heartbeat's too, for `seconds`."""
    _LIBC.sleep(seconds)


@pytest.fixture
def busy_worker(mistsim, redis_server) -> Iterator[worker_module.Worker]:
    environ = worker_env(mistsim, redis_server.url, WORKER_INTERVAL="60")
    settings = load_worker_settings(environ, env_file=None)
    connection = MistConnection.from_settings(settings, timeout=5.0, backoff=0.01)
    instance = worker_module.Worker(settings, connection=connection, lease_seconds=LEASE)
    instance.client.delete(KEY_LOCK)  # a lease another test's worker left
    assert instance.acquire_lease()
    stop = threading.Event()
    beat = threading.Thread(target=heartbeat_loop, args=(instance.lease, stop), daemon=True)
    beat.start()
    try:
        yield instance
    finally:
        stop.set()
        beat.join(timeout=10)
        instance.lease.release()
        instance.close()


def _at_build(instance: worker_module.Worker, action: Callable[[], None]) -> None:
    """Run `action` once, when the refresh reaches its build phase (fetch done, nothing
    published yet)."""
    phase = instance.phase

    def hooked(name: str, done: int, total: int) -> None:
        if name == "build":
            action()
        phase(name, done, total)

    instance.phase = hooked  # type: ignore[method-assign,assignment]


def test_a_refresh_busier_than_its_lease_keeps_the_lease_and_publishes(busy_worker, caplog):
    caplog.set_level(logging.INFO, logger="worker")
    lease = busy_worker.lease
    before = read_last_update(busy_worker.client)

    def stall() -> None:
        _hold_the_interpreter(int(3 * LEASE))
        stalled_until = time.monotonic()
        # the lease lapsed meanwhile (Redis expired it); the heartbeat's thread takes it back
        wait_until(lambda: lease.renewed_at > stalled_until, what="the next renewal")

    _at_build(busy_worker, stall)
    assert busy_worker.refresh() is True
    assert lock_owner(busy_worker.client) == lease.owner and not lease.lost.is_set()
    after = read_last_update(busy_worker.client)
    assert after is not None and after != before  # this refresh published
    assert lease.lapses >= 1
    assert "the worker lease lapsed" in caplog.text and "taken back" in caplog.text
    assert "lost the worker lease" not in caplog.text


def test_a_lease_another_worker_took_stops_the_refresh_before_it_publishes(busy_worker, caplog):
    caplog.set_level(logging.INFO, logger="worker")
    lease = busy_worker.lease
    busy_worker.refresh()  # something published, so "nothing new" is visible below
    before = read_last_update(busy_worker.client)

    def taken() -> None:
        busy_worker.client.set(KEY_LOCK, "standby:1:feedc0de", px=60_000)
        _hold_the_interpreter(int(2 * LEASE))  # busy too: the renewal comes late as well
        wait_until(lease.lost.is_set, what="the heartbeat to see the lease gone")

    _at_build(busy_worker, taken)
    assert busy_worker.refresh() is False
    assert read_last_update(busy_worker.client) == before  # nothing of this refresh live
    assert lock_owner(busy_worker.client) == "standby:1:feedc0de"  # never taken back
    assert "lost the worker lease to standby:1:feedc0de" in caplog.text
    assert "stops refreshing before it publishes" in caplog.text
    busy_worker.client.delete(KEY_LOCK)


def test_a_released_lease_is_never_taken_back_by_a_heartbeat_racing_the_release(redis_server):
    """A worker leaving (--once, shutdown) releases the lease; its heartbeat thread, mid-beat
    at that moment, must not find the lease free and take it back: the next worker would
    wait a whole lease for a process that is gone."""
    client = redis_server.client()
    lease = Lease(client, threading.Lock(), "leaving:1", seconds=30, clock=time.time)
    assert lease.acquire() and lock_owner(client) == "leaving:1"
    lease.release()
    assert lock_owner(client) is None
    assert lease.keep() is False, "the beat after the release does not renew or retake it"
    lease.heartbeat()
    assert lock_owner(client) is None, "free for the next worker at once"
    standby = Lease(client, threading.Lock(), "next:2", seconds=30, clock=time.time)
    assert standby.acquire()
