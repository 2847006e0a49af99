"""The images and the Compose files, checked here without a Docker engine: hadolint on the
Dockerfiles, the Compose files against the Compose specification's JSON schema, and what an
operator relies on (AOF, health conditions, no token in the web, Redis not published, ...)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_DEV = ROOT / "docker-compose.dev.yml"
COMPOSE_HA = ROOT / "docker-compose.ha.yml"
SCHEMA = ROOT / "tests" / "data" / "compose-spec" / "compose-spec.json"

WEB_FILES = {
    "app.py",
    "web",
    "settings.py",
    "store",
    "history",
    "model",
    "sla",
    "gunicorn.conf.py",
    "templates",
    "static",
}
WORKER_FILES = {
    "worker.py",
    "settings.py",
    "store",
    "mist",
    "views",
    "model",
    "history",
    "traffic",
    "refresh",
    "alerts",  # webhook alerts: only the worker sends
    "sla",  # availability sums
}
# An official image by version tag and digest: Dependabot moves both, nothing moves silently.
IMAGE_BY_DIGEST = r"[a-z]+:\d+\.\d+\.\d+(-\w+)?@sha256:[0-9a-f]{64}"
OCI_LABELS = {"title", "source", "version", "created", "revision", "licenses"}
BUILD_ARGS = {"VERSION", "CREATED", "REVISION", "SOURCE"}


# --- helpers shared with test_local_services.py -------------------------------------------


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, rest = whole.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_copies(path: Path) -> list[tuple[list[str], str]]:
    """Each COPY as (sources, destination), flags such as --chown dropped."""
    copies = []
    for keyword, rest in dockerfile_instructions(path):
        if keyword == "COPY":
            words = [word for word in shlex.split(rest) if not word.startswith("--")]
            copies.append((words[:-1], words[-1]))
    return copies


def dockerfile_exec_form(path: Path, keyword: str) -> list[str]:
    """The JSON (exec) form argv of CMD, or the command of HEALTHCHECK ... CMD [...]."""
    for found, rest in dockerfile_instructions(path):
        if found == keyword:
            argv = json.loads(rest[rest.index("[") :])
            assert isinstance(argv, list)
            return [str(word) for word in argv]
    raise AssertionError(f"{path.name} has no {keyword}")


def shipped_files(path: Path) -> set[str]:
    """The project files an image copies in (requirements.lock aside: it only feeds pip)."""
    sources = {source.rstrip("/") for sources, _ in dockerfile_copies(path) for source in sources}
    return sources - {"requirements.lock"}


def compose(path: Path = COMPOSE) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, applied through a loaded file."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name)
        if op in (":?", "?") and not current:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and not current:
            return arg
        return current or ""

    return _VARIABLE.sub(substitute, value).replace("$$", "$")


def compose_variables(path: Path) -> set[str]:
    return {match.group("name") for match in _VARIABLE.finditer(path.read_text())}


def service_env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {str(key): str(value) for key, value in environment.items()}


OPERATOR_ENV = {
    "MIST_API_TOKEN": "token-a,token-b",
    "REDIS_WORKER_PASSWORD": "worker-secret",
    "REDIS_WEB_PASSWORD": "web-secret",
}


# --- Dockerfiles ---------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", ["Dockerfile.web", "Dockerfile.worker"])
def test_hadolint_finds_nothing(dockerfile: str) -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), str(ROOT / dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("dockerfile", ["Dockerfile.web", "Dockerfile.worker"])
def test_image_is_slim_pinned_non_root_and_labelled(dockerfile: str) -> None:
    instructions = dockerfile_instructions(ROOT / dockerfile)
    base = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert len(base) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?@sha256:[0-9a-f]{64}", base[0]), base[0]

    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the service must not run as root"

    installs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert "pip install --no-cache-dir --require-hashes -r requirements.lock" in installs

    args = {rest.split("=")[0] for keyword, rest in instructions if keyword == "ARG"}
    assert args >= BUILD_ARGS
    labels = " ".join(rest for keyword, rest in instructions if keyword == "LABEL")
    found = dict(re.findall(r"org\.opencontainers\.image\.(\w+)=\"([^\"]*)\"", labels))
    assert set(found) >= OCI_LABELS
    assert found["version"] == "${VERSION}"
    assert found["created"] == "${CREATED}"
    assert found["revision"] == "${REVISION}"
    assert found["source"] == "${SOURCE}"
    assert found["licenses"] == "MIT"
    assert found["title"] == "mistcircuitstats-" + dockerfile.split(".")[1]


def test_images_copy_only_what_each_tier_needs() -> None:
    assert shipped_files(ROOT / "Dockerfile.web") == WEB_FILES
    assert shipped_files(ROOT / "Dockerfile.worker") == WORKER_FILES
    # The token-holding modules never reach the web image.
    assert not {"worker.py", "mist"} & shipped_files(ROOT / "Dockerfile.web")


def test_everything_an_image_copies_is_in_the_repository() -> None:
    missing = sorted(
        name
        for dockerfile in ("Dockerfile.web", "Dockerfile.worker")
        for name in shipped_files(ROOT / dockerfile) | {"requirements.lock"}
        if not (ROOT / name).exists()
    )
    assert missing == [], f"docker build would fail: {missing} missing"


def test_healthchecks_need_no_curl() -> None:
    web = dockerfile_exec_form(ROOT / "Dockerfile.web", "HEALTHCHECK")
    assert web[:2] == ["python", "-c"]
    assert "urllib.request" in web[-1] and "/health" in web[-1]
    worker = dockerfile_exec_form(ROOT / "Dockerfile.worker", "HEALTHCHECK")
    assert worker == ["python", "worker.py", "--healthcheck"]
    assert dockerfile_exec_form(ROOT / "Dockerfile.worker", "CMD") == ["python", "worker.py"]
    web_cmd = dockerfile_exec_form(ROOT / "Dockerfile.web", "CMD")
    assert web_cmd[0] == "gunicorn" and "gunicorn.conf.py" in web_cmd
    assert web_cmd[-1] == "app:create_app()"


# --- .dockerignore -------------------------------------------------------------------------


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a match on a parent folder counts."""
    parts = path.split("/")
    candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip("/")
        globs = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        hit = any(
            fnmatch.fnmatchcase(candidate, glob)
            or (glob != pattern and fnmatch.fnmatchcase(candidate.split("/")[-1], glob))
            for candidate in candidates
            for glob in globs
        )
        if hit:
            ignored = not negate
    return ignored


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    "secret_or_noise",
    [
        ".env",
        ".env.production",
        ".git/config",
        "tests/test_app.py",
        "var/redis/appendonly.aof",
        ".venv/bin/python",
        "ca.pem",
        "mistsim/__init__.py",
        "__pycache__/app.cpython-311.pyc",
    ],
)
def test_dockerignore_keeps_secrets_tests_and_history_out(secret_or_noise: str) -> None:
    assert dockerignored(secret_or_noise, dockerignore_patterns())


def test_dockerignore_keeps_what_the_images_copy() -> None:
    patterns = dockerignore_patterns()
    needed = shipped_files(ROOT / "Dockerfile.web") | shipped_files(ROOT / "Dockerfile.worker")
    for name in sorted(needed | {"requirements.lock", "static/js/app.js", "templates/index.html"}):
        assert not dockerignored(name, patterns), f"{name} would be missing from the build"


# --- gunicorn.conf.py ----------------------------------------------------------------------


def test_gunicorn_config_suits_a_small_container(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "ACCESS_LOG", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORT", "8080")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["bind"] == "0.0.0.0:8080"
    assert config["worker_class"] == "gthread"
    assert 1 <= config["workers"] <= 4 and 2 <= config["threads"] <= 8
    assert config["accesslog"] is None
    assert config["control_socket_disable"] is True, "no socket in $HOME: the root is read-only"
    assert config["forwarded_allow_ips"] == "127.0.0.1"


@pytest.mark.parametrize(
    "name,value", [("PORT", "http"), ("PORT", "70000"), ("WEB_CONCURRENCY", "0")]
)
def test_gunicorn_config_names_a_bad_setting(name: str, value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('gunicorn.conf.py')"],
        cwd=ROOT,
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert name in result.stderr and "Traceback" not in result.stderr


# --- Compose: schema -----------------------------------------------------------------------


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_DEV, COMPOSE_HA], ids=lambda path: path.name)
def test_compose_file_follows_the_compose_specification(path: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{list(error.path)}: {error.message}" for error in validator.iter_errors(compose(path))
    ]
    assert errors == []
    assert (SCHEMA.parent / "LICENSE").is_file()


def test_the_schema_check_catches_a_broken_file() -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    broken = compose()
    broken["services"]["web"]["depends_on"]["redis"]["condition"] = "service_ready"
    broken["services"]["redis"]["restart_policy"] = "always"
    assert len(list(validator.iter_errors(broken))) >= 2


# --- Compose: what the operator relies on --------------------------------------------------


def test_redis_keeps_an_append_only_file_on_a_named_volume() -> None:
    redis_service = compose()["services"]["redis"]
    command = redis_service["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--save") + 1] == "300 1"
    assert re.fullmatch(IMAGE_BY_DIGEST, redis_service["image"])
    volume, target = redis_service["volumes"][0].split(":")[:2]
    assert target == "/data" and volume in compose()["volumes"]
    assert "redis-cli ping" in " ".join(redis_service["healthcheck"]["test"])


def test_redis_is_not_published_on_the_host() -> None:
    assert "ports" not in compose()["services"]["redis"]
    assert "network_mode" not in compose()["services"]["redis"]
    # Reachable on the Compose network: protected mode would refuse the worker and the web.
    command = compose()["services"]["redis"]["command"]
    assert command[command.index("--protected-mode") + 1] == "no"


def test_redis_users_get_passwords_from_env_and_each_tier_its_own_user() -> None:
    services = interpolate(compose()["services"], OPERATOR_ENV)
    assert service_env(services["redis"]) == {
        "REDIS_WORKER_PASSWORD": "worker-secret",
        "REDIS_WEB_PASSWORD": "web-secret",
    }
    assert (
        service_env(services["worker"])["REDIS_URL"] == "redis://worker:worker-secret@redis:6379/0"
    )
    assert service_env(services["web"])["REDIS_URL"] == "redis://web:web-secret@redis:6379/0"
    with pytest.raises(KeyError, match="REDIS_WEB_PASSWORD"):
        interpolate(compose()["services"], {**OPERATOR_ENV, "REDIS_WEB_PASSWORD": ""})


def test_start_order_waits_for_health() -> None:
    services = compose()["services"]
    assert services["worker"]["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert services["web"]["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "worker": {"condition": "service_started"},
    }
    assert services["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}
    for name in ("redis", "worker", "web", "proxy"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    # The same checks as the images' own HEALTHCHECK, so the two cannot drift apart.
    for tier in ("web", "worker"):
        image_check = dockerfile_exec_form(ROOT / f"Dockerfile.{tier}", "HEALTHCHECK")
        assert services[tier]["healthcheck"]["test"] == ["CMD", *image_check], tier


def test_only_the_worker_holds_mist_tokens() -> None:
    services = interpolate(compose()["services"], OPERATOR_ENV)
    assert service_env(services["worker"])["MIST_API_TOKEN"] == "token-a,token-b"
    for name in ("redis", "web"):
        service = services[name]
        assert "env_file" not in service, f"{name} would get every .env value, tokens included"
        assert not any(key.startswith("MIST_") for key in service_env(service))
        assert "token-a" not in json.dumps(service)
    assert "env_file" not in services["worker"]


def test_only_the_proxy_publishes_port_and_on_loopback_by_default() -> None:
    services = compose()["services"]
    always = {name: service for name, service in services.items() if not service.get("profiles")}
    assert [name for name, service in always.items() if "ports" in service] == ["proxy"]
    grafana = services["grafana"]  # the opt-in `monitoring` profile: on loopback too
    assert grafana["profiles"] == ["monitoring"]
    assert interpolate(grafana["ports"], {}) == ["127.0.0.1:3000:3000"]
    proxy = services["proxy"]
    assert interpolate(proxy["ports"], {}) == ["127.0.0.1:5000:8080"]
    assert interpolate(proxy["ports"], {"PORT": "8080", "PUBLISH_ADDRESS": "0.0.0.0"}) == [
        "0.0.0.0:8080:8080"
    ]
    # gunicorn listens on the Compose network only, on the port the proxy's upstream names.
    web = services["web"]
    assert web["expose"] == ["5000"]
    assert interpolate(service_env(web), {"PORT": "8080", **OPERATOR_ENV})["PORT"] == "5000"
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    assert "server web:5000;" in conf and "listen 8080;" in conf


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_DEV], ids=lambda path: path.name)
def test_the_proxy_is_a_pinned_official_nginx_running_unprivileged(path: Path) -> None:
    proxy = compose(path)["services"]["proxy"]
    assert re.fullmatch(IMAGE_BY_DIGEST, proxy["image"]) and proxy["image"].startswith("nginx:")
    assert proxy["user"] == "101:101", "the image's nginx user, not root"
    assert proxy["read_only"] is True and "ALL" in proxy["cap_drop"]
    assert proxy["volumes"] == ["./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro"]
    assert proxy["entrypoint"][0] == "nginx" and "daemon off;" in proxy["entrypoint"]
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    for directive in ("client_header_timeout", "client_body_timeout", "keepalive_timeout"):
        assert re.search(rf"^\s*{directive} \d+s;", conf, re.M), directive
    assert "pid /tmp/" in conf and "\nuser " not in conf, "pid on the tmpfs; no user switch"


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_DEV], ids=lambda path: path.name)
def test_redis_is_a_patched_release_pinned_by_digest(path: Path) -> None:
    image = compose(path)["services"]["redis"]["image"]
    assert re.fullmatch(IMAGE_BY_DIGEST, image)
    version = tuple(int(part) for part in image.split(":")[1].split("-")[0].split("."))
    assert version[:2] == (7, 4) and version >= (7, 4, 6), "7.4.6 fixes the Lua CVEs of 2025"


def test_images_are_lowercase_ghcr_names() -> None:
    services = compose()["services"]
    for tier in ("web", "worker"):
        image = interpolate(services[tier]["image"], {})
        assert image == f"ghcr.io/mistcircuitstats/mistcircuitstats-{tier}:latest"
        assert image == image.lower()
        assert interpolate(
            services[tier]["image"], {"IMAGE_OWNER": "acme-noc", "IMAGE_TAG": "26.11.26.21.05"}
        ) == (f"ghcr.io/acme-noc/mistcircuitstats-{tier}:26.11.26.21.05")


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_DEV], ids=lambda path: path.name)
def test_containers_run_read_only_without_new_privileges(path: Path) -> None:
    for name, service in compose(path)["services"].items():
        assert service.get("read_only") is True, name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert "/tmp" in service.get("tmpfs", []), name
        assert service.get("privileged") is not True, name
    for name in ("worker", "web"):
        assert compose(path)["services"][name].get("init") is True, (
            f"{name} needs an init for signals"
        )


def test_dev_compose_builds_locally_and_reloads_without_a_reachable_debugger() -> None:
    services = compose(COMPOSE_DEV)["services"]
    for tier in ("web", "worker"):
        assert services[tier]["build"] == {"context": ".", "dockerfile": f"Dockerfile.{tier}"}
        mounted = {volume.split(":")[0].removeprefix("./") for volume in services[tier]["volumes"]}
        expected = WEB_FILES if tier == "web" else WORKER_FILES
        assert mounted == expected, "every shipped file is mounted for live edits"
        assert all(volume.endswith(":ro") for volume in services[tier]["volumes"])
        env = service_env(services[tier])
        assert not {"FLASK_DEBUG", "FLASK_ENV", "WERKZEUG_DEBUG_PIN", "PYTHONBREAKPOINT"} & set(env)
    command = services["web"]["command"]
    assert "--reload" in command and "--debug" not in command
    assert all(port.startswith("127.0.0.1:") for port in services["proxy"]["ports"])
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    read_by_code = set()
    for source in ("settings.py", "gunicorn.conf.py"):
        read_by_code |= set(
            re.findall(r"[\"']([A-Z][A-Z0-9_]{2,})[\"']", (ROOT / source).read_text())
        )
    read_by_code -= {"INFO", "DEBUG", "WARNING", "ERROR", "CRITICAL"}
    used = (
        compose_variables(COMPOSE)
        | compose_variables(COMPOSE_DEV)
        | compose_variables(COMPOSE_HA)
        | read_by_code
    )
    assert used - documented == set()


def test_redis_entrypoint_refuses_to_start_without_passwords(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(ROOT / "redis" / "entrypoint.sh"), "true"],
        env={"PATH": os.environ["PATH"], "REDIS_WEB_PASSWORD": "x", "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "REDIS_WORKER_PASSWORD" in result.stderr


def test_redis_acl_file_is_private_and_not_on_the_data_volume(tmp_path: Path) -> None:
    acl = tmp_path / "users.acl"
    result = subprocess.run(
        ["sh", str(ROOT / "redis" / "entrypoint.sh"), "sh", "-c", 'cat "$2"; stat -c %a "$2"', "-"],
        env={
            "PATH": os.environ["PATH"],
            "REDIS_WORKER_PASSWORD": "w0rker",
            "REDIS_WEB_PASSWORD": "web-pw",
            "REDIS_ACL_FILE": str(acl),
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert ">w0rker" in result.stdout and ">web-pw" in result.stdout
    assert result.stdout.strip().endswith("600")


def test_readme_documents_every_setting() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    table = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.M))
    assert documented - table == set(), "settings missing from README's table"
    assert table - documented == set(), "README documents settings .env.example lacks"


@pytest.mark.parametrize(
    ("source", "lock"),
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_the_locks_pin_every_requirement_with_hashes(source: str, lock: str) -> None:
    """pip --require-hashes needs every package pinned and hashed; the lock must follow the
    pins of its source (edit requirements*.txt, then `make lock`)."""
    text = (ROOT / lock).read_text()
    entries = re.findall(
        r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)", text, re.M
    )
    pinned = {name: version for name, version, _ in entries}
    assert len(entries) == len(re.findall(r"^[a-z0-9]", text, re.M)), "a line without hashes"
    assert "--find-links" not in text and "--index-url" not in text
    wanted: dict[str, str] = {}
    for name in (source, "requirements.txt"):
        for line in (ROOT / name).read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                package, version = line.split("==")
                wanted[re.sub(r"[-_.]+", "-", package).lower()] = version.strip()
    assert {name: pinned.get(name) for name in wanted} == wanted


def _requirement_closure() -> set[str]:
    """requirements.txt's distributions and everything they depend on, as installed here."""
    from importlib import metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pending = [
        norm(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0])
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    closure: set[str] = set()
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(norm(requirement.name))
    return closure


@pytest.mark.parametrize("dockerfile", ["Dockerfile.web", "Dockerfile.worker"])
def test_an_image_installs_every_package_its_code_imports(dockerfile: str) -> None:
    import ast
    from importlib import metadata

    shipped = shipped_files(ROOT / dockerfile)
    packages = {name for name in shipped if (ROOT / name / "__init__.py").is_file()}
    local = {Path(name).stem for name in shipped if name.endswith(".py")} | packages
    sources = [ROOT / name for name in sorted(shipped) if name.endswith(".py")]
    sources += [path for package in sorted(packages) for path in (ROOT / package).rglob("*.py")]
    imported: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = imported - local - set(sys.stdlib_module_names)
    provided = metadata.packages_distributions()
    closure = _requirement_closure()
    missing = {
        module
        for module in third_party
        if not {re.sub(r"[-_.]+", "-", d).lower() for d in provided.get(module, [])} & closure
    }
    assert missing == set(), f"{dockerfile}: imported but not in requirements.txt: {missing}"
    # And the image ships every project module it imports.
    project = {path.stem for path in ROOT.glob("*.py")}
    project |= {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert (imported & project) - local == set()
