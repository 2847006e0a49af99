"""What availability needs of a snapshot, taken before the publish drains it.

Pure. A `Catalogue` holds every WAN port's and peer path's names, ISP and current quality
(what the documents and the ISP view show) and, with the events' state, each circuit's
flags as this refresh sees them (sla.accumulator's `final`). Circuit keys are interned: the
catalogue, the flags and the stored state (store.sla) share one string per circuit, not three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from sys import intern
from typing import Any, NamedTuple

from model.quality import is_degraded
from model.snapshot import Snapshot
from sla.accumulator import DEGRADED, ENABLED, KNOWN, ONLINE, SEP, UP, path_key, port_key


class PortInfo(NamedTuple):
    """One WAN port as the availability documents name it, with its quality now."""

    gateway_id: str
    gateway_name: Any  # Mist's names as the metrics' labels read them
    site_id: str | None
    site_name: Any
    port_id: str
    wan_name: str | None
    isp: str | None
    asn: str | None
    up: bool | None
    latency: float | None
    jitter: float | None
    loss: float | None
    mos: float | None


class PathInfo(NamedTuple):
    """One peer path as the availability documents name it."""

    gateway_id: str
    gateway_name: Any
    site_name: Any
    port_id: Any  # a peer path's fields are JSON scalars (model.items.peer_path)
    peer_name: Any
    peer_mac: Any
    peer_port_id: Any
    vpn: Any
    up: bool | None
    degraded: bool


@dataclass
class Catalogue:
    """Every circuit of a snapshot by its accumulator key, in the snapshot's order."""

    org: dict[str, Any]
    generated_at: float
    ports: dict[str, PortInfo] = field(default_factory=dict)
    paths: dict[str, PathInfo] = field(default_factory=dict)


def catalogue(snapshot: Snapshot) -> Catalogue:
    """The snapshot's circuits (read before the payload drains it)."""
    site_names = {site.get("id"): site.get("name") for site in snapshot.sites}
    found = Catalogue({"id": snapshot.org.get("id"), "name": snapshot.org.get("name")},
                      snapshot.generated_at)  # fmt: skip
    names: dict[str, tuple[Any, Any]] = {}
    for record in snapshot.records:
        stat = record.stat
        site_name = site_names.get(stat.site_id)
        names[stat.id] = (stat.name, site_name)
        head = port_key(stat.id, "")  # port_key's own, its port id appended: no call a port
        for port in record.ports:
            found.ports[intern(head + port.port_id)] = PortInfo(
                stat.id, stat.name, stat.site_id, site_name, port.port_id,
                port.wan_name, port.isp, port.asn, port.up,
                port.latency, port.jitter, port.loss, port.mos,
            )  # fmt: skip
    for (gateway_id, _mac), paths in snapshot.paths.items():
        gateway_name, site_name = names.get(gateway_id, (None, None))
        head = path_key(gateway_id, "", "", "")[:-2]  # path_key's own, as for the ports
        for path in paths:
            key = intern(f"{head}{path.port_id!s}{SEP}{path.peer_mac!s}{SEP}{path.peer_port_id!s}")
            found.paths[key] = PathInfo(
                gateway_id, gateway_name, site_name, path.port_id, path.peer_router_name,
                path.peer_mac, path.peer_port_id, path.type,
                path.up if isinstance(path.up, bool) else None,
                is_degraded(path),
            )  # fmt: skip
    return found


def final_flags(state: Mapping[str, Any], found: Catalogue) -> dict[str, int]:
    """Each circuit's flags from the events' state (model.events: ports carry their last
    state while their gateway is offline) and the path quality of this refresh."""
    online = {gw: ONLINE if value[0] else 0 for gw, value in (state.get("gateways") or {}).items()}
    flags: dict[str, int] = {}
    port_head, path_head, paths = "p" + SEP, "x" + SEP, found.paths
    for key, (up, enabled, held, _run) in (state.get("ports") or {}).items():
        flags[intern(port_head + key)] = (
            online.get(key.split(SEP, 1)[0], 0)
            | (ENABLED if enabled else 0)
            | (KNOWN if up is not None else 0)
            | (UP if up else 0)
            | (DEGRADED if held else 0)
        )
    for key, up in (state.get("paths") or {}).items():
        full = intern(path_head + key)
        info = paths.get(full)
        flags[full] = (
            online.get(key.split(SEP, 1)[0], 0)
            | (ENABLED | KNOWN)
            | (UP if up else 0)
            | (DEGRADED if info is not None and info.degraded else 0)
        )
    return flags
