"""A refresh's traffic step for a whole org: every WAN port's new counters into its history.

The usual port needs only its home key: its state takes the new counters and one record is
appended. A port that is new, due for a trim, waiting for backfill or back from a long gap
has its whole history read, in chunks, so a 10,000-gateway org never holds every port's
week of samples at once. Holes are backfilled from Mist's insights within a tenth of each
token's hourly budget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from history.backfill import backfill_window, merge_backfill
from history.samples import COARSE_KEEP, Jump, PortHistory, Sample, add_counters, prune
from history.volume import WEEK, HourlyBytes, filling, hourly_bytes, volume_of_hours
from mist.errors import MistError
from store.histories import (
    HistoryWrite,
    port_history,
    read_history_states,
    read_stored_histories,
)
from store.history_codec import NO_ORG, StoredHistory, StoredState, org_tag
from store.keys import history_key
from store.week import WeekVolume, read_week_volumes, write_week_volumes
from traffic.plan import plan_counters_write, plan_history_write

log = logging.getLogger("worker.traffic")

CHUNK = 250  # ports per read: a chunk of full histories decodes to ~20 MB of samples
Port = tuple[str, str]
Volume = tuple[int | None, int | None]


class Circuit(Protocol):
    """What the traffic step needs of a WAN port (model.snapshot's Circuit)."""

    @property
    def gateway_id(self) -> str: ...
    @property
    def site_id(self) -> str | None: ...
    @property
    def port_id(self) -> str: ...
    @property
    def rx_bytes(self) -> int | None: ...
    @property
    def tx_bytes(self) -> int | None: ...
    @property
    def speed_bps(self) -> float: ...


class Insights(Protocol):
    """What backfill needs of the Mist connection."""

    @property
    def insights_keyed(self) -> bool: ...
    @property
    def insights_shape_known(self) -> bool: ...

    def port_insights(
        self, site_id: str, gateway_id: str, port_id: str, *, start: int, end: int, counter: Any
    ) -> tuple[list[Sample], int]: ...


def _reusable(stored: StoredState, org: bytes, now: float) -> bool:
    """Whether a port's stored history may go on: it is this org's (`org_tag`), and its last
    counters are within the 7 days a history is kept. Otherwise the port starts again:
    another org's or simulator's counters would make impossible rates."""
    last_ts = stored.state.last_ts
    return stored.org == org and (last_ts is None or last_ts >= now - COARSE_KEEP)


def backfill_cap(interval: int) -> int:
    """Backfill calls per token per refresh: at most a tenth of a token's hourly budget."""
    return max(1, 500 * interval // 3600)


@dataclass
class TrafficResult:
    """What each port's stored history needs written (mostly one appended sample), the
    24 h volume of every WAN port and the counter jumps refused as faster than the port."""

    writes: dict[Port, HistoryWrite] = field(default_factory=dict)
    volumes: dict[Port, Volume] = field(default_factory=dict)
    stored: dict[Port, StoredHistory] = field(default_factory=dict)
    rejected: dict[Port, Jump] = field(default_factory=dict)
    org: bytes = NO_ORG  # the `org_tag` every history is written with
    partial: set[Port] = field(default_factory=set)  # 24 h volumes of a history filling
    weeks: dict[Port, WeekVolume] = field(default_factory=dict)  # 7-day volumes, reckoned at
    reckoned: set[Port] = field(default_factory=set)  # the weeks reckoned this refresh

    def port_volumes(self) -> dict[Port, tuple[Any, ...]]:
        """Every port's volumes as its §3.1 record takes them (model.snapshot.WanPort.as_dict):
        the 24 h bytes, whether they are partial, and the 7-day bytes with their time."""
        volumes: dict[Port, tuple[Any, ...]] = {}
        for port in self.volumes.keys() | self.weeks.keys():
            rx, tx = self.volumes.get(port, (None, None))
            week = self.weeks.get(port)
            volumes[port] = (rx, tx, port in self.partial, *(week or (None, None, False, None)))
        return volumes

    def day(self, port: Port, hourly: HourlyBytes, now: float) -> None:
        """A port's 24 h volume from its hourly bytes, and whether it is partial."""
        self.volumes[port] = volume_of_hours(hourly, now=now)
        if filling(hourly, now=now):
            self.partial.add(port)

    def on_jump(self, port: Port) -> Callable[[Jump], None]:
        """Where `add_counters` reports a refused jump of `port`: counted, logged once."""

        def refused(jump: Jump) -> None:
            if port not in self.rejected:
                log.info(
                    "traffic: refused a counter jump on %s %s: rx +%s, tx +%s bytes in %.0f s"
                    " (above %.3g bit/s)",
                    *port,
                    jump.rx_bytes,
                    jump.tx_bytes,
                    jump.seconds,
                    jump.bound_bps,
                )
            self.rejected[port] = jump

        return refused

    def reckon(self, port: Port, history: PortHistory, now: float, interval: int) -> HourlyBytes:
        """The volumes of a port whose whole history is at hand: its 24 h volume and its
        7-day one (kept in `mist:traffic:week` for the refreshes that read only home keys);
        returns its hourly bytes of the last 24 h."""
        hourly = hourly_bytes(history, now=now, interval=interval)
        self.day(port, hourly, now)
        week = hourly_bytes(history, now=now, seconds=WEEK, interval=interval)
        rx, tx = volume_of_hours(week, now=now, seconds=WEEK)
        self.weeks[port] = (rx, tx, filling(week, now=now, seconds=WEEK), now)
        self.reckoned.add(port)
        return hourly

    def finish(
        self, port: Port, history: PortHistory, now: float, interval: int, *, backfill: bool
    ) -> None:
        """A port whose whole history was read: its volume and its write."""
        history = prune(history, now)
        hourly = self.reckon(port, history, now, interval)
        write = plan_history_write(
            history_key(*port),
            self.stored.pop(port, None),
            history,
            now=now,
            interval=interval,
            needs_backfill=backfill,
            hourly=hourly,
            org=self.org,
        )
        if write is not None:
            self.writes[port] = write


Candidate = tuple[Circuit, PortHistory, tuple[int, int]]


@dataclass
class _Tally:
    new_ports: int = 0
    whole_reads: int = 0
    waiting: int = 0
    candidates: list[Candidate] = field(default_factory=list)


class CallCount(Protocol):
    """A thread-safe count of Mist calls (mist's CallCounter)."""

    @property
    def calls(self) -> int: ...


@dataclass(frozen=True)
class BackfillReport:
    """What backfill did this refresh, for the status document."""

    filled: int
    calls: int
    seconds: float
    error: str | None


class TrafficStep:
    """Runs the traffic step of one refresh (one instance per worker)."""

    def __init__(
        self,
        client: redis.Redis,
        redis_lock: threading.Lock,
        mist: Insights,
        fanout: Executor,
        *,
        interval: int,
        tokens_available: Callable[[], int],
        new_counter: Callable[[], CallCount],
    ) -> None:
        self._client = client
        self._lock = redis_lock
        self._mist = mist
        self._fanout = fanout
        self._interval = interval
        self._tokens = tokens_available
        self._new_counter = new_counter

    def _budget(self) -> int:
        return backfill_cap(self._interval) * max(1, self._tokens())

    def run(
        self,
        circuits: Sequence[Circuit],
        now: float,
        *,
        org_id: str,
        before_backfill: Callable[[], None],
    ) -> tuple[TrafficResult, BackfillReport]:
        """Every port's write and volume, after backfilling a capped few holes. A stored
        history of another org, or one whose counters are older than the 7 days kept,
        starts again."""
        started = time.monotonic()
        result = TrafficResult(org=org_tag(org_id))
        tally = _Tally()
        for first in range(0, len(circuits), CHUNK):
            whole = self._from_states(circuits[first : first + CHUNK], now, result, tally)
            if whole:
                self._from_histories(whole, now, result, tally)
        log.info(
            "history: %d ports (%d new, %d read whole), %d samples refused, %.2f s",
            len(circuits),
            tally.new_ports,
            tally.whole_reads,
            len(result.rejected),
            time.monotonic() - started,
        )
        before_backfill()
        report = self._backfill(tally.candidates, result, now)
        with self._lock:
            write_week_volumes(self._client, {p: result.weeks[p] for p in result.reckoned})
        if tally.waiting:
            log.info("backfill: %d ports left for later refreshes", tally.waiting)
        return result, report

    def _from_states(
        self, chunk: Sequence[Circuit], now: float, result: TrafficResult, tally: _Tally
    ) -> list[Circuit]:
        """Ports refreshed from their home key alone; returns those that need everything."""
        ports = [(c.gateway_id, c.port_id) for c in chunk]
        with self._lock:
            states = read_history_states(self._client, ports)
            weeks = read_week_volumes(self._client, ports)
        result.weeks.update((p, w) for p, w in weeks.items() if w[3] > now - WEEK)
        whole: list[Circuit] = []
        for circuit in chunk:
            port = (circuit.gateway_id, circuit.port_id)
            stored = states.get(port)
            tally.new_ports += port not in states
            planned = None
            if stored is not None and _reusable(stored, result.org, now):
                planned = plan_counters_write(
                    history_key(*port),
                    stored,
                    now=now,
                    interval=self._interval,
                    rx_bytes=circuit.rx_bytes,
                    tx_bytes=circuit.tx_bytes,
                    speed_bps=circuit.speed_bps,
                    on_jump=result.on_jump(port),
                )
            if planned is None:
                whole.append(circuit)
                continue
            write, state = planned
            result.day(port, state.hourly, now)
            if write is not None:
                result.writes[port] = write
        return whole

    def _from_histories(
        self, whole: list[Circuit], now: float, result: TrafficResult, tally: _Tally
    ) -> None:
        """Ports whose whole history is read: new counters, then a backfill candidate or done."""
        tally.whole_reads += len(whole)
        ports = [(c.gateway_id, c.port_id) for c in whole]
        with self._lock:
            found_stored = read_stored_histories(self._client, ports)
        # Another org's history, or one too old, is not continued: the port starts again.
        stored = {p: s for p, s in found_stored.items() if _reusable(s.home, result.org, now)}
        result.stored.update(stored)  # finish() takes each back: what the keys hold now
        per_port = 1 if self._mist.insights_keyed else 2
        room = max(1, self._budget() // per_port)
        for circuit, port in zip(whole, ports, strict=True):
            found = stored.get(port)
            history = add_counters(
                port_history(found) if found else None,
                ts=now,
                rx_bytes=circuit.rx_bytes,
                tx_bytes=circuit.tx_bytes,
                speed_bps=circuit.speed_bps,
                on_jump=result.on_jump(port),
            )
            window = backfill_window(history, now=now) if circuit.site_id else None
            if window is not None and len(tally.candidates) < room:
                tally.candidates.append((circuit, history, window))
                continue
            tally.waiting += window is not None
            result.finish(port, history, now, self._interval, backfill=window is not None)

    def _backfill(
        self, candidates: list[Candidate], result: TrafficResult, now: float
    ) -> BackfillReport:
        """Fill holes from Mist insights, within a tenth of each token's hourly budget.

        The first port goes alone while Mist's answer shape is unknown (a refused two-metric
        call costs one more); the rest go concurrently, as many as the calls left allow.
        """
        counter = self._new_counter()
        started = time.monotonic()
        outcomes = self._ask(candidates, counter)
        errors: list[str] = []
        filled = 0
        for (circuit, history, window), outcome in zip(candidates, outcomes, strict=True):
            pending = True
            if outcome is not None:
                try:
                    points, step = outcome.result()
                    history = merge_backfill(
                        history, points=points, step=step, now=now, window=window
                    )
                    filled += 1
                    pending = False
                except MistError as failure:  # this port waits for a later refresh
                    errors.append(str(failure))
            port = (circuit.gateway_id, circuit.port_id)
            result.finish(port, history, now, self._interval, backfill=pending)
        error = f"{len(errors)} failed, last: {errors[-1]}" if errors else None
        return BackfillReport(filled, counter.calls, time.monotonic() - started, error)

    def _ask(
        self, candidates: list[Candidate], counter: CallCount
    ) -> list[Future[tuple[list[Sample], int]] | None]:
        """One insights request per candidate that fits the budget (None: next refresh)."""

        def fill(item: Candidate) -> tuple[list[Sample], int]:
            circuit, _, (start, end) = item
            return self._mist.port_insights(
                circuit.site_id or "",
                circuit.gateway_id,
                circuit.port_id,
                start=start,
                end=end,
                counter=counter,
            )

        outcomes: list[Future[tuple[list[Sample], int]] | None] = []
        if candidates and not self._mist.insights_shape_known:
            probe: Future[tuple[list[Sample], int]] = Future()
            try:
                probe.set_result(fill(candidates[0]))
            except MistError as failure:  # read back with the others
                probe.set_exception(failure)
            outcomes.append(probe)
        per_port = 1 if self._mist.insights_keyed else 2
        room = max(0, (self._budget() - counter.calls) // per_port)
        rest = candidates[len(outcomes) :]
        outcomes += [self._fanout.submit(fill, item) for item in rest[:room]]
        outcomes += [None] * (len(rest) - min(room, len(rest)))  # over budget: next refresh
        return outcomes
