"""Mist's own record of what happened between two refreshes, merged with the derived events.

Pure. A refresh compares two snapshots (model/events.py), so a WAN port that went down and
up again between them leaves no trace there; Mist's device events (`searchOrgDeviceEvents`)
do. This module reads those events into our event dicts (source "mist", Mist's times, ids and
names looked up in the snapshot) and merges them with the derived ones so that one change
told by both is stored once (DATA.md §3.8, "Mist's own record"):

- Same change: the same type, the same gateway, port and peer (a fact Mist's event lacks
  matches any), Mist's time within the derived event's cover (from the previous refresh
  − SLACK to this refresh + SLACK), and no event of the opposite type on that subject
  between the two times. Each event pairs at most once; the latest Mist event wins.
- Both new: one event with Mist's time and id, the refresh's before/after, source
  "refresh+mist". One already stored (paired later, Mist indexes late or stats lag): the
  new one is dropped.
- A Mist event read again (each read overlaps the last by OVERLAP) has the same id and is
  skipped: the state keeps the ids the next read can return again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product
from typing import Any

from model.events import make_event
from model.items import gateway_id_from_mac
from model.snapshot import Gateway, Snapshot
from model.values import number, text

MIST_KINDS: dict[str, str] = {
    "GW_PORT_DOWN": "port_down",
    "GW_PORT_UP": "port_up",
    "GW_VPN_PATH_DOWN": "path_down",
    "GW_VPN_PATH_UP": "path_up",
    "GW_VPN_PEER_DOWN": "path_down",
    "GW_VPN_PEER_UP": "path_up",
    "GW_DISCONNECTED": "gateway_offline",
    "GW_CONNECTED": "gateway_online",
}
"""Mist's gateway device event types we read (REFERENCE.md §4.12) and the event each is."""

MIST_TYPES = tuple(MIST_KINDS)
AFTER: dict[str, bool] = {
    "port_down": False,
    "port_up": True,
    "path_down": False,
    "path_up": True,
    "gateway_offline": False,
    "gateway_online": True,
}
"""Each pairable type's `after` (its `before` is the opposite)."""
OPPOSITE: dict[str, str] = {
    "port_down": "port_up",
    "port_up": "port_down",
    "path_down": "path_up",
    "path_up": "path_down",
    "gateway_offline": "gateway_online",
    "gateway_online": "gateway_offline",
}
PEER_KINDS = frozenset({"path_down", "path_up"})
PORT_KINDS = frozenset({"port_down", "port_up"}) | PEER_KINDS

OVERLAP = 120.0  # each read starts this long before the last one ended: Mist indexes late
SLACK = 180.0  # a derived change may lag or lead Mist's time by this (stats report late)
MAX_LOOKBACK = 86400.0  # a worker back after a long stop reads at most the last day

Subject = tuple[str | None, str | None, str | None, str | None]  # gateway, port, peer, port


def read_window(state: Mapping[str, Any] | None, now: float, interval: float) -> tuple[int, int]:
    """(start, end) epoch seconds of this refresh's read: from where the last read ended
    (less OVERLAP), else the last interval; never more than MAX_LOOKBACK."""
    until = number(mist_state(state).get("until"))
    start = until - OVERLAP if until is not None else now - interval
    start = min(max(start, now - MAX_LOOKBACK), now)
    return int(start), int(now) + 1


def mist_state(state: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The Mist part of the events state (empty before the first read)."""
    found = state.get("mist") if state else None
    return found if isinstance(found, Mapping) else {}


# ------------------------------------------------------------------ conversion


@dataclass
class _Lookup:
    """Names and ids from the snapshot, by what Mist's events carry (the gateway's MAC)."""

    snapshot: Snapshot

    @cached_property
    def by_mac(self) -> dict[str, Gateway]:
        return {r.stat.mac.lower(): r for r in self.snapshot.records if r.stat.mac}

    @cached_property
    def site_names(self) -> dict[Any, Any]:
        return {site.get("id"): site.get("name") for site in self.snapshot.sites}

    @cached_property
    def peer_names(self) -> dict[tuple[str, Any, Any, Any], Any]:
        return {
            (gateway_id, path.port_id, path.peer_mac, path.peer_port_id): path.peer_router_name
            for (gateway_id, _mac), paths in self.snapshot.paths.items()
            for path in paths
        }


def _mac(value: Any) -> str | None:
    found = text(value)
    return found.lower().replace(":", "").replace("-", "") if found else None


def convert(raw: Iterable[Any], snapshot: Snapshot) -> list[dict[str, Any]]:
    """Mist's device events as our events, oldest first; an item of another type, or
    without a usable time or MAC, is skipped."""
    lookup = _Lookup(snapshot)
    events = [event for item in raw if (event := _convert(item, lookup)) is not None]
    events.sort(key=lambda event: event["time"])
    return events


def _convert(item: Any, lookup: _Lookup) -> dict[str, Any] | None:
    if not isinstance(item, Mapping):
        return None
    kind = MIST_KINDS.get(str(item.get("type")))
    when = number(item.get("timestamp"))
    mac = _mac(item.get("mac"))
    if kind is None or when is None or when <= 0 or mac is None:
        return None
    record = lookup.by_mac.get(mac)
    gateway_id = record.stat.id if record else gateway_id_from_mac(mac)
    site_id = text(item.get("site_id")) or (record.stat.site_id if record else None)
    org = lookup.snapshot.org
    facts: dict[str, Any] = {
        "org_id": text(item.get("org_id")) or text(org.get("id")),
        "org_name": text(org.get("name")),
        "site_id": site_id,
        "site_name": text(lookup.site_names.get(site_id)),
        "gateway_id": gateway_id,
        "gateway_name": text(record.stat.name) if record else None,
    }
    if kind in PORT_KINDS:
        facts["port_id"] = text(item.get("port_id"))
    if kind in PEER_KINDS:
        facts["peer_mac"] = _mac(item.get("peer_mac"))
        facts["peer_port_id"] = text(item.get("peer_port_id"))
        key = (gateway_id, facts["port_id"], facts["peer_mac"], facts["peer_port_id"])
        facts["peer_name"] = text(lookup.peer_names.get(key))
    after = AFTER[kind]
    return make_event(kind, float(when), source="mist", before=not after, after=after, **facts)


# ------------------------------------------------------------------ merge


@dataclass
class _Told:
    """One change as the merge weighs it: new this refresh or remembered in the state."""

    kind: str
    subject: Subject
    time: float
    low: float  # the cover: a Mist time in [low, high] may be this change
    high: float
    source: str  # refresh / mist
    event: dict[str, Any] | None = None  # new this refresh: the event to store
    paired: bool = False
    dropped: bool = False

    def entry(self) -> list[Any]:
        return [self.kind, *self.subject, self.time, self.low, self.high, self.source]


def _subject(event: Mapping[str, Any]) -> Subject:
    return (event["gateway_id"], event["port_id"], event["peer_mac"], event["peer_port_id"])


def _covers(mist: Subject, derived: Subject) -> bool:
    """A Mist fact that is null matches any; the gateway must be the same."""
    pairs = zip(mist, derived, strict=True)
    return mist[0] == derived[0] and all(a is None or a == b for a, b in pairs)


def _remembered(state: Mapping[str, Any]) -> list[_Told]:
    told: list[_Told] = []
    for entry in state.get("recent") or ():
        try:
            kind, gateway, port, peer, peer_port, when, low, high, source = entry
            if kind not in OPPOSITE or source not in ("refresh", "mist"):
                continue
            subject = (gateway, port, peer, peer_port)
            told.append(_Told(kind, subject, float(when), float(low), float(high), source))
        except (TypeError, ValueError):
            continue  # an entry this version cannot read: nothing to pair with
    return told


@dataclass
class Merged:
    """The events to store this refresh and the Mist part of the state to keep."""

    events: list[dict[str, Any]]
    state: dict[str, Any] = field(default_factory=dict)


def merge(
    derived: list[dict[str, Any]],
    mist: list[dict[str, Any]],
    state: Mapping[str, Any] | None,
    *,
    now: float,
    read: bool,
    slack: float = SLACK,
) -> Merged:
    """The derived events and Mist's (see the module's rule) as one list, and the state the
    next merge needs. `read`: whether Mist's events were read this refresh (a failed read
    leaves `until` where it was, so the next read covers the gap)."""
    previous = mist_state(state)
    seen = {str(i) for i in previous.get("seen") or ()}
    last = number(previous.get("at"))
    low = (last if last is not None else now) - slack
    told = _remembered(previous)
    fresh: list[_Told] = []
    for event in derived:
        if event["type"] in AFTER:
            fresh.append(_Told(event["type"], _subject(event), now, low, now + slack, "refresh"))
            fresh[-1].event = event
    for event in mist:
        if event["id"] in seen:
            continue
        seen.add(event["id"])
        when = event["time"]
        fresh.append(_Told(event["type"], _subject(event), when, when, when, "mist", event))
    everything = told + fresh
    _pair(everything)
    dropped = {id(t.event) for t in fresh if t.source == "refresh" and t.dropped}
    events = [event for event in derived if id(event) not in dropped]
    events += [t.event for t in fresh if t.source == "mist" and t.event and not t.dropped]
    until = now if read else number(previous.get("until"))
    return Merged(events, _state(everything, seen, now, until, slack))


Buckets = dict[tuple[Any, ...], list[_Told]]  # (kind, *subject) -> changes


def _buckets(told: list[_Told]) -> Buckets:
    """The changes by type and exact subject: a change only meets its own subject's (a hub's
    thousands of paths never scan each other)."""
    found: Buckets = {}
    for t in told:
        found.setdefault((t.kind, *t.subject), []).append(t)
    return found


_MASKS = tuple(product((False, True), repeat=3))  # which of port, peer, peer port to blank


def _near(buckets: Buckets, kind: str, subject: Subject) -> list[_Told]:
    """The changes of `kind` whose subject covers `subject`: the same, or with any of its
    port and peer facts null (as Mist's events may have them)."""
    gateway, port, peer, peer_port = subject
    found: list[_Told] = []
    for blank_port, blank_peer, blank_peer_port in _MASKS:
        if (
            (blank_port and port is None)
            or (blank_peer and peer is None)
            or (blank_peer_port and peer_port is None)
        ):
            continue  # the same key as without the blank
        key = (
            kind,
            gateway,
            None if blank_port else port,
            None if blank_peer else peer,
            None if blank_peer_port else peer_port,
        )
        found += buckets.get(key, ())
    return found


def _pair(told: list[_Told]) -> None:
    """Pair each derived change with the latest matching Mist one (one side new)."""
    buckets = _buckets(told)
    for derived in sorted(told, key=lambda t: t.time):
        if derived.source != "refresh" or derived.paired:
            continue
        candidates = [
            mist
            for mist in _near(buckets, derived.kind, derived.subject)
            if mist.source == "mist"
            and not mist.paired
            and (mist.event is not None or derived.event is not None)
            and derived.low <= mist.time <= derived.high
            and _covers(mist.subject, derived.subject)
            and not _opposite_between(buckets, derived, mist.time)
        ]
        if not candidates:
            continue
        mist = max(candidates, key=lambda t: t.time)
        derived.paired = mist.paired = True
        _settle(derived, mist)


def _settle(derived: _Told, mist: _Told) -> None:
    """Keep one event for the pair: both new → Mist's time and id with the refresh's
    before/after; else the one already stored stands and the new one is dropped."""
    if derived.event is not None and mist.event is not None:
        merged = dict(derived.event)
        merged.update(time=mist.event["time"], id=mist.event["id"], source="refresh+mist")
        mist.event = merged  # stored in the Mist slot; the derived one is left out
        derived.dropped = True
    elif derived.event is not None:
        derived.dropped = True
    elif mist.event is not None:
        mist.dropped = True


def _opposite_between(buckets: Buckets, derived: _Told, when: float) -> bool:
    """Whether the subject changed back in between (then Mist's event is an earlier change)."""
    first, second = sorted((when, derived.time))
    return any(
        first < other.time < second
        and (_covers(other.subject, derived.subject) or _covers(derived.subject, other.subject))
        for other in _near(buckets, OPPOSITE[derived.kind], derived.subject)
    )


def _state(
    told: list[_Told], seen: set[str], now: float, until: float | None, slack: float
) -> dict[str, Any]:
    """What the next merge needs: where the next read starts from (`until`), this refresh's
    time (`at`), the Mist ids that read can return again and the unpaired recent changes."""
    start = (until if until is not None else now) - OVERLAP - 1
    recent = [
        t.entry()
        for t in told
        if not t.paired
        and not t.dropped
        and (t.high >= start if t.source == "refresh" else t.time >= now - slack)
    ]
    kept = sorted(i for i in seen if _id_time(i) >= start)
    return {"until": until, "at": now, "seen": kept, "recent": recent}


def _id_time(event_id: str) -> float:
    """An event id's time (its first 13 digits are the time in ms, model.events.event_id)."""
    try:
        return int(event_id[:13]) / 1000
    except ValueError:
        return 0.0
