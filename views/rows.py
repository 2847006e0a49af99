"""The page's table (DATA.md §3.6): one compact row per gateway, and the "problems only"
rule the page applies to it too (static/js/table.js)."""

from __future__ import annotations

import heapq
import json
from collections.abc import Mapping
from typing import Any

from model.sle import SLE_NAMES
from model.snapshot import link_down
from store.codec import CELL_BREAKS, CELL_QUOTES, FORMULA_STARTS
from views.export import CSV_COLUMNS
from views.problems import problem_text, severity, since, worst_of, worst_text

ROW_COLUMNS = (
    "id",
    "mac",
    "name",
    "site",
    "model",
    "status",
    "uptime",
    "ip",
    "ports_up",
    "ports_total",
    "ports_down",
    "peers_up",
    "peers_total",
    "peers_down",
    "degraded",
    "ha",
    "problem",
    "severity",
    "problem_text",
    "since",
    "worst",
    "worst_text",
)
FIRST_ROWS = 50  # the first-screen document's rows: an iPad's screen and a page of 50


def compact_sle(sle: Any) -> list[Any] | None:
    """A §3.2 `sle` as the rows document carries it: the three values, their three grades
    and the site's grade, in SLE_NAMES order (flat: 5,000 sites parse at half the cost of
    the nested objects on a slow tablet). `None` stays `None`."""
    if not isinstance(sle, Mapping):
        return None
    grades = sle.get("grades")
    if not isinstance(grades, Mapping):
        grades = {}
    return [
        *(sle.get(name) for name in SLE_NAMES),
        *(grades.get(name) for name in SLE_NAMES),
        sle.get("grade"),
    ]


def port_down(port: Mapping[str, Any]) -> bool:
    """link_down of a §3.1 port record."""
    return link_down(port.get("enabled"), port.get("up"))


def has_problem(gateway: Mapping[str, Any]) -> bool:
    """What "problems only" keeps: offline, degraded, a peer path down or a WAN port down."""
    if gateway.get("status") != "connected" or gateway.get("degraded"):
        return True
    if (gateway.get("peers_up") or 0) < (gateway.get("peers_total") or 0):
        return True
    return any(port_down(port) for port in gateway.get("ports") or [])


class GatewayRows:
    """One compact row per gateway, gathered while the payload's records stream past.

    The page starts from these (a sixth of the gzipped payload at 10,000 gateways, and no
    /api/sites needed): the worker prepares them so the web only sends bytes.
    """

    def __init__(self, sites: list[dict], now: float | None = None) -> None:
        """`now` is the snapshot's `generated_at`: "down 8 h" is as of then (no durations
        without it)."""
        self._now = now
        self._site_names = {site.get("id"): site.get("name") or "" for site in sites}
        self._site_sle = {site.get("id"): site.get("sle") for site in sites}
        self._site_zones = {
            site.get("id"): site["timezone"]
            for site in sites
            if isinstance(site.get("timezone"), str) and site["timezone"]
        }
        self.zones: list[str] = []  # the distinct time zones of the sites listed
        self._zone_index: dict[str, int] = {}
        self._site_index: dict[str, int] = {}
        self.sites: list[list[Any]] = []
        self.rows: list[list[Any]] = []

    def _zone(self, site_id: str) -> int | None:
        """The index in `zones` of the site's time zone (None when Mist gives it none)."""
        zone = self._site_zones.get(site_id)
        if zone is None:
            return None
        if zone not in self._zone_index:
            self._zone_index[zone] = len(self.zones)
            self.zones.append(zone)
        return self._zone_index[zone]

    def add(self, gateway: Mapping[str, Any]) -> None:
        """The row of one §3.1 gateway record (its site listed once, rows refer by index)."""
        site_id = str(gateway.get("site_id") or "")
        if site_id not in self._site_index:
            self._site_index[site_id] = len(self.sites)
            name = str(self._site_names.get(site_id) or "")
            sle = compact_sle(self._site_sle.get(site_id))  # §3.2, flat
            self.sites.append([site_id, name, sle, self._zone(site_id)])
        ports = gateway.get("ports") or []
        worst = worst_of(gateway)
        self.rows.append(
            [
                gateway.get("id"),
                gateway.get("mac"),
                gateway.get("name"),
                self._site_index[site_id],
                gateway.get("model"),
                gateway.get("status"),
                gateway.get("uptime"),
                gateway.get("ext_ip") or gateway.get("ip"),
                gateway.get("ports_up"),
                gateway.get("ports_total"),
                sum(1 for port in ports if port_down(port)),
                gateway.get("peers_up"),
                gateway.get("peers_total"),
                (gateway.get("peers_total") or 0) - (gateway.get("peers_up") or 0),
                bool(gateway.get("degraded")),
                bool(gateway.get("ha")),
                has_problem(gateway),
                severity(gateway, worst),
                problem_text(gateway, worst, self._now),
                since(gateway),
                worst["score"] if worst else None,
                worst_text(worst),
            ]
        )

    def worst_first(self) -> list[list[Any]]:
        """The rows in the page's default order: `severity` highest first, ties as the
        gateways came (a stable sort, as the page's): its first sort finds them in order."""
        return sorted(self.rows, key=_worst_first)

    def document(self, head: Mapping[str, Any]) -> dict:
        """The §3.6 document: the payload head (generated_at, thresholds, summary), the rows,
        the listed sites' time zones as Mist gives them (the page's "site time") and the CSV
        format the page's own export follows (the server's columns and rule)."""
        return _rows_document(head, self.sites, self.zones, self.worst_first())

    def first_document(self, head: Mapping[str, Any], count: int = FIRST_ROWS) -> dict:
        """The first screen's document (§3.6, `/api/gateways/first`): the rows document's
        head and its first `count` rows, with only the sites and zones they name (indexes
        renumbered), and the whole document's `rows_total` and `ports_total` so the page
        says what follows. 17 KB against 2.8 MB at 10,000 gateways: the page draws it
        before the big one is even parsed."""
        # the rows document's first `count` (nsmallest is sorted()[:count], ties kept in
        # order): not the sort of all 10,000 again, which `document` does
        shown = heapq.nsmallest(count, self.rows, key=_worst_first)
        site_at, ports_at = ROW_COLUMNS.index("site"), ROW_COLUMNS.index("ports_total")
        sites: list[list[Any]] = []
        zones: list[str] = []
        site_index: dict[int, int] = {}
        first: list[list[Any]] = []
        for row in shown:
            if row[site_at] not in site_index:
                site_id, name, sle, zone = self.sites[row[site_at]]
                if zone is not None:
                    if self.zones[zone] not in zones:
                        zones.append(self.zones[zone])
                    zone = zones.index(self.zones[zone])
                site_index[row[site_at]] = len(sites)
                sites.append([site_id, name, sle, zone])
            first.append([*row[:site_at], site_index[row[site_at]], *row[site_at + 1 :]])
        document = _rows_document(head, sites, zones, first)
        document["rows_total"] = len(self.rows)
        document["ports_total"] = sum(row[ports_at] or 0 for row in self.rows)
        return document

    def encoded(self, head: Mapping[str, Any]) -> bytes:
        """The §3.6 document as the web sends it: compact JSON with every non-ASCII character
        escaped (`\\u00b7`). A few hundred `·` in the problem texts would otherwise make the
        browser decode all 2.8 MB at 10,000 gateways into a two-byte string, and parse it
        as one: about a third slower on a slow tablet (measured in Chromium at 4x CPU)."""
        return ascii_json(self.document(head))

    def encoded_first(self, head: Mapping[str, Any]) -> bytes:
        """The first screen's document (first_document), ASCII as `encoded`'s."""
        return ascii_json(self.first_document(head))


_SEVERITY_AT = ROW_COLUMNS.index("severity")


def _worst_first(row: list[Any]) -> int:
    """The sort key of the page's default order: `severity` highest first (none last)."""
    severity = row[_SEVERITY_AT]
    return -(severity if severity is not None else -1)


def _rows_document(
    head: Mapping[str, Any], sites: list[list[Any]], zones: list[str], rows: list[list[Any]]
) -> dict:
    """The §3.6 document of these sites, zones and rows (GatewayRows.document says what)."""
    return {
        "generated_at": head.get("generated_at"),
        "thresholds": head.get("thresholds"),
        "summary": head.get("summary"),
        "sites": sites,
        "zones": zones,
        "columns": list(ROW_COLUMNS),
        "rows": rows,
        "csv": {
            "columns": list(CSV_COLUMNS),
            "formula_starts": "".join(FORMULA_STARTS),
            "cell_breaks": "".join(CELL_BREAKS),
            "cell_quotes": "".join(CELL_QUOTES),
        },
    }


def ascii_json(document: Mapping[str, Any]) -> bytes:
    """Compact JSON, every non-ASCII character escaped (GatewayRows.encoded says why)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode(
        "ascii"
    )
