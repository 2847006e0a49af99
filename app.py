"""The web app: a read-only Flask factory that serves the dashboard and its JSON API from Redis.

It holds no Mist token and never calls Mist: every byte it serves was written by the worker
through `store/`. The parts live in `web/`: the hot JSON paths (web.fast) answer in
raw WSGI from stored bytes, the per-gateway routes (web.api) and the page (web.page) are Flask
blueprints. This module only wires settings, the one Redis client and those parts together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

import settings
from history.series import RANGES
from settings import Secret
from store.reads import connect
from web import api, errors, events, fast, page
from web.assets import build_assets
from web.overview import OrgCount
from web.security import add_security_headers

ROOT = Path(__file__).resolve().parent
LOG = logging.getLogger("mistcircuitstats.web")


def _flask_app(overrides: Mapping[str, Any]) -> Flask:
    """Flask configured from the settings, then `overrides`; never the debugger."""
    web = settings.load_or_exit(settings.load_web_settings)
    app = Flask(__name__, static_folder=None, template_folder=str(ROOT / "templates"))
    # `//evil.com` must not be merged into a redirect built from the request's Host.
    app.url_map.merge_slashes = False
    app.config.update(
        REDIS_URL=web.redis_url,
        REDIS_SENTINEL=web.sentinel,
        LOG_LEVEL=web.log_level,
        PORT=web.port,
        WORKER_INTERVAL=web.worker_interval,
        METRICS_BEARER_TOKEN=web.metrics_bearer_token,
        DEBUG=False,
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=1024,
        # None (any Host) unless TRUSTED_HOSTS names them; a foreign Host then gets a 400.
        TRUSTED_HOSTS=list(web.trusted_hosts) or None,
    )
    app.config.update(overrides)
    app.debug = False  # never the debugger, whatever LOG_LEVEL says
    if not logging.getLogger().handlers:  # gunicorn or main() may have set logging up already
        settings.configure_logging(app.config["LOG_LEVEL"])
    LOG.setLevel(app.config["LOG_LEVEL"])
    return app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings (e.g. {"REDIS_URL": ...} in tests)."""
    app = _flask_app(dict(config or {}))
    sentinel = app.config.get("REDIS_SENTINEL")
    client = app.config.get("REDIS_CLIENT") or connect(
        app.config["REDIS_URL"],
        sentinel=sentinel,
        replica=bool(sentinel and sentinel.read_from_replicas),
    )
    interval = int(app.config["WORKER_INTERVAL"])
    assets = build_assets(Path(app.config.get("STATIC_DIR", ROOT / "static")))
    poll_ms = int(app.config.get("STATUS_POLL_MS", 10000))
    app.after_request(add_security_headers)
    errors.register(app)
    app.register_blueprint(page.blueprint(assets, poll_ms, tuple(RANGES), OrgCount(client)))
    app.register_blueprint(api.blueprint(client, interval))
    app.register_blueprint(events.blueprint(client))
    bearer = app.config.get("METRICS_BEARER_TOKEN")
    if isinstance(bearer, str):  # a test's override may give it plain
        bearer = Secret(bearer) if bearer else None
    fast_paths = fast.FastPaths(app.wsgi_app, fast.routes(client, interval, bearer))
    app.extensions["fast_paths"] = fast_paths
    app.wsgi_app = fast_paths  # type: ignore[method-assign]
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
