"""Mutable run-time state: the simulated clock, faults, call accounting and token budgets.

Everything here is shared by the server's threads, so every change happens under a lock.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

FAULT_DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "jitter_ms": 0,
    "error_rate": 0.0,
    "hang": False,
    "malformed": False,
    "nonstandard": False,
    "deep": False,
    "outage": False,
    "forbidden": False,
    "exhausted_tokens": [],
    "paths": None,
}
HOUR = 3600


class FaultError(ValueError):
    """A fault setting that cannot be applied (bad key, type or regex)."""


@dataclass
class Faults:
    """The failure modes a test can switch on; `paths` limits them to matching request paths."""

    latency_ms: float = 0
    jitter_ms: float = 0
    error_rate: float = 0.0
    hang: bool = False
    malformed: bool = False
    nonstandard: bool = False  # NaN, ±Infinity and huge numbers in the answers (edge.py)
    deep: bool = False  # every answer nested 100,000 deep (edge.DEEP_JSON)
    outage: bool = False
    forbidden: bool = False  # 403 after auth and budget, as Mist answers a restricted admin
    exhausted_tokens: list[str] = field(default_factory=list)
    paths: str | None = None
    _paths_re: re.Pattern[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in FAULT_DEFAULTS}

    def merge(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, validating every key first so a bad request changes nothing."""
        unknown = set(changes) - set(FAULT_DEFAULTS)
        if unknown:
            raise FaultError(f"unknown fault keys: {sorted(unknown)}")
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key in ("latency_ms", "jitter_ms", "error_rate"):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise FaultError(f"{key} must be a non-negative number")
                if key == "error_rate" and value > 1:
                    raise FaultError("error_rate must be between 0 and 1")
            elif key in ("hang", "malformed", "nonstandard", "deep", "outage", "forbidden"):
                if not isinstance(value, bool):
                    raise FaultError(f"{key} must be true or false")
            elif key == "exhausted_tokens":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise FaultError("exhausted_tokens must be a list of tokens")
            elif key == "paths" and value is not None:
                if not isinstance(value, str):
                    raise FaultError("paths must be a regular expression or null")
                try:
                    re.compile(value)
                except re.error as error:
                    raise FaultError(f"paths is not a valid regular expression: {error}") from None
            clean[key] = value
        for key, value in clean.items():
            setattr(self, key, value)
        self._paths_re = re.compile(self.paths) if self.paths else None

    def applies_to(self, path: str) -> bool:
        return self._paths_re is None or self._paths_re.search(path) is not None


class Runtime:
    """Clock, faults, accounting and per-token hourly budgets of one simulator process."""

    def __init__(
        self,
        tokens: list[str],
        rate_limit: int,
        retry_after: int | None,
        faults: dict[str, Any] | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.tokens = list(tokens)
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.clock_offset = 0.0
        self.faults = Faults()
        self.faults.merge(dict(faults or {}))
        self.fault_changed = threading.Condition(self.lock)
        self.by_endpoint: Counter[str] = Counter()
        self.by_token: Counter[str] = Counter()
        self.total = 0
        self.budget_used: dict[str, tuple[int, int]] = {}  # token -> (hour, requests)
        self.reboots: dict[str, float] = {}

    def now(self) -> float:
        """Simulated time: the wall clock plus whatever tests advanced it by."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.clock_offset += seconds
        return self.now()

    def count_call(self, endpoint: str, token: str | None) -> None:
        with self.lock:
            self.total += 1
            self.by_endpoint[endpoint] += 1
            if token is not None:
                self.by_token[token] += 1

    def calls(self) -> dict[str, Any]:
        with self.lock:
            return {
                "total": self.total,
                "by_endpoint": dict(self.by_endpoint),
                "by_token": dict(self.by_token),
            }

    def spend(self, token: str) -> bool:
        """Take one call from the token's budget for this hour; False when it is exhausted."""
        with self.lock:
            hour = int(self.now() // HOUR)
            used_hour, used = self.budget_used.get(token, (hour, 0))
            if used_hour != hour:
                used = 0
            if used >= self.rate_limit:
                self.budget_used[token] = (hour, used)
                return False
            self.budget_used[token] = (hour, used + 1)
            return True

    def usage(self, token: str) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            hour = int(now // HOUR)
            used_hour, used = self.budget_used.get(token, (hour, 0))
            return {
                "request_limit": self.rate_limit,
                "requests": used if used_hour == hour else 0,
                "seconds": int(HOUR - now % HOUR),
            }

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self.fault_changed:
            self.faults.merge(changes)
            self.fault_changed.notify_all()
            return self.faults.as_dict()

    def get_faults(self) -> dict[str, Any]:
        with self.lock:
            return self.faults.as_dict()

    def snapshot_faults(self) -> Faults:
        with self.lock:
            copy = Faults(**{k: v for k, v in self.faults.as_dict().items() if k != "paths"})
            copy.merge({"paths": self.faults.paths})
            return copy

    def wait_while_hung(self, path: str, limit: float = 120.0) -> None:
        """Hold a request until the `hang` fault is cleared (or `limit` seconds pass)."""
        deadline = time.monotonic() + limit
        with self.fault_changed:
            while self.faults.hang and self.faults.applies_to(path):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self.fault_changed.wait(remaining)

    def reset(self) -> None:
        """Zero counters and budgets and clear faults (the start-up flags stay as defaults)."""
        with self.fault_changed:
            self.by_endpoint.clear()
            self.by_token.clear()
            self.total = 0
            self.budget_used.clear()
            self.faults = Faults()
            self.fault_changed.notify_all()
