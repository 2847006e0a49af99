"""`--orgs N --spread-orgs`: one MSP whose gateways are spread over N orgs, each org a
synthetic network of its own.

Org sizes are long-tailed (Zipf-like, deterministic): a few big orgs, many small ones, every
org at least one gateway while there are enough. Org 1 is the biggest and is the one the
ready line names. Each org is generated on its own (own seed, own MAC range, so a gateway id
is unique across the MSP) and served by its own `MistApi`; `MspFront` sends each request to
the org (or site) it names, everything else (identity, MSP listings, `/__mistsim/*`) to org
1's, which knows every org. All share one runtime: one budget, one call log, one set of
faults (a fault's `paths`, e.g. `/orgs/<org_id>/`, aims it at one org).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mistsim.generator import OrgOptions, generate
from mistsim.model import Org

ZIPF_EXPONENT = 1.1
MAC_STRIDE = 16  # MACs a gateway takes (its ports' MACs follow its own)
_ROUTED = re.compile(r"^/api/v1/(orgs|sites)/([^/]+)")


def org_sizes(gateways: int, orgs: int) -> list[int]:
    """Gateways per org, biggest first, summing to `gateways` (long-tailed)."""
    if orgs <= 0:
        return []
    weights = [1.0 / (rank + 1) ** ZIPF_EXPONENT for rank in range(orgs)]
    floor = 1 if gateways >= orgs else 0
    spare = gateways - floor * orgs
    total = sum(weights)
    sizes = [floor + int(spare * weight / total) for weight in weights]
    for rank in range(gateways - sum(sizes)):  # the rounding's leftover, biggest first
        sizes[rank % orgs] += 1
    return sizes


def generate_msp(options: OrgOptions, now: float) -> list[Org]:
    """Every org of the MSP, org 1 first: its ids are those org 1 lists as its MSP's."""
    sizes = org_sizes(options.gateways, options.orgs)
    gateways = max(1, options.gateways)
    orgs: list[Org] = []
    mac_base = 0x010000
    for rank, size in enumerate(sizes):
        sites = max(1, round(options.sites * size / gateways))
        part = OrgOptions(
            sites=sites,
            gateways=size,
            seed=options.seed if rank == 0 else options.seed * 100_003 + rank,
            wan_ports_min=options.wan_ports_min,
            wan_ports_max=options.wan_ports_max,
            peer_paths=options.peer_paths,
            orgs=options.orgs if rank == 0 else 1,
            edge_cases=options.edge_cases and rank == 0,
            mac_base=mac_base,
        )
        mac_base += (size + 1) * MAC_STRIDE
        org = generate(part, now)
        if rank:
            main = orgs[0]
            org.id = main.other_org_ids[rank - 1]
            org.name = f"Other Org {rank + 1}"
            org.msp_id, org.msp_name = main.msp_id, main.msp_name
            org.other_org_ids = []
        orgs.append(org)
    return orgs


def org_stats(org: Org, org_id: str, orgs: dict[str, Org], name: str) -> dict[str, Any]:
    """One item of `GET /msps/{msp_id}/stats/orgs` (schema `stats_org`)."""
    own = orgs.get(org_id)
    gateways = own.gateways if own is not None else []
    connected = sum(1 for gateway in gateways if gateway.connected)
    return {
        "id": org_id,
        "name": name,
        "msp_id": org.msp_id,
        "alarmtemplate_id": "00000000-0000-0000-0000-000000000000",
        "allow_mist": True,
        "orggroup_ids": [],
        "session_expiry": 1440,
        "created_time": org.created_time,
        "modified_time": org.created_time + 86400,
        "num_sites": len(own.sites) if own is not None else 0,
        "num_devices": len(gateways),
        "num_inventory": len(gateways),
        "num_devices_connected": connected,
        "num_devices_disconnected": len(gateways) - connected,
        "sle": [],
    }


class MspFront:
    """WSGI: each request to the org whose org id or site id its path names; the rest to
    org 1's API (identity, MSP listings, the admin API)."""

    def __init__(self, apis: Iterable[Any]) -> None:
        listed = list(apis)
        self.main = listed[0]
        self.by_org = {api.org.id: api for api in listed}
        self.by_site = {site.id: api for api in listed for site in api.org.sites}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        found = _ROUTED.match(environ.get("PATH_INFO", ""))
        api = self.main
        if found is not None:
            table = self.by_org if found.group(1) == "orgs" else self.by_site
            api = table.get(found.group(2), self.main)
        return api(environ, start_response)
