"""The scale benchmark's "steady, a week of history" run: a small org through the real
mistsim, redis-server and worker.py, as `python -m bench` runs it at 10,000 gateways."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bench.__main__ import WEEK_RUN, build_sections, week_problems
from bench.scale import (
    RunFigures,
    ScaleFigures,
    ScaleRun,
    SeedFigures,
    catch_up_note,
    refreshes_until,
    seed_week_of_history,
)


def test_week_run_extends_a_full_week_on_every_port_and_is_printed(tmp_path: Path) -> None:
    with ScaleRun(6, tmp_path, latency_ms=0) as run:
        figures = run.measure_week(run.measure(), on_schedule=False)  # not 300 s later
        week, seed = figures.week, figures.seed
        assert week is not None and seed is not None
        assert week.ok, week.error
        assert seed.ports == figures.circuits > 0  # every WAN port the worker published
        # A week at 300 s, as the worker would have stored it: a day of fine samples and
        # an hourly bucket for each of the 168 hours.
        assert 287 <= seed.fine_samples <= 289
        assert 167 <= seed.hourly_buckets <= 169
        assert seed.distinct == seed.ports  # 24 histories build in well under the budget
        # The run paid the realistic cost: each full week read, extended and written back.
        assert seed.checked == seed.ports
        assert seed.appended == seed.ports - seed.baseline_only > 0
        assert week_problems(figures) == []
        assert week.calls > 0 and week.refresh_seconds is not None and week.peak_rss_mb > 0

        # Too slow to build one per port: a few distinct weeks are reused, same shape.
        again = seed_week_of_history(run.redis.url, distinct=3, budget_seconds=0.0)
        assert again.distinct == 3 and again.ports == seed.ports
        assert 287 <= again.fine_samples <= 289

    text = build_sections([figures], [], [], [])[1].text()
    week_rows = [line for line in text.splitlines() if WEEK_RUN in line and line.startswith("6 ")]
    assert len(week_rows) == 1, text
    assert f"{seed.ports} ports (288 fine + 168 hourly each, one history per port)" in text


def _run(seconds: float, rss: float, ok: bool = True) -> RunFigures:
    return RunFigures(20, {"/api/v1/orgs/{id}": 20}, seconds + 1, seconds, rss, ok)


def test_week_run_missing_the_10k_targets_is_reported_as_missed() -> None:
    seed = SeedFigures(40000, 48, 5.0, 30.0, 1.0, 288, 168, checked=500, appended=500)
    figures = ScaleFigures(
        10000, 5000, 40000, 60000, _run(40, 250), _run(30, 200), week=_run(75, 350), seed=seed
    )
    rows = {row[1]: row[-1] for row in build_sections([figures], [], [], [])[1].rows}
    assert rows["next refresh"] == "< 60 s: ✅ met; RSS < 300 MB: ✅ met"
    assert rows[WEEK_RUN] == "< 60 s: ❌ missed; RSS < 300 MB: ❌ missed"

    figures.week = _run(0, 90, ok=False)
    assert str(build_sections([figures], [], [], [])[1].rows[-1][-1]).startswith("❌ run failed")
    assert week_problems(figures)[0].startswith("worker --once with a week of history failed")


def test_readers_during_publish_are_measured_and_reported(tmp_path: Path) -> None:
    """The "readers during publish" row: real pollers of /health and the rows across two real
    publishes, every answer a 200, and Redis's own longest command taken."""
    from bench.readers import PATHS, measure_readers, readers_section
    from bench.scale import TOKENS

    with ScaleRun(6, tmp_path, latency_ms=0) as run:
        run.measure()
        figures = measure_readers(run.mist, run.redis.url, run.workdir, 6, TOKENS)
    assert [reader.path for reader in figures.readers] == list(PATHS)
    for reader in figures.readers:
        assert reader.requests >= 10 and reader.failures == 0
        assert 0 < reader.median_ms <= reader.p99_ms <= reader.max_ms
    assert figures.publishes == 2 and figures.longest_command_ms >= 0
    assert figures.latency_events.get("command", 0) == figures.longest_command_ms
    text = readers_section([figures]).text()
    assert "/api/gateways/rows" in text and "/health" in text


def test_the_catch_up_note_says_when_every_ports_source_is_known() -> None:
    """10,000 gateways: 1,750 configs read in the first refresh, 1,722 in each after (two
    gateways a site, one call each): every port's source is known after 6 refreshes (0.5 h);
    backfill, at 128 calls a refresh for 40,000 ports, takes longer and ends the catch-up."""
    kinds = {
        "GET /api/v1/sites/{site_id}/devices": 861,
        "GET /api/v1/sites/{site_id}/insights/gateway/{device_id}/stats": 128,
    }
    first = dataclasses.replace(_run(50, 380), by_kind=kinds, configs_read=1750)
    steady = dataclasses.replace(_run(50, 380), by_kind=kinds, configs_read=1722)
    figures = ScaleFigures(10000, 5000, 40000, 60000, first, steady)
    assert catch_up_note(figures) == (
        "10,000 gateways: device configs: 1,750 gateways read in the first refresh, then "
        "1,722 a refresh (861 calls) → every WAN port's template or override known after ~6 "
        "refreshes (0.5 h at 300 s); backfill 128 calls a refresh → ~313 refreshes "
        "(26.1 h at 300 s) until steady state."
    )
    assert refreshes_until(100, 100, 0) == 1
    assert refreshes_until(1000, 600, 0) is None  # stalled: no note claims an end
    figures.steady = dataclasses.replace(steady, configs_read=0)
    assert catch_up_note(figures) is None


def test_readers_across_several_orgs_poll_the_biggest_org_and_the_overview(
    tmp_path: Path,
) -> None:
    """The 50,000-gateway row, small: gateways spread over several orgs of one MSP, one
    `MIST_ORG_ID=*` worker publishing every org twice while /health, the biggest org's rows
    and /api/orgs are polled; every answer a 200, both publishes done, the worker's RSS taken."""
    from bench.readers import measure_several_orgs, readers_section

    figures = measure_several_orgs(tmp_path, gateways=24, orgs=4)
    assert figures.orgs == 4 and figures.publishes == figures.runs == 2
    paths = [reader.path for reader in figures.readers]
    assert paths[0] == "/health" and paths[2] == "/api/orgs"
    assert paths[1].startswith("/api/gateways/rows?org=") and figures.biggest_org > 0
    for reader in figures.readers:
        assert reader.requests >= 10 and reader.failures == 0
    assert figures.worker_rss_mb > 0 and len(figures.worker_seconds) == 3
    text = readers_section([figures]).text()
    assert "4 orgs" in text and "biggest org" in text and "peak RSS" in text


def test_the_readers_table_holds_50000_to_250_ms_and_says_how_the_wait_grows() -> None:
    from bench.readers import PublishFigures, ReaderFigures, readers_section

    def run(gateways: int, max_ms: float, orgs: int = 1, publishes: int = 2) -> PublishFigures:
        reader = ReaderFigures(gateways, "/health", 100, 2.0, 10.0, max_ms, 0)
        return PublishFigures(gateways, publishes, [reader], 9, [], orgs=orgs, runs=2)

    figures = [run(1000, 20), run(10000, 80), run(50000, 200, orgs=1000)]
    figures[-1].latency_events = {"command": 9, "fork": 120}
    section = readers_section(figures)
    assert "other Redis stalls (`LATENCY LATEST`): fork 120 ms" in section.text()
    targets = [row[-1] for row in section.rows]
    assert targets == ["", "max ≤ 100 ms, command ≤ 50 ms: ✅ met", "max ≤ 250 ms: ✅ met"]
    assert section.rows[-1][0] == "50,000 (1,000 orgs)"
    growth = section.notes[-1]
    assert "1,000 → 10,000 → 50,000" in growth and "20 → 80 → 200 ms" in growth
    assert "×10.0 for ×50 gateways" in growth and "less than linearly" in growth
    missed = readers_section([run(50000, 300, orgs=1000), run(50000, 90, orgs=1000, publishes=1)])
    assert [row[-1] for row in missed.rows] == [
        "max ≤ 250 ms: ❌ missed",
        "❌ 1 of 2 publishes failed",
    ]
