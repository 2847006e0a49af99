"""Start and stop the real pieces (redis-server, mistsim, worker.py, gunicorn) on loopback.

The bench and the drill drive the product exactly as a user runs it: separate processes,
configured only through the environment, on free loopback ports.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tests.fixtures.ports import free_port, port_open, stop_process, wait_until
from tests.fixtures.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MIST_ELSEWHERE = ["nice", "-n", "10"]
"""mistsim stands in for Mist's cloud, which never shares the product's cores: it runs at the
worker's niceness, behind Redis and the web, as the worker itself does."""

__all__ = [
    "ROOT",
    "Gunicorn",
    "Mistsim",
    "NginxPair",
    "RedisServer",
    "WorkerRun",
    "ensure_wrk",
    "free_port",
    "port_open",
    "run_worker_once",
    "start_worker",
    "wait_until",
]

READY = re.compile(r"mistsim ready host=(?P<host>\S+) org_id=(?P<org>\S+) ca=(?P<ca>\S+)")


def ensure_wrk() -> str:
    """Path to wrk; installs Debian's package when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed: `sudo apt-get install wrk`")
    return found


class MistEndpoint(Protocol):
    """Where a worker finds Mist: the simulator's host, CA file and org."""

    @property
    def host(self) -> str: ...
    @property
    def ca(self) -> str: ...
    @property
    def org_id(self) -> str: ...


@dataclass
class Mistsim:
    """A `python -m mistsim` process; `host` is `127.0.0.1:PORT` for MIST_HOST."""

    gateways: int
    sites: int
    tokens: list[str]
    workdir: Path
    latency_ms: int = 0
    extra: list[str] = field(default_factory=list)
    host: str = ""
    org_id: str = ""
    ca: str = ""
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    def start(self, timeout: float = 180.0) -> Mistsim:
        self.workdir.mkdir(parents=True, exist_ok=True)
        ca_file = self.workdir / "mistsim-ca.pem"
        argv = [
            *MIST_ELSEWHERE,
            PYTHON,
            "-m",
            "mistsim",
            "--port",
            "0",
            "--gateways",
            str(self.gateways),
            "--sites",
            str(self.sites),
            "--tokens",
            ",".join(self.tokens),
            "--ca-file",
            str(ca_file),
            "--latency-ms",
            str(self.latency_ms),
            "--wan-ports-min",
            "4",
            "--wan-ports-max",
            "4",
            "--peer-paths",
            "6",
            *self.extra,
        ]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                match = READY.search(line)
                if match and not ready.is_set():
                    self.host, self.org_id, self.ca = match["host"], match["org"], match["ca"]
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(self.output[-20:])
                self.stop()
                raise RuntimeError(f"mistsim did not start ({self.gateways} gateways):\n{tail}")
        return self

    @property
    def base(self) -> str:
        return f"https://{self.host}"

    def admin(self, path: str, body: Any = None, method: str | None = None) -> Any:
        """Call `/__mistsim/<path>`; JSON in, JSON out."""
        import json
        import ssl

        context = ssl.create_default_context(cafile=self.ca)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base}/__mistsim/{path}",
            data=data,
            method=method or ("GET" if data is None else "POST"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        self.process = None


def worker_env(
    mist: MistEndpoint, redis_url: str, interval: float, tokens: list[str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIST_", "REDIS_"))}
    env.update(
        MIST_HOST=mist.host,
        MIST_CA_BUNDLE=mist.ca,
        MIST_API_TOKEN=",".join(tokens),
        MIST_ORG_ID=mist.org_id,
        REDIS_URL=redis_url,
        WORKER_INTERVAL=str(max(1, round(interval))),
        PYTHONUNBUFFERED="1",
    )
    return env


@dataclass
class WorkerRun:
    """How one `worker.py --once` went: exit code, wall time, peak RSS, output."""

    returncode: int
    seconds: float
    peak_rss_mb: float
    output: str


def run_worker_once(
    mist: Mistsim,
    redis_url: str,
    tokens: list[str],
    timeout: float = 600.0,
    interval: int = 300,
    extra_env: dict[str, str] | None = None,
) -> WorkerRun:
    """Run `worker.py --once` and take its own peak RSS (VmHWM, sampled until it exits).

    Not wait4's ru_maxrss: Linux carries the high-water mark of the process that spawned
    it across exec into it, so the worker would be charged the bench's own peak (Chromium's
    driver, the seeded histories) whenever that is the larger.
    """
    log = (mist.workdir / f"worker-once-{time.monotonic_ns()}.log").open("w+")
    started = time.monotonic()
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "worker.py"), "--once"],
        cwd=mist.workdir,
        stdin=subprocess.DEVNULL,
        env={**worker_env(mist, redis_url, interval, tokens), **(extra_env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    peak_kib = 0
    try:
        while True:
            peak_kib = max(peak_kib, _high_water_kib(process.pid))
            pid, status = os.waitpid(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
    finally:
        timer.cancel()
    seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    log.seek(0)
    output = log.read()
    log.close()
    return WorkerRun(process.returncode, seconds, peak_kib / 1024, output)


def _high_water_kib(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM, KiB); 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else 0


def start_worker(
    mist: MistEndpoint,
    redis_url: str,
    tokens: list[str],
    interval: float,
    log: Path,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """A long-running worker (the drill's), writing its output to `log`; `extra_env` adds
    settings (e.g. REDIS_SENTINELS to find Redis through the Sentinels)."""
    handle = log.open("ab")
    return subprocess.Popen(
        [PYTHON, str(ROOT / "worker.py")],
        cwd=log.parent,
        stdin=subprocess.DEVNULL,
        env={**worker_env(mist, redis_url, interval, tokens), **(extra_env or {})},
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def kill(process: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class Gunicorn:
    """gunicorn with the Docker image's settings (`gunicorn.conf.py`), bound to loopback."""

    app: str
    redis_url: str
    log: Path
    port: int = 0
    env_extra: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Gunicorn:
        self.port = self.port or free_port()
        argv = [PYTHON, "-m", "gunicorn"]
        config = ROOT / "gunicorn.conf.py"
        if config.exists():
            argv += ["-c", str(config)]
        # Command-line settings win over the config file: loopback only, our port.
        argv += ["--bind", f"127.0.0.1:{self.port}", "--no-control-socket"]
        # Run outside the checkout so a developer's .env cannot change what is measured.
        argv += ["--pythonpath", str(ROOT), "--chdir", str(self.log.parent), self.app]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MIST_", "REDIS_"))}
        env.update(REDIS_URL=self.redis_url, PYTHONUNBUFFERED="1", **self.env_extra)
        env.pop("GUNICORN_CMD_ARGS", None)
        if env.get("LOG_LEVEL", "info").lower() not in ("debug", "info"):
            env["LOG_LEVEL"] = "info"  # "Listening at" (our readiness sign) is an info line
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            argv,
            cwd=self.log.parent,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: restart() can drop it whole
        )
        try:
            wait_until(
                self._listening,
                timeout=timeout,
                what=f"gunicorn {self.app}",
            )
        except TimeoutError as error:
            self.stop()
            tail = self.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"gunicorn {self.app} did not start:\n{tail}") from error
        return self

    def _listening(self) -> bool:
        """Our gunicorn is up: alive, and its own log names the port with its pid (another
        server that took the port between free_port() and the bind must not pass for it)."""
        process = self.process
        if process is None or process.poll() is not None:
            return False
        said = f"Listening at: {self.url} ({process.pid})"
        return said in self.log.read_text(errors="replace") and port_open(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        kill(self.process)
        self.process = None

    def restart(self) -> None:
        """SIGKILL master and workers (in-flight requests dropped, no CPU left burning on
        them) and a fresh start on the same port."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None
        self.start()


HA_CONF = ROOT / "deploy" / "nginx" / "ha.conf"
HA_TEMPLATED = ("listen ${PORT};", "server web-1:${PORT}", "server web-2:${PORT}")


def render_ha_conf(port: int, web_ports: tuple[int, int], directory: Path) -> str:
    """docker-compose.ha.yml's nginx (deploy/nginx/ha.conf, a conf.d server block) on
    127.0.0.1:`port` in front of two local gunicorns, inside the minimal main config the
    official image wraps it in (pid and temp files in `directory`)."""
    text = HA_CONF.read_text()
    if any(text.count(value) != 1 for value in HA_TEMPLATED):
        raise RuntimeError(f"the templated values of {HA_CONF} moved: {HA_TEMPLATED}")
    text = text.replace(HA_TEMPLATED[0], f"listen 127.0.0.1:{port};")
    text = text.replace(HA_TEMPLATED[1], f"server 127.0.0.1:{web_ports[0]}")
    text = text.replace(HA_TEMPLATED[2], f"server 127.0.0.1:{web_ports[1]}")
    (directory / "ha.conf").write_text(text)
    temp = " ".join(
        f"{kind}_temp_path {directory}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\npid {directory}/nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 2048; }\n"
        f"http {{ access_log off; {temp} include {directory}/ha.conf; }}\n"
    )


@dataclass
class NginxPair:
    """Debian's nginx on the HA file's config: one loopback port, two web replicas behind."""

    web_ports: tuple[int, int]
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Any = None

    def start(self, timeout: float = 15.0) -> NginxPair:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx is not installed: run `make system-deps`")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        config = self.directory / "nginx.conf"
        config.write_text(render_ha_conf(self.port, self.web_ports, self.directory))
        self.log = (self.directory / "nginx.log").open("ab")
        argv = [binary, "-e", "stderr", "-p", str(self.directory), "-c", str(config)]
        self.process = subprocess.Popen(
            [*argv, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: port_open(self.port), timeout, f"nginx on port {self.port}")
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        kill(self.process)
        self.process = None
        if self.log is not None:
            self.log.close()
