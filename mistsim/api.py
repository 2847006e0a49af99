"""The WSGI application: routing, auth, budgets, faults, pagination and the Mist endpoints."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from mistsim import admin, dynamics, edge, insights, msp, render, site_devices, sle, timeparse
from mistsim.events import AlarmFilter, EventLog, cursor_keys
from mistsim.fastjson import DeviceStatsJson, PortStatsJson, RawJson
from mistsim.model import Gateway, Org, PeerPath, Port
from mistsim.privileges import Grants, Privilege
from mistsim.runtime import Runtime

T = TypeVar("T")

DETAIL_401 = "Authentication credentials were not provided."
DETAIL_403 = "You do not have permission to perform this action."
DETAIL_429 = (
    "Too Many Request. The API Token used for the request reached the {limit} API Calls "
    "per hour threshold"
)
OUTAGE_BODY = b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ApiError(Exception):
    """An error answer in Mist's shape: `{"detail": ...}` with a status code."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One API request as the handlers see it."""

    request: Request
    params: dict[str, str]
    now: float

    def arg(self, name: str) -> str | None:
        value = self.request.args.get(name)
        return value if value not in (None, "") else None

    def csv(self, name: str) -> set[str] | None:
        value = self.arg(name)
        return {part.strip() for part in value.split(",") if part.strip()} if value else None

    def flag(self, name: str) -> bool | None:
        """SDK booleans arrive as "True"/"true"/"false"."""
        value = self.arg(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise ApiError(400, f"{name} must be true or false")
        return lowered == "true"

    def int_arg(self, name: str, default: int) -> int:
        value = self.arg(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"{name} must be an integer, not {value!r}") from None


def _limit(call: Call) -> int:
    limit = call.int_arg("limit", DEFAULT_LIMIT)
    if limit < 0:
        raise ApiError(400, "limit must not be negative")
    return min(limit or DEFAULT_LIMIT, MAX_LIMIT)


def header_page(call: Call, items: Sequence[T], render_item: Callable[[T], Any]) -> Reply:
    """Style A: a bare array page plus X-Page-Total/Limit/Page headers."""
    limit = _limit(call)
    page = max(1, call.int_arg("page", 1))
    chunk = items[(page - 1) * limit : page * limit]
    rendered = [render_item(item) for item in chunk]
    body: Any = rendered
    if rendered and all(isinstance(item, RawJson) for item in rendered):
        body = RawJson("[" + ",".join(rendered) + "]")
    return Reply(
        200,
        body,
        {"X-Page-Total": str(len(items)), "X-Page-Limit": str(limit), "X-Page-Page": str(page)},
    )


def search_page(
    call: Call,
    items: Sequence[T],
    key_of: Callable[[T], str],
    position: dict[str, int],
    ordinal: Callable[[T], int],
    render_item: Callable[[T], Any],
    window: tuple[float, float],
    integer_window: bool,
) -> Reply:
    """Style B: `{start,end,limit,total,next?,results}` with an opaque `search_after` cursor."""
    limit = _limit(call)
    begin = 0
    cursor_text = call.arg("search_after")
    if cursor_text is not None:
        try:
            cursor = json.loads(cursor_text)
            after = position[str(cursor[-1])]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ApiError(400, "search_after is not a cursor this search produced") from None
        begin = _first_after(items, ordinal, after)
    chunk = items[begin : begin + limit]
    start, end = window
    results = [render_item(item) for item in chunk]
    body: dict[str, Any] = {
        "start": int(start) if integer_window else round(start, 3),
        "end": int(end) if integer_window else round(end, 3),
        "limit": limit,
        "total": len(items),
        "results": results,
    }
    if begin + limit < len(items) and chunk:
        last = chunk[-1]
        query = [(k, v) for k, v in call.request.args.items(multi=True) if k != "search_after"]
        if "limit" not in call.request.args:
            query.append(("limit", str(limit)))
        marker = json.dumps([int(call.now * 1000), key_of(last)], separators=(",", ":"))
        query.append(("search_after", marker))
        body["next"] = f"{call.request.path}?{urlencode(query, quote_via=quote)}"
    if results and all(isinstance(item, RawJson) for item in results):
        # splice the pre-encoded results into the wrapper instead of re-encoding them
        body["results"] = []
        wrapper = _dump(body)
        marker = '"results":[]'
        at = wrapper.index(marker) + len(marker) - 1
        return Reply(200, RawJson(wrapper[:at] + ",".join(results) + wrapper[at:]))
    return Reply(200, body)


def _first_after(items: Sequence[T], ordinal: Callable[[T], int], after: int) -> int:
    """Index of the first item whose global ordinal is past the cursor (items are in order)."""
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if ordinal(items[mid]) <= after:
            lo = mid + 1
        else:
            hi = mid
    return lo


class MistApi:
    """The simulated Mist REST API over one generated org."""

    def __init__(
        self,
        org: Org,
        runtime: Runtime,
        insights_keyed: bool = True,
        msp_tokens: Iterable[str] = (),
        user_tokens: dict[str, tuple[Privilege, ...]] | None = None,
    ) -> None:
        self.org = org
        self.runtime = runtime
        self.insights_keyed = insights_keyed
        self.msp_tokens = frozenset(msp_tokens)  # scoped to the org's MSP, not to an org
        self.grants = Grants(org, user_tokens or {})  # mixed org/site/MSP privileges
        self.random = random.Random()
        self.port_position = {self.port_key(gw, port): n for n, (gw, port) in enumerate(org.ports)}
        self.port_ordinal = {id(port): n for n, (_, port) in enumerate(org.ports)}
        self.peer_position = {self.peer_key(path): n for n, path in enumerate(org.peer_paths)}
        self.peer_ordinal = {id(path): n for n, path in enumerate(org.peer_paths)}
        self.org_ids = [org.id, *org.other_org_ids]  # every org is the MSP's
        self.msp_orgs: dict[str, Org] = {org.id: org}  # --spread-orgs: every org with data
        self.hidden_orgs: set[str] = set()  # orgs that left the MSP (POST /__mistsim/orgs)
        self.device_json = DeviceStatsJson(org)
        self.port_json = PortStatsJson(org)
        self.events = EventLog(org)  # what the admin API did, as Mist's events and alarms
        routes: list[tuple[str, Callable[[Call], Reply]]] = [
            ("/api/v1/self", self.get_self),
            ("/api/v1/self/usage", self.get_usage),
            ("/api/v1/msps/<msp_id>/orgs", self.list_msp_orgs),
            ("/api/v1/msps/<msp_id>/stats/orgs", self.list_msp_org_stats),
            ("/api/v1/orgs/<org_id>", self.get_org),
            ("/api/v1/orgs/<org_id>/sites", self.list_sites),
            ("/api/v1/orgs/<org_id>/stats/devices", self.list_device_stats),
            ("/api/v1/orgs/<org_id>/stats/ports/search", self.search_org_ports),
            ("/api/v1/sites/<site_id>/stats/ports/search", self.search_site_ports),
            ("/api/v1/orgs/<org_id>/stats/vpn_peers/search", self.search_peer_paths),
            ("/api/v1/orgs/<org_id>/stats/vpn_peers/count", self.count_peer_paths),
            ("/api/v1/orgs/<org_id>/stats/ports/count", self.count_org_ports),
            ("/api/v1/sites/<site_id>/stats/ports/count", self.count_site_ports),
            ("/api/v1/sites/<site_id>/insights/device/<device_mac>/<metric>", self.device_insight),
            (
                "/api/v1/sites/<site_id>/insights/gateway/<device_id>/stats",
                self.gateway_insights,
            ),
            ("/api/v1/orgs/<org_id>/insights/sites-sle", self.sites_sle),
            ("/api/v1/orgs/<org_id>/inventory", self.list_inventory),
            ("/api/v1/orgs/<org_id>/gatewaytemplates", self.list_templates),
            ("/api/v1/orgs/<org_id>/gatewaytemplates/<gatewaytemplate_id>", self.get_template),
            ("/api/v1/orgs/<org_id>/deviceprofiles", self.list_profiles),
            ("/api/v1/orgs/<org_id>/deviceprofiles/<deviceprofile_id>", self.get_profile),
            ("/api/v1/sites/<site_id>/devices/<device_id>", self.get_device),
            ("/api/v1/sites/<site_id>/devices", partial(site_devices.list_site_devices, self)),
            ("/api/v1/orgs/<org_id>/devices/events/search", self.search_device_events),
            ("/api/v1/orgs/<org_id>/alarms/search", self.search_alarms),
        ]
        self.handlers = {rule: handler for rule, handler in routes}
        self.url_map = Map(
            [Rule(rule, endpoint=rule, methods=["GET"]) for rule, _ in routes],
            strict_slashes=False,
        )
        self.admin = admin.Admin(self)

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def port_key(gateway: Gateway, port: Port) -> str:
        return f"{gateway.mac}-{port.port_id}"

    @staticmethod
    def peer_key(path: PeerPath) -> str:
        return f"{path.gateway.mac}-{path.port.port_id}-{path.hub.mac}-{path.hub_port.port_id}"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/__mistsim/"):
            response = self.admin.handle(request)
        else:
            response = self.handle_api(request)
        return response(environ, start_response)

    def handle_api(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        token = _token(request)
        try:
            rule, params = adapter.match(return_rule=True)
        except MethodNotAllowed:
            self.runtime.count_call(f"{request.method} {request.path}", token)
            return _json(405, {"detail": f"Method {request.method} not allowed"})
        except (NotFound, HTTPException):
            self.runtime.count_call(f"{request.method} (unknown path)", token)
            return _json(404, {"detail": f"Not found: {request.path}"})
        template = rule.rule.replace("<", "{").replace(">", "}")
        endpoint = f"{request.method} {template}"
        known_token = token if token in self.runtime.tokens else None
        self.runtime.count_call(endpoint, token)
        faults = self.runtime.snapshot_faults()
        faulted = faults.applies_to(request.path)
        if faulted:
            if faults.outage:
                return Response(OUTAGE_BODY, status=503, content_type="text/html")
            if faults.hang:
                self.runtime.wait_while_hung(request.path)
            if faults.latency_ms or faults.jitter_ms:
                delay = faults.latency_ms + self.random.uniform(0, faults.jitter_ms)
                time.sleep(delay / 1000)
            if faults.error_rate and self.random.random() < faults.error_rate:
                return self.server_error()
        if known_token is None:
            return _json(401, {"detail": DETAIL_401})
        if known_token in faults.exhausted_tokens or not self.runtime.spend(known_token):
            return self.too_many()
        if faulted and faults.forbidden:
            return _json(403, {"detail": DETAIL_403})
        call = Call(request=request, params=dict(params), now=self.runtime.now())
        try:
            self.check_privilege(call.params, known_token)
            reply = self.handlers[rule.endpoint](call)
        except ApiError as error:
            return _json(error.status, {"detail": error.detail})
        response = _json(reply.status, reply.body, reply.headers)
        if faulted and faults.nonstandard and reply.status < 300:
            response.set_data(edge.nonstandard_json(response.get_data()))
        if faulted and faults.deep:
            response.set_data(edge.DEEP_JSON)
        if faulted and faults.malformed:
            data = response.get_data()
            response.set_data(data[: max(1, len(data) // 2)])
        return response

    def server_error(self) -> Response:
        status = self.random.choice([500, 502, 503, 504])
        if status == 500:
            return _json(500, {"detail": "Internal Server Error"})
        return Response(
            f"{status} Bad Gateway\n".encode(), status=status, content_type="text/plain"
        )

    def too_many(self) -> Response:
        response = _json(429, {"detail": DETAIL_429.format(limit=self.runtime.rate_limit)})
        if self.runtime.retry_after is not None:
            response.headers["Retry-After"] = str(self.runtime.retry_after)
        return response

    def check_privilege(self, params: dict[str, str], token: str) -> None:
        """Org tokens and MSP tokens read every org; only MSP tokens read their MSP; user
        tokens read what their privileges reach (mistsim.privileges)."""
        if token in self.grants and not self.grants.may_read(token, params):
            raise ApiError(403, DETAIL_403)
        msp_id = params.get("msp_id")
        msp_token = token in self.msp_tokens or token in self.grants
        if msp_id is not None and (msp_id != self.org.msp_id or not msp_token):
            raise ApiError(403, DETAIL_403)
        org_id = params.get("org_id")
        if org_id is not None and org_id not in self.org_ids:
            raise ApiError(403, DETAIL_403)
        site_id = params.get("site_id")
        if site_id is not None and site_id not in self.org.site_by_id:
            raise ApiError(403, DETAIL_403)

    def main_org(self, call: Call) -> bool:
        """Only the first org holds the synthetic network; the others (--orgs) are empty."""
        return call.params.get("org_id", self.org.id) == self.org.id

    # ------------------------------------------------------------------ identity

    def get_self(self, call: Call) -> Reply:
        token = _token(call.request)
        if token in self.msp_tokens:
            msp = {
                "scope": "msp",
                "role": "read",
                "msp_id": self.org.msp_id,
                "name": self.org.msp_name,
                "msp_name": self.org.msp_name,
                "views": [],
            }
            return Reply(200, {"name": "mistsim-msp-token", "privileges": [msp]})
        if token is not None and token in self.grants:
            privileges = self.grants.privileges(token)
            return Reply(200, {"name": "mistsim-user-token", "privileges": privileges})
        privileges = [
            {
                "scope": "org",
                "role": "read",
                "org_id": org_id,
                "name": render.org_object(self.org, org_id)["name"],
                "views": [],
            }
            for org_id in self.org_ids
        ]
        return Reply(200, {"name": "mistsim-token", "privileges": privileges})

    def listed_orgs(self) -> list[str]:
        """The MSP's orgs now: those that left it (POST /__mistsim/orgs) are not listed."""
        return [org_id for org_id in self.org_ids if org_id not in self.hidden_orgs]

    def list_msp_orgs(self, call: Call) -> Reply:
        """Style A, like every bare array (spec 2509 declares no paging for it; Mist pages)."""
        return header_page(
            call, self.listed_orgs(), lambda org_id: render.org_object(self.org, org_id)
        )

    def list_msp_org_stats(self, call: Call) -> Reply:
        """Every org of the MSP with its name and device counts (style A)."""

        def render_stats(org_id: str) -> dict[str, Any]:
            name = render.org_object(self.org, org_id)["name"]
            return msp.org_stats(self.org, org_id, self.msp_orgs, name)

        return header_page(call, self.listed_orgs(), render_stats)

    def get_usage(self, call: Call) -> Reply:
        token = _token(call.request)
        assert token is not None
        return Reply(200, self.runtime.usage(token))

    def get_org(self, call: Call) -> Reply:
        return Reply(200, render.org_object(self.org, call.params["org_id"]))

    def list_sites(self, call: Call) -> Reply:
        sites = self.org.sites if self.main_org(call) else []
        org_id = self.org.id
        return header_page(call, sites, lambda site: render.site_object(site, org_id))

    # ------------------------------------------------------------------ stats

    def list_device_stats(self, call: Call) -> Reply:
        device_type = call.arg("type") or "ap"
        if device_type not in ("ap", "gateway", "switch", "all"):
            raise ApiError(400, "type must be one of ap, gateway, switch, all")
        gateways: list[Gateway] = []
        if device_type in ("gateway", "all") and self.main_org(call):
            gateways = self.org.gateways
            status = call.csv("status")
            if status and "all" not in status:
                wanted = {s == "connected" for s in status}
                gateways = [g for g in gateways if g.connected in wanted]
            sites, macs = call.csv("site_id"), call.csv("mac")
            if sites:
                gateways = [g for g in gateways if g.site_id in sites]
            if macs:
                gateways = [g for g in gateways if g.mac in macs]
        fields = call.csv("fields") or set()
        reboots = self.runtime.reboots
        now = call.now
        fast = self.device_json

        def render_gateway(gateway: Gateway) -> Any:
            if fast.supports(gateway, fields):
                return RawJson(fast.encode(gateway, now, reboots))
            return _dump(render.device_stats(self.org, gateway, now, reboots, fields))

        return header_page(call, gateways, render_gateway)

    def _port_items(self, call: Call, site_id: str | None) -> list[tuple[Gateway, Port]]:
        """Gateway ports matching the search/count filters (`device_type` or legacy `type`)."""
        device_type = call.arg("device_type") or call.arg("type") or "all"
        kinds = {kind.strip() for kind in device_type.split(",")}
        if not (kinds & {"gateway", "all"} and self.main_org(call)):
            return []
        ports = self.org.ports
        macs, port_ids, up = call.csv("mac"), call.csv("port_id"), call.flag("up")
        if site_id is not None:
            ports = [item for item in ports if item[0].site_id == site_id]
        if macs:
            ports = [item for item in ports if item[0].mac in macs]
        if port_ids:
            ports = [item for item in ports if item[1].port_id in port_ids]
        if up is not None:
            now = call.now
            ports = [item for item in ports if _port_up(item[0], item[1], now) == up]
        return ports

    def _ports(self, call: Call, site_id: str | None) -> Reply:
        ports = self._port_items(call, site_id)
        reboots, now = self.runtime.reboots, call.now
        boots: dict[str, float] = {}

        def render_port(item: tuple[Gateway, Port]) -> RawJson:
            gateway, port = item
            boot = boots.get(gateway.mac)
            if boot is None:
                t_eff = dynamics.effective_time(gateway, now)
                boot = boots[gateway.mac] = dynamics.boot_time(gateway, t_eff, reboots)
            if gateway.sparse:
                return _dump(render.port_stat(self.org, gateway, port, now, boot))
            return RawJson(self.port_json.encode(gateway, port, now, boot))

        return search_page(
            call,
            ports,
            key_of=lambda item: self.port_key(*item),
            position=self.port_position,
            ordinal=lambda item: self.port_ordinal[id(item[1])],
            render_item=render_port,
            window=(now - 86400, now),
            integer_window=True,
        )

    def search_org_ports(self, call: Call) -> Reply:
        return self._ports(call, None)

    def search_site_ports(self, call: Call) -> Reply:
        return self._ports(call, call.params["site_id"])

    def _count_ports(self, call: Call, site_id: str | None) -> Reply:
        """Style C: `{distinct, start, end, limit, total, results: [{<field>: value, count}]}`."""
        distinct = call.arg("distinct") or "mac"
        values: dict[str, Callable[[Gateway, Port], Any]] = {
            "mac": lambda gateway, port: gateway.mac,
            "port_id": lambda gateway, port: port.port_id,
            "port_mac": lambda gateway, port: port.port_mac,
            "up": lambda gateway, port: _port_up(gateway, port, call.now),
            "speed": lambda gateway, port: port.speed if _port_up(gateway, port, call.now) else 0,
            "full_duplex": lambda gateway, port: True,
        }
        if distinct not in values:
            raise ApiError(400, f"distinct must be one of {', '.join(values)}")
        counts: dict[str, int] = {}
        for gateway, port in self._port_items(call, site_id):
            value = values[distinct](gateway, port)
            text = str(value).lower() if isinstance(value, bool) else str(value)
            counts[text] = counts.get(text, 0) + 1
        return _count_reply(distinct, counts, self._window(call), _limit(call))

    def count_org_ports(self, call: Call) -> Reply:
        return self._count_ports(call, None)

    def count_site_ports(self, call: Call) -> Reply:
        return self._count_ports(call, call.params["site_id"])

    def _peer_paths(self, call: Call) -> list[PeerPath]:
        if not self.main_org(call):
            return []
        paths = self.org.peer_paths
        macs, sites, types = call.csv("mac"), call.csv("site_id"), call.csv("type")
        if macs:
            paths = [p for p in paths if p.gateway.mac in macs]
        if sites:
            paths = [p for p in paths if p.gateway.site_id in sites]
        if types:
            paths = [p for p in paths if p.type in types]
        return paths

    def _window(self, call: Call) -> tuple[float, float]:
        try:
            return timeparse.window(
                call.arg("start"), call.arg("end"), call.arg("duration"), call.now
            )
        except timeparse.BadTime as error:
            raise ApiError(400, str(error)) from None

    def search_peer_paths(self, call: Call) -> Reply:
        window = self._window(call)
        reboots, now = self.runtime.reboots, call.now

        def render_path(path: PeerPath) -> dict[str, Any]:
            t_eff = dynamics.effective_time(path.gateway, now)
            boot = dynamics.boot_time(path.gateway, t_eff, reboots)
            hub_boot = dynamics.boot_time(path.hub, now, reboots)
            return render.peer_stat(self.org, path, now, boot, hub_boot)

        return search_page(
            call,
            self._peer_paths(call),
            key_of=self.peer_key,
            position=self.peer_position,
            ordinal=lambda path: self.peer_ordinal[id(path)],
            render_item=render_path,
            window=window,
            integer_window=False,
        )

    def count_peer_paths(self, call: Call) -> Reply:
        distinct = call.arg("distinct") or "mac"
        allowed = ("mac", "site_id", "type", "up", "port_id", "peer_mac", "peer_site_id")
        if distinct not in allowed:
            raise ApiError(400, f"distinct must be one of {', '.join(allowed)}")
        start, end = self._window(call)
        limit = _limit(call)
        reboots, now = self.runtime.reboots, call.now
        counts: dict[str, int] = {}
        for path in self._peer_paths(call):
            if distinct == "up":
                t_eff = dynamics.effective_time(path.gateway, now)
                boot = dynamics.boot_time(path.gateway, t_eff, reboots)
                hub_boot = dynamics.boot_time(path.hub, now, reboots)
                value = str(render.peer_stat(self.org, path, now, boot, hub_boot)["up"]).lower()
            elif distinct in ("mac", "site_id"):
                value = getattr(path.gateway, distinct)
            elif distinct == "type":
                value = path.type
            elif distinct == "port_id":
                value = path.port_label
            elif distinct == "peer_mac":
                value = path.hub.mac
            else:
                value = path.hub.site_id
            counts[value] = counts.get(value, 0) + 1
        return _count_reply(distinct, counts, (start, end), limit)

    def gateway_insights(self, call: Call) -> Reply:
        gateway = self.org.gateway_by_id.get(call.params["device_id"])
        if gateway is None or gateway.site_id != call.params["site_id"]:
            raise ApiError(404, "device not found in this site")
        args = {key: value for key, value in call.request.args.items() if value != ""}
        return self._series(gateway, args, call.now, self.insights_keyed)

    def device_insight(self, call: Call) -> Reply:
        """The older single-metric form, keyed by MAC: `.../insights/device/{mac}/{metric}`."""
        gateway = self.org.gateway_by_mac.get(call.params["device_mac"])
        if gateway is None or gateway.site_id != call.params["site_id"]:
            raise ApiError(404, "device not found in this site")
        args = {key: value for key, value in call.request.args.items() if value != ""}
        args["metrics"] = call.params["metric"]
        return self._series(gateway, args, call.now, keyed=False)

    def _series(self, gateway: Gateway, args: dict[str, str], now: float, keyed: bool) -> Reply:
        try:
            return Reply(200, insights.series(gateway, args, now, keyed))
        except insights.BadInsight as error:
            raise ApiError(400, str(error)) from None

    # ------------------------------------------------------------------ events (events.py)

    def search_device_events(self, call: Call) -> Reply:
        window = self._window(call)
        found = self.events.device_events(
            window,
            device_types=call.csv("device_type") or {"ap"},
            types=call.csv("type"),
            macs={mac.lower() for mac in call.csv("mac") or ()} or None,
            descending=(call.arg("sort") or "").startswith("-"),
        )
        found = found if self.main_org(call) else []
        position, ordinal = cursor_keys(found, lambda event: event.key)
        return search_page(
            call, found, lambda event: event.key, position, ordinal,
            self.events.render_event, window, integer_window=True,
        )  # fmt: skip

    def search_alarms(self, call: Call) -> Reply:
        window = self._window(call)
        wanted = AlarmFilter(
            *(call.csv(name) for name in ("type", "status", "severity", "group", "site_id"))
        )
        found = self.events.alarms(window, call.now, wanted) if self.main_org(call) else []
        position, ordinal = cursor_keys(found, lambda alarm: alarm["id"])
        return search_page(
            call, found, lambda alarm: alarm["id"], position, ordinal, lambda alarm: alarm,
            window, integer_window=True,
        )  # fmt: skip

    def sites_sle(self, call: Call) -> Reply:
        """WAN SLEs per site, paged in the body (mistsim/sle.py)."""
        args = {key: value for key, value in call.request.args.items() if value != ""}
        try:
            return Reply(200, sle.sites_sle(self.org, args, call.now, self.main_org(call)))
        except sle.BadSle as error:
            raise ApiError(400, str(error)) from None

    # ------------------------------------------------------------------ config

    def list_inventory(self, call: Call) -> Reply:
        types = call.csv("type") or {"ap"}
        gateways: list[Gateway] = []
        if "gateway" in types and self.main_org(call):
            gateways = self.org.gateways
            for name in ("mac", "serial", "model"):
                wanted = call.csv(name)
                if wanted:
                    gateways = [g for g in gateways if getattr(g, name) in wanted]
            site_id = call.arg("site_id")
            if site_id:
                gateways = [g for g in gateways if g.site_id == site_id]
            modified_after = call.arg("modified_after")
            if modified_after:
                try:
                    after = float(modified_after)
                except ValueError:
                    raise ApiError(400, "modified_after must be epoch seconds") from None
                gateways = [g for g in gateways if g.modified_time > after]
        return header_page(call, gateways, lambda g: render.inventory_item(self.org, g))

    def list_templates(self, call: Call) -> Reply:
        templates = self.org.templates if self.main_org(call) else []
        return header_page(call, templates, lambda t: render.template_object(t, self.org.id))

    def get_template(self, call: Call) -> Reply:
        template = self.org.template_by_id.get(call.params["gatewaytemplate_id"])
        if template is None or not self.main_org(call):
            raise ApiError(404, "gateway template not found")
        return Reply(200, render.template_object(template, self.org.id))

    def list_profiles(self, call: Call) -> Reply:
        wanted = call.arg("type") or "ap"
        profiles = [p for p in self.org.profiles if p.type == wanted] if self.main_org(call) else []
        return header_page(call, profiles, lambda p: render.config_object(p, self.org.id))

    def get_profile(self, call: Call) -> Reply:
        profile = self.org.profile_by_id.get(call.params["deviceprofile_id"])
        if profile is None or not self.main_org(call):
            raise ApiError(404, "device profile not found")
        return Reply(200, render.config_object(profile, self.org.id))

    def get_device(self, call: Call) -> Reply:
        gateway = self.org.gateway_by_id.get(call.params["device_id"])
        if gateway is None or gateway.site_id != call.params["site_id"]:
            raise ApiError(404, "device not found in this site")
        return Reply(200, render.device_object(self.org, gateway))


def _port_up(gateway: Gateway, port: Port, now: float) -> bool:
    return gateway.connected and dynamics.link_up(port, dynamics.effective_time(gateway, now))


def _count_reply(
    distinct: str, counts: dict[str, int], window: tuple[float, float], limit: int
) -> Reply:
    buckets = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return Reply(
        200,
        {
            "distinct": distinct,
            "start": int(window[0]),
            "end": int(window[1]),
            "limit": limit,
            "total": len(counts),
            "results": [{distinct: value, "count": count} for value, count in buckets],
        },
    )


def _token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "token" else None


def _dump(body: Any) -> RawJson:
    return RawJson(json.dumps(body, separators=(",", ":"), ensure_ascii=False))


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    text = body if isinstance(body, RawJson) else _dump(body)
    data = text.encode()
    response = Response(data, status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
