"""Property tests (hypothesis): whatever Mist sends, the snapshot builds and every document
encodes as standard JSON; whatever a name holds, no CSV cell is one Excel would run."""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.port_config import index_port_configs
from model.snapshot import Snapshot, build_snapshot
from store.codec import (
    CELL_BREAKS,
    FORMULA_STARTS,
    CsvEncoder,
    encode_json,
    excel_safe,
    write_json_document,
    write_json_object,
)
from tests.fixtures.snapshots import load
from views.export import CSV_COLUMNS, CircuitRows
from views.payload import (
    drain_gateway_records,
    drain_peer_paths,
    gateways_payload_head,
    insights_records,
)
from views.rows import GatewayRows

MIST = load("examples.json")
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and the infinities included
    st.sampled_from([10**4000, -(10**400), 1e308, -1e308, 2**64, "x" * 100_000]),
    st.text(),
    st.lists(st.floats(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.floats(), max_size=3),
)


def _mutate(value: Any, rng: random.Random, hostile: list[Any]) -> Any:
    """Each key of each object kept, removed, or given a hostile value; recursively."""
    if isinstance(value, dict):
        mutated: dict[str, Any] = {}
        for key, item in value.items():
            roll = rng.random()
            if roll < 0.2:
                continue
            mutated[key] = rng.choice(hostile) if roll < 0.4 else _mutate(item, rng, hostile)
        return mutated
    if isinstance(value, list):
        return [_mutate(item, rng, hostile) for item in value]
    return value


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _snapshot(mist: Any) -> Snapshot:
    device = mist.get("getSiteDevice")
    configs = index_port_configs(
        sites=_listed(mist.get("listOrgSites")),
        templates=[mist.get("getOrgGatewayTemplate")],
        profiles=[mist.get("getOrgDeviceProfile")],
        inventory=_listed(mist.get("getOrgInventory")),
        device_configs={"00000000-0000-0000-1000-4c96144f0a10": device},
    )
    ports = mist.get("searchOrgSwOrGwPorts")
    paths = mist.get("searchOrgPeerPathStats")
    return build_snapshot(
        org=mist.get("getOrg") if isinstance(mist.get("getOrg"), dict) else {},
        sites=_listed(mist.get("listOrgSites")),
        gateway_stats=_listed(mist.get("listOrgDevicesStats")),
        port_stats=_listed(ports.get("results")) if isinstance(ports, dict) else [],
        peer_paths=_listed(paths.get("results")) if isinstance(paths, dict) else [],
        port_configs=configs,
        now=1721300000.0,
    )


def _publish(snapshot: Snapshot) -> dict[str, bytes]:
    """Every document the worker writes, as refresh/writer.py writes them."""
    out = {name: io.BytesIO() for name in ("peers", "gateways", "csv", "insights")}
    head = gateways_payload_head(snapshot)
    write_json_object(
        out["peers"], ((key[0], encode_json(paths)) for key, paths in drain_peer_paths(snapshot))
    )
    table, rows = GatewayRows(snapshot.sites), CircuitRows(snapshot.sites)
    export = CsvEncoder(CSV_COLUMNS, out["csv"])

    def records() -> Any:
        for record in drain_gateway_records(snapshot, {}):
            table.add(record)
            for row in rows.of(record):
                export.add(row)
            yield encode_json(record)

    write_json_document(out["gateways"], head, "gateways", records())
    write_json_object(out["insights"], insights_records(snapshot, {}))
    documents = {name: sink.getvalue() for name, sink in out.items()}
    documents["rows"] = encode_json(table.document(head))
    documents["org"] = encode_json(snapshot.org)
    documents["sites"] = encode_json(snapshot.sites)
    return documents


def _strict(constant: str) -> None:
    raise ValueError(constant)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), hostile=st.lists(HOSTILE, min_size=1, max_size=8))
def test_any_mist_answer_builds_and_encodes_as_standard_json(
    rng: random.Random, hostile: list[Any]
) -> None:
    """Random fields removed or replaced by wrong types, NaN, infinities, huge numbers and
    long strings: build_snapshot never raises and every document is standard JSON
    (encode_json refuses NaN), with no string longer than 256 characters."""
    mist = _mutate(copy.deepcopy(MIST), rng, hostile)
    documents = _publish(_snapshot(mist))
    for name, body in documents.items():
        if name != "csv":
            json.loads(body, parse_constant=_strict)
        assert b"x" * 257 not in body, name


def _excel_cells(line: str) -> list[str]:
    """The cells Excel may make of one CSV line: split at `,` (what we write), at `;` (many
    locales' list separator) or at a tab (paste)."""
    cells: list[str] = []
    for delimiter in (",", ";", "\t"):
        for row in csv.reader(io.StringIO(line, newline=""), delimiter=delimiter):
            cells.extend(row)
    return cells


CELL_TEXT = st.text(alphabet=st.sampled_from("=+-@\t\r;,\"' aZ1é\n"), max_size=24) | st.text()


@settings(max_examples=300, deadline=None)
@given(values=st.lists(CELL_TEXT | st.integers() | st.floats() | st.booleans(), max_size=6))
def test_no_csv_cell_is_one_excel_would_run(values: list[Any]) -> None:
    """excel_safe: no cell, nor any part after a `;` or tab, starts with a formula character
    (read back at `,`, where those are all of FORMULA_STARTS, and at `;` or tab, where the
    operators = + - @ are what would run); and only quotes are added."""
    cells = [excel_safe(value) for value in values]
    for cell in cells:
        for piece in re.split("[" + re.escape("".join(CELL_BREAKS)) + "]", cell):
            assert not piece.startswith(FORMULA_STARTS), (values, cell)
    sink = io.BytesIO()
    CsvEncoder(["c"] * max(1, len(cells)), sink).add(cells)
    line = sink.getvalue().decode("utf-8-sig").split("\r\n", 1)[1]
    for cell in _excel_cells(line):
        assert not cell.startswith(("=", "+", "-", "@")), (values, cell)
    for value, cell in zip(values, cells, strict=True):
        original = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        assert cell.replace("'", "") == original.replace("'", ""), "only quotes are added"
