"""Mist items cut down as they arrive: gateway stats, port stats and peer paths.

At 10,000 gateways the fetched lists are most of what the worker holds: a gateway's stats
decode to a dict of dicts (every if_stat entry a dozen keys). The worker turns each item
into one of these tuples as its page arrives (gateway_stat, port_stat, peer_path): only
what the snapshot reads, already normalised, short strings shared. build_snapshot takes
raw Mist dicts or these alike, through the same functions.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from model.values import (
    TEXT_MAX,
    address_mode,
    as_int,
    boolean,
    bounded,
    counter,
    mapping,
    number,
    scalar,
    share,
    text,
)

log = logging.getLogger("model")
Item = TypeVar("Item")


def drops_bad_items(trim: Callable[[Any], Item | None]) -> Callable[[Any], Item | None]:
    """`trim`, but an item it cannot read is dropped (None) and logged: one bad item never
    fails its page, and so never the whole refresh."""

    @functools.wraps(trim)
    def trimmed(raw: Any) -> Item | None:
        try:
            return trim(raw)
        except Exception as error:  # whatever a hostile item makes us raise
            log.warning(
                "dropped a Mist item %s could not read: %s: %.200s",
                trim.__name__,
                type(error).__name__,
                error,
            )
            return None

    return trimmed


def gateway_id_from_mac(mac: str) -> str:
    """Mist's device id for a gateway MAC (REFERENCE.md §1)."""
    return f"00000000-0000-0000-1000-{mac}"


class InterfaceStat(NamedTuple):
    """One if_stat / if2_stat entry of a gateway, as a WAN port record reads it."""

    node: str  # node0 for if_stat, node1 for if2_stat
    port_id: str  # the entry's port_id, else its key without the unit (ge-0/0/0.0)
    wan: bool  # port_usage == "wan"
    wan_name: Any  # verbatim: the WAN-name join and the record read it differently
    wan_type: str | None
    ip: str | None  # the first address
    has_ips: bool
    up: bool | None
    vlan: int | None
    address_mode: str | None
    rx_bytes: int | None
    tx_bytes: int | None
    isp: str | None  # servp_info.org
    asn: str | None


def _interface_stat(node: str, name: str, entry: Mapping[str, Any]) -> InterfaceStat:
    servp = mapping(entry.get("servp_info"))
    ips = entry.get("ips")
    return InterfaceStat(
        node=node,
        port_id=share(text(entry.get("port_id")) or str(name).split(".")[0][:TEXT_MAX]),
        wan=entry.get("port_usage") == "wan",
        wan_name=share(scalar(entry.get("wan_name"))),
        wan_type=share(text(entry.get("wan_type"))),
        ip=text(ips[0]) if isinstance(ips, list) and ips else None,
        has_ips=bool(ips),
        up=boolean(entry.get("up")),
        vlan=as_int(entry.get("vlan")),
        address_mode=address_mode(entry.get("address_mode")),
        rx_bytes=counter(entry.get("rx_bytes")),
        tx_bytes=counter(entry.get("tx_bytes")),
        isp=share(text(servp.get("org"))),
        asn=share(text(servp.get("asn"))),
    )


def configured_only(port_id: str) -> InterfaceStat:
    """A configured WAN port that if_stat does not list (e.g. an offline gateway)."""
    return InterfaceStat(
        "node0", port_id, False, None, None, None, False, None, None, None, None, None, None, None
    )


class GatewayStat(NamedTuple):
    """One gateway of `stats/devices?type=gateway`, as build_snapshot reads it.

    Its fields up to `ha` are, in order, the head of the DATA.md §3.1 gateway record:
    the snapshot's Gateway holds this tuple and gives them straight from it.
    """

    id: str  # Mist's id, else the one its MAC gives
    mac: str | None
    name: Any  # verbatim, like model … ext_ip: Mist's scalars pass through (model.values.scalar)
    site_id: str | None
    model: Any
    version: Any
    status: Any
    uptime: float | int | None
    last_seen: float | int | None
    ip: Any
    ext_ip: Any
    ha: bool
    interfaces: tuple[InterfaceStat, ...]  # if_stat, then if2_stat, each in key order


def _interfaces(raw: Mapping[str, Any]) -> tuple[InterfaceStat, ...]:
    """if_stat (node0) then if2_stat (node1) entries, each in key order."""
    interfaces: list[InterfaceStat] = []
    for node, key in (("node0", "if_stat"), ("node1", "if2_stat")):
        entries = mapping(raw.get(key))
        for name in sorted(entries, key=str):
            entry = entries[name]
            if type(entry) is dict or isinstance(entry, Mapping):
                interfaces.append(_interface_stat(node, name, entry))
    return tuple(interfaces)


@drops_bad_items
def gateway_stat(raw: Any) -> GatewayStat | None:
    """The compact form of one gateway stats item; None for what is not a gateway."""
    if isinstance(raw, GatewayStat):
        return raw
    if not isinstance(raw, Mapping) or raw.get("type") not in (None, "gateway"):
        return None
    mac = text(raw.get("mac"))
    gateway_id = text(raw.get("id")) or (gateway_id_from_mac(mac) if mac else None)
    if gateway_id is None:
        return None
    return GatewayStat(
        id=share(gateway_id),
        mac=share(mac),
        name=share(scalar(raw.get("name"))),
        site_id=share(text(raw.get("site_id"))),
        model=share(scalar(raw.get("model"))),
        version=share(scalar(raw.get("version"))),
        status=share(scalar(raw.get("status"))),
        uptime=number(raw.get("uptime")),
        last_seen=number(raw.get("last_seen")),
        ip=share(scalar(raw.get("ip"))),
        ext_ip=share(scalar(raw.get("ext_ip"))),
        ha=raw.get("is_ha") is True or bool(raw.get("if2_stat")),
        interfaces=_interfaces(raw),
    )


class PortStat(NamedTuple):
    """One row of the gateway port search: link state, speed, rates and counters."""

    mac: str
    port_id: str
    up: bool | None
    disabled: bool | None
    speed: float | int | None
    rx_bps: float | int | None
    tx_bps: float | int | None
    rx_bytes: int | None
    tx_bytes: int | None
    last_flapped: float | int | None


@drops_bad_items
def port_stat(raw: Any) -> PortStat | None:
    """The compact form of one port search result; None without a MAC and port id."""
    if isinstance(raw, PortStat):
        return raw
    if not isinstance(raw, Mapping):
        return None
    mac, port_id = raw.get("mac"), raw.get("port_id")
    if not isinstance(mac, str) or not isinstance(port_id, str):
        return None
    return PortStat(
        mac=share(mac[:TEXT_MAX]),
        port_id=share(port_id[:TEXT_MAX]),
        up=boolean(raw.get("up")),
        disabled=boolean(raw.get("disabled")),
        speed=number(raw.get("speed")),
        rx_bps=number(raw.get("rx_bps")),
        tx_bps=number(raw.get("tx_bps")),
        rx_bytes=counter(raw.get("rx_bytes")),
        tx_bytes=counter(raw.get("tx_bytes")),
        last_flapped=number(raw.get("last_flapped")),
    )


QUALITY_RANGES: dict[str, tuple[float, float]] = {
    "latency": (0, 60_000),  # ms: a path a minute late is down, not slow
    "jitter": (0, 60_000),  # ms
    "loss": (0, 100),  # %
    "mos": (0, 5),  # MOS is 1-5; Mist sends 0 for a path without a score (a down one)
}
"""The physical range of each peer path quality reading: what lies outside is capped to it,
so every average of readings stays finite (two latencies of 1e308 would sum to infinity)."""

PEER_PATH_FIELDS = (
    "port_id",
    "peer_router_name",
    "peer_port_id",
    "peer_mac",
    "peer_site_id",
    "type",
    "up",
    "is_active",
    "uptime",
    "latency",
    "jitter",
    "loss",
    "mos",
    "mtu",
    "last_seen",
    "vpn_name",
    "hop_count",
)


class PeerPath(NamedTuple):
    """One DATA.md §3.3 peer path (PEER_PATH_FIELDS, in order) and its gateway's MAC."""

    port_id: Any
    peer_router_name: Any
    peer_port_id: Any
    peer_mac: Any
    peer_site_id: Any
    type: Any
    up: Any
    is_active: Any
    uptime: Any
    latency: float | int | None
    jitter: float | int | None
    loss: float | int | None
    mos: float | int | None
    mtu: Any
    last_seen: Any
    vpn_name: Any  # not in Mist's vpn_peer_stat schema: kept when Mist sends it, else None
    hop_count: Any  # likewise
    mac: str

    def as_dict(self) -> dict:
        """The §3.3 record (without the gateway's MAC)."""
        return dict(zip(PEER_PATH_FIELDS, self))  # noqa: B905 - stops before `mac`


def _hops(value: Any) -> int | None:
    """A path's hop count: a small non-negative whole number, else unknown."""
    hops = as_int(value)
    return hops if hops is not None and 0 <= hops <= 255 else None


@drops_bad_items
def peer_path(raw: Any) -> PeerPath | None:
    """The compact form of one vpn_peers/search result (quality as numbers within
    QUALITY_RANGES, the other fields as JSON scalars); None when it names no gateway MAC."""
    if isinstance(raw, PeerPath):
        return raw
    if not isinstance(raw, Mapping) or not isinstance(raw.get("mac"), str):
        return None
    get = raw.get
    return PeerPath(
        port_id=share(scalar(get("port_id"))),
        peer_router_name=share(scalar(get("peer_router_name"))),
        peer_port_id=share(scalar(get("peer_port_id"))),
        peer_mac=share(scalar(get("peer_mac"))),
        peer_site_id=share(scalar(get("peer_site_id"))),
        type=share(scalar(get("type"))),
        up=scalar(get("up")),
        is_active=scalar(get("is_active")),
        uptime=scalar(get("uptime")),
        latency=bounded(get("latency"), *QUALITY_RANGES["latency"]),
        jitter=bounded(get("jitter"), *QUALITY_RANGES["jitter"]),
        loss=bounded(get("loss"), *QUALITY_RANGES["loss"]),
        mos=bounded(get("mos"), *QUALITY_RANGES["mos"]),
        mtu=scalar(get("mtu")),
        last_seen=scalar(get("last_seen")),
        vpn_name=None if (vpn := get("vpn_name")) is None else share(text(vpn)),
        hop_count=None if (hops := get("hop_count")) is None else _hops(hops),
        mac=share(raw["mac"][:TEXT_MAX]),
    )
