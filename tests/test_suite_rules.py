"""The suite's own rules, checked by running pytest on a throwaway test as `make test` would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-o", "addopts=", "-q"]


def run_pytest(test_file: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PYTEST, "--rootdir", str(ROOT), str(test_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_fails_the_run_locally_as_in_ci(tmp_path: Path) -> None:
    """Without CI set (a developer's `make test`) a skip is as loud as in CI: a failure."""
    test_file = tmp_path / "test_skipping.py"
    test_file.write_text(
        "import pytest\n\n\ndef test_needs_something():\n    pytest.skip('no frobnicator')\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    result = run_pytest(test_file, env)
    assert result.returncode == 1, result.stdout
    assert "skipped, which is not allowed" in result.stdout and "no frobnicator" in result.stdout
    assert "1 failed" in result.stdout
