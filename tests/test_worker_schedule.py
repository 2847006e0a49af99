"""When the worker's loop starts a refresh (worker.py `tick`): every WORKER_INTERVAL from the
previous refresh's START, so a change waits at most one interval for the refresh that reads
it (not the interval plus the refresh time); a refresh longer than the interval is followed
at once by the next. Real worker, mistsim and redis-server; the clock is the worker's own,
moved by the test (no waiting, no timing)."""

from __future__ import annotations

import time

from tests.test_worker import make_worker


def test_refreshes_start_every_interval_from_the_previous_start(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)
    now = [time.time() + 100_000.0]  # ahead of any status another test left in Redis
    starts: list[float] = []

    def refresh(seconds: float) -> bool:
        """A refresh that starts at the clock's time and takes `seconds` of it."""
        starts.append(now[0])
        instance.status.last_attempt = now[0]
        now[0] += seconds
        return True

    instance.clock = lambda: now[0]
    try:
        instance.refresh = lambda: refresh(40.0)  # type: ignore[method-assign]
        instance.tick()  # nothing refreshed yet: at once
        assert len(starts) == 1
        now[0] = starts[0] + 59.0
        instance.tick()
        assert len(starts) == 1  # 59 s after the start (19 s after the end): not yet
        now[0] = starts[0] + 60.0
        instance.tick()
        assert starts[1] == starts[0] + 60.0  # an interval after the START, not the end
        instance.refresh = lambda: refresh(75.0)  # type: ignore[method-assign]
        now[0] = starts[1] + 60.0
        instance.tick()  # longer than the interval …
        instance.tick()  # … so the next starts at the next tick
        assert starts[3] == starts[2] + 75.0
    finally:
        instance.close()
