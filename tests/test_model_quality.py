"""model/quality.py: a WAN port's averages over its up peer paths and the degraded line."""

from __future__ import annotations

from typing import Any

import pytest

from model.items import peer_path
from model.quality import MOS_BEST, THRESHOLDS, badness, is_degraded, port_quality, worst_path
from tests.fixtures.snapshots import build, gateways_of, path, stat, wan


def test_the_degraded_line_is_the_middle_threshold_of_each_band():
    def degraded(**quality: Any) -> bool:
        compact = peer_path(path("aa", "ge-0/0/0", **quality))
        assert compact is not None
        return is_degraded(compact)

    for name in ("latency", "jitter", "loss"):
        line = THRESHOLDS[name][1]
        assert degraded(**{name: line}) and not degraded(**{name: line * 0.99}), name
    assert degraded(mos=THRESHOLDS["mos"][1] - 0.01) and not degraded(mos=THRESHOLDS["mos"][1])
    assert not degraded(up=False, latency=10_000)  # a down path is down, not degraded
    assert not degraded(up="true", latency=10_000)  # only a real true is up


def test_port_quality_of_no_paths_is_unknown_and_not_degraded():
    assert port_quality([]) == (None, None, None, None, False)


def test_port_quality_averages_only_up_paths_and_degrades_at_the_middle_threshold():
    def port_with(*paths: dict) -> dict:
        snapshot = build([stat("ff", {"ge-0/0/0.0": wan("ge-0/0/0")})], peer_paths=list(paths))
        return gateways_of(snapshot)[0]["ports"][0]

    healthy = port_with(
        path("ff", "ge-0/0/0", latency=10, jitter=1, loss=0, mos=4.4),
        path("ff", "ge-0/0/0", latency=30, jitter=3, loss=0.2, mos=4.2),
        path("ff", "ge-0/0/0", up=False, latency=900, jitter=90, loss=100, mos=1),  # down: ignored
    )
    assert (healthy["latency"], healthy["jitter"], healthy["loss"]) == (20, 2, 0.1)
    assert healthy["mos"] == pytest.approx(4.3)
    assert (healthy["peers_up"], healthy["peers_total"], healthy["degraded"]) == (2, 3, False)

    for bad in ({"latency": 100}, {"jitter": 30}, {"loss": 0.5}, {"mos": 3.59}):
        assert port_with(path("ff", "ge-0/0/0", **bad))["degraded"] is True, bad
    for fine in (
        {"latency": 99.9},
        {"jitter": 29.9},
        {"loss": 0.49},
        {"mos": 3.6},
        {"latency": None},
    ):
        assert port_with(path("ff", "ge-0/0/0", **fine))["degraded"] is False, fine

    only_down = port_with(path("ff", "ge-0/0/0", up=False, latency=1))
    assert (only_down["latency"], only_down["mos"], only_down["degraded"]) == (None, None, False)
    noisy = port_with(path("ff", "ge-0/0/0", loss=0.1), path("ff", "ge-0/0/0", loss=0.2))
    assert noisy["loss"] == 0.15  # not 0.15000000000000002
    partial = port_with(
        path("ff", "ge-0/0/0", latency=10), path("ff", "ge-0/0/0", latency=None, mos=4)
    )
    assert (partial["latency"], partial["mos"]) == (10, 4)


def test_the_worst_path_is_the_one_furthest_past_its_degraded_line_with_its_own_figures():
    def compact(**quality: Any) -> Any:
        found = peer_path(path("aa", "ge-0/0/0", **quality))
        assert found is not None
        return found

    fine = compact(latency=40, jitter=2, loss=0, mos=4.4)
    lossy = compact(latency=20, jitter=1, loss=1.0, mos=4.3)
    assert badness(fine) == (0.4, "latency")
    assert badness(lossy) == (2.0, "loss")
    assert badness(compact(latency=None, jitter=None, loss=None, mos=None)) is None
    assert badness(compact(mos=MOS_BEST - (MOS_BEST - THRESHOLDS["mos"][1]))) == (1.0, "mos")
    worst = worst_path([fine, lossy])
    assert worst is not None
    assert (worst["metric"], worst["score"], worst["loss"], worst["latency"]) == (
        "loss",
        2.0,
        1.0,
        20,
    )
    assert worst["peer"] == lossy.peer_router_name
    assert worst_path([]) is None
