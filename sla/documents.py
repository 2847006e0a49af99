"""The availability documents: per circuit, per gateway and per ISP, as JSON and CSV rows.

Pure: a refresh's `Catalogue` (names, ISP, quality now) and its `Accumulator` (the running
sums) in, plain dicts and CSV rows out (DATA.md §3.9). Only circuits of this snapshot are
listed; a circuit that left the org keeps its sums in the state until they roll off.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

WORST_SHOWN = 5  # worst circuits listed per ISP (only those down or flapping in 30 d)
UNKNOWN_ISP = "Unknown ISP"
WINDOW_FIELDS = ("availability", "observed_s", "down_s", "degraded_s", "flaps")
"""Each circuit's figures: one list per field, one value per window (WINDOWS' order)."""
_NOTHING = [0] * WIDTH


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
    found: Catalogue, acc: Accumulator, kept: dict[str, dict[str, Any]] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(gateway id, its ports' and paths' availability) for each gateway, in the
    snapshot's order; each port's row also into `kept` (by key) when given."""
    gateways: dict[str, dict[str, Any]] = {}
    circuits = acc.circuits
    for key, port in found.ports.items():
        entry = gateways.get(port.gateway_id)
        if entry is None:
            entry = gateways[port.gateway_id] = _gateway_part(port)
        row = port_row(port, circuits.get(key))
        entry["ports"].append(row)
        if kept is not None:
            kept[key] = row
    for key, path in found.paths.items():
        entry = gateways.get(path.gateway_id)
        if entry is None:
            entry = gateways[path.gateway_id] = _gateway_part(path)
        entry["paths"].append(path_row(path, circuits.get(key)))
    yield from gateways.items()


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


Port = tuple[PortInfo, Mapping[str, Any]]  # a port and its row (port_row)


def _window_sums(ports: list[Port]) -> tuple[list[int], list[int], list[int], list[int]]:
    """Observed, down, degraded and flaps per window, summed over an ISP's circuits."""
    count = len(WINDOWS)
    observed, down, slow, flaps = ([0] * count for _ in range(4))
    for _info, row in ports:
        for index in range(count):
            observed[index] += row["observed_s"][index]
            down[index] += row["down_s"][index]
            slow[index] += row["degraded_s"][index]
            flaps[index] += row["flaps"][index]
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
    """Every ISP, ranked by availability and then quality (`rows`: the ports' rows by key,
    when by_gateway already made them)."""
    grouped: dict[str, list[Port]] = {}
    for key, info in found.ports.items():
        row = rows.get(key) if rows is not None else None
        if row is None:
            row = port_row(info, acc.circuits.get(key))
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
