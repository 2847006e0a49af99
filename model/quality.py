"""Peer path quality: the colour bands, the `degraded` line and a port's averages.

THRESHOLDS is the one source of the bands: the page colours by them (they travel in the
payload head) and the middle value of each is where a path counts as degraded.
"""

from __future__ import annotations

from typing import NamedTuple

from model.items import PeerPath

THRESHOLDS: dict[str, list[float]] = {
    "latency": [50, 100, 150],
    "jitter": [10, 30, 50],
    "loss": [0.1, 0.5, 1],
    "mos": [4, 3.6],
}
"""Colour bands for the page; the middle value of each is the `degraded` line (DATA.md §3.1)."""


def degraded_causes() -> list[str]:
    """Every cause `is_degraded` counts, in words from THRESHOLDS (the summary card names
    them all): "latency ≥ 100 ms", "jitter ≥ 30 ms", "loss ≥ 0.5 %", "MOS < 3.6"."""
    line = {name: f"{bands[1]:g}" for name, bands in THRESHOLDS.items()}
    return [
        f"latency ≥ {line['latency']} ms",
        f"jitter ≥ {line['jitter']} ms",
        f"loss ≥ {line['loss']} %",
        f"MOS < {line['mos']}",
    ]


def is_degraded(path: PeerPath) -> bool:
    """An up peer path past any middle threshold (DATA.md §3.1)."""
    if path.up is not True:
        return False
    latency, jitter, loss, mos = path.latency, path.jitter, path.loss, path.mos
    return (
        (latency is not None and latency >= THRESHOLDS["latency"][1])
        or (jitter is not None and jitter >= THRESHOLDS["jitter"][1])
        or (loss is not None and loss >= THRESHOLDS["loss"][1])
        or (mos is not None and mos < THRESHOLDS["mos"][1])
    )


class Quality(NamedTuple):
    """A WAN port's averages over its up peer paths, and whether any of them is degraded."""

    latency: float | None
    jitter: float | None
    loss: float | None
    mos: float | None
    degraded: bool


def _average(values: list[float | int]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None  # no float noise


def port_quality(up_paths: list[PeerPath]) -> Quality:
    """Average latency/jitter/loss/MOS over a port's up peer paths (each over the paths that
    report it), and whether any is degraded."""
    return Quality(
        _average([path.latency for path in up_paths if path.latency is not None]),
        _average([path.jitter for path in up_paths if path.jitter is not None]),
        _average([path.loss for path in up_paths if path.loss is not None]),
        _average([path.mos for path in up_paths if path.mos is not None]),
        any(is_degraded(path) for path in up_paths),
    )


WORST_METRICS = ("loss", "latency", "jitter", "mos")
"""The order a tie between two metrics of one path is broken in (loss hurts most)."""

MOS_BEST = 4.5
"""The best MOS a call can get (the E-model's ceiling): MOS counts down from here."""


def badness(path: PeerPath) -> tuple[float, str] | None:
    """How bad a path is and by which metric: each metric against its degraded line
    (latency/jitter/loss value ÷ line; MOS by its distance below MOS_BEST, ÷ the line's), the
    largest wins; 1.0 is on the line. None when the path reports no metric."""
    lines = {name: THRESHOLDS[name][1] for name in WORST_METRICS}
    ratios: list[tuple[float, int, str]] = []
    for rank, name in enumerate(WORST_METRICS):
        value = getattr(path, name)
        if value is None:
            continue
        if name == "mos":
            ratio = max(0.0, MOS_BEST - value) / (MOS_BEST - lines[name])
        else:
            ratio = max(0.0, value) / lines[name]
        ratios.append((round(ratio, 3), -rank, name))
    if not ratios:
        return None
    score, _, metric = max(ratios)
    return score, metric


def worst_path(up_paths: list[PeerPath]) -> dict | None:
    """The DATA.md §3.1 `worst` of a WAN port: its up path that is worst by `badness`, with
    its own figures (what an average would hide); None when no up path reports quality."""
    worst: tuple[float, str, PeerPath] | None = None
    for path in up_paths:
        bad = badness(path)
        if bad is not None and (worst is None or bad[0] > worst[0]):
            worst = (bad[0], bad[1], path)
    if worst is None:
        return None
    score, metric, path = worst
    return {
        "peer": path.peer_router_name,
        "peer_port": path.peer_port_id,
        "metric": metric,
        "score": score,
        "latency": path.latency,
        "jitter": path.jitter,
        "loss": path.loss,
        "mos": path.mos,
    }
