"""The worker's alerting: queues each refresh's alerts as soon as its events are known, and
runs delivery.

`hand_off` is called by the event step (refresh/events.py) right after the events are
derived, before history, availability and the publish: the alerts leave then, a whole
refresh earlier than the publish. What it returns goes into the publish switch (the
hold-down state with the refresh's changes no longer pending). `enqueue` queues a failed
refresh's own events. None of them ever raises: a bug or a Redis error here costs alerts,
never a refresh. Delivery runs on one thread per receiver (delivery.py) while this worker
holds the lease.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

from alerts import outbox
from alerts.delivery import DeliveryThread, Receiver, Sender
from alerts.plan import AlertConfig, Plan, plan_alerts
from alerts.rules import load_rules
from settings import AlertSettings
from store.lease import LeaseLost
from store.publisher import FENCE_TRIES
from store.transaction import Transaction

log = logging.getLogger("alerts")


class Alerts:
    """Everything alerting needs, built once by the worker from ALERT_* settings (a bad
    ALERT_RULES_FILE raises SettingError naming its line)."""

    def __init__(
        self,
        client: redis.Redis,
        settings: AlertSettings,
        *,
        interval: int,
        backoff: tuple[float, float] = (1.0, 300.0),
        timeout: tuple[float, float] = (5.0, 10.0),
        fence: tuple[str, str] | None = None,
    ) -> None:
        self.client = client
        self.fence = fence  # (lease key, owner): alerts queued ahead of a publish need the lease
        self.config = AlertConfig(
            receivers=len(settings.urls),
            rules=load_rules(settings.rules_file, len(settings.urls)),
            hold_down=settings.hold_down,
            storm_limit=settings.storm_limit,
            interval=interval,
        )
        self.senders = [
            Sender(url, fmt, timeout)
            for url, fmt in zip(settings.urls, settings.formats, strict=True)
        ]
        self.receivers = [Receiver(n, s.format) for n, s in enumerate(self.senders, start=1)]
        self.backoff = backoff
        self.threads: list[DeliveryThread] = []
        try:
            stored = outbox.read_receivers(client)
            for receiver in self.receivers:
                receiver.resume(stored.get(receiver.number))
                receiver.queued = outbox.queued(client, receiver.number)
        except redis.RedisError:
            pass  # figures start empty; delivery fills them in

    # ------------------------------------------------------------ planning (refresh thread)

    def _plan(
        self, org_id: str, events: Sequence[Mapping[str, Any]], now: float, *, pending: bool
    ) -> Plan:
        state = outbox.read_holddown(self.client, org_id)
        plan = plan_alerts(events, state, now, self.config, pending=pending)
        queued = sum(len(items) for items in plan.alerts.values())
        if events or queued:
            log.info(
                "alerts: %d queued from %d events (%d held down, %d in quiet hours, "
                "%d already sent by a refresh that did not publish)",
                queued,
                len(events),
                plan.held,
                plan.muted,
                plan.repeated,
            )
        return plan

    def hand_off(
        self, org_id: str, events: Sequence[Mapping[str, Any]], now: float
    ) -> Callable[[Any], None] | None:
        """A refresh's alerts, queued now in a transaction of their own (fenced on the lease
        when `fence` is set), as soon as its events are derived: delivery starts while the
        refresh goes on to history, availability and the publish. Returns what the publish
        switch adds: the hold-down state with this refresh's changes no longer pending (or,
        when queueing failed here, the whole queue, as before: an event stored is an alert
        queued). Never raises."""
        try:
            plan = self._plan(org_id, events, now, pending=True)
        except Exception:
            log.exception("alerts: planning failed for org %s; this refresh sends none", org_id)
            return None
        try:
            self._queue_fenced(org_id, plan)
        except (redis.RedisError, LeaseLost) as error:
            log.warning("alerts: could not queue ahead of the publish: %s", type(error).__name__)
            return lambda pipe: outbox.queue_alerts(pipe, org_id, plan.alerts, plan.published())
        self.wake()
        published = plan.published()
        return lambda pipe: outbox.keep_holddown(pipe, org_id, published)

    def _queue_fenced(self, org_id: str, plan: Plan) -> None:
        """One MULTI/EXEC, applied only while the lease is ours (when fenced); our own
        heartbeat renewing the lease in between makes EXEC apply nothing: ask again."""
        for attempt in range(FENCE_TRIES):
            try:
                with Transaction(self.client, fence=self.fence) as transaction:
                    outbox.queue_alerts(transaction, org_id, plan.alerts, plan.state)
                    transaction.execute()
                return
            except redis.WatchError:
                if attempt == FENCE_TRIES - 1:
                    raise

    def plan(
        self, org_id: str, events: Sequence[Mapping[str, Any]], now: float
    ) -> Callable[[Any], None] | None:
        """What to add to a transaction that stores `events` (their alerts and hold-down
        state), or None."""
        try:
            plan = self._plan(org_id, events, now, pending=False)
        except Exception:
            log.exception("alerts: planning failed for org %s; this refresh sends none", org_id)
            return None
        return lambda pipe: outbox.queue_alerts(pipe, org_id, plan.alerts, plan.state)

    def enqueue(
        self, client: redis.Redis, org_id: str, events: Sequence[Mapping[str, Any]], now: float
    ) -> None:
        """A failed refresh's own events, queued in their own transaction."""
        queue = self.plan(org_id, events, now)
        if queue is None:
            return
        try:
            with client.pipeline(transaction=True) as pipe:
                queue(pipe)
                pipe.execute()
        except redis.RedisError as error:
            log.warning("alerts: could not queue: %s", type(error).__name__)
        self.wake()

    # ------------------------------------------------------------ delivery (own threads)

    def start(self, *, may_send: Callable[[], bool], on_change: Callable[[], None]) -> None:
        if self.threads:
            return
        for receiver, sender in zip(self.receivers, self.senders, strict=True):
            thread = DeliveryThread(
                self.client,
                receiver,
                sender,
                may_send=may_send,
                on_change=on_change,
                backoff=self.backoff,
            )
            thread.start()
            self.threads.append(thread)

    def wake(self) -> None:
        """New alerts are queued: look now rather than at the next poll."""
        for thread in self.threads:
            thread.wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        for thread in self.threads:
            thread.stop()
        for thread in self.threads:
            thread.join(timeout)
        self.threads = []

    def drain(self, seconds: float) -> bool:
        """Wait (at most `seconds`) until every outbox is empty; True when they are."""
        deadline = time.monotonic() + seconds
        self.wake()
        while time.monotonic() < deadline:
            try:
                if all(outbox.queued(self.client, r.number) == 0 for r in self.receivers):
                    return True
            except redis.RedisError:
                pass
            time.sleep(0.05)
        return False

    def status(self) -> list[dict[str, Any]]:
        """`receivers` of /api/status: names, formats, last success/failure, queue length."""
        return [receiver.document() for receiver in self.receivers]
