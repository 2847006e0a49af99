"""The worst circuits (DATA.md §3.11, `/api/worst`): the N worst WAN ports of the org by each
measure, gathered while the payload's gateway records stream past.

Availability and flaps (24 h) come from the availability step (refresh/availability.py) as
`port_figures`, handed in when the builder is made: the worker counts them before the
payload streams, so every measure is ranked in the same single pass.

For each measure the worker keeps the N worst ports in a bounded heap (O(ports × log N),
nothing else held), then sends the union of those rows once and, per measure, the order of
its N worst: the page shows any measure's worst N exactly, sorted, without the whole org.
Ties go to the port listed first (site name, gateway name, port), so the order is stable.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from typing import Any

from model.quality import THRESHOLDS
from sla.accumulator import (
    DOWN,
    FLAPS,
    HOUR_AT,
    OBSERVED,
    SUM24,
    Accumulator,
    port_key,
)
from sla.accumulator import availability as percent_up
from sla.circuits import Catalogue

WORST_LIMIT = 50  # ports per measure
UTILISATION_BANDS = [0.7, 0.9]  # busier than this share of the port's speed: fair, poor
AVAILABILITY_BANDS = [99.9, 99.0]  # per cent over 24 h below this: fair, poor (as sla.js)
MBPS = 1_000_000

PortFigures = tuple[float | None, int]
"""A WAN port's availability over 24 h (per cent, None: not observed) and its flaps in 24 h."""
FULL: PortFigures = (100.0, 0)  # a port `port_figures` leaves out: up all the time observed
WorstFigures = Mapping[str, PortFigures]
"""`port_figures`: each WAN port's PortFigures by its accumulator key (sla.accumulator.port_key)."""

COLUMNS = (
    "gateway_id",
    "gateway",
    "site",
    "port",
    "wan_name",
    "isp",
    "speed",
    "degraded",
    "score",
    "worst_metric",
    "worst_peer",
    "latency",
    "jitter",
    "loss",
    "mos",
    "utilisation",
    "rx_bps",
    "tx_bps",
    "availability",
    "flaps",
)
_INDEX = {name: n for n, name in enumerate(COLUMNS)}

Row = list[Any]


def _higher(column: str) -> Callable[[Row], float | None]:
    """A measure where more is worse; 0 (or none) is not a problem and is not ranked."""
    index = _INDEX[column]
    return lambda row: (
        row[index] if isinstance(row[index], int | float) and row[index] > 0 else None
    )


def _lower(column: str) -> Callable[[Row], float | None]:
    """A measure where less is worse (MOS): ranked by its negative; MOS 0 is Mist's "no
    score"."""
    index = _INDEX[column]
    return lambda row: (
        -row[index] if isinstance(row[index], int | float) and row[index] > 0 else None
    )


def _below_full(column: str) -> Callable[[Row], float | None]:
    """Availability (per cent): ranked lowest first when under 100; 0 (down all day) is the
    worst there is, None (not observed) is not ranked."""
    index = _INDEX[column]
    return lambda row: (
        -row[index] if isinstance(row[index], int | float) and row[index] < 100 else None
    )


# Each measure and how bad a row is by it (None: not ranked by it).
QUALITY: dict[str, Callable[[Row], float | None]] = {
    "score": _higher("score"),
    "loss": _higher("loss"),
    "latency": _higher("latency"),
    "jitter": _higher("jitter"),
    "mos": _lower("mos"),
    "utilisation": _higher("utilisation"),
}
MEASURES: dict[str, Callable[[Row], float | None]] = {
    **QUALITY,
    "availability": _below_full("availability"),  # only with the availability figures
    "flaps": _higher("flaps"),
}


def port_figures(found: Catalogue, accumulator: Accumulator) -> dict[str, PortFigures]:
    """Each WAN port's 24 h availability and flaps as /api/availability counts them (its
    24 h sums and sla.accumulator.availability), by its accumulator key, for the ports with
    something to say: a port left out is FULL, so a steady org costs a small dict. The
    availability step's catalogue and sums after this refresh's events; one pass, the
    steady ports without a call."""
    counted: dict[str, PortFigures] = {}
    circuits = accumulator.circuits
    hour_down, sum_down = HOUR_AT + DOWN, SUM24 + DOWN
    hour_flaps, sum_flaps = HOUR_AT + FLAPS, SUM24 + FLAPS
    for key in found.ports:
        record = circuits.get(key)
        if record is None:  # first seen this refresh: nothing observed yet
            counted[key] = (None, 0)
            continue
        down = record[hour_down] + record[sum_down]
        flaps = record[hour_flaps] + record[sum_flaps]
        observed = record[HOUR_AT + OBSERVED] + record[SUM24 + OBSERVED]
        if down or flaps or observed <= 0:
            counted[key] = (percent_up(observed, down), flaps)
    return counted


def utilisation(port: Mapping[str, Any]) -> float | None:
    """The busier direction's rate as a share of the port's speed (Mist's Mbit/s)."""
    speed = port.get("speed")
    rates = [r for r in (port.get("rx_bps"), port.get("tx_bps")) if isinstance(r, int | float)]
    if not isinstance(speed, int | float) or speed <= 0 or not rates:
        return None
    return round(max(rates) / (speed * MBPS), 6)


def port_row(
    gateway: Mapping[str, Any],
    site: str,
    port: Mapping[str, Any],
    counted: PortFigures | None = None,
) -> Row:
    """One WAN port as a row of COLUMNS (availability and flaps null without `counted`)."""
    worst = port.get("worst") or {}
    availability, flaps = counted if counted is not None else (None, None)
    return [
        gateway.get("id"),
        gateway.get("name"),
        site,
        port.get("port_id"),
        port.get("wan_name"),
        port.get("isp"),
        port.get("speed"),
        bool(port.get("degraded")),
        worst.get("score"),
        worst.get("metric"),
        worst.get("peer"),
        port.get("latency"),
        port.get("jitter"),
        port.get("loss"),
        port.get("mos"),
        utilisation(port),
        port.get("rx_bps"),
        port.get("tx_bps"),
        availability,
        flaps,
    ]


class WorstCircuits:
    """The N worst WAN ports by each measure, fed one §3.1 gateway record at a time."""

    def __init__(
        self,
        sites: list[dict],
        limit: int = WORST_LIMIT,
        availability: WorstFigures | None = None,
    ) -> None:
        """`availability`: `port_figures` of this refresh; without it (the availability step
        failed or did not run) the document has neither measure and those columns are null."""
        self.limit = limit
        self._site_names = {site.get("id"): site.get("name") or "" for site in sites}
        self._availability = availability
        self._measures = QUALITY if availability is None else MEASURES
        self._heaps: dict[str, list[tuple[float, int, Row]]] = {name: [] for name in self._measures}
        self._seen = 0
        self.ports = 0  # WAN ports considered

    def add(self, gateway: Mapping[str, Any]) -> None:
        """Rank the enabled WAN ports of an online gateway (an offline one's figures are
        its last known; the table shows it offline first)."""
        if gateway.get("status") != "connected":
            return
        site = str(self._site_names.get(gateway.get("site_id") or "") or "")
        counted = self._availability
        for port in gateway.get("ports") or ():
            if not isinstance(port, Mapping) or port.get("enabled") is False:
                continue
            self.ports += 1
            figures = None
            if counted is not None:
                key = port_key(str(gateway.get("id")), str(port.get("port_id")))
                figures = counted.get(key, FULL)
            row = port_row(gateway, site, port, figures)
            self._seen += 1
            for name, badness in self._measures.items():
                value = badness(row)
                if value is None:
                    continue
                entry = (value, -self._seen, row)
                heap = self._heaps[name]
                if len(heap) < self.limit:
                    heapq.heappush(heap, entry)
                elif entry[:2] > heap[0][:2]:
                    heapq.heapreplace(heap, entry)

    def document(self, generated_at: float | None) -> dict[str, Any]:
        """The §3.11 document: each row once, each measure's N worst as row indexes, worst
        first."""
        rows: list[Row] = []
        index: dict[int, int] = {}
        rankings: dict[str, list[int]] = {}
        for name, heap in self._heaps.items():
            order = sorted(heap, key=lambda entry: entry[:2], reverse=True)
            ranking = []
            for _value, seen, row in order:
                if -seen not in index:
                    index[-seen] = len(rows)
                    rows.append(row)
                ranking.append(index[-seen])
            rankings[name] = ranking
        return {
            "generated_at": generated_at,
            "limit": self.limit,
            "ports": self.ports,
            "thresholds": {
                **{name: list(values) for name, values in THRESHOLDS.items()},
                "utilisation": list(UTILISATION_BANDS),
                "availability": list(AVAILABILITY_BANDS),
            },
            "measures": list(self._measures),
            "columns": list(COLUMNS),
            "rows": rows,
            "rankings": rankings,
        }
