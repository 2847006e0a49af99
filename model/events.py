"""Circuit events: what changed between two refreshes, told as a list of small records.

Pure: the previous refresh's compact state and this refresh's snapshot go in, the events and
the state to keep for the next refresh come out. The worker stores both (store/events.py).
A state is what a NOC watches: a gateway online or not, a WAN port up/enabled, a peer path
up, a circuit degraded (held: it must hold for `hold` refreshes in a row before it counts,
so one noisy sample never raises an event). The first refresh only learns the state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from model.snapshot import Gateway, Snapshot, WanPort
from model.values import text

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)

EVENT_TYPES: dict[str, str] = {
    "gateway_offline": CRITICAL,
    "gateway_online": INFO,
    "gateway_wan_down": CRITICAL,
    "gateway_wan_up": INFO,
    "port_down": WARNING,
    "port_up": INFO,
    "port_disabled": WARNING,
    "port_enabled": INFO,
    "path_down": WARNING,
    "path_up": INFO,
    "circuit_degraded": WARNING,
    "circuit_recovered": INFO,
    "refresh_failing": WARNING,
    "refresh_recovered": INFO,
    "tokens_exhausted": CRITICAL,
    "tokens_recovered": INFO,
    "data_stale": CRITICAL,
    "data_fresh": INFO,
}
"""Every event type and its severity (DATA.md §3.8)."""

EVENT_FIELDS = (
    "id",
    "time",
    "type",
    "severity",
    "source",
    "org_id",
    "org_name",
    "site_id",
    "site_name",
    "gateway_id",
    "gateway_name",
    "port_id",
    "peer_mac",
    "peer_name",
    "peer_port_id",
    "before",
    "after",
)
"""The keys of every event, in order (DATA.md §3.8); absent facts are null."""

DEFAULT_HOLD = 2
STATE_VERSION = 1
SEP = "\t"  # joins ids into the state's keys: no Mist id or port name holds a tab


def event_id(kind: str, when: float, *ids: object) -> str:
    """A stable id: the same change seen twice (refresh and Mist) gets the same id."""
    digest = hashlib.blake2b(
        SEP.join([kind, f"{when:.3f}", *(str(i) for i in ids)]).encode(), digest_size=8
    )
    return f"{int(when * 1000):013d}-{digest.hexdigest()}"


def make_event(kind: str, when: float, source: str = "refresh", **facts: Any) -> dict[str, Any]:
    """One event with every field of EVENT_FIELDS, in order."""
    event: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
    event.update(facts)
    event.update(type=kind, severity=EVENT_TYPES[kind], source=source, time=round(when, 3))
    event["id"] = event_id(
        kind, when, event["gateway_id"], event["port_id"], event["peer_mac"], event["peer_port_id"]
    )
    return event


@dataclass
class Derived:
    """One refresh's events and the state the next refresh compares with."""

    events: list[dict[str, Any]]
    state: dict[str, Any]


@dataclass
class _Context:
    """What every event of one refresh shares, and the names it looks up."""

    now: float
    org: Mapping[str, Any]
    site_names: dict[Any, Any]
    hold: int
    events: list[dict[str, Any]] = field(default_factory=list)

    def emit(self, kind: str, record: Gateway, **facts: Any) -> None:
        stat = record.stat
        self.events.append(
            make_event(
                kind,
                self.now,
                org_id=text(self.org.get("id")),
                org_name=text(self.org.get("name")),
                site_id=stat.site_id,
                site_name=text(self.site_names.get(stat.site_id or "")),
                gateway_id=stat.id,
                gateway_name=text(stat.name),
                **facts,
            )
        )


def empty_state() -> dict[str, Any]:
    """The state before any refresh: nothing known, so nothing has changed."""
    return {"v": STATE_VERSION, "gateways": {}, "ports": {}, "paths": {}}


def derive_events(
    previous: Mapping[str, Any] | None, snapshot: Snapshot, *, hold: int = DEFAULT_HOLD
) -> Derived:
    """The events between `previous` (None: the first refresh) and `snapshot`.

    Ports and paths of an offline gateway keep their last state: the gateway's own event
    says it all, and nothing is raised again when it comes back as it was.
    """
    before = dict(previous) if previous and previous.get("v") == STATE_VERSION else None
    old = before or empty_state()
    context = _Context(
        now=snapshot.generated_at,
        org=snapshot.org,
        site_names={site.get("id"): site.get("name") for site in snapshot.sites},
        hold=max(1, hold),
    )
    state = empty_state()
    online: dict[str, bool] = {}
    for record in snapshot.records:
        gateway_id = record.stat.id
        is_online = record.stat.status == "connected"
        online[gateway_id] = is_online
        _gateway(context, record, old, state, is_online, known=before is not None)
    _carry_offline(old, state, online)
    _paths(context, snapshot, old, state, online)
    if before is None:
        context.events.clear()  # the first refresh learns; it has nothing to compare with
    return Derived(context.events, state)


def _gateway(
    context: _Context,
    record: Gateway,
    old: Mapping[str, Any],
    state: dict[str, Any],
    is_online: bool,
    *,
    known: bool,
) -> None:
    """A gateway's own events (online/offline, all WAN down/up) and its ports'."""
    gateway_id = record.stat.id
    was = old["gateways"].get(gateway_id)
    was_online, was_all_down = (was[0], was[1]) if was else (is_online, False)
    if known and was is not None and was_online != is_online:
        kind = "gateway_online" if is_online else "gateway_offline"
        context.emit(kind, record, before=was_online, after=is_online)
    all_down = was_all_down
    if is_online:
        for port in record.ports:
            _port(context, record, port, old, state)
        enabled = [port for port in record.ports if port.enabled is not False]
        all_down = bool(enabled) and all(port.up is False for port in enabled)
        if was is not None and all_down != was_all_down:
            kind = "gateway_wan_down" if all_down else "gateway_wan_up"
            context.emit(kind, record, before=was_all_down, after=all_down)
    state["gateways"][gateway_id] = [is_online, all_down]


def _port(
    context: _Context,
    record: Gateway,
    port: WanPort,
    old: Mapping[str, Any],
    state: dict[str, Any],
) -> None:
    """One WAN port: enabled/disabled, up/down and its held degraded state."""
    key = record.stat.id + SEP + port.port_id
    was = old["ports"].get(key)
    up = port.up if port.up is not None else (was[0] if was else None)
    enabled = port.enabled is not False
    held, run = (bool(was[2]), int(was[3])) if was else (port.degraded, 0)
    # A down or disabled port has no quality: its held state waits for it to carry again.
    run = run + 1 if port.degraded != held and up is True and enabled else 0
    if was is not None:
        emit = _port_emitter(context, record, port.port_id)
        if was[1] != enabled:
            emit("port_enabled" if enabled else "port_disabled", was[1], enabled)
        if enabled and was[1] and was[0] is not None and up is not None and was[0] != up:
            emit("port_up" if up else "port_down", was[0], up)
        if run >= context.hold:
            after = _quality(port, port.degraded)
            emit("circuit_degraded" if port.degraded else "circuit_recovered", held, after)
    if run >= context.hold:
        held, run = port.degraded, 0
    state["ports"][key] = [up, enabled, held, run]


def _quality(port: WanPort, degraded: bool) -> dict[str, Any]:
    """A circuit's quality as an event's `after`: what the NOC reads in the alert."""
    return {
        "degraded": degraded,
        "latency": port.latency,
        "jitter": port.jitter,
        "loss": port.loss,
        "mos": port.mos,
    }


def _port_emitter(context: _Context, record: Gateway, port_id: str) -> Any:
    """emit(kind, before, after) for one port of `record`."""

    def emit(kind: str, before: Any, after: Any) -> None:
        context.emit(kind, record, port_id=port_id, before=before, after=after)

    return emit


def _carry_offline(
    old: Mapping[str, Any], state: dict[str, Any], online: Mapping[str, bool]
) -> None:
    """An offline gateway's ports keep their last state (its if_stat says nothing true)."""
    for key, value in old["ports"].items():
        gateway_id = key.split(SEP, 1)[0]
        if not online.get(gateway_id, False) and gateway_id in online:
            state["ports"].setdefault(key, value)


def _paths(
    context: _Context,
    snapshot: Snapshot,
    old: Mapping[str, Any],
    state: dict[str, Any],
    online: Mapping[str, bool],
) -> None:
    """Peer paths up/down, on online gateways; an offline gateway's keep their state."""
    records = {record.stat.id: record for record in snapshot.records}
    for (gateway_id, _mac), paths in snapshot.paths.items():
        record = records.get(gateway_id)
        if record is None or not online.get(gateway_id, False):
            continue
        for path in paths:
            if not isinstance(path.up, bool):
                continue
            key = SEP.join(
                str(part) for part in (gateway_id, path.port_id, path.peer_mac, path.peer_port_id)
            )
            was = old["paths"].get(key)
            state["paths"][key] = path.up
            if was is not None and was != path.up:
                context.emit(
                    "path_up" if path.up else "path_down",
                    record,
                    port_id=text(path.port_id),
                    peer_mac=text(path.peer_mac),
                    peer_name=text(path.peer_router_name),
                    peer_port_id=text(path.peer_port_id),
                    before=was,
                    after=path.up,
                )
    for key, value in old["paths"].items():
        gateway_id = key.split(SEP, 1)[0]
        if gateway_id in online and not online[gateway_id]:
            state["paths"].setdefault(key, value)


SYSTEM_CONDITIONS: tuple[tuple[str, str, str], ...] = (
    ("failing", "refresh_failing", "refresh_recovered"),
    ("exhausted", "tokens_exhausted", "tokens_recovered"),
    ("stale", "data_stale", "data_fresh"),
)
"""(condition, its event, its recovery event): the worker's own health, as events."""


def system_events(
    system: Mapping[str, Any], org: Mapping[str, Any], now: float, **conditions: bool
) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """The events of the worker's conditions that changed (failing, exhausted, stale) and the
    conditions to keep; a condition not given keeps its last value."""
    events: list[dict[str, Any]] = []
    kept = {name: bool(system.get(name, False)) for name, _, _ in SYSTEM_CONDITIONS}
    for name, raised, cleared in SYSTEM_CONDITIONS:
        if name not in conditions or conditions[name] == kept[name]:
            continue
        kept[name] = conditions[name]
        events.append(
            make_event(
                raised if conditions[name] else cleared,
                now,
                org_id=text(org.get("id")),
                org_name=text(org.get("name")),
                before=not conditions[name],
                after=conditions[name],
            )
        )
    return events, kept
