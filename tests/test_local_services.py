"""The Compose stack without Docker: each tier runs as a local process from exactly what its
image holds (the files its Dockerfile COPYs, staged into a folder of their own), with the
command, environment and healthcheck the Dockerfile and docker-compose.yml give it, and Redis
started through the same ACL entrypoint. Then: healthy, filled, and the web cannot write."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.fixtures.mistsim_server import MistSim
from tests.fixtures.ports import free_port, wait_until
from tests.test_containers import (
    compose,
    dockerfile_copies,
    dockerfile_exec_form,
    dockerfile_instructions,
    interpolate,
    service_env,
)

ROOT = Path(__file__).resolve().parent.parent
WORKER_PASSWORD = "worker-pw-1"
WEB_PASSWORD = "web-pw-2"
GATEWAYS = 6


def stage_image(dockerfile: str, into: Path) -> Path:
    """Copy what the Dockerfile COPYs into `into`, as `docker build` would lay out /app."""
    into.mkdir(parents=True)
    for sources, destination in dockerfile_copies(ROOT / dockerfile):
        for source in sources:
            if source == "requirements.txt":
                continue
            origin = ROOT / source
            target = into / destination if destination not in {"./", "."} else into / source
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, target)
    return into


def local_argv(argv: list[str]) -> list[str]:
    """An image's `python ...` / `gunicorn ...` as this virtual environment runs it."""
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    if argv[0] == "gunicorn":
        return [sys.executable, "-m", "gunicorn", *argv[1:]]
    return argv


def image_env(dockerfile: str, home: Path) -> dict[str, str]:
    """What a container has besides its compose environment: the Dockerfile's ENV, a PATH,
    and a HOME that does not exist (the image's user has none; its root is read-only)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    for keyword, rest in dockerfile_instructions(ROOT / dockerfile):
        if keyword == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                env[name] = value
    return env


def tree(directory: Path) -> dict[str, float]:
    return {str(path): path.stat().st_mtime for path in directory.rglob("*")}


@dataclass
class Stack:
    redis_port: int
    web_port: int
    web_dir: Path
    worker_dir: Path
    web_env: dict[str, str]
    worker_env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]]
    logs: Path
    shipped: dict[str, dict[str, float]]

    def redis_as(self, user: str | None, password: str | None) -> redis.Redis:
        return redis.Redis(port=self.redis_port, username=user, password=password, socket_timeout=5)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {}


def start(
    name: str, argv: list[str], cwd: Path, env: dict[str, str], logs: Path
) -> subprocess.Popen[bytes]:
    with (logs / f"{name}.log").open("wb") as log:
        return subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.fixture
def stack(tmp_path: Path, mistsim_factory: Callable[..., MistSim]) -> Iterator[Stack]:
    sim = mistsim_factory(gateways=GATEWAYS, sites=2, tokens=["tok-1", "tok-2"])
    services = interpolate(
        compose()["services"],
        {
            "MIST_API_TOKEN": "tok-1,tok-2",
            "MIST_HOST": sim.host,
            "MIST_CA_BUNDLE": sim.ca_path,
            "REDIS_WORKER_PASSWORD": WORKER_PASSWORD,
            "REDIS_WEB_PASSWORD": WEB_PASSWORD,
            "WORKER_INTERVAL": "5",
        },
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    redis_port, web_port = free_port(), free_port()
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def local_redis(url: str) -> str:
        return url.replace("@redis:6379/", f"@127.0.0.1:{redis_port}/")

    redis_service = services["redis"]
    entrypoint = [
        str(ROOT / "redis" / "entrypoint.sh") if part.endswith("entrypoint.sh") else part
        for part in redis_service["entrypoint"]
    ]
    data = tmp_path / "redis-data"
    data.mkdir()
    redis_env = {
        "PATH": os.environ["PATH"],
        **service_env(redis_service),
        "REDIS_ACL_FILE": str(tmp_path / "users.acl"),
    }
    loopback = ["--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(data)]
    processes["redis"] = start(
        "redis", [*entrypoint, *redis_service["command"], *loopback], tmp_path, redis_env, logs
    )

    worker_dir = stage_image("Dockerfile.worker", tmp_path / "worker-image")
    home = tmp_path / "no-home"
    worker_env = {**image_env("Dockerfile.worker", home), **service_env(services["worker"])}
    worker_env["REDIS_URL"] = local_redis(worker_env["REDIS_URL"])
    web_dir = stage_image("Dockerfile.web", tmp_path / "web-image")
    web_env = {**image_env("Dockerfile.web", home), **service_env(services["web"])}
    web_env["REDIS_URL"] = local_redis(web_env["REDIS_URL"])
    web_env["PORT"] = str(web_port)
    # The image binds 0.0.0.0; tests stay on loopback (GUNICORN_CMD_ARGS beats the config file).
    web_env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{web_port}"

    shipped = {"web": tree(web_dir), "worker": tree(worker_dir)}
    stack = Stack(
        redis_port, web_port, web_dir, worker_dir, web_env, worker_env, processes, logs, shipped
    )
    try:
        wait_until(lambda: stack.redis_as(None, None).ping(), 20, "redis via the ACL entrypoint")
        worker_cmd = local_argv(dockerfile_exec_form(ROOT / "Dockerfile.worker", "CMD"))
        processes["worker"] = start("worker", worker_cmd, worker_dir, worker_env, logs)
        web_cmd = local_argv(dockerfile_exec_form(ROOT / "Dockerfile.web", "CMD"))
        processes["web"] = start("web", web_cmd, web_dir, web_env, logs)
        yield stack
    finally:
        for process in reversed(processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, 15)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait(timeout=10)


def healthcheck(
    dockerfile: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    argv = local_argv(dockerfile_exec_form(ROOT / dockerfile, "HEALTHCHECK"))
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=30)


def test_the_stack_turns_healthy_and_the_web_can_only_read(stack: Stack) -> None:
    def refreshed() -> bool:
        status, body = health(stack.web_port)
        return status == 200 and body.get("last_update") is not None

    try:
        wait_until(refreshed, 90, "/health with a published refresh")
    except TimeoutError:
        pytest.fail(
            "never healthy:\n"
            + "\n".join(f"--- {name}\n{stack.log(name)[-3000:]}" for name in stack.processes)
        )

    # The images' own HEALTHCHECK commands agree.
    web_check = healthcheck("Dockerfile.web", stack.web_dir, stack.web_env)
    assert web_check.returncode == 0, web_check.stderr
    worker_check = healthcheck("Dockerfile.worker", stack.worker_dir, stack.worker_env)
    assert worker_check.returncode == 0, worker_check.stdout + worker_check.stderr
    redis_check = compose()["services"]["redis"]["healthcheck"]["test"][1]
    local_check = redis_check.replace("redis-cli", f"redis-cli -p {stack.redis_port}")
    assert subprocess.run(["sh", "-c", local_check], timeout=30).returncode == 0

    with urllib.request.urlopen(
        f"http://127.0.0.1:{stack.web_port}/api/gateways", timeout=10
    ) as answer:
        assert len(json.loads(answer.read())["gateways"]) == GATEWAYS

    # A filtered events page runs its filter in Redis (EVAL_RO), which the web's user may do.
    with urllib.request.urlopen(
        f"http://127.0.0.1:{stack.web_port}/api/events?severity=critical,warning", timeout=10
    ) as answer:
        assert answer.status == 200 and "events" in json.loads(answer.read())

    web = stack.redis_as("web", WEB_PASSWORD)
    assert web.get("mist:gateways") is not None
    for write in (
        lambda: web.set("mist:gateways", b"{}"),
        lambda: web.delete("mist:gateways"),
        lambda: web.expire("mist:gateways", 1),
        lambda: web.flushall(),
        lambda: web.config_get("*"),
        lambda: web.eval("return redis.call('DEL', KEYS[1])", 1, "mist:gateways"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            write()

    worker = stack.redis_as("worker", WORKER_PASSWORD)
    worker.set("mist:probe", b"1")
    for forbidden in (
        lambda: worker.set("other:key", b"1"),
        lambda: worker.flushall(),
        lambda: worker.config_set("appendonly", "no"),
        lambda: worker.keys("mist:*"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()

    anonymous = stack.redis_as(None, None)
    assert anonymous.ping()
    with pytest.raises(redis.exceptions.NoPermissionError):
        anonymous.get("mist:gateways")
    with pytest.raises(redis.exceptions.AuthenticationError):
        stack.redis_as("web", "wrong-password").ping()

    # A read-only container root: the tiers wrote nothing next to their code or into HOME.
    assert tree(stack.web_dir) == stack.shipped["web"]
    assert tree(stack.worker_dir) == stack.shipped["worker"]
    assert not Path(stack.web_env["HOME"]).exists()

    for name in ("web", "worker"):
        assert "tok-1" not in stack.log(name), f"a token reached the {name} log"
    assert not any(key.startswith("MIST_") for key in stack.web_env)


def test_the_worker_refuses_to_start_without_a_token(stack: Stack) -> None:
    env = {key: value for key, value in stack.worker_env.items() if key != "MIST_API_TOKEN"}
    argv = local_argv(dockerfile_exec_form(ROOT / "Dockerfile.worker", "CMD"))
    result = subprocess.run(
        argv, cwd=stack.worker_dir, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "MIST_API_TOKEN" in result.stderr and "Traceback" not in result.stderr
