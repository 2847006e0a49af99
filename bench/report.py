"""Markdown tables for docs/BENCHMARKS.md, with the machine, versions and date they came from."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import ROOT

DOC = ROOT / "docs" / "BENCHMARKS.md"
DRILL_BEGIN = "<!-- drill:begin -->"
DRILL_END = "<!-- drill:end -->"
BENCH_BEGIN = "<!-- bench:begin -->"
BENCH_END = "<!-- bench:end -->"


@dataclass
class Section:
    """One titled table plus the notes a reader needs to trust it."""

    title: str
    header: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "|".join("---" for _ in self.header) + "|")
        for row in self.rows:
            lines.append("| " + " | ".join(_cell(value) for value in row) + " |")
        lines.extend(["", *[f"- {note}" for note in self.notes]])
        return "\n".join(lines).rstrip() + "\n"

    def text(self) -> str:
        """The same table for a terminal: aligned columns."""
        width = max([len(self.header), *(len(row) for row in self.rows)])
        cells = [[*map(str, self.header)], *[[_cell(v) for v in row] for row in self.rows]]
        cells = [row + [""] * (width - len(row)) for row in cells]
        widths = [max(len(row[i]) for row in cells) for i in range(width)]
        out = [f"== {self.title}"]
        for row in cells:
            out.append("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)))
        out.extend(f"  * {note}" for note in self.notes)
        return "\n".join(out) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("✅ met" if ok else "❌ missed")


def latency_rows(who: object, route: str, p50_ms: float, p99_ms: float) -> list[list[object]]:
    """A route's p50 and p99 at 8 clients, the p99 against the 50 ms target."""
    return [
        [who, f"{route} p50 at 8 clients (ms)", p50_ms, ""],
        [who, f"{route} p99 at 8 clients (ms)", p99_ms, f"≤ 50 ms: {verdict(p99_ms <= 50)}"],
    ]


def _version(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def machine() -> list[str]:
    """Where and with what the figures were taken: enough to reproduce them."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = match.group(1).strip() if match else cpu
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s*(\d+)", meminfo.read_text())
        memory = f"{int(match.group(1)) / 1024 / 1024:.1f} GiB" if match else memory
    packages = []
    for name in ("Flask", "gunicorn", "redis", "mistapi", "playwright"):
        try:
            packages.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            packages.append(f"{name} missing")
    commit = _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    return [
        f"Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}, commit {commit}",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores ({cpu}), {memory} RAM, "
        f"load average {os.getloadavg()[0]:.1f} / {os.getloadavg()[2]:.1f} (1 / 15 min) "
        "at the end of the run (other work on the machine adds noise)",
        f"Python {platform.python_version()}; {', '.join(packages)}",
        f"{_version(['redis-server', '--version'])}; "
        f"{_version(['/usr/bin/chromium', '--version'])}; "
        f"{_version(['wrk', '-v']).split(' Copyright')[0]}",
    ]


def replace_block(text: str, begin: str, end: str, block: str) -> str:
    """Swap the text between two markers (or append the markers and block)."""
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    replacement = f"{begin}\n{block.rstrip()}\n{end}"
    if pattern.search(text):
        return pattern.sub(lambda _: replacement, text)
    return text.rstrip() + "\n\n" + replacement + "\n"


def write_block(begin: str, end: str, block: str) -> Path:
    """Update one block of docs/BENCHMARKS.md, keeping the other one (bench vs drill)."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else _HEAD
    DOC.write_text(replace_block(text, begin, end, block))
    return DOC


_HEAD = """# Benchmarks

Written by `make bench` (performance table) and `make drill` (fault drill); both run
everything for real on loopback: redis-server, the Mist simulator (`mistsim`), `worker.py`,
the web app under gunicorn with the Docker image's settings (`gunicorn.conf.py`), wrk and
headless Chromium. The machine is shared and noisy: read medians and ratios, not single times.
Re-run with `make bench` (`python -m bench --quick` for a smaller run) and `make drill`.
"""
