"""The availability documents: per circuit, per gateway and per ISP, as JSON and CSV rows.

Pure: a refresh's `Catalogue` (names, ISP, quality now) and its `Accumulator` (the running
sums) in, plain dicts and CSV rows out (DATA.md §3.9). Only circuits of this snapshot are
listed; a circuit that left the org keeps its sums in the state until they roll off.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

from sla.accumulator import (
    FLAPS_EVER,
    HOUR_AT,
    SLOT,
    WIDTH,
    WINDOWS,
    Accumulator,
    availability,
)
from sla.circuits import Catalogue, PathInfo, PortInfo
from store.codec import excel_safe

WORST_SHOWN = 5  # worst circuits listed per ISP (only those down or flapping in 30 d)
UNKNOWN_ISP = "Unknown ISP"
WINDOW_FIELDS = ("availability", "observed_s", "down_s", "degraded_s", "flaps")
"""Each circuit's figures: one list per field, one value per window (WINDOWS' order)."""
_NOTHING = [0] * WIDTH
_NO_COUNTERS = tuple(_NOTHING[HOUR_AT:SLOT])


def figures(record: Sequence[int] | None) -> dict[str, list[Any]]:
    """A record's WINDOW_FIELDS (a circuit first seen this refresh: nothing yet). Shared,
    not to be changed: circuits counted alike (most of an org) share one."""
    return _figures(tuple((record or _NOTHING)[HOUR_AT:SLOT]))


@functools.lru_cache(maxsize=4096)
def _figures(counters: tuple[int, ...]) -> dict[str, list[Any]]:
    """`figures` of the counters from HOUR_AT up to SLOT."""
    h0, h1, h2, h3, d0, d1, d2, d3, a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3 = counters
    observed = [h0 + a0, d0 + b0, d0 + c0]
    down = [h1 + a1, d1 + b1, d1 + c1]
    return {
        "availability": [availability(o, d) for o, d in zip(observed, down, strict=True)],
        "observed_s": observed,
        "down_s": down,
        "degraded_s": [h2 + a2, d2 + b2, d2 + c2],
        "flaps": [h3 + a3, d3 + b3, d3 + c3],
    }


def ratios(record: Sequence[int] | None) -> dict[str, float | None]:
    """A record's up ratio over 24h and 7d (6 decimals; None: nothing observed), as the
    metrics show it. Shared like `figures`."""
    return _ratios(tuple((record or _NOTHING)[HOUR_AT:SLOT]))


@functools.lru_cache(maxsize=4096)
def _ratios(counters: tuple[int, ...]) -> dict[str, float | None]:
    found = _figures(counters)
    shown = zip(("24h", "7d"), found["observed_s"], found["down_s"], strict=False)  # not 30d
    return {
        window: round((observed - down) / observed, 6) if observed > 0 else None
        for window, observed, down in shown
    }


def port_row(info: PortInfo, record: Sequence[int] | None) -> dict[str, Any]:
    return {
        "port_id": info.port_id,
        "wan_name": info.wan_name,
        "isp": info.isp,
        "asn": info.asn,
        "up": info.up,
        "flaps_total": record[FLAPS_EVER] if record else 0,
        **figures(record),
    }


def path_row(info: PathInfo, record: Sequence[int] | None) -> dict[str, Any]:
    return {
        "port_id": info.port_id,
        "peer_name": info.peer_name,
        "peer_mac": info.peer_mac,
        "peer_port_id": info.peer_port_id,
        "vpn": info.vpn,
        "up": info.up,
        "flaps_total": record[FLAPS_EVER] if record else 0,
        **figures(record),
    }


def head(found: Catalogue) -> dict[str, Any]:
    """What the availability document starts with."""
    return {
        "generated_at": found.generated_at,
        "windows": list(WINDOWS),
        "observed_only": True,  # time not observed counts neither up nor down
    }


def by_gateway(
    found: Catalogue, acc: Accumulator, kept: dict[str, Mapping[str, Any]] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(gateway id, its ports' and paths' availability) for each gateway, in the
    snapshot's order (gateways with ports first), built one at a time as they are asked
    for (only the keys are grouped first: at 10,000 gateways all the parts at once weighed
    ~60 MB); each port's figures also into `kept` (by key) when given, for the ISPs."""
    for gateway_id, port_keys, path_keys in _grouped(found):
        yield gateway_id, _part(found, acc, port_keys, path_keys, kept)


def _grouped(found: Catalogue) -> Iterator[tuple[str, list[str], list[str]]]:
    """(gateway id, its ports' keys, its paths' keys), gateways with ports first."""
    ports: dict[str, list[str]] = {}
    for key, port in found.ports.items():
        ports.setdefault(port.gateway_id, []).append(key)
    paths: dict[str, list[str]] = {}
    for key, path in found.paths.items():
        paths.setdefault(path.gateway_id, []).append(key)
    for gateway_id in chain(ports, (g for g in paths if g not in ports)):
        yield gateway_id, ports.get(gateway_id, []), paths.get(gateway_id, [])


def _part(
    found: Catalogue,
    acc: Accumulator,
    port_keys: list[str],
    path_keys: list[str],
    kept: dict[str, Mapping[str, Any]] | None,
) -> dict[str, Any]:
    circuits = acc.circuits
    first = found.ports[port_keys[0]] if port_keys else found.paths[path_keys[0]]
    entry = _gateway_part(first)
    for key in port_keys:
        record = circuits.get(key)
        entry["ports"].append(port_row(found.ports[key], record))
        if kept is not None:
            kept[key] = figures(record)
    entry["paths"] = [path_row(found.paths[key], circuits.get(key)) for key in path_keys]
    return entry


def _gateway_part(info: PortInfo | PathInfo) -> dict[str, Any]:
    return {
        "gateway_id": info.gateway_id,
        "gateway_name": info.gateway_name,
        "site_name": info.site_name,
        "ports": [],
        "paths": [],
    }


# ---------------------------------------------------------------- ISPs


def isp_name(info: PortInfo) -> str:
    """The ISP a port counts under: its name, else its ASN, else unknown."""
    return (
        info.isp
        or (f"AS{info.asn}" if info.asn and info.asn.isdigit() else info.asn)
        or (UNKNOWN_ISP)
    )


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (p95: share 0.95) of `values`, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    return {"mean": _mean(values), "p95": percentile(values, 0.95)}


Port = tuple[PortInfo, Mapping[str, Any]]  # a port and its figures (port_row's or figures')


def _window_sums(ports: list[Port]) -> tuple[list[int], list[int], list[int], list[int]]:
    """Observed, down, degraded and flaps per window, summed over an ISP's circuits."""
    count = len(WINDOWS)
    observed, down, slow, flaps = ([0] * count for _ in range(4))
    alike: dict[int, tuple[Mapping[str, Any], int]] = {}  # figures are shared: sum once each
    for _info, row in ports:
        seen = alike.get(id(row))
        alike[id(row)] = (row, seen[1] + 1 if seen else 1)
    for row, times in alike.values():
        for index in range(count):
            observed[index] += times * row["observed_s"][index]
            down[index] += times * row["down_s"][index]
            slow[index] += times * row["degraded_s"][index]
            flaps[index] += times * row["flaps"][index]
    return observed, down, slow, flaps


def _quality(ports: list[Port]) -> dict[str, Any]:
    """Mean and p95 latency, jitter and loss, and mean MOS, over the circuits that are up."""
    live = [info for info, _ in ports if info.up]

    def known(field: str) -> list[float]:
        return [value for value in (getattr(i, field) for i in live) if value is not None]

    return {
        "latency": _spread(known("latency")),
        "jitter": _spread(known("jitter")),
        "loss": _spread(known("loss")),
        "mos": {"mean": _mean(known("mos"))},
    }


def _isp(name: str, ports: list[Port]) -> dict[str, Any]:
    """One ISP's figures over its circuits (availability weighted by observed time)."""
    observed, down, slow, flaps = _window_sums(ports)
    last = len(WINDOWS) - 1  # the 30 d window
    hurt = [p for p in ports if p[1]["down_s"][last] or p[1]["flaps"][last]]  # not spotless
    worst = sorted(hurt, key=lambda item: (_order(item[1]["availability"][last]),
                                           -item[1]["flaps"][last]))[:WORST_SHOWN]  # fmt: skip
    return {
        "isp": name,
        "asns": sorted({i.asn for i, _ in ports if i.asn}),
        "circuits": len(ports),
        "up": sum(1 for i, _ in ports if i.up),
        "availability": {w: availability(observed[n], down[n]) for n, w in enumerate(WINDOWS)},
        "down_s": dict(zip(WINDOWS, down, strict=True)),
        "degraded_s": dict(zip(WINDOWS, slow, strict=True)),
        "flaps": dict(zip(WINDOWS, flaps, strict=True)),
        **_quality(ports),
        "worst": [_worst_row(info, row) for info, row in worst],
    }


def _order(found: float | None) -> float:
    """For ordering: a circuit never observed sorts after every observed one."""
    return 101.0 if found is None else found


def _worst_row(info: PortInfo, row: Mapping[str, Any]) -> dict[str, Any]:
    last = len(WINDOWS) - 1
    return {
        "gateway_id": info.gateway_id,
        "gateway_name": info.gateway_name,
        "site_name": info.site_name,
        "port_id": info.port_id,
        "wan_name": info.wan_name,
        "availability_30d": row["availability"][last],
        "flaps_30d": row["flaps"][last],
        "down_s_30d": row["down_s"][last],
    }


def _rank_key(isp: Mapping[str, Any]) -> tuple[float, float, float, str]:
    """Best first: 30 d availability, then 7 d, then the lower mean loss."""
    a30, a7 = isp["availability"]["30d"], isp["availability"]["7d"]
    loss = isp["loss"]["mean"]
    return (
        -(a30 if a30 is not None else -1.0),
        -(a7 if a7 is not None else -1.0),
        loss if loss is not None else math.inf,
        isp["isp"].casefold(),
    )


def isps_document(
    found: Catalogue, acc: Accumulator, rows: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """Every ISP, ranked by availability and then quality (`rows`: the ports' figures by
    key, when by_gateway already made them)."""
    grouped: dict[str, list[Port]] = {}
    for key, info in found.ports.items():
        row = rows.get(key) if rows is not None else None
        if row is None:
            row = figures(acc.circuits.get(key))
        grouped.setdefault(isp_name(info), []).append((info, row))
    isps = sorted((_isp(name, ports) for name, ports in grouped.items()), key=_rank_key)
    for rank, isp in enumerate(isps, 1):
        isp["rank"] = rank
    return {**head(found), "isps": isps}


# ---------------------------------------------------------------- CSV

AVAILABILITY_CSV_COLUMNS = (
    "kind", "gateway_name", "gateway_id", "site_name", "port_id", "wan_name", "isp", "asn",
    "peer_name", "peer_port_id", "vpn", "up",
    *(f"{name}_{window}" for window in WINDOWS for name in WINDOW_FIELDS),
    "flaps_total",
)  # fmt: skip


_CSV_FIGURES = [(name, index) for index in range(len(WINDOWS)) for name in WINDOW_FIELDS]


def _same(value: Any) -> Any:
    return value


def availability_csv_rows(
    parts: Iterable[Mapping[str, Any]], safe: Callable[[Any], Any] = _same
) -> Iterator[list[Any]]:
    """One row per WAN port, then per peer path, of each gateway part (by_gateway); `safe`
    turns each text cell (Mist's names, the up flag) into what the CSV holds."""
    for part in parts:
        head = [safe(part["gateway_name"]), safe(part["gateway_id"]), safe(part["site_name"])]
        for kind, rows in (("port", part["ports"]), ("path", part["paths"])):
            for row in rows:
                get = row.get
                yield [
                    kind, *head, safe(row["port_id"]), safe(get("wan_name")),
                    safe(get("isp")), safe(get("asn")), safe(get("peer_name")),
                    safe(get("peer_port_id")), safe(get("vpn")), safe(row["up"]),
                    *[row[name][index] for name, index in _CSV_FIGURES],
                    row["flaps_total"],
                ]  # fmt: skip


def availability_csv_text(part: Mapping[str, Any]) -> str:
    """availability_csv_rows' rows of one gateway part as csv.writer writes them (its
    minimal quoting, CRLF) with Excel-safe text cells: the same bytes, built from cached
    cells (names and figures repeat row after row) instead of 31 cells written one by one."""
    names = ("gateway_name", "gateway_id", "site_name")
    head = ",".join([_text_cell(part[name]) for name in names])
    lines = []
    for kind, rows in (("port", part["ports"]), ("path", part["paths"])):
        for row in rows:
            get = row.get
            texts = (row["port_id"], get("wan_name"), get("isp"), get("asn"),
                     get("peer_name"), get("peer_port_id"), get("vpn"), row["up"])  # fmt: skip
            lines.append(f"{kind},{head},{_row_cells(*texts)},"
                         f"{_figure_cells(row)},{row['flaps_total']}\r\n")  # fmt: skip
    return "".join(lines)


@functools.lru_cache(maxsize=1 << 14, typed=True)
def _row_cells(*values: Any) -> str:
    """A row's text cells joined (ports and paths repeat them: ge-0/0/0, wan0, an ISP…);
    typed: True and 1, or 1 and 1.0, are not the same cell."""
    return ",".join(_text_cell(value) for value in values)


@functools.lru_cache(maxsize=1 << 16, typed=True)
def _text_cell(value: Any) -> str:
    """A text cell, Excel-safe and quoted as csv.writer's QUOTE_MINIMAL quotes (a comma, a
    quote or a line break inside)."""
    text = excel_safe(value)
    if any(mark in text for mark in _CSV_SPECIAL):
        return '"' + text.replace('"', '""') + '"'
    return text


_CSV_SPECIAL = (",", '"', "\r", "\n")


def _figure_cells(row: Mapping[str, Any]) -> str:
    """A row's 15 figure cells (numbers: never quoted), once per distinct figures."""
    key = id(row["availability"])  # figures are shared by circuits counted alike
    found = _FIGURE_TEXT.get(key)
    if found is None or found[0] is not row["availability"]:
        if len(_FIGURE_TEXT) >= _FIGURE_TEXT_MAX:
            _FIGURE_TEXT.clear()  # bounded: each entry holds its list (an id never reused)
        found = _FIGURE_TEXT[key] = (row["availability"], figure_cells_text(row))
    return found[1]


_FIGURE_TEXT: dict[int, tuple[Any, str]] = {}


def figure_cells_text(figures: Mapping[str, Any]) -> str:
    """The 15 figure cells of a row's (or a record's) figures, joined: numbers, never quoted,
    an empty cell for a figure not known."""
    return ",".join("" if v is None else str(v) for v in (figures[n][i] for n, i in _CSV_FIGURES))


_FIGURE_TEXT_MAX = 8192


ISP_CSV_COLUMNS = (
    "rank", "isp", "asns", "circuits", "up",
    *(f"availability_{w}" for w in WINDOWS), *(f"flaps_{w}" for w in WINDOWS),
    "down_s_30d", "degraded_s_30d", "latency_mean", "latency_p95", "jitter_mean",
    "jitter_p95", "loss_mean", "loss_p95", "mos_mean", "worst_circuits",
)  # fmt: skip


def isp_csv_rows(document: Mapping[str, Any]) -> Iterator[list[Any]]:
    for isp in document["isps"]:
        worst = "; ".join(
            f"{w['gateway_name'] or w['gateway_id']} {w['port_id']} ({w['availability_30d']}%)"
            for w in isp["worst"]
        )
        yield [
            isp["rank"], isp["isp"], " ".join(isp["asns"]), isp["circuits"], isp["up"],
            *(isp["availability"][w] for w in WINDOWS), *(isp["flaps"][w] for w in WINDOWS),
            isp["down_s"]["30d"], isp["degraded_s"]["30d"],
            isp["latency"]["mean"], isp["latency"]["p95"], isp["jitter"]["mean"],
            isp["jitter"]["p95"], isp["loss"]["mean"], isp["loss"]["p95"],
            isp["mos"]["mean"], worst,
        ]  # fmt: skip
