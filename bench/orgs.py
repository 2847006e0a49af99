"""Several orgs (issue 11): 200 orgs of one MSP holding 10,000 gateways in all.

One mistsim with `--orgs N --spread-orgs` (long-tailed: a few big orgs, many small; 4 WAN
ports and 6 peer paths per spoke, 150 ms on every call), MSP-scoped tokens, and
`worker.py --once` with `MIST_ORG_ID=*` run twice (first run, then the steady refresh),
counted by mistsim. Then `/api/orgs` under wrk, the overview page in Chromium, and one org
answering 5xx to everything while the 199 others refresh.
"""

from __future__ import annotations

import gzip
import json
import math
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.page import OVERVIEW_READY, PageLoad, measure_page
from bench.procs import Gunicorn, Mistsim, RedisServer
from bench.report import Section, latency_rows, verdict
from bench.scale import RunFigures, worker_run
from bench.wrk import run_wrk
from store.reads import read_document

MSP_TOKENS = ["bench-msp-a", "bench-msp-b", "bench-msp-c"]
ORG_TOKENS = ["bench-org-token"]
MULTI_ORG = {"MIST_ORG_ID": "*"}
GZIP = {"Accept-Encoding": "gzip"}


@dataclass
class OrgsFigures:
    orgs: int
    gateways: int
    sites: int
    formula: int  # the DATA.md §1 steady calls for these orgs (see `steady_formula`)
    formula_text: str
    first: RunFigures
    steady: RunFigures
    api_bytes: int = 0  # /api/orgs as served with gzip
    api_plain_bytes: int = 0
    api_etag: bool = False
    api_p50_ms: float = 0.0
    api_p99_ms: float = 0.0
    api_rps: float = 0.0
    page: PageLoad | None = None
    failing_org: str = ""
    fresh_after_failure: int = 0  # orgs published by the refresh with one org failing
    failing_flagged: bool = False  # the failing org shows its error in the overview
    failure_run: RunFigures | None = None
    problems: list[str] = field(default_factory=list)


def _run(mist: Mistsim, redis_url: str) -> tuple[RunFigures, str]:
    figures, run = worker_run(mist, redis_url, MSP_TOKENS, extra_env=MULTI_ORG)
    return figures, run.output


def steady_formula(orgs: list[dict[str, Any]], ports_per: float, paths_per: float) -> int:
    """DATA.md §1: ⌈orgs/1000⌉ for the MSP listing + per org ⌈sites/1000⌉ + ⌈gateways/1000⌉
    + ⌈ports/1000⌉ + ⌈paths/1000⌉ + ⌈events/1000⌉ (one events page in a steady org)."""
    total = math.ceil(len(orgs) / 1000)
    for org in orgs:
        gateways = int(org["gateways"])
        if gateways == 0:
            total += 1 + 1 + 1 + 1 + 1  # empty lists are still one page each
            continue
        total += math.ceil(max(1, int(org["sites"])) / 1000) + math.ceil(gateways / 1000)
        total += math.ceil(gateways * ports_per / 1000) + math.ceil(gateways * paths_per / 1000)
        total += 1
    return total


def _served(url: str) -> tuple[int, int, bool]:
    with urllib.request.urlopen(url, timeout=30) as response:
        plain = response.read()
    request = urllib.request.Request(url, headers=GZIP)
    with urllib.request.urlopen(request, timeout=30) as response:
        zipped = response.read()
        etag = response.headers.get("ETag")
        if response.headers.get("Content-Encoding") != "gzip":
            zipped = gzip.compress(plain)
    return len(zipped), len(plain), bool(etag)


def measure_api(url: str, *, seconds: float, rounds: int, clients: int = 8) -> tuple[float, ...]:
    """(p50 ms, p99 ms, req/s), medians of `rounds` wrk runs at `clients` with gzip."""
    runs = [run_wrk(url, connections=clients, seconds=seconds, headers=GZIP) for _ in range(rounds)]
    runs.sort(key=lambda r: r.latency_ms["p99"])
    middle = runs[len(runs) // 2]
    return middle.latency_ms["p50"], middle.latency_ms["p99"], middle.rps


def _fresh_after(redis_url: str, since: float, failing: str) -> tuple[int, bool]:
    raw: Any = read_document(redis.Redis.from_url(redis_url), "mist:orgs") or b"{}"
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    rows = json.loads(raw).get("orgs") or []
    fresh = sum(
        1
        for row in rows
        if row["org_id"] != failing and (row["last_update"] or 0) >= since and not row["error"]
    )
    flagged = any(row["org_id"] == failing and row["error"] for row in rows)
    return fresh, flagged


def measure_orgs(
    workdir: Path,
    *,
    orgs: int = 200,
    gateways: int = 10000,
    seconds: float = 4.0,
    rounds: int = 3,
    page_runs: int = 3,
) -> OrgsFigures:
    """Mist calls, refresh time, RSS, /api/orgs, the overview page and one failing org."""
    folder = workdir / f"orgs{orgs}"
    sites = max(orgs, gateways // 2)
    server = RedisServer(folder / "redis")
    mist = Mistsim(
        gateways,
        sites,
        ORG_TOKENS,
        folder,
        latency_ms=150,
        extra=["--orgs", str(orgs), "--spread-orgs", "--msp-tokens", ",".join(MSP_TOKENS)],
    )
    server.start()
    try:
        mist.start()
        listed: list[dict[str, Any]] = mist.admin("orgs")["orgs"]
        first_org = mist.admin("org")
        ports_per = first_org["ports"] / max(1, first_org["gateways"])
        paths_per = first_org["peer_paths"] / max(1, first_org["gateways"])
        first, _ = _run(mist, server.url)
        steady, _ = _run(mist, server.url)
        formula = steady_formula(listed, ports_per, paths_per)
        figures = OrgsFigures(
            orgs=orgs,
            gateways=sum(int(o["gateways"]) for o in listed),
            sites=sum(int(o["sites"]) for o in listed),
            formula=formula,
            formula_text=(
                f"⌈{orgs}/1000⌉ MSP listing + Σ over {orgs} orgs (⌈sites/1000⌉ + "
                f"⌈gateways/1000⌉ + ⌈ports/1000⌉ + ⌈paths/1000⌉ + 1 events page) = {formula} "
                f"(ports and paths per gateway as in org 1: {ports_per:.2f} and "
                f"{paths_per:.2f}; the 4-per-org floor alone is {4 * orgs} + {orgs} events "
                f"pages + 1)"
            ),
            first=first,
            steady=steady,
        )
        for run in (first, steady):
            if not run.ok:
                figures.problems.append(f"{orgs} orgs: worker --once failed: {run.error}")
        web = Gunicorn("app:create_app()", server.url, folder / "web-orgs.log").start()
        try:
            url = web.url + "/api/orgs"
            figures.api_bytes, figures.api_plain_bytes, figures.api_etag = _served(url)
            figures.api_p50_ms, figures.api_p99_ms, figures.api_rps = measure_api(
                url, seconds=seconds, rounds=rounds
            )
            figures.page = measure_page(web.url + "/", runs=page_runs, ready=OVERVIEW_READY)
        finally:
            web.stop()
        # One org (a mid-sized one, not org 1) answers 5xx to everything of its own.
        failing = listed[len(listed) // 10]["org_id"]
        figures.failing_org = failing
        mist.admin("faults", {"error_rate": 1, "paths": f"/orgs/{failing}/"})
        since = time.time()
        figures.failure_run, _ = _run(mist, server.url)
        mist.admin("faults", {"error_rate": 0, "paths": None})
        figures.fresh_after_failure, figures.failing_flagged = _fresh_after(
            server.url, since, failing
        )
        if figures.fresh_after_failure != orgs - 1 or not figures.failing_flagged:
            figures.problems.append(
                f"one org failing out of {orgs}: {figures.fresh_after_failure} others "
                f"published fresh (expected {orgs - 1}); failing org flagged: "
                f"{figures.failing_flagged}"
            )
        return figures
    finally:
        mist.stop()
        server.stop()


def orgs_sections(found: list[OrgsFigures]) -> list[Section]:
    """The issue-11 table: calls vs formula, time, RSS, /api/orgs, page, one failing."""
    section = Section(
        "Several orgs: one MSP, orgs holding gateways in all (issue 11)",
        ["orgs / gateways", "measure", "value", "target"],
    )
    for f in found:
        who = f"{f.orgs} / {f.gateways:,}"
        steady_calls = f.steady.every_refresh
        rows: list[list[object]] = [
            [who, "Mist calls, first run (catch-up included)", f.first.calls, ""],
            [
                who,
                "Mist calls per steady refresh",
                steady_calls,
                f"≤ {f.formula} (formula): {verdict(steady_calls <= f.formula)}",
            ],
        ]
        for name, run in (("first run", f.first), ("steady refresh", f.steady)):
            seconds = run.refresh_seconds if run.refresh_seconds is not None else run.seconds
            target = f"≤ 60 s: {verdict(run.ok and seconds <= 60)}" if run is f.steady else ""
            rows.append([who, f"refresh wall time, {name} (s)", seconds, target])
            rows.append(
                [who, f"worker peak RSS, {name} (MB)", run.peak_rss_mb, _rss(run.peak_rss_mb)]
            )
        rows += [
            [
                who,
                "/api/orgs bytes served (gzip / plain), ETag",
                f"{f.api_bytes:,} / {f.api_plain_bytes:,}, {'ETag' if f.api_etag else 'no ETag'}",
                verdict(f.api_etag and f.api_bytes < f.api_plain_bytes),
            ],
            *latency_rows(who, "/api/orgs", f.api_p50_ms, f.api_p99_ms),
        ]
        if f.page is not None:
            rows.append(
                [
                    who,
                    "overview page ready, Chromium 1180×820, 4× CPU slowdown (ms)",
                    f.page.ms,
                    f"≤ 1.5 s: {verdict(f.page.ms <= 1500)}",
                ]
            )
        if f.failure_run is not None:
            rows.append(
                [
                    who,
                    "one org answering 5xx: others published fresh by that refresh",
                    f"{f.fresh_after_failure} (failing org shows its error: "
                    f"{'yes' if f.failing_flagged else 'no'}; refresh "
                    f"{f.failure_run.seconds:.1f} s)",
                    f"{f.orgs - 1}: "
                    f"{verdict(f.fresh_after_failure == f.orgs - 1 and f.failing_flagged)}",
                ]
            )
        section.rows += rows
        kinds = sorted(set(f.first.by_kind) | set(f.steady.by_kind))
        section.notes.append(
            f"{who}: steady-call formula (docs/DATA.md §1): {f.formula_text}. By kind (first / "
            "steady): "
            + "; ".join(
                f"`{k}` {f.first.by_kind.get(k, 0)}/{f.steady.by_kind.get(k, 0)}" for k in kinds
            )
        )
    section.notes += [
        "mistsim `--orgs N --spread-orgs` (long-tailed), 150 ms per call, 3 MSP-scoped tokens, "
        "`MIST_ORG_ID=*`, WORKER_INTERVAL=300. Steady refresh = the second `worker.py --once` "
        "less its hourly and capped catch-up calls (device configs, backfill, SLEs), as in "
        "the single-org table. Refresh wall time: the worker's `refresh_seconds`; RSS: VmHWM.",
        "/api/orgs: wrk, 8 connections, gzip accepted, median of runs. Overview page: cold "
        "cache, ready when the org rows and the totals line are visible (bench/page.py).",
        "One org failing: mistsim answers 5xx to every `/orgs/<that org>/` call (retries "
        "included); fresh = the overview row's `last_update` is from that refresh and it "
        "carries no error.",
    ]
    return [section]


def _rss(mb: float) -> str:
    return f"< 300 MB: {verdict(mb < 300)}"
