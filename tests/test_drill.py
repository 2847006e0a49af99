"""The fault drill's short form: a few seconds per step against real redis-server, mistsim,
worker.py, gunicorn and wrk. Users must never see a failure outside the seconds Redis is
down (and then a 503 JSON answer, never a hang), no key may be lost, no reader may see a
mixed snapshot, and fresh data must come back after every fault. The high-availability
part adds redis-sentinel, a standby worker, a web reading replicas and nginx in front."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.drill import TOKENS, Drill, DrillConfig, StepResult, etag_matches
from bench.drill_ha import HAConfig, HADrill, step_lines
from tests.fixtures.mistsim_server import MistSim
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.sentinel_cluster import SentinelCluster


class FixtureMist:
    """The drill's view of the test fixture's simulator."""

    def __init__(self, sim: MistSim) -> None:
        self.sim = sim

    @property
    def host(self) -> str:
        return self.sim.host

    @property
    def ca(self) -> str:
        return str(self.sim.ca_path)

    @property
    def org_id(self) -> str:
        return self.sim.org_id

    def admin(self, path: str, body: Any = None, method: str | None = None) -> Any:
        return self.sim.admin(method or ("GET" if body is None else "POST"), path, json=body)


def test_gzip_etag_is_recognised_as_the_bodys_own() -> None:
    assert etag_matches('"abc123-gz"', '"abc123"')
    assert etag_matches('W/"abc123"', '"abc123"')
    assert not etag_matches('"abc124-gz"', '"abc123"')


def test_short_drill_users_never_see_failures_mixed_snapshots_or_lost_keys(
    redis_server: RedisServer,
    mistsim_factory: Callable[..., MistSim],
    tmp_path: Path,
) -> None:
    config = DrillConfig(users=20, step_seconds=2.5, interval=1, gateways=40, latency_ms=30)
    sim = mistsim_factory(
        gateways=config.gateways, sites=20, tokens=TOKENS, latency_ms=config.latency_ms
    )
    drill = Drill(redis_server, FixtureMist(sim), tmp_path, config, log=lambda _: None)
    steps = drill.run()

    by_name: dict[str, StepResult] = {step.name: step for step in steps}
    assert len(steps) == 7, list(by_name)
    for step in steps:
        assert step.requests > 0, step
        assert step.failed == 0, f"users saw failures: {step}"
        assert step.hangs == 0, f"requests hung past 2 s: {step}"
        assert step.keys_lost == 0, f"keys lost: {step}"
        assert step.mixed == 0, (
            f"mixed snapshot: {step} {drill.observer and drill.observer.mixed_examples}"
        )
        assert step.fresh_after is not None, f"no fresh data after: {step}"
    redis_step = by_name["Redis SIGKILL, restart on same AOF"]
    assert redis_step.down_requests > 0
    assert redis_step.down_other == 0, (
        f"while Redis was down users got non-503/non-JSON: {redis_step}"
    )


def test_drill_report_replaces_only_its_own_block_of_benchmarks_md() -> None:
    from bench.report import DRILL_BEGIN, DRILL_END, replace_block

    bench_block = "<!-- bench:begin -->\nperf\n<!-- bench:end -->"
    text = f"# Benchmarks\n\n{bench_block}\n\n{DRILL_BEGIN}\nold\n{DRILL_END}\n"
    updated = replace_block(text, DRILL_BEGIN, DRILL_END, "new drill table")
    assert "perf" in updated and "new drill table" in updated and "old" not in updated
    assert replace_block("# Benchmarks\n", DRILL_BEGIN, DRILL_END, "first").endswith(
        f"{DRILL_BEGIN}\nfirst\n{DRILL_END}\n"
    )


def test_short_ha_drill_recovers_from_failover_lag_takeover_and_a_long_outage(
    sentinel_cluster: SentinelCluster,
    mistsim_factory: Callable[..., MistSim],
    tmp_path: Path,
) -> None:
    """Each step must recover at all (within the drill's bound, not its speed targets: the
    machine is shared) and never show users a failure, a mixed snapshot or a lost key."""
    config = HAConfig(users=10, interval=2, gateways=30, load_seconds=3.0, bound=45.0)
    config.rejoin = False  # the failover runs last: no wait for the old master's return
    sim = mistsim_factory(gateways=config.gateways, sites=10, tokens=TOKENS, latency_ms=10)
    mist = FixtureMist(sim)
    drill = HADrill(
        sentinel_cluster,
        mist,
        lambda changes: mist.admin("faults", changes),
        tmp_path,
        config,
        TOKENS,
        log=lambda _: None,
    )
    steps = drill.run()
    report = "\n".join(line for step in steps for line in step_lines(step))
    assert [step.name[:2] for step in steps] == ["1.", "2.", "3.", "4."], report
    for step in steps:
        for check in step.checks:
            if check.target.startswith("≤"):  # a time: it came at all, whatever the load
                assert isinstance(check.measured, float), f"never recovered: {check}\n{report}"
            elif check.ok is not None:
                assert check.ok, f"{step.name}: {check}\n{report}\n{drill.mixed_examples}"
    checks = {check.what: check for step in steps for check in step.checks}
    assert checks["worker published to the new master"].ok is not None
    assert checks["last-good answers marked stale with the data's age"].ok
    assert checks["answers with all 30 gateways"].ok
