"""The snapshot writer: one refresh's documents, encoded straight into the publish.

Each gateway's and each peer-path list's bytes leave as they are made, the big documents a
megabyte at a time as they grow, while the snapshot's compact records are released one by
one: at 10,000 gateways the worker never holds the snapshot twice, nor any whole document
but the page's table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from model.snapshot import Snapshot
from store.codec import CsvEncoder, encode_json, write_json_document, write_json_object
from store.keys import Dataset
from store.publisher import Publisher
from traffic.step import TrafficResult
from views.export import CSV_COLUMNS, CircuitRows
from views.payload import (
    drain_gateway_records,
    drain_peer_paths,
    gateways_payload_head,
    insights_records,
)
from views.rows import GatewayRows


def write_snapshot(out: Publisher, snapshot: Snapshot, traffic: TrafficResult) -> None:
    """Every served document, each gateway's keys and the history writes, into `out`."""
    head = gateways_payload_head(snapshot)
    with out.document(Dataset.VPN_PEERS_ALL) as document:
        write_json_object(document, _peer_path_bodies(out, snapshot))
    table = GatewayRows(snapshot.sites, snapshot.generated_at)
    with out.document(Dataset.GATEWAYS) as payload, out.document(Dataset.EXPORT_CSV) as csv:
        export = CsvEncoder(CSV_COLUMNS, csv)
        bodies = _gateway_bodies(out, snapshot, traffic.volumes, table, export)
        write_json_document(payload, head, "gateways", bodies)
    out.served_json(Dataset.GATEWAY_ROWS, table.document(head))
    with out.document(Dataset.INSIGHTS_ALL) as document:
        write_json_object(document, insights_records(snapshot, traffic.volumes))
    out.served_json(Dataset.ORG, snapshot.org)
    out.served_json(Dataset.SITES, snapshot.sites)
    for port, write in traffic.writes.items():
        out.history_write(port, write)


def _peer_path_bodies(out: Publisher, snapshot: Snapshot) -> Iterator[tuple[str, bytes]]:
    """Each gateway's peer paths encoded once: its own key and the whole document."""
    for (gateway_id, _mac), paths in drain_peer_paths(snapshot):
        body = encode_json(paths)
        out.peer_paths(gateway_id, body)
        yield gateway_id, body


def _gateway_bodies(
    out: Publisher,
    snapshot: Snapshot,
    volumes: Mapping[tuple[str, str], Any],
    table: GatewayRows,
    export: CsvEncoder,
) -> Iterator[bytes]:
    """Each gateway encoded once: its own key, the payload, the table and the CSV."""
    circuit_rows = CircuitRows(snapshot.sites)
    for record in drain_gateway_records(snapshot, volumes):
        table.add(record)
        for row in circuit_rows.of(record):
            export.add(row)
        body = encode_json(record)
        out.gateway(record["id"], body)
        yield body
