"""Shared fixtures. Each real thing (redis-server, mistsim, the web app, Chromium) lives in
its own module under tests/fixtures/ and is registered here as a plugin."""

from __future__ import annotations

import os
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
    """In CI a skipped test is a failed test: nothing may skip silently."""
    report = yield
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which is not allowed: {report.longrepr}"
    return report
