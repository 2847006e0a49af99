"""Raw Mist objects in, gateways / WAN ports (circuits) / peer paths / summary out.

Pure and stdlib-only so the worker can build a whole org snapshot without I/O and the
tests need no server. Shapes follow docs/DATA.md §2 and §3.1-§3.3. Every optional Mist
field may be missing or None: nothing here raises KeyError on partial data, and strings
pass through verbatim (the page escapes them, we never do).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from model.values import address_mode as _address_mode
from model.values import as_int as _as_int
from model.values import boolean as _bool
from model.values import counter as _counter
from model.values import mapping as _mapping
from model.values import number as _number
from model.values import share as _share
from model.values import text as _text

THRESHOLDS: dict[str, list[float]] = {
    "latency": [50, 100, 150],
    "jitter": [10, 30, 50],
    "loss": [0.1, 0.5, 1],
    "mos": [4, 3.6],
}
"""Colour bands for the page; the middle value of each is the `degraded` line (DATA.md §3.1)."""

MAX_RANGE_PORTS = 256  # a port-key range longer than this is a typo, not a chassis
_VAR = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_RANGE = re.compile(r"^(.*/)(\d+)-(\d+)$")  # Junos style: ge-0/0/1-3; SSR ge-0-1 is a name

Json = dict[str, Any]


# ---------------------------------------------------------------------------------------
# Port configuration: template < device profile < device
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortConfig:
    """One port's effective configuration after template/profile/device merging."""

    name: str | None
    description: str | None
    wan_type: str | None
    usage: str | None
    address_mode: str | None
    gateway_ip: str | None
    vlan: int | None
    disabled: bool
    source: str
    override: bool


def expand_port_keys(key: str) -> list[str]:
    """Expand a Mist port_config key into physical port ids.

    Mist lets one entry cover ranges (`ge-0/0/1-3`) and lists (`ge-0/0/0,ge-7/0/0` for a
    reth pair); `{{var}}` keys are returned untouched so the caller can substitute first.
    """
    ports: list[str] = []
    for part in str(key).split(","):
        part = part.strip()
        if not part:
            continue
        match = None if "{{" in part else _RANGE.match(part)
        if match:
            prefix, first, last = match.group(1), int(match.group(2)), int(match.group(3))
            if first <= last and last - first < MAX_RANGE_PORTS:
                ports.extend(f"{prefix}{n}" for n in range(first, last + 1))
                continue
        ports.append(part)
    return ports


def substitute_vars(value: Any, variables: Mapping[str, Any]) -> Any:
    """Replace `{{name}}` in a string from `variables`; unknown names stay as written."""
    if not isinstance(value, str) or "{{" not in value or not variables:
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(variables[name]) if variables.get(name) is not None else match.group(0)

    return _VAR.sub(replace, value)


def _port_entries(layer: Mapping[str, Any] | None, variables: Mapping[str, Any]) -> dict[str, Json]:
    """port_id -> raw port_config entry of one layer, keys substituted and expanded."""
    entries: dict[str, Json] = {}
    for key, entry in _mapping(_mapping(layer).get("port_config")).items():
        if not isinstance(entry, Mapping):
            continue
        for port_id in expand_port_keys(substitute_vars(key, variables)):
            entries[port_id] = dict(entry)
    return entries


def _port_config(
    entry: Mapping[str, Any], variables: Mapping[str, Any], source: str, override: bool
) -> PortConfig:
    """Turn one raw port_config entry into a PortConfig, substituting `{{vars}}`."""

    def field(name: str, within: Mapping[str, Any] = entry) -> str | None:
        return _text(substitute_vars(within.get(name), variables))

    usage = field("usage")
    ip_config = _mapping(entry.get("ip_config"))
    address_mode = _address_mode(field("type", ip_config))
    if address_mode is None and usage == "wan" and not ip_config.get("type"):
        address_mode = "dhcp"  # Mist's default for a WAN port without ip_config.type
    return PortConfig(
        name=field("name"),
        description=field("description"),
        wan_type=field("wan_type"),
        usage=usage,
        address_mode=address_mode,
        gateway_ip=field("gateway", ip_config),
        vlan=_as_int(substitute_vars(entry.get("vlan_id"), variables)),
        disabled=entry.get("disabled") is True,
        source=source,
        override=override,
    )


def resolve_port_configs(
    *,
    site: Mapping[str, Any] | None,
    template: Mapping[str, Any] | None,
    profile: Mapping[str, Any] | None,
    device: Mapping[str, Any] | None,
) -> dict[str, PortConfig]:
    """Effective port_config of one gateway: template < device profile < device, per port.

    A more specific layer replaces the whole entry of a port (Mist's own rule). `override`
    marks ports the device config sets differently from what its template/profile says.
    Variables come from the device's `vars`, then the site's (`site["vars"]` if given).
    """
    variables: dict[str, Any] = dict(_mapping(_mapping(site).get("vars")))
    variables.update(_mapping(_mapping(device).get("vars")))
    inherited: dict[str, tuple[Json, str]] = {}
    for source, layer in (("template", template), ("deviceprofile", profile)):
        for port_id, entry in _port_entries(layer, variables).items():
            inherited[port_id] = (entry, source)
    own = _port_entries(device, variables)
    resolved: dict[str, PortConfig] = {}
    for port_id, (entry, source) in inherited.items():
        if port_id not in own:
            resolved[port_id] = _port_config(entry, variables, source, False)
    for port_id, entry in own.items():
        below = inherited.get(port_id)
        resolved[port_id] = _port_config(
            entry, variables, "device", below is None or below[0] != entry
        )
    return resolved


def index_port_configs(
    *,
    sites: list[dict],
    templates: list[dict],
    profiles: list[dict],
    inventory: list[dict],
    device_configs: Mapping[str, dict],
) -> dict[str, dict[str, PortConfig]]:
    """gateway_id -> port_id -> PortConfig for every gateway we know a config piece of.

    The site gives the gateway template, the device (or inventory) the device profile;
    any missing piece simply contributes nothing.
    """
    sites_by_id = {site.get("id"): site for site in sites if isinstance(site, Mapping)}
    templates_by_id = {t.get("id"): t for t in templates if isinstance(t, Mapping)}
    profiles_by_id = {p.get("id"): p for p in profiles if isinstance(p, Mapping)}
    inventory_by_id: dict[str, Mapping[str, Any]] = {
        item["id"]: item
        for item in inventory
        if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    }
    configs: dict[str, dict[str, PortConfig]] = {}
    shared: dict[PortConfig, PortConfig] = {}  # gateways of one template: the same configs
    for gateway_id in list(inventory_by_id) + [
        g for g in device_configs if g not in inventory_by_id
    ]:
        item = _mapping(inventory_by_id.get(gateway_id))
        device = _mapping(device_configs.get(gateway_id))
        site_id = device.get("site_id") or item.get("site_id")
        site = _mapping(sites_by_id.get(site_id))
        profile_id = device.get("deviceprofile_id") or item.get("deviceprofile_id")
        resolved = resolve_port_configs(
            site=site,
            template=templates_by_id.get(site.get("gatewaytemplate_id")),
            profile=profiles_by_id.get(profile_id),
            device=device or None,
        )
        configs[gateway_id] = {
            _share(port_id): shared.setdefault(config, config)
            for port_id, config in resolved.items()
        }
    return configs


# ---------------------------------------------------------------------------------------
# Mist items, cut down as they arrive
# ---------------------------------------------------------------------------------------
# At 10,000 gateways the fetched lists are most of what the worker holds: a gateway's stats
# decode to a dict of dicts (every if_stat entry a dozen keys). The worker turns each item
# into one of these tuples as its page arrives (gateway_stat, port_stat, peer_path): only
# what the snapshot reads, already normalised, short strings shared. build_snapshot takes
# raw Mist dicts or these alike, through the same functions.


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
    servp = _mapping(entry.get("servp_info"))
    ips = entry.get("ips")
    return InterfaceStat(
        node=node,
        port_id=_share(_text(entry.get("port_id")) or str(name).split(".")[0]),
        wan=entry.get("port_usage") == "wan",
        wan_name=_share(entry.get("wan_name")),
        wan_type=_share(_text(entry.get("wan_type"))),
        ip=_text(ips[0]) if isinstance(ips, list) and ips else None,
        has_ips=bool(ips),
        up=_bool(entry.get("up")),
        vlan=_as_int(entry.get("vlan")),
        address_mode=_address_mode(entry.get("address_mode")),
        rx_bytes=_counter(entry.get("rx_bytes")),
        tx_bytes=_counter(entry.get("tx_bytes")),
        isp=_share(_text(servp.get("org"))),
        asn=_share(_text(servp.get("asn"))),
    )


def _configured_only(port_id: str) -> InterfaceStat:
    """A configured WAN port that if_stat does not list (e.g. an offline gateway)."""
    return InterfaceStat(
        "node0", port_id, False, None, None, None, False, None, None, None, None, None, None, None
    )


class GatewayStat(NamedTuple):
    """One gateway of `stats/devices?type=gateway`, as build_snapshot reads it."""

    id: str  # Mist's id, else the one its MAC gives
    mac: str | None
    name: Any  # verbatim, like model … ext_ip: Mist's values pass through untouched
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


def gateway_stat(raw: Any) -> GatewayStat | None:
    """The compact form of one gateway stats item; None for what is not a gateway."""
    if isinstance(raw, GatewayStat):
        return raw
    if not isinstance(raw, Mapping) or raw.get("type") not in (None, "gateway"):
        return None
    mac = _text(raw.get("mac"))
    gateway_id = _text(raw.get("id")) or (gateway_id_from_mac(mac) if mac else None)
    if gateway_id is None:
        return None
    interfaces: list[InterfaceStat] = []
    for node, key in (("node0", "if_stat"), ("node1", "if2_stat")):
        entries = _mapping(raw.get(key))
        for name in sorted(entries, key=str):
            entry = entries[name]
            if type(entry) is dict or isinstance(entry, Mapping):
                interfaces.append(_interface_stat(node, name, entry))
    return GatewayStat(
        id=_share(gateway_id),
        mac=_share(mac),
        name=_share(raw.get("name")),
        site_id=_share(_text(raw.get("site_id"))),
        model=_share(raw.get("model")),
        version=_share(raw.get("version")),
        status=_share(raw.get("status")),
        uptime=_number(raw.get("uptime")),
        last_seen=_number(raw.get("last_seen")),
        ip=_share(raw.get("ip")),
        ext_ip=_share(raw.get("ext_ip")),
        ha=raw.get("is_ha") is True or bool(raw.get("if2_stat")),
        interfaces=tuple(interfaces),
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
        mac=_share(mac),
        port_id=_share(port_id),
        up=_bool(raw.get("up")),
        disabled=_bool(raw.get("disabled")),
        speed=_number(raw.get("speed")),
        rx_bps=_number(raw.get("rx_bps")),
        tx_bps=_number(raw.get("tx_bps")),
        rx_bytes=_counter(raw.get("rx_bytes")),
        tx_bytes=_counter(raw.get("tx_bytes")),
        last_flapped=_number(raw.get("last_flapped")),
    )


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
)
QUALITY = ("latency", "jitter", "loss", "mos")


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
    mac: str

    def as_dict(self) -> dict:
        """The §3.3 record (without the gateway's MAC)."""
        return dict(zip(PEER_PATH_FIELDS, self))  # noqa: B905 - stops before `mac`


def peer_path(raw: Any) -> PeerPath | None:
    """The compact form of one vpn_peers/search result (quality as numbers); None when it
    names no gateway MAC."""
    if isinstance(raw, PeerPath):
        return raw
    if not isinstance(raw, Mapping) or not isinstance(raw.get("mac"), str):
        return None
    get = raw.get
    return PeerPath(
        port_id=_share(get("port_id")),
        peer_router_name=_share(get("peer_router_name")),
        peer_port_id=_share(get("peer_port_id")),
        peer_mac=_share(get("peer_mac")),
        peer_site_id=_share(get("peer_site_id")),
        type=_share(get("type")),
        up=get("up"),
        is_active=get("is_active"),
        uptime=get("uptime"),
        latency=_number(get("latency")),
        jitter=_number(get("jitter")),
        loss=_number(get("loss")),
        mos=_number(get("mos")),
        mtu=get("mtu"),
        last_seen=get("last_seen"),
        mac=_share(raw["mac"]),
    )


# ---------------------------------------------------------------------------------------
# Snapshot: gateways with their WAN ports and peer paths
# ---------------------------------------------------------------------------------------


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


Volumes = Mapping[tuple[str, str], tuple[int | None, int | None]]
_NO_VOLUMES: Volumes = {}


class WanPort(NamedTuple):
    """One DATA.md §3.1 WAN port record, in its key order, less the 24 h volumes (known only
    after the history step; as_dict puts them in before `last_flapped`)."""

    port_id: str
    node: str
    wan_name: str | None
    description: str | None
    isp: str | None
    asn: str | None
    wan_type: str | None
    enabled: bool | None
    up: bool | None
    down: bool
    speed: float | int | None
    ip: str | None
    gateway_ip: str | None
    vlan: int | None
    address_mode: str | None
    override: bool
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

    def as_dict(self, rx_bytes_24h: int | None = None, tx_bytes_24h: int | None = None) -> dict:
        record = dict(zip(_PORT_HEAD, self))  # noqa: B905 - stops before last_flapped
        record["rx_bytes_24h"] = rx_bytes_24h
        record["tx_bytes_24h"] = tx_bytes_24h
        record["last_flapped"] = self.last_flapped
        return record


_PORT_HEAD = WanPort._fields[:-1]


class Gateway(NamedTuple):
    """One DATA.md §3.1 gateway record, in its key order (`ports` last)."""

    id: str
    mac: str | None
    name: Any
    site_id: str | None
    model: Any
    version: Any
    status: Any
    uptime: float | int | None
    last_seen: float | int | None
    ip: Any
    ext_ip: Any
    ha: bool
    ports_up: int
    ports_total: int
    peers_up: int
    peers_total: int
    degraded: bool
    ports: tuple[WanPort, ...]

    def as_dict(self, volumes: Volumes = _NO_VOLUMES) -> dict:
        """The §3.1 record, 24 h volumes filled from (gateway_id, port_id)."""
        record = dict(zip(_GATEWAY_HEAD, self))  # noqa: B905 - stops before ports
        record["ports"] = [
            port.as_dict(*volumes.get((self.id, port.port_id), (None, None))) for port in self.ports
        ]
        return record


_GATEWAY_HEAD = Gateway._fields[:-1]


@dataclass
class Snapshot:
    """Everything one refresh produced, before the 24 h volumes are known.

    Gateways and peer paths are kept as tuples (`records`, `paths`), a third of the memory
    of dicts at 10,000 gateways; `gateways` and `peer_paths` give them as DATA.md dicts.
    """

    org: dict
    sites: list[dict]
    records: list[Gateway]
    paths: dict[tuple[str, str], list[PeerPath]]  # (gateway_id, mac) -> its peer paths
    circuits: list[Circuit]
    generated_at: float

    @property
    def gateways(self) -> list[dict]:
        """The §3.1 gateway records (without volumes) as dicts, built on each call."""
        return [gateway.as_dict() for gateway in self.records]

    @property
    def peer_paths(self) -> dict[tuple[str, str], list[dict]]:
        """Each gateway's §3.3 peer paths as dicts, built on each call."""
        return {key: [path.as_dict() for path in paths] for key, paths in self.paths.items()}


def _peer_path_sort_key(path: PeerPath) -> tuple[str, str, str, str]:
    return (
        str(path.port_id or ""),
        str(path.peer_router_name or "").casefold(),
        str(path.peer_port_id or ""),
        str(path.peer_mac or ""),
    )


def is_degraded(path: PeerPath) -> bool:
    """An up peer path past any middle threshold (DATA.md §3.1)."""
    if path.up is not True:
        return False
    latency, jitter, loss, mos = path.latency, path.jitter, path.loss, path.mos
    return (
        (latency is not None and latency >= THRESHOLDS["latency"][1])
        or (jitter is not None and jitter >= THRESHOLDS["jitter"][1])
        or (loss is not None and loss >= THRESHOLDS["loss"][1])
        or (mos is not None and mos < THRESHOLDS["mos"][1])
    )


def _average(values: list[float | int]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None  # no float noise


def _quality(
    up_paths: list[PeerPath],
) -> tuple[float | None, float | None, float | None, float | None, bool]:
    """Average latency/jitter/loss/MOS over a port's up peer paths, and whether any is
    degraded."""
    return (
        _average([path.latency for path in up_paths if path.latency is not None]),
        _average([path.jitter for path in up_paths if path.jitter is not None]),
        _average([path.loss for path in up_paths if path.loss is not None]),
        _average([path.mos for path in up_paths if path.mos is not None]),
        any(is_degraded(path) for path in up_paths),
    )


def _wan_interfaces(
    stat: GatewayStat, configs: Mapping[str, PortConfig], ports_seen: set[str]
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
            found[port_id] = _configured_only(port_id)
    return sorted(found.values(), key=lambda entry: (entry.node, _port_sort_key(entry.port_id)))


@functools.lru_cache(maxsize=4096)
def _port_sort_key(port_id: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order so ge-0/0/10 follows ge-0/0/9 (cached: port names repeat a lot)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", port_id))


def _wan_port(
    interface: InterfaceStat,
    port: PortStat | None,
    config: PortConfig | None,
    paths: list[PeerPath],
) -> WanPort:
    """One DATA.md §3.1 WAN port record (without the 24 h volumes)."""
    disabled = port.disabled if port is not None else None
    if disabled is None and config is not None:
        disabled = config.disabled
    up = port.up if port is not None else None
    if up is None:
        up = interface.up
    vlan = interface.vlan
    if vlan is None and config is not None:
        vlan = config.vlan
    address_mode = config.address_mode if config is not None else None
    if address_mode is None:
        address_mode = interface.address_mode
    up_paths = [path for path in paths if path.up is True]
    latency, jitter, loss, mos, degraded = _quality(up_paths)
    enabled = None if disabled is None else not disabled
    return WanPort(
        port_id=interface.port_id,
        node=interface.node,
        wan_name=_text(interface.wan_name) or (config.name if config else None),
        description=config.description if config else None,
        isp=interface.isp,
        asn=interface.asn,
        wan_type=interface.wan_type or (config.wan_type if config else None),
        enabled=enabled,
        up=up,
        down=link_down(enabled, up),
        speed=port.speed if port is not None else None,
        ip=interface.ip,
        gateway_ip=config.gateway_ip if config else None,
        vlan=vlan,
        address_mode=address_mode,
        override=config.override if config else False,
        peers_up=len(up_paths),
        peers_total=len(paths),
        latency=latency,
        jitter=jitter,
        loss=loss,
        mos=mos,
        degraded=degraded,
        rx_bps=port.rx_bps if port is not None else None,
        tx_bps=port.tx_bps if port is not None else None,
        last_flapped=port.last_flapped if port is not None else None,
    )


def _site_record(site: Mapping[str, Any], gateway_count: int) -> dict:
    return {
        "id": site.get("id"),
        "name": site.get("name"),
        "country_code": site.get("country_code"),
        "timezone": site.get("timezone"),
        "address": site.get("address"),
        "gateway_count": gateway_count,
    }


def _org_record(org: Mapping[str, Any]) -> dict:
    record = {"id": org.get("id"), "name": org.get("name")}
    if org.get("msp_name") is not None:
        record["msp_name"] = org.get("msp_name")
    return record


def _name_key(value: Any) -> str:
    return str(value).casefold() if value is not None else ""


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
    """
    ports_by_key: dict[tuple[str, str], PortStat] = {}
    ports_by_mac: dict[str, set[str]] = {}
    for row in port_stats:
        port = port_stat(row)
        if port is not None:
            ports_by_key[(port.mac, port.port_id)] = port
            ports_by_mac.setdefault(port.mac, set()).add(port.port_id)

    paths_by_mac: dict[str, list[PeerPath]] = {}
    for raw in peer_paths:
        path = peer_path(raw)
        if path is not None:
            paths_by_mac.setdefault(path.mac, []).append(path)

    site_names = {s.get("id"): s.get("name") for s in sites if isinstance(s, Mapping)}
    gateways: list[Gateway] = []
    snapshot_paths: dict[tuple[str, str], list[PeerPath]] = {}
    circuits: list[Circuit] = []
    seen: set[str] = set()
    no_ports: set[str] = set()
    for item in gateway_stats:
        stat = gateway_stat(item)
        if stat is None or stat.id in seen:
            continue
        gateway_id = stat.id
        seen.add(gateway_id)
        mac = stat.mac or ""
        configs = port_configs.get(gateway_id) or {}
        paths = sorted(paths_by_mac.get(mac, ()), key=_peer_path_sort_key)
        interfaces = _wan_interfaces(stat, configs, ports_by_mac.get(mac, no_ports))

        by_port: dict[str, list[PeerPath]] = {i.port_id: [] for i in interfaces}
        by_wan_name = {
            str(i.wan_name or (configs[i.port_id].name if i.port_id in configs else "")): i.port_id
            for i in interfaces
        }
        by_wan_name.pop("", None)
        for path in paths:
            path_port = str(path.port_id or "")
            candidates = (path_port, path_port.split(".")[0])
            if path.type == "svr":  # SSR reports the WAN name, not the interface
                target = by_wan_name.get(path_port) or next(
                    (c for c in candidates if c in by_port), None
                )
            else:
                target = next((c for c in candidates if c in by_port), None) or by_wan_name.get(
                    path_port
                )
            if target is not None:
                by_port[target].append(path)

        offline = stat.status == "disconnected"
        ports: list[WanPort] = []
        for interface in interfaces:
            port_id = interface.port_id
            port = ports_by_key.get((mac, port_id))
            record = _wan_port(interface, port, configs.get(port_id), by_port[port_id])
            ports.append(record)
            source = port if port is not None else interface
            rx_bytes, tx_bytes = source.rx_bytes, source.tx_bytes
            if offline:  # stale counters would chart as 0 bps; no reading shows as a gap
                rx_bytes = tx_bytes = None
            circuits.append(
                Circuit(
                    gateway_id,
                    mac,
                    stat.site_id,
                    port_id,
                    rx_bytes,
                    tx_bytes,
                    record.rx_bps,
                    record.tx_bps,
                )
            )
        gateways.append(
            Gateway(
                id=gateway_id,
                mac=mac or None,
                name=stat.name,
                site_id=stat.site_id,
                model=stat.model,
                version=stat.version,
                status=stat.status,
                uptime=stat.uptime,
                last_seen=stat.last_seen,
                ip=stat.ip,
                ext_ip=stat.ext_ip,
                ha=stat.ha,
                ports_up=sum(1 for p in ports if p.up is True),
                ports_total=len(ports),
                peers_up=sum(1 for path in paths if path.up is True),
                peers_total=len(paths),
                degraded=any(p.degraded for p in ports),
                ports=tuple(ports),
            )
        )
        snapshot_paths[(gateway_id, mac)] = paths

    gateways.sort(key=lambda g: (_name_key(site_names.get(g.site_id)), _name_key(g.name), g.id))
    gateway_counts: dict[Any, int] = {}
    for gateway in gateways:
        gateway_counts[gateway.site_id] = gateway_counts.get(gateway.site_id, 0) + 1
    site_records = [
        _site_record(site, gateway_counts.get(site.get("id"), 0))
        for site in sites
        if isinstance(site, Mapping)
    ]
    site_records.sort(key=lambda s: (_name_key(s["name"]), str(s["id"])))
    return Snapshot(
        org=_org_record(_mapping(org)),
        sites=site_records,
        records=gateways,
        paths=snapshot_paths,
        circuits=circuits,
        generated_at=now,
    )


# ---------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------


def summarize(gateways: Sequence[Gateway]) -> dict:
    """The counts line of DATA.md §3.1: a circuit is up when its link is up."""
    online = sum(1 for g in gateways if g.status == "connected")
    ports = [p for g in gateways for p in g.ports]
    circuits_up = sum(1 for p in ports if p.up is True)
    peer_paths = sum(g.peers_total for g in gateways)
    peer_paths_up = sum(g.peers_up for g in gateways)
    return {
        "gateways": len(gateways),
        "gateways_online": online,
        "gateways_offline": len(gateways) - online,
        "circuits": len(ports),
        "circuits_up": circuits_up,
        "circuits_down": len(ports) - circuits_up,
        "circuits_degraded": sum(1 for p in ports if p.degraded),
        "peer_paths": peer_paths,
        "peer_paths_up": peer_paths_up,
        "peer_paths_down": peer_paths - peer_paths_up,
    }


def gateways_payload_head(snapshot: Snapshot) -> dict:
    """Everything of the DATA.md §3.1 payload before its `gateways` list (which comes last)."""
    return {
        "generated_at": snapshot.generated_at,
        "thresholds": {name: list(values) for name, values in THRESHOLDS.items()},
        "summary": summarize(snapshot.records),
    }


def gateway_records(snapshot: Snapshot, volumes: Volumes) -> Iterator[dict]:
    """The payload's gateways one at a time, 24 h volumes filled from (gateway_id, port_id).

    A generator, so the worker can encode 10,000 gateways without a second copy of them all.
    """
    for gateway in snapshot.records:
        yield gateway.as_dict(volumes)


def drain_gateway_records(snapshot: Snapshot, volumes: Volumes) -> Iterator[dict]:
    """gateway_records that empties `snapshot.records` as it goes (take the payload head
    first): each compact record is released while the encoded payload grows."""
    records, snapshot.records = snapshot.records, []
    records.reverse()
    while records:
        yield records.pop().as_dict(volumes)


def gateways_payload(snapshot: Snapshot, volumes: Volumes) -> dict:
    """The full DATA.md §3.1 payload, 24 h volumes filled from (gateway_id, port_id)."""
    return {**gateways_payload_head(snapshot), "gateways": list(gateway_records(snapshot, volumes))}


def insights_records(snapshot: Snapshot, volumes: Volumes) -> Iterator[tuple[str, dict]]:
    """(`gateway_id:port_id`, current rates and 24 h volumes) of every WAN port, in order."""
    for circuit in snapshot.circuits:
        rx, tx = volumes.get((circuit.gateway_id, circuit.port_id), (None, None))
        yield (
            f"{circuit.gateway_id}:{circuit.port_id}",
            {
                "rx_bps": circuit.rx_bps,
                "tx_bps": circuit.tx_bps,
                "rx_bytes_24h": rx,
                "tx_bytes_24h": tx,
                "ts": snapshot.generated_at,
            },
        )


def insights_summary(snapshot: Snapshot, volumes: Volumes) -> dict:
    """`mist:insights:all`: current rates and 24 h volumes per `gateway_id:port_id`."""
    return dict(insights_records(snapshot, volumes))


def drain_peer_paths(snapshot: Snapshot) -> Iterator[tuple[tuple[str, str], list[dict]]]:
    """((gateway_id, mac), its §3.3 peer paths as dicts) in order, emptying `snapshot.paths`
    as it goes so each gateway's compact paths are released once encoded."""
    entries = list(snapshot.paths.items())
    snapshot.paths = {}
    entries.reverse()
    while entries:
        key, paths = entries.pop()
        yield key, [path.as_dict() for path in paths]


def peer_paths_all(snapshot: Snapshot) -> dict:
    """{gateway_id: [peer path, ...]} for `/api/vpn-peers/all` (every gateway present)."""
    return {
        gateway_id: [path.as_dict() for path in paths]
        for (gateway_id, _mac), paths in snapshot.paths.items()
    }


# ---------------------------------------------------------------------------------------
# The page's table (DATA.md §3.6)
# ---------------------------------------------------------------------------------------

ROW_COLUMNS = (
    "id",
    "mac",
    "name",
    "site",
    "model",
    "status",
    "uptime",
    "ip",
    "ports_up",
    "ports_total",
    "ports_down",
    "peers_up",
    "peers_total",
    "peers_down",
    "degraded",
    "ha",
    "problem",
)


def link_down(enabled: bool | None, up: bool | None) -> bool:
    """An enabled WAN port whose link is down (a disabled port is not a problem): the rule
    behind a port record's `down`, the rows' `ports_down` and `problem`."""
    return enabled is not False and up is False


def port_down(port: Mapping[str, Any]) -> bool:
    """link_down of a §3.1 port record."""
    return link_down(port.get("enabled"), port.get("up"))


def has_problem(gateway: Mapping[str, Any]) -> bool:
    """What "problems only" keeps: offline, degraded, a peer path down or a WAN port down."""
    if gateway.get("status") != "connected" or gateway.get("degraded"):
        return True
    if (gateway.get("peers_up") or 0) < (gateway.get("peers_total") or 0):
        return True
    return any(port_down(port) for port in gateway.get("ports") or [])


class GatewayRows:
    """One compact row per gateway, gathered while the payload's records stream past.

    The page starts from these (a sixth of the gzipped payload at 10,000 gateways, and no
    /api/sites needed): the worker prepares them so the web only sends bytes.
    """

    def __init__(self, sites: list[dict]) -> None:
        self._site_names = {site.get("id"): site.get("name") or "" for site in sites}
        self._site_index: dict[str, int] = {}
        self.sites: list[list[str]] = []
        self.rows: list[list[Any]] = []

    def add(self, gateway: Mapping[str, Any]) -> None:
        site_id = str(gateway.get("site_id") or "")
        if site_id not in self._site_index:
            self._site_index[site_id] = len(self.sites)
            self.sites.append([site_id, str(self._site_names.get(site_id) or "")])
        ports = gateway.get("ports") or []
        self.rows.append(
            [
                gateway.get("id"),
                gateway.get("mac"),
                gateway.get("name"),
                self._site_index[site_id],
                gateway.get("model"),
                gateway.get("status"),
                gateway.get("uptime"),
                gateway.get("ext_ip") or gateway.get("ip"),
                gateway.get("ports_up"),
                gateway.get("ports_total"),
                sum(1 for port in ports if port_down(port)),
                gateway.get("peers_up"),
                gateway.get("peers_total"),
                (gateway.get("peers_total") or 0) - (gateway.get("peers_up") or 0),
                bool(gateway.get("degraded")),
                bool(gateway.get("ha")),
                has_problem(gateway),
            ]
        )

    def document(self, head: Mapping[str, Any]) -> dict:
        """The §3.6 document: the payload head (generated_at, thresholds, summary), the rows
        and the CSV format the page's own export follows (the server's columns and rule)."""
        return {
            "generated_at": head.get("generated_at"),
            "thresholds": head.get("thresholds"),
            "summary": head.get("summary"),
            "sites": self.sites,
            "columns": list(ROW_COLUMNS),
            "rows": self.rows,
            "csv": {"columns": list(CSV_COLUMNS), "formula_starts": "".join(_FORMULA_STARTS)},
        }


# ---------------------------------------------------------------------------------------
# The CSV export (/api/export.csv): one row per WAN port
# ---------------------------------------------------------------------------------------

# Sent to the page in the rows document's `csv`: static/js/csv.js exports with these columns.
CSV_COLUMNS = (
    "site",
    "gateway",
    "gateway_id",
    "model",
    "gateway_status",
    "port",
    "wan_name",
    "description",
    "isp",
    "asn",
    "wan_type",
    "enabled",
    "link",
    "speed_mbps",
    "wan_ip",
    "gateway_ip",
    "vlan",
    "address_mode",
    "override",
    "peer_paths_up",
    "peer_paths_total",
    "latency_ms",
    "jitter_ms",
    "loss_pct",
    "mos",
    "degraded",
    "rx_bps",
    "tx_bps",
    "rx_bytes_24h",
    "tx_bytes_24h",
)
_PORT_CSV_FIELDS = (
    "port_id",
    "wan_name",
    "description",
    "isp",
    "asn",
    "wan_type",
    "enabled",
    "link",
    "speed",
    "ip",
    "gateway_ip",
    "vlan",
    "address_mode",
    "override",
    "peers_up",
    "peers_total",
    "latency",
    "jitter",
    "loss",
    "mos",
    "degraded",
    "rx_bps",
    "tx_bps",
    "rx_bytes_24h",
    "tx_bytes_24h",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: object) -> str:
    """A CSV cell Excel cannot run as a formula: a leading = + - @ tab or CR gets a quote.

    Mist names are free text (a site called =HYPERLINK(...) must stay text in the sheet).
    """
    if value is None:
        return ""
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class CircuitRows:
    """The CSV rows of each gateway as its record streams past (the worker keeps no list)."""

    def __init__(self, sites: list[dict]) -> None:
        self._site_names = {site.get("id"): site.get("name") or "" for site in sites}

    def of(self, gateway: Mapping[str, Any]) -> list[list[str]]:
        """One Excel-safe row per WAN port; a gateway without WAN ports still gets one row."""
        base = [
            self._site_names.get(gateway.get("site_id") or "", ""),
            gateway.get("name"),
            gateway.get("id"),
            gateway.get("model"),
            gateway.get("status"),
        ]
        rows: list[list[str]] = []
        for port in gateway.get("ports") or [{}]:
            port = port or {}
            up = port.get("up")
            link = None if up is None else ("up" if up else "down")
            cells = [link if name == "link" else port.get(name) for name in _PORT_CSV_FIELDS]
            rows.append([excel_safe(cell) for cell in (*base, *cells)])
        return rows
