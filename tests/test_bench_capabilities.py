"""The capabilities block of docs/BENCHMARKS.md (several orgs, events, alerts, worst
circuits): each figure beside its target with a verdict, and its own block of the file."""

from __future__ import annotations

from bench.alerting import AlertFigures, alerts_section
from bench.capabilities import BEGIN, END, Capabilities, capabilities_block
from bench.events import EventsFigures, StepFigures, events_sections
from bench.orgs import OrgsFigures, orgs_sections, steady_formula
from bench.page import PageLoad
from bench.report import BENCH_BEGIN, BENCH_END, replace_block
from bench.scale import RunFigures


def _run(seconds: float, rss: float) -> RunFigures:
    kinds = {"GET /api/v1/orgs/{id}/sites": 200, "GET /api/v1/orgs/{id}/inventory": 200}
    return RunFigures(400, kinds, seconds + 1, seconds, rss, True)


def _orgs(steady_seconds: float, p99: float) -> OrgsFigures:
    figures = OrgsFigures(200, 10000, 5000, 1001, "…", _run(50, 200), _run(steady_seconds, 250))
    figures.api_bytes, figures.api_plain_bytes, figures.api_etag = 9000, 80000, True
    figures.api_p99_ms = p99
    figures.page = PageLoad(900.0, 200000, 12, [900.0])
    figures.failure_run = _run(30, 250)
    figures.fresh_after_failure, figures.failing_flagged = 199, True
    return figures


def _verdicts(rows: list) -> dict[str, str]:
    return {str(row[1]): str(row[-1]) for row in rows}


def test_the_steady_formula_is_four_per_org_plus_pages_plus_events() -> None:
    one_page = [{"gateways": 10, "sites": 5}] * 3
    assert steady_formula(one_page, 6.0, 6.0) == 1 + 3 * 5
    big = [{"gateways": 2500, "sites": 1200}]  # 2 + 3 + 15 + 15 pages + 1 events page
    assert steady_formula(big, 6.0, 6.0) == 1 + 2 + 3 + 15 + 15 + 1


def test_orgs_figures_meet_or_miss_their_targets_in_the_table() -> None:
    rows = _verdicts(orgs_sections([_orgs(40, 12.0)])[0].rows)
    assert rows["Mist calls per steady refresh"] == "≤ 1001 (formula): ✅ met"
    assert rows["refresh wall time, steady refresh (s)"] == "≤ 60 s: ✅ met"
    assert rows["/api/orgs p99 at 8 clients (ms)"] == "≤ 50 ms: ✅ met"
    assert rows["one org answering 5xx: others published fresh by that refresh"] == "199: ✅ met"

    missed = _orgs(75, 80.0)
    missed.fresh_after_failure = 150
    rows = _verdicts(orgs_sections([missed])[0].rows)
    assert rows["refresh wall time, steady refresh (s)"] == "≤ 60 s: ❌ missed"
    assert rows["/api/orgs p99 at 8 clients (ms)"] == "≤ 50 ms: ❌ missed"
    assert rows["one org answering 5xx: others published fresh by that refresh"] == "199: ❌ missed"


def test_events_worst_and_alerts_are_tabled_with_their_targets() -> None:
    events = EventsFigures(10000, inserted=200_000, packed=200_000, block_bytes=134_000_000)
    events.steps = [StepFigures(40, 30, 0.9, 110000, 1.4, 1, 28.0, 390)]
    events.events_p99_ms, events.worst_seconds, events.worst_p99_ms = 20.0, 0.3, 8.0
    found, worst = events_sections([events])
    rows = _verdicts(found.rows)
    assert rows["refresh 2: events derived + availability counted (s)"] == "≤ 3 s: ✅ met"
    assert rows["refresh 2: Mist calls events + availability add"] == "≤ 2: ✅ met"
    month = next(row for row in found.rows if str(row[1]).startswith("30 days"))
    assert month[2] == "4,824 MB" and month[3] == "≤ 200 MB: ❌ missed"  # 670 B × 7.2 M
    assert _verdicts(worst.rows)["/api/worst p99 at 8 clients (ms)"] == "≤ 50 ms: ✅ met"

    alerts = alerts_section([AlertFigures(10000, 60, [("just after a publish", 75.0)])])
    assert alerts.rows[0][-1] == "≤ 70 s: ❌ missed"


def test_the_block_has_its_own_markers_and_keeps_the_others() -> None:
    done = Capabilities(orgs=[_orgs(40, 12.0)], problems=["one thing went wrong"])
    block = capabilities_block(done, "python -m bench --only capabilities", 12.0)
    assert "### Several orgs" in block and "- one thing went wrong" in block
    text = f"# Benchmarks\n\n{BENCH_BEGIN}\nthe rest\n{BENCH_END}\n"
    written = replace_block(text, BEGIN, END, block)
    assert f"{BENCH_BEGIN}\nthe rest\n{BENCH_END}" in written
    again = replace_block(written, BEGIN, END, "newer")
    assert again.count(BEGIN) == 1 and "### Several orgs" not in again
