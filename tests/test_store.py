"""store against a real redis-server with AOF: what the web reads is what the worker wrote,
whole, atomically, with the TTLs of docs/DATA.md §2."""

from __future__ import annotations

import gzip
import io
import json
import threading
import time

import pytest
import redis

from store import publisher as publisher_module
from store.codec import (
    CsvEncoder,
    encode_json,
    etag_of,
    gzip_bytes,
    write_json_document,
    write_json_object,
)
from store.configs import read_config, write_configs
from store.keys import (
    DATASET_KEYS,
    KEY_EXPORT_CSV,
    KEY_GATEWAY_DETAILS,
    KEY_GATEWAYS,
    Dataset,
)
from store.lease import LeaseLost, acquire_lock, lock_owner, release_lock, renew_lock
from store.publisher import Publisher
from store.reads import (
    connect,
    read_etag,
    read_gateway,
    read_gateway_peer_paths,
    read_health,
    read_served,
    read_status_published,
    scan_keys,
)
from store.status import read_status, write_heartbeat, write_status
from store.transaction import Batches, Transaction
from tests.fixtures.store_data import GATEWAY_ID, documents, publish_version


@pytest.fixture
def client(redis_server) -> redis.Redis:
    return connect(redis_server.url)


def test_absent_datasets_read_as_none(client):
    for dataset in Dataset:
        assert read_served(client, dataset, gzip_ok=True) is None
        assert read_etag(client, dataset) is None
    assert read_gateway_peer_paths(client, "00000000-0000-0000-1000-aa") is None
    health = read_health(client)
    assert health == {
        "redis": "ok",
        "last_update": None,
        "worker_status": None,
        "heartbeat": None,
        "interval": None,
    }


def test_published_bodies_are_compact_json_with_gzip_twin_and_etag(client):
    publish_version(client, 1, interval=60)
    plain = read_served(client, Dataset.ORG, gzip_ok=False)
    zipped = read_served(client, Dataset.ORG, gzip_ok=True)
    assert plain is not None and zipped is not None
    assert not plain.gzipped and zipped.gzipped
    assert plain.body == json.dumps(
        documents(1)[Dataset.ORG], separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "<b>&amp;</b> ünïcode" in plain.body.decode("utf-8")  # stored verbatim
    assert gzip.decompress(zipped.body) == plain.body
    assert plain.etag == zipped.etag == read_etag(client, Dataset.ORG)
    assert plain.etag.startswith('"') and plain.etag.endswith('"') and len(plain.etag) <= 34
    for dataset in (Dataset.SITES, Dataset.GATEWAYS, Dataset.VPN_PEERS_ALL, Dataset.INSIGHTS_ALL):
        served = read_served(client, dataset, gzip_ok=False)
        assert served is not None and json.loads(served.body)
    peer_paths = read_gateway_peer_paths(client, GATEWAY_ID)
    assert peer_paths is not None and json.loads(peer_paths) == [{"port_id": "ge-0/0/0", "v": 1}]


def test_etag_changes_with_content_and_only_then(client):
    publish_version(client, 1, interval=60)
    first = read_etag(client, Dataset.GATEWAYS)
    publish_version(client, 1, interval=60)
    assert read_etag(client, Dataset.GATEWAYS) == first
    publish_version(client, 2, interval=60)
    assert read_etag(client, Dataset.GATEWAYS) != first


def test_snapshot_keys_expire_after_three_intervals_and_metadata_never(client):
    now = time.time()
    publish_version(client, 1, now, interval=100)
    for key in (
        "mist:org",
        "mist:org:gz",
        "mist:sites",
        "mist:gateways:gz",
        "mist:vpn_peers:all:gz",
        "mist:insights:all:gz",
        "mist:metadata:etags",
        "mist:vpn_peers:00000000-0000-0000-1000-4c96144f0a10-4c96144f0a10",
    ):
        assert 295 <= client.ttl(key) <= 300, key
    assert client.ttl("mist:metadata:last_update") == -1
    assert float(client.get("mist:metadata:last_update")) == pytest.approx(now)
    write_status(client, {"status": "idle", "interval": 100})
    assert client.ttl("mist:metadata:status") == -1
    assert client.get("mist:metadata:worker_status") == b"idle"
    write_heartbeat(client, now)
    assert 25 <= client.ttl("mist:metadata:heartbeat") <= 30
    write_configs(client, {"templates": [{"id": "t"}]})
    assert client.ttl("mist:config:templates") > 6 * 86400
    assert read_config(client, "templates") == [{"id": "t"}]


def test_status_is_stored_as_served_and_health_reads_no_document(client):
    write_status(client, {"status": "running", "phase": "ports", "interval": 60})
    body, last_update, interval = read_status_published(client)
    assert body == b'{"status":"running","phase":"ports","interval":60}'
    assert (last_update, interval) == (None, 60)
    write_heartbeat(client, 1234.5)
    health = read_health(client)
    assert health["worker_status"] == "running"
    assert health["heartbeat"] == 1234.5
    assert health["interval"] == 60
    stored = read_status(client)
    assert stored is not None and stored["phase"] == "ports"


def test_readers_never_see_a_mix_of_two_refreshes(client, redis_server):
    """A reader hammering body+ETag while the worker publishes sees whole snapshots only.

    The readers only collect what they saw; every assertion runs here, in the test's own
    thread (an assert in a reader thread would only become a pytest warning)."""
    publish_version(client, 0, interval=60)
    stop = threading.Event()
    seen: list[tuple[int, bool]] = []  # (version read, body matches its ETag)
    failures: list[BaseException] = []

    def reader() -> None:
        own = connect(redis_server.url)
        try:
            while not stop.is_set():
                served = read_served(own, Dataset.GATEWAYS, gzip_ok=False)
                if served is None:
                    raise AssertionError("a reader found no gateways document")
                version = json.loads(served.body)["generated_at"]
                seen.append((version, etag_of(served.body) == served.etag))
        except BaseException as error:  # re-raised below, in the test's thread
            failures.append(error)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for version in range(1, 60):
        publish_version(client, version, interval=60)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    if failures:
        raise failures[0]
    assert len({version for version, _ in seen}) > 1, "the readers overlapped the publishes"
    assert all(matches for _, matches in seen), "a body did not match its ETag"


def test_a_publish_sent_in_many_batches_is_still_one_snapshot(client, redis_server):
    """The refresh is staged in batches while it is encoded, then switched live at once; a
    reader that takes the payload and two gateways' details in one MULTI sees one refresh."""
    gateway_ids = [f"00000000-0000-0000-1000-{n:012x}" for n in range(200)]

    def publish(version: int) -> None:
        with Publisher(client, interval=60, now=time.time(), batch_bytes=256) as out:
            for gateway_id in gateway_ids:
                out.gateway(gateway_id, encode_json({"id": gateway_id, "v": version}))
            out.served(Dataset.GATEWAYS, encode_json({"v": version}))
            assert out.commit() == 202

    publish(0)
    stop = threading.Event()
    seen: list[tuple[int, int, int]] = []

    failures: list[BaseException] = []

    def reader() -> None:
        own = connect(redis_server.url)
        try:
            while not stop.is_set():
                pipe = own.pipeline(transaction=True)
                pipe.get(KEY_GATEWAYS)
                pipe.hmget(KEY_GATEWAY_DETAILS, [gateway_ids[0], gateway_ids[-1]])
                payload, (first, last) = pipe.execute()
                seen.append(tuple(json.loads(body)["v"] for body in (payload, first, last)))
        except BaseException as error:  # re-raised below, in the test's thread
            failures.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    for version in range(1, 30):
        publish(version)
    stop.set()
    thread.join(timeout=10)
    if failures:
        raise failures[0]
    assert len({versions[0] for versions in seen}) > 1  # the reader did overlap the writer
    assert all(len(set(versions)) == 1 for versions in seen)


def test_a_document_sent_in_pieces_is_stored_as_one_body_with_its_twin_and_etag(client):
    """The big documents go to Redis a piece at a time (SET, APPENDs), their gzip twin and
    ETag computed on the way: the web must get exactly what the whole body would give."""
    items = [{"id": f"gw-{n}", "name": "Zürich <b>", "up": n % 3 == 0} for n in range(2000)]
    head = {"generated_at": 1.25, "summary": {"gateways": 2000}}
    whole = encode_json({**head, "gateways": items})
    rows = [["Zürich", f"gw,{n}"] for n in range(500)]
    with Publisher(client, interval=60, now=time.time()) as out:
        with out.document(Dataset.GATEWAYS, piece_bytes=1000) as document:
            write_json_document(document, head, "gateways", iter(items))
        with out.document(Dataset.ISPS_CSV, piece_bytes=100) as document:
            encoder = CsvEncoder(("site", "gateway"), document)
            for row in rows:
                encoder.add(row)
        assert out.commit() == 4
    expected = {
        Dataset.GATEWAYS: whole,
        Dataset.ISPS_CSV: _csv(("site", "gateway"), rows),
    }
    for dataset, body in expected.items():
        plain = read_served(client, dataset, gzip_ok=False)
        zipped = read_served(client, dataset, gzip_ok=True)
        assert plain is not None and zipped is not None
        assert plain.body == body and zipped.body == gzip_bytes(body)
        assert plain.etag == zipped.etag == etag_of(body)
        key = DATASET_KEYS[dataset]
        assert 0 < client.ttl(key) <= 180 and 0 < client.ttl(key + ":gz") <= 180


def test_a_transaction_is_invisible_until_exec_and_gone_without_it(client, redis_server):
    reader = redis_server.client()
    keys = [f"mist:test:{n}" for n in range(100)]
    with Transaction(client, batch_bytes=64) as transaction:
        for key in keys:
            transaction.set(key, b"x" * 50)
        assert transaction.commands == 100
        assert reader.exists(*keys) == 0  # sent to Redis in batches, queued there, not applied
        assert transaction.execute() == [b"OK"] * 100  # Redis's own replies, unconverted
    assert reader.exists(*keys) == 100
    reader.delete(*keys)
    with pytest.raises(RuntimeError), Transaction(client, batch_bytes=64) as left:
        for key in keys:
            left.set(key, b"x" * 50)
        raise RuntimeError("the encoding failed half way")
    assert reader.exists(*keys) == 0
    assert client.set("mist:test:after", b"1") and client.get("mist:test:after") == b"1"


def test_a_command_redis_refuses_aborts_the_whole_transaction(client, redis_server):
    with Transaction(client, batch_bytes=64) as transaction:
        transaction.set("mist:test:a", b"1")
        transaction.execute_command("SET", "mist:test:b")  # wrong number of arguments
        transaction.set("mist:test:c", b"1")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            transaction.execute()
    assert redis_server.client().exists("mist:test:a", "mist:test:c") == 0


def test_staging_batches_apply_in_order_with_one_batch_in_flight(client, redis_server):
    """Batches leaves each batch unanswered while the next is packed: every write still
    lands in order, a refused command is raised at execute() (after the rest applied),
    and the connection goes back to the pool with no reply left unread."""
    reader = redis_server.client()
    with Batches(client, batch_bytes=64) as batches:
        for n in range(300):
            batches.rpush("mist:test:order", str(n))
            if n == 150:
                batches.execute_command("SET", "mist:test:bad")  # wrong number of arguments
        with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
            batches.execute()
    assert reader.lrange("mist:test:order", 0, -1) == [str(n).encode() for n in range(300)]
    for _ in range(3):  # every pooled connection answers its own command, not a stale reply
        assert client.set("mist:test:after", b"1") and client.get("mist:test:after") == b"1"
        assert client.llen("mist:test:order") == 300


def test_lock_is_exclusive_renewable_and_released_only_by_its_owner(client):
    assert acquire_lock(client, "worker-a", 5)
    assert not acquire_lock(client, "worker-b", 5)
    assert renew_lock(client, "worker-a", 5)
    assert not renew_lock(client, "worker-b", 5)
    assert not release_lock(client, "worker-b")
    assert lock_owner(client) == "worker-a"
    assert release_lock(client, "worker-a")
    assert acquire_lock(client, "worker-b", 0.2)
    time.sleep(0.4)  # the lease lapses when its owner stops renewing
    assert acquire_lock(client, "worker-a", 5)


def test_data_survives_a_redis_crash_with_aof(client, redis_server):
    publish_version(client, 7, interval=600)
    etag = read_etag(client, Dataset.GATEWAYS)
    redis_server.kill()
    with pytest.raises(redis.RedisError):
        read_served(client, Dataset.GATEWAYS, gzip_ok=True)
    redis_server.start()
    served = read_served(client, Dataset.GATEWAYS, gzip_ok=False)
    assert served is not None and served.etag == etag
    assert json.loads(served.body)["generated_at"] == 7


def test_scan_keys_lists_our_keys_without_keys_command(client):
    publish_version(client, 1, interval=60)
    keys = set(scan_keys(client))
    assert {"mist:org", "mist:gateways", "mist:metadata:etags"} <= keys


def _csv(columns, rows) -> bytes:
    out = io.BytesIO()
    encoder = CsvEncoder(columns, out)
    for row in rows:
        encoder.add(row)
    return out.getvalue()


def _written(write, *args) -> bytes:
    out = io.BytesIO()
    write(out, *args)
    return out.getvalue()


def test_documents_encoded_item_by_item_are_byte_identical_to_one_go():
    """The worker encodes the big documents piece by piece; the page must not see a byte change."""
    gateways = [
        {"id": f"gw-{n}", "name": "Zürich <b>", "ports": [{"rx": 1.5, "up": None}]}
        for n in range(3)
    ]
    head = {"generated_at": 1.25, "summary": {"gateways": 3}}
    whole = encode_json({**head, "gateways": gateways})
    assert _written(write_json_document, head, "gateways", iter(gateways)) == whole
    assert _written(write_json_document, head, "gateways", []) == encode_json(
        {**head, "gateways": []}
    )
    members = {"gw-1:ge-0/0/0": {"rx_bps": 5}, "gw-2:ge-0/0/1": [1, "ü"]}
    encoded = [(key, encode_json(value)) for key, value in members.items()]
    assert _written(write_json_object, encoded) == encode_json(members)
    assert _written(write_json_object, []) == b"{}"


def test_csv_export_is_served_with_bom_gzip_twin_and_etag_in_the_snapshot(client):
    body = _csv(("site", "gateway"), [["Zürich", "gw,1"], ["Oslo", 'a"b']])
    assert body == '\ufeffsite,gateway\r\nZürich,"gw,1"\r\nOslo,"a""b"\r\n'.encode()
    publish_version(client, 1, interval=60, export_csv=body)
    plain = read_served(client, Dataset.EXPORT_CSV, gzip_ok=False)
    zipped = read_served(client, Dataset.EXPORT_CSV, gzip_ok=True)
    assert plain is not None and zipped is not None
    assert plain.body == body and gzip.decompress(zipped.body) == body
    assert plain.etag == zipped.etag == read_etag(client, Dataset.EXPORT_CSV)
    assert client.get(KEY_EXPORT_CSV) is None, "stored as gzip alone (GZIP_ONLY)"
    assert 0 < client.ttl(KEY_EXPORT_CSV + ":gz") <= 180


def test_a_staged_refresh_is_invisible_until_its_switch_and_leaves_no_staging_keys(client):
    """Readers keep the previous snapshot while the next is written (Redis serves them
    between the staging batches); the switch makes all of it live at once."""
    publish_version(client, 1, interval=60)
    with Publisher(client, interval=60, now=time.time(), batch_bytes=64) as out:
        for dataset, document in documents(2).items():
            out.served_json(dataset, document)
        out.gateway(GATEWAY_ID, b'{"v":2}')
        out.peer_paths(GATEWAY_ID, b'[{"v":2}]')
        out.staging.execute()  # every staged batch is in Redis now, nothing switched
        served = read_served(client, Dataset.GATEWAYS, gzip_ok=False)
        assert served is not None and json.loads(served.body)["generated_at"] == 1
        assert read_gateway(client, GATEWAY_ID) is None
        assert any(key.startswith("mist:staged:") for key in scan_keys(client))
    with Publisher(client, interval=60, now=time.time()) as out:
        for dataset, document in documents(2).items():
            out.served_json(dataset, document)
        out.gateway(GATEWAY_ID, b'{"v":2}')
        out.peer_paths(GATEWAY_ID, b'[{"v":2}]')
        out.commit()
    served = read_served(client, Dataset.GATEWAYS, gzip_ok=False)
    assert served is not None and json.loads(served.body)["generated_at"] == 2
    assert read_gateway(client, GATEWAY_ID) == b'{"v":2}'
    assert read_gateway_peer_paths(client, GATEWAY_ID) == b'[{"v":2}]'
    assert client.get(f"mist:vpn_peers:{GATEWAY_ID}-4c96144f0a10") == b'[{"v":2}]'  # the seed key
    assert not [key for key in scan_keys(client) if key.startswith("mist:staged:")]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_encode_json_refuses_what_is_not_standard_json(value: float) -> None:
    """The browser's JSON.parse rejects a whole document for one NaN: never store one."""
    with pytest.raises(ValueError, match="JSON compliant"):
        encode_json({"gateways": [{"latency": value}]})


def _served_org(client: redis.Redis) -> dict:
    served = read_served(client, Dataset.ORG, gzip_ok=False)
    assert served is not None
    return json.loads(served.body)


def test_a_worker_whose_lease_was_taken_cannot_switch_its_staged_refresh_live(client):
    publish_version(client, 1, interval=60)
    assert acquire_lock(client, "worker-a", 30)
    out = Publisher(client, interval=60, now=time.time(), owner="worker-a")
    for dataset, document in documents(2).items():
        out.served_json(dataset, document)
    client.set("mist:lock:worker", "worker-b")  # a-paused: its lease lapsed, b took it
    with pytest.raises(LeaseLost):
        out.commit()
    out.staging.close()
    assert _served_org(client)["name"].startswith("Org v1 ")
    assert lock_owner(client) == "worker-b"


def test_a_lease_taken_between_watch_and_exec_applies_nothing(client, redis_server):
    assert acquire_lock(client, "worker-a", 30)
    other = redis_server.client()
    with Transaction(client, fence=("mist:lock:worker", "worker-a")) as switch:
        switch.set("mist:fenced", "a")
        assert release_lock(other, "worker-a") and acquire_lock(other, "worker-b", 30)
        with pytest.raises(redis.WatchError):
            switch.execute()
    assert other.get("mist:fenced") is None


def test_our_own_heartbeat_renewing_mid_switch_costs_a_retry_not_the_publish(
    client, redis_server, monkeypatch
):
    assert acquire_lock(client, "worker-a", 30)
    other = redis_server.client()
    tries: list[str] = []

    class RenewedMidSwitch(Transaction):
        def _watch(self, key: str, owner: str) -> None:
            super()._watch(key, owner)
            tries.append(owner)
            if len(tries) == 1:  # the heartbeat thread renews between WATCH and EXEC
                assert renew_lock(other, owner, 30)

    monkeypatch.setattr(publisher_module, "Transaction", RenewedMidSwitch)
    with Publisher(client, interval=60, now=time.time(), owner="worker-a") as out:
        out.served_json(Dataset.ORG, {"v": 3})
        out.commit()
    assert tries == ["worker-a", "worker-a"]
    assert _served_org(client) == {"v": 3}
