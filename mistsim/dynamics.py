"""Everything that moves with simulated time, as closed-form functions of `t`.

No per-request state: a value at time `t` is computed from the static records, so
counters are exact integrals of the rates (bytes = ∫ bps dt / 8), time-series buckets are
averages of the same rates, and advancing the clock or rebooting a gateway stays consistent.
"""

from __future__ import annotations

import math

from mistsim.model import Gateway, PeerPath, Port

DAY = 86400.0
DIURNAL = 2 * math.pi / DAY  # traffic follows the working day
WAVE = 2 * math.pi / 5400.0  # plus a 90-minute wave so short windows differ
DIURNAL_AMPLITUDE = 0.5
WAVE_AMPLITUDE = 0.15
RX_PACKET_BYTES = 900
TX_PACKET_BYTES = 450
PORT_UP_DELAY = 40.0  # a port comes up this long after the gateway boots


def noise(key: int, step: int) -> float:
    """A deterministic pseudo-random number in [0, 1) for (key, step) (splitmix64)."""
    z = (key * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return ((z ^ (z >> 31)) & 0xFFFFFFFFFFFF) / float(1 << 48)


def boot_time(gateway: Gateway, t: float, reboots: dict[str, float]) -> float:
    """When the gateway last booted at or before `t`: its own schedule or an admin reboot."""
    period, offset = gateway.reboot_period, gateway.reboot_offset
    scheduled = math.floor((t - offset) / period) * period + offset
    forced = reboots.get(gateway.mac)
    if forced is not None and scheduled < forced <= t:
        return forced
    return scheduled


def effective_time(gateway: Gateway, t: float) -> float:
    """A disconnected gateway's stats are frozen at its `last_seen`."""
    return t if gateway.connected else min(t, gateway.disconnected_at)


def _shape_integral(port: Port, t: float) -> float:
    """∫ (1 + a·sin(ωt+φ) + b·sin(ω₂t+φ)) dt, unscaled."""
    return (
        t
        - DIURNAL_AMPLITUDE / DIURNAL * math.cos(DIURNAL * t + port.phase)
        - WAVE_AMPLITUDE / WAVE * math.cos(WAVE * t + port.phase)
    )


def _flap_uptime(port: Port, t: float) -> float:
    """Seconds the flapping port was up in [offset, t]; each period starts with its outage."""
    x = t - port.flap_offset
    periods = math.floor(x / port.flap_period)
    within = x - periods * port.flap_period
    return periods * (port.flap_period - port.flap_down) + max(0.0, within - port.flap_down)


def link_up(port: Port, t: float) -> bool:
    if port.link == "down":
        return t < port.down_since
    if port.link == "flap":
        within = (t - port.flap_offset) % port.flap_period
        return within >= port.flap_down
    return True


def last_flapped(port: Port, t: float, boot: float) -> float:
    """The last link transition at or before `t`."""
    if port.link == "down":
        return max(port.down_since, boot) if t >= port.down_since else boot + PORT_UP_DELAY
    if port.link == "flap":
        start = t - (t - port.flap_offset) % port.flap_period
        edge = start + port.flap_down if t >= start + port.flap_down else start
        return max(edge, boot + PORT_UP_DELAY)
    return boot + PORT_UP_DELAY


def _volume(port: Port, t: float, base: float) -> float:
    """Bits sent up to `t` since an arbitrary origin (differences are what matter)."""
    if port.link == "flap":
        return base * _flap_uptime(port, t)
    if port.link == "down":
        t = min(t, port.down_since)
    return base * _shape_integral(port, t)


def bits_between(port: Port, start: float, end: float, rx: bool) -> float:
    base = port.rx_base if rx else port.tx_base
    return _volume(port, end, base) - _volume(port, start, base)


def rate(port: Port, start: float, end: float, rx: bool) -> float:
    """Average bits per second over [start, end]."""
    if end <= start:
        return 0.0
    return bits_between(port, start, end, rx) / (end - start)


def port_counters(port: Port, t: float, boot: float) -> tuple[int, int, int, int]:
    """(rx_bytes, tx_bytes, rx_pkts, tx_pkts) since boot (plus a leap the admin asked for,
    until the gateway reboots)."""
    if port.boot_at != boot:  # the volume at boot only changes when the gateway reboots
        port.rx_at_boot = _volume(port, boot, port.rx_base)
        port.tx_at_boot = _volume(port, boot, port.tx_base)
        port.boot_at = boot
    if t <= boot:
        return 0, 0, 0, 0
    rx = int((_volume(port, t, port.rx_base) - port.rx_at_boot) / 8)
    tx = int((_volume(port, t, port.tx_base) - port.tx_at_boot) / 8)
    if port.leap_at is not None and boot < port.leap_at <= t:  # the admin `leap` fault
        rx, tx = rx + port.leap_bytes, tx + port.leap_bytes
    return rx, tx, rx // RX_PACKET_BYTES, tx // TX_PACKET_BYTES


def current_bps(port: Port, t: float) -> tuple[int, int]:
    """`rx_bps`/`tx_bps`: the average over the last minute, 0 when the link is down."""
    if not link_up(port, t):
        return 0, 0
    return int(rate(port, t - 60, t, True)), int(rate(port, t - 60, t, False))


def probe(port: Port, t: float) -> tuple[float, float, float]:
    """The port's own WAN probe: (latency ms, jitter ms, loss %)."""
    if port.usage != "wan" or not link_up(port, t):
        return 0.0, 0.0, 0.0
    step = int(t // 60)
    latency = port.latency * (1 + 0.2 * math.sin(t / 1800 + port.phase)) + noise(port.key, step)
    jitter = port.jitter * (0.8 + 0.4 * noise(port.key + 1, step))
    loss = port.loss * (0.5 + noise(port.key + 2, step)) if port.loss else 0.0
    return round(latency, 1), round(jitter, 1), round(loss, 2)


def mos(latency: float, jitter: float, loss: float) -> float:
    """Mean opinion score from the simplified ITU-T G.107 E-model."""
    effective = latency + 2 * jitter + 10
    r = 93.2 - (effective / 40 if effective < 160 else (effective - 120) / 10) - 2.5 * loss
    r = max(0.0, min(100.0, r))
    return round(max(1.0, min(4.5, 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r))), 2)


def path_quality(path: PeerPath, t: float) -> tuple[float, float, float, float]:
    """(latency, jitter, loss, mos) of an up path; they drift with time."""
    step = int(t // 60)
    drift = math.sin(t / 2700 + (path.key % 628) / 100)
    latency = max(0.5, path.latency * (1 + 0.15 * drift) + 2 * noise(path.key, step))
    jitter = max(0.0, path.jitter * (0.7 + 0.6 * noise(path.key + 1, step)))
    loss = path.loss * (0.5 + noise(path.key + 2, step)) if path.loss else 0.0
    if noise(path.key + 3, step) < 0.01:  # rare bursts of loss
        loss += 1.0
    loss = min(100.0, loss)
    return round(latency, 1), round(jitter, 2), round(loss, 2), mos(latency, jitter, loss)
