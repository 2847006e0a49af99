"""store.publisher against a real redis-server: a publish never makes Redis free or copy a big
value in one command, so readers never wait behind it (issue 19), on a Redis configured as
we ship it and on a user's Redis without `lazyfree` alike."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from store.codec import encode_json, etag_of, gzip_member
from store.histories import HistoryWrite
from store.history_codec import RECORD
from store.keys import (
    DEFAULT_KEYSPACE,
    KEY_ETAGS,
    KEY_GATEWAY_DETAILS,
    KEY_GATEWAYS,
    KEY_LOCK,
    KEY_METRICS,
    KEY_ORG,
    KEY_PEER_PATH_DETAILS,
    LAST_GOOD_TTL,
    Dataset,
    history_key,
    last_good_key,
    staged_key,
)
from store.lease import LeaseLost
from store.pieces import manifest_of, read_pieces
from store.publisher import HISTORY_CHUNK_BYTES, Publisher
from store.reads import connect, read_document, read_gateway, read_served, scan_keys
from tests.fixtures.redis_server import RedisServer

GATEWAYS = [f"00000000-0000-0000-1000-{n:012x}" for n in range(300)]


@pytest.fixture
def plain_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A user's Redis: no lazyfree (the later arguments override the fixture's)."""
    server = RedisServer(
        tmp_path / "redis",
        extra=("--lazyfree-lazy-server-del", "no", "--lazyfree-lazy-user-del", "no"),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _publish(client: redis.Redis, version: int, gateways: list[str] = GATEWAYS) -> None:
    with Publisher(client, interval=60, now=time.time()) as out:
        for gateway_id in gateways:
            body = encode_json({"id": gateway_id, "v": version})
            out.gateway(gateway_id, body)
            out.peer_paths(gateway_id, b'[{"v":%d}]' % version)
        with out.document(Dataset.GATEWAYS, piece_bytes=512) as document:
            document.write(encode_json({"v": version, "pad": "x" * 4000}))
        out.commit()


def _monitored(server: RedisServer, action: threading.Thread) -> list[list[str]]:
    """Every command Redis ran while `action` ran, as argument lists (MONITOR)."""
    commands: list[list[str]] = []
    quiet = redis.Redis.from_url(server.url, socket_timeout=1)  # ends once Redis is idle
    with quiet.monitor() as monitor:
        action.start()
        while True:
            try:
                entry = monitor.next_command()
            except redis.TimeoutError:
                if not action.is_alive():
                    break
                continue
            commands.append(entry["command"].split(" "))
    action.join(timeout=30)
    return commands


def test_the_switch_renames_onto_free_names_only_and_copies_no_hash(plain_redis):
    """The old generation is UNLINKed (freed in the background) before each RENAME lands on
    its name, and the hashes' last-good copies are written field by field, never COPYed:
    no command of a publish frees or copies a big value, even without lazyfree."""
    client = connect(plain_redis.url)
    _publish(client, 1)
    publish = threading.Thread(target=_publish, args=(connect(plain_redis.url), 2))
    commands = _monitored(plain_redis, publish)
    free: set[str] = set()  # names UNLINKed or renamed away: nothing there to free
    renamed = []
    for command in commands:
        name = command[0].upper()
        if name == "UNLINK":
            free.update(argument.strip('"') for argument in command[1:])
        elif name == "RENAME":
            source, target = command[1].strip('"'), command[2].strip('"')
            renamed.append(target)
            assert target in free, f"RENAME onto {target} would free the old value in place"
            free.discard(target)
            free.add(source)
        assert name not in ("DEL", "FLUSHDB")
        if name == "COPY":
            assert command[1].strip('"') not in (
                staged_key(KEY_GATEWAY_DETAILS),
                staged_key(KEY_PEER_PATH_DETAILS),
            ), "a hash is COPYed in one long command"
    assert KEY_GATEWAYS in renamed and KEY_GATEWAY_DETAILS in renamed
    exec_at = max(n for n, command in enumerate(commands) if command[0].upper() == "EXEC")
    after = [command for command in commands[exec_at + 1 :] if command[0].upper() == "UNLINK"]
    assert after and all(len(command) == 2 for command in after), "retired keys freed one by one"
    assert not [key for key in scan_keys(client) if key.startswith("mist:staged:")]
    assert read_gateway(client, GATEWAYS[-1]) == encode_json({"id": GATEWAYS[-1], "v": 2})


def test_a_per_gateway_hash_is_its_own_last_good_copy_kept_as_long(client_of_redis):
    """One hash per concern, written once a refresh, kept for the last-good TTL: a gateway
    is read from it once the live snapshot around it is gone; an older worker's separate
    copy is freed by the next publish."""
    client = client_of_redis
    for key in (KEY_GATEWAY_DETAILS, KEY_PEER_PATH_DETAILS):
        client.hset(last_good_key(key), "an-older-workers-copy", b"{}")
    _publish(client, 1)
    _publish(client, 2, GATEWAYS[:10])  # gateways that left are gone from it
    for key in (KEY_GATEWAY_DETAILS, KEY_PEER_PATH_DETAILS):
        assert len(client.hkeys(key)) == 10
        assert 180 < client.ttl(key) <= LAST_GOOD_TTL  # 7 days, not the snapshot's
        assert not client.exists(last_good_key(key))
    assert not [key for key in scan_keys(client) if key.startswith("mist:staged:")]
    client.unlink(KEY_GATEWAYS, KEY_ETAGS)  # the live snapshot expired
    assert read_gateway(client, GATEWAYS[9]) == encode_json({"id": GATEWAYS[9], "v": 2})


def test_a_dead_workers_staged_leftovers_never_join_the_next_refresh(client_of_redis):
    client = client_of_redis
    for key in (KEY_GATEWAY_DETAILS, last_good_key(KEY_GATEWAY_DETAILS)):
        client.hset(staged_key(key), "gone-gateway", b"{}")
    client.set(staged_key(last_good_key(KEY_GATEWAYS)), b"leftover")
    _publish(client, 1, GATEWAYS[:3])
    assert sorted(client.hkeys(KEY_GATEWAY_DETAILS)) == sorted(g.encode() for g in GATEWAYS[:3])
    assert not client.exists(last_good_key(KEY_GATEWAY_DETAILS))
    assert client.get(last_good_key(KEY_GATEWAYS)) == client.get(KEY_GATEWAYS)


def test_big_history_rewrites_go_in_several_small_transactions(client_of_redis):
    """A week of samples rewritten on many ports at once is split into EXECs of about
    HISTORY_CHUNK_BYTES, each port's keys still together, every record stored."""
    client = client_of_redis
    per_port = HISTORY_CHUNK_BYTES // 3 // RECORD.size + 1  # three ports fill a transaction
    ports = [(GATEWAYS[n], "ge-0/0/0") for n in range(12)]
    fine = b"".join(RECORD.pack(1_700_000_000 + i, 1.0, 2.0) for i in range(per_port))
    before = _calls(client, "exec")
    with Publisher(client, interval=60, now=time.time()) as out:
        for port in ports:
            out.history_write(port, HistoryWrite(expires_at=int(time.time()) + 3600, fine=fine))
        out.served_json(Dataset.ORG, {"v": 1})
        out.commit()
    assert _calls(client, "exec") - before >= 4 + 1  # ≥ 4 history transactions and the switch
    for port in ports:
        assert client.llen(history_key(*port) + ":fine") == per_port


def _calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


@pytest.fixture
def client_of_redis(redis_server) -> redis.Redis:
    return connect(redis_server.url)


def test_another_staged_value_is_switched_with_the_snapshot_and_its_old_one_retired(
    client_of_redis,
):
    """An org's own state staged by its module goes live at the switch, its old value
    moved aside and UNLINKed after the EXEC; a first publish (no old value) works too."""
    client = client_of_redis
    for version in (1, 2):
        with Publisher(client, interval=60, now=time.time()) as out:
            out.staging.set(staged_key("mist:events:org-1:state"), b"state %d" % version)
            out.switch_value("mist:events:org-1:state")
            out.served_json(Dataset.ORG, {"v": version})
            out.commit()
        assert client.get("mist:events:org-1:state") == b"state %d" % version
        assert not [key for key in scan_keys(client) if key.startswith("mist:staged:")]


def _publish_document(client: redis.Redis, body: bytes, piece_bytes: int = 1000) -> None:
    with Publisher(client, interval=60, now=time.time(), piece_bytes=piece_bytes) as out:
        with out.document(Dataset.GATEWAYS) as document:
            for start in range(0, len(body), 700):  # written in odd slices, as the worker does
                document.write(body[start : start + 700])
        out.served_json(Dataset.ORG, {"v": 1})
        out.commit()


def _document(version: int, size: int = 10_000) -> bytes:
    return (b"# metrics v%d\n" % version + bytes(range(32, 127)) * (size // 95))[:size]


def test_a_big_document_is_stored_in_pieces_no_command_grows_or_copies(plain_redis):
    """No piece above the bound, no APPEND, no COPY of the document: the web still serves
    the whole body, its gzip twin and its ETag, live and from the last-good copy."""
    client = connect(plain_redis.url)
    body = _document(2)
    publish = threading.Thread(target=_publish_document, args=(connect(plain_redis.url), body))
    commands = _monitored(plain_redis, publish)
    names = [command[0].upper() for command in commands]
    assert "APPEND" not in names
    copied = [command[1].strip('"') for command in commands if command[0].upper() == "COPY"]
    assert staged_key(KEY_GATEWAYS) not in copied and staged_key(KEY_ORG) in copied
    assert all(client.strlen(key.replace("staged:", "")) <= 1000 for key in copied), "small"
    pieces = [key for key in scan_keys(client) if key.startswith("mist:pieces:")]
    assert len(pieces) >= 10 and all(client.strlen(key) <= 1000 for key in pieces)
    assert client.ttl(pieces[0]) > 180, "the last-good manifest names them for 7 days"
    assert client.get(last_good_key(KEY_GATEWAYS)) == client.get(KEY_GATEWAYS)
    served = read_served(client, Dataset.GATEWAYS, gzip_ok=False)
    zipped = read_served(client, Dataset.GATEWAYS, gzip_ok=True)
    assert served is not None and zipped is not None
    assert served.body == body == read_document(client, KEY_GATEWAYS)
    assert gzip.decompress(zipped.body) == body and served.etag == etag_of(body) == zipped.etag
    client.delete(KEY_GATEWAYS, KEY_GATEWAYS + ":gz", KEY_ETAGS)  # the live snapshot expired
    assert read_document(client, last_good_key(KEY_GATEWAYS)) == body
    last_good = read_served(client, Dataset.GATEWAYS, gzip_ok=True)
    assert last_good is not None and gzip.decompress(last_good.body) == body


def test_the_old_generations_pieces_go_a_piece_a_command_after_the_switch(plain_redis):
    client = connect(plain_redis.url)
    _publish_document(client, _document(1))
    old = {key for key in scan_keys(client) if key.startswith("mist:pieces:")}
    publish = threading.Thread(
        target=_publish_document, args=(connect(plain_redis.url), _document(2))
    )
    commands = _monitored(plain_redis, publish)
    exec_at = max(n for n, command in enumerate(commands) if command[0].upper() == "EXEC")
    freed = [command for command in commands[exec_at + 1 :] if command[0].upper() == "UNLINK"]
    assert all(len(command) == 2 for command in freed)
    assert old <= {command[1].strip('"') for command in freed}
    now = {key for key in scan_keys(client) if key.startswith("mist:pieces:")}
    assert now and not now & old
    assert read_document(client, KEY_GATEWAYS) == _document(2)


def test_a_reader_never_joins_pieces_of_two_generations(client_of_redis):
    """A reader that read the manifest before a switch finds its pieces retired and reads
    the new manifest: the whole new document, never a mix."""
    client = client_of_redis
    _publish_document(client, _document(1))
    stale = manifest_of(client.get(KEY_GATEWAYS))
    assert stale is not None and read_pieces(client, stale) == _document(1)
    _publish_document(client, _document(2))
    assert read_pieces(client, stale) is None, "the old generation is gone whole"
    served = read_served(client, Dataset.GATEWAYS, gzip_ok=False)
    assert served is not None and served.body == _document(2)


def test_a_failed_switch_leaves_no_pieces_behind(client_of_redis):
    client = client_of_redis
    client.set(KEY_LOCK, b"worker-b")  # another worker holds the lease
    with (
        pytest.raises(LeaseLost),
        Publisher(client, interval=60, now=time.time(), owner="worker-a", piece_bytes=500) as out,
    ):
        with out.document(Dataset.GATEWAYS) as document:
            document.write(_document(1))
        out.commit()
    assert not [key for key in scan_keys(client) if key.startswith("mist:pieces:")]
    assert client.get(KEY_GATEWAYS) is None


def test_the_exposition_is_stored_as_gzip_alone_and_an_older_workers_plain_bytes_go(
    client_of_redis,
):
    """/metrics' datasets keep only their gzip twin (GZIP_ONLY): the plain text an older
    worker stored, in pieces and as its last-good copy, is freed by the next publish."""
    client = client_of_redis
    old = Publisher(client, interval=60, now=time.time(), piece_bytes=1000)
    with old:
        writer = old.pieces(KEY_METRICS, 1000)
        writer.write(_document(1))
        old.finish(writer)
        old.served_json(Dataset.ORG, {"v": 1})
        old.commit()
    assert manifest_of(client.get(last_good_key(KEY_METRICS))) is not None
    leftovers = {key for key in scan_keys(client) if key.startswith("mist:pieces:")}
    assert leftovers
    body = _document(2, size=50_000)
    with Publisher(client, interval=60, now=time.time(), piece_bytes=1000) as out:
        with out.document(Dataset.METRICS, gzip_level=1) as document:
            document.write(body)
        out.commit()
    assert client.get(KEY_METRICS) is None and client.get(last_good_key(KEY_METRICS)) is None
    assert not leftovers & set(scan_keys(client)), "the older plain pieces are freed"
    served = read_served(client, Dataset.METRICS, gzip_ok=True)
    assert served is not None and served.gzipped and gzip.decompress(served.body) == body
    assert served.etag == etag_of(served.body), "the ETag of the bytes stored: the gzip"

    assert client.get(KEY_METRICS) is None


def test_gzip_members_made_once_go_into_both_formats_and_read_as_one_stream(client_of_redis):
    """/metrics' two formats take the same samples' gzip member (compressed once) between
    headers of their own: each reads back, members and all, as its whole text, and each
    ETag follows its own stored bytes."""
    client = client_of_redis
    samples = _document(3, size=40_000)
    member = gzip_member(samples, 1)
    with Publisher(client, interval=60, now=time.time(), piece_bytes=1000) as out:
        for dataset, header in (
            (Dataset.METRICS, b"# text\n"),
            (Dataset.METRICS_OPENMETRICS, b"# om\n"),
        ):
            with out.document(dataset, gzip_level=1) as document:
                document.write(header)
                document.write_member(member)
                document.write_member(member)
                document.write(b"# EOF\n")
        with pytest.raises(ValueError), out.document(Dataset.ORG) as plain:
            plain.write_member(member)  # a plain copy would need the text
        out.commit()
    text = read_served(client, Dataset.METRICS, gzip_ok=True)
    openmetrics = read_served(client, Dataset.METRICS_OPENMETRICS, gzip_ok=True)
    assert text is not None and openmetrics is not None
    assert gzip.decompress(text.body) == b"# text\n" + samples + samples + b"# EOF\n"
    assert gzip.decompress(openmetrics.body) == b"# om\n" + samples + samples + b"# EOF\n"
    assert text.body.count(member) == openmetrics.body.count(member) == 2
    assert text.etag == etag_of(text.body) != openmetrics.etag == etag_of(openmetrics.body)
    inflated = read_served(client, Dataset.METRICS, gzip_ok=False)
    assert inflated is not None and inflated.body == gzip.decompress(text.body)


def test_batched_details_store_every_field_in_the_hash_kept_as_its_last_good(client_of_redis):
    """Publisher.details (several gateways to an HSET): every field in the one hash, kept
    for the last-good TTL, a leftover of a dead worker dropped, a key counted per gateway."""
    client = client_of_redis
    key = DEFAULT_KEYSPACE.availability_details
    bodies = {gateway_id: b'{"g":"%s"}' % gateway_id.encode() for gateway_id in GATEWAYS}
    client.hset(staged_key(key), "gone-gateway", b"{}")  # a dead worker's leftover
    with Publisher(client, interval=60, now=time.time()) as out:
        out.details(key, dict(list(bodies.items())[:120]))
        out.details(key, {})
        out.details(key, dict(list(bodies.items())[120:]))
        written = out.written
        out.served(Dataset.ORG, b"{}")  # the switch writes the ETags: one at least
        out.commit()
    assert written == len(GATEWAYS)
    assert not client.exists(last_good_key(key))
    assert 180 < client.ttl(key) <= LAST_GOOD_TTL
    assert client.hgetall(key) == {g.encode(): b for g, b in bodies.items()}
