"""Mist's WAN SLEs per site between refreshes: read at most once an hour, kept in Redis.

They are hourly aggregates, so a refresh reads them only when the kept ones are an hour old
(or a failed read is 10 minutes old), and every refresh shows the kept ones meanwhile. A
failed or malformed read never fails the refresh: the last values stay, with their time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import redis

from mist.sle import SleFetched
from mist.streams import Fetched
from model.sle import sle_state
from store.keys import DEFAULT_KEYSPACE, Keyspace
from store.sle import read_sle, write_sle

log = logging.getLogger("worker")

SLE_MAX_AGE = 3600  # a successful read is good for an hour
SLE_RETRY = 600  # a failed read is tried again after 10 minutes, not every refresh


class SleCache:
    """The kept state: `{"fetched_at", "attempted_at", "start", "end", "sites": {id: …}}`."""

    def __init__(
        self, client: redis.Redis, redis_lock: threading.Lock, keyspace: Keyspace = DEFAULT_KEYSPACE
    ) -> None:
        self._client = client
        self._lock = redis_lock
        self._keyspace = keyspace  # each org of several keeps its own

    def state(self) -> dict[str, Any]:
        try:
            with self._lock:
                return read_sle(self._client, self._keyspace) or {}
        except redis.RedisError:
            return {}

    def due(self, now: float) -> bool:
        """Whether this refresh reads the SLEs from Mist."""
        state = self.state()
        fetched = state.get("fetched_at")
        attempted = state.get("attempted_at")
        if isinstance(fetched, int | float) and now - fetched < SLE_MAX_AGE:
            return False
        return not (isinstance(attempted, int | float) and now - attempted < SLE_RETRY)

    def job(self, read: Callable[[str], SleFetched], now: float) -> Callable[[str], Fetched]:
        """The refresh's fetch job: `read` the SLEs and keep them at once (or note the
        failed try), so a refresh that fails later still spent its read."""

        def run(org_id: str) -> Fetched:
            try:
                fetched = read(org_id)
            except Exception:
                self._keep(None, now)
                raise
            self._keep(fetched, now)
            return fetched

        return run

    def _keep(self, fetched: SleFetched | None, now: float) -> None:
        state = self.state()
        state["attempted_at"] = now
        if fetched is not None:
            state.update(sle_state(fetched.items, fetched.start, fetched.end, now))
        try:
            with self._lock:
                write_sle(self._client, state, self._keyspace)
        except redis.RedisError as error:
            log.warning("sle: not kept: %s", type(error).__name__)
