"""Hourly rx/tx bps of one WAN port from Mist's gateway insights, in either answer shape.

Mist's live answer is keyed per metric (`rx_bps`, `tx_bps`); the spec's is one `results`
series per call. We ask for both metrics at once and fall back, for good, to one call per
metric when Mist will not. Values that are not finite numbers (within ±2**64) become gaps;
a start time that is no epoch second makes the answer malformed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from mistapi.api.v1.sites import insights as site_insights

from mist.errors import MalformedResponse, MistError
from mist.paging import PAGE_LIMIT
from mist.streams import CallCounter
from model.values import number

log = logging.getLogger("mist")

Point = tuple[int, float | None, float | None]  # (bucket start, rx bps, tx bps)
MAX_INTERVAL = 7 * 86400  # a longer bucket is no answer to an hourly question
Ask = Callable[[str], Any]  # one insights call for the given comma-separated metrics


class PortInsights:
    """Reads port insights through `call` and remembers which shape Mist answers in."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call
        self.keyed = True  # flips to one call per metric if Mist answers the spec shape
        self.shape_known = False  # until one answer told us which shape Mist speaks

    def read(
        self,
        site_id: str,
        gateway_id: str,
        port_id: str,
        *,
        start: int,
        end: int,
        counter: CallCounter,
    ) -> tuple[list[Point], int]:
        """Hourly rx/tx bps of one WAN port between start and end: (points, step seconds)."""
        query = {"port_id": port_id, "start": str(start), "end": str(end), "interval": "1h"}

        def ask(metrics: str) -> Any:
            return self._call(
                site_insights.getSiteInsightMetricsForGateway,
                site_id, gateway_id, metrics, limit=PAGE_LIMIT, counter=counter, **query,
            )  # fmt: skip

        if self.keyed:
            found = self._both_at_once(ask)
            if found is not None:
                return found
        return self._one_by_one(ask)

    def _both_at_once(self, ask: Ask) -> tuple[list[Point], int] | None:
        """Both metrics in one call; None (and one call per metric from now on) when Mist
        refuses that (HTTP 400) or answers the spec's shape."""
        try:
            body = ask("rx_bps,tx_bps")
        except MistError as error:
            if error.status != 400:
                raise
            body = None
        self.shape_known = True
        if isinstance(body, dict) and isinstance(body.get("rx_bps"), list):
            step = interval(body)
            return zip_series(body, body["rx_bps"], body.get("tx_bps"), step), step
        log.info("Mist answers insights one metric at a time; switching to that")
        self.keyed = False
        return None

    @staticmethod
    def _one_by_one(ask: Ask) -> tuple[list[Point], int]:
        series: dict[str, dict[str, Any]] = {}
        for metric in ("rx_bps", "tx_bps"):
            body = ask(metric)
            if not isinstance(body, dict):
                raise MalformedResponse("an insights answer is not an object")
            series[metric] = body
        rx, tx = series["rx_bps"], series["tx_bps"]
        step = interval(rx)
        values_rx, values_tx = rx.get(metric_key(rx, "rx_bps")), tx.get(metric_key(tx, "tx_bps"))
        return zip_series(rx, values_rx, values_tx, step), step


def metric_key(body: dict[str, Any], metric: str) -> str:
    """Where a one-metric answer keeps its series: under the metric's name, else `results`."""
    return metric if isinstance(body.get(metric), list) else "results"


def interval(body: dict[str, Any]) -> int:
    """The answer's bucket length in seconds (an hour when missing or nonsense)."""
    try:
        step = int(body.get("interval") or 3600)
    except (TypeError, ValueError, OverflowError):
        step = 3600
    return step if 0 < step <= MAX_INTERVAL else 3600


def zip_series(body: dict[str, Any], rx: Any, tx: Any, step: int) -> list[Point]:
    """Bucket i starts at start + i*interval (REFERENCE §4.9); a null value stays a gap."""
    if not isinstance(rx, list):
        raise MalformedResponse("an insights answer without a series")
    tx_values = tx if isinstance(tx, list) else []
    try:
        start = float(body.get("start") or 0)
    except (TypeError, ValueError, OverflowError):
        start = math.nan
    if not 0 <= start < 2**32:  # NaN included: no time a history record can hold
        raise MalformedResponse("an insights answer without a start time")
    points: list[Point] = []
    for i, rx_value in enumerate(rx):
        tx_value = tx_values[i] if i < len(tx_values) else None
        points.append((int(start) + i * step, number(rx_value), number(tx_value)))
    return points
