"""Mist-shaped JSON objects for one moment of simulated time.

Each function turns a static record plus `t` into the dict the real API would send, with
the field names and units of REFERENCE.md §4 (bps in bits/s, counters in bytes since boot,
times in epoch seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mistsim import dynamics
from mistsim.model import ConfigObject, Gateway, Org, PeerPath, Port, Site


def org_object(org: Org, org_id: str) -> dict[str, Any]:
    name = org.name if org_id == org.id else f"Other Org {org.other_org_ids.index(org_id) + 2}"
    return {
        "id": org_id,
        "name": name,
        "alarmtemplate_id": None,
        "allow_mist": True,
        "orggroup_ids": [],
        "session_expiry": 1440,
        "created_time": org.created_time,
        "modified_time": org.created_time + 86400,
        "msp_id": org.msp_id,
        "msp_name": org.msp_name,
    }


def site_object(site: Site, org_id: str) -> dict[str, Any]:
    return {
        "id": site.id,
        "org_id": org_id,
        "name": site.name,
        "address": site.address,
        "country_code": site.country_code,
        "timezone": site.timezone,
        "tzoffset": site.tzoffset,
        "latlng": {"lat": site.lat, "lng": site.lng},
        "gatewaytemplate_id": site.gatewaytemplate_id,
        "networktemplate_id": None,
        "rftemplate_id": None,
        "aptemplate_id": None,
        "alarmtemplate_id": None,
        "secpolicy_id": None,
        "sitetemplate_id": None,
        "sitegroup_ids": [],
        "notes": "",
        "created_time": site.created_time,
        "modified_time": site.modified_time,
    }


def _if_static(port: Port, sparse: bool) -> dict[str, Any]:
    """The parts of an `if_stat` entry that do not move with time."""
    entry: dict[str, Any] = {
        "port_id": port.port_id,
        "port_usage": port.usage,
        "network_name": port.network,
        "vlan": port.vlan,
        "address_mode": port.address_mode or "Static",
        "ips": [port.ip_cidr] if port.ip_cidr else [],
        "nat_addresses": [],
        "redundancy_state": "",
    }
    if port.usage == "wan":
        entry["wan_name"] = port.wan_name
        entry["wan_type"] = port.wan_type
        if port.isp is not None:
            entry["servp_info"] = {
                "asn": port.isp.asn,
                "org": port.isp.name,
                "city": "",
                "region_code": "",
                "country_code": "",
                "latitude": 0.0,
                "longitude": 0.0,
            }
        if sparse:
            for key in ("servp_info", "wan_type", "ips", "address_mode"):
                entry.pop(key, None)
    return entry


def _if_stat(port: Port, t: float, boot: float, sparse: bool) -> dict[str, Any]:
    rx_bytes, tx_bytes, rx_pkts, tx_pkts = dynamics.port_counters(port, t, boot)
    entry = _if_static(port, sparse)
    entry.update(
        up=dynamics.link_up(port, t),
        rx_bytes=rx_bytes,
        tx_bytes=tx_bytes,
        rx_pkts=rx_pkts,
        tx_pkts=tx_pkts,
    )
    return entry


def port_static(org: Org, gateway: Gateway, port: Port, with_identity: bool) -> dict[str, Any]:
    """The parts of a port-search result that do not move with time."""
    result: dict[str, Any] = {}
    if with_identity:
        result.update(org_id=org.id, site_id=gateway.site_id, mac=gateway.mac)
    result.update(
        port_id=port.port_id,
        port_mac=port.port_mac,
        type="gateway",
        port_usage=port.usage,
        disabled=False,
        unconfigured=False,
        for_site=True,
        full_duplex=True,
        rx_errors=0,
        tx_errors=0,
        rx_mcast_pkts=0,
        tx_mcast_pkts=0,
        rx_bcast_pkts=0,
        tx_bcast_pkts=0,
        neighbor_mac="",
        neighbor_port_desc="",
        neighbor_system_name="",
        lte_imsi=None,
        lte_iccid=None,
        lte_imei=None,
    )
    if port.wan_type == "lte":
        result.update(lte_imsi="001010123456789", lte_iccid="8901010123456789012")
        result["lte_imei"] = "356938035643809"
    return result


@dataclass(slots=True)
class PortNow:
    """A port's moving numbers at one moment."""

    up: bool
    speed: int
    rx_bps: int
    tx_bps: int
    rx_bytes: int
    tx_bytes: int
    rx_pkts: int
    tx_pkts: int
    latency: float
    jitter: float
    loss: float
    last_flapped: float


def port_now(gateway: Gateway, port: Port, t: float, boot: float) -> PortNow:
    t = dynamics.effective_time(gateway, t)
    up = dynamics.link_up(port, t) and gateway.connected
    rx_bytes, tx_bytes, rx_pkts, tx_pkts = dynamics.port_counters(port, t, boot)
    rx_bps, tx_bps = dynamics.current_bps(port, t) if up else (0, 0)
    latency, jitter, loss = dynamics.probe(port, t) if up else (0.0, 0.0, 0.0)
    return PortNow(
        up=up,
        speed=port.speed if up else 0,
        rx_bps=rx_bps,
        tx_bps=tx_bps,
        rx_bytes=rx_bytes,
        tx_bytes=tx_bytes,
        rx_pkts=rx_pkts,
        tx_pkts=tx_pkts,
        latency=latency,
        jitter=jitter,
        loss=loss,
        last_flapped=round(dynamics.last_flapped(port, t, boot), 1),
    )


SPARSE_PORT_KEYS = ("rx_bps", "tx_bps", "latency", "jitter", "loss", "last_flapped")


def port_stat(
    org: Org, gateway: Gateway, port: Port, t: float, boot: float, with_identity: bool = True
) -> dict[str, Any]:
    """One port-search result (or, without identity fields, one `ports[]` item)."""
    now = port_now(gateway, port, t, boot)
    result = port_static(org, gateway, port, with_identity)
    result.update(
        up=now.up,
        active=now.up,
        speed=now.speed,
        rx_bps=now.rx_bps,
        tx_bps=now.tx_bps,
        rx_bytes=now.rx_bytes,
        tx_bytes=now.tx_bytes,
        rx_pkts=now.rx_pkts,
        tx_pkts=now.tx_pkts,
        latency=now.latency,
        jitter=now.jitter,
        loss=now.loss,
        last_flapped=now.last_flapped,
    )
    if gateway.sparse:
        for key in SPARSE_PORT_KEYS:
            result.pop(key, None)
    return result


def peer_stat(org: Org, path: PeerPath, t: float, boot: float, hub_boot: float) -> dict[str, Any]:
    gateway = path.gateway
    t = dynamics.effective_time(gateway, t)
    up = gateway.connected and dynamics.link_up(path.port, t) and dynamics.link_up(path.hub_port, t)
    up = up and not path.down
    result: dict[str, Any] = {
        "org_id": org.id,
        "site_id": gateway.site_id,
        "mac": gateway.mac,
        "router_name": gateway.name,
        "port_id": path.port_label,
        "peer_mac": path.hub.mac,
        "peer_router_name": path.hub.name,
        "peer_port_id": path.peer_port_label,
        "peer_site_id": path.hub.site_id,
        "type": path.type,
        "up": up,
        "is_active": up,
        "mtu": path.mtu,
        "last_seen": round(t - (t % 30), 1),
    }
    if up:
        came_up = max(
            dynamics.last_flapped(path.port, t, boot),
            dynamics.last_flapped(path.hub_port, t, hub_boot),
        )
        latency, jitter, loss, mos = dynamics.path_quality(path, t)
        result.update(uptime=int(t - came_up), latency=latency, jitter=jitter, loss=loss, mos=mos)
    else:
        result.update(uptime=0, latency=0, jitter=0, loss=100, mos=0)
    if gateway.sparse:
        for key in ("latency", "mos", "router_name"):
            result.pop(key, None)
    return result


def device_static(org: Org, gateway: Gateway) -> dict[str, Any]:
    """The parts of a `stats/devices` gateway item that do not move with time."""
    ext_ip = next((port.public_ip for port in gateway.wan_ports if port.public_ip), None)
    result: dict[str, Any] = {
        "id": gateway.id,
        "mac": gateway.mac,
        "type": "gateway",
        "model": gateway.model,
        "serial": gateway.serial,
        "name": gateway.name,
        "hostname": gateway.name,
        "org_id": org.id,
        "site_id": gateway.site_id,
        "deviceprofile_id": gateway.deviceprofile_id,
        "map_id": None,
        "status": "connected" if gateway.connected else "disconnected",
        "version": gateway.version,
        "created_time": gateway.created_time,
        "modified_time": gateway.modified_time,
        "ip": ext_ip,
        "ext_ip": ext_ip,
        "config_status": "synced",
        "is_ha": gateway.is_ha,
        "node_name": "node0",
        "cert_expiry": int(gateway.created_time + 86400 * 3650),
        "cpu_stat": {
            "idle": 88,
            "interrupt": 0,
            "system": 5,
            "user": 7,
            "load_avg": [0.2, 0.25, 0.3],
        },
        "memory_stat": {"usage": 40 + gateway.key % 30},
        "ip_stat": {"ip": ext_ip or "", "dns": ["1.1.1.1", "8.8.8.8"], "dns_suffix": []},
    }
    if gateway.is_ha:
        result["cluster_config"] = {
            "status": "Green",
            "operational": "Operational",
            "configuration": "Configured",
            "primary_node_health": "Healthy",
            "secondary_node_health": "Healthy",
            "control_link_info": {"name": "fxp1", "status": "Up"},
        }
    if gateway.family == "srx":
        result["spu_stat"] = [{"spu_cpu": 3, "spu_memory": 38, "spu_current_session": 800}]
    else:
        result["router_name"] = gateway.name
        result["conductor_name"] = ""
    return result


SPARSE_DEVICE_KEYS = ("uptime", "version", "ip", "ext_ip", "last_seen", "cpu_stat", "ip_stat")


def device_stats(
    org: Org, gateway: Gateway, t: float, reboots: dict[str, float], fields: set[str]
) -> dict[str, Any]:
    """One `stats/devices?type=gateway` item; `ports`/`vpn_peers` only when asked for."""
    t_eff = dynamics.effective_time(gateway, t)
    boot = dynamics.boot_time(gateway, t_eff, reboots)
    result = device_static(org, gateway)
    result["uptime"] = int(t_eff - boot) if gateway.connected else 0
    result["last_seen"] = round(t_eff, 1)
    if_stat: dict[str, Any] = {}
    if2_stat: dict[str, Any] = {}
    for port in gateway.ports:
        target = if2_stat if port.node == "node1" else if_stat
        target[port.logical] = _if_stat(port, t_eff, boot, gateway.sparse)
    result["if_stat"] = if_stat
    if gateway.is_ha:
        result["if2_stat"] = if2_stat
    if "*" in fields or "ports" in fields:
        result["ports"] = [
            port_stat(org, gateway, port, t, boot, with_identity=False) for port in gateway.ports
        ]
    if "*" in fields or "vpn_peers" in fields:
        peers = []
        for path in gateway.peer_paths:
            hub_boot = dynamics.boot_time(path.hub, t, reboots)
            item = peer_stat(org, path, t, boot, hub_boot)
            for key in ("org_id", "site_id", "mac"):
                item.pop(key)
            peers.append(item)
        result["vpn_peers"] = peers
    if gateway.sparse:
        for key in SPARSE_DEVICE_KEYS:
            result.pop(key, None)
    return result


def inventory_item(org: Org, gateway: Gateway) -> dict[str, Any]:
    return {
        "id": gateway.id,
        "mac": gateway.mac,
        "serial": gateway.serial,
        "model": gateway.model,
        "sku": f"{gateway.model}-SYS-JB",
        "hw_rev": "A",
        "type": "gateway",
        "name": gateway.name,
        "hostname": gateway.name,
        "org_id": org.id,
        "site_id": gateway.site_id,
        "deviceprofile_id": gateway.deviceprofile_id,
        "connected": gateway.connected,
        "adopted": False,
        "magic": f"{gateway.key:08X}{gateway.mac[-6:].upper()}",
        "created_time": gateway.created_time,
        "modified_time": gateway.modified_time,
    }


def config_object(obj: ConfigObject, org_id: str) -> dict[str, Any]:
    """A gateway template or device profile as Mist returns it."""
    result: dict[str, Any] = {
        "id": obj.id,
        "org_id": org_id,
        "name": obj.name,
        "type": obj.type,
        "created_time": obj.created_time,
        "modified_time": obj.modified_time,
    }
    if obj.type != "ap":
        result["port_config"] = obj.port_config
    return result


def template_object(obj: ConfigObject, org_id: str) -> dict[str, Any]:
    result = config_object(obj, org_id)
    wan_names = [entry["name"] for entry in obj.port_config.values() if entry.get("usage") == "wan"]
    result["path_preferences"] = {
        "internet": {
            "strategy": "ordered",
            "paths": [{"type": "wan", "name": n} for n in wan_names],
        }
    }
    return result


def device_object(org: Org, gateway: Gateway) -> dict[str, Any]:
    """The device's own config (`/sites/{site_id}/devices/{device_id}`), with overrides and vars.

    `deviceprofile_id` is left out when unset: the device schema does not allow null here."""
    result: dict[str, Any] = {
        "id": gateway.id,
        "mac": gateway.mac,
        "serial": gateway.serial,
        "model": gateway.model,
        "type": "gateway",
        "name": gateway.name,
        "org_id": org.id,
        "site_id": gateway.site_id,
        "deviceprofile_id": gateway.deviceprofile_id,
        "managed": True,
        "notes": "",
        "created_time": gateway.created_time,
        "modified_time": gateway.modified_time,
        "vars": dict(gateway.vars),
        "port_config": gateway.own_port_config,
    }
    if gateway.deviceprofile_id is None:
        del result["deviceprofile_id"]
    return result
