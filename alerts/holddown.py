"""Hold-down: a flapping circuit sends one "down" and one "recovered" per window.

A NOC wants to know a circuit flaps, not to get forty messages saying so. Each subject (a
gateway, a WAN port, a peer path, a circuit's quality, one of the worker's own conditions)
opens a window of ALERT_HOLD_DOWN refreshes at its first alert. In the window the first
"bad" and the first "good" event are sent, each with the flap count so far; later ones are
held. When the window ends with the subject in a state other than the last one told, that
state is sent (with the window's flap count) and opens the next window. So a subject sends at
most two alerts per window, and the last state told is always the state it ended in. Pure:
the state is a JSON-able dict the caller keeps in Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

BAD, GOOD = "bad", "good"

FAMILIES: dict[str, tuple[str, str]] = {
    "gateway_offline": ("gateway", BAD),
    "gateway_online": ("gateway", GOOD),
    "gateway_wan_down": ("wan", BAD),
    "gateway_wan_up": ("wan", GOOD),
    "port_down": ("port", BAD),
    "port_up": ("port", GOOD),
    "port_disabled": ("port_admin", BAD),
    "port_enabled": ("port_admin", GOOD),
    "path_down": ("path", BAD),
    "path_up": ("path", GOOD),
    "circuit_degraded": ("circuit", BAD),
    "circuit_recovered": ("circuit", GOOD),
    "refresh_failing": ("refresh", BAD),
    "refresh_recovered": ("refresh", GOOD),
    "tokens_exhausted": ("tokens", BAD),
    "tokens_recovered": ("tokens", GOOD),
    "data_stale": ("data", BAD),
    "data_fresh": ("data", GOOD),
}
"""Each event type's subject family and direction (an unknown type is its own family)."""

Sent = tuple[dict[str, Any], int]  # an event to alert on and the flap count in its window


def subject_of(event: Mapping[str, Any]) -> str:
    """What flaps: the family and every id the event names."""
    family, _ = FAMILIES.get(str(event.get("type")), (str(event.get("type")), BAD))
    ids = ("org_id", "gateway_id", "port_id", "peer_mac", "peer_port_id")
    return "\t".join([family, *(str(event.get(name) or "") for name in ids)])


def direction_of(event: Mapping[str, Any]) -> str:
    return FAMILIES.get(str(event.get("type")), ("", BAD))[1]


def _window(now: float) -> dict[str, Any]:
    return {"start": now, "bad": False, "good": False, "last": None, "flaps": 0, "held": None}


class HoldDown:
    """Decides which of a refresh's events are sent; `window` is in seconds."""

    def __init__(self, window: float, interval: float) -> None:
        # A refresh lands a little early or late: half an interval of slack either way.
        self.window = max(0.0, window - interval / 2)

    def expired(self, entry: Mapping[str, Any], now: float) -> bool:
        return now - float(entry.get("start") or 0.0) >= self.window

    def apply(
        self, events: Iterable[Mapping[str, Any]], state: Mapping[str, Any], now: float
    ) -> tuple[list[Sent], dict[str, Any]]:
        """The events to send (oldest first) and the state for the next refresh."""
        sent: list[Sent] = []
        kept: dict[str, Any] = {k: dict(v) for k, v in state.items() if isinstance(v, dict)}
        for subject in list(kept):  # windows that ended first: their state is older news
            self._close(subject, kept, now, sent)
        for event in sorted(events, key=lambda e: float(e.get("time") or 0.0)):
            subject, direction = subject_of(event), direction_of(event)
            entry = kept.setdefault(subject, _window(now))
            if direction == BAD:
                entry["flaps"] += 1
            if entry[direction]:
                entry["held"] = dict(event)
                continue
            entry[direction], entry["last"], entry["held"] = True, direction, None
            sent.append((dict(event), entry["flaps"]))
        return sent, kept

    def _close(self, subject: str, kept: dict[str, Any], now: float, sent: list[Sent]) -> None:
        """At a window's end, tell the state it ended in when that is not the last one told
        (opening the next window with that alert spent); else forget the subject."""
        entry = kept[subject]
        if not self.expired(entry, now):
            return
        held = entry.get("held")
        if not isinstance(held, dict) or direction_of(held) == entry.get("last"):
            del kept[subject]
            return
        direction = direction_of(held)
        sent.append((held, int(entry.get("flaps") or 0)))
        kept[subject] = {**_window(now), direction: True, "last": direction}
