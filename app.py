"""The web app: a read-only Flask factory that serves the dashboard and its JSON API from Redis.

It holds no Mist token and never calls Mist: every byte it serves was written by the worker
through `reads.py`. The big payloads (the gateways, the page's gateway rows, each
gateway, the CSV export) are sent as the worker stored them (already gzipped when the client
accepts it) through a WSGI shortcut: a request costs one small Redis read (the ETag), the
bytes come from this process's memory until the ETag moves, and nothing is decoded or
re-encoded here (DATA.md §3.6).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, parse_etags

import settings
from history.series import series as traffic_series
from store import reads
from store.histories import read_port_history
from store.keys import Dataset

ROOT = Path(__file__).resolve().parent
STATIC_DIR = ROOT / "static"
LOG = logging.getLogger("mistcircuitstats.web")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
JSON_MIMETYPE = "application/json"
CSV_MIMETYPE = "text/csv; charset=utf-8"
# Mist ids are UUIDs; port ids look like ge-0/0/0, reth0.100, lte0/0/0 or ge-0/0/1.0.
GATEWAY_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
PORT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/._:-]{0,63}$")
TRAFFIC_RANGES = ("1h", "6h", "24h", "7d")
DATASET_MIMETYPES = {Dataset.EXPORT_CSV: CSV_MIMETYPE}
SERVED_ROUTES = {
    "/api/organization": Dataset.ORG,
    "/api/sites": Dataset.SITES,
    "/api/gateways": Dataset.GATEWAYS,
    "/api/gateways/rows": Dataset.GATEWAY_ROWS,
    "/api/vpn-peers/all": Dataset.VPN_PEERS_ALL,
    "/api/insights/all": Dataset.INSIGHTS_ALL,
}
# Static files the page may load; anything else under static/ (e.g. the icon script) is not served.
STATIC_SUFFIXES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".webmanifest": "application/manifest+json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
# Relative module specifiers in our own JS ('./api.js', '../vendor/uplot/uPlot.esm.js').
_JS_IMPORT_RE = re.compile(r"""(["'])(\.\.?/[^"'?#\s]+\.(?:js|css))\1""")


@dataclass(frozen=True)
class StaticAsset:
    """One static file, read and gzipped once at start-up."""

    body: bytes
    gzipped: bytes | None
    etag: str
    version: str
    mimetype: str


REDIS_DOWN = "the data store (Redis) is unreachable; try again shortly"
NO_STORE_JSON = (("Content-Type", JSON_MIMETYPE), ("Cache-Control", "no-store"))
Answer = tuple[int, list[tuple[str, str]], bytes]
INTERNAL_ERROR = "internal error; the log has the details"


def _error_body(status: int, message: str) -> bytes:
    return json.dumps({"error": message, "status": status}, separators=(",", ":")).encode()


def _json_bytes(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _json_response(payload: object, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    response = Response(body, status=status, mimetype=JSON_MIMETYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def json_error(status: int, message: str) -> Response:
    """A 4xx/5xx a person can act on; the message is ours, never the request echoed back."""
    return _json_response({"error": message, "status": status}, status)


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def _not_modified(etag: str) -> bool:
    return bool(request.if_none_match) and request.if_none_match.contains(etag)


def _variant_etag(etag: str, gzipped: bool) -> str:
    """The bare (unquoted) ETag of one encoding: the gzip representation gets its own."""
    bare = etag.removeprefix("W/").strip('"')
    return f"{bare}-gz" if gzipped else bare


def _client() -> redis.Redis:
    return current_app.extensions["redis_client"]


def _build_static(static_dir: Path) -> dict[str, StaticAsset]:
    """Read every servable file once; our JS imports get ?v= so modules cache forever too."""
    raw: dict[str, bytes] = {}
    for path in sorted(static_dir.rglob("*")):
        if path.is_file() and path.suffix in STATIC_SUFFIXES:
            raw[path.relative_to(static_dir).as_posix()] = path.read_bytes()
    versions = {name: hashlib.sha256(body).hexdigest()[:12] for name, body in raw.items()}
    # A module's bytes include its imports' URLs, so all of js/ shares one version.
    modules = hashlib.sha256()
    for name in sorted(raw):
        if name.startswith("js/"):
            modules.update(name.encode() + b"\0" + raw[name])
    module_version = modules.hexdigest()[:12]
    for name in raw:
        if name.startswith("js/"):
            versions[name] = module_version

    def rewrite(name: str, source: str) -> str:
        def add_version(match: re.Match[str]) -> str:
            target = os.path.normpath(os.path.join(os.path.dirname(name), match.group(2)))
            version = versions.get(Path(target).as_posix())
            if version is None:
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}?v={version}{match.group(1)}"

        return _JS_IMPORT_RE.sub(add_version, source)

    assets: dict[str, StaticAsset] = {}
    for name, body in raw.items():
        if name.startswith("js/"):
            body = rewrite(name, body.decode("utf-8")).encode("utf-8")
        suffix = Path(name).suffix
        compressed: bytes | None = None
        if suffix not in (".png", ".woff2", ".woff"):
            compressed = gzip.compress(body, compresslevel=9, mtime=0)
            if len(compressed) >= len(body):
                compressed = None
        assets[name] = StaticAsset(
            body=body,
            gzipped=compressed,
            etag=hashlib.sha256(body).hexdigest()[:16],
            version=versions[name],
            mimetype=STATIC_SUFFIXES[suffix],
        )
    return assets


class DatasetServer:
    """The served datasets: one small Redis read (the ETag) per request, the bytes from memory.

    The body of each dataset and encoding is kept per process until its ETag moves, so a
    request costs one HGET round trip and no copy of a megabyte out of Redis.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._bodies: dict[tuple[Dataset, bool], reads.Served] = {}

    def answer(
        self, dataset: Dataset, accept_encoding: str, if_none_match: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body) for a GET; raises redis.RedisError when Redis is away."""
        gzip_ok = "gzip" in accept_encoding.lower()
        etag = reads.read_etag(self.client, dataset)
        headers = [("Vary", "Accept-Encoding"), ("Cache-Control", "no-cache")]
        if etag is not None:
            variant = _variant_etag(etag, gzip_ok)
            if if_none_match and parse_etags(if_none_match).contains(variant):
                return 304, [*headers, ("ETag", f'"{variant}"')], b""
            cached = self._bodies.get((dataset, gzip_ok))
            if cached is not None and cached.etag == etag:
                return 200, self._headers(dataset, cached, headers), cached.body
        served = reads.read_served(self.client, dataset, gzip_ok=gzip_ok)
        if served is None:
            body = _error_body(503, "no data yet: the worker has not finished a refresh")
            return 503, list(NO_STORE_JSON), body
        self._bodies[(dataset, gzip_ok)] = served
        return 200, self._headers(dataset, served, headers), served.body

    @staticmethod
    def _headers(
        dataset: Dataset, served: reads.Served, base: list[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        headers = [*base, ("Content-Type", DATASET_MIMETYPES.get(dataset, JSON_MIMETYPE))]
        headers.append(("ETag", f'"{_variant_etag(served.etag, served.gzipped)}"'))
        if served.gzipped:
            headers.append(("Content-Encoding", "gzip"))
        return headers


class FastPaths:
    """WSGI shortcut for GET/HEAD of the hot JSON routes (the served datasets, /api/status,
    /health): no Flask request context, routing or response object. Everything else, and any
    other method, goes to Flask."""

    def __init__(
        self, flask_app: Any, routes: Mapping[str, Callable[[Mapping[str, Any]], Answer]]
    ) -> None:
        self.flask_app = flask_app
        self.routes = routes
        self.security = list(SECURITY_HEADERS.items())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        answer = self.routes.get(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if answer is None or method not in ("GET", "HEAD"):
            return self.flask_app(environ, start_response)
        try:
            status, headers, body = answer(environ)
        except redis.RedisError as error:
            LOG.warning("redis unavailable: %s", type(error).__name__)
            status, headers, body = 503, list(NO_STORE_JSON), _error_body(503, REDIS_DOWN)
        except Exception:
            LOG.exception("unexpected error on %s", environ.get("PATH_INFO"))
            status, headers, body = 500, list(NO_STORE_JSON), _error_body(500, INTERNAL_ERROR)
        headers = [*headers, *self.security, ("Content-Length", str(len(body)))]
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, '')}", headers)
        return [b"" if method == "HEAD" else body]


def _now_age(last_update: object) -> float | None:
    if isinstance(last_update, int | float) and last_update > 0:
        return round(max(0.0, time.time() - float(last_update)), 1)
    return None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings (e.g. {"REDIS_URL": ...} in tests)."""
    overrides = dict(config or {})
    web = settings.load_or_exit(settings.load_web_settings)
    app = Flask(__name__, static_folder=None, template_folder=str(ROOT / "templates"))
    app.config.update(
        REDIS_URL=web.redis_url,
        LOG_LEVEL=web.log_level,
        PORT=web.port,
        WORKER_INTERVAL=web.worker_interval,
        DEBUG=False,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=1024,
    )
    app.config.update(overrides)
    app.debug = False  # never the debugger, whatever LOG_LEVEL says
    if not logging.getLogger().handlers:  # gunicorn or main() may have set logging up already
        settings.configure_logging(app.config["LOG_LEVEL"])
    LOG.setLevel(app.config["LOG_LEVEL"])
    client = app.config.get("REDIS_CLIENT") or reads.connect(app.config["REDIS_URL"])
    app.extensions["redis_client"] = client
    assets = _build_static(Path(app.config.get("STATIC_DIR", STATIC_DIR)))
    app.extensions["static_assets"] = assets
    datasets = DatasetServer(client)
    interval_default = int(app.config["WORKER_INTERVAL"])

    def asset_url(name: str) -> str:
        asset = assets[name]
        return f"/static/{name}?v={asset.version}"

    app.jinja_env.globals["asset_url"] = asset_url

    @app.after_request
    def security_headers(response: Response) -> Response:
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        messages = {
            404: "not found",
            405: "method not allowed",
            413: "request too large",
        }
        return json_error(status, messages.get(status, error.name.lower()))

    @app.errorhandler(redis.RedisError)
    def redis_error(error: redis.RedisError) -> Response:
        LOG.warning("redis unavailable: %s", type(error).__name__)
        return json_error(503, REDIS_DOWN)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response:
        LOG.exception("unexpected error on %s", request.path)
        return json_error(500, INTERNAL_ERROR)

    poll_ms = int(app.config.get("STATUS_POLL_MS", 10000))

    @app.get("/")
    def dashboard() -> Response:
        page = render_template("index.html", poll_ms=poll_ms)
        response = Response(page, mimetype="text/html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        asset = assets.get(name)
        if asset is None:
            return json_error(404, "not found")
        gzipped = asset.gzipped is not None and _accepts_gzip()
        etag = _variant_etag(asset.etag, gzipped)
        cache = IMMUTABLE if request.query_string else "no-cache"
        if _not_modified(etag):
            response = Response(status=304)
        else:
            response = Response(asset.gzipped if gzipped else asset.body, mimetype=None)
            response.headers["Content-Type"] = asset.mimetype
            if gzipped:
                response.headers["Content-Encoding"] = "gzip"
        response.set_etag(etag)
        response.headers["Cache-Control"] = cache
        if asset.gzipped is not None:
            response.headers["Vary"] = "Accept-Encoding"
        return response

    @app.get("/manifest.webmanifest")
    def manifest() -> Response:
        response = static_file("manifest.webmanifest")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return static_file("icons/icon-192.png")

    def health_answer(environ: Mapping[str, Any]) -> Answer:
        """Liveness without loading the org: Redis reachable, data age, worker status."""
        try:
            state = reads.read_health(client)
        except redis.RedisError:
            return 503, list(NO_STORE_JSON), _error_body(503, "redis unreachable")
        interval = state.get("interval") or interval_default
        age = _now_age(state.get("last_update"))
        health = {
            "status": "ok",
            "redis": True,
            "last_update": state.get("last_update"),
            "age": age,
            "stale": age is not None and age > 2 * interval,
            "worker_status": state.get("worker_status"),
            "heartbeat": state.get("heartbeat"),
            "interval": interval,
        }
        return 200, list(NO_STORE_JSON), _json_bytes(health)

    def status_answer(environ: Mapping[str, Any]) -> Answer:
        """The worker's status JSON plus the age of the data and whether it is stale."""
        document, published = reads.read_status_published(client)
        worker = document or {
            "status": "starting",
            "phase": None,
            "progress": None,
            "last_update": None,
        }
        if published is not None and published > (worker.get("last_update") or 0):
            worker["last_update"] = published  # the data moved before the status JSON did
        interval = worker.get("interval") or interval_default
        worker["interval"] = interval
        age = _now_age(worker.get("last_update"))
        worker["age"] = age
        worker["stale"] = age is not None and age > 2 * interval
        return 200, list(NO_STORE_JSON), _json_bytes(worker)

    def dataset_answer(dataset: Dataset) -> Callable[[Mapping[str, Any]], Answer]:
        def answer(environ: Mapping[str, Any]) -> Answer:
            return datasets.answer(
                dataset, environ.get("HTTP_ACCEPT_ENCODING", ""), environ.get("HTTP_IF_NONE_MATCH")
            )

        return answer

    def export_answer(environ: Mapping[str, Any]) -> Answer:
        """Every circuit as the CSV the worker wrote, downloaded as a dated attachment."""
        status, headers, body = datasets.answer(
            Dataset.EXPORT_CSV, environ.get("HTTP_ACCEPT_ENCODING", ""), None
        )
        if status != 200:
            return status, headers, body
        stamp = time.strftime("%Y%m%d-%H%M", time.gmtime())
        headers = [(name, value) for name, value in headers if name != "Cache-Control"]
        headers += [
            ("Cache-Control", "no-store"),
            ("Content-Disposition", f'attachment; filename="mist-circuits-{stamp}.csv"'),
        ]
        return status, headers, body

    fast: dict[str, Callable[[Mapping[str, Any]], Answer]] = {
        "/health": health_answer,
        "/api/status": status_answer,
        "/api/export.csv": export_answer,
    }
    for path, dataset in SERVED_ROUTES.items():
        fast[path] = dataset_answer(dataset)
    app.wsgi_app = FastPaths(app.wsgi_app, fast)  # type: ignore[method-assign]

    def flask_view(answer: Callable[[Mapping[str, Any]], Answer]) -> Callable[[], Response]:
        """The same answer as a Flask route (GET and HEAD normally take the shortcut)."""

        def view() -> Response:
            status, headers, body = answer(request.environ)
            response = Response(body, status=status)
            for name, value in headers:
                response.headers[name] = value
            return response

        return view

    for path, answer in fast.items():
        endpoint = "fast" + path.replace("/", "_").replace(".", "_")
        app.add_url_rule(path, endpoint, flask_view(answer), methods=["GET"])

    def stored_gateway_json(
        gateway_id: str, read: Callable[[redis.Redis, str], bytes | None], missing: str
    ) -> Response:
        """One gateway's JSON exactly as the worker stored it (bad id 400, absent 404)."""
        if not GATEWAY_ID_RE.match(gateway_id):
            return json_error(400, "gateway id must be a Mist device id")
        body = read(_client(), gateway_id)
        if body is None:
            return json_error(404, missing)
        response = Response(body, mimetype=JSON_MIMETYPE)
        response.headers["Cache-Control"] = "no-cache"
        return response

    @app.get("/api/gateway/<gateway_id>")
    def gateway_detail(gateway_id: str) -> Response:
        return stored_gateway_json(
            gateway_id, reads.read_gateway, "no such gateway in the current data"
        )

    @app.get("/api/gateway/<gateway_id>/vpn-peers")
    def gateway_peer_paths(gateway_id: str) -> Response:
        return stored_gateway_json(
            gateway_id, reads.read_gateway_peer_paths, "no peer paths known for this gateway"
        )

    @app.get("/api/gateway/<gateway_id>/port/<path:port_id>/traffic")
    def port_traffic(gateway_id: str, port_id: str) -> Response:
        if not GATEWAY_ID_RE.match(gateway_id):
            return json_error(400, "gateway id must be a Mist device id")
        if not PORT_ID_RE.match(port_id):
            return json_error(400, "port id must look like ge-0/0/0")
        range_name = request.args.get("range", "24h")
        if range_name not in TRAFFIC_RANGES:
            return json_error(400, "range must be one of 1h, 6h, 24h, 7d")
        port_history = read_port_history(_client(), gateway_id, port_id)
        if port_history is None:
            return json_error(404, "no traffic history for this gateway port")
        try:
            series = traffic_series(
                port_history, range_name=range_name, now=time.time(), interval=interval_default
            )
        except ValueError:
            return json_error(400, "range must be one of 1h, 6h, 24h, 7d")
        return _json_response({"gateway_id": gateway_id, "port_id": port_id, **series})

    return app


def main() -> None:
    """`python app.py`: the development server on PORT (gunicorn serves production)."""
    web = settings.load_or_exit(settings.load_web_settings)
    settings.configure_logging(web.log_level)
    app = create_app()
    host = os.environ.get("HOST", "0.0.0.0")  # noqa: S104 - in a container the port is published
    app.run(host=host, port=web.port, debug=False, use_reloader=False, threaded=True)


if __name__ == "__main__":
    main()
