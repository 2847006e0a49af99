"""The DATA.md §3.1-§3.3 documents from a snapshot: the gateways payload (its head, then
its gateway records), the insights records and each gateway's peer paths.

The records come one at a time from generators, and the draining ones release the
snapshot's compact records as they go: the worker encodes 10,000 gateways without ever
holding them twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from model.quality import THRESHOLDS, degraded_causes
from model.snapshot import Gateway, Snapshot, Volumes


def summarize(gateways: Sequence[Gateway]) -> dict:
    """The counts line of DATA.md §3.1: a circuit is up when its link is up; the down ones of
    offline gateways are counted apart too (their gateway being offline says it all)."""
    online = sum(1 for g in gateways if g.stat.status == "connected")
    ports = [p for g in gateways for p in g.ports]
    circuits_up = sum(1 for p in ports if p.up is True)
    down_offline = sum(
        1 for g in gateways if g.stat.status != "connected" for p in g.ports if p.up is not True
    )
    peer_paths = sum(g.peers_total for g in gateways)
    peer_paths_up = sum(g.peers_up for g in gateways)
    return {
        "gateways": len(gateways),
        "gateways_online": online,
        "gateways_offline": len(gateways) - online,
        "circuits": len(ports),
        "circuits_up": circuits_up,
        "circuits_down": len(ports) - circuits_up,
        "circuits_down_online": len(ports) - circuits_up - down_offline,
        "circuits_down_offline": down_offline,
        "circuits_degraded": sum(1 for p in ports if p.degraded),
        "degraded_causes": degraded_causes(),
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


def drain_gateway_records(snapshot: Snapshot, volumes: Volumes) -> Iterator[dict]:
    """The payload's gateway records in order, 24 h volumes filled from (gateway_id,
    port_id), emptying `snapshot.records` as it goes (take the payload head first): each
    compact record is released while the encoded payload grows."""
    records, snapshot.records = snapshot.records, []
    records.reverse()
    while records:
        yield records.pop().as_dict(volumes)


def insights_records(snapshot: Snapshot, volumes: Volumes) -> Iterator[tuple[str, dict]]:
    """(`gateway_id:port_id`, current rates and 24 h volumes) of every WAN port, in order:
    the members of `mist:insights:all`."""
    for circuit in snapshot.circuits:
        rx, tx = volumes.get((circuit.gateway_id, circuit.port_id), (None, None))[:2]
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


def drain_peer_paths(snapshot: Snapshot) -> Iterator[tuple[tuple[str, str], list[dict]]]:
    """((gateway_id, mac), its §3.3 peer paths as dicts) in order, emptying `snapshot.paths`
    as it goes so each gateway's compact paths are released once encoded."""
    entries = list(snapshot.paths.items())
    snapshot.paths = {}
    entries.reverse()
    while entries:
        key, paths = entries.pop()
        yield key, [path.as_dict() for path in paths]
