"""One refresh's Mist lists joined into gateways, their WAN ports (circuits) and peer paths.

Shapes follow docs/DATA.md §2 and §3.1-§3.3. Every optional Mist field may be missing or
None: nothing here raises on partial data, and strings pass through verbatim (the page
escapes them, we never do). At 10,000 gateways the records are tuples (a third of the
memory of dicts) that the payload turns into dicts one at a time as it encodes them.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from model.items import (
    GatewayStat,
    InterfaceStat,
    PeerPath,
    PortStat,
    configured_only,
    gateway_stat,
    peer_path,
    port_stat,
)
from model.port_config import PortConfig
from model.quality import port_quality, worst_path
from model.values import mapping, scalar, text

log = logging.getLogger("model")


@dataclass(frozen=True, slots=True)
class Circuit:
    """One WAN port of one gateway, as the traffic history needs it."""

    gateway_id: str
    mac: str
    site_id: str | None
    port_id: str
    rx_bytes: int | None
    tx_bytes: int | None
    rx_bps: float | None
    tx_bps: float | None
    speed_bps: float  # what the link can carry: the rate no sample may exceed


DEFAULT_CEILING_BPS = 100e9
"""The ceiling of a port when no port of its gateway reports a speed."""


def speed_ceiling(speed_mbps: float | int | None, gateway_mbps: float) -> float:
    """A port's rate ceiling (bits/s): Mist's `speed` (Mbit/s), else, unknown or 0 (a port
    that is down), the highest speed the gateway's other ports report, else 100 Gbit/s."""
    for mbps in (speed_mbps, gateway_mbps):
        if mbps is not None and mbps > 0:
            return float(mbps) * 1e6
    return DEFAULT_CEILING_BPS


Volumes = Mapping[tuple[str, str], tuple[Any, ...]]  # (gateway_id, port_id) -> as_dict's args
_NO_VOLUMES: Volumes = {}


PortPaths = dict[tuple[str, str], list[PeerPath]]  # (gateway_id, port_id) -> its paths


class WanPort(NamedTuple):
    """One DATA.md §3.1 WAN port record, in its key order, less the volumes (known after the
    history step; as_dict puts them in before `last_flapped`, `down_since` and `worst`)."""

    port_id: str
    node: str
    wan_name: str | None
    description: str | None
    isp: str | None
    asn: str | None
    wan_type: str | None
    enabled: bool | None
    up: bool | None
    down: bool  # link_down: enabled and its link down
    speed: float | int | None
    ip: str | None
    gateway_ip: str | None
    vlan: int | None
    address_mode: str | None
    override: bool | None  # None: not known (its gateway's config not read yet)
    peers_up: int
    peers_total: int
    latency: float | None
    jitter: float | None
    loss: float | None
    mos: float | None
    degraded: bool
    rx_bps: float | int | None
    tx_bps: float | int | None
    last_flapped: float | int | None
    down_since: float | int | None  # last_flapped of a port that is down, else None
    worst: dict | None  # model.quality.worst_path
    unresolved: tuple[str, ...]  # the fields left null: their `{{vars}}` are not known yet

    def as_dict(self, *volumes: Any) -> dict:
        """The §3.1 record with its volumes (_VOLUME_FIELDS, in order, as many as known)."""
        record: dict[str, Any] = dict(zip(_PORT_HEAD, self))  # noqa: B905 - before last_flapped
        record.update(zip(_VOLUME_FIELDS, (*volumes, *_NO_VOLUMES_YET[len(volumes) :])))  # noqa: B905
        record["last_flapped"] = self.last_flapped
        record["down_since"] = self.down_since
        record["worst"] = self.worst
        record["unresolved"] = list(self.unresolved)
        return record


_PORT_HEAD = WanPort._fields[:-4]
_VOLUME_FIELDS = (
    "rx_bytes_24h", "tx_bytes_24h", "bytes_24h_partial", "rx_bytes_7d", "tx_bytes_7d",
    "bytes_7d_partial", "bytes_7d_at",
)  # fmt: skip
_NO_VOLUMES_YET = (None, None, False, None, None, False, None)

_VARIABLE_FIELDS = ("wan_name", "description", "gateway_ip", "ip")
"""The port fields a template may fill from `{{vars}}` (device and site variables)."""


def _without_raw_variables(port: WanPort) -> WanPort:
    """A field still holding a `{{var}}` (its device or site variables not known yet) is sent
    as null and named in `unresolved`: the page says so and never shows the raw template."""
    raw = tuple(
        name
        for name in _VARIABLE_FIELDS
        if isinstance(getattr(port, name), str) and "{{" in getattr(port, name)
    )
    if not raw:
        return port
    cleared: dict[str, Any] = dict.fromkeys(raw)
    return port._replace(unresolved=raw, **cleared)


class Gateway(NamedTuple):
    """One DATA.md §3.1 gateway record: its stat gives the record's head (id … ha, in
    order), then come the counts and `ports` last.

    The stat is held without its interfaces (the ports have what they gave), so the
    if_stat entries are released once the snapshot is built.
    """

    stat: GatewayStat
    ports_up: int
    ports_total: int
    peers_up: int
    peers_total: int
    degraded: bool
    ports: tuple[WanPort, ...]

    def as_dict(self, volumes: Volumes = _NO_VOLUMES) -> dict:
        """The §3.1 record, 24 h volumes filled from (gateway_id, port_id)."""
        gateway_id = self.stat.id
        record = dict(zip(_STAT_HEAD, self.stat))  # noqa: B905 - stops before interfaces
        record.update(zip(_COUNTS, self[1:]))  # noqa: B905 - stops before ports
        record["ports"] = [
            port.as_dict(*volumes.get((gateway_id, port.port_id), (None, None)))
            for port in self.ports
        ]
        return record


_STAT_HEAD = GatewayStat._fields[:-1]
_COUNTS = Gateway._fields[1:-1]


@dataclass
class Snapshot:
    """Everything one refresh produced, before the 24 h volumes are known.

    Gateways and peer paths are kept as tuples (`records`, `paths`), a third of the memory
    of dicts at 10,000 gateways; the payload drains them into DATA.md dicts as it encodes.
    """

    org: dict
    sites: list[dict]
    records: list[Gateway]
    paths: dict[tuple[str, str], list[PeerPath]]  # (gateway_id, mac) -> its peer paths
    circuits: list[Circuit]
    generated_at: float
    # (gateway_id, port_id) -> the peer paths over that WAN port (views/metrics.py)
    port_paths: PortPaths = field(default_factory=dict)


def _peer_path_sort_key(path: PeerPath) -> tuple[str, str, str, str]:
    return (
        str(path.port_id or ""),
        str(path.peer_router_name or "").casefold(),
        str(path.peer_port_id or ""),
        str(path.peer_mac or ""),
    )


@functools.lru_cache(maxsize=4096)
def _port_sort_key(port_id: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order so ge-0/0/10 follows ge-0/0/9 (cached: port names repeat a lot)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", port_id))


def _wan_interfaces(
    stat: GatewayStat, configs: Mapping[str, PortConfig], ports_seen: Collection[str]
) -> list[InterfaceStat]:
    """The if_stat entry of every WAN port of a gateway, one per physical port id.

    WAN is `port_usage == "wan"` in if_stat/if2_stat or `usage: wan` in the port config.
    A configured WAN port missing from if_stat still counts when the port search knows
    it (e.g. an offline gateway), so its circuit shows as down rather than vanishing.
    """
    found: dict[str, InterfaceStat] = {}
    for entry in stat.interfaces:
        config = configs.get(entry.port_id)
        if not entry.wan and (config is None or config.usage != "wan"):
            continue
        current = found.get(entry.port_id)
        # Prefer the unit that actually carries the WAN (has addresses) on a shared port.
        if current is None or (not current.has_ips and entry.has_ips):
            found[entry.port_id] = entry
    for port_id, config in configs.items():
        if config.usage == "wan" and port_id not in found and port_id in ports_seen:
            found[port_id] = configured_only(port_id)
    return sorted(found.values(), key=lambda entry: (entry.node, _port_sort_key(entry.port_id)))


def _paths_by_port(
    interfaces: list[InterfaceStat], configs: Mapping[str, PortConfig], paths: list[PeerPath]
) -> dict[str, list[PeerPath]]:
    """port_id -> the gateway's peer paths over that WAN port.

    A path names its port (or a unit of it, ge-0/0/0.0) or, on an SSR (`svr`), the WAN
    name: each is tried, the SSR's WAN name first. Paths matching no port are left out.
    """
    by_port: dict[str, list[PeerPath]] = {i.port_id: [] for i in interfaces}
    by_wan_name = {
        str(i.wan_name or (configs[i.port_id].name if i.port_id in configs else "")): i.port_id
        for i in interfaces
    }
    by_wan_name.pop("", None)
    for path in paths:
        path_port = str(path.port_id or "")
        candidates = (path_port, path_port.split(".")[0])
        by_name = by_wan_name.get(path_port)
        by_id = next((c for c in candidates if c in by_port), None)
        target = (by_name or by_id) if path.type == "svr" else (by_id or by_name)
        if target is not None:
            by_port[target].append(path)
    return by_port


_NO_PORT = PortStat("", "", None, None, None, None, None, None, None, None)
"""What a WAN port the port search does not list reads as: nothing known."""


def link_down(enabled: bool | None, up: bool | None) -> bool:
    """An enabled WAN port whose link is down (a disabled port is not a problem): the one
    rule behind a port record's `down`, the rows' `ports_down` and `problem`."""
    return enabled is not False and up is False


def _link(
    interface: InterfaceStat, port: PortStat, config: PortConfig | None
) -> tuple[bool | None, bool | None]:
    """(enabled, up): the port search first, then the port config / if_stat."""
    disabled = port.disabled
    if disabled is None and config is not None:
        disabled = config.disabled
    up = port.up if port.up is not None else interface.up
    return (None if disabled is None else not disabled), up


def _addressing(
    interface: InterfaceStat, config: PortConfig | None
) -> tuple[int | None, str | None]:
    """(vlan, address_mode): if_stat's VLAN before the config's, the config's mode first."""
    vlan = interface.vlan
    if vlan is None and config is not None:
        vlan = config.vlan
    mode = config.address_mode if config is not None else None
    if mode is None:
        mode = interface.address_mode
    return vlan, mode


def _wan_port(
    interface: InterfaceStat, port: PortStat, config: PortConfig | None, paths: list[PeerPath]
) -> WanPort:
    """One DATA.md §3.1 WAN port record (without the 24 h volumes)."""
    enabled, up = _link(interface, port, config)
    vlan, address_mode = _addressing(interface, config)
    up_paths = [path for path in paths if path.up is True]
    quality = port_quality(up_paths)
    down = link_down(enabled, up)
    record = WanPort(
        port_id=interface.port_id,
        node=interface.node,
        wan_name=text(interface.wan_name) or (config.name if config else None),
        description=config.description if config else None,
        isp=interface.isp,
        asn=interface.asn,
        wan_type=interface.wan_type or (config.wan_type if config else None),
        enabled=enabled,
        up=up,
        down=down,
        speed=port.speed,
        ip=interface.ip,
        gateway_ip=config.gateway_ip if config else None,
        vlan=vlan,
        address_mode=address_mode,
        override=config.override if config else None,
        peers_up=len(up_paths),
        peers_total=len(paths),
        latency=quality.latency,
        jitter=quality.jitter,
        loss=quality.loss,
        mos=quality.mos,
        degraded=quality.degraded,
        rx_bps=port.rx_bps,
        tx_bps=port.tx_bps,
        last_flapped=port.last_flapped,
        down_since=port.last_flapped if down else None,
        worst=worst_path(up_paths),
        unresolved=(),
    )
    return _without_raw_variables(record)


class _Joins(NamedTuple):
    """The port search and peer paths indexed by gateway MAC, for dict-lookup joins."""

    ports: dict[tuple[str, str], PortStat]  # (mac, port_id) -> its port search row
    port_ids: dict[str, set[str]]  # mac -> the port ids the port search knows
    paths: dict[str, list[PeerPath]]  # mac -> its peer paths, as listed
    configs: Mapping[str, Mapping[str, PortConfig]]  # gateway_id -> port_id -> config
    speeds: dict[str, float]  # mac -> the highest speed (Mbit/s) its ports report


def _joins(
    port_stats: Iterable[Any],
    peer_paths: Iterable[Any],
    port_configs: Mapping[str, Mapping[str, PortConfig]],
) -> _Joins:
    joins = _Joins({}, {}, {}, port_configs, {})
    for row in port_stats:
        port = port_stat(row)
        if port is not None:
            joins.ports[(port.mac, port.port_id)] = port
            joins.port_ids.setdefault(port.mac, set()).add(port.port_id)
            if port.speed is not None and port.speed > joins.speeds.get(port.mac, 0.0):
                joins.speeds[port.mac] = float(port.speed)
    for raw in peer_paths:
        path = peer_path(raw)
        if path is not None:
            joins.paths.setdefault(path.mac, []).append(path)
    return joins


def _gateway(
    stat: GatewayStat, paths: list[PeerPath], joins: _Joins
) -> tuple[Gateway, list[Circuit], PortPaths]:
    """One gateway's record from its stat and sorted peer paths, its circuits and each of
    its WAN ports' peer paths (for the metrics' worst-path figures)."""
    circuits: list[Circuit] = []
    port_paths: PortPaths = {}
    mac = stat.mac or ""
    configs = joins.configs.get(stat.id) or {}
    interfaces = _wan_interfaces(stat, configs, joins.port_ids.get(mac, ()))
    by_port = _paths_by_port(interfaces, configs, paths)
    offline = stat.status == "disconnected"
    gateway_speed = joins.speeds.get(mac, 0.0)
    ports: list[WanPort] = []
    for interface in interfaces:
        port_id = interface.port_id
        port = joins.ports.get((mac, port_id))
        record = _wan_port(interface, port or _NO_PORT, configs.get(port_id), by_port[port_id])
        ports.append(record)
        port_paths[(stat.id, port_id)] = by_port[port_id]
        counters = port if port is not None else interface
        rx_bytes, tx_bytes = counters.rx_bytes, counters.tx_bytes
        if offline:  # stale counters would chart as 0 bps; no reading shows as a gap
            rx_bytes = tx_bytes = None
        circuits.append(
            Circuit(
                stat.id,
                mac,
                stat.site_id,
                port_id,
                rx_bytes,
                tx_bytes,
                record.rx_bps,
                record.tx_bps,
                speed_ceiling(record.speed, gateway_speed),
            )
        )
    gateway = Gateway(
        stat=stat._replace(interfaces=()),
        ports_up=sum(1 for p in ports if p.up is True),
        ports_total=len(ports),
        peers_up=sum(1 for path in paths if path.up is True),
        peers_total=len(paths),
        degraded=any(p.degraded for p in ports),
        ports=tuple(ports),
    )
    return gateway, circuits, port_paths


def _name_key(value: Any) -> str:
    return str(value).casefold() if value is not None else ""


def _site_records(sites: list[dict], gateways: list[Gateway]) -> list[dict]:
    """The §2 site records with their gateway counts, sorted by name (case-insensitively)."""
    counts: dict[Any, int] = {}
    for gateway in gateways:
        counts[gateway.stat.site_id] = counts.get(gateway.stat.site_id, 0) + 1
    records = [
        {
            "id": scalar(site.get("id")),
            "name": scalar(site.get("name")),
            "country_code": scalar(site.get("country_code")),
            "timezone": scalar(site.get("timezone")),
            "address": scalar(site.get("address")),
            "gateway_count": counts.get(scalar(site.get("id")), 0),
        }
        for site in sites
        if isinstance(site, Mapping)
    ]
    records.sort(key=lambda s: (_name_key(s["name"]), str(s["id"])))
    return records


def _org_record(org: Mapping[str, Any]) -> dict:
    record = {"id": scalar(org.get("id")), "name": scalar(org.get("name"))}
    if scalar(org.get("msp_name")) is not None:
        record["msp_name"] = scalar(org.get("msp_name"))
    return record


def build_snapshot(
    *,
    org: dict,
    sites: list[dict],
    gateway_stats: Iterable[Any],
    port_stats: Iterable[Any],
    peer_paths: Iterable[Any],
    port_configs: Mapping[str, Mapping[str, PortConfig]],
    now: float,
) -> Snapshot:
    """Join one refresh's Mist lists (raw dicts, or their compact forms from gateway_stat,
    port_stat and peer_path) into gateways, WAN ports and peer paths.

    Every join is a dict lookup keyed by (mac, port_id) or (mac, wan_name), so 10,000
    gateways with 4 WAN ports and 6 peer paths each build in a few seconds at most.
    Gateways are listed once each, by site name then gateway name.
    """
    joins = _joins(port_stats, peer_paths, port_configs)
    gateways: list[Gateway] = []
    paths_of: dict[tuple[str, str], list[PeerPath]] = {}
    circuits: list[Circuit] = []
    port_paths: PortPaths = {}
    seen: set[str] = set()
    for item in gateway_stats:
        stat = gateway_stat(item)
        if stat is None or stat.id in seen:
            continue
        seen.add(stat.id)
        mac = stat.mac or ""
        paths = sorted(joins.paths.get(mac, ()), key=_peer_path_sort_key)
        try:
            gateway, its_circuits, its_paths = _gateway(stat, paths, joins)
        except Exception as error:  # one bad gateway never fails the refresh
            log.warning(
                "dropped gateway %s that could not be built: %s: %.200s",
                stat.id,
                type(error).__name__,
                error,
            )
            continue
        gateways.append(gateway)
        circuits.extend(its_circuits)
        port_paths.update(its_paths)
        paths_of[(stat.id, mac)] = paths
    site_names = {
        scalar(s.get("id")): scalar(s.get("name")) for s in sites if isinstance(s, Mapping)
    }
    gateways.sort(
        key=lambda g: (_name_key(site_names.get(g.stat.site_id)), _name_key(g.stat.name), g.stat.id)
    )
    return Snapshot(
        org=_org_record(mapping(org)),
        sites=_site_records(sites, gateways),
        records=gateways,
        paths=paths_of,
        circuits=circuits,
        generated_at=now,
        port_paths=port_paths,
    )
