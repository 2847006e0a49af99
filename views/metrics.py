"""The Prometheus exposition of a snapshot: metric families, their HELP/TYPE and samples.

The worker renders it once per refresh (refresh/writer.py) and the web serves the stored
bytes, so a scrape costs what any other dataset costs. Values are in base units (seconds,
bits per second, bytes, ratios); names from Mist are label values, escaped exactly as the
text format asks (backslash, double quote, newline) and otherwise kept as they are, any
Unicode included. The same samples serve the text format 0.0.4 and OpenMetrics 1.0: only
a counter's TYPE line and OpenMetrics' closing `# EOF` differ (store/exposition.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from model.items import PeerPath
from model.sle import SLE_NAMES
from model.snapshot import Circuit, Gateway, Snapshot, WanPort
from store.exposition import Family, Rendered, escape, family, number, render_labels

PEER_PATH_MODES = ("all", "summary", "off")
MBPS_IN_BYTES = 125_000  # Mist reports a port's speed in Mbit/s
MILLISECONDS = 1000.0  # Mist reports latency and jitter in ms
PERCENT = 100.0  # Mist reports loss in %


def _gauge(name: str, text: str) -> Family:
    return Family(name, "gauge", text)


GATEWAY_UP = _gauge("mist_gateway_up", "1 when Mist sees the gateway connected, else 0.")
GATEWAY_UPTIME = _gauge("mist_gateway_uptime_seconds", "Seconds since the gateway booted.")
PORT_UP = _gauge("mist_wan_port_up", "1 when the WAN port's link is up, 0 when down.")
PORT_ENABLED = _gauge(
    "mist_wan_port_enabled", "1 when the WAN port is enabled, 0 when it is disabled."
)
PORT_SPEED = _gauge(
    "mist_wan_port_speed_bytes_per_second",
    "Negotiated link speed of the WAN port (bytes: Prometheus' base unit; x8 for bit/s).",
)
PORT_RX = Family(
    "mist_wan_port_receive_bytes", "counter", "Bytes received on the WAN port (Mist's counter)."
)
PORT_TX = Family(
    "mist_wan_port_transmit_bytes",
    "counter",
    "Bytes transmitted on the WAN port (Mist's counter).",
)
PORT_PATHS_UP = _gauge("mist_wan_port_peer_paths_up", "VPN peer paths over the WAN port up.")
PORT_PATHS = _gauge("mist_wan_port_peer_paths", "VPN peer paths over the WAN port.")
PORT_WORST_LATENCY = _gauge(
    "mist_wan_port_peer_path_max_latency_seconds", "Worst latency of the port's up peer paths."
)
PORT_WORST_JITTER = _gauge(
    "mist_wan_port_peer_path_max_jitter_seconds", "Worst jitter of the port's up peer paths."
)
PORT_WORST_LOSS = _gauge(
    "mist_wan_port_peer_path_max_loss_ratio", "Worst packet loss of the port's up peer paths."
)
PORT_WORST_MOS = _gauge(
    "mist_wan_port_peer_path_min_mos", "Lowest MOS (1-5) of the port's up peer paths."
)
PATH_UP = _gauge("mist_peer_path_up", "1 when the VPN peer path is up, else 0.")
PATH_LATENCY = _gauge("mist_peer_path_latency_seconds", "Latency of the VPN peer path.")
PATH_JITTER = _gauge("mist_peer_path_jitter_seconds", "Jitter of the VPN peer path.")
PATH_LOSS = _gauge("mist_peer_path_loss_ratio", "Packet loss of the VPN peer path (0-1).")
PATH_MOS = _gauge("mist_peer_path_mos", "Mean opinion score of the VPN peer path (1-5).")
SITE_SLE = _gauge(
    "mist_site_sle_ratio",
    "Mist's WAN SLE of the site (0-1, the last hour Mist measured, read at most hourly).",
)
REFRESH_SECONDS = _gauge(
    "mist_worker_refresh_duration_seconds", "How long the last successful refresh took."
)
INTERVAL = _gauge(
    "mist_worker_interval_seconds", "Seconds between refreshes (stale after twice this)."
)
LAST_SUCCESS = _gauge(
    "mist_worker_last_success_timestamp_seconds", "When the last successful refresh started."
)
API_CALLS = Family(
    "mist_api_calls", "counter", "Mist API calls made with the token since the worker started."
)
TOKEN_CALLS = _gauge(
    "mist_api_token_calls_this_hour", "Mist API calls made with the token this clock hour."
)
PORT_AVAILABILITY = _gauge(
    "mist_wan_port_availability_ratio",
    "Share (0-1) of the observed time the WAN port was up over the window (24h or 7d); time"
    " not observed (gateway offline, port disabled, before first seen) is not counted.",
)
PORT_FLAPS = Family(
    "mist_wan_port_flaps",
    "counter",
    "Times the WAN port went down after being up, since the worker first saw it.",
)
AVAILABILITY_WINDOWS = ("24h", "7d")
TOKEN_LIMIT = _gauge(
    "mist_api_token_calls_limit", "Mist API calls the token may make per clock hour."
)


def flag(value: bool | None) -> str | None:
    """True → 1, False → 0, unknown → no sample."""
    return None if value is None else ("1" if value else "0")


def scaled(value: float | int | None, factor: float) -> str | None:
    return None if value is None else number(value / factor)


@dataclass(frozen=True)
class _Port:
    """A WAN port with its rendered labels and what its families read."""

    labels: str
    port: WanPort
    circuit: Circuit | None
    paths: Sequence[PeerPath]


def gateway_labels(org: object, site: object, name: object, gateway_id: str) -> str:
    """A gateway's labels (and the head of its ports')."""
    return render_labels(
        (("org", org), ("site", site), ("gateway", name), ("gateway_id", gateway_id))
    )


def port_labels(head: str, port_id: str, wan_name: object, isp: object) -> str:
    """A WAN port's labels: its gateway's, then port, wan_name and isp."""
    tail = render_labels((("port", port_id), ("wan_name", wan_name)))
    return f'{head},{tail},isp="{escape(isp)}"'


def _port_rows(snapshot: Snapshot) -> tuple[list[tuple[str, Gateway]], list[_Port]]:
    """Every gateway and every WAN port with its labels, in the snapshot's order."""
    org = snapshot.org.get("name")
    site_names = {site.get("id"): site.get("name") for site in snapshot.sites}
    circuits = {(c.gateway_id, c.port_id): c for c in snapshot.circuits}
    gateways: list[tuple[str, Gateway]] = []
    ports: list[_Port] = []
    for gateway in snapshot.records:
        stat = gateway.stat
        site = site_names.get(stat.site_id)
        head = gateway_labels(org, site, stat.name, stat.id)
        gateways.append((head, gateway))
        for port in gateway.ports:
            key = (stat.id, port.port_id)
            labels = port_labels(head, port.port_id, port.wan_name, port.isp)
            paths = snapshot.port_paths.get(key, ())
            ports.append(_Port(labels, port, circuits.get(key), paths))
    return gateways, ports


def _gateway_families(gateways: list[tuple[str, Gateway]]) -> Iterator[Rendered]:
    yield family(GATEWAY_UP, ((lb, flag(g.stat.status == "connected")) for lb, g in gateways))
    yield family(GATEWAY_UPTIME, ((lb, number(g.stat.uptime)) for lb, g in gateways))


def _port_families(ports: list[_Port]) -> Iterator[Rendered]:
    yield family(PORT_UP, ((p.labels, flag(p.port.up)) for p in ports))
    yield family(PORT_ENABLED, ((p.labels, flag(p.port.enabled)) for p in ports))
    yield family(PORT_SPEED, ((p.labels, _speed(p.port.speed)) for p in ports))
    yield family(PORT_RX, ((p.labels, number(p.circuit and p.circuit.rx_bytes)) for p in ports))
    yield family(PORT_TX, ((p.labels, number(p.circuit and p.circuit.tx_bytes)) for p in ports))


def _speed(speed: float | int | None) -> str | None:
    return None if speed is None else number(round(speed * MBPS_IN_BYTES))


def _worst(paths: Sequence[PeerPath], field: str, pick: Any) -> float | int | None:
    """The worst reading of `field` over the up paths that report it (pick: max or min)."""
    values = [getattr(p, field) for p in paths if p.up is True and getattr(p, field) is not None]
    return pick(values) if values else None


def _summary_families(ports: list[_Port]) -> Iterator[Rendered]:
    """Per WAN port: paths up and in all, worst latency, jitter and loss, lowest MOS."""
    yield family(PORT_PATHS_UP, ((p.labels, str(p.port.peers_up)) for p in ports))
    yield family(PORT_PATHS, ((p.labels, str(p.port.peers_total)) for p in ports))
    worst = [
        (
            p.labels,
            _worst(p.paths, "latency", max),
            _worst(p.paths, "jitter", max),
            _worst(p.paths, "loss", max),
            _worst(p.paths, "mos", min),
        )
        for p in ports
    ]
    yield family(PORT_WORST_LATENCY, ((w[0], scaled(w[1], MILLISECONDS)) for w in worst))
    yield family(PORT_WORST_JITTER, ((w[0], scaled(w[2], MILLISECONDS)) for w in worst))
    yield family(PORT_WORST_LOSS, ((w[0], scaled(w[3], PERCENT)) for w in worst))
    yield family(PORT_WORST_MOS, ((w[0], number(w[4])) for w in worst))


def _path_rows(ports: list[_Port]) -> list[tuple[str, PeerPath]]:
    """Each peer path once per label set (a repeated one would be a duplicate series)."""
    rows: list[tuple[str, PeerPath]] = []
    for port in ports:
        seen: set[str] = set()
        for path in port.paths:
            peer = render_labels(
                (
                    ("peer_gateway", path.peer_router_name),
                    ("peer_port", path.peer_port_id),
                    ("vpn", path.type),
                )
            )
            if peer not in seen:
                seen.add(peer)
                rows.append((f"{port.labels},{peer}", path))
    return rows


def _path_families(ports: list[_Port]) -> Iterator[Rendered]:
    """Every peer path: up, and its quality while up (a down path's readings mean nothing)."""
    rows = _path_rows(ports)
    live = [(labels, path) for labels, path in rows if path.up is True]
    yield family(PATH_UP, ((labels, flag(path.up is True)) for labels, path in rows))
    yield family(PATH_LATENCY, ((lb, scaled(p.latency, MILLISECONDS)) for lb, p in live))
    yield family(PATH_JITTER, ((lb, scaled(p.jitter, MILLISECONDS)) for lb, p in live))
    yield family(PATH_LOSS, ((lb, scaled(p.loss, PERCENT)) for lb, p in live))
    yield family(PATH_MOS, ((lb, number(p.mos)) for lb, p in live))


def _sle_family(snapshot: Snapshot) -> Rendered:
    """Each site's three WAN SLEs (a site Mist gave no value for has no sample)."""
    org = snapshot.org.get("name")
    samples: list[tuple[str, str | None]] = []
    for site in snapshot.sites:
        sle = site.get("sle") or {}
        head = (("org", org), ("site", site.get("name")), ("site_id", site.get("id")))
        samples.extend(
            (render_labels((*head, ("sle", name))), number(sle.get(name))) for name in SLE_NAMES
        )
    return family(SITE_SLE, samples)


def snapshot_families(snapshot: Snapshot, peer_paths: str) -> Iterator[Rendered]:
    """The snapshot's families, one at a time; read it before the payload drains it.
    `peer_paths` (METRICS_PEER_PATHS): `summary` per WAN port, `all` adds every path."""
    if peer_paths not in PEER_PATH_MODES:
        raise ValueError(f"peer_paths must be one of {PEER_PATH_MODES}")
    gateways, ports = _port_rows(snapshot)
    yield from _gateway_families(gateways)
    yield from _port_families(ports)
    yield _sle_family(snapshot)
    if peer_paths != "off":
        yield from _summary_families(ports)
    if peer_paths == "all":
        yield from _path_families(ports)


PortFigures = tuple[str, Mapping[str, float | None], int]
"""A WAN port's labels, its availability ratio per window (None: nothing observed) and its
flaps since first seen (sla/documents builds them)."""


def availability_families(ports: Callable[[], Iterable[PortFigures]]) -> Iterator[Rendered]:
    """Availability per WAN port over 24h and 7d, and its flap counter (issue 13), from
    `ports()`, called once per family. Each family leaves in pieces of FAMILY_PIECE ports,
    the first with the family's HELP and TYPE, the others with no header (_Continued): at
    10,000 gateways neither a family's ~20 MB of lines nor the ports' 40,000 label strings
    are ever held at once (the worker's peak)."""
    seen: dict[int, tuple[Mapping[str, Any], list[tuple[str, str | None]]]] = {}
    for start, piece in enumerate(_pieces(ports())):
        kind = PORT_AVAILABILITY if start == 0 else _Continued(PORT_AVAILABILITY)
        yield family(
            kind,
            (
                (f'{labels},window="{window}"', value)
                for labels, ratios, _ in piece
                for window, value in _window_values(ratios, seen)
            ),
        )
    for start, piece in enumerate(_pieces(ports())):
        kind = PORT_FLAPS if start == 0 else _Continued(PORT_FLAPS)
        yield family(kind, ((labels, str(flaps)) for labels, _, flaps in piece))


def _pieces(ports: Iterable[PortFigures]) -> Iterator[list[PortFigures]]:
    """FAMILY_PIECE ports at a time; one empty piece when there is none (the header)."""
    piece: list[PortFigures] = []
    sent = False
    for port in ports:
        piece.append(port)
        if len(piece) == FAMILY_PIECE:
            yield piece
            piece, sent = [], True
    if piece or not sent:
        yield piece


FAMILY_PIECE = 2000  # ports rendered at a time


def _window_values(
    ratios: Mapping[str, Any],
    seen: dict[int, tuple[Mapping[str, Any], list[tuple[str, str | None]]]],
) -> list[tuple[str, str | None]]:
    """(window, sample value) of each AVAILABILITY_WINDOWS, rendered once per ratios
    (sla.documents shares one between ports counted alike: most of an org)."""
    found = seen.get(id(ratios))
    if found is None or found[0] is not ratios:
        values = [(window, number(ratios.get(window))) for window in AVAILABILITY_WINDOWS]
        found = seen[id(ratios)] = (ratios, values)
    return found[1]


class _Continued(Family):
    """More samples of the family just written: no HELP and TYPE again."""

    def __init__(self, of: Family) -> None:
        super().__init__(of.name, of.kind, of.help)

    def header(self, openmetrics: bool) -> bytes:
        return b""


def worker_families(
    status: Mapping[str, Any], call_totals: Mapping[str, int]
) -> Iterator[Rendered]:
    """The worker's own families from the status document it publishes with the snapshot
    and each token's calls so far (tokens only ever as their labels, `token 1`…)."""
    yield family(REFRESH_SECONDS, [("", number(status.get("refresh_seconds")))])
    yield family(LAST_SUCCESS, [("", number(status.get("last_update")))])
    yield family(INTERVAL, [("", number(status.get("interval")))])
    tokens = [t for t in status.get("tokens") or () if isinstance(t, Mapping)]
    yield family(API_CALLS, ((_token(label), str(n)) for label, n in call_totals.items()))
    hourly = [(_token(t.get("label")), t.get("calls_this_hour"), t.get("limit")) for t in tokens]
    yield family(TOKEN_CALLS, ((labels, number(calls)) for labels, calls, _ in hourly))
    yield family(TOKEN_LIMIT, ((labels, number(limit)) for labels, _, limit in hourly))


def _token(label: object) -> str:
    return render_labels((("token", label),))
