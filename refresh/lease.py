"""The worker's lease and heartbeat: one worker at a time spends tokens; a dead one is seen.

The lease is renewed from the heartbeat's own thread, a few times per lease. A busy process
can still miss a renewal: CPython runs one thread at a time, and a long call into C (a full
garbage collection of a 50,000-gateway heap, encoding a big document) keeps the renewing
thread waiting past the lease. The lease then lapses, but nobody else took it: the next
renewal takes it back (SET NX, so never from another worker) and the refresh goes on. Only a
lease another worker holds is lost, and that refresh stops before it publishes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from store.lease import acquire_lock, lock_owner, release_lock, renew_lock
from store.status import write_heartbeat

log = logging.getLogger("worker")


class Lease:
    """`mist:lock:worker` held by `owner`: taken, renewed by the heartbeat, given back.

    `lost` is set when the lease is found with another worker: the refresh then stops
    before it publishes. A lease that merely lapsed (renewed too late, nobody else took it)
    is taken back instead, with a warning naming how late the renewal was.
    """

    def __init__(
        self,
        client: redis.Redis,
        redis_lock: threading.Lock,
        owner: str,
        *,
        seconds: float,
        clock: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._redis_lock = redis_lock
        self.owner = owner
        self.seconds = seconds
        self._clock = clock
        self._monotonic = monotonic
        self.held = False
        self.lost = threading.Event()
        self._guard = threading.Lock()  # keep (the heartbeat's thread) and release exclude
        self.renewed_at = 0.0  # monotonic: the last time Redis confirmed the lease ours
        self.lapses = 0  # lapsed leases taken back (renewed too late, nobody else had it)

    @property
    def renew_period(self) -> float:
        """How often the heartbeat renews: three times per lease, so two late renewals in a
        row still keep it."""
        return max(0.5, self.seconds / 3)

    def acquire(self) -> bool:
        """Take (or keep) the lease; False when another worker holds it or Redis is away."""
        try:
            with self._redis_lock:
                ours = acquire_lock(self._client, self.owner, self.seconds)
        except redis.RedisError as error:
            log.warning("could not reach Redis for the lease: %s", error)
            return False
        if ours:
            self.renewed_at = self._monotonic()
            if not self.held:
                log.info("holding the worker lease (%s)", self.owner)
                self.lost.clear()
        self.held = ours
        return ours

    def heartbeat(self) -> None:
        """Prove liveness and keep the lease while we hold it (runs on its own thread)."""
        try:  # no redis lock: a long publish must not delay the heartbeat or the lease
            write_heartbeat(self._client, self._clock())
            if self.held:
                self.keep()
        except redis.RedisError as error:
            log.warning("heartbeat failed: %s", error)

    def keep(self) -> bool:
        """Renew the lease; take it back when it lapsed with nobody else holding it; set
        `lost` (False) when another worker holds it. Safe from any thread; never takes back
        a lease this worker released (a heartbeat racing the release did, and held it from
        the next worker for a lease's length after this one exited)."""
        with self._guard:
            if not self.held or self.lost.is_set():
                return False  # released, or lost: only `acquire` (a new refresh) takes it
            return self._keep()

    def _keep(self) -> bool:
        since = self._monotonic() - self.renewed_at
        if renew_lock(self._client, self.owner, self.seconds):
            self.renewed_at = self._monotonic()
            return True
        if acquire_lock(self._client, self.owner, self.seconds):  # SET NX: it was free
            self.renewed_at = self._monotonic()
            self.lapses += 1
            log.warning(
                "the worker lease lapsed: last renewed %.1f s ago, longer than its %g s "
                "(the process was too busy to renew it); nobody else held it, taken back",
                since,
                self.seconds,
            )
            return True
        holder = lock_owner(self._client)
        log.error(
            "lost the worker lease to %s (last renewed %.1f s ago, lease %g s): this "
            "worker stops refreshing before it publishes",
            holder or "another worker",
            since,
            self.seconds,
        )
        self.held = False
        self.lost.set()
        return False

    def confirm(self) -> bool:
        """After a fenced write found the lease not ours: True when it only lapsed and is
        ours again (the write may be tried again), False when another worker holds it."""
        try:
            return self.keep()
        except redis.RedisError as error:
            log.warning("could not reach Redis for the lease: %s", error)
            return False

    def release(self) -> None:
        """Give the lease back so a standby worker takes over at once."""
        with self._guard:  # a keep under way ends first; none starts after
            if not self.held:
                return
            self.held = False
        try:
            with self._redis_lock:
                release_lock(self._client, self.owner)
            log.info("released the worker lease")
        except redis.RedisError as error:
            log.warning("could not release the lease: %s", error)
