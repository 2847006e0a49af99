"""bench/metrics.py on a small org: the figures it reports are the worker's own bytes."""

from __future__ import annotations

from bench.metrics import MetricsWeb, build_exposition, metrics_section


def test_exposition_figures_grow_with_the_peer_path_mode() -> None:
    summary = build_exposition(20, "summary")
    every = build_exposition(20, "all")
    assert 0 < summary.series < every.series
    assert 0 < summary.gzip_bytes < summary.body_bytes < every.body_bytes
    assert 0 < summary.build_seconds < 2.0
    section = metrics_section(
        [summary, every], [MetricsWeb(20, product_rps=700, ceiling_rps=1000, p99_ms=12, errors=0)]
    )
    text = section.markdown()
    assert f"{summary.series:,}" in text and "0.70×" in text and "(over)" not in text
