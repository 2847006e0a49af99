"""Settings for the worker and the web app, read once at start from the environment and `.env`.

Every value is validated up front so a typo stops the process with exit code 2 and a message
that names the setting, instead of a stack trace minutes later. Tokens are wrapped in `Secret`
so that no repr, log line or traceback can show them.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_MIST_HOST = "api.mist.com"
DEFAULT_REDIS_URL = "redis://localhost:6379"
DEFAULT_INTERVAL = 300
DEFAULT_PORT = 5000
# A DNS name or IPv4 address, optionally with :port — no scheme, no path (the SDK adds https://).
_HOST_RE = re.compile(
    r"^(?=.{1,253}(:|$))[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*"
    r"(:(?P<port>[0-9]{1,5}))?$"
)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
# A trusted Host: a DNS name or IP address; a leading dot also trusts its subdomains.
_TRUSTED_HOST_RE = re.compile(r"^\.?[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^\[[0-9A-Fa-f:.]+\]$")


class Secret:
    """A value that must never be printed: repr and str are '***'; `.reveal()` is explicit."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(url: str) -> str:
    """The URL with its password (if any) shown as ***: safe for a repr or a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _redacted_repr(settings: object) -> str:
    """The dataclass repr with REDIS_URL's password redacted: settings get logged and printed."""
    shown = []
    for item in fields(settings):  # type: ignore[arg-type]
        value = getattr(settings, item.name)
        if item.name == "redis_url":
            value = redact_url(value)
        shown.append(f"{item.name}={value!r}")
    return f"{type(settings).__name__}({', '.join(shown)})"


class SettingError(ValueError):
    """A setting has a value we cannot run with; the message says what is allowed."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


@dataclass(frozen=True)
class SentinelSettings:
    """Redis found through Sentinel: the Sentinels' addresses and the master's service name.

    The data nodes' user, password and database still come from REDIS_URL (its host is
    not used); `password` is the Sentinels' own, when they ask for one.
    """

    addresses: tuple[tuple[str, int], ...]
    master: str
    password: Secret | None
    read_from_replicas: bool


@dataclass(frozen=True, repr=False)
class WebSettings:
    """What the web app needs: no Mist token."""

    redis_url: str
    port: int
    log_level: str
    worker_interval: int
    trusted_hosts: tuple[str, ...] = ()
    metrics_bearer_token: Secret | None = None  # /metrics wants it when set
    sentinel: SentinelSettings | None = None

    __repr__ = _redacted_repr


# ---------------------------------------------------------------- alerts (ALERT_*)

ALERT_FORMATS = ("slack", "teams", "generic")
_TEAMS_HOSTS = (".webhook.office.com", ".logic.azure.com", ".api.powerplatform.com")


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go (the URLs are secrets, like tokens) and how they are held back."""

    urls: tuple[Secret, ...] = ()
    formats: tuple[str, ...] = ()  # one per URL, detected unless ALERT_WEBHOOK_FORMATS says
    rules_file: str | None = None  # ALERT_RULES_FILE (parsed by alerts/rules.py at start)
    hold_down: int = 2  # refreshes (ALERT_HOLD_DOWN)
    storm_limit: int = 20  # alerts per receiver per refresh before one summary


def _alert_urls(env: Mapping[str, str]) -> tuple[Secret, ...]:
    """ALERT_WEBHOOK_URLS; a bad one is named by its position, never by its text."""
    urls = [part.strip() for part in env.get("ALERT_WEBHOOK_URLS", "").split(",")]
    found: list[Secret] = []
    for number, url in enumerate((u for u in urls if u), start=1):
        parts = urlsplit(url)
        try:
            _ = parts.port
        except ValueError:
            parts = parts._replace(netloc="")
        if parts.scheme not in ("https", "http") or not parts.hostname or " " in url:
            raise SettingError(
                "ALERT_WEBHOOK_URLS",
                f"receiver {number} is not an https:// URL (webhook URLs separated by commas)",
            )
        found.append(Secret(url))
    return tuple(found)


def detect_webhook_format(url: str) -> str:
    """slack for hooks.slack.com, teams for Office/Logic Apps/Power Automate hosts, else
    generic. Reads only the host: the URL's secret path is never looked at or shown."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if host.endswith(_TEAMS_HOSTS) or "powerautomate" in host:
        return "teams"
    return "generic"


def _alert_formats(env: Mapping[str, str], urls: tuple[Secret, ...]) -> tuple[str, ...]:
    given = [p.strip().lower() for p in env.get("ALERT_WEBHOOK_FORMATS", "").split(",")]
    given = given if any(given) else []
    if len(given) > len(urls):
        raise SettingError(
            "ALERT_WEBHOOK_FORMATS",
            f"names {len(given)} formats for {len(urls)} receivers in ALERT_WEBHOOK_URLS",
        )
    for fmt in given:
        if fmt not in ("", "auto", *ALERT_FORMATS):
            raise SettingError(
                "ALERT_WEBHOOK_FORMATS",
                f"{fmt!r} is not one of {', '.join(ALERT_FORMATS)} (or empty/auto to detect)",
            )
    given += [""] * (len(urls) - len(given))
    return tuple(
        fmt if fmt in ALERT_FORMATS else detect_webhook_format(url.reveal())
        for fmt, url in zip(given, urls, strict=True)
    )


def _alert_rules_file(env: Mapping[str, str]) -> str | None:
    """ALERT_RULES_FILE must be readable here; its lines are checked by alerts/rules.py when
    the worker starts (exit 2 naming the line), so the web needs no YAML."""
    raw = env.get("ALERT_RULES_FILE", "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise SettingError("ALERT_RULES_FILE", f"must be a readable YAML file; {raw} is not")
    return raw


def _alert_settings(env: Mapping[str, str]) -> AlertSettings:
    urls = _alert_urls(env)
    return AlertSettings(
        urls=urls,
        formats=_alert_formats(env, urls),
        rules_file=_alert_rules_file(env),
        hold_down=_int_setting(env, "ALERT_HOLD_DOWN", 2, 1, 1000),
        storm_limit=_int_setting(env, "ALERT_STORM_LIMIT", 20, 1, 10000),
    )


# ---------------------------------------------------------------- the worker


@dataclass(frozen=True, repr=False)
class WorkerSettings:
    """What the worker needs: tokens (as Secrets), the Mist host and how often to refresh."""

    tokens: tuple[Secret, ...]
    org_id: str | None
    mist_host: str
    ca_bundle: str | None
    redis_url: str
    worker_interval: int
    port: int
    log_level: str
    metrics_peer_paths: str = "summary"  # all | summary | off
    sentinel: SentinelSettings | None = None
    event_hold: int = 2  # refreshes a circuit's degraded/recovered must hold (EVENT_HOLD)
    event_retention_days: int = 30  # EVENT_RETENTION_DAYS
    alerts: AlertSettings = AlertSettings()  # ALERT_* (webhook URLs are secrets)
    # MIST_ORG_ID as a list (several ids) or `*` (every org the tokens read): a multi-org
    # deployment, each org under its own keys; then org_id is None
    org_ids: tuple[str, ...] = ()
    all_orgs: bool = False

    @property
    def multi_org(self) -> bool:
        return self.all_orgs or len(self.org_ids) > 1

    __repr__ = _redacted_repr


def read_environment(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> dict[str, str]:
    """`.env` values overlaid by the real environment (the environment wins).

    We never write into `os.environ`: the mistapi SDK reads `MIST_HOST` from there by itself.
    """
    merged: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    return merged


def _int_setting(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(name, f"must be a whole number from {low} to {high}") from None
    if not low <= value <= high:
        raise SettingError(name, f"must be a whole number from {low} to {high}")
    return value


def _log_level(env: Mapping[str, str]) -> str:
    level = env.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise SettingError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")
    return level


def _redis_url(env: Mapping[str, str]) -> str:
    url = env.get("REDIS_URL", "").strip() or DEFAULT_REDIS_URL
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise SettingError(
            "REDIS_URL", "must look like redis://host:6379/0, rediss://… or unix:///path"
        )
    try:
        _ = parts.port
    except ValueError:
        raise SettingError("REDIS_URL", "has a port that is not a number from 1 to 65535") from None
    if parts.scheme != "unix" and not parts.hostname:
        raise SettingError("REDIS_URL", "must name a host, e.g. redis://localhost:6379")
    return url


def _trusted_hosts(env: Mapping[str, str]) -> tuple[str, ...]:
    """TRUSTED_HOSTS: the Host names the page may be asked for (empty: any, as before)."""
    hosts = tuple(part.strip().lower() for part in env.get("TRUSTED_HOSTS", "").split(","))
    hosts = tuple(host for host in hosts if host)
    for host in hosts:
        if not _TRUSTED_HOST_RE.match(host):
            raise SettingError(
                "TRUSTED_HOSTS",
                "must be host names separated by commas, e.g. dashboard.example.com,localhost",
            )
    return hosts


def _sentinel_address(item: str) -> tuple[str, int]:
    """One `host:port` of REDIS_SENTINELS; the message names the part that is wrong."""
    host, _, port = item.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or not _HOST_RE.match(host):
        raise SettingError(
            "REDIS_SENTINELS",
            f"{item!r} is not host:port; give the Sentinels as e.g. "
            "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379",
        )
    return host, int(port)


def _sentinel(env: Mapping[str, str]) -> SentinelSettings | None:
    """REDIS_SENTINELS and its companions; None when Redis is one REDIS_URL."""
    raw = env.get("REDIS_SENTINELS", "").strip()
    replicas = env.get("REDIS_READ_FROM_REPLICAS", "").strip().lower()
    if replicas not in ("", "0", "1", "true", "false", "yes", "no"):
        raise SettingError("REDIS_READ_FROM_REPLICAS", "must be 1 (read from replicas) or 0")
    if not raw:
        if replicas in ("1", "true", "yes"):
            raise SettingError("REDIS_READ_FROM_REPLICAS", "needs REDIS_SENTINELS to find them")
        return None
    addresses = tuple(_sentinel_address(item.strip()) for item in raw.split(",") if item.strip())
    master = env.get("REDIS_SENTINEL_MASTER", "").strip()
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", master):
        raise SettingError(
            "REDIS_SENTINEL_MASTER",
            "is required with REDIS_SENTINELS: the master's service name, e.g. mist",
        )
    password = env.get("REDIS_SENTINEL_PASSWORD", "").strip()
    return SentinelSettings(
        addresses=addresses,
        master=master,
        password=Secret(password) if password else None,
        read_from_replicas=replicas in ("1", "true", "yes"),
    )


def _mist_host(env: Mapping[str, str]) -> str:
    host = env.get("MIST_HOST", "").strip() or DEFAULT_MIST_HOST
    match = _HOST_RE.match(host)
    if match is None or (match.group("port") and not 0 < int(match.group("port")) < 65536):
        raise SettingError(
            "MIST_HOST",
            "must be a host name or host:port without https:// or a path, e.g. api.mist.com, "
            "api.eu.mist.com or 127.0.0.1:8443",
        )
    return host.lower()


def _tokens(env: Mapping[str, str]) -> tuple[Secret, ...]:
    raw = env.get("MIST_API_TOKEN", "")
    tokens: list[Secret] = []
    for part in raw.split(","):
        token = part.strip()
        if not token:
            continue
        if not _TOKEN_RE.match(token):
            raise SettingError(
                "MIST_API_TOKEN", "holds a character a Mist API token cannot contain"
            )
        if Secret(token) not in tokens:
            tokens.append(Secret(token))
    if not tokens:
        raise SettingError(
            "MIST_API_TOKEN",
            "is required: one Mist API token, or several separated by commas",
        )
    return tuple(tokens)


ORG_ID_HELP = (
    "must be an org id (a UUID), several separated by commas, * for every org the tokens "
    "can read, or empty to detect the one org from the token"
)


def _org_ids(env: Mapping[str, str]) -> tuple[tuple[str, ...], bool]:
    """MIST_ORG_ID: (the org ids given, in order without repeats; whether `*` was given)."""
    raw = env.get("MIST_ORG_ID", "").strip()
    if raw == "*":
        return (), True
    ids: list[str] = []
    for part in (item.strip() for item in raw.split(",") if item.strip()):
        try:
            org_id = str(uuid.UUID(part))
        except ValueError:
            raise SettingError("MIST_ORG_ID", ORG_ID_HELP) from None
        if org_id not in ids:
            ids.append(org_id)
    return tuple(ids), False


def _ca_bundle(env: Mapping[str, str]) -> str | None:
    raw = env.get("MIST_CA_BUNDLE", "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise SettingError("MIST_CA_BUNDLE", f"must be a readable PEM file; {raw} is not")
    return str(path)


METRICS_PEER_PATHS = ("all", "summary", "off")


def _metrics_peer_paths(env: Mapping[str, str]) -> str:
    mode = env.get("METRICS_PEER_PATHS", "").strip().lower() or "summary"
    if mode not in METRICS_PEER_PATHS:
        raise SettingError("METRICS_PEER_PATHS", f"must be one of {', '.join(METRICS_PEER_PATHS)}")
    return mode


def _metrics_bearer_token(env: Mapping[str, str]) -> Secret | None:
    raw = env.get("METRICS_BEARER_TOKEN", "").strip()
    if not raw:
        return None
    if not _TOKEN_RE.match(raw):
        raise SettingError(
            "METRICS_BEARER_TOKEN", "may hold only letters, digits and . _ ~ + / = -"
        )
    return Secret(raw)


def load_web_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> WebSettings:
    """Settings for the web app; raises SettingError naming the first bad setting."""
    env = read_environment(environ, env_file)
    return WebSettings(
        redis_url=_redis_url(env),
        port=_int_setting(env, "PORT", DEFAULT_PORT, 1, 65535),
        log_level=_log_level(env),
        worker_interval=_int_setting(env, "WORKER_INTERVAL", DEFAULT_INTERVAL, 1, 86400),
        trusted_hosts=_trusted_hosts(env),
        metrics_bearer_token=_metrics_bearer_token(env),
        sentinel=_sentinel(env),
    )


def load_worker_settings(
    environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
) -> WorkerSettings:
    """Settings for the worker; raises SettingError naming the first bad setting."""
    env = read_environment(environ, env_file)
    web = load_web_settings(env, None)
    org_ids, all_orgs = _org_ids(env)
    return WorkerSettings(
        tokens=_tokens(env),
        org_id=org_ids[0] if len(org_ids) == 1 else None,
        org_ids=org_ids,
        all_orgs=all_orgs,
        mist_host=_mist_host(env),
        ca_bundle=_ca_bundle(env),
        redis_url=web.redis_url,
        worker_interval=web.worker_interval,
        port=web.port,
        log_level=web.log_level,
        metrics_peer_paths=_metrics_peer_paths(env),
        sentinel=web.sentinel,
        event_hold=_int_setting(env, "EVENT_HOLD", 2, 1, 100),
        event_retention_days=_int_setting(env, "EVENT_RETENTION_DAYS", 30, 1, 366),
        alerts=_alert_settings(env),
    )


T = TypeVar("T")


def fail(setting: str, message: str) -> NoReturn:
    """Stop the process the way a bad setting should: one line on stderr, exit code 2."""
    print(f"error: setting {setting}: {message}", file=sys.stderr)
    raise SystemExit(2)


def load_or_exit(loader: Callable[[], T]) -> T:
    """Call a settings loader; on a bad value print it (named, no traceback) and exit 2."""
    try:
        return loader()
    except SettingError as error:
        fail(error.setting, str(error).split(": ", 1)[1])


def configure_logging(level: str) -> None:
    """One line per event on stderr; the mistapi SDK only speaks up for warnings."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("mistapi").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
