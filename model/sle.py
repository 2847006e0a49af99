"""Mist's WAN SLEs per site: reading one `sites-sle?sle=wan` result, and the one good / fair /
poor rule every view colours them by (DATA.md §3.2).

Mist spells the three WAN SLEs `gateway-health`, `wan-link-health` and `application_health`
(one with an underscore); we name them all with hyphens, as the /metrics label does, and
keep each value exactly as Mist sent it (a 0-1 fraction of the time the site met its goal).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.values import number, scalar

# Our name -> the names Mist may use for it (the spec mixes `-` and `_`).
SLE_FIELDS: dict[str, tuple[str, ...]] = {
    "gateway-health": ("gateway-health", "gateway_health"),
    "wan-link-health": ("wan-link-health", "wan_link_health"),
    "application-health": ("application_health", "application-health"),
}
SLE_NAMES = tuple(SLE_FIELDS)
SLE_LABELS = {
    "gateway-health": "Gateway health",
    "wan-link-health": "WAN link health",
    "application-health": "Application health",
}
# The one rule: a value at or above `good` is good, at or above `fair` fair, else poor.
SLE_GRADES = {"good": 0.95, "fair": 0.80}
GRADE_ORDER = ("good", "fair", "poor")  # better first: a site's grade is its worst SLE's


def grade(value: float | None) -> str | None:
    """good / fair / poor for one SLE value (None when there is no value)."""
    if value is None:
        return None
    if value >= SLE_GRADES["good"]:
        return "good"
    if value >= SLE_GRADES["fair"]:
        return "fair"
    return "poor"


def _fraction(value: Any) -> float | None:
    """A finite number within 0-1, else None (Mist's scores are fractions)."""
    read = number(value)
    if read is None or not 0 <= read <= 1:
        return None
    return read


def site_sle(item: Any) -> dict[str, Any] | None:
    """One `results` entry as `{"site_id", <sle name>: value|None …, "num_gateways"}`, or
    None when it names no site. Values are Mist's own, unrounded."""
    if not isinstance(item, Mapping):
        return None
    site_id = scalar(item.get("site_id"))
    if not isinstance(site_id, str) or not site_id:
        return None
    read: dict[str, Any] = {"site_id": site_id}
    for name, spellings in SLE_FIELDS.items():
        found = next((item[key] for key in spellings if item.get(key) is not None), None)
        read[name] = _fraction(found)
    gateways = number(item.get("num_gateways"))
    read["num_gateways"] = int(gateways) if gateways is not None and gateways >= 0 else None
    return read


def site_score(read: Mapping[str, Any], start: Any, end: Any) -> dict[str, Any]:
    """The `sle` object of a site (DATA.md §3.2): the three values, each one's grade, the
    site's grade (its worst) and the hour Mist measured."""
    values = {name: read.get(name) for name in SLE_NAMES}
    grades = {name: grade(value) for name, value in values.items()}
    known = [g for g in grades.values() if g is not None]
    return {
        **values,
        "grades": grades,
        "grade": max(known, key=GRADE_ORDER.index) if known else None,
        "start": number(start),
        "end": number(end),
    }


def sle_state(items: list[Any], start: Any, end: Any, now: float) -> dict[str, Any]:
    """What the worker keeps of one read (DATA.md §2 `mist:sle`): each site's values by id,
    the window Mist measured and when it was read. `items` are `site_sle` results."""
    sites = {
        item["site_id"]: {key: value for key, value in item.items() if key != "site_id"}
        for item in items
        if isinstance(item, dict)
    }
    return {"fetched_at": now, "start": number(start), "end": number(end), "sites": sites}


def attach(sites: list[dict], state: Mapping[str, Any] | None) -> None:
    """Give each site record its `sle` (None when Mist has told us nothing of it yet)."""
    by_site: Mapping[str, Any] = (state or {}).get("sites") or {}
    start = (state or {}).get("start")
    end = (state or {}).get("end")
    for site in sites:
        read = by_site.get(str(site.get("id")))
        site["sle"] = site_score(read, start, end) if isinstance(read, Mapping) else None
