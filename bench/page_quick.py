"""Measure one page quickly while working on it (not part of `make bench`).

`serve TIER DIR` fills a Redis the way the bench does (mistsim, `worker.py --once` twice)
and keeps it running; `measure DIR` starts gunicorn on that Redis with the current
static files and prints bench/page.py's figures. TIER: `org` (one org, 10,000 gateways) or
`msp` (200 orgs, 10,000 gateways: the overview page).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from bench.orgs import MSP_TOKENS, MULTI_ORG
from bench.page import _READY, OVERVIEW_READY, measure_page
from bench.procs import Gunicorn, Mistsim, RedisServer, run_worker_once
from bench.scale import TOKENS


def serve(tier: str, folder: Path, gateways: int) -> None:
    """Fill a Redis like the bench does, write its URL to DIR/redis-url, keep it up."""
    folder.mkdir(parents=True, exist_ok=True)
    # SIGTERM (`kill PID`) stops mistsim and Redis too, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    redis = RedisServer(folder / "redis")
    redis.start()
    if tier == "msp":
        extra = ["--orgs", "200", "--spread-orgs", "--msp-tokens", ",".join(MSP_TOKENS)]
        mist = Mistsim(gateways, max(200, gateways // 2), ["bench-org-token"], folder, extra=extra)
        tokens, env = MSP_TOKENS, MULTI_ORG
    else:
        mist = Mistsim(gateways, gateways // 2, TOKENS, folder)
        tokens, env = TOKENS, {}
    mist.start()
    try:
        for _ in range(2):
            run = run_worker_once(mist, redis.url, tokens, extra_env=env)
            print(f"worker --once: {run.returncode} in {run.seconds:.1f} s", flush=True)
        (folder / "redis-url").write_text(redis.url)
        print(f"ready {redis.url}", flush=True)
        while True:
            time.sleep(60)
    finally:
        mist.stop()
        redis.stop()


def measure(folder: Path, runs: int, path: str) -> None:
    """bench/page.py's measure against gunicorn on DIR's Redis (the overview when msp)."""
    folder = folder.resolve()
    url = (folder / "redis-url").read_text().strip()
    ready = OVERVIEW_READY if folder.name.startswith("msp") else _READY
    web = Gunicorn("app:create_app()", url, folder / "web.log").start()
    try:
        load = measure_page(web.url + path, runs=runs, ready=ready)
    finally:
        web.stop()
    runs_text = ", ".join(f"{ms:.0f}" for ms in load.runs)
    print(f"{load.ms:.0f} ms (runs {runs_text}), {load.bytes:,} bytes, {load.requests} requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("tier", choices=["org", "msp"])
    s.add_argument("dir", type=Path)
    s.add_argument("--gateways", type=int, default=10000)
    m = sub.add_parser("measure")
    m.add_argument("dir", type=Path)
    m.add_argument("--runs", type=int, default=3)
    m.add_argument("--path", default="/")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.tier, args.dir, args.gateways)
    else:
        measure(args.dir, args.runs, args.path)


if __name__ == "__main__":
    main()
