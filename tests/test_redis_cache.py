"""redis_cache against a real redis-server with AOF: what the web reads is what the worker wrote,
whole, atomically, with the TTLs of docs/DATA.md §2."""

from __future__ import annotations

import gzip
import json
import threading
import time

import pytest
import redis

import redis_cache
from redis_cache import Dataset


def _publication(version: int, now: float | None = None) -> redis_cache.Publication:
    gateway_id = "00000000-0000-0000-1000-4c96144f0a10"
    return redis_cache.Publication(
        org={"id": "org-1", "name": f"Org v{version} <b>&amp;</b> ünïcode"},
        sites=[{"id": "site-1", "name": "Zürich", "gateway_count": 1, "v": version}],
        gateways={"generated_at": version, "gateways": [{"id": gateway_id, "v": version}]},
        vpn_peers_all={gateway_id: [{"port_id": "ge-0/0/0", "v": version}]},
        insights_all={f"{gateway_id}:ge-0/0/0": {"rx_bps": version}},
        peer_paths={(gateway_id, "4c96144f0a10"): [{"port_id": "ge-0/0/0", "v": version}]},
        histories={},
        now=now if now is not None else time.time(),
    )


@pytest.fixture
def client(redis_server) -> redis.Redis:
    return redis_cache.connect(redis_server.url)


def test_absent_datasets_read_as_none(client):
    for dataset in Dataset:
        assert redis_cache.read_served(client, dataset, gzip_ok=True) is None
        assert redis_cache.read_etag(client, dataset) is None
    assert redis_cache.read_gateway_peer_paths(client, "00000000-0000-0000-1000-aa") is None
    health = redis_cache.read_health(client)
    assert health == {
        "redis": "ok",
        "last_update": None,
        "worker_status": None,
        "heartbeat": None,
        "interval": None,
    }


def test_published_bodies_are_compact_json_with_gzip_twin_and_etag(client):
    publication = _publication(1)
    redis_cache.publish(client, publication, interval=60)
    plain = redis_cache.read_served(client, Dataset.ORG, gzip_ok=False)
    zipped = redis_cache.read_served(client, Dataset.ORG, gzip_ok=True)
    assert plain is not None and zipped is not None
    assert not plain.gzipped and zipped.gzipped
    assert plain.body == json.dumps(
        publication.org, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "<b>&amp;</b> ünïcode" in plain.body.decode("utf-8")  # stored verbatim
    assert gzip.decompress(zipped.body) == plain.body
    assert plain.etag == zipped.etag == redis_cache.read_etag(client, Dataset.ORG)
    assert plain.etag.startswith('"') and plain.etag.endswith('"') and len(plain.etag) <= 34
    for dataset in (Dataset.SITES, Dataset.GATEWAYS, Dataset.VPN_PEERS_ALL, Dataset.INSIGHTS_ALL):
        served = redis_cache.read_served(client, dataset, gzip_ok=False)
        assert served is not None and json.loads(served.body)
    peer_paths = redis_cache.read_gateway_peer_paths(client, "00000000-0000-0000-1000-4c96144f0a10")
    assert peer_paths is not None and json.loads(peer_paths) == [{"port_id": "ge-0/0/0", "v": 1}]


def test_etag_changes_with_content_and_only_then(client):
    redis_cache.publish(client, _publication(1), interval=60)
    first = redis_cache.read_etag(client, Dataset.GATEWAYS)
    redis_cache.publish(client, _publication(1), interval=60)
    assert redis_cache.read_etag(client, Dataset.GATEWAYS) == first
    redis_cache.publish(client, _publication(2), interval=60)
    assert redis_cache.read_etag(client, Dataset.GATEWAYS) != first


def test_snapshot_keys_expire_after_three_intervals_and_metadata_never(client):
    now = time.time()
    redis_cache.publish(client, _publication(1, now), interval=100)
    for key in (
        "mist:org",
        "mist:org:gz",
        "mist:sites",
        "mist:gateways:gz",
        "mist:vpn_peers:all",
        "mist:insights:all",
        "mist:metadata:etags",
        "mist:vpn_peers:00000000-0000-0000-1000-4c96144f0a10-4c96144f0a10",
    ):
        assert 295 <= client.ttl(key) <= 300, key
    assert client.ttl("mist:metadata:last_update") == -1
    assert float(client.get("mist:metadata:last_update")) == pytest.approx(now)
    redis_cache.write_status(client, {"status": "idle", "interval": 100})
    assert client.ttl("mist:metadata:status") == -1
    assert client.get("mist:metadata:worker_status") == b"idle"
    redis_cache.write_heartbeat(client, now, period=10)
    assert 25 <= client.ttl("mist:metadata:heartbeat") <= 30
    redis_cache.write_configs(client, {"templates": [{"id": "t"}]})
    assert client.ttl("mist:config:templates") > 6 * 86400
    assert redis_cache.read_config(client, "templates") == [{"id": "t"}]


def test_status_is_served_and_health_reads_it_cheaply(client):
    redis_cache.write_status(client, {"status": "running", "phase": "ports", "interval": 60})
    served = redis_cache.read_served(client, Dataset.STATUS, gzip_ok=True)
    assert served is not None and json.loads(gzip.decompress(served.body))["phase"] == "ports"
    redis_cache.write_heartbeat(client, 1234.5)
    health = redis_cache.read_health(client)
    assert health["worker_status"] == "running"
    assert health["heartbeat"] == 1234.5
    assert health["interval"] == 60
    stored = redis_cache.read_status(client)
    assert stored is not None and stored["phase"] == "ports"


def test_readers_never_see_a_mix_of_two_refreshes(client, redis_server):
    """A reader hammering body+ETag while the worker publishes sees whole snapshots only."""
    redis_cache.publish(client, _publication(0), interval=60)
    stop = threading.Event()
    mismatches: list[str] = []

    def reader() -> None:
        own = redis_cache.connect(redis_server.url)
        while not stop.is_set():
            served = redis_cache.read_served(own, Dataset.GATEWAYS, gzip_ok=False)
            assert served is not None
            if redis_cache.etag_of(served.body) != served.etag:
                mismatches.append(served.etag)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for version in range(1, 60):
        redis_cache.publish(client, _publication(version), interval=60)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert mismatches == []


def test_a_publish_sent_in_many_batches_is_still_one_snapshot(client, redis_server):
    """The publish transaction leaves in batches while it is encoded; a reader that takes the
    payload and two gateways' own keys in one MULTI still sees one refresh, never a mix."""
    gateway_ids = [f"00000000-0000-0000-1000-{n:012x}" for n in range(200)]

    def publish(version: int) -> None:
        with redis_cache.Publisher(client, interval=60, now=time.time(), batch_bytes=256) as out:
            for gateway_id in gateway_ids:
                out.gateway(gateway_id, redis_cache.encode_json({"id": gateway_id, "v": version}))
            out.served(Dataset.GATEWAYS, redis_cache.encode_json({"v": version}))
            assert out.commit() == 202

    publish(0)
    stop = threading.Event()
    seen: list[tuple[int, int, int]] = []

    def reader() -> None:
        own = redis_cache.connect(redis_server.url)
        keys = [redis_cache.gateway_key(gateway_ids[0]), redis_cache.gateway_key(gateway_ids[-1])]
        while not stop.is_set():
            pipe = own.pipeline(transaction=True)
            pipe.get(redis_cache.KEY_GATEWAYS)
            pipe.mget(keys)
            payload, (first, last) = pipe.execute()
            seen.append(tuple(json.loads(body)["v"] for body in (payload, first, last)))

    thread = threading.Thread(target=reader)
    thread.start()
    for version in range(1, 30):
        publish(version)
    stop.set()
    thread.join(timeout=10)
    assert len({versions[0] for versions in seen}) > 1  # the reader did overlap the writer
    assert all(len(set(versions)) == 1 for versions in seen)


def test_a_document_sent_in_pieces_is_stored_as_one_body_with_its_twin_and_etag(client):
    """The big documents go to Redis a piece at a time (SET, APPENDs), their gzip twin and
    ETag computed on the way: the web must get exactly what the whole body would give."""
    items = [{"id": f"gw-{n}", "name": "Zürich <b>", "up": n % 3 == 0} for n in range(2000)]
    head = {"generated_at": 1.25, "summary": {"gateways": 2000}}
    whole = redis_cache.encode_json_document(head, "gateways", items)
    rows = [["Zürich", f"gw,{n}"] for n in range(500)]
    with redis_cache.Publisher(client, interval=60, now=time.time()) as out:
        with out.document(Dataset.GATEWAYS, piece_bytes=1000) as document:
            redis_cache.write_json_document(document, head, "gateways", iter(items))
        with out.document(Dataset.EXPORT_CSV, piece_bytes=100) as document:
            encoder = redis_cache.CsvEncoder(("site", "gateway"), document)
            for row in rows:
                encoder.add(row)
        assert out.commit() == 4
    expected = {
        Dataset.GATEWAYS: whole,
        Dataset.EXPORT_CSV: redis_cache.encode_csv(("site", "gateway"), rows),
    }
    for dataset, body in expected.items():
        plain = redis_cache.read_served(client, dataset, gzip_ok=False)
        zipped = redis_cache.read_served(client, dataset, gzip_ok=True)
        assert plain is not None and zipped is not None
        assert plain.body == body and zipped.body == redis_cache.gzip_bytes(body)
        assert plain.etag == zipped.etag == redis_cache.etag_of(body)
        key = redis_cache.DATASET_KEYS[dataset]
        assert 0 < client.ttl(key) <= 180 and 0 < client.ttl(key + ":gz") <= 180


def test_a_transaction_is_invisible_until_exec_and_gone_without_it(client, redis_server):
    reader = redis_server.client()
    keys = [f"mist:test:{n}" for n in range(100)]
    with redis_cache.Transaction(client, batch_bytes=64) as transaction:
        for key in keys:
            transaction.set(key, b"x" * 50)
        assert transaction.commands == 100
        assert reader.exists(*keys) == 0  # sent to Redis in batches, queued there, not applied
        assert transaction.execute() == [b"OK"] * 100  # Redis's own replies, unconverted
    assert reader.exists(*keys) == 100
    reader.delete(*keys)
    with pytest.raises(RuntimeError), redis_cache.Transaction(client, batch_bytes=64) as left:
        for key in keys:
            left.set(key, b"x" * 50)
        raise RuntimeError("the encoding failed half way")
    assert reader.exists(*keys) == 0
    assert client.set("mist:test:after", b"1") and client.get("mist:test:after") == b"1"


def test_a_command_redis_refuses_aborts_the_whole_transaction(client, redis_server):
    with redis_cache.Transaction(client, batch_bytes=64) as transaction:
        transaction.set("mist:test:a", b"1")
        transaction.execute_command("SET", "mist:test:b")  # wrong number of arguments
        transaction.set("mist:test:c", b"1")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            transaction.execute()
    assert redis_server.client().exists("mist:test:a", "mist:test:c") == 0


def test_lock_is_exclusive_renewable_and_released_only_by_its_owner(client):
    assert redis_cache.acquire_lock(client, "worker-a", 5)
    assert not redis_cache.acquire_lock(client, "worker-b", 5)
    assert redis_cache.renew_lock(client, "worker-a", 5)
    assert not redis_cache.renew_lock(client, "worker-b", 5)
    assert not redis_cache.release_lock(client, "worker-b")
    assert redis_cache.lock_owner(client) == "worker-a"
    assert redis_cache.release_lock(client, "worker-a")
    assert redis_cache.acquire_lock(client, "worker-b", 0.2)
    time.sleep(0.4)  # the lease lapses when its owner stops renewing
    assert redis_cache.acquire_lock(client, "worker-a", 5)


def test_data_survives_a_redis_crash_with_aof(client, redis_server):
    redis_cache.publish(client, _publication(7), interval=600)
    etag = redis_cache.read_etag(client, Dataset.GATEWAYS)
    redis_server.kill()
    with pytest.raises(redis.RedisError):
        redis_cache.read_served(client, Dataset.GATEWAYS, gzip_ok=True)
    redis_server.start()
    served = redis_cache.read_served(client, Dataset.GATEWAYS, gzip_ok=False)
    assert served is not None and served.etag == etag
    assert json.loads(served.body)["generated_at"] == 7


def test_scan_keys_lists_our_keys_without_keys_command(client):
    redis_cache.publish(client, _publication(1), interval=60)
    keys = set(redis_cache.scan_keys(client))
    assert {"mist:org", "mist:gateways", "mist:metadata:etags"} <= keys


def test_port_history_round_trips_in_binary_and_expires_7_days_after_last_sample(client):
    import history

    now = time.time()
    port_history = history.PortHistory(
        last_ts=now,
        last_rx_bytes=12_345_678_901,
        last_tx_bytes=None,
        fine=[(int(now) - 300 * i, 1.5e6, None) for i in range(288, 0, -1)],
        coarse=[(int(now) // 3600 * 3600 - 3600 * i, 2.0e6, 3.0e5) for i in range(168, 0, -1)],
    )
    newest_hour = history.measured_hour(port_history.fine[-1][0])
    if newest_hour > port_history.coarse[-1][0]:  # every measured hour has its bucket
        port_history.coarse.append((newest_hour, 1.5e6, None))
    publication = _publication(1, now)
    publication.histories = {("gw-1", "ge-0/0/0"): port_history}
    redis_cache.publish(client, publication, interval=60)
    home = "mist:insights:gw-1:ge-0/0/0"
    stored = len(client.get(home) or b"") + sum(
        len(record)
        for suffix in (":fine", ":coarse")
        for record in client.lrange(home + suffix, 0, -1)
    )
    assert stored < 10_000  # a day of 5-minute samples and a week of hours
    in_memory = sum(client.memory_usage(home + suffix) or 0 for suffix in ("", ":fine", ":coarse"))
    assert in_memory < 10_000  # what Redis spends on it, key and list overhead included
    read = redis_cache.read_port_history(client, "gw-1", "ge-0/0/0")
    assert read is not None
    assert read.last_rx_bytes == 12_345_678_901 and read.last_tx_bytes is None
    assert read.last_ts == pytest.approx(now)
    assert [s[0] for s in read.fine] == [s[0] for s in port_history.fine]
    assert read.fine[0][1] == pytest.approx(1.5e6) and read.fine[0][2] is None
    expected = [(ts, pytest.approx(rx), pytest.approx(tx)) for ts, rx, tx in port_history.coarse]
    assert read.coarse == expected
    assert 7 * 86400 - 60 <= client.ttl("mist:insights:gw-1:ge-0/0/0") <= 7 * 86400
    assert redis_cache.read_port_history(client, "gw-1", "ge-0/0/9") is None
    many = redis_cache.read_port_histories(client, [("gw-1", "ge-0/0/0"), ("gw-2", "x")])
    assert list(many) == [("gw-1", "ge-0/0/0")]


def test_documents_encoded_item_by_item_are_byte_identical_to_one_go():
    """The worker encodes the big documents piece by piece; the page must not see a byte change."""
    gateways = [
        {"id": f"gw-{n}", "name": "Zürich <b>", "ports": [{"rx": 1.5, "up": None}]}
        for n in range(3)
    ]
    head = {"generated_at": 1.25, "summary": {"gateways": 3}}
    whole = redis_cache.encode_json({**head, "gateways": gateways})
    assert redis_cache.encode_json_document(head, "gateways", iter(gateways)) == whole
    assert redis_cache.encode_json_document(head, "gateways", []) == redis_cache.encode_json(
        {**head, "gateways": []}
    )
    members = {"gw-1:ge-0/0/0": {"rx_bps": 5}, "gw-2:ge-0/0/1": [1, "ü"]}
    encoded_values = (
        (k, redis_cache.EncodedJson(redis_cache.encode_json(v))) for k, v in members.items()
    )
    assert redis_cache.encode_json_object(encoded_values) == redis_cache.encode_json(members)
    assert redis_cache.encode_json_object([]) == b"{}"


def test_csv_export_is_served_with_bom_gzip_twin_and_etag_in_the_snapshot(client):
    body = redis_cache.encode_csv(("site", "gateway"), [["Zürich", "gw,1"], ["Oslo", 'a"b']])
    assert body == '\ufeffsite,gateway\r\nZürich,"gw,1"\r\nOslo,"a""b"\r\n'.encode()
    publication = _publication(1)
    publication.export_csv = body
    redis_cache.publish(client, publication, interval=60)
    plain = redis_cache.read_served(client, Dataset.EXPORT_CSV, gzip_ok=False)
    zipped = redis_cache.read_served(client, Dataset.EXPORT_CSV, gzip_ok=True)
    assert plain is not None and zipped is not None
    assert plain.body == body and gzip.decompress(zipped.body) == body
    assert plain.etag == redis_cache.read_etag(client, Dataset.EXPORT_CSV)
    ttl = client.ttl(redis_cache.KEY_EXPORT_CSV)
    assert 0 < ttl <= 180 and client.ttl(redis_cache.KEY_EXPORT_CSV + ":gz") == ttl


def _refresh_history(client, ports, now, interval, counters, backfill=None, paths=None):
    """One worker refresh of the given ports' histories, through the worker's own two write
    paths: the home key alone when it suffices, else the whole history (always for a
    backfill). Returns the histories as the worker holds them."""
    import history

    states = redis_cache.read_history_states(client, ports)
    stored = redis_cache.read_stored_histories(client, ports)  # the expected, and path two
    expected = {}
    writes = {}
    for port in ports:
        before = stored.get(port)
        port_history = history.add_counters(
            before.history if before else None, ts=now, rx_bytes=counters, tx_bytes=counters // 3
        )
        if backfill is not None:
            port_history = history.merge_backfill(port_history, points=backfill, step=3600, now=now)
        history.prune(port_history, now)
        expected[port] = port_history
        key = redis_cache.history_key(*port)
        state = states.get(port)
        quick = (
            redis_cache.plan_counters_write(
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
            volume = history.volume_of_hours(quick[1].hourly, now=now)
            whole_volume = history.volume(port_history, now=now, interval=interval)
            assert volume == pytest.approx(whole_volume, rel=0.01)
        else:
            write = redis_cache.plan_history_write(
                key, before, port_history, now=now, interval=interval
            )
        assert write is not None
        writes[port] = write
    publication = _publication(1, now)
    publication.history_writes = writes
    redis_cache.publish(client, publication, interval=interval)
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
        read = redis_cache.read_port_history(client, *port)
        assert read is not None
        _assert_same_history(read, expected[port])
        assert len(read.fine) == 86400 // interval - 1  # a day, the sample 24 h ago pruned
        fine_bytes = 12 * client.llen(redis_cache.history_key(*port) + ":fine")
        assert fine_bytes <= (86400 + redis_cache.TRIM_AT_MOST) // interval * 12 + 12
        home_ttl = client.ttl(redis_cache.history_key(*port))
        assert 7 * 86400 - 3 * 3600 - 60 < home_ttl <= 7 * 86400  # 7 days after its last sample


def test_a_torn_trailing_record_is_ignored(client):
    ports = [("gw-1", "ge-0/0/0")]
    start = int(time.time()) - 3600
    expected = {}
    for step in range(6):
        expected = _refresh_history(client, ports, start + 300 * step, 300, 10**9 + step * 10**8)
    client.rpush("mist:insights:gw-1:ge-0/0/0:fine", b"\x01\x02\x03\x04\x05")  # half a record
    client.rpush("mist:insights:gw-1:ge-0/0/0:coarse", b"\x09")
    _assert_same_history(redis_cache.read_port_history(client, *ports[0]), expected[ports[0]])


def test_a_refresh_appends_instead_of_rewriting_full_histories(client):
    """With a full day of samples and a week of hours stored, a refresh costs each port a few
    hundred AOF bytes on average, not its whole history (~6 KB) again."""
    import copy

    import history

    interval = 300
    ports = [(f"gw-{n}", "ge-0/0/0") for n in range(40)]
    start = int(time.time()) - 8 * 86400
    steps = 8 * 86400 // interval
    week: history.PortHistory | None = None
    counters = 0
    for step in range(steps - 24):  # a week and a day of history, built once in memory
        counters += 30_000_000
        week = history.add_counters(
            week, ts=start + step * interval, rx_bytes=counters, tx_bytes=counters // 3
        )
    assert week is not None and len(week.coarse) > 160
    publication = _publication(1, start + (steps - 25) * interval)
    publication.histories = {port: copy.deepcopy(week) for port in ports}
    redis_cache.publish(client, publication, interval=interval)
    full_history = redis_cache.encode_history(week)
    assert len(full_history) > 5_000
    before = client.info("persistence")["aof_current_size"]
    for step in range(steps - 24, steps):  # two more hours: every port trims once in them
        counters += 30_000_000
        _refresh_history(client, ports, start + step * interval, interval, counters)
    written = client.info("persistence")["aof_current_size"] - before
    per_port_refresh = written / 24 / len(ports)
    publish_overhead = 1_500 / len(ports)  # the snapshot keys of _publication
    assert per_port_refresh - publish_overhead < 800, per_port_refresh
    assert per_port_refresh < len(full_history) / 6
    read = redis_cache.read_port_history(client, *ports[0])
    assert read is not None and len(read.coarse) > 160  # the week is still there


def test_a_history_stored_in_format_2_is_read_and_rewritten_in_format_3(client):
    """An upgrade keeps every port's chart: the older 33-byte home key (format 2) reads back,
    takes the whole-history path once, and the usual path after that."""
    import struct

    ports = [("gw-1", "ge-0/0/0")]
    start = int(time.time()) - 7200
    expected = {}
    for step in range(12):
        expected = _refresh_history(client, ports, start + 300 * step, 300, 10**9 + step * 10**8)
    key = redis_cache.history_key(*ports[0])
    port = expected[ports[0]]
    client.set(
        key,
        struct.pack(
            "<Bdddd", 2, port.last_ts, port.last_rx_bytes, port.last_tx_bytes, start + 3300
        ),
    )
    _assert_same_history(redis_cache.read_port_history(client, *ports[0]), port)
    assert redis_cache.read_history_states(client, ports) == {ports[0]: None}
    paths: dict[str, int] = {}
    for step in range(12, 14):
        expected = _refresh_history(
            client, ports, start + 300 * step, 300, 10**9 + step * 10**8, paths=paths
        )
    assert paths == {"whole": 1, "home key": 1}
    assert client.get(key)[0] == 3
    _assert_same_history(redis_cache.read_port_history(client, *ports[0]), expected[ports[0]])
