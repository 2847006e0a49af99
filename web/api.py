"""The per-gateway JSON routes: one gateway, its peer paths and one WAN port's traffic."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import redis
from flask import Blueprint, Response, request

from history.series import RANGES
from history.series import series as traffic_series
from store.histories import read_port_history
from store.keys import Keyspace
from store.reads import read_gateway, read_gateway_availability, read_gateway_peer_paths
from web.answers import JSON_MIMETYPE, PRIVATE_NO_CACHE
from web.errors import json_error, json_response
from web.scope import OrgRefused, OrgScopes

# Mist ids are UUIDs; port ids look like ge-0/0/0, reth0.100, lte0/0/0 or ge-0/0/1.0.
GATEWAY_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
PORT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/._:-]{0,63}$")
BAD_GATEWAY_ID = "gateway id must be a Mist device id"
BAD_RANGE = "range must be one of " + ", ".join(RANGES)


def _stored_gateway_json(body: bytes | None, missing: str) -> Response:
    """One gateway's JSON exactly as the worker stored it (absent: 404)."""
    if body is None:
        return json_error(404, missing)
    response = Response(body, mimetype=JSON_MIMETYPE)
    response.headers["Cache-Control"] = PRIVATE_NO_CACHE
    return response


def blueprint(client: redis.Redis, interval: int) -> Blueprint:
    """The routes, reading `client`; `interval` is the refresh interval the charts step by."""
    api = Blueprint("api", __name__)
    scopes = OrgScopes(client)

    @api.errorhandler(OrgRefused)
    def refused(error: OrgRefused) -> Response:
        """No `?org=` where several orgs are served (400 naming them), or an unknown one."""
        response = Response(error.body, status=error.status, mimetype=JSON_MIMETYPE)
        response.headers["Cache-Control"] = "no-store"
        return response

    def stored(
        gateway_id: str, read: Callable[[redis.Redis, str, Keyspace], bytes | None], missing: str
    ) -> Response:
        keyspace = scopes.choose(request.args.get("org")).keyspace
        if not GATEWAY_ID_RE.match(gateway_id):
            return json_error(400, BAD_GATEWAY_ID)
        return _stored_gateway_json(read(client, gateway_id, keyspace), missing)

    @api.get("/api/gateway/<gateway_id>")
    def gateway_detail(gateway_id: str) -> Response:
        return stored(gateway_id, read_gateway, "no such gateway in the current data")

    @api.get("/api/gateway/<gateway_id>/vpn-peers")
    def gateway_peer_paths(gateway_id: str) -> Response:
        return stored(gateway_id, read_gateway_peer_paths, "no peer paths known for this gateway")

    @api.get("/api/gateway/<gateway_id>/availability")
    def gateway_availability(gateway_id: str) -> Response:
        return stored(
            gateway_id, read_gateway_availability, "no availability known for this gateway"
        )

    @api.get("/api/gateway/<gateway_id>/port/<path:port_id>/traffic")
    def port_traffic(gateway_id: str, port_id: str) -> Response:
        scopes.choose(request.args.get("org"))  # histories are per gateway: only checked
        if not GATEWAY_ID_RE.match(gateway_id):
            return json_error(400, BAD_GATEWAY_ID)
        if not PORT_ID_RE.match(port_id):
            return json_error(400, "port id must look like ge-0/0/0")
        range_name = request.args.get("range", "24h")
        if range_name not in RANGES:
            return json_error(400, BAD_RANGE)
        port_history = read_port_history(client, gateway_id, port_id)
        if port_history is None:
            return json_error(404, "no traffic history for this gateway port")
        series = traffic_series(
            port_history, range_name=range_name, now=time.time(), interval=interval
        )
        return json_response({"gateway_id": gateway_id, "port_id": port_id, **series})

    return api
