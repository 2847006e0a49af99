"""mistsim's own performance targets: 10,000 gateways generated in under 10 s, a 1,000-item
page served in under 100 ms (median, HTTPS, keep-alive) and under 500 MB resident at 10,000
gateways.

python -m bench.bench_mistsim          # prints the table
`run()` returns the rows for `make bench` ({"what", "value", "target", "ok"}).
"""

from __future__ import annotations

import gc
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from mistsim.generator import OrgOptions, generate

REPO = Path(__file__).resolve().parents[1]
READY = re.compile(r"mistsim ready host=(?P<host>\S+) org_id=(?P<org>\S+) ca=(?P<ca>.+)$")
GATEWAYS, SITES = 10_000, 5_000
REPEATS = 15


def _row(
    what: str, value: float, unit: str, target: float, lower_is_better: bool = True
) -> dict[str, Any]:
    ok = value < target if lower_is_better else value >= target
    return {
        "what": what,
        "value": f"{value:,.1f} {unit}",
        "target": f"< {target:,.0f} {unit}" if lower_is_better else f">= {target:,.0f} {unit}",
        "ok": ok,
    }


def _rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def measure_generation() -> float:
    """Seconds to generate the 10,000-gateway org in-process, as the CLI does it."""
    gc.disable()
    began = time.perf_counter()
    org = generate(OrgOptions(sites=SITES, gateways=GATEWAYS), time.time())
    seconds = time.perf_counter() - began
    gc.enable()
    assert len(org.gateways) == GATEWAYS
    del org
    gc.collect()
    return seconds


def measure_server(workdir: Path) -> list[dict[str, Any]]:
    """Start the simulator at 10,000 gateways and time pages over HTTPS with keep-alive."""
    ca = workdir / "ca.pem"
    argv = [sys.executable, "-m", "mistsim", "--port", "0", "--gateways", str(GATEWAYS)]
    argv += ["--sites", str(SITES), "--rate-limit", "100000000", "--tokens", "bench"]
    argv += ["--ca-file", str(ca)]
    began = time.perf_counter()
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    rows: list[dict[str, Any]] = []
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = READY.match(line.strip())
        if match is None:
            raise RuntimeError(f"mistsim did not start: {line!r}")
        startup = time.perf_counter() - began
        base, org_id = f"https://{match['host']}", match["org"]
        http = requests.Session()
        http.trust_env = False  # REQUESTS_CA_BUNDLE would override .verify
        http.verify = str(ca)
        http.headers["Authorization"] = "Token bench"
        rows.append(_row("start-up to ready line, 10,000 gateways", startup, "s", 15))
        pages: dict[str, tuple[str, dict[str, str]]] = {
            "stats/ports/search": (f"/api/v1/orgs/{org_id}/stats/ports/search", {}),
            "stats/vpn_peers/search": (f"/api/v1/orgs/{org_id}/stats/vpn_peers/search", {}),
            "stats/devices?type=gateway": (
                f"/api/v1/orgs/{org_id}/stats/devices",
                {"type": "gateway"},
            ),
            "inventory?type=gateway": (f"/api/v1/orgs/{org_id}/inventory", {"type": "gateway"}),
        }
        for name, (path, params) in pages.items():
            times = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                response = http.get(base + path, params={**params, "limit": "1000"}, timeout=60)
                times.append(time.perf_counter() - t0)  # served: request sent to last byte in
                body = response.json()
                items = body if isinstance(body, list) else body["results"]
                assert response.status_code == 200 and len(items) == 1000, name
            rows.append(
                _row(
                    f"1,000-item page, {name} (median of {REPEATS})",
                    statistics.median(times) * 1000,
                    "ms",
                    100,
                )
            )
        t0 = time.perf_counter()
        calls_before = http.get(f"{base}/__mistsim/calls", timeout=10).json()["total"]
        total = 0
        url: str | None = f"{base}/api/v1/orgs/{org_id}/stats/ports/search?limit=1000"
        while url:
            body = http.get(url, timeout=60).json()
            total += len(body["results"])
            url = base + body["next"] if body.get("next") else None
        walk = time.perf_counter() - t0
        calls = http.get(f"{base}/__mistsim/calls", timeout=10).json()["total"] - calls_before
        rows.append(
            {
                "what": f"walk all {total:,} ports (cursor, limit 1000)",
                "value": f"{walk:,.1f} s, {calls} calls",
                "target": "-",
                "ok": True,
            }
        )
        for page in range(1, GATEWAYS // 1000 + 1):  # fill every cache before measuring memory
            http.get(
                f"{base}/api/v1/orgs/{org_id}/stats/devices",
                params={"type": "gateway", "limit": "1000", "page": str(page)},
                timeout=60,
            ).raise_for_status()
        peak = _rss_mb(process.pid)[1]
        rows.append(
            _row("resident memory at 10,000 gateways, all pages served (peak)", peak, "MB", 500)
        )
        http.close()
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout is not None:
            process.stdout.close()
    return rows


def run() -> list[dict[str, Any]]:
    rows = [_row("generate 10,000 gateways / 5,000 sites", measure_generation(), "s", 10)]
    with tempfile.TemporaryDirectory(prefix="mistsim-bench-") as tmp:
        rows += measure_server(Path(tmp))
    return rows


def main() -> int:
    rows = run()
    width = max(len(row["what"]) for row in rows)
    for row in rows:
        mark = "ok" if row["ok"] else "MISSED"
        print(f"{row['what']:<{width}}  {row['value']:>18}  {row['target']:>10}  {mark}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
