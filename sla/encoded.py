"""The availability documents' bytes, made from cached pieces rather than from the parts.

sla.documents' `by_gateway` parts encoded (JSON) and written as CSV byte for byte, without
building the parts: a row's names (ge-0/0/0, wan0, an ISP, a hub…) and its figures repeat
circuit after circuit, so each distinct one is encoded once. At 10,000 gateways (100,000
circuits) the pieces of a row are found with two look-ups: its names, and its record's sums.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sla.accumulator import FLAPS_EVER, HOUR_AT, SLOT, Accumulator
from sla.circuits import Catalogue
from sla.documents import (
    _figures,
    _grouped,
    _part,
    _row_cells,
    _text_cell,
    availability_csv_text,
    figure_cells_text,
)
from store.codec import encode_json

Tails = tuple[dict[str, list[Any]], str, str]
"""A record's figures (shared, not to be changed), its JSON row from flaps_total's value
to the row's end, and its CSV line from the figure cells to the line's end."""


def encoded_by_gateway(
    found: Catalogue, acc: Accumulator, kept: dict[str, Mapping[str, Any]] | None = None
) -> Iterator[tuple[str, bytes, str]]:
    """Each by_gateway part as (gateway id, encode_json(part), availability_csv_text(part)),
    byte for byte, without the part. Each port's figures into `kept` as by_gateway puts
    them."""
    for gateway_id, port_keys, path_keys in _grouped(found):
        try:
            json_text, csv_text = _encoded(found, acc, port_keys, path_keys, kept)
        except TypeError:  # a name that is no JSON scalar (never from the model): json's
            part = _part(found, acc, port_keys, path_keys, kept)
            yield gateway_id, encode_json(part), availability_csv_text(part)
        else:
            yield gateway_id, json_text.encode(), csv_text


def _encoded(
    found: Catalogue,
    acc: Accumulator,
    port_keys: list[str],
    path_keys: list[str],
    kept: dict[str, Mapping[str, Any]] | None,
) -> tuple[str, str]:
    circuits, ports, paths = acc.circuits, found.ports, found.paths
    first = ports[port_keys[0]] if port_keys else paths[path_keys[0]]
    names = (first.gateway_id, first.gateway_name, first.site_name)
    csv_head = ",".join([_text_cell(name) for name in (names[1], names[0], names[2])])
    rows: list[str] = []
    lines: list[str] = []
    for key in port_keys:
        port = ports[key]
        figures, json_tail, csv_tail = _tails(circuits.get(key))
        if kept is not None:
            kept[key] = figures
        opening, cells = _port_texts(port.port_id, port.wan_name, port.isp, port.asn, port.up)
        rows.append(opening + json_tail)
        lines.append(f"port,{csv_head},{cells},{csv_tail}")
    port_rows = ",".join(rows)
    rows = []
    for key in path_keys:
        path = paths[key]
        _, json_tail, csv_tail = _tails(circuits.get(key))
        opening, cells = _path_texts(path.port_id, path.peer_name, path.peer_mac,
                                     path.peer_port_id, path.vpn, path.up)  # fmt: skip
        rows.append(opening + json_tail)
        lines.append(f"path,{csv_head},{cells},{csv_tail}")
    opened = _scalars(*names)
    return f'{opened},"ports":[{port_rows}],"paths":[{",".join(rows)}]}}', "".join(lines)


def _tails(record: Sequence[int] | None) -> Tails:
    """A record's Tails, by its flaps ever and counters (one look-up: most records alike)."""
    sums = None if record is None else record[FLAPS_EVER:SLOT]
    key = sums.tobytes() if isinstance(sums, array) else None if sums is None else tuple(sums)
    found = _TAILS.get(key)
    if found is None:
        if len(_TAILS) >= _TAILS_MAX:
            _TAILS.clear()  # bounded
        found = _TAILS[key] = _made_tails(sums)
    return found


def _made_tails(sums: Sequence[int] | None) -> Tails:
    """Tails of flaps ever and the counters after them (None: a circuit new this refresh)."""
    flaps = sums[0] if sums is not None else 0
    counters = tuple(sums[HOUR_AT - FLAPS_EVER :]) if sums is not None else _NO_COUNTERS
    figures = _figures(counters)
    row_end = encode_json(figures).decode()[1:]
    return figures, f"{flaps},{row_end}", f"{figure_cells_text(figures)},{flaps}\r\n"


_TAILS: dict[bytes | tuple[int, ...] | None, Tails] = {}
_TAILS_MAX = 8192
_NO_COUNTERS = (0,) * (SLOT - HOUR_AT)
_PORT_NAMES = ("port_id", "wan_name", "isp", "asn", "up")
_PATH_NAMES = ("port_id", "peer_name", "peer_mac", "peer_port_id", "vpn", "up")


@functools.lru_cache(maxsize=1 << 14, typed=True)
def _port_texts(*values: Any) -> tuple[str, str]:
    """A port row's JSON opening and CSV text cells (typed: 1 and True differ)."""
    port_id, wan_name, isp, asn, up = values
    return (_names_json(_PORT_NAMES, *values),
            _row_cells(port_id, wan_name, isp, asn, None, None, None, up))  # fmt: skip


@functools.lru_cache(maxsize=1 << 14, typed=True)
def _path_texts(*values: Any) -> tuple[str, str]:
    """A peer path row's JSON opening and CSV text cells (typed, like _port_texts)."""
    port_id, peer_name, _mac, peer_port_id, vpn, up = values
    return (_names_json(_PATH_NAMES, *values),
            _row_cells(port_id, None, None, None, peer_name, peer_port_id, vpn, up))  # fmt: skip


def _names_json(names: tuple[str, ...], *values: Any) -> str:
    """A row's opening up to its flaps_total's value."""
    for value in values:
        if value is not None and type(value) not in (str, int, float, bool):
            raise TypeError("not a JSON scalar")
    opened = encode_json({**dict(zip(names, values, strict=True)), "flaps_total": 0})
    return opened[:-2].decode()  # without the 0 and the closing brace


@functools.lru_cache(maxsize=1 << 14, typed=True)
def _scalars(gateway_id: Any, gateway_name: Any, site_name: Any) -> str:
    """A part's opening up to its ports (typed, like _port_texts)."""
    for value in (gateway_id, gateway_name, site_name):
        if value is not None and type(value) not in (str, int, float, bool):
            raise TypeError("not a JSON scalar")
    document = {"gateway_id": gateway_id, "gateway_name": gateway_name, "site_name": site_name}
    return encode_json(document)[:-1].decode()
