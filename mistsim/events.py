"""Mist's record of what happened: gateway device events and the alarms they open.

The admin API (`/__mistsim/link`, `port_down`, `path`, `gateway`, `flap`) tells this log what
it did;
`GET /orgs/{id}/devices/events/search` (`searchOrgDeviceEvents`) and
`GET /orgs/{id}/alarms/search` (`searchOrgAlarms`) read it back, search-style (style B,
`next` with `search_after`). Type names follow REFERENCE.md §4.12 (the 2509 spec lists none):
`GW_PORT_DOWN`/`GW_PORT_UP` (with `port_id`), `GW_VPN_PATH_DOWN`/`GW_VPN_PATH_UP` (with
`port_id`, `peer_mac`, `peer_port_id`, as the peer path search names them) and
`GW_DISCONNECTED`/`GW_CONNECTED`. A short flap is visible only here: the link is up again
before any stats read can see it down.
"""

from __future__ import annotations

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
    """One gateway event as Mist keeps it."""

    seq: int
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


class EventLog:
    """The org's gateway events, in the order they were told (thread-safe)."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self.events: list[DeviceEvent] = []
        self._lock = threading.Lock()

    def _add(self, when: float, kind: str, gateway: Gateway, text: str, **facts: Any) -> None:
        with self._lock:
            event = DeviceEvent(len(self.events), round(when, 3), kind, gateway, text=text, **facts)
            self.events.append(event)

    def port(self, gateway: Gateway, port: Port, when: float, up: bool) -> None:
        """A WAN port's link changed: its event, and one for each peer path over it (on the
        spoke's side, the side the peer path search lists)."""
        word = "UP" if up else "DOWN"
        self._add(
            when, f"GW_PORT_{word}", gateway, f"Port {port.port_id} {word.lower()}",
            port_id=port.port_id,
        )  # fmt: skip
        for path in self.org.peer_paths:
            if (path.port is port or path.hub_port is port) and not path.down:
                self.path(path, when, up)

    def path(self, path: PeerPath, when: float, up: bool) -> None:
        word = "UP" if up else "DOWN"
        self._add(
            when,
            f"GW_VPN_PATH_{word}",
            path.gateway,
            f"VPN path {path.port_label} to {path.hub.name} {path.peer_port_label} {word.lower()}",
            port_id=path.port_label,
            peer_mac=path.hub.mac,
            peer_port_id=path.peer_port_label,
        )

    def gateway(self, gateway: Gateway, when: float, connected: bool) -> None:
        kind = "GW_CONNECTED" if connected else "GW_DISCONNECTED"
        text = "Gateway connected" if connected else "Gateway disconnected from the cloud"
        self._add(when, kind, gateway, text)

    def flap(self, gateway: Gateway, port: Port, down_at: float, up_at: float) -> None:
        """A short flap: down and up again, told only here."""
        self.port(gateway, port, down_at, up=False)
        self.port(gateway, port, up_at, up=True)

    def clear(self) -> None:
        with self._lock:
            self.events.clear()

    def ordered(self) -> list[DeviceEvent]:
        with self._lock:
            found = list(self.events)
        return sorted(found, key=lambda event: (event.timestamp, event.seq))

    # ------------------------------------------------------------------ the two searches

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
        start, end = window
        found = [
            event
            for event in self.ordered()
            if start <= event.timestamp <= end
            and (types is None or event.type in types)
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

    def alarms(self, window: tuple[float, float], filters: AlarmFilter) -> list[dict[str, Any]]:
        """One alarm per down event, resolved by the next matching up event."""
        events = self.ordered()
        start, end = window
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
            "id": str(uuid.uuid5(ALARM_NAMESPACE, f"{self.org.id}-{event.seq}")),
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
