"""The CSV export (/api/export.csv, DATA.md §3.7): one Excel-safe row per WAN port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.sle import SLE_NAMES
from store.codec import excel_safe

# Sent to the page in the rows document's `csv`: static/js/csv.js exports with these columns.
CSV_COLUMNS = (
    "site",
    "gateway",
    "gateway_id",
    "model",
    "gateway_status",
    "port",
    "wan_name",
    "description",
    "isp",
    "asn",
    "wan_type",
    "enabled",
    "link",
    "speed_mbps",
    "wan_ip",
    "gateway_ip",
    "vlan",
    "address_mode",
    "override",
    "peer_paths_up",
    "peer_paths_total",
    "latency_ms",
    "jitter_ms",
    "loss_pct",
    "mos",
    "degraded",
    "rx_bps",
    "tx_bps",
    "rx_bytes_24h",
    "tx_bytes_24h",
    "site_gateway_health",
    "site_wan_link_health",
    "site_application_health",
)
_PORT_CSV_FIELDS = (
    "port_id",
    "wan_name",
    "description",
    "isp",
    "asn",
    "wan_type",
    "enabled",
    "link",
    "speed",
    "ip",
    "gateway_ip",
    "vlan",
    "address_mode",
    "override",
    "peers_up",
    "peers_total",
    "latency",
    "jitter",
    "loss",
    "mos",
    "degraded",
    "rx_bps",
    "tx_bps",
    "rx_bytes_24h",
    "tx_bytes_24h",
)


class CircuitRows:
    """The CSV rows of each gateway as its record streams past (the worker keeps no list)."""

    def __init__(self, sites: list[dict]) -> None:
        self._site_names = {site.get("id"): site.get("name") or "" for site in sites}
        self._site_sle = {site.get("id"): site.get("sle") or {} for site in sites}

    def of(self, gateway: Mapping[str, Any]) -> list[list[str]]:
        """One Excel-safe row per WAN port; a gateway without WAN ports still gets one row."""
        base = [
            self._site_names.get(gateway.get("site_id") or "", ""),
            gateway.get("name"),
            gateway.get("id"),
            gateway.get("model"),
            gateway.get("status"),
        ]
        sle = self._site_sle.get(gateway.get("site_id") or "") or {}
        site_scores = [sle.get(name) for name in SLE_NAMES]  # Mist's values as they came
        rows: list[list[str]] = []
        for port in gateway.get("ports") or [{}]:
            port = port or {}
            up = port.get("up")
            link = None if up is None else ("up" if up else "down")
            cells = [link if name == "link" else port.get(name) for name in _PORT_CSV_FIELDS]
            rows.append([excel_safe(cell) for cell in (*base, *cells, *site_scores)])
        return rows
