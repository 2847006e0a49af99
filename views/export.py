"""The CSV export (/api/export.csv, DATA.md §3.7): one Excel-safe row per WAN port."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What Excel runs as a formula at the start of a cell."""
CELL_BREAKS = (";", "\t", "\r", "\n")
"""Where Excel may start a new cell inside ours: `;` is the list separator of many locales
(it opens a comma-separated file with it), tab separates cells on paste, and a line break
ends the row when such a locale does not see our quotes (a cell quoted after a `,` is no
quoted field where `,` separates nothing)."""
_BREAK = re.compile("[" + re.escape("".join(CELL_BREAKS)) + "]")
_UNSAFE = re.compile(
    "(?:^|(?<=[" + re.escape("".join(CELL_BREAKS)) + "]))"
    "(?=[" + re.escape("".join(FORMULA_STARTS)) + "])"
)


def excel_safe(value: object) -> str:
    """A CSV cell Excel cannot run as a formula: a quote goes before any = + - @ tab or CR
    that starts the cell or follows a CELL_BREAKS character (`x;=1+1` is two cells, one a
    formula, in a `;` locale).

    Mist names are free text (a site called =HYPERLINK(...) must stay text in the sheet).
    """
    if value is None:
        return ""
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    if text.startswith(FORMULA_STARTS) or _BREAK.search(text):
        return _UNSAFE.sub("'", text)
    return text  # the common case, found cheaply: a CSV has 30 cells a WAN port


class CircuitRows:
    """The CSV rows of each gateway as its record streams past (the worker keeps no list)."""

    def __init__(self, sites: list[dict]) -> None:
        self._site_names = {site.get("id"): site.get("name") or "" for site in sites}

    def of(self, gateway: Mapping[str, Any]) -> list[list[str]]:
        """One Excel-safe row per WAN port; a gateway without WAN ports still gets one row."""
        base = [
            self._site_names.get(gateway.get("site_id") or "", ""),
            gateway.get("name"),
            gateway.get("id"),
            gateway.get("model"),
            gateway.get("status"),
        ]
        rows: list[list[str]] = []
        for port in gateway.get("ports") or [{}]:
            port = port or {}
            up = port.get("up")
            link = None if up is None else ("up" if up else "down")
            cells = [link if name == "link" else port.get(name) for name in _PORT_CSV_FIELDS]
            rows.append([excel_safe(cell) for cell in (*base, *cells)])
        return rows
