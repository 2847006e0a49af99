"""Mist's record of what happened: gateway device events and the alarms they open.

Two sources: what the admin API did (`/__mistsim/link`, `port_down`, `path`, `gateway`,
`flap`), told as it happens, and the scheduled flaps of the generated org's flapping ports,
computed for the window asked (`dynamics.link_up`'s outages). `GET /orgs/{id}/devices/events/
search` (`searchOrgDeviceEvents`) and `GET /orgs/{id}/alarms/search` (`searchOrgAlarms`) read
them back, search-style (style B, `next` with `search_after`). Type names follow REFERENCE.md
§4.12 (the 2509 spec lists none): `GW_PORT_DOWN`/`GW_PORT_UP` (with `port_id`),
`GW_VPN_PATH_DOWN`/`GW_VPN_PATH_UP` (with `port_id`, `peer_mac`, `peer_port_id`, as the peer
path search names them) and `GW_DISCONNECTED`/`GW_CONNECTED`. A short flap is visible only
here: the link is up again before any stats read can see it down.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mistsim.model import Gateway, Org, PeerPath, Port

OPENS = {"GW_PORT_DOWN": "GW_PORT_UP", "GW_VPN_PATH_DOWN": "GW_VPN_PATH_UP"}
OPENS["GW_DISCONNECTED"] = "GW_CONNECTED"
ALARMS = {  # the alarm a down event opens: (type, severity)
    "GW_PORT_DOWN": ("gw_critical_port_down", "critical"),
    "GW_VPN_PATH_DOWN": ("gw_vpn_path_down", "warning"),
    "GW_DISCONNECTED": ("device_down", "critical"),
}
ALARM_NAMESPACE = uuid.UUID("6d1f3c0e-5b7a-4c1e-9a55-2b0f6a3e8d11")


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One gateway event as Mist keeps it (`key`: its place for the search cursor)."""

    key: str
    timestamp: float
    type: str
    gateway: Gateway
    port_id: str | None = None
    peer_mac: str | None = None
    peer_port_id: str | None = None
    text: str = ""

    @property
    def subject(self) -> tuple[str, str | None, str | None, str | None]:
        return (self.gateway.mac, self.port_id, self.peer_mac, self.peer_port_id)


def port_event(key: str, when: float, gateway: Gateway, port: Port, up: bool) -> DeviceEvent:
    word = "UP" if up else "DOWN"
    text = f"Port {port.port_id} {word.lower()}"
    return DeviceEvent(key, round(when, 3), f"GW_PORT_{word}", gateway, port.port_id, text=text)


def path_event(key: str, when: float, path: PeerPath, up: bool) -> DeviceEvent:
    word = "UP" if up else "DOWN"
    return DeviceEvent(
        key,
        round(when, 3),
        f"GW_VPN_PATH_{word}",
        path.gateway,
        path.port_label,
        path.hub.mac,
        path.peer_port_label,
        f"VPN path {path.port_label} to {path.hub.name} {path.peer_port_label} {word.lower()}",
    )


class EventLog:
    """The org's gateway events: what the admin API did, in the order told (thread-safe),
    and the scheduled flaps of the generated org (`dynamics.link_up`), computed per window."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.events: list[DeviceEvent] = []
        self._lock = threading.Lock()
        self._paths: dict[int, list[PeerPath]] = {}  # id(port) -> the paths over it
        for path in org.peer_paths:
            self._paths.setdefault(id(path.port), []).append(path)
            self._paths.setdefault(id(path.hub_port), []).append(path)

    def _add(self, make: Callable[[str], DeviceEvent]) -> None:
        with self._lock:
            self.events.append(make(f"s{len(self.events):09d}"))

    def port(self, gateway: Gateway, port: Port, when: float, up: bool) -> None:
        """A WAN port's link changed: its event, and one for each peer path over it (on the
        spoke's side, the side the peer path search lists)."""
        self._add(lambda key: port_event(key, when, gateway, port, up))
        for path in self._paths.get(id(port), ()):
            if not path.down:
                self.path(path, when, up)

    def path(self, path: PeerPath, when: float, up: bool) -> None:
        self._add(lambda key: path_event(key, when, path, up))

    def gateway(self, gateway: Gateway, when: float, connected: bool) -> None:
        kind = "GW_CONNECTED" if connected else "GW_DISCONNECTED"
        text = "Gateway connected" if connected else "Gateway disconnected from the cloud"
        self._add(lambda key: DeviceEvent(key, round(when, 3), kind, gateway, text=text))

    def flap(self, gateway: Gateway, port: Port, down_at: float, up_at: float) -> None:
        """A short flap: down and up again, told only here."""
        self.port(gateway, port, down_at, up=False)
        self.port(gateway, port, up_at, up=True)

    def between(self, start: float, end: float) -> list[DeviceEvent]:
        """Every event with start ≤ timestamp ≤ end, oldest first: told and scheduled."""
        with self._lock:
            told = [event for event in self.events if start <= event.timestamp <= end]
        found = told + self._scheduled(start, end)
        return sorted(found, key=lambda event: (event.timestamp, event.key))

    def _scheduled(self, start: float, end: float) -> list[DeviceEvent]:
        """The flaps of the generated org's flapping ports (each period starts with its
        outage), on connected gateways (a disconnected one's stop when it left)."""
        found: list[DeviceEvent] = []
        for number, (gateway, port) in enumerate(self.org.ports):
            if port.link != "flap" or port.flap_period <= 0:
                continue
            last = end if gateway.connected else min(end, gateway.disconnected_at)
            first = math.floor((start - port.flap_offset) / port.flap_period)
            for k in range(first, math.floor((last - port.flap_offset) / port.flap_period) + 1):
                went = port.flap_offset + k * port.flap_period
                for when, up in ((went, False), (went + port.flap_down, True)):
                    if start <= when <= last:
                        found += self._flap_edge(
                            f"f{number}:{k}:{int(up)}", when, gateway, port, up
                        )
        return found

    def _flap_edge(
        self, key: str, when: float, gateway: Gateway, port: Port, up: bool
    ) -> list[DeviceEvent]:
        paths = self._paths.get(id(port), ())
        return [port_event(key, when, gateway, port, up)] + [
            path_event(f"{key}:{n}", when, path, up)
            for n, path in enumerate(paths)
            if not path.down
        ]

    def device_events(
        self,
        window: tuple[float, float],
        *,
        device_types: set[str],
        types: set[str] | None,
        macs: set[str] | None,
        descending: bool,
    ) -> list[DeviceEvent]:
        """Events of the window matching the search's filters (gateways only exist here)."""
        if not device_types & {"gateway", "all"}:
            return []
        found = [
            event
            for event in self.between(*window)
            if (types is None or event.type in types)
            and (macs is None or event.gateway.mac in macs)
        ]
        return found[::-1] if descending else found

    def render_event(self, event: DeviceEvent) -> dict[str, Any]:
        """An `events_device_ap`-shaped result (the spec's device event schema)."""
        body: dict[str, Any] = {
            "timestamp": event.timestamp,
            "type": event.type,
            "mac": event.gateway.mac,
            "device_type": "gateway",
            "model": event.gateway.model,
            "org_id": self.org.id,
            "site_id": event.gateway.site_id,
            "text": event.text,
            "count": 1,
        }
        for name in ("port_id", "peer_mac", "peer_port_id"):
            if getattr(event, name) is not None:
                body[name] = getattr(event, name)
        return body

    def alarms(
        self, window: tuple[float, float], now: float, filters: AlarmFilter
    ) -> list[dict[str, Any]]:
        """One alarm per down event, resolved by the next matching up event (up to now)."""
        start, end = window
        events = self.between(start, max(end, now))
        found: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            if event.type not in ALARMS or not start <= event.timestamp <= end:
                continue
            closed = next(
                (
                    later.timestamp
                    for later in events[index + 1 :]
                    if later.type == OPENS[event.type] and later.subject == event.subject
                ),
                None,
            )
            alarm = self._alarm(event, closed)
            if filters.keeps(alarm):
                found.append(alarm)
        return found

    def _alarm(self, event: DeviceEvent, closed: float | None) -> dict[str, Any]:
        kind, severity = ALARMS[event.type]
        alarm: dict[str, Any] = {
            "id": str(uuid.uuid5(ALARM_NAMESPACE, f"{self.org.id}-{event.key}")),
            "org_id": self.org.id,
            "site_id": event.gateway.site_id,
            "type": kind,
            "group": "infrastructure",
            "severity": severity,
            "count": 1,
            "timestamp": event.timestamp,
            "last_seen": event.timestamp,
            "gateways": [event.gateway.mac],
            "hostnames": [event.gateway.name],
            "note": event.text,
            "acked": False,
            "status": "open" if closed is None else "resolved",
        }
        if closed is not None:
            alarm["resolved_time"] = int(closed)
        return alarm


@dataclass(frozen=True)
class AlarmFilter:
    """The alarm search's filters (`type`, `status`, `severity`, `group`, `site_id`)."""

    types: set[str] | None = None
    status: set[str] | None = None
    severity: set[str] | None = None
    group: set[str] | None = None
    site_id: set[str] | None = None

    def keeps(self, alarm: dict[str, Any]) -> bool:
        return all(
            wanted is None or alarm[name] in wanted
            for name, wanted in (
                ("type", self.types),
                ("status", self.status),
                ("severity", self.severity),
                ("group", self.group),
                ("site_id", self.site_id),
            )
        )


def cursor_keys(
    items: Sequence[Any], key_of: Callable[[Any], str]
) -> tuple[dict[str, int], Callable[[Any], int]]:
    """(position, ordinal) for search_page over a list built per request: an item's place."""
    position = {key_of(item): index for index, item in enumerate(items)}
    return position, lambda item: position[key_of(item)]
