"""`make demo`: Redis, the worker and the web app as three local processes, in one terminal.

Without MIST_API_TOKEN (environment or .env) it also starts the Mist simulator and points
only the worker at it, so the dashboard fills with a simulated org in seconds. Every line a
tier prints is shown prefixed by its name; Ctrl-C (or SIGTERM) stops all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from settings import read_environment

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 10.0
SIMULATOR_READY_SECONDS = 60.0
# If the demo itself is killed outright (SIGKILL), the kernel sends each tier SIGTERM
# (Linux util-linux; elsewhere the tiers are only stopped on Ctrl-C/SIGTERM).
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None
ORPHAN_GUARD = [_SETPRIV, "--pdeathsig", "TERM", "--"] if _SETPRIV else []
COLOURS = {"redis": "31", "mistsim": "35", "worker": "33", "web": "36", "demo": "1"}


class DemoError(Exception):
    """Something the person running the demo can fix; the message says what."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Tier:
    """One child process and the thread that copies its output, prefixed, to ours."""

    name: str
    process: subprocess.Popen[str]
    pump: threading.Thread


@dataclass
class Console:
    """Serialised, prefixed output: one line per write, tiers never interleave mid-line."""

    colour: bool = field(default_factory=lambda: sys.stdout.isatty())
    lock: threading.Lock = field(default_factory=threading.Lock)

    def line(self, name: str, text: str) -> None:
        prefix = f"{name:>7} |"
        if self.colour:
            prefix = f"\033[{COLOURS.get(name, '0')}m{prefix}\033[0m"
        with self.lock:
            sys.stdout.write(f"{prefix} {text}\n")
            sys.stdout.flush()


class Supervisor:
    """Starts tiers in their own process groups and stops them all, newest first."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tiers: list[Tier] = []
        self.stop_requested = threading.Event()

    def start(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        on_line: Callable[[str], None] | None = None,
    ) -> Tier:
        process = subprocess.Popen(
            [*ORPHAN_GUARD, *argv],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            errors="replace",
            start_new_session=True,  # Ctrl-C reaches us only; we stop the tiers in order
        )
        pump = threading.Thread(
            target=self._pump, args=(name, process, on_line), name=f"pump-{name}", daemon=True
        )
        pump.start()
        tier = Tier(name, process, pump)
        self.tiers.append(tier)
        self.console.line("demo", f"started {name} (pid {process.pid})")
        return tier

    def _pump(
        self, name: str, process: subprocess.Popen[str], on_line: Callable[[str], None] | None
    ) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            text = raw.rstrip("\n")
            self.console.line(name, text)
            if on_line is not None:
                on_line(text)

    def exited(self) -> Tier | None:
        """The first tier that has stopped on its own, if any."""
        return next((tier for tier in self.tiers if tier.process.poll() is not None), None)

    def stop_all(self) -> None:
        """SIGTERM each tier's process group (newest first), then SIGKILL what is left."""
        for tier in reversed(self.tiers):
            self._signal(tier, signal.SIGTERM)
            try:
                tier.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.console.line("demo", f"{tier.name} did not stop in time: killing it")
            # Whatever the tier left in its group (e.g. gunicorn workers) goes too.
            self._signal(tier, signal.SIGKILL)
            tier.process.wait(timeout=STOP_GRACE_SECONDS)
            tier.pump.join(timeout=2)

    @staticmethod
    def _signal(tier: Tier, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(tier.process.pid, signum)


# --- ports ----------------------------------------------------------------------------------


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def any_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(host: str, wanted: str | None, default: int, setting: str) -> tuple[int, str]:
    """An explicitly wanted port must be free (exit 2 naming it); a default may move."""
    if wanted:
        try:
            port = int(wanted)
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise DemoError(f"{setting} must be a port number from 1 to 65535, not {wanted!r}", 2)
        if not port_is_free(host, port):
            raise DemoError(f"{setting} {port} is already in use on {host}: choose another", 2)
        return port, ""
    if port_is_free(host, default):
        return default, ""
    port = any_free_port(host)
    return port, f"port {default} is taken: using {port} instead"


def wait_for(check: Callable[[], bool], seconds: float, what: str, supervisor: Supervisor) -> None:
    """Poll until `check` holds; give up when a tier dies, a stop is asked, or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if supervisor.stop_requested.is_set():
            raise DemoError("stopped before start-up finished", 0)
        if (dead := supervisor.exited()) is not None:
            raise DemoError(f"{dead.name} exited with code {dead.process.returncode}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise DemoError(f"timed out after {seconds:.0f}s waiting for {what}")


def answers(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def published(url: str) -> bool:
    """True once /health answers and reports a refresh in Redis (its last_update). A slow,
    refused, cut or odd answer is a False, never an exception: the demo keeps running."""
    try:
        with urllib.request.urlopen(f"{url}health", timeout=2) as response:  # noqa: S310
            return json.loads(response.read()).get("last_update") is not None
    except (OSError, ValueError, http.client.HTTPException, AttributeError):
        return False


# --- the tiers ------------------------------------------------------------------------------


SIMULATED_ORG_FILE = "demo-simulated-org.json"


def simulated_org_state(data_dir: Path, org: Mapping[str, int]) -> str:
    """Keep var/redis only for the simulated org that filled it: another org (other
    --gateways or --sites: the same gateway ids with other counters) starts an empty Redis,
    or its old history would turn into impossible rates. Returns the line saying which."""
    marker = data_dir / SIMULATED_ORG_FILE
    try:
        before = json.loads(marker.read_text())
    except (OSError, ValueError):
        before = None
    shape = ", ".join(f"{key} {value}" for key, value in org.items())
    data_dir.mkdir(parents=True, exist_ok=True)
    if before == dict(org):
        return f"Redis: same simulated org as last time ({shape}): its history continues"
    for stale in ("appendonlydir", "dump.rdb"):
        path = data_dir / stale
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    marker.write_text(json.dumps(dict(org)))
    return f"Redis: a new simulated org ({shape}): starting with an empty Redis state"


def start_redis(
    supervisor: Supervisor, data_dir: Path, port: int, embedded: bool
) -> tuple[str, str]:
    """A real redis-server with AOF in var/redis, else fakeredis; returns (url, what).

    redis-server gets a fresh password (from a private config file, never argv, so `ps`
    does not show it) and protected mode; the fakeredis stand-in does not check passwords.
    """
    password = secrets.token_urlsafe(24)
    server = None if embedded else shutil.which("redis-server")
    if server is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        config = data_dir / "demo-redis.conf"
        config.unlink(missing_ok=True)
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"requirepass {password}\n")
        argv = [server, str(config), "--port", str(port), "--bind", "127.0.0.1"]
        argv += ["--dir", str(data_dir), "--appendonly", "yes", "--save", "300 1"]
        for lazy in ("server-del", "user-del", "expire"):  # big values freed in the background
            argv += [f"--lazyfree-lazy-{lazy}", "yes"]
        supervisor.start("redis", [*argv, "--protected-mode", "yes"], os.environ)
        what = f"redis-server with its append-only file in {data_dir}"
    else:
        argv = [sys.executable, "-m", "scripts.embedded_redis", "--port", str(port)]
        supervisor.start("redis", argv, {**os.environ, "PYTHONUNBUFFERED": "1"})
        why = "as asked" if embedded else "no redis-server found"
        what = f"{why}: using fakeredis, in memory (install redis-server to keep data)"
    wait_for(lambda: answers("127.0.0.1", port), 20, "Redis", supervisor)
    return f"redis://:{password}@127.0.0.1:{port}/0", what


@dataclass(frozen=True)
class Simulator:
    host: str
    org_id: str
    ca_file: str
    token: str


def start_simulator(
    supervisor: Supervisor, var_dir: Path, gateways: int, sites: int, orgs: int = 1
) -> Simulator:
    """`python -m mistsim` on a free port; waits for its one `mistsim ready` line. With
    `orgs` > 1 it is an MSP of that many orgs and the token returned is the MSP's."""
    token = secrets.token_urlsafe(24)
    ca_file = var_dir / "mistsim" / "ca.pem"
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    ready: dict[str, str] = {}
    seen = threading.Event()

    def on_line(text: str) -> None:
        if not seen.is_set() and text.startswith("mistsim ready"):
            for word in text.split()[2:]:
                key, _, value = word.partition("=")
                ready[key] = value
            seen.set()

    argv = [sys.executable, "-m", "mistsim", "--port", "0", "--gateways", str(gateways)]
    argv += ["--sites", str(sites), "--ca-file", str(ca_file)]
    # The token goes through the environment: argv is visible to every user in `ps`.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MISTSIM_TOKENS": token}
    if orgs > 1:
        argv += ["--orgs", str(orgs), "--spread-orgs"]
        env["MISTSIM_TOKENS"] = secrets.token_urlsafe(24)  # an org token nobody uses
        env["MISTSIM_MSP_TOKENS"] = token
    supervisor.start("mistsim", argv, env, on_line)
    wait_for(seen.is_set, SIMULATOR_READY_SECONDS, "the Mist simulator", supervisor)
    return Simulator(ready["host"], ready["org_id"], ready.get("ca", str(ca_file)), token)


def tier_env(base: Mapping[str, str], **values: str) -> dict[str, str]:
    env = {key: value for key, value in base.items() if not key.startswith("MIST_")}
    return {**env, "PYTHONUNBUFFERED": "1", **values}


def simulated_worker_env(
    args: argparse.Namespace, supervisor: Supervisor, var_dir: Path, interval: str
) -> dict[str, str]:
    """Start the simulator (an MSP of `--orgs` orgs when asked) and say how the worker
    reaches it."""
    console = supervisor.console
    console.line("demo", "no MIST_API_TOKEN: starting the Mist simulator for the worker")
    orgs = max(1, args.orgs)
    simulator = start_simulator(supervisor, var_dir, args.gateways, args.sites, orgs)
    if orgs > 1:
        console.line(
            "demo",
            f"a simulated MSP of {orgs} orgs ({args.gateways} gateways in all) read with its "
            "MSP token (MIST_ORG_ID=*); the API takes ?org=<org_id>, /api/status lists them",
        )
    return {
        "MIST_HOST": simulator.host,
        "MIST_CA_BUNDLE": simulator.ca_file,
        "MIST_API_TOKEN": simulator.token,
        "MIST_ORG_ID": simulator.org_id if orgs == 1 else "*",
        "WORKER_INTERVAL": interval,
    }


def run(args: argparse.Namespace, supervisor: Supervisor) -> int:
    console = supervisor.console
    settings = read_environment(env_file=ROOT / ".env")
    real_mist = bool(settings.get("MIST_API_TOKEN", "").strip()) and not args.simulator
    var_dir = Path(args.var_dir).resolve()

    web_port, moved = choose_port(args.host, args.port or settings.get("PORT"), 5000, "PORT")
    if moved:
        console.line("demo", moved)
    redis_port, moved = choose_port("127.0.0.1", None, 6379, "Redis port")
    if moved:
        console.line("demo", f"Redis: {moved}")

    if not real_mist and not args.embedded_redis and shutil.which("redis-server"):
        org = {"gateways": args.gateways, "sites": args.sites}
        if args.orgs > 1:
            org["orgs"] = args.orgs
        console.line("demo", simulated_org_state(var_dir / "redis", org))
    redis_url, what = start_redis(supervisor, var_dir / "redis", redis_port, args.embedded_redis)
    console.line("demo", f"Redis: {what}")

    worker_env = tier_env(os.environ, REDIS_URL=redis_url)
    if real_mist:
        # The worker reads the token itself, from the environment or .env.
        worker_env = {**os.environ, "PYTHONUNBUFFERED": "1", "REDIS_URL": redis_url}
        console.line("demo", "MIST_API_TOKEN is set: the worker reads your Mist org")
        interval = settings.get("WORKER_INTERVAL", "") or "300"
    else:
        interval = str(args.interval)
        worker_env.update(simulated_worker_env(args, supervisor, var_dir, interval))
    supervisor.start("worker", [sys.executable, "worker.py"], worker_env)

    web_env = tier_env(os.environ, REDIS_URL=redis_url, PORT=str(web_port))
    web_env["WORKER_INTERVAL"] = interval
    bind = f"{args.host}:{web_port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    supervisor.start("web", [*gunicorn, "--bind", bind, "app:create_app()"], web_env)

    shown_host = "127.0.0.1" if args.host in {"0.0.0.0", ""} else args.host  # noqa: S104
    url = f"http://{shown_host}:{web_port}/"
    wait_for(lambda: answers(shown_host, web_port), 60, "the web app", supervisor)
    console.line("demo", f"dashboard: {url}   (Ctrl-C stops all tiers)")
    # A big org's first refresh can take minutes: wait for it without a deadline.
    announced = False
    while not supervisor.stop_requested.wait(0.5):
        if (dead := supervisor.exited()) is not None:
            raise DemoError(f"{dead.name} exited with code {dead.process.returncode}")
        if not announced and published(url):
            console.line("demo", f"first refresh published: {url} shows the org")
            announced = True
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--port", help="dashboard port (default: PORT, else 5000 or a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address the dashboard listens on")
    parser.add_argument("--var-dir", default=str(ROOT / "var"), help="where Redis keeps its files")
    parser.add_argument("--gateways", type=int, default=60, help="simulated gateways")
    parser.add_argument("--sites", type=int, default=20, help="simulated sites")
    parser.add_argument(
        "--orgs",
        type=int,
        default=1,
        help="simulated orgs behind one MSP (gateways spread over them, a few big, many small)",
    )
    parser.add_argument("--interval", type=int, default=30, help="simulated refresh interval (s)")
    parser.add_argument(
        "--simulator", action="store_true", help="use the simulator even with a token"
    )
    parser.add_argument(
        "--embedded-redis", action="store_true", help="use fakeredis even with redis-server"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    supervisor = Supervisor(console)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        supervisor.stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        code = run(args, supervisor)
    except DemoError as error:
        if error.exit_code:
            console.line("demo", f"error: {error}")
        code = error.exit_code
    finally:
        if supervisor.tiers:
            console.line("demo", "stopping web, worker, simulator and Redis ...")
            supervisor.stop_all()
            console.line("demo", "all tiers stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
