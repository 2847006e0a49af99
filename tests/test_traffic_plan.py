"""traffic.plan with store.histories against a real redis-server: a port's history written
the worker's way (usually one appended record) reads back exactly as the worker holds it."""

from __future__ import annotations

import copy
import time

import pytest

from history.backfill import merge_backfill
from history.samples import PortHistory, add_counters, measured_hour, prune
from history.volume import volume, volume_of_hours
from store.histories import (
    port_history,
    read_history_states,
    read_port_history,
    read_stored_histories,
)
from store.history_codec import STATE_VERSION
from store.keys import history_key
from store.reads import connect
from tests.fixtures.store_data import publish_version
from traffic.plan import TRIM_AT_MOST, plan_counters_write, plan_history_write, write_port_histories


@pytest.fixture
def client(redis_server):
    return connect(redis_server.url)


def test_port_history_round_trips_in_binary_and_expires_7_days_after_last_sample(client):
    now = time.time()
    week = PortHistory(
        last_ts=now,
        last_rx_bytes=12_345_678_901,
        last_tx_bytes=None,
        fine=[(int(now) - 300 * i, 1.5e6, None) for i in range(288, 0, -1)],
        coarse=[(int(now) // 3600 * 3600 - 3600 * i, 2.0e6, 3.0e5) for i in range(168, 0, -1)],
    )
    newest_hour = measured_hour(week.fine[-1][0])
    if newest_hour > week.coarse[-1][0]:  # every measured hour has its bucket
        week.coarse.append((newest_hour, 1.5e6, None))
    assert write_port_histories(client, {("gw-1", "ge-0/0/0"): week}, now=now, interval=60) == 1
    home = "mist:insights:gw-1:ge-0/0/0"
    stored = len(client.get(home) or b"") + sum(
        len(record)
        for suffix in (":fine", ":coarse")
        for record in client.lrange(home + suffix, 0, -1)
    )
    assert stored < 10_000  # a day of 5-minute samples and a week of hours
    in_memory = sum(client.memory_usage(home + suffix) or 0 for suffix in ("", ":fine", ":coarse"))
    assert in_memory < 10_000  # what Redis spends on it, key and list overhead included
    read = read_port_history(client, "gw-1", "ge-0/0/0")
    assert read is not None
    assert read.last_rx_bytes == 12_345_678_901 and read.last_tx_bytes is None
    assert read.last_ts == pytest.approx(now)
    assert [s[0] for s in read.fine] == [s[0] for s in week.fine]
    assert read.fine[0][1] == pytest.approx(1.5e6) and read.fine[0][2] is None
    expected = [(ts, pytest.approx(rx), pytest.approx(tx)) for ts, rx, tx in week.coarse]
    assert read.coarse == expected
    assert 7 * 86400 - 60 <= client.ttl("mist:insights:gw-1:ge-0/0/0") <= 7 * 86400
    assert read_port_history(client, "gw-1", "ge-0/0/9") is None
    many = read_stored_histories(client, [("gw-1", "ge-0/0/0"), ("gw-2", "x")])
    assert list(many) == [("gw-1", "ge-0/0/0")]


def _refresh_history(client, ports, now, interval, counters, backfill=None, paths=None):
    """One worker refresh of the given ports' histories, through the worker's own two write
    paths: the home key alone when it suffices, else the whole history (always for a
    backfill). Returns the histories as the worker holds them."""
    states = read_history_states(client, ports)
    stored = read_stored_histories(client, ports)  # the expected, and path two
    expected = {}
    writes = {}
    for port in ports:
        before = stored.get(port)
        history = add_counters(
            port_history(before) if before else None,
            ts=now,
            rx_bytes=counters,
            tx_bytes=counters // 3,
        )
        if backfill is not None:
            history = merge_backfill(history, points=backfill, step=3600, now=now)
        prune(history, now)
        expected[port] = history
        key = history_key(*port)
        state = states.get(port)
        quick = (
            plan_counters_write(
                key, state, now=now, interval=interval, rx_bytes=counters, tx_bytes=counters // 3
            )
            if state is not None and backfill is None
            else None
        )
        if paths is not None:
            paths["home key"] = paths.get("home key", 0) + (quick is not None)
            paths["whole"] = paths.get("whole", 0) + (quick is None)
        if quick is not None:
            write = quick[0]
            from_state = volume_of_hours(quick[1].hourly, now=now)
            assert from_state == pytest.approx(
                volume(history, now=now, interval=interval), rel=0.01
            )
        else:
            write = plan_history_write(key, before, history, now=now, interval=interval)
        assert write is not None
        writes[port] = write
    publish_version(client, 1, now, interval=interval, writes=writes)
    return expected


def _assert_same_history(read, expected):
    assert read is not None
    assert read.last_ts == pytest.approx(expected.last_ts)
    assert (read.last_rx_bytes, read.last_tx_bytes) == (
        expected.last_rx_bytes,
        expected.last_tx_bytes,
    )
    for tier in ("fine", "coarse"):
        got, want = getattr(read, tier), getattr(expected, tier)
        assert [s[0] for s in got] == [s[0] for s in want], tier
        for (_, rx, tx), (_, want_rx, want_tx) in zip(got, want, strict=True):
            assert rx == (None if want_rx is None else pytest.approx(want_rx, rel=1e-6))
            assert tx == (None if want_tx is None else pytest.approx(want_tx, rel=1e-6))


def test_a_day_of_refreshes_appends_and_reads_back_the_same_history(client):
    """30 h of 5-minute refreshes (trims, a Mist backfill, a counter reset) read back exactly
    as the worker holds them, and `:fine` stays about a day long."""
    interval = 300
    ports = [("gw-1", "ge-0/0/0"), ("gw-1", "ge-0/0/1"), ("gw-2", "ge-0/0/0")]
    start = int(time.time()) // 3600 * 3600 - 30 * 3600 + 17
    counters = 10_000_000
    expected = {}
    paths: dict[str, int] = {}
    for step in range(30 * 3600 // interval):
        now = start + step * interval
        counters = 1_000 if step == 100 else counters + 37_500_000 + step * 1000
        backfill = None
        if step == 5:  # Mist's hourly points for the week before the first reading
            backfill = [(start // 3600 * 3600 - 3600 * h, 8e6, 2e6) for h in range(1, 160)]
        expected = _refresh_history(client, ports, now, interval, counters, backfill, paths)
    # the usual refresh reads only the home key; trims (every ~2 h) read the whole history
    assert paths["home key"] > 0.9 * (paths["home key"] + paths["whole"]), paths
    for port in ports:
        read = read_port_history(client, *port)
        assert read is not None
        _assert_same_history(read, expected[port])
        assert len(read.fine) == 86400 // interval - 1  # a day, the sample 24 h ago pruned
        fine_bytes = 12 * client.llen(history_key(*port) + ":fine")
        assert fine_bytes <= (86400 + TRIM_AT_MOST) // interval * 12 + 12
        home_ttl = client.ttl(history_key(*port))
        assert 7 * 86400 - 3 * 3600 - 60 < home_ttl <= 7 * 86400  # 7 days after its last sample


def test_a_torn_trailing_record_is_ignored(client):
    ports = [("gw-1", "ge-0/0/0")]
    start = int(time.time()) - 3600
    expected = {}
    for step in range(6):
        expected = _refresh_history(client, ports, start + 300 * step, 300, 10**9 + step * 10**8)
    client.rpush("mist:insights:gw-1:ge-0/0/0:fine", b"\x01\x02\x03\x04\x05")  # half a record
    client.rpush("mist:insights:gw-1:ge-0/0/0:coarse", b"\x09")
    _assert_same_history(read_port_history(client, *ports[0]), expected[ports[0]])


def test_a_refresh_appends_instead_of_rewriting_full_histories(client):
    """With a full day of samples and a week of hours stored, a refresh costs each port a few
    hundred AOF bytes on average, not its whole history (~6 KB) again."""
    interval = 300
    ports = [(f"gw-{n}", "ge-0/0/0") for n in range(40)]
    start = int(time.time()) - 8 * 86400
    steps = 8 * 86400 // interval
    week: PortHistory | None = None
    counters = 0
    for step in range(steps - 24):  # a week and a day of history, built once in memory
        counters += 30_000_000
        week = add_counters(
            week, ts=start + step * interval, rx_bytes=counters, tx_bytes=counters // 3
        )
    assert week is not None and len(week.coarse) > 160
    seeded_at = start + (steps - 25) * interval
    prune(week, seeded_at)  # as the worker keeps it: at most a day of samples, so no port is
    # forced to trim early, and each trims once, on its own hash-picked refresh, in two hours
    seeded = {port: copy.deepcopy(week) for port in ports}
    write_port_histories(client, seeded, now=seeded_at, interval=interval)
    full_history = 12 * (len(week.fine) + len(week.coarse))  # its records, whole
    assert full_history > 5_000
    # appendfsync everysec may postpone an AOF write while a background fsync runs, which
    # would move bytes from one measurement into the next; `no` writes before each reply
    client.config_set("appendfsync", "no")
    aof = client.info("persistence")["aof_current_size"]
    publish_version(client, 1, interval=interval)  # what the snapshot keys alone cost
    snapshot_bytes = client.info("persistence")["aof_current_size"] - aof
    before = client.info("persistence")["aof_current_size"]
    for step in range(steps - 24, steps):  # two more hours: every port trims once in them
        counters += 30_000_000
        _refresh_history(client, ports, start + step * interval, interval, counters)
    written = client.info("persistence")["aof_current_size"] - before
    per_port_refresh = written / 24 / len(ports)
    publish_overhead = snapshot_bytes / len(ports)  # the snapshot keys of publish_version
    history_bytes = per_port_refresh - publish_overhead  # what the history appends cost
    assert history_bytes < 800, (per_port_refresh, publish_overhead)
    assert history_bytes < full_history / 6, (history_bytes, full_history)
    read = read_port_history(client, *ports[0])
    assert read is not None and len(read.coarse) > 160  # the week is still there


def test_a_home_key_we_did_not_write_is_rewritten_whole_once(client):
    """A home key in a format this version does not read (an older one, or junk) costs the
    port its stored samples, never a failed refresh: it is rewritten whole, then appended to."""
    ports = [("gw-1", "ge-0/0/0")]
    start = int(time.time()) - 7200
    for step in range(12):
        _refresh_history(client, ports, start + 300 * step, 300, 10**9 + step * 10**8)
    key = history_key(*ports[0])
    client.set(key, b"\x03" + bytes(245))  # a 246-byte format-3 home key
    assert read_history_states(client, ports) == {ports[0]: None}
    assert read_port_history(client, *ports[0]) is None
    paths: dict[str, int] = {}
    expected = {}
    for step in range(12, 14):
        expected = _refresh_history(
            client, ports, start + 300 * step, 300, 10**9 + step * 10**8, paths=paths
        )
    assert paths == {"whole": 1, "home key": 1}
    assert client.get(key)[0] == STATE_VERSION == 4
    _assert_same_history(read_port_history(client, *ports[0]), expected[ports[0]])
