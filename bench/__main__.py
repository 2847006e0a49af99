"""`make bench`: measure token thrift, speed and memory side by side; write docs/BENCHMARKS.md.

python -m bench            # 100 / 1,000 / 10,000 gateways (about 15-25 min on 2 cores), then
                           # readers during publish at 50,000 gateways as 1,000 orgs
python -m bench --quick    # 100 / 1,000 gateways, shorter load runs (a smoke test)
python -m bench --only capabilities   # only several orgs, events, alerts, worst circuits
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import redis

from bench import report
from bench.capabilities import run_capabilities
from bench.memory import measure_history_memory, stored_history_bytes
from bench.metrics import (
    Exposition,
    MetricsWeb,
    build_exposition,
    measure_metrics_web,
    metrics_section,
)
from bench.page import PageLoad, measure_page
from bench.procs import Gunicorn
from bench.readers import (
    SEVERAL_ORGS,
    PublishFigures,
    measure_readers,
    measure_several_orgs,
    readers_section,
)
from bench.report import Section, verdict
from bench.scale import (
    TOKENS,
    RunFigures,
    ScaleFigures,
    ScaleRun,
    SeedFigures,
    catch_up_note,
    wan_ports,
)
from bench.web import WebFigures, measure_web


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, shorter run")
    parser.add_argument("--sizes", help="comma list of gateway counts (overrides the default)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--only",
        choices=["capabilities", "core"],
        help="capabilities: only several orgs, events, alerts, worst circuits; core: all but "
        "those (each writes its own block of docs/BENCHMARKS.md, keeping the other)",
    )
    args = parser.parse_args(argv)
    command = f"python -m bench{' --quick' if args.quick else ''}"
    command += f" --sizes {args.sizes}" if args.sizes else ""
    if args.only == "capabilities":
        with tempfile.TemporaryDirectory(prefix="mcs-bench-") as tmp:
            found = run_capabilities(
                Path(tmp),
                quick=args.quick,
                command=f"{command} --only {args.only}",
                write=not args.no_write,
            )
        return 1 if found else 0
    sizes = [100, 1000] if args.quick else [100, 1000, 10000, *SEVERAL_ORGS]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    several = [size for size in sizes if size in SEVERAL_ORGS]  # readers only, several orgs
    sizes = [size for size in sizes if size not in SEVERAL_ORGS]
    load_seconds, rounds = (2.0, 1) if args.quick else (4.0, 3)
    started = time.monotonic()

    scale: list[ScaleFigures] = []
    web: list[WebFigures] = []
    pages: list[tuple[int, PageLoad]] = []
    problems: list[str] = []
    memory_rows: list[list[object]] = []
    readers: list[PublishFigures] = []
    built: list[Exposition] = []
    scraped: list[MetricsWeb] = []
    with tempfile.TemporaryDirectory(prefix="mcs-bench-") as tmp:
        workdir = Path(tmp)
        for size in sizes:
            print(f"-- {size} gateways: mistsim, worker first run and steady state", flush=True)
            try:
                with ScaleRun(size, workdir) as run:
                    figures = run.measure(steady_runs=1 if size < 10000 else 2)
                    scale.append(figures)
                    for r in (figures.first, figures.steady):
                        if not r.ok:
                            problems.append(f"worker --once failed at {size}: {r.error}")
                    if size >= 1000:
                        print(f"-- {size} gateways: web throughput and latency", flush=True)
                        web.append(
                            measure_web(
                                run.redis.url,
                                run.workdir,
                                size,
                                seconds=load_seconds,
                                rounds=rounds,
                            )
                        )
                        print(f"-- {size} gateways: /metrics", flush=True)
                        built += [build_exposition(size, mode) for mode in ("summary", "all")]
                        scraped.append(
                            measure_metrics_web(
                                run.redis.url, run.workdir, size, seconds=load_seconds
                            )
                        )
                        print(f"-- {size} gateways: readers during publish", flush=True)
                        readers.append(
                            measure_readers(run.mist, run.redis.url, run.workdir, size, TOKENS)
                        )
                        print(f"-- {size} gateways: page load in Chromium", flush=True)
                        server = Gunicorn(
                            "app:create_app()", run.redis.url, run.workdir / "web-page.log"
                        ).start()
                        try:
                            pages.append(
                                (size, measure_page(server.url + "/", runs=1 if args.quick else 3))
                            )
                        finally:
                            server.stop()
                    history_memory = size == 1000 or (size == sizes[-1] and not memory_rows)
                    if history_memory:
                        client = redis.Redis.from_url(run.redis.url)
                        keys, median = stored_history_bytes(client)
                        memory_rows.append(
                            ["as stored by the worker (first + steady run)", keys, "—", median]
                        )
                        ports = wan_ports(run.redis.url)
                        for interval in (300, 60):
                            m = measure_history_memory(client, ports, interval)
                            memory_rows.append(
                                [
                                    f"7 days, refresh every {interval} s "
                                    f"({m.fine_samples} fine + {m.coarse_samples} hourly)",
                                    m.ports,
                                    m.max_bytes,
                                    m.median_bytes,
                                ]
                            )
                    if not figures.steady.ok:
                        continue  # nothing published to seed after: already a problem above
                    print(f"-- {size} gateways: a week of history on every WAN port, worker")
                    run.measure_week(figures)
                    problems += week_problems(figures)
                    if history_memory:
                        keys, median = stored_history_bytes(redis.Redis.from_url(run.redis.url))
                        memory_rows.append(
                            [
                                "as stored by the worker (seeded week + one refresh at 300 s)",
                                keys,
                                "—",
                                median,
                            ]
                        )
            except Exception as error:
                problems.append(f"{size} gateways: {error!r}")
                traceback.print_exc()
        for size in several:
            print(f"-- {size} gateways as {SEVERAL_ORGS[size]} orgs: readers during publish")
            try:
                readers.append(measure_several_orgs(workdir, size, SEVERAL_ORGS[size]))
            except Exception as error:
                problems.append(f"{size} gateways, several orgs: {error!r}")
                traceback.print_exc()
        late: list[str] = []
        if args.only != "core":
            late = run_capabilities(
                workdir, quick=args.quick, command=command, write=not args.no_write
            )

    sections = build_sections(scale, web, pages, memory_rows)
    if readers:
        sections.append(readers_section(readers))
    if built:
        sections.append(metrics_section(built, scraped))
    sections += mistsim_sections(problems)
    minutes = (time.monotonic() - started) / 60
    lines = [
        *report.machine(),
        f"Run: `{command}{' --only core' if args.only == 'core' else ''}`, {minutes:.1f} min",
    ]
    body = "## Performance (`make bench`)\n\n" + "\n".join(f"- {line}" for line in lines) + "\n\n"
    body += "\n".join(section.markdown() for section in sections)
    if problems:
        body += "\n### Problems during the run\n\n" + "\n".join(f"- {p}" for p in problems) + "\n"
    for section in sections:
        print(section.text())
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if not args.no_write:
        path = report.write_block(report.BENCH_BEGIN, report.BENCH_END, body)
        print(f"wrote {path}")
    return 1 if problems or late else 0


def week_problems(figures: ScaleFigures) -> list[str]:
    """What went wrong with the week-of-history run, in words a reader can act on."""
    week, seed = figures.week, figures.seed
    if week is None or seed is None:
        return []
    if not week.ok:
        return [f"worker --once with a week of history failed at {figures.gateways}: {week.error}"]
    if seed.appended == 0:
        return [
            f"{figures.gateways} gateways: the week-of-history run appended no sample to any of "
            f"{seed.checked} ports read back, so it did not measure a steady refresh "
            "(check the seeded counters against history.add_counters)"
        ]
    return []


def build_sections(
    scale: list[ScaleFigures],
    web: list[WebFigures],
    pages: list[tuple[int, PageLoad]],
    memory_rows: list[list[object]],
) -> list[Section]:
    calls = Section(
        "Mist calls per refresh",
        [
            "gateways",
            "WAN ports",
            "peer paths",
            "first run",
            "next refresh (catching up)",
            "steady state",
            "per-gateway-per-port way",
            "saving",
            "target ≤ 25 at 1,000",
        ],
    )
    wall = Section(
        "Refresh wall time with 150 ms per Mist call",
        [
            "gateways",
            "run",
            "Mist calls",
            "refresh (s)",
            "worker process (s)",
            "worker peak RSS (MB)",
            "target at 10,000",
        ],
    )
    for f in scale:
        calls.rows.append(
            [
                f.gateways,
                f.circuits,
                f.peer_paths,
                f.first.calls,
                f.steady.calls,
                f.steady.every_refresh,
                f.per_gateway_per_port,
                f"{f.per_gateway_per_port / max(1, f.steady.every_refresh):.0f}×",
                verdict(f.steady.every_refresh <= 25) if f.gateways == 1000 else "",
            ]
        )
        runs = [("first run", f.first), ("next refresh", f.steady)]
        if f.week is not None:
            runs.append((WEEK_RUN, f.week))
        for name, r in runs:
            wall.rows.append(
                [
                    f.gateways,
                    name,
                    r.calls,
                    r.refresh_seconds,
                    r.seconds,
                    r.peak_rss_mb,
                    wall_target(r, steady=r is not f.first) if f.gateways == 10000 else "",
                ]
            )
    calls.notes += [note for f in scale if (note := catch_up_note(f))]
    if scale:
        biggest = scale[-1]
        kinds = sorted(set(biggest.first.by_kind) | set(biggest.steady.by_kind))
        calls.notes.append(
            f"By kind at {biggest.gateways:,} gateways (first / steady): "
            + "; ".join(
                f"`{k}` {biggest.first.by_kind.get(k, 0)}/{biggest.steady.by_kind.get(k, 0)}"
                for k in kinds
            )
        )
    calls.notes += [
        "Counted by mistsim (what Mist bills against the tokens), `/api/v1/self` excluded: "
        "a long-running worker calls it once at start, not per refresh. WORKER_INTERVAL=300.",
        "first run: every-refresh calls + hourly config (templates, profiles, inventory) + "
        "the first capped slice of catch-up (device configs, 7-day insights backfill). "
        "next refresh: the second `worker.py --once`, still catching up. steady state: that "
        "refresh's calls less catch-up, i.e. what every refresh costs once configs and "
        "history are cached (+3 calls an hour for the hourly config).",
        "Per-gateway-per-port way: list org, sites and gateways, then one peer-path call per "
        "gateway and one insights call per WAN port, every refresh (same org).",
    ]
    wall.notes += [
        "first run / next refresh: the same two runs as above; the next refresh still carries "
        "its capped catch-up calls, so a caught-up refresh is no slower. refresh: the "
        "worker's own `refresh_seconds` (fetch → build → publish); worker process: "
        "`worker.py --once` wall time including interpreter start; peak RSS: the worker "
        "process's own high-water mark (VmHWM, sampled every 20 ms until it exits).",
        f"{WEEK_RUN}: what a refresh costs a week into a deployment — every WAN port first "
        "seeded with 7 days at 300 s (288 fine samples, 168 hourly buckets; "
        "`history.add_counters` via `bench/memory.py`, stored by "
        "`traffic.plan.write_port_histories`) ending at the next refresh with its real "
        "counters; this run comes one interval (300 s) after that refresh, like a "
        "deployment's, and extends every full week by one sample. Its Mist calls include "
        "the capped catch-up still running (device configs at 1,000+ gateways), but no "
        "backfill: every history is full.",
        "Targets (worker issue, 10,000 gateways): a steady refresh under 60 s and worker peak "
        "RSS under 300 MB, with full histories too.",
    ]
    for f in scale:
        if f.seed is not None:
            seed = f.seed
            wall.notes.append(
                f"{f.gateways:,} gateways: seeded {seed.ports:,} ports "
                f"({seed.fine_samples} fine + {seed.hourly_buckets} hourly each, "
                f"{_distinct(seed)}) in {seed.build_seconds:.0f} s building + "
                f"{seed.write_seconds:.0f} s writing; the run, {seed.after_seconds:.0f} s "
                f"after the seeded end, appended a sample to "
                f"{seed.appended} of {seed.checked} ports read back"
                + (
                    f"; {seed.baseline_only} ports had no counters stored by the worker "
                    "(disconnected gateways): seeded without, they take no sample"
                    if seed.baseline_only
                    else ""
                )
                + "."
            )
    throughput = Section(
        "Web throughput at 32 concurrent clients (gzip accepted, requests/s, medians)",
        [
            "gateways",
            "endpoint",
            "app.py",
            "reference (decode+encode)",
            "ceiling (constant)",
            "× reference (≥ 5)",
            "× ceiling (≥ 0.7)",
            "p99 (ms)",
            "errors",
        ],
    )
    latency = Section(
        "Web latency (app.py, gzip accepted, medians of runs)",
        ["gateways", "endpoint", "clients", "p50 (ms)", "p99 (ms)", "target p99", "req/s"],
    )
    size = Section(
        "Payload size of /api/gateways",
        ["gateways", "JSON bytes", "gzip bytes", "gzip bytes per gateway"],
    )
    for w in web:
        for t in w.throughput:
            throughput.rows.append(
                [
                    w.gateways,
                    t.endpoint,
                    t.product_rps,
                    f"< {t.reference_rps:.2f}" if t.reference_is_bound else t.reference_rps,
                    t.ceiling_rps,
                    f"{'> ' if t.reference_is_bound else ''}{t.vs_reference:.1f}× "
                    f"{verdict(t.vs_reference >= 5)}",
                    f"{t.vs_ceiling:.2f}× {verdict(t.vs_ceiling >= 0.7)}",
                    t.product_p99_ms,
                    t.errors,
                ]
            )
        for lat in w.latency:
            latency.rows.append(
                [
                    w.gateways,
                    lat.endpoint,
                    lat.connections,
                    lat.p50_ms,
                    lat.p99_ms,
                    f"< {lat.target_ms:g} ms {verdict(lat.p99_ms < lat.target_ms)}",
                    lat.rps,
                ]
            )
        size.rows.append([w.gateways, w.body_bytes, w.gzip_bytes, w.gzip_bytes_per_gateway])
    throughput.notes += [
        "Same gunicorn settings (`gunicorn.conf.py`) for all three; rounds interleaved "
        "(app, reference, ceiling, …) so noise hits all alike. wrk runs on the same 2 cores.",
        "reference = `bench/refapps.py`: GET the same key from Redis, json.loads, json.dumps, "
        "gzip per request; ceiling = constant bytes of the exact size app.py served.",
    ]
    page = Section(
        "Page load in Chromium (1180×820, 4× CPU slowdown, cold cache, median of runs)",
        ["gateways", "table + summary visible (ms)", "bytes transferred", "requests", "target"],
    )
    for gateways, load in pages:
        ms, transferred = load.ms, load.bytes
        target = ""
        if gateways == 10000:
            target = f"< 1.5 s and 1.5 MB: {verdict(ms < 1500 and transferred < 1.5e6)}"
        page.rows.append([gateways, ms, transferred, load.requests, target])
    memory = Section(
        "Redis memory per WAN port (`MEMORY USAGE` of `mist:insights:{gateway}:{port}`)",
        ["history", "ports", "max bytes", "median bytes"],
        rows=list[Sequence[object]](memory_rows),
        notes=[
            "Target: under 10 KB per WAN port with 7 days of history. A week of refreshes "
            "replayed the worker's way (the home key alone when it suffices, else the stored "
            "history read back; the same SET/RPUSH commands publish sends), "
            "one counter reset; bytes = MEMORY USAGE of the port's home, `:fine` and `:coarse` "
            "keys together."
        ],
    )
    return [calls, wall, throughput, latency, size, page, memory]


WEEK_RUN = "steady, a week of history"


def wall_target(run: RunFigures, *, steady: bool) -> str:
    """The worker issue's targets for one run: time for steady refreshes, RSS for all."""
    if not run.ok:
        return "❌ run failed (see Problems)"
    rss = f"RSS < 300 MB: {verdict(run.peak_rss_mb < 300)}"
    if not steady:
        return rss
    seconds = run.refresh_seconds if run.refresh_seconds is not None else run.seconds
    return f"< 60 s: {verdict(seconds < 60)}; {rss}"


def _distinct(seed: SeedFigures) -> str:
    if seed.distinct >= seed.ports:
        return "one history per port"
    return f"{seed.distinct} distinct histories reused, building one per port being too slow"


def mistsim_sections(problems: list[str]) -> list[Section]:
    """The simulator's own benchmark rows, when bench/bench_mistsim.py exists."""
    try:
        from bench.bench_mistsim import run  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return []
    try:
        rows = run()
    except Exception as error:
        problems.append(f"bench_mistsim.run() failed: {error!r}")
        return []
    section = Section("Mist simulator (bench/bench_mistsim.py)", ["measure"])
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        section.header = list(rows[0])
        section.rows = [[row.get(k) for k in section.header] for row in rows]
    elif isinstance(rows, list):
        section.rows = [row if isinstance(row, list | tuple) else [row] for row in rows]
    else:
        section.rows = [[str(rows)]]
    return [section]


if __name__ == "__main__":
    sys.exit(main())
