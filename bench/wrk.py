"""Drive wrk (Debian's package) with `wrk_report.lua` and read back its JSON summary."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.procs import ensure_wrk

SCRIPT = Path(__file__).with_name("wrk_report.lua")


@dataclass
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms), errors, per-status counts."""

    requests: int
    seconds: float
    bytes: int
    errors: dict[str, int]
    latency_ms: dict[str, float]
    statuses: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    paths: list[str] | None = None,
    delay_ms: int = 0,
    count_status: bool = False,
    timeout_s: float = 2.0,
) -> WrkResult:
    """Run wrk once against `url` (loopback only) and parse its one-line JSON summary."""
    if not url.startswith(("http://127.", "http://localhost")):
        raise ValueError(f"the bench only loads loopback servers, not {url}")
    argv = [
        ensure_wrk(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s:g}s",
        "-s",
        str(SCRIPT),
    ]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    env = {
        **os.environ,
        "WRK_STATUS": "1" if count_status else "0",
        "WRK_DELAY_MS": str(delay_ms),
        "WRK_PATHS": ",".join(paths or []),
    }
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK-JSON "):
            raw = json.loads(line.removeprefix("WRK-JSON "))
            return WrkResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                bytes=raw["bytes"],
                errors=raw["errors"],
                latency_ms={k: v / 1000 for k, v in raw["latency_us"].items()},
                statuses=raw["statuses"],
            )
    raise RuntimeError(f"wrk gave no summary (exit {done.returncode}): {done.stderr[-1000:]}")
