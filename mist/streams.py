"""A stream: the items one org-wide call gathered and the Mist calls it spent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mistapi

SdkCall = Callable[..., Any]  # a generated mistapi endpoint function: fn(session, *args, **kw)
Invoke = Callable[[mistapi.APISession], Any]  # one request made on a given SDK session
Trim = Callable[[Any], Any]  # applied to each item as its page arrives (keeps memory small)


def keep(item: Any) -> Any:
    """The trim that keeps an item whole."""
    return item


@dataclass
class CallCounter:
    """Calls spent by one stream (thread-safe: pages of one stream run concurrently)."""

    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self) -> None:
        with self.lock:
            self.calls += 1


@dataclass(frozen=True)
class Fetched:
    """Items of one stream and what they cost."""

    items: list[Any]
    calls: int
    seconds: float
