"""What the high-availability drill watches: pollers that read the web as a page does, and
the snapshot the Redis master holds now (found through the Sentinels, as the worker does).

A poller's cycle is /api/status, /api/gateways, /api/status again. A body must match its
ETag (one transaction gave both), and, on a web that reads the master, the gateways'
`generated_at` must lie between the `last_update` the status showed just before and just
after. A web that reads replicas may answer from a replica that lags (the previous whole
snapshot): there every body must still match its ETag and be a snapshot the master held.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from settings import SentinelSettings
from store.codec import etag_of
from store.histories import as_bytes
from store.keys import KEY_LAST_UPDATE, KEY_LOCK
from store.reads import connect

POLL_TIMEOUT = 5.0  # a request slower than this is a hang
SLOW = 2.0  # what wrk (the users) would count as a timeout


def etag_matches(served: str, expected: str) -> bool:
    """The gzip twin is served as `"<hash>-gz"`: the same hash as the plain body's ETag."""
    tag = served.removeprefix("W/").strip('"').removesuffix("-gz")
    return tag == expected.strip('"')


@dataclass
class Cycle:
    """One poll, as a page does it: the status, the gateways, the status again."""

    start: float  # monotonic
    end: float = 0.0
    code: int = 0  # /api/gateways' HTTP status; 0 when no answer came
    json_503: bool = False
    generated: float | None = None
    before: float | None = None
    after: float | None = None
    gateways: int = 0
    etag_ok: bool = True
    source: str | None = None  # "last_good" while the web serves the last-good copy
    stale: bool | None = None
    age: float | None = None
    last_error: str | None = None
    status_after: str = ""  # the worker's word in the status read after (for examples)
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def failed(self) -> bool:
        """Neither an answer nor the 503 JSON the web gives while no Redis node answers."""
        return self.code != 200 and not self.json_503


def _fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request, timeout=POLL_TIMEOUT) as response:
            status, headers, body = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, dict(error.headers), error.read()
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    return status, headers, body


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


class Poller(threading.Thread):
    """Polls one web (or the proxy) in a loop and keeps every cycle."""

    def __init__(self, name: str, url: str, *, ordered: bool) -> None:
        super().__init__(daemon=True, name=f"poller-{name}")
        self.label = name
        self.url = url
        self.ordered = ordered  # reads the master: the status/gateways order must hold
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.cycles: list[Cycle] = []

    def _status(self, cycle: Cycle, after: bool) -> None:
        code, _, body = _fetch(self.url + "/api/status")
        document = _json(body) if code == 200 else None
        if not isinstance(document, dict):
            return
        value = document.get("last_update")
        last_update = float(value) if isinstance(value, int | float) else None
        if not after:
            cycle.before = last_update
            return
        cycle.after = last_update
        cycle.source, cycle.stale = document.get("source"), document.get("stale")
        cycle.age, cycle.last_error = document.get("age"), document.get("last_error")
        cycle.status_after = f"{document.get('status')}/{document.get('phase')}"

    def poll_once(self) -> Cycle:
        cycle = Cycle(start=time.monotonic())
        try:
            self._status(cycle, after=False)
            code, headers, body = _fetch(self.url + "/api/gateways")
            cycle.code = code
            document = _json(body)
            if code == 503:
                cycle.json_503 = isinstance(document, dict) and document.get("status") == 503
            elif code == 200 and isinstance(document, dict):
                cycle.generated = float(document.get("generated_at") or 0)
                cycle.gateways = len(document.get("gateways") or [])
                etag = headers.get("ETag")
                cycle.etag_ok = not etag or etag_matches(etag, etag_of(body))
            self._status(cycle, after=True)
        except Exception as error:  # a hang or a reset: the cycle says so
            cycle.error = repr(error)[:200]
        cycle.end = time.monotonic()
        return cycle

    def run(self) -> None:
        while not self.stop_event.is_set():
            cycle = self.poll_once()
            with self.lock:
                self.cycles.append(cycle)
            self.stop_event.wait(0.05)

    def window(self, start: float, end: float = float("inf")) -> list[Cycle]:
        with self.lock:
            return [c for c in self.cycles if start <= c.start <= end]

    def fresh_after(self, moment: float, newer_than: float | None) -> float | None:
        """Seconds from `moment` until this web first answered a snapshot newer than
        `newer_than` (and not the last-good copy)."""
        for cycle in self.window(moment):
            if cycle.code == 200 and cycle.source is None and _newer(cycle.generated, newer_than):
                return cycle.end - moment
        return None

    def mixed(self, cycles: Iterable[Cycle], published: set[float]) -> list[str]:
        """Every cycle that showed a snapshot nobody published whole, and why."""
        problems = []
        for cycle in cycles:
            if cycle.code != 200 or cycle.generated is None:
                continue
            if not cycle.etag_ok:
                problems.append(f"{self.label}: an ETag that does not belong to its body")
            elif not self.ordered and published and cycle.generated not in published:
                problems.append(f"{self.label}: gateways of {cycle.generated}, never published")
            elif self.ordered and cycle.before is not None and cycle.generated < cycle.before:
                problems.append(
                    f"{self.label}: gateways {cycle.generated} < status before {cycle.before}"
                )
            elif self.ordered and cycle.after is not None and cycle.generated > cycle.after:
                problems.append(
                    f"{self.label}: gateways {cycle.generated} > status after {cycle.after}"
                    f" ({cycle.status_after})"
                )
        return problems


def _newer(value: float | None, than: float | None) -> bool:
    return value is not None and (than is None or value > than + 1e-6)


class MasterWatch(threading.Thread):
    """The snapshot the current master holds (its `last_update`), read every 0.1 s through
    the Sentinels: when each new one appeared, and who holds the worker lease."""

    def __init__(self, sentinel: SentinelSettings) -> None:
        super().__init__(daemon=True, name="master-watch")
        self.client = connect("redis://127.0.0.1:1/0", timeout=1.0, sentinel=sentinel)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.versions: list[tuple[float, float]] = []  # (monotonic first seen, last_update)
        self.owner: str | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                raw, owner = self.client.mget([KEY_LAST_UPDATE, KEY_LOCK])
            except redis.RedisError:
                self.stop_event.wait(0.1)
                continue
            with self.lock:
                self.owner = None if owner is None else as_bytes(owner).decode()
                if raw is not None and (not self.versions or float(raw) != self.versions[-1][1]):
                    self.versions.append((time.monotonic(), float(raw)))
            self.stop_event.wait(0.1)

    @property
    def latest(self) -> float | None:
        with self.lock:
            return self.versions[-1][1] if self.versions else None

    @property
    def published(self) -> set[float]:
        with self.lock:
            return {version for _, version in self.versions}

    def first_after(self, moment: float, newer_than: float | None) -> float | None:
        """Seconds from `moment` until the master first held a snapshot newer than given."""
        with self.lock:
            for seen, version in self.versions:
                if seen >= moment and _newer(version, newer_than):
                    return seen - moment
        return None

    def latest_at(self, moment: float) -> float | None:
        """The newest snapshot the master was seen holding at `moment`."""
        with self.lock:
            held = [version for seen, version in self.versions if seen <= moment]
        return held[-1] if held else None


def wait_for(check: Callable[[], bool], since: float, bound: float) -> float | None:
    """Seconds from `since` until `check` held (errors count as not yet); None after `bound`."""
    while time.monotonic() - since < bound:
        with contextlib.suppress(Exception):  # a node restarting: not yet
            if check():
                return time.monotonic() - since
        time.sleep(0.05)
    return None
