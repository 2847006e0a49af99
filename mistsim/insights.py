"""Gateway time series (`/sites/{site_id}/insights/gateway/{device_id}/stats`), style D.

Each bucket is the average rate of the same closed-form traffic model the counters come
from, so a backfill and counter deltas agree. Retention follows Mist: 10-minute buckets
for the last day, hourly buckets for 14 days, daily for 14 days.
"""

from __future__ import annotations

import time
from typing import Any

from mistsim import dynamics, timeparse
from mistsim.model import Gateway, Port

INTERVALS = {"10m": 600, "1h": 3600, "1d": 86400}
RETENTION = {600: 86400, 3600: 14 * 86400, 86400: 14 * 86400}
METRICS = ("rx_bps", "tx_bps", "max_rx_bps", "max_tx_bps", "rx_bytes", "tx_bytes")


class BadInsight(ValueError):
    """A request the insights endpoint answers with 400."""


def _value(ports: list[Port], metric: str, start: float, end: float) -> int:
    rx = metric.startswith(("rx", "max_rx"))
    total_bits = sum(dynamics.bits_between(port, start, end, rx) for port in ports)
    if metric.endswith("_bytes"):
        return int(total_bits / 8)
    average = total_bits / (end - start) if end > start else 0.0
    return int(average * 1.3) if metric.startswith("max_") else int(average)


def series(gateway: Gateway, args: dict[str, str], now: float, keyed_shape: bool) -> dict[str, Any]:
    """The response body for one request (raises BadInsight for a 400)."""
    raw_metrics = args.get("metrics", "")
    metrics = [m.strip() for m in raw_metrics.split(",") if m.strip()]
    if not metrics:
        raise BadInsight("metrics is required, e.g. metrics=rx_bps,tx_bps")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise BadInsight(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    if len(metrics) > 1 and not keyed_shape:
        raise BadInsight("only one metric per request is supported")
    try:
        start, end = timeparse.window(args.get("start"), args.get("end"), args.get("duration"), now)
    except timeparse.BadTime as error:
        raise BadInsight(str(error)) from None
    end = min(end, now)
    interval_text = args.get("interval") or ("10m" if end - start <= 86400 else "1h")
    if interval_text not in INTERVALS:
        raise BadInsight(f"interval must be one of {', '.join(INTERVALS)}")
    interval = INTERVALS[interval_text]
    start = max(start, now - RETENTION[interval])
    try:
        limit = int(args.get("limit") or 100)
        page = int(args.get("page") or 1)
    except ValueError:
        raise BadInsight("limit and page must be integers") from None
    if limit < 1 or page < 1:
        raise BadInsight("limit and page must be positive")
    port_id = args.get("port_id")
    ports = [p for p in gateway.ports if port_id is None or p.port_id == port_id]
    if port_id is not None and not ports:
        raise BadInsight(f"port_id {port_id!r} is not a port of this gateway")
    first = int(start // interval) * interval
    buckets = list(range(first, int(end), interval)) if end > start else []
    buckets = buckets[(page - 1) * limit : page * limit]
    t_stop = dynamics.effective_time(gateway, now)
    body: dict[str, Any] = {
        "start": int(start),
        "end": int(end),
        "interval": interval,
        "limit": limit,
        "page": page,
    }
    columns: dict[str, list[Any]] = {}
    for metric in metrics:
        values: list[Any] = []
        for bucket in buckets:
            bucket_end = min(bucket + interval, end)
            if bucket >= t_stop:
                values.append(None)  # a disconnected gateway reports nothing
            else:
                values.append(_value(ports, metric, bucket, min(bucket_end, t_stop)))
        columns[metric] = values
    if len(metrics) == 1:
        body["results"] = columns[metrics[0]]
    else:
        body.update(columns)
    body["rt"] = [time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(b)) for b in buckets]
    return body
