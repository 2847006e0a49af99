"""Trust: a canary token must never surface anywhere a person or another process can read it,
the pinned dependencies must carry no known vulnerability, and bandit must find nothing
unexplained in the product code.

The canary run is end to end and real: mistsim accepts only the canary, `worker.py --once`
spends it, gunicorn (the Docker image's settings, access log on, debug logging) serves every
route; then every HTTP response, every log line and every Redis value (SCAN, every type,
gzip twins opened, plus the AOF files on disk) is searched for it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.procs import Gunicorn
from tests.fixtures.mistsim_server import MistSim
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.webhook_receiver import WebhookReceiver
from tests.test_events import quiet_gateway

ROOT = Path(__file__).resolve().parents[1]
NOTES = ROOT / "bench" / "SECURITY-NOTES.md"
PACKAGES = ("web", "store", "history", "model", "views", "mist", "traffic", "refresh", "alerts")
PRODUCT = sorted(
    p.relative_to(ROOT).as_posix()
    for p in [
        *ROOT.glob("*.py"),
        *(path for name in PACKAGES for path in ROOT.glob(f"{name}/*.py")),
    ]
)


def canary() -> str:
    return "canary" + secrets.token_hex(20)


def run_worker_once(sim: MistSim, redis_url: str, tokens: str, workdir: Path, **extra: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "MIST_API_TOKEN": tokens,
        "MIST_HOST": sim.host,
        "MIST_CA_BUNDLE": str(sim.ca_path),
        "REDIS_URL": redis_url,
        "WORKER_INTERVAL": "300",
        "LOG_LEVEL": "DEBUG",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py"), "--once"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return done.stdout + done.stderr


def redis_values(client: Any) -> list[tuple[str, bytes]]:
    """Every key and every value in it, whatever its type; gzip twins opened."""
    found: list[tuple[str, bytes]] = []
    for raw_key in client.scan_iter(count=1000):
        key = raw_key.decode()
        kind = client.type(key).decode()
        parts: list[Any] = [raw_key]
        if kind == "string":
            parts.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == "list":
            parts += client.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(client.smembers(key))
        elif kind == "zset":
            parts += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, entry in client.xrange(key):
                for field, value in entry.items():
                    parts += [field, value]
        else:
            pytest.fail(f"unexpected Redis type {kind} for {key}")
        for part in parts:
            data = bytes(part)
            found.append((key, data))
            if data[:2] == b"\x1f\x8b":
                found.append((key + " (gunzipped)", gzip.decompress(data)))
    return found


def fetch(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, body = error.code, error.headers, error.read()
    if headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    head = "".join(f"{k}: {v}\n" for k, v in headers.items()).encode()
    return status, head + b"\n" + body


def app_rules(redis_url: str) -> list[str]:
    """The URL rules of the real app, Flask's and the fast path's (built in a child process so
    no state leaks here)."""
    code = (
        "from app import create_app\napp = create_app()\n"
        "for r in app.url_map.iter_rules(): print(r.rule)\n"
        "for path in app.extensions['fast_paths'].routes: print(path)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rules = done.stdout.split()
    assert "/api/gateways" in rules, done.stderr[-2000:]
    return rules


def every_url(base: str, redis_url: str) -> list[str]:
    """All API routes (from the live data), the page, and every static file it or app.py has."""
    client = redis.Redis.from_url(redis_url)
    payload = json.loads(client.get("mist:gateways") or b"{}")
    gateway = (payload.get("gateways") or [{}])[0]
    gateway_id = gateway.get("id", "none")
    port_id = ((gateway.get("ports") or [{}])[0]).get("port_id", "ge-0/0/0")
    paths = [
        "/",
        "/health",
        "/api/status",
        "/api/organization",
        "/api/sites",
        "/api/gateways",
        "/api/gateways/rows",
        "/api/vpn-peers/all",
        "/api/insights/all",
        f"/api/gateway/{gateway_id}",
        f"/api/gateway/{gateway_id}/vpn-peers",
        *[f"/api/gateway/{gateway_id}/port/{port_id}/traffic?range={r}" for r in ("1h", "7d")],
        f"/api/gateway/{gateway_id}/port/{port_id}/traffic?range=bogus",
        "/api/export.csv",
        "/manifest.webmanifest",
        "/favicon.ico",
        "/api/no-such-route",
    ]
    # Every route the app has (a new one is swept without editing this test).
    for rule in app_rules(redis_url):
        if "<path:name>" in rule:
            continue  # static files: walked below
        path = rule.replace("<gateway_id>", gateway_id).replace("<path:port_id>", port_id)
        assert "<" not in path, f"route {rule} has a parameter the sweep cannot fill"
        paths.append(path)
    _, page = fetch(base + "/")
    linked = re.findall(rb"""(?:src|href)=["'](/[^"']+)["']""", page)
    paths += [link.decode() for link in linked]
    for file in sorted((ROOT / "static").rglob("*")):
        if file.is_file():
            paths.append("/static/" + file.relative_to(ROOT / "static").as_posix())
    return [base + path for path in dict.fromkeys(paths)]


def test_canary_token_never_appears_in_responses_logs_or_redis(
    redis_server: RedisServer,
    mistsim_factory: Callable[..., MistSim],
    tmp_path: Path,
) -> None:
    token, rejected = canary(), canary()
    sim = mistsim_factory(gateways=12, sites=6, tokens=[token])
    with WebhookReceiver() as hook, WebhookReceiver() as failing:
        failing.status = 500  # the error paths (last_error, retries) must not show it either
        secrets_in_urls = [canary(), canary()]
        hooks = [
            hook.url(f"/services/{secrets_in_urls[0]}"),
            failing.url(f"/hook?sig={secrets_in_urls[1]}"),
        ]
        alerting = {"ALERT_WEBHOOK_URLS": ",".join(hooks), "ALERT_WEBHOOK_FORMATS": "slack"}
        worker_log = run_worker_once(sim, redis_server.url, token, tmp_path, **alerting)
        client = redis_server.client()
        assert client.get("mist:gateways"), (
            f"the canary run published nothing:\n{worker_log[-3000:]}"
        )
        record = quiet_gateway(client)  # a port down: an event, so alerts go to both hooks
        port = {"mac": record["mac"], "port_id": record["ports"][0]["port_id"], "state": "down"}
        sim.admin("POST", "link", json=port)
        worker_log += run_worker_once(sim, redis_server.url, token, tmp_path, **alerting)
    assert hook.delivered() and failing.requests, f"no alert was sent:\n{worker_log[-3000:]}"
    receivers = json.loads(client.get("mist:metadata:status") or b"{}").get("receivers")
    assert [r["last_error"] for r in receivers] == [None, "HTTP 500"], receivers
    # A token Mist rejects takes the error paths: those logs must not show it either.
    worker_log += run_worker_once(sim, redis_server.url, rejected, tmp_path)

    web = Gunicorn(
        "app:create_app()",
        redis_server.url,
        tmp_path / "web.log",
        env_extra={"ACCESS_LOG": "1", "LOG_LEVEL": "DEBUG"},
    ).start()
    try:
        responses = [(url, *fetch(url)) for url in every_url(web.url, redis_server.url)]
    finally:
        web.stop()
    assert sum(1 for _, status, _ in responses if status == 200) >= 10, [
        (url, status) for url, status, _ in responses
    ]

    needles = [t.encode() for t in (token, rejected, *hooks, *secrets_in_urls)]

    def leaks(data: bytes) -> bool:
        return any(needle in data for needle in needles)

    hits = [f"response {url}" for url, _, body in responses if leaks(body)]
    logs = worker_log.encode() + (tmp_path / "web.log").read_bytes()
    hits += [f"log line: {line[:200]!r}" for line in logs.splitlines() if leaks(line)]
    hits += [f"redis key {key}" for key, value in redis_values(client) if leaks(value)]
    for path in redis_server.directory.rglob("*"):
        if path.is_file() and leaks(path.read_bytes()):
            hits.append(f"redis file {path.name}")
    assert hits == [], "the canary token leaked:\n" + "\n".join(hits)
    assert len(logs.splitlines()) > 5, "expected the worker and web to log something"


def test_runtime_requirements_are_pinned_exactly() -> None:
    """The images install exactly these; an unpinned line would make the audit meaningless."""
    lines = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
    ]
    requirements = [line for line in lines if line]
    assert requirements
    loose = [line for line in requirements if not re.fullmatch(r"[A-Za-z0-9._-]+==[\w.]+", line)]
    assert loose == [], f"not pinned with ==: {loose}"


OFFLINE_ENV = {
    "PIP_CONFIG_FILE": "/dev/null",  # no configured local index or wheel directory
    "PIP_NO_INDEX": "1",
    **{name: "http://127.0.0.1:9" for name in ("HTTPS_PROXY", "HTTP_PROXY")},
    **{name: "http://127.0.0.1:9" for name in ("https_proxy", "http_proxy")},
    "NO_PROXY": "",
    "no_proxy": "",
}


def pinned_requirements() -> list[str]:
    lines = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
    ]
    return [line for line in lines if line]


def open_url(url: str, timeout: float) -> Any:
    """urlopen with the proxies of the environment now (urlopen keeps the first ones)."""
    return urllib.request.build_opener().open(url, timeout=timeout)


def index_reachable() -> bool:
    """Can this machine reach the package index (and so its vulnerability data) at all?"""
    try:
        with open_url("https://pypi.org/simple/pip/", timeout=20):
            return True
    except (urllib.error.URLError, TimeoutError, OSError):
        return False


def offline_fallback(reason: str) -> list[str]:
    """No index and no vulnerability service: nothing can be audited. Locally that is a loud
    warning naming every pin; in CI (CI set), where the network is part of the job, it fails."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must audit the dependencies, but {reason}")
    return [f"{reason}; not audited offline: " + ", ".join(pinned_requirements())]


def audit_dependencies() -> list[str]:
    """pip-audit over requirements.txt and what it pulls in; returns what could not be audited.

    From this workplace pip-audit's services may be out of reach (OSV is not reachable and
    the package index serves no per-version JSON, so pip-audit skips every package as "not
    found"). Then each package is checked against the index's project JSON, whose
    `vulnerabilities` describe the newest release: a pin that IS the newest release is
    checked; one that is not cannot be checked here and is named in a warning. With no index
    at all (offline), every pin is named in the warning (a failure in CI).
    """
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("pip-audit")),
            "-r",
            str(ROOT / "requirements.txt"),
            "--vulnerability-service",
            "pypi",
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    start = done.stdout.find("{")
    if start < 0:
        if not index_reachable():
            return offline_fallback("no package index is reachable from here")
        pytest.fail(
            f"pip-audit could not run here (exit {done.returncode}):\n{done.stderr[-2000:]}"
        )
    report = json.loads(done.stdout[start:])
    dependencies = report.get("dependencies") or []
    assert dependencies, f"pip-audit listed no dependency: {done.stderr[-2000:]}"
    vulnerable = [
        f"{d['name']} {d['version']}: {[v['id'] for v in d['vulns']]}"
        for d in dependencies
        if d.get("vulns")
    ]
    assert vulnerable == [], f"known vulnerabilities: {vulnerable}"
    return audit_skipped([d for d in dependencies if "skip_reason" in d], len(dependencies))


def audit_skipped(unaudited: list[dict[str, Any]], total: int) -> list[str]:
    """The packages pip-audit skipped, against the index's project JSON."""
    problems: list[str] = []
    unverified: list[str] = []
    checked = total - len(unaudited)
    for dependency in unaudited:
        name = dependency["name"]
        # A skipped package carries its version only in the reason: "... flask (3.1.3)".
        found = re.search(r"\(([^()\s]+)\)\s*$", dependency["skip_reason"])
        version = dependency.get("version") or (found.group(1) if found else "?")
        try:
            with open_url(f"https://pypi.org/pypi/{name}/json", timeout=30) as r:
                project = json.load(r)
        except (urllib.error.URLError, TimeoutError) as error:
            problems.append(f"{name}: no vulnerability data reachable from here ({error})")
            continue
        latest = project["info"]["version"]
        if latest != version:
            unverified.append(f"{name} {version} (newest is {latest})")
            continue
        checked += 1
        if project.get("vulnerabilities"):
            ids = [v.get("id") for v in project["vulnerabilities"]]
            problems.append(f"{name} {version}: known vulnerabilities {ids}")
    if checked == 0 and not index_reachable():
        return offline_fallback("no vulnerability data is reachable from here")
    assert problems == [], "dependency audit:\n" + "\n".join(problems)
    assert checked > 0, "no vulnerability data reachable from here: nothing was audited"
    if not unverified:
        return []
    return [
        "pip-audit cannot reach a vulnerability service from here; these pins are not the "
        "newest release, so they could not be audited offline: " + ", ".join(unverified)
    ]


def test_pip_audit_finds_no_known_vulnerability() -> None:
    for message in audit_dependencies():
        warnings.warn(message, stacklevel=1)


def test_pip_audit_offline_names_every_pin_in_a_warning(monkeypatch) -> None:
    """A fresh clone without network: the documented fallback, not a failure (CI: a failure)."""
    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CI", raising=False)
    messages = audit_dependencies()
    assert len(messages) == 1 and "not audited offline" in messages[0]
    assert all(pin in messages[0] for pin in pinned_requirements())
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must audit the dependencies"):
        audit_dependencies()


def test_bandit_finds_nothing_unexplained_in_the_product_code() -> None:
    """Every bandit finding in the product modules is explained in bench/SECURITY-NOTES.md
    by its test id and file (`B104` … `app.py`)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("bandit")), "-q", "-f", "json", *PRODUCT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stdout)
    assert not report.get("errors"), report["errors"]
    notes = NOTES.read_text()
    explained = {
        (test_id, name) for test_id, name in re.findall(r"`(B\d{3})`[^\n]*?`([\w./]+\.py)`", notes)
    }
    unexplained = sorted(
        {
            f"{r['test_id']} {r['filename']}:{r['line_number']} {r['issue_text']}"
            for r in report["results"]
            if (r["test_id"], Path(r["filename"]).as_posix()) not in explained
        }
    )
    assert unexplained == [], "bandit findings without a note in bench/SECURITY-NOTES.md:\n" + (
        "\n".join(unexplained)
    )
