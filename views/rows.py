"""The page's table (DATA.md §3.6): one compact row per gateway, and the "problems only"
rule the page applies to it too (static/js/table.js)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
        self.site_timezones: dict[str, str] = {}  # of the sites listed, those Mist gives one
        self._site_index: dict[str, int] = {}
        self.sites: list[list[Any]] = []
        self.rows: list[list[Any]] = []

    def add(self, gateway: Mapping[str, Any]) -> None:
        """The row of one §3.1 gateway record (its site listed once, rows refer by index)."""
        site_id = str(gateway.get("site_id") or "")
        if site_id not in self._site_index:
            self._site_index[site_id] = len(self.sites)
            name = str(self._site_names.get(site_id) or "")
            self.sites.append([site_id, name, self._site_sle.get(site_id)])  # sle: §3.2
            if site_id in self._site_zones:
                self.site_timezones[site_id] = self._site_zones[site_id]
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

    def document(self, head: Mapping[str, Any]) -> dict:
        """The §3.6 document: the payload head (generated_at, thresholds, summary), the rows,
        each listed site's time zone as Mist gives it (the page's "site time") and the CSV
        format the page's own export follows (the server's columns and rule)."""
        return {
            "generated_at": head.get("generated_at"),
            "thresholds": head.get("thresholds"),
            "summary": head.get("summary"),
            "sites": self.sites,
            "site_timezones": self.site_timezones,
            "columns": list(ROW_COLUMNS),
            "rows": self.rows,
            "csv": {
                "columns": list(CSV_COLUMNS),
                "formula_starts": "".join(FORMULA_STARTS),
                "cell_breaks": "".join(CELL_BREAKS),
                "cell_quotes": "".join(CELL_QUOTES),
            },
        }
