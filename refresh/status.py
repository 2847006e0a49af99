"""What the worker says about itself: the status document (DATA.md §3.4) and redaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import redis

from mist.streams import Fetched
from settings import Secret
from store.status import write_status

log = logging.getLogger("worker")


def _url_secrets(url: str) -> list[str]:
    """A webhook URL and its path with query (an HTTP library's error may name only that)."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url] + ([path] if len(path) >= 8 else [])


class Redactor(logging.Filter):
    """The one redaction: a token or webhook URL that reaches an error text or a log record
    becomes ***.

    Error texts go to Redis (the status document) and logs; as a logging filter it is the
    last line of defence for anything else.
    """

    def __init__(self, secrets: Sequence[Secret], urls: Sequence[Secret] = ()) -> None:
        super().__init__()
        values = [secret.reveal() for secret in secrets if secret.reveal()]
        values += [part for url in urls for part in _url_secrets(url.reveal())]
        self._values = sorted(set(values), key=len, reverse=True)  # a URL before its path

    def redact(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(value in message for value in self._values):
            record.msg, record.args = self.redact(message), None
        return True


@dataclass
class RefreshStatus:
    """The status JSON of DATA.md §3.4, rewritten to Redis at every phase."""

    interval: int
    status: str = "idle"
    phase: str | None = None
    done: int = 0
    total: int = 0
    last_update: float | None = None
    last_attempt: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    calls_last_refresh: int | None = None
    refresh_seconds: float | None = None
    rejected_samples: int | None = None  # rates above a port's speed refused, last refresh
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    rate_limited: bool = False
    receivers: Callable[[], list[dict[str, Any]]] | None = None  # alert receivers (alerts/)
    # members after the seed's: an org's id and counts in its own status, the orgs and
    # their calls in a multi-org worker's (nothing for a single-org deployment)
    extra: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return self._seed_document() | self.extra

    def _seed_document(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "phase": self.phase,
            "progress": {"done": self.done, "total": self.total},
            "last_update": self.last_update,
            "last_attempt": self.last_attempt,
            "interval": self.interval,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "calls_last_refresh": self.calls_last_refresh,
            "refresh_seconds": self.refresh_seconds,
            "rejected_samples": self.rejected_samples,
            "datasets": self.datasets,
            "tokens": self.tokens,
            "rate_limited": self.rate_limited,
            "receivers": self.receivers() if self.receivers is not None else [],
        }

    @classmethod
    def resume(cls, interval: int, stored: Mapping[str, Any] | None) -> RefreshStatus:
        """Continue from what a previous worker left (last success, last error)."""
        status = cls(interval=interval)
        if stored:
            for name in ("last_update", "last_attempt", "last_error", "last_error_at"):
                value = stored.get(name)
                if value is None or isinstance(value, str | int | float):
                    setattr(status, name, value)
            if stored.get("status") == "error":
                status.status = "error"
        return status


def show_status(
    client: redis.Redis, redis_lock: threading.Lock, status: Callable[[], RefreshStatus]
) -> None:
    """Write the worker's status now (alert deliveries moved a receiver's figures), unless a
    refresh is running (its next phase writes it) or holds Redis (never wait for it)."""
    shown = status()
    if shown.status == "running" or not redis_lock.acquire(blocking=False):
        return
    try:
        write_status(client, shown.document())
    except (redis.RedisError, RuntimeError):
        pass
    finally:
        redis_lock.release()


def record_stream(
    status: RefreshStatus,
    redactor: Redactor,
    name: str,
    fetched: Fetched | None,
    error: str | None = None,
) -> None:
    """One stream's items, calls and time (or its redacted error) in the status, and a log
    line."""
    entry = {
        "items": len(fetched.items) if fetched else 0,
        "calls": fetched.calls if fetched else 0,
        "seconds": round(fetched.seconds, 3) if fetched else 0.0,
        "error": None if error is None else redactor.redact(error),
    }
    status.datasets[name] = entry
    if error:
        log.warning("%s: failed: %s", name, entry["error"])
    else:
        log.info(
            "%s: %d items, %d calls, %.2f s", name, entry["items"], entry["calls"], entry["seconds"]
        )
