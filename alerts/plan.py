"""One refresh's events → the alerts each receiver gets (hold-down, routing, quiet, storm).

An alert is a small format-neutral record (formats.py renders it per receiver) with a
stable idempotency key: the same event is the same key on every try, on every receiver,
after any restart. More than `storm_limit` alerts due to one receiver in one refresh become
one summary, so a region-wide outage is one message, not hundreds.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.holddown import HoldDown, subject_of
from alerts.rules import Rules
from model.events import SEVERITIES

LABELS: dict[str, str] = {
    "gateway_offline": "Gateway offline",
    "gateway_online": "Gateway back online",
    "gateway_wan_down": "Every WAN port of a gateway down",
    "gateway_wan_up": "Gateway WAN back up",
    "port_down": "WAN port down",
    "port_up": "WAN port recovered",
    "port_disabled": "WAN port disabled",
    "port_enabled": "WAN port enabled",
    "path_down": "Peer path down",
    "path_up": "Peer path recovered",
    "circuit_degraded": "Circuit degraded",
    "circuit_recovered": "Circuit quality recovered",
    "refresh_failing": "Refresh failing",
    "refresh_recovered": "Refresh recovered",
    "tokens_exhausted": "Every Mist token exhausted",
    "tokens_recovered": "Mist tokens recovered",
    "data_stale": "Data stale",
    "data_fresh": "Data fresh again",
}
SUMMARY_EXAMPLES = 10  # alerts named in a storm summary
PENDING = "~pending"
"""The hold-down state's entry for changes alerted before their refresh published (no
subject starts with `~`): change key → alert id. A refresh that fails after its alerts left
leaves it in place, so its retry, which derives the same changes again (the events state did
not advance), sends none of them twice; the publish that stores the events clears it."""
EVENT_KEYS = (
    "id", "time", "type", "severity", "source", "org_id", "org_name", "site_id", "site_name",
    "gateway_id", "gateway_name", "port_id", "peer_mac", "peer_name", "peer_port_id",
    "before", "after",
)  # fmt: skip


@dataclass(frozen=True)
class AlertConfig:
    """What planning needs from the settings (never a URL: receivers are numbers)."""

    receivers: int
    rules: Rules = field(default_factory=Rules)
    hold_down: int = 2  # refreshes
    storm_limit: int = 20
    interval: int = 300


@dataclass
class Plan:
    """The alerts to queue per receiver (1-based) and the hold-down state to keep."""

    alerts: dict[int, list[dict[str, Any]]]
    state: dict[str, Any]
    held: int = 0  # events hold-down kept back
    muted: int = 0  # alerts quiet hours kept from a receiver
    repeated: int = 0  # changes already alerted by a refresh that did not publish

    def published(self) -> dict[str, Any]:
        """The state once this refresh's events are stored: no change is pending any more."""
        return {key: value for key, value in self.state.items() if key != PENDING}


def when_text(when: float) -> str:
    return datetime.datetime.fromtimestamp(when, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _where(event: Mapping[str, Any]) -> str:
    parts = [event.get("gateway_name") or event.get("gateway_id"), event.get("port_id")]
    if event.get("peer_name") or event.get("peer_mac"):
        peer = event.get("peer_name") or event.get("peer_mac")
        parts.append(f"→ {peer} {event.get('peer_port_id') or ''}".rstrip())
    where = " ".join(str(p) for p in parts if p)
    site = event.get("site_name") or event.get("site_id")
    if site:
        where = f"{where} at {site}" if where else str(site)
    return where or str(event.get("org_name") or event.get("org_id") or "the worker")


def event_alert(event: Mapping[str, Any], flaps: int, hold_down: int) -> dict[str, Any]:
    """One event as an alert record; the key is the event's own stable id."""
    kind = str(event.get("type"))
    label = LABELS.get(kind, kind.replace("_", " "))
    title = f"{label}: {_where(event)}"
    text = f"{title} ({when_text(float(event.get('time') or 0.0))})"
    if event.get("before") is not None or event.get("after") is not None:
        text += f"; was {event.get('before')}, now {event.get('after')}"
    if flaps > 1:
        text += f"; flapped {flaps} times in {hold_down} refreshes (hold-down)"
    facts = [
        ("Severity", event.get("severity")),
        ("Org", event.get("org_name")),
        ("Site", event.get("site_name")),
        ("Gateway", event.get("gateway_name")),
        ("Port", event.get("port_id")),
        ("Peer", event.get("peer_name") or event.get("peer_mac")),
        ("Flaps", flaps if flaps > 1 else None),
        ("Time", when_text(float(event.get("time") or 0.0))),
    ]
    return {
        "id": f"mcs-{event.get('id')}",
        "kind": "event",
        "time": event.get("time"),
        "type": kind,
        "severity": event.get("severity"),
        "title": title,
        "text": text,
        "facts": [[name, str(value)] for name, value in facts if value not in (None, "")],
        "flaps": flaps,
        "event": {key: event.get(key) for key in EVENT_KEYS},
    }


def summary_alert(alerts: Sequence[Mapping[str, Any]], now: float) -> dict[str, Any]:
    """One alert standing for a storm; its key is a digest of the alerts it stands for."""
    digest = hashlib.blake2b(
        "\n".join(str(a["id"]) for a in alerts).encode(), digest_size=10
    ).hexdigest()
    counts = Counter(str(a["type"]) for a in alerts)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    worst = min((SEVERITIES.index(str(a["severity"])) for a in alerts), default=2)
    shown = [str(a["title"]) for a in alerts[:SUMMARY_EXAMPLES]]
    more = len(alerts) - len(shown)
    title = f"{len(alerts)} alerts in one refresh (storm summary)"
    lines = [f"{LABELS.get(kind, kind)}: {count}" for kind, count in ranked]
    text = f"{title}: " + ", ".join(lines) + ". First: " + "; ".join(shown)
    if more > 0:
        text += f"; and {more} more (see /api/events)"
    return {
        "id": f"mcs-storm-{int(now * 1000):013d}-{digest}",
        "kind": "summary",
        "time": round(now, 3),
        "type": "storm",
        "severity": SEVERITIES[worst],
        "title": title,
        "text": text,
        "facts": [[LABELS.get(kind, kind), str(count)] for kind, count in ranked],
        "flaps": 0,
        "count": len(alerts),
        "examples": shown,
    }


def change_key(event: Mapping[str, Any]) -> str:
    """The same change, derived again by a retried refresh: its subject and type (a Mist
    event keeps its own id: Mist's time makes it the same on every read)."""
    if event.get("source") not in (None, "refresh"):
        return f"id\t{event.get('id')}"
    return subject_change(event)


def subject_change(event: Mapping[str, Any]) -> str:
    """A change by its subject and type, whatever told it: a retry may hear from Mist's
    events what the failed refresh derived itself (or the other way round)."""
    return f"{subject_of(event)}\t{event.get('type')}"


def already_alerted(event: Mapping[str, Any], marks: Mapping[str, Any]) -> bool:
    """A change a refresh that did not publish already alerted."""
    return change_key(event) in marks or subject_change(event) in marks


def plan_alerts(
    events: Sequence[Mapping[str, Any]],
    state: Mapping[str, Any],
    now: float,
    config: AlertConfig,
    *,
    pending: bool = False,
) -> Plan:
    """What each receiver gets for this refresh's events (oldest first). `pending`: the
    events are not stored yet (alerted ahead of the publish): remember their changes until
    the publish clears them (Plan.published), so a retry does not alert them again."""
    marks = state.get(PENDING)
    marks = dict(marks) if isinstance(marks, dict) else {}
    fresh = [event for event in events if not already_alerted(event, marks)]
    window = config.hold_down * config.interval
    holddown = {key: value for key, value in state.items() if key != PENDING}
    sent, kept = HoldDown(window, config.interval).apply(fresh, holddown, now)
    if pending:
        for event in fresh:
            marks[change_key(event)] = marks[subject_change(event)] = f"mcs-{event.get('id')}"
    if marks:
        kept[PENDING] = marks
    plan = Plan(alerts={n: [] for n in range(1, config.receivers + 1)}, state=kept)
    plan.repeated = len(events) - len(fresh)
    plan.held = max(0, len(fresh) - len(sent))
    for event, flaps in sent:
        alert = event_alert(event, flaps, config.hold_down)
        for receiver in config.rules.receivers_for(event, config.receivers):
            if config.rules.muted(receiver, str(event.get("severity")), now):
                plan.muted += 1
                continue
            plan.alerts[receiver].append(alert)
    for receiver, due in plan.alerts.items():
        if len(due) > config.storm_limit:
            plan.alerts[receiver] = [summary_alert(due, now)]
    return plan
