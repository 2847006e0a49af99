"""Sending: one thread per receiver takes the oldest alert of its outbox, POSTs it, and only
removes it once the receiver said 2xx. At-least-once, in order, never on the refresh thread.

A failure waits 1, 2, 4 … seconds (at most 5 minutes; a 429's Retry-After is honoured) and
tries the same alert again with the same idempotency key, for as long as the receiver is
down. A receiver that refuses one alert outright (a 4xx other than 408/425/429) gets it
`REFUSED_TRIES` times, then that alert is dropped so the ones behind it are not stuck
forever. Error texts are ours ("HTTP 500", "timeout"): a requests error names the URL, so
none is ever logged or stored.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
import requests

from alerts import outbox
from alerts.formats import render
from settings import Secret
from store.codec import encode_json

log = logging.getLogger("alerts")

REFUSED_TRIES = 5
RETRYABLE_4XX = (408, 425, 429)
USER_AGENT = "MistCircuitStats-alerts/1"


@dataclass
class Outcome:
    """One POST: sent, or why not (text safe to show), and whether to try this alert again."""

    ok: bool
    error: str | None = None
    refused: bool = False  # the receiver refuses this alert: trying again will not help
    retry_after: float | None = None


@dataclass
class Receiver:
    """What /api/status says of one receiver ("receiver 2": never its URL)."""

    number: int
    format: str
    last_success: float | None = None
    last_failure: float | None = None
    last_error: str | None = None
    queued: int = 0
    delivered: int = 0

    def document(self) -> dict[str, Any]:
        return {
            "name": f"receiver {self.number}",
            "format": self.format,
            "last_success": self.last_success,
            "last_failure": self.last_failure,
            "last_error": self.last_error,
            "queued": self.queued,
            "delivered": self.delivered,
        }

    def resume(self, stored: Mapping[str, Any] | None) -> None:
        for name in ("last_success", "last_failure", "last_error", "delivered"):
            value = (stored or {}).get(name)
            if value is None or isinstance(value, str | int | float):
                setattr(self, name, value if value is not None else getattr(self, name))


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After", "")
    return float(raw) if raw.strip().isdigit() else None


class Sender:
    """POSTs an alert's body to one webhook URL, with bounded timeouts and no redirects."""

    def __init__(self, url: Secret, fmt: str, timeout: tuple[float, float] = (5.0, 10.0)) -> None:
        self._url = url
        self.format = fmt
        self.timeout = timeout
        self._session = requests.Session()

    def send(self, alert: Mapping[str, Any]) -> Outcome:
        body = encode_json(render(alert, self.format))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": str(alert["id"]),
            "User-Agent": USER_AGENT,
        }
        try:
            response = self._session.post(
                self._url.reveal(),
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
            response.close()
        except requests.Timeout:
            return Outcome(False, "timeout")
        except requests.ConnectionError:
            return Outcome(False, "connection failed")
        except requests.RequestException as error:  # its text names the URL: never shown
            return Outcome(False, type(error).__name__)
        if 200 <= response.status_code < 300:
            return Outcome(True)
        refused = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_4XX
        return Outcome(False, f"HTTP {response.status_code}", refused, _retry_after(response))

    def close(self) -> None:
        self._session.close()


class DeliveryThread(threading.Thread):
    """Delivers one receiver's outbox in order, for as long as `may_send()` (the lease)."""

    def __init__(
        self,
        client: redis.Redis,
        receiver: Receiver,
        sender: Sender,
        *,
        may_send: Callable[[], bool],
        on_change: Callable[[], None],
        backoff: tuple[float, float] = (1.0, 300.0),
    ) -> None:
        super().__init__(name=f"alerts-{receiver.number}", daemon=True)
        self.client = client
        self.receiver = receiver
        self.sender = sender
        self.may_send = may_send
        self.on_change = on_change
        self.backoff = backoff
        self.wake = threading.Event()
        self.stopped = threading.Event()
        self.tries = 0  # of the alert at the head
        self.retry_at = 0.0  # monotonic time of the next try after a failure

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()

    def _pause(self, seconds: float) -> None:
        self.wake.wait(seconds)
        self.wake.clear()

    def run(self) -> None:
        while not self.stopped.is_set():
            backing_off = self.retry_at - time.monotonic()
            if backing_off > 0:  # new alerts wake us, but a failing receiver waits its turn
                self._pause(backing_off)
                continue
            try:
                if not self.may_send() or not self.step():
                    self._pause(1.0)
            except redis.RedisError as error:
                log.warning("receiver %d: Redis: %s", self.receiver.number, type(error).__name__)
                self._pause(1.0)
            except Exception:  # a bug must not end delivery for good
                log.exception("receiver %d: delivery failed", self.receiver.number)
                self._pause(5.0)
        self.sender.close()

    def step(self) -> bool:
        """Try the oldest alert once; False when there was none."""
        number = self.receiver.number
        found = outbox.head(self.client, number)
        if found is None:
            self.receiver.queued = 0
            return False
        raw, alert = found
        outcome = self.sender.send(alert)
        now = time.time()
        if outcome.ok:
            outbox.pop(self.client, number, raw)
            self.tries = 0
            self.receiver.last_success, self.receiver.delivered = now, self.receiver.delivered + 1
        else:
            self._failed(raw, alert, outcome, now)
        self.receiver.queued = outbox.queued(self.client, number)
        self._changed()
        if not outcome.ok and self.tries:
            self.retry_at = time.monotonic() + self.delay(outcome)
        return True

    def _failed(self, raw: bytes, alert: Mapping[str, Any], outcome: Outcome, now: float) -> None:
        number = self.receiver.number
        self.tries += 1
        self.receiver.last_failure, self.receiver.last_error = now, outcome.error
        if outcome.refused and self.tries >= REFUSED_TRIES:
            log.error(
                "receiver %d: alert %s refused %d times (%s): dropped",
                number,
                alert["id"],
                self.tries,
                outcome.error,
            )
            outbox.pop(self.client, number, raw)
            self.tries = 0
            return
        log.warning(
            "receiver %d: alert %s not delivered (%s), try %d; next in %.1f s",
            number,
            alert["id"],
            outcome.error,
            self.tries,
            self.delay(outcome),
        )

    def delay(self, outcome: Outcome) -> float:
        base, cap = self.backoff
        if outcome.retry_after is not None:
            return min(cap, max(base, outcome.retry_after))
        return float(min(cap, base * 2 ** max(0, self.tries - 1)))

    def _changed(self) -> None:
        with contextlib.suppress(redis.RedisError):
            outbox.write_receiver(self.client, self.receiver.number, self.receiver.document())
        self.on_change()
