"""Token state: which token to use next, each token's budget per clock hour, and the calls
of the current refresh.

Mist resets budgets on the hour; we keep our own count so a token is left before Mist
answers 429, and rotate on a 429 instead of sleeping like the SDK would.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mist.errors import MistError, RateLimited
from settings import Secret

log = logging.getLogger("mist")

HOURLY_LIMIT = 5000


@dataclass
class TokenState:
    """Our own bookkeeping per token: calls this clock hour and whether Mist said 'enough'."""

    label: str
    hour: int = 0
    calls_this_hour: int = 0
    calls_total: int = 0
    exhausted_until: float = 0.0
    limit: int = HOURLY_LIMIT
    rejected: bool = False  # Mist answered 401 (or 403 to /self): skipped until restart

    def usable(self, now: float) -> bool:
        return (
            not self.rejected and self.exhausted_until <= now and self.calls_this_hour < self.limit
        )

    def roll_hour(self, now: float) -> None:
        """Start a fresh hourly count when the clock hour has moved on."""
        hour = int(now // 3600)
        if hour != self.hour:
            self.hour, self.calls_this_hour = hour, 0

    def as_status(self, now: float) -> dict[str, Any]:
        return {
            "label": self.label,
            "calls_this_hour": self.calls_this_hour,
            "limit": self.limit,
            "exhausted": self.rejected or self.exhausted_until > now,
            "rejected": self.rejected,
        }


class TokenPool:
    """The configured tokens and their budgets; safe to use from several threads.

    Tokens are only ever named 'token N' outside this class: the secrets leave it only
    through `secret`, to be handed to the SDK.
    """

    def __init__(self, tokens: Sequence[Secret], clock: Callable[[], float]) -> None:
        if not tokens:
            raise ValueError("at least one token is needed")
        self._tokens = list(tokens)
        self._states = [TokenState(label=f"token {i + 1}") for i in range(len(tokens))]
        self._active = 0
        self._lock = threading.Lock()
        self._clock = clock
        self.calls_this_refresh = 0
        self.rate_limited = False

    def __len__(self) -> int:
        return len(self._tokens)

    def secret(self, index: int) -> Secret:
        return self._tokens[index]

    def pick(self) -> int:
        """The active token, or the next one with budget left; RateLimited when none has."""
        now = self._clock()
        with self._lock:
            index = self._next_usable(now)
            if index is None:
                raise self._none_usable(now)
            return index

    def _next_usable(self, now: float) -> int | None:
        for step in range(len(self._tokens)):
            index = (self._active + step) % len(self._tokens)
            state = self._states[index]
            state.roll_hour(now)
            if state.usable(now):
                if index != self._active:
                    log.info("switching to %s (previous token unusable)", state.label)
                self._active = index
                return index
        return None

    def _none_usable(self, now: float) -> MistError:
        """Why no token can be used: all rejected (a 401), else all out of budget (a 429)."""
        if all(s.rejected for s in self._states):
            return MistError(
                f"Mist rejected every configured token (HTTP 401): check MIST_API_TOKEN "
                f"({len(self._tokens)} token(s))",
                status=401,
            )
        self.rate_limited = True
        soonest = min(s.exhausted_until for s in self._states if not s.rejected)
        return RateLimited(
            f"all {len(self._tokens)} Mist API tokens are rate limited "
            f"(next budget in {max(0, int(soonest - now))} s)",
            status=429,
        )

    def count(self, index: int) -> None:
        """One call spent with this token (whatever Mist answered)."""
        with self._lock:
            state = self._states[index]
            state.roll_hour(self._clock())
            state.calls_this_hour += 1
            state.calls_total += 1
            self.calls_this_refresh += 1

    def exhaust(self, index: int, retry_after: str | None) -> None:
        """Mist answered 429: leave the token until Retry-After, else until the next hour."""
        now = self._clock()
        try:
            until = now + max(1.0, float(retry_after)) if retry_after else 0.0
        except ValueError:
            until = 0.0
        if not until:
            until = (math.floor(now / 3600) + 1) * 3600  # Mist resets budgets on the hour
        with self._lock:
            self._states[index].exhausted_until = until
        log.warning("%s is rate limited by Mist (HTTP 429)", self._states[index].label)

    def reject(self, index: int, status: int = 401) -> None:
        """Mist refused the token (401, or 403 to `/self`): skip it until restart."""
        with self._lock:
            self._states[index].rejected = True
        log.warning(
            "%s was rejected by Mist (HTTP %d); using the others",
            self._states[index].label,
            status,
        )

    def all_rejected(self) -> bool:
        with self._lock:
            return all(s.rejected for s in self._states)

    def prefer(self, index: int) -> None:
        """Make this token the active one (while it is usable): a call only it may make,
        such as listing the MSP its privilege names, goes out with it."""
        now = self._clock()
        with self._lock:
            if self._states[index].usable(now):
                self._active = index

    def status(self) -> list[dict[str, Any]]:
        """Per-token budget for the status JSON; tokens are only ever named 'token N'."""
        now = self._clock()
        with self._lock:
            for state in self._states:
                state.roll_hour(now)
            return [state.as_status(now) for state in self._states]

    def call_totals(self) -> dict[str, int]:
        """Calls per token since the worker started (`token N` -> n): Prometheus' counter."""
        with self._lock:
            return {state.label: state.calls_total for state in self._states}

    def available(self) -> int:
        """How many tokens could make a call now."""
        now = self._clock()
        with self._lock:
            return sum(1 for s in self._states if s.usable(now))

    def begin_refresh(self) -> None:
        """Zero the refresh's call count and rate-limit flag."""
        with self._lock:
            self.calls_this_refresh = 0
            self.rate_limited = False
