"""The worker's lease and heartbeat: one worker at a time spends tokens; a dead one is seen."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from store.lease import acquire_lock, release_lock, renew_lock
from store.status import write_heartbeat

log = logging.getLogger("worker")


class Lease:
    """`mist:lock:worker` held by `owner`: taken, renewed by the heartbeat, given back.

    `lost` is set when the heartbeat finds the lease gone to another worker: the refresh
    then stops before it publishes.
    """

    def __init__(
        self,
        client: redis.Redis,
        redis_lock: threading.Lock,
        owner: str,
        *,
        seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._client = client
        self._redis_lock = redis_lock
        self.owner = owner
        self.seconds = seconds
        self._clock = clock
        self.held = False
        self.lost = threading.Event()

    def acquire(self) -> bool:
        """Take (or keep) the lease; False when another worker holds it or Redis is away."""
        try:
            with self._redis_lock:
                ours = acquire_lock(self._client, self.owner, self.seconds)
        except redis.RedisError as error:
            log.warning("could not reach Redis for the lease: %s", error)
            return False
        if ours and not self.held:
            log.info("holding the worker lease (%s)", self.owner)
            self.lost.clear()
        self.held = ours
        return ours

    def heartbeat(self) -> None:
        """Prove liveness and keep the lease while we hold it (runs on its own thread)."""
        try:  # no redis lock: a long publish must not delay the heartbeat or the lease
            write_heartbeat(self._client, self._clock())
            if self.held and not renew_lock(self._client, self.owner, self.seconds):
                log.warning("lost the worker lease to another worker")
                self.held = False
                self.lost.set()
        except redis.RedisError as error:
            log.warning("heartbeat failed: %s", error)

    def release(self) -> None:
        """Give the lease back so a standby worker takes over at once."""
        if not self.held:
            return
        try:
            with self._redis_lock:
                release_lock(self._client, self.owner)
            log.info("released the worker lease")
        except redis.RedisError as error:
            log.warning("could not release the lease: %s", error)
        self.held = False
