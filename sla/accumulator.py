"""Availability of every WAN port and peer path as compact running sums, never a re-read.

Pure. Each circuit keeps one short array of 64-bit integers (`Record`: no int objects and
nothing for the garbage collector to scan, ~250 bytes a circuit): its state flags, a lifetime flap
counter, the current UTC hour's and day's buckets (seconds observed, down, degraded, and
flaps) and the sums of the closed hours and days still inside the 24 h, 7 d and 30 d
windows. A refresh adds the seconds since the last one to the current buckets (from the
flags, changed at each event's time), then closes every hour and day that ended: a closed
bucket joins the sums and is handed back to be stored once (`closed`), and the bucket that
leaves a window is subtracted (read back once, `leaving`). So a refresh costs one pass over
the circuits whatever the windows' length, and 30 days of events are never read again.

Availability is over the observed time only: before a circuit is first seen, while its
gateway is offline, while the port is disabled or its state unknown, and past `max_gap`
without a refresh, time counts neither up nor down (DATA.md §3.9). The windows are whole UTC
buckets: 24 h is the current hour and the 24 before it, 7 d and 30 d today and the 7 or 30
days before.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

HOUR, DAY = 3600, 86400
SEP = "\t"
STATE_VERSION = 1
WINDOWS = ("24h", "7d", "30d")
WINDOW_LENGTHS = {"24h": 24, "7d": 7, "30d": 30}
"""Closed buckets (hours for 24h, UTC days for the others) a window holds besides the
current one: a window is never shorter than its name (24 h is this hour and the 24 before)."""

# Flags of a circuit's state.
ONLINE, ENABLED, KNOWN, UP, DEGRADED = 1, 2, 4, 8, 16
IN_SERVICE = ONLINE | ENABLED | KNOWN
_PLAIN_MASK, _PLAIN_UP = IN_SERVICE | UP | DEGRADED, IN_SERVICE | UP  # counted up, not slow

# A record: [flags, flaps ever, hour bucket ×4, day bucket ×4, sum24 ×4, sum7 ×4, sum30 ×4,
# slot]. A bucket: seconds observed, seconds down, seconds degraded (while up), flaps. The
# slot is the circuit's number in the stored buckets (shorter than its key).
FLAGS, FLAPS_EVER, HOUR_AT, DAY_AT, SUM24, SUM7, SUM30, SLOT = 0, 1, 2, 6, 10, 14, 18, 22
WIDTH = 23
OBSERVED, DOWN, SLOW, FLAPS = 0, 1, 2, 3
SUMS = {"24h": (HOUR_AT, SUM24), "7d": (DAY_AT, SUM7), "30d": (DAY_AT, SUM30)}

Record: TypeAlias = "array[int]"  # WIDTH signed 64-bit integers (array('q'))
Bucket = list[int]
Buckets = dict[int, Bucket]  # circuit slot -> one closed bucket
_ZEROS = bytes(8 * WIDTH)
_FOUR_ZEROS = array("q", bytes(32))


def port_key(gateway_id: str, port_id: str) -> str:
    """A WAN port's key (the events' port key behind `p`)."""
    return SEP.join(("p", gateway_id, port_id))


def path_key(gateway_id: str, port_id: Any, peer_mac: Any, peer_port_id: Any) -> str:
    """A peer path's key (the events' path key behind `x`)."""
    return SEP.join(("x", gateway_id, str(port_id), str(peer_mac), str(peer_port_id)))


def hour_bucket(hour: int) -> str:
    return f"h{hour}"


def day_bucket(day: int) -> str:
    return f"d{day}"


@dataclass
class Accumulator:
    """Every circuit's record, and the time, hour and day they are counted up to."""

    time: int
    hour: int
    day: int
    circuits: dict[str, Record] = field(default_factory=dict)
    next_slot: int = 0

    def add(self, key: str, flags: int) -> None:
        """A circuit seen for the first time: nothing counted before now."""
        record = array("q", _ZEROS)
        record[FLAGS], record[SLOT] = flags, self.next_slot
        self.next_slot += 1
        self.circuits[key] = record

    def header(self) -> dict[str, Any]:
        """Everything but the records (store.sla packs those apart)."""
        return {"v": STATE_VERSION, "t": self.time, "h": self.hour, "d": self.day,
                "n": self.next_slot}  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {**self.header(), "c": {key: rec.tolist() for key, rec in self.circuits.items()}}

    @classmethod
    def from_json(cls, document: Mapping[str, Any] | None) -> Accumulator | None:
        """The stored state, or None when absent or of another version (start afresh)."""
        if not document or document.get("v") != STATE_VERSION:
            return None
        circuits = {  # the worker wrote them: lists of WIDTH integers
            key: array("q", rec)
            for key, rec in (document.get("c") or {}).items()
            if isinstance(rec, list) and len(rec) == WIDTH
        }
        return cls(
            int(document["t"]), int(document["h"]), int(document["d"]), circuits,
            int(document.get("n") or 0),
        )  # fmt: skip


def totals(record: Sequence[int], window: str) -> tuple[int, int, int, int]:
    """(observed, down, degraded seconds, flaps) of `record` over `window`."""
    current, closed = SUMS[window]
    o, d, s, f = (record[current + i] + record[closed + i] for i in range(4))
    return o, d, s, f


def availability(observed: int, down: int) -> float | None:
    """Percent of the observed time up (3 decimals), None when nothing was observed."""
    if observed <= 0:
        return None
    return 100.0 if down == 0 else round(100.0 * (observed - down) / observed, 3)


@dataclass(frozen=True)
class Needed:
    """The closed buckets a refresh to `now` subtracts (to read before it), and the sums it
    resets because every bucket in them has left its window."""

    buckets: tuple[str, ...]
    reset: tuple[str, ...]


def _leaving(first: int, last: int, length: int) -> tuple[range, bool]:
    """Closing from `first` to `last` (exclusive): the stored buckets that leave a window of
    `length`, and whether all of them do (the sums reset instead)."""
    if last - first >= length:
        return range(0), True
    return range(first - length, min(last - length, first)), False


def needed(accumulator: Accumulator | None, now: float) -> Needed:
    """What `advance` to `now` will subtract: read these buckets first."""
    if accumulator is None:
        return Needed((), ())
    hour, day = int(now) // HOUR, int(now) // DAY
    names: list[str] = []
    reset: list[str] = []
    hours, all_hours = _leaving(accumulator.hour, hour, 24)
    names += [hour_bucket(h) for h in hours]
    reset += ["24h"] if all_hours else []
    for window in ("7d", "30d"):
        days, all_days = _leaving(accumulator.day, day, WINDOW_LENGTHS[window])
        names += [day_bucket(d) for d in days if day_bucket(d) not in names]
        reset += [window] if all_days else []
    return Needed(tuple(names), tuple(reset))


Change = tuple[int, str]  # (time, event type)
_EFFECTS: dict[str, tuple[int, int]] = {  # event type -> (flags set, flags cleared)
    "port_up": (KNOWN | UP, 0),
    "path_up": (KNOWN | UP, 0),
    "port_down": (KNOWN, UP),
    "path_down": (KNOWN, UP),
    "port_enabled": (ENABLED, 0),
    "port_disabled": (0, ENABLED),
    "circuit_degraded": (DEGRADED, 0),
    "circuit_recovered": (0, DEGRADED),
    "gateway_online": (ONLINE, 0),
    "gateway_offline": (0, ONLINE),
}


def changes(
    events: Iterable[Mapping[str, Any]], circuits: Mapping[str, Any], start: int, end: int
) -> dict[str, list[Change]]:
    """Each circuit's state changes in [start, end], in time order; an event older than
    `start` (Mist's record, read late) counts at `start`, a gateway's at each of its circuits."""
    found: dict[str, list[Change]] = {}
    by_gateway: dict[str, list[str]] | None = None
    for event in events:
        kind = event.get("type")
        if kind not in _EFFECTS or not event.get("gateway_id"):
            continue
        when = min(max(int(float(event.get("time") or start)), start), end)
        gateway_id = str(event["gateway_id"])
        if kind.startswith("gateway_"):
            if by_gateway is None:
                by_gateway = _by_gateway(circuits)
            keys = by_gateway.get(gateway_id, [])
        elif kind.startswith("path_"):
            keys = [path_key(gateway_id, *(event.get(f) for f in _PATH_FIELDS))]
        else:
            keys = [port_key(gateway_id, str(event.get("port_id")))]
        for key in keys:
            if key in circuits:
                found.setdefault(key, []).append((when, kind))
    for listed in found.values():
        listed.sort(key=lambda change: change[0])
    return found


_PATH_FIELDS = ("port_id", "peer_mac", "peer_port_id")


def _by_gateway(circuits: Iterable[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for key in circuits:
        index.setdefault(key.split(SEP, 2)[1], []).append(key)
    return index


class _Run:
    """One advance: the seconds since the last refresh counted, hours and days closed."""

    def __init__(
        self,
        accumulator: Accumulator,
        now: int,
        observed_until: int,
        pending: dict[str, list[Change]],
        leaving: Mapping[str, Buckets],
    ) -> None:
        self.acc = accumulator
        self.now = now
        self.observed_until = observed_until
        self.pending = pending
        self.leaving = leaving
        self.reset = needed(accumulator, now).reset
        self.first_hour, self.first_day = accumulator.hour, accumulator.day
        self.closed: dict[str, Buckets] = {}
        self.dirty_hour = self.dirty_day = True  # a stored current bucket may hold seconds
        self._done: dict[str, int] = {}
        self._slots: dict[int, Record] | None = None

    def count(self, record: Record, start: int, end: int) -> None:
        """The seconds of [start, end) that were observed, by the record's flags."""
        seconds = min(end, self.observed_until) - start
        flags = record[FLAGS]
        if seconds <= 0 or flags & IN_SERVICE != IN_SERVICE:
            return
        self.dirty_hour = self.dirty_day = True
        column = OBSERVED if flags & UP else DOWN
        if column == OBSERVED and flags & DEGRADED:
            column = SLOW
        for at in (HOUR_AT, DAY_AT):
            record[at + OBSERVED] += seconds
            if column != OBSERVED:
                record[at + column] += seconds

    def apply(self, record: Record, kind: str) -> None:
        """An event's change of flags; a down after an up is a flap."""
        before = record[FLAGS]
        raised, cleared = _EFFECTS[kind]
        record[FLAGS] = (before | raised) & ~cleared
        if kind in ("port_down", "path_down") and before & (KNOWN | UP) == KNOWN | UP:
            self.flap(record)

    def flap(self, record: Record) -> None:
        self.dirty_hour = self.dirty_day = True
        record[HOUR_AT + FLAPS] += 1
        record[DAY_AT + FLAPS] += 1
        record[FLAPS_EVER] += 1

    def span(self, start: int, end: int, *, last: bool) -> None:
        """[start, end) of every circuit (its events at `end` too when `last`)."""
        seconds = min(end, self.observed_until) - start
        pending = self.pending
        inline = 0  # circuits counted up and not degraded (most): inline, not in count()
        for key, record in self.acc.circuits.items():
            todo = pending.get(key) if pending else None
            if todo is None:
                if seconds > 0 and record[FLAGS] & _PLAIN_MASK == _PLAIN_UP:
                    record[HOUR_AT] += seconds
                    record[DAY_AT] += seconds
                    inline += 1
                else:
                    self.count(record, start, end)
                continue
            at = start
            index = self._done.get(key, 0)
            while index < len(todo) and (todo[index][0] < end or last):
                when, kind = todo[index]
                self.count(record, at, when)
                self.apply(record, kind)
                at = when
                index += 1
            self._done[key] = index
            self.count(record, at, end)
        if inline:
            self.dirty_hour = self.dirty_day = True

    def close(self, name: str, current: int, sums: Iterable[tuple[int, int, str]]) -> None:
        """The current bucket (at `current`) closed into `name` and the sums; then the
        buckets leaving each window, (sum, leaving index, window), subtracted."""
        if self.dirty_hour if current == HOUR_AT else self.dirty_day:
            blob: Buckets = {}
            for record in self.acc.circuits.values():
                bucket = record[current : current + 4].tolist()
                if any(bucket):
                    blob[record[SLOT]] = bucket
                    record[current : current + 4] = _FOUR_ZEROS
                    for at, _, _ in sums:
                        _add(record, at, bucket, 1)
            if blob:
                self.closed[name] = blob
        for at, leave, window in sums:
            for slot, bucket in self._left(leave, window, current).items():
                leaving = self._by_slot().get(slot)
                if leaving is not None:
                    _add(leaving, at, bucket, -1)

    def _by_slot(self) -> dict[int, Record]:
        if self._slots is None:
            self._slots = {record[SLOT]: record for record in self.acc.circuits.values()}
        return self._slots

    def _left(self, leave: int, window: str, current: int) -> Buckets:
        name = hour_bucket(leave) if current == HOUR_AT else day_bucket(leave)
        first = self.first_hour if current == HOUR_AT else self.first_day
        if leave >= first:
            return self.closed.get(name, {})
        return {} if window in self.reset else dict(self.leaving.get(name, {}))

    def run(self) -> None:
        for window, at in (("24h", SUM24), ("7d", SUM7), ("30d", SUM30)):
            if window in self.reset:
                for record in self.acc.circuits.values():
                    record[at : at + 4] = _FOUR_ZEROS
        start = self.acc.time
        for boundary in range((self.acc.hour + 1) * HOUR, self.now + 1, HOUR):
            self.span(start, boundary, last=False)
            start = boundary
            self.close(hour_bucket(self.acc.hour), HOUR_AT, [(SUM24, self.acc.hour - 24, "24h")])
            self.acc.hour += 1
            self.dirty_hour = False
            if boundary % DAY == 0:
                day = self.acc.day
                windows = [(SUM7, day - 7, "7d"), (SUM30, day - 30, "30d")]
                self.close(day_bucket(day), DAY_AT, windows)
                self.acc.day += 1
                self.dirty_day = False
        self.span(start, self.now, last=True)
        self.acc.time = self.now


def _add(record: Record, at: int, bucket: Bucket, sign: int) -> None:
    for index in range(4):
        record[at + index] += sign * bucket[index]


def advance(
    accumulator: Accumulator | None,
    now: float,
    events: Iterable[Mapping[str, Any]],
    final: Mapping[str, int],
    *,
    max_gap: int,
    leaving: Mapping[str, Buckets] | None = None,
) -> tuple[Accumulator, dict[str, Buckets]]:
    """The accumulator counted up to `now` and the buckets closed on the way (to store).

    `events` are this refresh's (derived and Mist's), `final` every circuit's flags as this
    refresh sees them, `leaving` the stored buckets `needed` named. Seconds past `max_gap`
    after the last refresh are not observed (the worker was away: nobody knows)."""
    at = int(now)
    if accumulator is None:
        fresh = Accumulator(at, at // HOUR, at // DAY)
        for key, flags in final.items():
            fresh.add(key, flags)
        return fresh, {}
    if at >= accumulator.time:  # the same second too: its changes and flaps count
        pending = changes(events, accumulator.circuits, accumulator.time, at)
        run = _Run(accumulator, at, accumulator.time + max_gap, pending, leaving or {})
        run.run()
        _settle(accumulator, final, run)
        return accumulator, run.closed
    _settle(accumulator, final, None)  # the clock stepped back: nothing to count, flags move
    return accumulator, {}


def _settle(accumulator: Accumulator, final: Mapping[str, int], run: _Run | None) -> None:
    """This refresh's flags on every record; a down no event told of is a flap all the
    same; a circuit gone with nothing left in any window leaves."""
    circuits = accumulator.circuits
    for key, record in list(circuits.items()):
        flags = final.get(key, 0)
        if run and record[FLAGS] & (KNOWN | UP) == KNOWN | UP and flags & (KNOWN | UP) == KNOWN:
            run.flap(record)
        record[FLAGS] = flags
        if key not in final and not any(record[HOUR_AT:SLOT]):
            del circuits[key]
    for key, flags in final.items():
        if key not in circuits:
            accumulator.add(key, flags)
