"""The CSV export (/api/export.csv, DATA.md §3.7): one Excel-safe row per WAN port."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from model.sle import SLE_NAMES
from store.codec import excel_safe

_PREFIX = re.compile(r"/([0-9]{1,3})\s*$")  # static/js/csv.js prefixLength: the same rule

# Sent to the page in the rows document's `csv`: static/js/csv.js exports with these columns.
CSV_COLUMNS = (
    "site",
    "gateway",
    "gateway_id",
    "model",
    "gateway_status",
    "uptime_s",
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
    "wan_prefix_length",
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
    "bytes_24h_partial",
    "rx_bytes_7d",
    "tx_bytes_7d",
    "bytes_7d_partial",
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
    "prefix_length",
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
    "bytes_24h_partial",
    "rx_bytes_7d",
    "tx_bytes_7d",
    "bytes_7d_partial",
)


def prefix_length(address: Any) -> int | None:
    """The prefix length of a CIDR address ("198.51.100.10/29" -> 29), its own CSV column
    (spreadsheets filter on it); None for an address without one."""
    match = _PREFIX.search(address) if isinstance(address, str) else None
    return int(match.group(1)) if match and int(match.group(1)) <= 128 else None


def uptime(gateway: Mapping[str, Any]) -> Any:
    """Seconds since the gateway booted; only an online gateway has one (an offline one's
    figure is what it said before it went away)."""
    return gateway.get("uptime") if gateway.get("status") == "connected" else None


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
            uptime(gateway),
        ]
        sle = self._site_sle.get(gateway.get("site_id") or "") or {}
        site_scores = [sle.get(name) for name in SLE_NAMES]  # Mist's values as they came
        rows: list[list[str]] = []
        for port in gateway.get("ports") or [{}]:
            port = port or {}
            up = port.get("up")
            link = None if up is None else ("up" if up else "down")
            derived = {"link": link, "prefix_length": prefix_length(port.get("ip"))}
            cells = [
                derived[name] if name in derived else port.get(name) for name in _PORT_CSV_FIELDS
            ]
            rows.append([excel_safe(cell) for cell in (*base, *cells, *site_scores)])
        return rows
