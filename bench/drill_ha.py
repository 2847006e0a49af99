"""`make drill`, high-availability steps: docker-compose.ha.yml's shape as local processes.

One Redis master, two replicas and three Sentinels (redis-server, redis-sentinel), two
workers (one holds the lease, one stands by), two webs under gunicorn (one reads the
master, one REDIS_READ_FROM_REPLICAS=1) behind nginx on deploy/nginx/ha.conf, all on
loopback. Users poll through nginx (wrk); a poller per web checks every snapshot it is
served. Each step prints what it measured against its target:

1. a replica paused (SIGSTOP) past a publish, then resumed: the web reading replicas
   serves the previous whole snapshot or the new one, never half of one;
2. the active worker SIGKILLed: seconds until the standby holds the lease and publishes;
3. Mist down (every call 503) for four intervals: the last known circuits stay served
   (last-good copy once the live keys expire) marked stale, then live again;
4. the Redis master SIGKILLed: Sentinel promotes a replica; seconds until the worker
   publishes to the new master and until each web serves fresh data; keys lost; mixes.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.drill_watch import SLOW, MasterWatch, Poller, wait_for
from bench.procs import Gunicorn, MistEndpoint, NginxPair, kill, start_worker
from bench.report import Section, verdict
from bench.wrk import WrkResult, run_wrk
from store.keys import KEY_LAST_UPDATE, LEASE_SECONDS, STAGED_PREFIX
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sentinel_cluster import SentinelCluster

APP = "app:create_app()"
PATHS = ["/api/status", "/api/gateways", "/health", "/api/gateways", "/api/status"]
FAILOVER_TARGET = 30.0  # issue 14: master death to the first fresh publish
TAKEOVER_TARGET = LEASE_SECONDS + 5.0  # issue 14: a standby takes over within 15 s
CATCH_UP_TARGET = 10.0  # a resumed replica has the master's snapshot again
PUBLISHED_LINE = re.compile(r"refresh published: .*; data of ([\d.]+)")  # worker.py's line


@dataclass
class HAConfig:
    users: int = 200
    interval: int = 3
    gateways: int = 300
    latency_ms: int = 30
    load_seconds: float = 8.0  # the users' load (wrk through nginx) during each step
    bound: float = 60.0  # no wait in a step lasts longer: the drill ends, failed
    outage_intervals: int = 4
    rejoin: bool = True  # restart the killed master and time its return as a replica


@dataclass
class Check:
    """One figure of a step against its target (ok None: reported, no target)."""

    what: str
    measured: object
    target: str
    ok: bool | None


@dataclass
class HAStep:
    name: str
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok is not False for check in self.checks)

    def seconds(self, what: str, value: float | None, target: float) -> None:
        ok = value is not None and value <= target
        shown = "never (gave up)" if value is None else round(value, 2)
        self.checks.append(Check(what, shown, f"≤ {target:g} s", ok))

    def count(self, what: str, value: int, target: int = 0) -> None:
        self.checks.append(Check(what, value, f"{target}", value == target))

    def info(self, what: str, value: object) -> None:
        self.checks.append(Check(what, value, "—", None))


def _users_check(
    step: HAStep, result: WrkResult, *, allow_503: bool = False, allow_slow: bool = False
) -> None:
    """What the users (wrk through nginx) saw: every answer a 2xx/3xx (or, while no Redis
    node can answer, a 503 JSON), never a hang (`allow_slow`: a frozen replica holds a
    request for the web's 2 s socket timeout; counted, not failed)."""
    statuses = result.statuses
    json_503 = max(0, statuses.get("503", 0) - statuses.get("nonjson", 0))
    bad = sum(n for s, n in statuses.items() if s.isdigit() and not s.startswith(("2", "3")))
    other = bad - (json_503 if allow_503 else 0)
    other += result.errors["connect"] + result.errors["read"] + result.errors["write"]
    hangs = result.errors["timeout"]
    shown = f"{result.requests:,} requests, {json_503} 503 JSON, {other} other, {hangs} over 2 s"
    target = ("0 other" if allow_503 else "0 failed") + ("" if allow_slow else ", 0 over 2 s")
    ok = other == 0 and (allow_slow or hangs == 0)
    step.checks.append(Check("users via nginx (wrk)", shown, target, ok))


class HADrill:
    """Runs the four steps against real processes; the cluster and mistsim are given."""

    def __init__(
        self,
        cluster: SentinelCluster,
        mist: MistEndpoint,
        fault: Callable[[dict[str, Any]], Any],
        workdir: Path,
        config: HAConfig,
        tokens: list[str],
        log: Callable[[str], None] = print,
    ) -> None:
        self.cluster = cluster
        self.mist = mist
        self.fault = fault  # sets mistsim faults (its admin API)
        self.workdir = workdir
        self.config = config
        self.tokens = tokens
        self.log = log
        env = cluster.env()
        self.redis_url = env.pop("REDIS_URL")
        self.env = env
        self.workers: list[Any] = []
        self.started_workers = 0
        self.webs: dict[str, Gunicorn] = {}
        self.nginx: NginxPair | None = None
        self.watch = MasterWatch(cluster.settings())
        self.pollers: dict[str, Poller] = {}
        self.expected_gateways = 0
        self.mixed_examples: list[str] = []

    # ------------------------------------------------------------------ plumbing
    def _start_worker(self) -> Any:
        self.started_workers += 1
        log = self.workdir / f"worker-{self.started_workers}.log"
        process = start_worker(
            self.mist, self.redis_url, self.tokens, self.config.interval, log, self.env
        )
        self.workers.append(process)
        return process

    def _logged_versions(self) -> set[float]:
        """Every snapshot a worker said it published (its "refresh published" line): the
        master watch samples `last_update` every 0.1 s and, on a loaded machine, can miss one
        that lived a moment (two publishes back to back once Mist answers again)."""
        found: set[float] = set()
        for log in self.workdir.glob("worker-*.log"):
            text = log.read_text(errors="replace")
            found.update(float(value) for value in PUBLISHED_LINE.findall(text))
        return found

    def _start_web(self, name: str, extra: dict[str, str]) -> Gunicorn:
        log = self.workdir / f"web-{name}.log"
        web = Gunicorn(APP, self.redis_url, log, env_extra={**self.env, **extra}).start()
        self.webs[name] = web
        return web

    def setup(self) -> None:
        self.watch.start()
        self._start_worker()
        self._start_worker()  # the standby: the lease keeps it from spending tokens
        master = self._start_web("master", {})
        replica = self._start_web("replica", {"REDIS_READ_FROM_REPLICAS": "1"})
        self.nginx = NginxPair((master.port, replica.port), self.workdir / "nginx").start()
        if wait_for(lambda: self.watch.latest is not None, time.monotonic(), 120) is None:
            raise RuntimeError("no refresh published within 120 s (see worker-*.log)")
        for name, url, ordered in (
            ("web reading the master", master.url, True),
            ("web reading replicas", replica.url, False),
            ("nginx", self.nginx.url, False),
        ):
            self.pollers[name] = Poller(name, url, ordered=ordered)
            self.pollers[name].start()
        nginx = self.pollers["nginx"]
        if wait_for(lambda: any(c.code == 200 for c in nginx.window(0)), time.monotonic(), 60):
            first = next(c for c in nginx.window(0) if c.code == 200)
            self.expected_gateways = first.gateways
        if not self.expected_gateways:
            raise RuntimeError("nginx served no gateways within 60 s (see web-*.log, nginx/)")

    def teardown(self) -> None:
        for poller in self.pollers.values():
            poller.stop_event.set()
        self.watch.stop_event.set()
        for process in self.workers:
            kill(process)
        if self.nginx is not None:
            self.nginx.stop()
        for web in self.webs.values():
            web.stop()

    @contextmanager
    def users(self, seconds: float | None = None) -> Iterator[dict[str, WrkResult]]:
        """The users' load through nginx in the background while the body acts."""
        assert self.nginx is not None
        url = self.nginx.url
        box: dict[str, WrkResult] = {}

        def load() -> None:
            box["r"] = run_wrk(
                url,
                connections=self.config.users,
                seconds=seconds or self.config.load_seconds,
                paths=PATHS,
                headers={"Accept-Encoding": "gzip"},
                delay_ms=1000,
                count_status=True,
                timeout_s=SLOW,
            )

        thread = threading.Thread(target=load)
        thread.start()
        try:
            yield box
        finally:
            thread.join()

    def _next_publish(self) -> None:
        """Wait for a publish, then half an interval: the kill lands mid-interval."""
        seen = self.watch.latest
        wait_for(lambda: self.watch.latest != seen, time.monotonic(), self.config.interval * 4)
        time.sleep(self.config.interval / 2)

    def _web_checks(self, step: HAStep, start: float, end: float) -> None:
        """Mixed snapshots, failures and hangs the pollers saw in [start, end]."""
        published = self.watch.published | self._logged_versions()
        mixed, failed, hangs = [], 0, 0
        for poller in self.pollers.values():
            cycles = poller.window(start, end)
            mixed += poller.mixed(cycles, published)
            failed += sum(1 for c in cycles if c.failed and not c.error)
            hangs += sum(1 for c in cycles if c.error)
        self.mixed_examples += mixed[:3]
        step.count("mixed snapshots (pollers: ETag, order, published)", len(mixed))
        step.count("poller answers neither 200 nor 503 JSON", failed)
        step.count("poller requests unanswered within 5 s", hangs)

    def _fresh(self, step: HAStep, name: str, since: float, newer_than: float | None) -> None:
        poller = self.pollers[name]
        fresh = None
        if wait_for(
            lambda: poller.fresh_after(since, newer_than) is not None, since, self.config.bound
        ):
            fresh = poller.fresh_after(since, newer_than)
        step.seconds(f"{name}: fresh snapshot served", fresh, FAILOVER_TARGET)

    # ------------------------------------------------------------------ steps
    def step_failover(self) -> HAStep:
        step = HAStep("4. Redis master SIGKILL, Sentinel failover")
        self._next_publish()
        old = self.cluster.node(self.cluster.master_port())
        before = _keys(old)
        version = self.watch.latest
        with self.users() as box:
            killed = time.monotonic()
            old.kill()
            promoted = wait_for(
                lambda: self.cluster.master_port() != old.port, killed, self.config.bound
            )
            step.seconds("Sentinel promoted a replica", promoted, FAILOVER_TARGET)
            if promoted is not None:
                self._kept(step, before, version)
            wait_for(
                lambda: self.watch.first_after(killed, version) is not None,
                killed,
                self.config.bound,
            )
            worker = self.watch.first_after(killed, version)
            step.seconds("worker published to the new master", worker, FAILOVER_TARGET)
            for name in ("web reading the master", "web reading replicas"):
                self._fresh(step, name, killed, version)
        _users_check(step, box["r"], allow_503=True)
        self._web_checks(step, killed, time.monotonic())
        if not self.config.rejoin:
            return step
        restarted = time.monotonic()
        old.start()  # as a crashed container restarts: Sentinel makes it a replica
        rejoined = wait_for(lambda: _in_sync(old), restarted, self.config.bound)
        step.notes.append(
            "old master restarted, a replica in sync again after "
            + ("never" if rejoined is None else f"{rejoined:.1f} s")
        )
        return step

    def _kept(self, step: HAStep, before: dict[str, float], version: float | None) -> None:
        """What the promoted node holds of what the dead master had published."""
        node = self.cluster.node(self.cluster.master_port())
        now = time.monotonic()
        after = set(_keys(node))
        lost = sum(1 for name, alive in before.items() if name not in after and alive > now + 0.5)
        step.count(f"keys lost (of {len(before)} on the master at the kill)", lost)
        held = node.client().get(KEY_LAST_UPDATE)
        kept = held is not None and version is not None and float(held) >= version
        step.checks.append(
            Check(
                "last published snapshot on the promoted node", "yes" if kept else "no", "yes", kept
            )
        )

    def step_replica_pause(self) -> HAStep:
        step = HAStep("1. a replica paused (SIGSTOP) past a publish, then resumed")
        master_port = self.cluster.master_port()
        replicas = [
            node
            for node in (self.cluster.master, *self.cluster.replicas)
            if node.port != master_port and node.process is not None
        ]
        replica = max(replicas, key=_readers)  # the one the web reading replicas uses most
        step.info("web connections on the paused replica", _readers(replica))
        assert replica.process is not None
        version = self.watch.latest
        interval = self.config.interval
        with self.users() as box:
            paused = time.monotonic()
            os.kill(replica.process.pid, signal.SIGSTOP)
            try:
                wait_for(lambda: self.watch.latest != version, paused, self.config.bound)
                time.sleep(max(interval / 2, paused + 2 * interval - time.monotonic()))
            finally:
                os.kill(replica.process.pid, signal.SIGCONT)
            resumed = time.monotonic()
            step.info("paused for (s)", round(resumed - paused, 2))
            caught_up = wait_for(
                lambda: (
                    replica.client().get(KEY_LAST_UPDATE) is not None
                    and float(replica.client().get(KEY_LAST_UPDATE) or 0) == self.watch.latest
                ),
                resumed,
                self.config.bound,
            )
            step.seconds("resumed replica holds the master's snapshot", caught_up, CATCH_UP_TARGET)
            time.sleep(interval)  # the pollers read the resumed replica for a while
        end = time.monotonic()
        self._replica_answers(step, paused, end)
        _users_check(step, box["r"], allow_slow=True)
        self._web_checks(step, paused, end)
        return step

    def _replica_answers(self, step: HAStep, start: float, end: float) -> None:
        """What the web reading replicas answered while one paused and caught up."""
        cycles = self.pollers["web reading replicas"].window(start, end)
        answered = [c for c in cycles if c.code == 200 and c.generated is not None]
        behind = 0
        for cycle in answered:
            held = self.watch.latest_at(cycle.start)
            if held is not None and cycle.generated is not None and cycle.generated < held:
                behind += 1
        slow = sum(1 for c in cycles if c.seconds > SLOW)
        step.info(
            "web reading replicas: answers / previous whole snapshot / 503 JSON / slower than 2 s",
            f"{len(answered)} / {behind} / {sum(1 for c in cycles if c.json_503)} / {slow}",
        )

    def step_worker_kill(self) -> HAStep:
        step = HAStep("2. active worker SIGKILL, the standby takes over")
        self._next_publish()
        owner = self.watch.owner or ""
        pid = int(owner.split(":")[1]) if owner.count(":") >= 2 else -1
        victim = next((w for w in self.workers if w.pid == pid), None)
        if victim is None:
            step.checks.append(Check("lease holder found", owner or "none", "a worker", False))
            return step
        version = self.watch.latest
        with self.users(self.config.load_seconds + LEASE_SECONDS) as box:
            killed = time.monotonic()
            victim.kill()
            victim.wait(timeout=10)
            self.workers.remove(victim)
            taken = wait_for(
                lambda: self.watch.owner is not None and self.watch.owner != owner,
                killed,
                self.config.bound,
            )
            step.seconds("standby holds the lease", taken, TAKEOVER_TARGET)
            wait_for(
                lambda: self.watch.first_after(killed, version) is not None,
                killed,
                self.config.bound,
            )
            published = self.watch.first_after(killed, version)
            step.seconds("standby published", published, TAKEOVER_TARGET)
            self._fresh(step, "nginx", killed, version)
        _users_check(step, box["r"])
        self._web_checks(step, killed, time.monotonic())
        self._start_worker()  # a new standby, as an orchestrator restarts the dead one
        return step

    def step_mist_outage(self) -> HAStep:
        step = HAStep(f"3. Mist outage of {self.config.outage_intervals} intervals")
        interval = self.config.interval
        least = self.config.outage_intervals * interval
        version = self.watch.latest
        nginx = self.pollers["nginx"]
        with self.users(least + 2 * interval + 1) as box:
            start = time.monotonic()
            self.fault({"outage": True})
            try:
                served = wait_for(
                    lambda: any(c.source == "last_good" for c in nginx.window(start)),
                    start,
                    least + self.config.bound,
                )
                time.sleep(max(0.0, start + least - time.monotonic(), interval if served else 0))
            finally:
                self.fault({"outage": False})
            cleared = time.monotonic()
            step.info("Mist answered 503 to every call for (s)", round(cleared - start, 1))
            step.info(
                "live keys expired, last-good copy served after (s)", served and round(served, 1)
            )
            recovered = wait_for(
                lambda: nginx.fresh_after(cleared, version) is not None, cleared, self.config.bound
            )
            # the failing refresh's last retries, one interval, then a whole refresh
            step.seconds("live data again after Mist came back", recovered, 2 * interval + 10)
        self._outage_answers(step, start, cleared)
        _users_check(step, box["r"])
        self._web_checks(step, start, time.monotonic())
        return step

    def _outage_answers(self, step: HAStep, start: float, cleared: float) -> None:
        """Every answer during the outage: all gateways, marked stale once last-good."""
        cycles = [c for p in self.pollers.values() for c in p.window(start + 0.5, cleared)]
        answered = [c for c in cycles if c.code == 200]
        short = sum(1 for c in answered if c.gateways < self.expected_gateways)
        share = 100.0 * (len(answered) - short) / len(cycles) if cycles else 0.0
        step.checks.append(
            Check(
                f"answers with all {self.expected_gateways} gateways",
                f"{share:.1f} % of {len(cycles)}",
                "100 %",
                bool(cycles) and share == 100.0,
            )
        )
        last_good = [c for c in answered if c.source == "last_good"]
        marked = sum(1 for c in last_good if c.stale is True and c.age is not None)
        step.checks.append(
            Check(
                "last-good answers marked stale with the data's age",
                f"{marked} of {len(last_good)}",
                "all, at least 1",
                bool(last_good) and marked == len(last_good),
            )
        )
        told = [c for c in last_good if c.last_error]
        retrying = [
            c for c in last_good if not c.last_error and c.status_after.startswith("running")
        ]
        step.checks.append(
            Check(
                "… with the worker's last error / its first failing refresh still retrying",
                f"{len(told)} / {len(retrying)}",
                "all of them, one or the other",
                len(told) + len(retrying) == len(last_good),
            )
        )

    # ------------------------------------------------------------------ the run
    def run(self) -> list[HAStep]:
        steps: list[HAStep] = []
        try:
            self.setup()
            for action in (  # the failover last: the other steps need both replicas
                self.step_replica_pause,
                self.step_worker_kill,
                self.step_mist_outage,
                self.step_failover,
            ):
                step = action()
                steps.append(step)
                for line in step_lines(step):
                    self.log(line)
        finally:
            self.teardown()
        return steps


def _keys(node: RedisServer) -> dict[str, float]:
    """Every mist:* key of a node with the time (monotonic) until which its TTL keeps it
    (staged keys and the lease come and go by design)."""
    client = node.client()
    now = time.monotonic()
    names = [k.decode() for k in client.scan_iter(match="mist:*", count=1000)]
    names = [n for n in names if not n.startswith((STAGED_PREFIX, "mist:lock:"))]
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.pttl(name)
    return {
        name: float("inf") if pttl is None or pttl < 0 else now + pttl / 1000
        for name, pttl in zip(names, pipe.execute(), strict=True)
    }


def _readers(node: RedisServer) -> int:
    """Client connections on a node that are neither Sentinels, replication, nor ours."""
    try:
        clients = node.client().client_list()
    except Exception:  # a node restarting has no readers
        return -1
    return (
        sum(
            1
            for c in clients
            if c.get("flags") == "N" and not str(c.get("name", "")).startswith("sentinel")
        )
        - 1
    )


def _in_sync(node: RedisServer) -> bool:
    info = node.client().info("replication")
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def step_lines(step: HAStep) -> list[str]:
    """A step as the terminal shows it: each figure, its target and pass/fail."""
    lines = [f"drill step: {step.name}: {'PASS' if step.ok else 'FAIL'}"]
    for check in step.checks:
        mark = {True: "pass", False: "FAIL", None: "    "}[check.ok]
        lines.append(f"  [{mark}] {check.what}: {check.measured} (target {check.target})")
    lines += [f"  note: {note}" for note in step.notes]
    return lines


def section(steps: list[HAStep], config: HAConfig, examples: list[str]) -> Section:
    table = Section(
        f"Fault drill, high availability: {config.users} users through nginx, two webs, "
        f"two workers, Sentinel; worker every {config.interval} s, {config.gateways} gateways",
        ["step", "measured", "value", "target", "result"],
    )
    for step in steps:
        name = f"**{step.name}**: {'PASS' if step.ok else 'FAIL'}"
        for check in step.checks:
            result = "reported" if check.ok is None else verdict(check.ok)
            table.rows.append([name, check.what, check.measured, check.target, result])
            name = ""  # the step's name on its first row only
        for note in step.notes:
            table.rows.append(["", note, "", "", ""])
    table.notes += [
        "One master, two replicas, three Sentinels (down after 1 s, failover timeout 4 s: "
        "tests/fixtures/sentinel_cluster.py), AOF on every data node; two workers (lease "
        f"{LEASE_SECONDS} s); two gunicorn webs (one reads the master, one "
        "REDIS_READ_FROM_REPLICAS=1) behind nginx on deploy/nginx/ha.conf.",
        "Seconds are from the fault (kill, SIGCONT, Mist back) to what was first seen: the "
        "master's `last_update` read through the Sentinels every 0.1 s, a poller's answer.",
        "mixed = a body whose ETag is not its own; on the web reading the master, gateways "
        "outside the `last_update` /api/status showed just before and after; on a web "
        "reading replicas, a `generated_at` the master never held.",
        "previous whole snapshot = an answer older than what the master held then (a "
        "replica that lags may serve it). A paused replica answers nothing: a read sent to it "
        "waits for the web's 2 s socket timeout and is retried on another node (the "
        "users' answers over 2 s), so its lag shows only in the moments after SIGCONT.",
        "The short form of these steps runs in tests/test_drill.py (10 users, 30 gateways, "
        "worker every 2 s; recovery must come, its speed is not asserted).",
        *[f"mixed example: {example}" for example in examples],
    ]
    return table
