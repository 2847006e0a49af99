"""`/__mistsim/*`: the test-only control panel (no auth, never counted, never faulted)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from mistsim import dynamics
from mistsim.generator import template_wan_entry, wan_slot
from mistsim.runtime import FaultError

if TYPE_CHECKING:
    from mistsim.api import MistApi


def _reply(status: int, body: Any) -> Response:
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(data, status=status, content_type="application/json")


class Admin:
    """Reads and changes the simulator's run-time state for tests and benchmarks."""

    def __init__(self, api: MistApi) -> None:
        self.api = api

    def handle(self, request: Request) -> Response:
        name = request.path[len("/__mistsim/") :].strip("/")
        routes = {
            ("GET", "calls"): self.calls,
            ("POST", "reset"): self.reset,
            ("GET", "faults"): self.get_faults,
            ("POST", "faults"): self.set_faults,
            ("GET", "org"): self.org_summary,
            ("GET", "orgs"): self.orgs,
            ("POST", "orgs"): self.set_orgs,
            ("POST", "clock"): self.clock,
            ("GET", "clock"): self.get_clock,
            ("POST", "reboot"): self.reboot,
            ("POST", "config"): self.config,
            ("POST", "leap"): self.leap,
            ("POST", "port_down"): self.port_down,
            ("POST", "link"): self.link,
            ("POST", "gateway"): self.gateway_state,
            ("POST", "quality"): self.quality,
            ("POST", "flap"): self.flap,
            ("POST", "path"): self.path_state,
        }
        handler = routes.get((request.method, name))
        if handler is None:
            return _reply(404, {"detail": f"no admin endpoint {request.method} /__mistsim/{name}"})
        body: Any = {}
        if request.method == "POST" and request.get_data():
            try:
                body = json.loads(request.get_data())
            except ValueError:
                return _reply(400, {"detail": "body must be JSON"})
            if not isinstance(body, dict):
                return _reply(400, {"detail": "body must be a JSON object"})
        try:
            return _reply(200, handler(body))
        except (FaultError, ValueError, KeyError) as error:
            return _reply(400, {"detail": str(error)})

    def calls(self, body: dict[str, Any]) -> Any:
        return self.api.runtime.calls()

    def reset(self, body: dict[str, Any]) -> Any:
        self.api.runtime.reset()
        return {"reset": True}

    def get_faults(self, body: dict[str, Any]) -> Any:
        return self.api.runtime.get_faults()

    def set_faults(self, body: dict[str, Any]) -> Any:
        return self.api.runtime.set_faults(body)

    def orgs(self, body: dict[str, Any]) -> Any:
        """Every org of the MSP: id, name, gateways and sites, and whether it is listed."""
        api = self.api
        rows: list[dict[str, Any]] = []
        for org_id in api.org_ids:
            own = api.msp_orgs.get(org_id)
            rows.append(
                {
                    "org_id": org_id,
                    "name": own.name if own is not None else f"Other Org {len(rows) + 1}",
                    "gateways": len(own.gateways) if own is not None else 0,
                    "sites": len(own.sites) if own is not None else 0,
                    "listed": org_id not in api.hidden_orgs,
                }
            )
        return {"msp_id": api.org.msp_id, "orgs": rows}

    def set_orgs(self, body: dict[str, Any]) -> Any:
        """`{"leave": [org ids]}` takes orgs out of the MSP's listings, `{"join": [...]}`
        brings them back."""
        for org_id in [*body.get("leave", []), *body.get("join", [])]:
            if org_id not in self.api.org_ids:
                raise ValueError(f"no org {org_id!r} in this MSP")
        self.api.hidden_orgs |= set(body.get("leave", []))
        self.api.hidden_orgs -= set(body.get("join", []))
        return self.orgs({})

    def org_summary(self, body: dict[str, Any]) -> Any:
        org = self.api.org
        wan_ports = sum(len(gateway.wan_ports) for gateway in org.gateways)
        return {
            "org_id": org.id,
            "org_ids": [org.id, *org.other_org_ids],
            "msp_id": org.msp_id,
            "msp_name": org.msp_name,
            "sites": len(org.sites),
            "gateways": len(org.gateways),
            "wan_ports": wan_ports,
            "ports": len(org.ports),
            "peer_paths": len(org.peer_paths),
            "hubs": sum(1 for gateway in org.gateways if gateway.is_hub),
            "templates": len(org.templates),
            "deviceprofiles": sum(1 for p in org.profiles if p.type == "gateway"),
            "gateway_ids": [gateway.id for gateway in org.gateways],
        }

    def get_clock(self, body: dict[str, Any]) -> Any:
        return {"now": self.api.runtime.now(), "offset": self.api.runtime.clock_offset}

    def clock(self, body: dict[str, Any]) -> Any:
        seconds = body.get("advance")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError("advance must be a non-negative number of seconds")
        now = self.api.runtime.advance(float(seconds))
        return {"now": now, "offset": self.api.runtime.clock_offset}

    def _gateway(self, body: dict[str, Any]) -> Any:
        mac = str(body.get("mac", "")).lower().replace(":", "")
        gateway = self.api.org.gateway_by_mac.get(mac)
        if gateway is None:
            raise ValueError(f"no gateway with mac {mac!r}")
        return gateway

    def reboot(self, body: dict[str, Any]) -> Any:
        gateway = self._gateway(body)
        runtime = self.api.runtime
        with runtime.lock:
            now = runtime.now()
            runtime.reboots[gateway.mac] = now
        return {"mac": gateway.mac, "booted_at": now}

    def leap(self, body: dict[str, Any]) -> Any:
        """Leap a WAN port's byte counters forward (default 10 TB) from now until its gateway
        reboots: a glitch, or another device's counters, that no link could have carried."""
        gateway = self._gateway(body)
        port_id = body.get("port_id") or (gateway.wan_ports[0].port_id if gateway.wan_ports else "")
        port = next((p for p in gateway.wan_ports if p.port_id == port_id), None)
        if port is None:
            raise ValueError(f"{port_id!r} is not a WAN port of this gateway")
        size = body.get("bytes", 10 * 10**12)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError("bytes must be a positive integer")
        runtime = self.api.runtime
        with runtime.lock:
            port.leap_at, port.leap_bytes = runtime.now(), size
        return {"mac": gateway.mac, "port_id": port.port_id, "at": port.leap_at, "bytes": size}

    def _wan_port(self, gateway: Any, body: dict[str, Any]) -> Any:
        port_id = body.get("port_id") or (gateway.wan_ports[0].port_id if gateway.wan_ports else "")
        port = next((p for p in gateway.wan_ports if p.port_id == port_id), None)
        if port is None:
            raise ValueError(f"{port_id!r} is not a WAN port of this gateway")
        return port

    def link(self, body: dict[str, Any]) -> Any:
        """Take a WAN port's link down (from now on) or bring it back up (`state`)."""
        gateway = self._gateway(body)
        port = self._wan_port(gateway, body)
        state = body.get("state")
        if state not in ("up", "down"):
            raise ValueError("state must be up or down")
        runtime = self.api.runtime
        with runtime.lock:
            now = runtime.now()
            was_up = dynamics.link_up(port, now)
            port.link, port.down_since = state, now
        if was_up != (state == "up"):  # Mist tells the change (events.py)
            self.api.events.port(gateway, port, now, up=state == "up")
        return {"mac": gateway.mac, "port_id": port.port_id, "link": state}

    def path_state(self, body: dict[str, Any]) -> Any:
        """Take a spoke's peer paths down (the tunnels, not the links) or back up (`state`),
        those over `port_id` (default: its first WAN port) to `peer_mac` (default: any hub)."""
        gateway = self._gateway(body)
        port = self._wan_port(gateway, body)
        state = body.get("state")
        if state not in ("up", "down"):
            raise ValueError("state must be up or down")
        peer = str(body.get("peer_mac") or "").lower().replace(":", "")
        paths = [
            path
            for path in gateway.peer_paths
            if path.port is port and (not peer or path.hub.mac == peer)
        ]
        if not paths:
            raise ValueError("no peer path matches")
        runtime = self.api.runtime
        with runtime.lock:
            now = runtime.now()
            changed = [path for path in paths if path.down != (state == "down")]
            for path in changed:
                path.down = state == "down"
        for path in changed:
            self.api.events.path(path, now, up=state == "up")
        return {"mac": gateway.mac, "port_id": port.port_id, "paths": len(changed)}

    def flap(self, body: dict[str, Any]) -> Any:
        """A short flap between two refreshes: the port went down `seconds` ago (default 5)
        and is up again now. Stats never show it; only Mist's events (and alarms) tell it."""
        gateway = self._gateway(body)
        port = self._wan_port(gateway, body)
        seconds = body.get("seconds", 5)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ValueError("seconds must be a positive number")
        now = self.api.runtime.now()
        self.api.events.flap(gateway, port, now - float(seconds), now)
        return {"mac": gateway.mac, "port_id": port.port_id, "down": now - seconds, "up": now}

    def gateway_state(self, body: dict[str, Any]) -> Any:
        """Disconnect a gateway from the cloud, or connect it again (`connected`)."""
        gateway = self._gateway(body)
        connected = body.get("connected")
        if not isinstance(connected, bool):
            raise ValueError("connected must be true or false")
        runtime = self.api.runtime
        with runtime.lock:
            now, was = runtime.now(), gateway.connected
            if gateway.connected and not connected:
                gateway.disconnected_at = now
            gateway.connected = connected
            self.api.device_json.forget(gateway)
        if was != connected:
            self.api.events.gateway(gateway, now, connected)
        return {"mac": gateway.mac, "connected": connected}

    def quality(self, body: dict[str, Any]) -> Any:
        """Set the latency baseline (ms) of every peer path over a WAN port: 300 degrades it."""
        gateway = self._gateway(body)
        port = self._wan_port(gateway, body)
        latency = body.get("latency")
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency <= 0:
            raise ValueError("latency must be a positive number of milliseconds")
        paths = [path for path in gateway.peer_paths if path.port is port]
        with self.api.runtime.lock:
            for path in paths:
                path.latency = float(latency)
        return {"mac": gateway.mac, "port_id": port.port_id, "paths": len(paths)}

    def config(self, body: dict[str, Any]) -> Any:
        """Change a WAN port's description in the device's own config and bump modified_time."""
        gateway = self._gateway(body)
        description = body.get("description")
        if not isinstance(description, str):
            raise ValueError("description must be a string")
        wan_ports = gateway.wan_ports
        if not wan_ports:
            raise ValueError("this gateway has no WAN port")
        port_id = body.get("port_id") or wan_ports[0].port_id
        port = next((p for p in wan_ports if p.port_id == port_id), None)
        if port is None:
            raise ValueError(f"{port_id!r} is not a WAN port of this gateway")
        runtime = self.api.runtime
        with runtime.lock:
            entry = gateway.own_port_config.get(port.port_id)
            if entry is None or entry.get("usage") != "wan":
                slot = wan_slot(0)
                mode = {"Static": "static", "PPPoE": "pppoe"}.get(port.address_mode, "dhcp")
                entry = template_wan_entry(
                    (port.port_id, port.wan_name, port.wan_type, mode, slot[4]), port.vlan
                )
            entry = {**entry, "description": description}
            gateway.own_port_config = {**gateway.own_port_config, port.port_id: entry}
            port.description = description
            port.override = True
            gateway.modified_time = round(max(runtime.now(), gateway.modified_time + 1), 3)
        return {"mac": gateway.mac, "port_id": port.port_id, "modified_time": gateway.modified_time}

    def port_down(self, body: dict[str, Any]) -> Any:
        """Take a WAN port's link down from now on (its peer paths go down with it)."""
        gateway = self._gateway(body)
        port_id = body.get("port_id") or (gateway.wan_ports[0].port_id if gateway.wan_ports else "")
        port = next((p for p in gateway.wan_ports if p.port_id == port_id), None)
        if port is None:
            raise ValueError(f"{port_id!r} is not a WAN port of this gateway")
        runtime = self.api.runtime
        with runtime.lock:
            now = runtime.now()
            was_up = dynamics.link_up(port, now)
            port.link = "down"
            port.down_since = now
        if was_up:
            self.api.events.port(gateway, port, now, up=False)
        return {"mac": gateway.mac, "port_id": port.port_id, "down_since": port.down_since}
