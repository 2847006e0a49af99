"""The page blueprint: the dashboard HTML, its static files, the manifest and the favicon."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flask import Blueprint, Response, render_template, request

from web.answers import accepts_gzip, variant_etag
from web.assets import IMMUTABLE, Assets
from web.errors import json_error


def _static_response(asset_name: str, assets: Assets) -> Response:
    """One static file from memory: gzip when accepted, ETag/304, cached forever if versioned."""
    asset = assets.get(asset_name)
    if asset is None:
        return json_error(404, "not found")
    gzipped = asset.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding", ""))
    etag = variant_etag(asset.etag, gzipped)
    if request.if_none_match and request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(asset.gzipped if gzipped else asset.body, mimetype=None)
        response.headers["Content-Type"] = asset.mimetype
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag)
    response.headers["Cache-Control"] = IMMUTABLE if request.query_string else "no-cache"
    if asset.gzipped is not None:
        response.headers["Vary"] = "Accept-Encoding"
    return response


def blueprint(
    assets: Assets,
    poll_ms: int,
    ranges: Sequence[str],
    org_count: Callable[[], int] = lambda: 0,
) -> Blueprint:
    """The page's routes; `ranges` are the chart's traffic ranges (history.series.RANGES);
    `org_count` how many orgs the overview lists (several: the MSP overview, web.overview)."""
    page = Blueprint("page", __name__)

    @page.app_template_global()
    def asset_url(name: str) -> str:
        return f"/static/{name}?v={assets[name].version}"

    @page.get("/")
    def dashboard() -> Response:
        html = render_template(
            "index.html",
            poll_ms=poll_ms,
            ranges=list(ranges),
            several_orgs=org_count() > 1,
            org_chosen=request.args.get("org", ""),  # the org's id: its data is preloaded
        )
        response = Response(html, mimetype="text/html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    @page.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        return _static_response(name, assets)

    @page.get("/manifest.webmanifest")
    def manifest() -> Response:
        response = _static_response("manifest.webmanifest", assets)
        response.headers["Cache-Control"] = "no-cache"
        return response

    @page.get("/favicon.ico")
    def favicon() -> Response:
        return _static_response("icons/icon-192.png", assets)

    return page
