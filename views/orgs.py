"""The MSP overview (/api/orgs, /api/orgs.csv, DATA.md §3.13): one row per org, worst first.

The worker builds it from each org's last good publish; the page only shows it: the order,
each row's severity, level and problem words, the totals and the stale flag are decided
here (stale by the one rule of model/freshness.py), as of the document's `generated_at`.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from model.freshness import data_age, is_stale
from store.codec import CsvEncoder, excel_safe
from views.problems import duration

OFFLINE, CIRCUITS_DOWN, DEGRADED, STALE, HEALTHY = 4, 3, 2, 1, 0
"""Severity tiers, worst first: a row's `severity` is tier × 1000 + how many (at most 999)."""
LEVELS = {OFFLINE: "critical", CIRCUITS_DOWN: "critical", DEGRADED: "warning", STALE: "stale"}

COUNTS = (
    "gateways_online",
    "gateways_offline",
    "circuits_up",
    "circuits_down",
    "paths_up",
    "paths_down",
    "circuits_degraded",
)
ROW_FIELDS = (
    "org_id",
    "name",
    *COUNTS,
    "last_update",
    "age",
    "stale",
    "error",
    "severity",
    "level",
    "problem_text",
)
CSV_COLUMNS = (
    "org",
    "org_id",
    "gateways_online",
    "gateways_offline",
    "wan_circuits_up",
    "wan_circuits_down",
    "peer_paths_up",
    "peer_paths_down",
    "circuits_degraded",
    "last_update",
    "data_age_s",
    "stale",
    "problem",
    "last_error",
)


@dataclass(frozen=True)
class OrgSummary:
    """What the overview knows of one org: its counts as of its last good publish."""

    org_id: str
    name: str
    gateways_online: int
    gateways_offline: int
    circuits_up: int
    circuits_down: int
    paths_up: int
    paths_down: int
    circuits_degraded: int
    last_update: float | None  # epoch seconds of its last good publish, None = never
    error: str | None  # its last refresh error (already redacted), None when fine


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _tier(org: OrgSummary, stale: bool) -> tuple[int, int]:
    """The worst thing about an org and how many of it: (tier, count)."""
    if org.gateways_offline > 0:
        return OFFLINE, org.gateways_offline
    if org.circuits_down > 0:
        return CIRCUITS_DOWN, org.circuits_down
    if org.circuits_degraded > 0:
        return DEGRADED, org.circuits_degraded
    if stale or org.error or org.last_update is None:
        return STALE, 1
    return HEALTHY, 0


def _problem_text(org: OrgSummary, age: float | None, stale: bool) -> str:
    """What is wrong with an org in plain words ("" when nothing is), like the rows' own."""
    parts = []
    if org.gateways_offline:
        parts.append(_plural(org.gateways_offline, "gateway", "gateways") + " offline")
    if org.circuits_down:
        parts.append(_plural(org.circuits_down, "WAN circuit", "WAN circuits") + " down")
    if org.circuits_degraded:
        parts.append(_plural(org.circuits_degraded, "circuit", "circuits") + " degraded")
    if org.paths_down:
        parts.append(_plural(org.paths_down, "peer path", "peer paths") + " down")
    if org.last_update is None:
        parts.append("no data yet")
    elif stale:
        parts.append(f"data {duration(age)} old")
    if org.error:
        parts.append("last refresh failed")
    return " · ".join(parts)


def _sort_key(org: OrgSummary, stale: bool) -> tuple[Any, ...]:
    """Worst first: offline gateways, circuits down, degraded, stale (or failing); then name."""
    return (
        -org.gateways_offline,
        -org.circuits_down,
        -org.circuits_degraded,
        -int(stale or org.last_update is None),
        -int(bool(org.error)),
        -org.paths_down,
        (org.name or org.org_id).casefold(),
        org.org_id,
    )


def _rows(orgs: Sequence[OrgSummary], now: float, interval: int) -> list[dict[str, Any]]:
    """Each org's row, worst first."""
    judged = []
    for org in orgs:
        age = data_age(org.last_update, now)
        judged.append((org, age, is_stale(age, interval)))
    judged.sort(key=lambda item: _sort_key(item[0], item[2]))
    rows = []
    for org, age, stale in judged:
        tier, count = _tier(org, stale)
        rows.append(
            {
                "org_id": org.org_id,
                "name": org.name,
                **{name: int(getattr(org, name)) for name in COUNTS},
                "last_update": org.last_update,
                "age": age,
                "stale": stale,
                "error": org.error,
                "severity": tier * 1000 + min(count, 999),
                "level": LEVELS.get(tier, "ok"),
                "problem_text": _problem_text(org, age, stale),
            }
        )
    return rows


def _totals(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The sums the overview's header line shows, and how many orgs are in each state."""
    totals = {name: sum(row[name] for row in rows) for name in COUNTS}
    return {
        "orgs": len(rows),
        "orgs_critical": sum(1 for row in rows if row["level"] == "critical"),
        "orgs_warning": sum(1 for row in rows if row["level"] == "warning"),
        "orgs_stale": sum(1 for row in rows if row["stale"]),
        "orgs_failing": sum(1 for row in rows if row["error"]),
        **totals,
    }


def overview_document(orgs: Sequence[OrgSummary], *, now: float, interval: int) -> dict[str, Any]:
    """The /api/orgs document: every org's row worst first, with the totals, as of `now`."""
    rows = _rows(orgs, now, interval)
    return {
        "generated_at": now,
        "interval": interval,
        "totals": _totals(rows),
        "orgs": rows,
    }


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def overview_csv(orgs: Sequence[OrgSummary], *, now: float, interval: int) -> bytes:
    """/api/orgs.csv: the overview's rows in its order, every cell Excel-safe (DATA.md §3.7)."""
    sink = io.BytesIO()
    encoder = CsvEncoder(CSV_COLUMNS, sink)
    for row in _rows(orgs, now, interval):
        cells = [
            row["name"],
            row["org_id"],
            *(row[name] for name in COUNTS),
            _iso(row["last_update"]),
            None if row["age"] is None else int(row["age"]),
            row["stale"],
            row["problem_text"],
            row["error"],
        ]
        encoder.add(excel_safe(cell) for cell in cells)
    return sink.getvalue()
