"""Pre-encoded JSON for the heaviest answers: `stats/devices` and port-search pages.

Most of a gateway's stats object never changes, so its JSON is encoded once (and again
only when the gateway's `modified_time` moves); a request only formats the moving numbers
(uptime, last_seen, link state and counters). The output parses to exactly what
`render.device_stats` returns, which a test checks for every kind of gateway.
"""

from __future__ import annotations

import functools
import json

from mistsim import dynamics, render
from mistsim.model import Gateway, Org, Port

_dump = functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)


class RawJson(str):
    """Text that is already JSON: the API sends it as is."""

    __slots__ = ()


_Static = tuple[float, str, list[tuple[Port, str, str, bool]]]


class DeviceStatsJson:
    """Encodes gateway stats items from cached static fragments plus live numbers."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self._static: dict[str, _Static] = {}

    def supports(self, gateway: Gateway, fields: set[str]) -> bool:
        """The fast path covers the default answer; `fields=` and sparse stats take the slow one."""
        return not fields and not gateway.sparse

    def _fragments(self, gateway: Gateway) -> _Static:
        cached = self._static.get(gateway.mac)
        if cached is not None and cached[0] == gateway.modified_time:
            return cached
        head = _dump(render.device_static(self.org, gateway))[:-1]
        ports = [
            (
                port,
                _dump(port.logical),
                _dump(render._if_static(port, False))[:-1],
                port.node == "node1",
            )
            for port in gateway.ports
        ]
        fresh = (gateway.modified_time, head, ports)
        self._static[gateway.mac] = fresh
        return fresh

    def forget(self, gateway: Gateway) -> None:
        """Drop a gateway's cached head (its status changed without a config change)."""
        self._static.pop(gateway.mac, None)

    def encode(self, gateway: Gateway, t: float, reboots: dict[str, float]) -> str:
        _, head, ports = self._fragments(gateway)
        t_eff = dynamics.effective_time(gateway, t)
        boot = dynamics.boot_time(gateway, t_eff, reboots)
        uptime = int(t_eff - boot) if gateway.connected else 0
        node0: list[str] = []
        node1: list[str] = []
        for port, key, fragment, on_node1 in ports:
            rx, tx, rx_pkts, tx_pkts = dynamics.port_counters(port, t_eff, boot)
            up = "true" if dynamics.link_up(port, t_eff) else "false"
            (node1 if on_node1 else node0).append(
                f'{key}:{fragment},"up":{up},"rx_bytes":{rx},"tx_bytes":{tx},'
                f'"rx_pkts":{rx_pkts},"tx_pkts":{tx_pkts}}}'
            )
        parts = [
            head,
            f',"uptime":{uptime},"last_seen":{round(t_eff, 1)!r},"if_stat":{{',
            ",".join(node0),
            "}",
        ]
        if gateway.is_ha:
            parts += [',"if2_stat":{', ",".join(node1), "}"]
        parts.append("}")
        return "".join(parts)


class PortStatsJson:
    """Encodes port-search results from a cached static fragment plus live numbers."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self._static: dict[int, str] = {}

    def encode(self, gateway: Gateway, port: Port, t: float, boot: float) -> str:
        fragment = self._static.get(id(port))
        if fragment is None:
            fragment = _dump(render.port_static(self.org, gateway, port, True))[:-1]
            self._static[id(port)] = fragment
        now = render.port_now(gateway, port, t, boot)
        up = "true" if now.up else "false"
        return (
            f'{fragment},"up":{up},"active":{up},"speed":{now.speed},'
            f'"rx_bps":{now.rx_bps},"tx_bps":{now.tx_bps},"rx_bytes":{now.rx_bytes},'
            f'"tx_bytes":{now.tx_bytes},"rx_pkts":{now.rx_pkts},"tx_pkts":{now.tx_pkts},'
            f'"latency":{now.latency!r},"jitter":{now.jitter!r},"loss":{now.loss!r},'
            f'"last_flapped":{now.last_flapped!r}}}'
        )
