"""What is broken, where, since when: the worst-first rules of the page's table (DATA.md §3.6).

One home for each rule the page only shows: a gateway's severity rank (the default order),
its problem in plain words, since when, and its worst peer path. Built by the worker from
the §3.1 gateway records as they stream past, as of the snapshot's `generated_at`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from model.snapshot import link_down

OFFLINE, ALL_WAN_DOWN, SOMETHING_DOWN, DEGRADED, HEALTHY = 4, 3, 2, 1, 0
"""Severity tiers, worst first: the rank is tier × 1000 + how bad the worst path is."""

METRIC_WORDS = {"latency": "latency", "jitter": "jitter", "loss": "loss", "mos": "MOS"}


def duration(seconds: float | None) -> str:
    """A duration in two units at most (3 d 4 h, 5 h 12 min, 45 s), like the page's."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return ""
    s = int(seconds)
    days, hours, minutes = s // 86400, (s % 86400) // 3600, (s % 3600) // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{s} s"


def metric_text(metric: str, value: float | int | None) -> str:
    """A quality figure in words, as the page formats it: "loss 1.00 %", "latency 44.6 ms"."""
    if value is None:
        return ""
    if metric == "loss":
        figure = f"{value:.2f} %"
    elif metric == "mos":
        figure = f"{value:.2f}"
    else:
        figure = f"{value:.1f} ms"
    return f"{METRIC_WORDS.get(metric, metric)} {figure}"


def _down_ports(gateway: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in gateway.get("ports") or [] if link_down(p.get("enabled"), p.get("up"))]


def worst_of(gateway: Mapping[str, Any]) -> dict | None:
    """The gateway's worst peer path over all its ports (a port record's `worst`, §3.1)."""
    found: dict | None = None
    for port in gateway.get("ports") or []:
        worst = port.get("worst")
        if isinstance(worst, Mapping) and (found is None or worst["score"] > found["score"]):
            found = {**worst, "port_id": port.get("port_id")}
    return found


def worst_text(worst: Mapping[str, Any] | None) -> str:
    """The worst path in words: "loss 1.00 % to dc1-hub-gw01"."""
    if not worst:
        return ""
    words = metric_text(str(worst.get("metric")), worst.get(str(worst.get("metric"))))
    peer = worst.get("peer")
    return f"{words} to {peer}" if peer else words


def since(gateway: Mapping[str, Any]) -> float | int | None:
    """Since when it is down: an offline gateway's `last_seen`, else the earliest
    `down_since` of its down WAN ports; None when nothing is down (or Mist did not say)."""
    if gateway.get("status") != "connected":
        return gateway.get("last_seen")
    times: list[float | int] = [
        moment
        for moment in (p.get("down_since") for p in _down_ports(gateway))
        if isinstance(moment, int | float) and moment
    ]
    return min(times) if times else None


def severity(gateway: Mapping[str, Any], worst: Mapping[str, Any] | None) -> int:
    """The rank the page sorts by, highest first: offline, every WAN port down, a WAN port
    or peer path down, degraded, healthy; within a tier, how bad the worst path is."""
    enabled = [p for p in gateway.get("ports") or [] if p.get("enabled") is not False]
    down = _down_ports(gateway)
    if gateway.get("status") != "connected":
        tier = OFFLINE
    elif enabled and len(down) == len(enabled):
        tier = ALL_WAN_DOWN
    elif down or (gateway.get("peers_up") or 0) < (gateway.get("peers_total") or 0):
        tier = SOMETHING_DOWN
    elif gateway.get("degraded"):
        tier = DEGRADED
    else:
        tier = HEALTHY
    score = float(worst["score"]) if worst else 0.0
    return tier * 1000 + min(999, round(score * 100))


def problem_text(
    gateway: Mapping[str, Any], worst: Mapping[str, Any] | None, now: float | None
) -> str:
    """The problem in plain words, worst first: "offline 2 d 19 h", "ge-0/0/1 down 8 h",
    "2 peer paths down", "loss 1.00 % to dc1-hub-gw01"; "" for a healthy gateway. Durations
    count to `now` (none without it)."""

    def ago(moment: Any) -> str:
        if now is None or not isinstance(moment, int | float) or not moment:
            return ""
        return f" {duration(now - moment)}"

    if gateway.get("status") != "connected":
        return f"offline{ago(gateway.get('last_seen'))}"
    parts: list[str] = []
    down = _down_ports(gateway)
    if len(down) > 2:
        parts.append(f"{len(down)} WAN ports down")
    else:
        parts += [f"{p.get('port_id')} down{ago(p.get('down_since'))}" for p in down]
    paths_down = (gateway.get("peers_total") or 0) - (gateway.get("peers_up") or 0)
    if paths_down > 0 and not down:
        parts.append(f"{paths_down} peer path{'s' if paths_down != 1 else ''} down")
    if gateway.get("degraded") and worst:
        parts.append(worst_text(worst))
    return " · ".join(parts)
