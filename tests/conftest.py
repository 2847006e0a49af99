"""Shared fixtures. Each real thing (redis-server, mistsim, the web app, Chromium) lives in
its own module under tests/fixtures/ and is registered here as a plugin."""

from __future__ import annotations

from collections.abc import Generator

import pytest

pytest_plugins = [
    "tests.fixtures.redis_server",
    "tests.fixtures.sentinel_cluster",
    "tests.fixtures.mistsim_server",
    "tests.fixtures.worker_proc",
    "tests.fixtures.web_server",
    "tests.fixtures.browser",
]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A skipped test is a failed test, on a laptop as in CI: nothing may skip silently, and a
    local `make test` that passes is the run CI will pass (README, "make test")."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, which is not allowed: {report.longrepr}"
    return report
