"""The org overview (`mist:orgs`, `/api/orgs`): one row per org the worker reads.

Minimal builder: the MSP overview page's helper owns the full version of this module; the
worker only relies on OrgSummary, overview_document and overview_csv as declared here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from model.freshness import data_age, is_stale
from store.codec import CsvEncoder, excel_safe


@dataclass(frozen=True)
class OrgSummary:
    """One org's counts as of its last good publish, and how that publish stands."""

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


CSV_COLUMNS = (
    "org_id",
    "name",
    "gateways_online",
    "gateways_offline",
    "circuits_up",
    "circuits_down",
    "paths_up",
    "paths_down",
    "circuits_degraded",
    "last_update",
    "age",
    "stale",
    "error",
)


def _row(org: OrgSummary, now: float, interval: int) -> dict[str, Any]:
    age = data_age(org.last_update, now)
    return {**asdict(org), "age": age, "stale": is_stale(age, interval)}


def overview_document(orgs: Sequence[OrgSummary], *, now: float, interval: int) -> dict[str, Any]:
    """`{"generated_at", "interval", "orgs": [row, …]}` in the order given."""
    return {
        "generated_at": now,
        "interval": interval,
        "orgs": [_row(org, now, interval) for org in orgs],
    }


def overview_csv(orgs: Sequence[OrgSummary], *, now: float, interval: int) -> bytes:
    """The same rows as CSV (UTF-8 with a BOM, CRLF, Excel-safe cells)."""
    sink = io.BytesIO()
    encoder = CsvEncoder(CSV_COLUMNS, sink)
    for org in orgs:
        row = _row(org, now, interval)
        encoder.add("" if row[name] is None else excel_safe(row[name]) for name in CSV_COLUMNS)
    return sink.getvalue()
