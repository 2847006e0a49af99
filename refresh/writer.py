"""The snapshot writer: one refresh's documents, encoded straight into the publish.

Each gateway's and each peer-path list's bytes leave as they are made, the big documents a
megabyte at a time as they grow, while the snapshot's compact records are released one by
one: at 10,000 gateways the worker never holds the snapshot twice, nor any whole document
but the page's table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from model.snapshot import Snapshot
from store.codec import (
    CsvEncoder,
    encode_json,
    gzip_member,
    write_json_document,
    write_json_object,
)
from store.exposition import OPENMETRICS_EOF, Rendered
from store.keys import Dataset
from store.publisher import Publisher
from traffic.step import TrafficResult
from views.export import CSV_COLUMNS, CircuitRows
from views.metrics import snapshot_families, worker_families
from views.payload import (
    drain_gateway_records,
    drain_peer_paths,
    gateways_payload_head,
    insights_records,
)
from views.rows import GatewayRows
from views.worst import WorstCircuits, WorstFigures

METRICS_GZIP_LEVEL = 1
"""The exposition is stored as gzip alone (store.keys.GZIP_ONLY), 80-160 MB of label text
per format at 10,000 gateways: level 6 cost four times level 1's seconds for a twin a sixth
smaller (76 MB of samples: 1.28 s and 7.1 MB against 0.32 s and 8.5 MB)."""

SHARED_MEMBER_BYTES = 64 << 10
"""A family's samples from this size on are compressed once for both formats, as a gzip
member of their own (the format's header before it in a member of its own); smaller ones
(the worker's own families: a line each) go on in the open member of each."""


class MetricsDocuments:
    """The refresh's Prometheus exposition, as text format 0.0.4 and as OpenMetrics: the
    snapshot's families first (before the payload drains it), the worker's own last, once
    its status for this publish is known (finish)."""

    def __init__(self, out: Publisher, peer_paths: str) -> None:
        self.peer_paths = peer_paths
        self.seconds = 0.0  # what building them cost this refresh
        self._text = out.document(Dataset.METRICS, gzip_level=METRICS_GZIP_LEVEL)
        self._openmetrics = out.document(Dataset.METRICS_OPENMETRICS, gzip_level=METRICS_GZIP_LEVEL)

    def write(self, families: Iterable[Rendered]) -> None:
        """Each family into both formats: its header as each writes it, its samples (the
        same lines in both) compressed once into a gzip member both take, when there are
        enough of them for a member of their own."""
        started = time.perf_counter()
        for kind, samples in families:
            self._text.write(kind.header(openmetrics=False))
            self._openmetrics.write(kind.header(openmetrics=True))
            if len(samples) < SHARED_MEMBER_BYTES:
                self._text.write(samples)
                self._openmetrics.write(samples)
                continue
            member = gzip_member(samples, METRICS_GZIP_LEVEL)
            self._text.write_member(member)
            self._openmetrics.write_member(member)
        self.seconds += time.perf_counter() - started

    def finish(self, status: Mapping[str, Any], call_totals: Mapping[str, int]) -> None:
        """The worker's families from the status published with this snapshot; closes both."""
        self.write(worker_families(status, call_totals))
        self._openmetrics.write(OPENMETRICS_EOF)
        self._text.close()
        self._openmetrics.close()


def write_snapshot(
    out: Publisher,
    snapshot: Snapshot,
    traffic: TrafficResult,
    metrics: MetricsDocuments,
    availability: WorstFigures | None = None,
) -> None:
    """Every served document, each gateway's keys and the history writes, into `out`;
    `metrics` gets the snapshot's families (the caller finishes it); `availability` the
    worst circuits' 24 h figures (refresh.availability's publish returns them)."""
    metrics.write(snapshot_families(snapshot, metrics.peer_paths))
    snapshot.port_paths = {}  # only the metrics read them
    head = gateways_payload_head(snapshot)
    with out.document(Dataset.VPN_PEERS_ALL) as document:
        write_json_object(document, _peer_path_bodies(out, snapshot))
    table = GatewayRows(snapshot.sites, snapshot.generated_at)
    worst = WorstCircuits(snapshot.sites, availability=availability)
    with out.document(Dataset.GATEWAYS) as payload, out.document(Dataset.EXPORT_CSV) as csv:
        export = CsvEncoder(CSV_COLUMNS, csv)
        bodies = _gateway_bodies(out, snapshot, traffic.port_volumes(), (table, worst), export)
        write_json_document(payload, head, "gateways", bodies)
    out.served_json(Dataset.GATEWAY_ROWS, table.encoded(head))  # bytes: sent as they are
    out.served_json(Dataset.GATEWAY_FIRST, table.encoded_first(head))  # the same publish
    out.served_json(Dataset.WORST, worst.document(snapshot.generated_at))
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
    tables: tuple[GatewayRows, WorstCircuits],
    export: CsvEncoder,
) -> Iterator[bytes]:
    """Each gateway encoded once: its own key, the payload, the tables and the CSV."""
    circuit_rows = CircuitRows(snapshot.sites)
    for record in drain_gateway_records(snapshot, volumes):
        for table in tables:
            table.add(record)
        for row in circuit_rows.of(record):
            export.add(row)
        body = encode_json(record)
        out.gateway(record["id"], body)
        yield body
