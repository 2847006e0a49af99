"""mist.insights: port insights in both of Mist's answer shapes, the fallback remembered,
and what a series value must be to count."""

from __future__ import annotations

import itertools
import time

import pytest

from mist.errors import MalformedResponse
from mist.insights import interval, zip_series
from mist.streams import CallCounter
from tests.fixtures.mist_connect import connect


@pytest.mark.parametrize("shape", ["keyed", "results"])
def test_port_insights_accept_both_shapes(mistsim_factory, shape):
    sim = mistsim_factory(insights_shape=shape)
    connection = connect(sim)
    stats = connection.gateway_stats(sim.org_id).items
    port = connection.port_stats(sim.org_id).items[0]
    gateway = next(g for g in stats if g["mac"] == port["mac"])
    now = int(time.time())
    assert not connection.insights_shape_known
    counter = CallCounter()
    points, step = connection.port_insights(
        gateway["site_id"],
        gateway["id"],
        port["port_id"],
        start=now - 7 * 86400,
        end=now,
        counter=counter,
    )
    assert step == 3600
    assert len(points) >= 24 * 6
    assert any(rx is not None and rx > 0 for _, rx, _ in points)
    assert any(tx is not None and tx > 0 for _, _, tx in points)
    assert all(b[0] - a[0] == 3600 for a, b in itertools.pairwise(points))
    assert connection.insights_keyed is (shape == "keyed")
    assert connection.insights_shape_known
    assert counter.calls == (1 if shape == "keyed" else 3)
    counter = CallCounter()
    connection.port_insights(
        gateway["site_id"], gateway["id"], port["port_id"], start=now - 86400, end=now,
        counter=counter,
    )  # fmt: skip
    assert counter.calls == (1 if shape == "keyed" else 2)  # the fallback is remembered


def test_only_finite_numbers_count_and_anything_else_is_a_gap():
    body = {"start": 7200, "interval": 3600}
    rx = [1, float("nan"), 2.5, "3", True]
    tx = [float("inf"), None, -float("inf")]
    assert zip_series(body, rx, tx, 3600) == [
        (7200, 1, None),
        (10800, None, None),
        (14400, 2.5, None),
        (18000, None, None),
        (21600, None, None),
    ]
    with pytest.raises(MalformedResponse, match="without a series"):
        zip_series(body, None, tx, 3600)
    with pytest.raises(MalformedResponse, match="without a start time"):
        zip_series({"start": "soon"}, rx, tx, 3600)


def test_the_interval_is_an_hour_unless_mist_says_otherwise():
    assert interval({"interval": 600}) == 600
    assert interval({}) == 3600
    assert interval({"interval": "nonsense"}) == 3600
    assert interval({"interval": -600}) == 3600


def test_hostile_sizes_in_an_insights_answer_are_gaps_or_malformed_never_a_crash():
    """1e308 bps has no float32 for the history, 10**400 no float, `1e999` is infinity: a
    value beyond ±2**64 is a gap, a start that is no epoch second a malformed answer."""
    assert zip_series({"start": 0}, [1e308, 10**400, 2**64, 2**64 - 1], [], 3600) == [
        (0, None, None),
        (3600, None, None),
        (7200, None, None),
        (10800, 2**64 - 1, None),
    ]
    for start in (10**400, "1e999", -1, 2**32):
        with pytest.raises(MalformedResponse, match="without a start time"):
            zip_series({"start": start}, [1], [], 3600)
    assert interval({"interval": 10**400}) == 3600
    assert interval({"interval": float("inf")}) == 3600
    assert interval({"interval": 86400}) == 86400
