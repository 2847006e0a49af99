"""A refresh's event step: compare the snapshot with the last one, and store what changed.

The alerts leave as soon as the events are derived (`derive` hands them to the outbox, before
availability, history and the publish); the events and the state to compare with next time
go live with the snapshot (in its switch), so /api/events and the page show only published
refreshes. A refresh that fails publishes nothing, so its own events (refresh failing, tokens
exhausted, data stale) are written on their own by `failed`; the retry that derives the same
changes again sends none of their alerts twice (alerts/plan.py, PENDING).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import redis

from mist.connection import MistConnection
from mist.streams import Fetched
from model.events import Derived, derive_events, system_events
from model.freshness import data_age, is_stale
from model.mist_events import MIST_TYPES, convert, merge, read_window
from model.snapshot import Snapshot
from refresh.availability import AvailabilityStep, Prepared
from store.codec import encode_json
from store.events import (
    Retention,
    queue_events,
    read_state,
    read_system,
    write_events,
    write_state,
)
from store.keys import events_state_key
from store.publisher import Publisher
from views.worst import WorstFigures

log = logging.getLogger("worker")


class AlertHook(Protocol):
    """Alerting (alerts/service.py): queues alerts for new events; never raises."""

    def hand_off(
        self, org_id: str, events: Sequence[Mapping[str, Any]], now: float
    ) -> Callable[[Any], None] | None: ...
    def enqueue(
        self, client: redis.Redis, org_id: str, events: Sequence[Mapping[str, Any]], now: float
    ) -> None: ...


class EventStep:
    """Derives each refresh's events and hands them to the publish (or writes a failure's)."""

    def __init__(
        self,
        client: redis.Redis,
        redis_lock: threading.Lock,
        *,
        interval: int,
        hold: int,
        retention: Retention,
    ) -> None:
        self._client = client
        self._lock = redis_lock
        self.interval = interval
        self.hold = hold
        self.retention = retention
        self.alerts: AlertHook | None = None  # the worker sets it when alerts are configured
        self.availability = AvailabilityStep(client, redis_lock, interval=interval)
        self._prepared: dict[str, Prepared] = {}  # by org: orgs of several run side by side
        self._encoded: dict[str, bytes] = {}  # by org: the state derive kept, as stored
        self._handed: dict[str, Callable[[Any], None] | None] = {}  # by org: for the switch
        self._previous: dict[str, tuple[float, dict[str, Any] | None]] = {}  # (refresh, read)
        self._reading = threading.Lock()  # the fetch's jobs ask for it side by side

    def previous(self, org_id: str, now: float) -> dict[str, Any] | None:
        """The events' state the last refresh kept, read and decoded once for the refresh at
        `now` (~8 MB at 10,000 gateways): Mist's read window, the device configs' troubled
        gateways first (refresh/configs.py) and derive share the one read."""
        with self._reading:
            kept = self._previous.get(org_id)
            if kept is None or kept[0] != now:
                with self._lock:
                    kept = self._previous[org_id] = (now, read_state(self._client, org_id))
            return kept[1]

    def read_mist(self, mist: MistConnection, now: float, org_id: str) -> Fetched:
        """Mist's gateway events since the last read (a job of the fetch: its failure is
        recorded, never fails the refresh, and the next read covers the gap)."""
        try:
            previous = self.previous(org_id, now)
        except redis.RedisError:
            previous = None  # read the last interval; ids already stored are the same ids
        start, end = read_window(previous, now, self.interval)
        return mist.device_events(org_id, start=start, end=end, types=MIST_TYPES)

    def derive(
        self, snapshot: Snapshot, org_id: str, mist: Fetched | None = None
    ) -> tuple[Derived, dict[str, bool]]:
        """This refresh's events, derived and Mist's merged (`mist`: what read_mist read,
        None when it failed), and the conditions to keep (a success clears them all)."""
        started = time.monotonic()
        with self._reading:  # read by this refresh's fetch (nothing written since)
            kept = self._previous.pop(org_id, None)
        with self._lock:
            if kept is not None and kept[0] == snapshot.generated_at:
                previous = kept[1]
            else:
                previous = read_state(self._client, org_id)
            system = read_system(self._client, org_id)
        derived = derive_events(previous, snapshot, hold=self.hold)
        told = convert(mist.items, snapshot) if mist is not None else []
        merged = merge(
            derived.events, told, previous, now=snapshot.generated_at, read=mist is not None
        )
        if merged.state["until"] is None:  # never read yet: the next read starts here
            merged.state["until"] = snapshot.generated_at - self.interval
        derived.events[:] = merged.events
        derived.state["mist"] = merged.state
        cleared, conditions = system_events(
            system, snapshot.org, snapshot.generated_at, failing=False, exhausted=False, stale=False
        )
        derived.events.extend(cleared)
        self._hand_off(org_id, derived.events, snapshot.generated_at)
        seconds = time.monotonic() - started
        # availability's own step (its log line counts it): not in the events' seconds
        self._prepared[org_id] = self.availability.prepare(snapshot, org_id, derived.state)
        # the state as the bytes it is stored as, now: its ~100,000 objects at 10,000
        # gateways would otherwise sit beside the history step and the snapshot's write
        # (the events' cost: in their seconds)
        started = time.monotonic()
        self._encoded[org_id] = encode_json(derived.state)
        seconds += time.monotonic() - started
        derived.state = {}
        log.info(
            "events: %d new (%d read from Mist), %.2f s", len(derived.events), len(told), seconds
        )
        return derived, conditions

    def _hand_off(self, org_id: str, events: Sequence[Mapping[str, Any]], now: float) -> None:
        """The alerts of the events just derived, to the outbox now (not with the publish,
        a whole refresh later); what the publish switch must add is kept for it."""
        if self.alerts is not None:
            with self._lock:
                self._handed[org_id] = self.alerts.hand_off(org_id, events, now)

    def publish(
        self,
        out: Publisher,
        org_id: str,
        derived: Derived,
        conditions: Mapping[str, bool],
        now: float,
        metrics: Any | None = None,
    ) -> WorstFigures | None:
        """The events and the state, live with the snapshot in `out`'s switch, and the
        availability they move on (its metric families into `metrics` when given); returns
        the worst circuits' availability figures (None: availability was not prepared)."""
        encoded = self._encoded.pop(org_id, None)
        write_state(out.staging, org_id, derived.state if encoded is None else encoded)
        out.switch_value(events_state_key(org_id))  # an 8 MB string: never freed in the EXEC
        prepared = self._prepared.pop(org_id, None)
        counted = None
        if prepared is not None:
            counted = self.availability.publish(out, prepared, derived.events, metrics)
        alerts = self._handed.pop(org_id, None)  # queued when derived (hand_off)

        def queue(switch: Any) -> None:
            queue_events(switch, org_id, derived.events, conditions, now, self.retention)
            if alerts is not None:  # the alerts' changes are stored now: none is pending
                alerts(switch)

        out.with_switch(queue)
        return counted

    def failed(
        self, org_id: str | None, now: float, *, exhausted: bool, last_update: float | None
    ) -> int:
        """A failed refresh's own events (failing, maybe exhausted or stale); never raises
        for Redis (the failure is already being told). Returns the events written."""
        if org_id is None:
            return 0
        self._handed.pop(org_id, None)  # its alerts' changes stay pending for the retry
        stale = is_stale(data_age(last_update, now), self.interval)
        try:
            with self._lock:
                system = read_system(self._client, org_id)
                events, conditions = system_events(
                    system, {"id": org_id}, now, failing=True, exhausted=exhausted, stale=stale
                )
                if events:
                    write_events(self._client, org_id, events, conditions, now, self.retention)
                    if self.alerts is not None:
                        self.alerts.enqueue(self._client, org_id, events, now)
        except redis.RedisError as error:
            log.warning("could not write the failure's events: %s", type(error).__name__)
            return 0
        return len(events)
