"""`make drill`: the fault drill. Users keep polling while everything that can break, breaks.

While simulated users poll the dashboard's API (wrk, each connection a user polling about
once a second), and the worker refreshes every few seconds against mistsim, the drill:
kills Redis with SIGKILL and restarts it on the same AOF files; switches Mist to an outage,
then to malformed answers, then to 429s on all but one token; SIGKILLs the worker in the
middle of a refresh and starts it again; starts a second worker. Per step it reports
failed requests, hangs, keys lost, mixed snapshots seen by a reader, and the time until
fresh data was served again. Then the high-availability part (bench/drill_ha.py) does the
same through Sentinel, two workers and two webs behind nginx: a replica paused and resumed,
the active worker SIGKILLed with a standby running, Mist down for four intervals (last-good
served), the Redis master SIGKILLed. Each figure is printed against its target; the exit
status is 1 when one is missed. Loopback only, bounded in time (about 4 minutes).

    python -m bench.drill            # 200 users (writes docs/BENCHMARKS.md)
    python -m bench.drill --short    # the test suite's few-seconds-per-step form
    python -m bench.drill --only ha --no-write --keep   # one part, logs kept
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import redis

from bench import report
from bench.drill_ha import HAConfig, HADrill
from bench.drill_ha import section as ha_section
from bench.drill_watch import etag_matches
from bench.procs import (
    Gunicorn,
    MistEndpoint,
    Mistsim,
    RedisServer,
    kill,
    start_worker,
    wait_until,
)
from bench.report import Section
from bench.wrk import WrkResult, run_wrk
from store.codec import etag_of
from tests.fixtures.sentinel_cluster import SentinelCluster

TOKENS = ["drill-token-a", "drill-token-b", "drill-token-c"]
PATHS = ["/api/status", "/api/gateways", "/health", "/api/gateways", "/api/status"]
# Keys that are meant to come and go (lease, heartbeat, a retired generation's pieces): not
# "lost" when missing.
VOLATILE = ("mist:lock:", "mist:metadata:heartbeat", "mist:staged:", "mist:pieces:")


class MistHandle(MistEndpoint, Protocol):
    """What the drill needs from a running mistsim (bench's Mistsim or the test fixture)."""

    def admin(self, path: str, body: Any = None, method: str | None = None) -> Any: ...


class RedisHandle(Protocol):
    @property
    def url(self) -> str: ...

    def kill(self) -> None: ...

    def start(self) -> None: ...


@dataclass
class DrillConfig:
    users: int = 200
    step_seconds: float = 6.0
    interval: int = 3
    gateways: int = 300
    latency_ms: int = 30
    fresh_timeout: float = 90.0
    redis_down_seconds: float = 3.0


@dataclass
class StepResult:
    """One fault: what users saw while it lasted and after it was cleared."""

    name: str
    requests: int = 0
    failed: int = 0
    down_requests: int = 0
    down_503_json: int = 0
    down_other: int = 0
    hangs: int = 0
    keys_lost: int = 0
    mixed: int = 0
    fresh_after: float | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, result: WrkResult, *, down: bool = False) -> None:
        statuses = result.statuses
        bad = sum(n for s, n in statuses.items() if s.isdigit() and not s.startswith(("2", "3")))
        socket_errors = result.errors["connect"] + result.errors["read"] + result.errors["write"]
        self.hangs += result.errors["timeout"]
        if down:
            self.down_requests += result.requests
            json_503 = statuses.get("503", 0)
            non_json = statuses.get("nonjson", 0)
            self.down_503_json += max(0, json_503 - non_json)
            self.down_other += bad - max(0, json_503 - non_json) + socket_errors
        else:
            self.requests += result.requests
            self.failed += bad + socket_errors + result.errors["timeout"]


class Observer(threading.Thread):
    """A reader that checks what users see: status → gateways → status, over and over.

    Mixed snapshot: `/api/gateways` `generated_at` older than the `last_update` that
    `/api/status` announced just before, or newer than what it says just after; or a body
    whose ETag does not belong to it. Also notes when each new `last_update` first showed.
    """

    def __init__(self, web_url: str) -> None:
        super().__init__(daemon=True)
        self.web_url = web_url
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.mixed = 0
        self.mixed_examples: list[str] = []
        self.last_update: float | None = None
        self.updates: list[tuple[float, float]] = []  # (monotonic when first seen, last_update)
        self.checks = 0
        self.errors: list[str] = []

    def _get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.web_url + path, headers={"Accept-Encoding": "gzip"})
        try:
            with urllib.request.urlopen(request, timeout=3) as response:
                status, headers, body = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, dict(error.headers), error.read()
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return status, headers, body

    def _status(self) -> float | None:
        code, _, body = self._get("/api/status")
        if code != 200:
            return None
        value = json.loads(body).get("last_update")
        return float(value) if value is not None else None

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                before = self._status()
                code, headers, body = self._get("/api/gateways")
                after = self._status()
            except Exception as error:  # Redis down or web restarting: users see it in wrk
                with self.lock:
                    self.errors.append(repr(error)[:200])
                self.stop_event.wait(0.05)
                continue
            if code == 200 and before is not None and after is not None:
                generated = float(json.loads(body).get("generated_at") or 0)
                etag = headers.get("ETag")
                problem = ""
                if generated + 1e-6 < before:
                    problem = f"gateways {generated} older than status said before ({before})"
                elif generated > after + 1e-6:
                    problem = f"gateways {generated} newer than status said after ({after})"
                elif etag and not etag_matches(etag, etag_of(body)):
                    problem = f"ETag {etag} does not belong to the body served"
                with self.lock:
                    self.checks += 1
                    if problem:
                        self.mixed += 1
                        if len(self.mixed_examples) < 5:
                            self.mixed_examples.append(problem)
                    if after != self.last_update:
                        self.last_update = after
                        self.updates.append((time.monotonic(), after))
            self.stop_event.wait(0.05)

    def fresh_since(self, moment: float) -> float | None:
        """Seconds from `moment` (monotonic) to the first new last_update seen after it."""
        with self.lock:
            for seen, _ in self.updates:
                if seen > moment:
                    return seen - moment
        return None

    def updates_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for seen, _ in self.updates if start <= seen <= end)


def key_snapshot(client: redis.Redis) -> dict[str, float]:
    """Every mist:* key with the time (monotonic) until which its TTL keeps it alive."""
    now = time.monotonic()
    names = [k.decode() for k in client.scan_iter(match="mist:*", count=1000)]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.pttl(name)
    keys = {}
    for name, pttl in zip(names, pipe.execute(), strict=True):
        if name.startswith(VOLATILE):
            continue
        keys[name] = float("inf") if pttl is None or pttl < 0 else now + pttl / 1000
    return keys


def keys_lost(before: dict[str, float], client: redis.Redis) -> int:
    """Keys present before that are gone now although their TTL had not run out."""
    now = time.monotonic()
    after = set(key_snapshot(client))
    return sum(1 for name, alive in before.items() if name not in after and alive > now + 0.5)


class Drill:
    """Runs the steps against real processes; redis and mistsim are given (bench or fixtures)."""

    def __init__(
        self,
        redis_server: RedisHandle,
        mist: MistHandle,
        workdir: Path,
        config: DrillConfig,
        log: Callable[[str], None] = print,
    ) -> None:
        self.redis = redis_server
        self.mist = mist
        self.workdir = workdir
        self.config = config
        self.log = log
        self.workers: list[Any] = []
        self.web: Gunicorn | None = None
        self.observer: Observer | None = None

    # ------------------------------------------------------------------ plumbing
    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis.url, socket_timeout=5)

    def start_worker(self) -> Any:
        name = f"worker-{len(self.workers) + 1}.log"
        process = start_worker(
            self.mist,
            self.redis.url,
            TOKENS,
            self.config.interval,
            self.workdir / name,
        )
        self.workers.append(process)
        return process

    def load(self, seconds: float) -> WrkResult:
        assert self.web is not None
        return run_wrk(
            self.web.url,
            connections=self.config.users,
            seconds=seconds,
            paths=PATHS,
            headers={"Accept-Encoding": "gzip"},
            delay_ms=1000,
            count_status=True,
            timeout_s=2.0,
        )

    @contextmanager
    def loaded(self, seconds: float) -> Iterator[dict[str, WrkResult]]:
        """Run the users' load in the background for `seconds` while the body acts."""
        box: dict[str, WrkResult] = {}
        thread = threading.Thread(target=lambda: box.setdefault("r", self.load(seconds)))
        thread.start()
        try:
            yield box
        finally:
            thread.join()

    def wait_fresh(self, since: float, step: StepResult) -> None:
        assert self.observer is not None
        deadline = since + self.config.fresh_timeout
        while time.monotonic() < deadline:
            fresh = self.observer.fresh_since(since)
            if fresh is not None:
                step.fresh_after = fresh
                return
            time.sleep(0.1)
        step.notes.append(f"no fresh data within {self.config.fresh_timeout:.0f} s")

    def fault(self, **changes: Any) -> None:
        self.mist.admin("faults", changes)

    # ------------------------------------------------------------------ steps
    def step_baseline(self) -> StepResult:
        step = StepResult("baseline (no fault)")
        before = key_snapshot(self.client())
        mark = time.monotonic()
        with self.loaded(self.config.step_seconds) as box:
            pass
        step.add(box["r"])
        step.keys_lost = keys_lost(before, self.client())
        self.wait_fresh(mark, step)  # a loaded machine may stretch a refresh past the window
        return step

    def step_redis(self) -> StepResult:
        step = StepResult("Redis SIGKILL, restart on same AOF")
        pre = self.load(max(1.0, self.config.step_seconds / 3))
        step.add(pre)
        with self.loaded(self.config.redis_down_seconds + 1) as box:
            time.sleep(0.3)
            before = key_snapshot(self.client())
            self.redis.kill()
            time.sleep(self.config.redis_down_seconds)
            self.redis.start()
            back = time.monotonic()
            wait_until(  # it answers INFO while it loads; SCAN waits for the AOF
                lambda: not self.client().info("persistence").get("loading"),
                30,
                "Redis to load its AOF",
            )
            step.keys_lost = keys_lost(before, self.client())
        step.add(box["r"], down=True)
        step.notes.append(f"Redis down {self.config.redis_down_seconds:g} s; {len(before)} keys")
        step.add(self.load(self.config.step_seconds))
        self.wait_fresh(back, step)
        return step

    def _mist_fault(self, name: str, changes: dict[str, Any], clear: dict[str, Any]) -> StepResult:
        step = StepResult(name)
        before = key_snapshot(self.client())
        with self.loaded(self.config.step_seconds) as box:
            start = time.monotonic()
            self.fault(**changes)
            time.sleep(self.config.step_seconds * 0.6)
            self.fault(**clear)
            cleared = time.monotonic()
        step.add(box["r"])
        assert self.observer is not None
        during = self.observer.updates_between(start + 0.2, cleared)
        step.notes.append(
            f"fault on for {cleared - start:.1f} s; {during} refreshes published meanwhile"
        )
        self.wait_fresh(cleared, step)
        step.keys_lost = keys_lost(before, self.client())
        return step

    def step_worker_kill(self) -> StepResult:
        step = StepResult("worker SIGKILL mid-refresh, restarted")
        client = self.client()
        before = key_snapshot(client)
        with self.loaded(self.config.step_seconds) as box:
            victim = self.workers[-1]
            try:
                wait_until(
                    lambda: client.get("mist:metadata:worker_status") == b"running",
                    timeout=self.config.interval * 4 + 30,
                    what="the worker to be mid-refresh",
                )
                mid = True
            except TimeoutError:
                mid = False
            victim.kill()
            victim.wait(timeout=10)
            killed = time.monotonic()
            step.notes.append("killed mid-refresh" if mid else "could not catch it mid-refresh")
            self.workers.remove(victim)
            self.start_worker()
        step.add(box["r"])
        self.wait_fresh(killed, step)
        step.keys_lost = keys_lost(before, client)
        return step

    def step_second_worker(self) -> StepResult:
        """Same window length with one worker, then with two: the Mist calls per published
        refresh must not double (the lease keeps the second one from spending tokens)."""
        step = StepResult("second worker started")
        before = key_snapshot(self.client())
        window = self.config.step_seconds * 1.2
        assert self.observer is not None
        per_refresh: list[str] = []
        with self.loaded(window * 2 + 0.5) as box:
            for workers in (1, 2):
                if workers == 2:
                    self.start_worker()
                calls_before = self.mist.admin("calls")["total"]
                start = time.monotonic()
                time.sleep(window)
                calls = self.mist.admin("calls")["total"] - calls_before
                refreshes = self.observer.updates_between(start, time.monotonic())
                per_refresh.append(
                    f"{workers} worker{'s' if workers > 1 else ''}: {calls} Mist calls, "
                    f"{refreshes} refreshes published in {window:.0f} s"
                )
            ended = time.monotonic()
        step.add(box["r"])
        step.notes.append("; ".join(per_refresh))
        self.wait_fresh(ended, step)
        step.keys_lost = keys_lost(before, self.client())
        extra = self.workers.pop()
        kill(extra)
        return step

    # ------------------------------------------------------------------ the run
    def run(self) -> list[StepResult]:
        self.web = Gunicorn("app:create_app()", self.redis.url, self.workdir / "web.log").start()
        self.observer = Observer(self.web.url)
        steps: list[StepResult] = []
        try:
            self.start_worker()
            wait_until(
                lambda: self.client().get("mist:metadata:last_update") is not None,
                timeout=120,
                what="the worker's first refresh",
            )
            self.observer.start()
            wait_until(lambda: self.observer is not None and self.observer.checks > 0, 30, "web")
            mark = time.monotonic()
            plan: list[tuple[str, Callable[[], StepResult]]] = [
                ("baseline", self.step_baseline),
                ("redis", self.step_redis),
                (
                    "outage",
                    lambda: self._mist_fault("Mist outage", {"outage": True}, {"outage": False}),
                ),
                (
                    "malformed",
                    lambda: self._mist_fault(
                        "Mist malformed answers", {"malformed": True}, {"malformed": False}
                    ),
                ),
                (
                    "429",
                    lambda: self._mist_fault(
                        "429 on all tokens but one",
                        {"exhausted_tokens": TOKENS[:-1]},
                        {"exhausted_tokens": []},
                    ),
                ),
                ("worker", self.step_worker_kill),
                ("second", self.step_second_worker),
            ]
            for key, action in plan:
                self.log(f"drill step: {key}")
                step = action()
                step.mixed = self.observer.mixed - sum(s.mixed for s in steps)
                steps.append(step)
                self.log(f"  {step}")
            self.log(f"drill took {time.monotonic() - mark:.0f} s of load")
        finally:
            self.observer.stop_event.set()
            for process in self.workers:
                kill(process)
            self.web.stop()
        return steps


def section(steps: list[StepResult], config: DrillConfig, examples: list[str]) -> Section:
    table = Section(
        f"Fault drill: {config.users} users polling, worker every {config.interval} s, "
        f"{config.gateways} gateways",
        [
            "step",
            "requests",
            "failed",
            "while Redis down: 503 JSON / other",
            "hangs",
            "keys lost",
            "mixed snapshots",
            "fresh data after (s)",
            "notes",
        ],
    )
    for step in steps:
        down = f"{step.down_503_json} / {step.down_other}" if step.down_requests else "—"
        table.rows.append(
            [
                step.name,
                step.requests,
                step.failed,
                down,
                step.hangs,
                step.keys_lost,
                step.mixed,
                step.fresh_after,
                "; ".join(step.notes),
            ]
        )
    table.notes += [
        "Targets: 0 failed requests outside the seconds Redis is down (then a 503 JSON answer, "
        "never a hang: wrk times out after 2 s), 0 keys lost, never a mixed snapshot.",
        "failed = non-2xx answers + socket errors + timeouts while no Redis was down; the "
        "Redis step's requests while it was down are counted apart.",
        "mixed = /api/gateways `generated_at` outside the `last_update` /api/status showed "
        "just before and just after, or an ETag that does not match the body.",
        "fresh data after = from clearing the fault (or restarting) until /api/status first "
        "showed a new `last_update`.",
        *[f"mixed example: {e}" for e in examples],
    ]
    return table


def _run_single(config: DrillConfig, mist: Mistsim, workdir: Path) -> tuple[Section, bool]:
    """The single-Redis steps: Redis restart on its AOF, Mist faults, worker restarts."""
    server = RedisServer(workdir / "redis")
    server.start()
    try:
        drill = Drill(server, mist, workdir, config)
        steps = drill.run()
        examples = drill.observer.mixed_examples if drill.observer else []
    finally:
        server.stop()
    ok = all(s.failed == 0 and s.hangs == 0 and s.keys_lost == 0 and s.mixed == 0 for s in steps)
    return section(steps, config, examples), ok


def _run_ha(config: HAConfig, mist: Mistsim, workdir: Path) -> tuple[Section, bool]:
    """The high-availability steps: Sentinel failover, a lagging replica, a standby worker
    taking over, a long Mist outage served from the last-good copy."""
    cluster = SentinelCluster(workdir / "ha")
    cluster.start()
    try:
        mist.admin("faults", {"outage": False, "malformed": False, "exhausted_tokens": []})
        drill = HADrill(
            cluster,
            mist,
            lambda changes: mist.admin("faults", changes),
            workdir,
            config,
            TOKENS,
        )
        steps = drill.run()
    finally:
        cluster.stop()
    return ha_section(steps, config, drill.mixed_examples), all(step.ok for step in steps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drill", description=__doc__)
    parser.add_argument("--short", action="store_true", help="a few seconds per step")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the logs (prints where)")
    parser.add_argument(
        "--only", choices=("single", "ha"), help="run one part: single Redis, or Sentinel HA"
    )
    args = parser.parse_args(argv)
    config, ha_config = DrillConfig(), HAConfig()
    if args.short:
        config = DrillConfig(users=20, step_seconds=2.5, interval=1, gateways=40)
        ha_config = HAConfig(users=20, interval=2, gateways=40, load_seconds=4.0)
    started = time.monotonic()
    tables: list[tuple[Section, bool]] = []
    with tempfile.TemporaryDirectory(prefix="mcs-drill-") as tmp:
        workdir = Path(tempfile.mkdtemp(prefix="mcs-drill-")) if args.keep else Path(tmp)
        print(f"logs in {workdir}" + ("" if args.keep else " (removed at the end)"))
        mist = Mistsim(
            config.gateways,
            max(1, config.gateways // 2),
            TOKENS,
            workdir,
            latency_ms=config.latency_ms,
        ).start()
        try:
            if args.only != "ha":
                tables.append(_run_single(config, mist, workdir / "single"))
            if args.only != "single":
                tables.append(_run_ha(ha_config, mist, workdir / "ha-run"))
        finally:
            mist.stop()
    for table, _ in tables:
        print(table.text())
    ok = all(passed for _, passed in tables)
    minutes = (time.monotonic() - started) / 60
    print(f"drill {'PASSED' if ok else 'FAILED'} in {minutes:.1f} min")
    if not args.no_write:
        run = " ".join(["python -m bench.drill", *(argv or sys.argv[1:])])
        lines = [
            *report.machine(),
            f"Run: `{run.replace(' --no-write', '').replace(' --keep', '')}`, {minutes:.1f} min",
        ]
        body = "## Fault drill (`make drill`)\n\n" + "\n".join(f"- {x}" for x in lines)
        for table, _ in tables:
            body += "\n\n" + table.markdown().rstrip()
        print(f"wrote {report.write_block(report.DRILL_BEGIN, report.DRILL_END, body)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
