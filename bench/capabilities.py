"""The newer capabilities' targets in `make bench`: several orgs (issue 11), events,
availability and alerts (issue 12), worst circuits (issue 15).

Written to their own block of docs/BENCHMARKS.md (`<!-- capabilities:begin -->`), so
`python -m bench --only capabilities` can refresh them without re-running the rest.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bench import report
from bench.alerting import AlertFigures, alerts_section, measure_alerts
from bench.events import EventsFigures, events_sections, measure_events
from bench.orgs import OrgsFigures, measure_orgs, orgs_sections
from bench.report import Section
from bench.scale import ScaleRun

BEGIN = "<!-- capabilities:begin -->"
END = "<!-- capabilities:end -->"


@dataclass
class Sizes:
    """Full size (the issues' targets) or quick (a smoke test of the same code)."""

    orgs: int = 200
    org_gateways: int = 10000
    gateways: int = 10000
    events: int = 200_000
    alert_interval: int = 60
    seconds: float = 4.0
    rounds: int = 3
    page_runs: int = 3

    @classmethod
    def quick(cls) -> Sizes:
        return cls(20, 1000, 1000, 20_000, 15, 2.0, 1, 1)


@dataclass
class Capabilities:
    orgs: list[OrgsFigures] = field(default_factory=list)
    events: list[EventsFigures] = field(default_factory=list)
    alerts: list[AlertFigures] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def sections(self) -> list[Section]:
        found: list[Section] = []
        if self.orgs:
            found += orgs_sections(self.orgs)
        if self.events:
            found += events_sections(self.events)
        if self.alerts:
            found.append(alerts_section(self.alerts))
        return found


def measure_capabilities(workdir: Path, sizes: Sizes) -> Capabilities:
    """Each part on its own services; a part that fails is a problem, the others still run."""
    done = Capabilities()
    print(f"-- {sizes.orgs} orgs / {sizes.org_gateways} gateways: several orgs", flush=True)
    try:
        figures = measure_orgs(
            workdir,
            orgs=sizes.orgs,
            gateways=sizes.org_gateways,
            seconds=sizes.seconds,
            rounds=sizes.rounds,
            page_runs=sizes.page_runs,
        )
        done.orgs.append(figures)
        done.problems += figures.problems
    except Exception as error:
        done.problems.append(f"several orgs: {error!r}")
        traceback.print_exc()
    print(f"-- {sizes.gateways} gateways: events, availability, worst circuits", flush=True)
    try:
        with ScaleRun(sizes.gateways, workdir / "capabilities") as run:
            found = measure_events(
                run.mist,
                run.redis.url,
                run.workdir,
                sizes.gateways,
                events=sizes.events,
                seconds=sizes.seconds,
                rounds=sizes.rounds,
            )
            done.events.append(found)
            done.problems += found.problems
            print(f"-- {sizes.gateways} gateways: alert delivery latency", flush=True)
            alerts = measure_alerts(
                run.mist, run.redis.url, run.workdir, sizes.gateways, interval=sizes.alert_interval
            )
            done.alerts.append(alerts)
            done.problems += alerts.problems
    except Exception as error:
        done.problems.append(f"events at {sizes.gateways}: {error!r}")
        traceback.print_exc()
    return done


def capabilities_block(done: Capabilities, command: str, minutes: float) -> str:
    """The capabilities block of docs/BENCHMARKS.md: machine, run, tables, problems."""
    lines = [*report.machine(), f"Run: `{command}`, {minutes:.1f} min for these sections"]
    body = "## Several orgs, events, alerts, worst circuits (`make bench`)\n\n"
    body += "\n".join(f"- {line}" for line in lines) + "\n\n"
    body += "\n".join(section.markdown() for section in done.sections())
    if done.problems:
        body += "\n### Problems during these sections\n\n"
        body += "\n".join(f"- {p}" for p in done.problems) + "\n"
    return body


def run_capabilities(workdir: Path, *, quick: bool, command: str, write: bool) -> list[str]:
    """Measure, print, and (unless `write` is false) write the block; the problems."""
    started = time.monotonic()
    done = measure_capabilities(workdir, Sizes.quick() if quick else Sizes())
    for section in done.sections():
        print(section.text())
    for problem in done.problems:
        print(f"PROBLEM: {problem}")
    if write:
        block = capabilities_block(done, command, (time.monotonic() - started) / 60)
        print(f"wrote {report.write_block(BEGIN, END, block)}")
    return done.problems
