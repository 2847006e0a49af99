"""One packed hour of an org's events: columns of small numbers, compressed (DATA.md §3.8).

An event read back is the one stored, field for field, but a block keeps only what differs
from event to event: its time (the step from the row before, in ms), a kind (type, severity,
source), the org's catalog index of its subject (org, site, gateway and their names) and of
its peer, a port and a before/after pair (both from tables in the block's header). The id is
recomputed (model.events.event_id) and only kept when it is not what the facts give. Rows are
in the sorted set's order (time, then member bytes), so paging reads a block as it read the
set. The columns go through LZMA; an hour of 10,000 events packs to a few bytes per event.
"""

from __future__ import annotations

import json
import lzma
import re
import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from model.events import EVENT_FIELDS, event_id
from store.codec import encode_json

MAGIC = b"EB1"
ID_RE = re.compile(r"^(\d{13})-([0-9a-f]{16})$")
SUBJECT_FIELDS = ("org_id", "org_name", "site_id", "site_name", "gateway_id", "gateway_name")
PEER_FIELDS = ("peer_mac", "peer_name", "peer_port_id")
COLUMNS = ("t", "k", "s", "r", "p", "v", "m")  # time step, kind, subject, peer, port, values, id ms
FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6}]


def time_ms(event: Mapping[str, Any]) -> int:
    """An event's time in whole milliseconds (events carry it rounded to ms)."""
    return round(float(event["time"]) * 1000)


def _typecode(values: Sequence[int]) -> str:
    top = max(values, default=0)
    return "B" if top < 1 << 8 else "H" if top < 1 << 16 else "I"


def _pack(values: Sequence[int]) -> tuple[str, bytes]:
    code = _typecode(values)
    column = array(code, values)
    if sys.byteorder == "big":
        column.byteswap()
    return code, column.tobytes()


def _unpack(code: str, raw: bytes) -> array:
    column = array(code)
    column.frombytes(raw)
    if sys.byteorder == "big":
        column.byteswap()
    return column


def _zigzag(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _unzigzag(value: int) -> int:
    return value // 2 if value % 2 == 0 else -(value + 1) // 2


class _Table:
    """Distinct values of one column, numbered in order of first use."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[bytes, int] = {}

    def index(self, value: Any) -> int:
        key = encode_json(value)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.values)
            self.values.append(value)
        return found


def _id_ms_step(event: Mapping[str, Any], ms: int) -> int | None:
    """How the id's ms differ from the time's, when the rest of the id is what the facts
    give (None: keep the id as it is)."""
    found = ID_RE.match(str(event.get("id") or ""))
    if found is None:
        return None
    again = event_id(
        str(event["type"]),
        ms / 1000,
        event.get("gateway_id"),
        event.get("port_id"),
        event.get("peer_mac"),
        event.get("peer_port_id"),
    )
    step = int(found.group(1)) - ms
    if again[14:] != found.group(2) or abs(step) >= 1 << 30:
        return None
    return step


def encode_block(
    events: Sequence[Mapping[str, Any]],
    hour: int,
    subject: Callable[[tuple[Any, ...]], int],
    peer: Callable[[tuple[Any, ...]], int],
) -> bytes:
    """The block of `events` (already in stored order, all within `hour`); `subject` and
    `peer` give a catalog index for a tuple of SUBJECT_FIELDS / PEER_FIELDS values."""
    kinds, ports, values = _Table(), _Table(), _Table()
    ids: dict[str, str] = {}
    columns: dict[str, list[int]] = {name: [] for name in COLUMNS}
    last = hour * 1000
    for row, event in enumerate(events):
        ms = time_ms(event)
        columns["t"].append(ms - last)
        last = ms
        columns["k"].append(kinds.index([event["type"], event["severity"], event["source"]]))
        columns["s"].append(subject(tuple(event.get(name) for name in SUBJECT_FIELDS)))
        peer_facts = tuple(event.get(name) for name in PEER_FIELDS)
        columns["r"].append(0 if peer_facts == (None,) * 3 else peer(peer_facts) + 1)
        port = event.get("port_id")
        columns["p"].append(0 if port is None else ports.index(port) + 1)
        columns["v"].append(values.index([event.get("before"), event.get("after")]))
        step = _id_ms_step(event, ms)
        if step is None:
            ids[str(row)] = str(event["id"])
        columns["m"].append(_zigzag(step or 0))
    header: dict[str, Any] = {
        "n": len(events),
        "hour": hour,
        "kinds": kinds.values,
        "ports": ports.values,
        "values": values.values,
        "ids": ids,
        "cols": [],
    }
    body = bytearray()
    for name in COLUMNS:
        code, raw = _pack(columns[name])
        header["cols"].append([name, code])
        body += raw
    head = encode_json(header)
    payload = struct.pack("<I", len(head)) + head + bytes(body)
    return MAGIC + lzma.compress(payload, format=lzma.FORMAT_RAW, filters=FILTERS)


@dataclass(frozen=True)
class Row:
    """What the web filters a row on before it builds the event."""

    time: float
    type: str
    severity: str
    subject: int


class Block:
    """A decoded block: its columns as arrays, rows built into events on demand."""

    def __init__(self, data: bytes) -> None:
        if not data.startswith(MAGIC):
            raise ValueError("not an event block")
        payload = lzma.decompress(data[len(MAGIC) :], format=lzma.FORMAT_RAW, filters=FILTERS)
        (size,) = struct.unpack_from("<I", payload)
        header = json.loads(payload[4 : 4 + size])
        self.n: int = header["n"]
        self.hour: int = header["hour"]
        self.kinds: list[list[str]] = header["kinds"]
        self.ports: list[str] = header["ports"]
        self.values: list[list[Any]] = header["values"]
        self.ids: dict[str, str] = header["ids"]
        offset = 4 + size
        self.columns: dict[str, array] = {}
        for name, code in header["cols"]:
            width = array(code).itemsize * self.n
            self.columns[name] = _unpack(code, payload[offset : offset + width])
            offset += width
        self.times = self._times()

    def _times(self) -> list[int]:
        """Every row's time in ms (the steps added up)."""
        return list(accumulate(self.columns["t"], initial=self.hour * 1000))[1:]

    def rows_until(self, newest_ms: float) -> int:
        """How many rows have a time ≤ newest_ms (the rows a page from there may read)."""
        return bisect_right(self.times, newest_ms)

    def row(self, index: int) -> Row:
        kind = self.kinds[self.columns["k"][index]]
        return Row(self.times[index] / 1000, kind[0], kind[1], self.columns["s"][index])

    def peer_index(self, index: int) -> int | None:
        found = self.columns["r"][index]
        return None if found == 0 else found - 1

    def event(
        self, index: int, subjects: Mapping[int, Sequence[Any]], peers: Mapping[int, Sequence[Any]]
    ) -> dict[str, Any]:
        """Row `index` as the event it was stored as (every field, in order)."""
        columns = self.columns
        ms = self.times[index]
        kind, severity, source = self.kinds[columns["k"][index]]
        event: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
        event.update(zip(SUBJECT_FIELDS, subjects.get(columns["s"][index], ()), strict=False))
        peer = self.peer_index(index)
        if peer is not None:
            event.update(zip(PEER_FIELDS, peers.get(peer, ()), strict=False))
        port = columns["p"][index]
        event["port_id"] = None if port == 0 else self.ports[port - 1]
        event["before"], event["after"] = self.values[columns["v"][index]]
        event.update(type=kind, severity=severity, source=source, time=ms / 1000)
        kept = self.ids.get(str(index))
        if kept is None:
            again = event_id(
                kind, ms / 1000, event["gateway_id"], event["port_id"], event["peer_mac"],
                event["peer_port_id"],
            )  # fmt: skip
            kept = f"{ms + _unzigzag(columns['m'][index]):013d}-{again[14:]}"
        event["id"] = kept
        return event

    def events(
        self, subjects: Mapping[int, Sequence[Any]], peers: Mapping[int, Sequence[Any]]
    ) -> list[dict[str, Any]]:
        """Every row as its event, in stored order (for the worker's repacking)."""
        return [self.event(index, subjects, peers) for index in range(self.n)]
