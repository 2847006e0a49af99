"""A refresh's availability step: the running sums moved on by this refresh, and published.

`prepare` runs with the events (before the publish drains the snapshot): it takes what the
documents need of the snapshot, nothing more. `publish` runs in the publish, once the
snapshot is drained (so the ~100 MB of sums and flags at 10,000 gateways never sit beside
the whole snapshot: the worker's peak): it reads the state and the buckets leaving a window,
this refresh's events (derived and Mist's, whatever the event step holds by then) move the
sums on, and the state, the closed buckets and the documents are staged to go live with the
snapshot. No Mist call; one pass over circuits.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from model.snapshot import Snapshot
from sla.accumulator import FLAPS_EVER, Accumulator, Buckets, advance, needed
from sla.circuits import Catalogue, catalogue, final_flags
from sla.documents import (
    AVAILABILITY_CSV_COLUMNS,
    ISP_CSV_COLUMNS,
    head,
    isp_csv_rows,
    isps_document,
    ratios,
)
from sla.encoded import encoded_by_gateway
from store.codec import CsvEncoder, encode_json, excel_safe
from store.keys import Dataset
from store.publisher import Publisher, ServedDocument
from store.sla import read_sla, read_sla_buckets, stage_sla, switch_sla
from views.metrics import PortFigures, availability_families, gateway_labels, port_labels
from views.worst import WorstFigures, port_figures

log = logging.getLogger("worker")

MIN_GAP = 600  # seconds a refresh may be late before the time since the last is unobserved


@dataclass
class Prepared:
    """What `publish` needs, taken before the snapshot is drained."""

    org_id: str
    now: float
    found: Catalogue
    flags: dict[str, int]  # each circuit's flags from the events' state of this refresh


class AvailabilityStep:
    """Availability per WAN port, peer path and ISP, counted by the worker each refresh."""

    def __init__(self, client: redis.Redis, redis_lock: threading.Lock, *, interval: int):
        self._client = client
        self._lock = redis_lock
        self.max_gap = max(3 * interval, MIN_GAP)
        self.seconds = 0.0  # what the step cost this refresh

    def prepare(self, snapshot: Snapshot, org_id: str, state: Mapping[str, Any]) -> Prepared:
        """The snapshot's circuits and their flags from the events' state (the state itself
        is not kept: the event step drops its objects once encoded)."""
        started = time.perf_counter()
        found = catalogue(snapshot)
        flags = final_flags(state, found)
        self.seconds = time.perf_counter() - started
        return Prepared(org_id, snapshot.generated_at, found, flags)

    def _read(self, org_id: str, now: float) -> tuple[Accumulator | None, dict[str, Buckets]]:
        """The stored sums and the buckets a refresh to `now` subtracts. Not under the
        Redis lock: publish runs inside the pipeline's publish, which holds it."""
        stored, _ = read_sla(self._client, org_id, ())
        names = needed(stored, now).buckets
        return stored, read_sla_buckets(self._client, org_id, names)

    def publish(
        self,
        out: Publisher,
        prepared: Prepared,
        events: Iterable[Mapping[str, Any]],
        metrics: Any | None = None,
    ) -> WorstFigures:
        """The sums moved on by `events`, staged with the documents (and the metrics'
        families into `metrics`, a refresh.writer.MetricsDocuments, when given); returns
        each WAN port's 24 h figures for the worst circuits."""
        started = time.perf_counter()
        counted = self._count(out, prepared, events, metrics)
        self.seconds += time.perf_counter() - started
        log.info(
            "availability: %d circuits, %d buckets closed, %.2f s",
            *counted[1:],
            self.seconds,
        )
        return counted[0]

    def _count(
        self,
        out: Publisher,
        prepared: Prepared,
        events: Iterable[Mapping[str, Any]],
        metrics: Any | None,
    ) -> tuple[WorstFigures, int, int]:
        found = prepared.found
        stored, leaving = self._read(prepared.org_id, prepared.now)
        accumulator, closed = advance(
            stored, prepared.now, events, prepared.flags, max_gap=self.max_gap, leaving=leaving
        )
        prepared.flags = {}
        del stored, leaving  # the accumulator is what is left of them
        stage_sla(out.staging, prepared.org_id, accumulator, closed)
        out.with_switch(lambda switch: switch_sla(switch, prepared.org_id))
        write_documents(out, found, accumulator)
        if metrics is not None:
            heads: dict[str, str] = {}  # each gateway's labels, for both passes (~1 MB)
            ports = functools.partial(metric_ports, found, accumulator, heads)
            metrics.write(availability_families(ports))
        return port_figures(found, accumulator), len(accumulator.circuits), len(closed)


def write_documents(out: Publisher, found: Catalogue, acc: Accumulator) -> None:
    """/api/availability (and each gateway's part), its CSV, /api/isps and its CSV."""
    with (
        ServedDocument(out, Dataset.AVAILABILITY, 1 << 20, GZIP_LEVEL) as document,
        ServedDocument(out, Dataset.AVAILABILITY_CSV, 1 << 20, GZIP_LEVEL) as sink,
    ):
        CsvEncoder(list(AVAILABILITY_CSV_COLUMNS), sink)  # the BOM and the header row
        kept: dict[str, Mapping[str, Any]] = {}  # each port's figures, for the ISPs
        opening = encode_json({**head(found), "gateways": []})
        document.write(opening[:-2])
        rows = encoded_by_gateway(found, acc, kept)
        details: dict[str, bytes] = {}  # the gateways' fields, DETAIL_BATCH to an HSET
        for index, (gateway_id, body, csv_text) in enumerate(rows):
            # body: once, for the whole document and the gateway's field
            details[gateway_id] = body
            if len(details) >= DETAIL_BATCH:
                out.details(out.keyspace.availability_details, details)
                details = {}
            document.write(b"," + body if index else body)
            sink.write(csv_text.encode("utf-8"))
        out.details(out.keyspace.availability_details, details)
        document.write(b"]}")
    isps = isps_document(found, acc, kept)
    del kept
    out.served_json(Dataset.ISPS, isps)
    with out.document(Dataset.ISPS_CSV) as sink:
        csv = CsvEncoder(ISP_CSV_COLUMNS, sink)
        for row in isp_csv_rows(isps):
            csv.add([excel_safe(value) for value in row])


DETAIL_BATCH = 200
"""Gateways' availability fields per HSET (a few hundred KB: one short command each)."""

GZIP_LEVEL = 1
"""The gzip twins of the two big availability documents: tens of MB at 10,000 gateways,
rewritten every refresh, where level 6 cost seconds; level 1 is several times faster on
their repetitive text for a somewhat larger twin (what a browser inflates is the same)."""


def metric_ports(
    found: Catalogue, acc: Accumulator, heads: dict[str, str]
) -> Iterator[PortFigures]:
    """Each WAN port's labels (as mist_wan_port_up's), ratios over 24h and 7d, flaps;
    `heads` keeps each gateway's labels from one pass over the ports to the next."""
    org = found.org.get("name")
    for key, info in found.ports.items():
        record = acc.circuits.get(key)
        head = heads.get(info.gateway_id)
        if head is None:
            head = gateway_labels(org, info.site_name, info.gateway_name, info.gateway_id)
            heads[info.gateway_id] = head
        labels = f"{head},{_port_tail(info.port_id, info.wan_name, info.isp)}"
        yield labels, ratios(record), record[FLAPS_EVER] if record else 0


@functools.lru_cache(maxsize=1 << 14, typed=True)
def _port_tail(port_id: str, wan_name: object, isp: object) -> str:
    """port_labels after its gateway's head, rendered once per distinct port name, WAN name
    and ISP (ge-0/0/0, wan0, an ISP… repeat port after port: 40,000 ports at 10,000
    gateways); typed: 1 and True are different labels."""
    return port_labels("", port_id, wan_name, isp)[1:]
