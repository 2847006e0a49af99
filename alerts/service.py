"""The worker's alerting: plans each refresh's alerts into its publish, and runs delivery.

`plan` is called by the event step (refresh/events.py) before the switch and returns what to
add to it; `enqueue` does the same for a failed refresh's own events. Neither ever raises:
a bug or a Redis error here costs alerts, never a refresh. Delivery runs on one thread per
receiver (delivery.py) while this worker holds the lease.
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
    ) -> None:
        self.client = client
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

    def _plan(self, org_id: str, events: Sequence[Mapping[str, Any]], now: float) -> Plan:
        plan = plan_alerts(events, outbox.read_holddown(self.client, org_id), now, self.config)
        queued = sum(len(items) for items in plan.alerts.values())
        if events or queued:
            log.info(
                "alerts: %d queued from %d events (%d held down, %d in quiet hours)",
                queued,
                len(events),
                plan.held,
                plan.muted,
            )
        return plan

    def plan(
        self, org_id: str, events: Sequence[Mapping[str, Any]], now: float
    ) -> Callable[[Any], None] | None:
        """What to add to the refresh's switch (its alerts and hold-down state), or None."""
        try:
            plan = self._plan(org_id, events, now)
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
