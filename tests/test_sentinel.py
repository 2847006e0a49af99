"""Redis through Sentinel, for real (redis-server and redis-sentinel on loopback): the
worker writes to whichever node is master now, the web reads the master or a replica, a
failover loses no published snapshot and mixes none, and no Sentinel at all is a quick 503."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

import app as web
from store.keys import Dataset
from store.reads import connect, read_served
from tests.fixtures.ports import wait_until
from tests.fixtures.store_data import documents, publish_version


def _versions(client: redis.Redis) -> set[object]:
    """The versions the served documents name: one when the snapshot is whole."""
    found: set[object] = set()
    for dataset in (Dataset.ORG, Dataset.SITES, Dataset.GATEWAYS):
        served = read_served(client, dataset, gzip_ok=False)
        assert served is not None
        document = json.loads(served.body)
        if dataset is Dataset.ORG:
            found.add(int(document["name"].split()[1][1:]))
        elif dataset is Dataset.SITES:
            found.add(document[0]["v"])
        else:
            found.add(document["generated_at"])
    return found


def test_the_worker_writes_to_the_master_and_the_web_reads_a_replica(sentinel_cluster):
    worker = connect("redis://127.0.0.1:1/0", sentinel=sentinel_cluster.settings())
    reader = connect("redis://127.0.0.1:1/0", sentinel=sentinel_cluster.settings(), replica=True)
    publish_version(worker, 1, interval=60)
    assert _master_port(worker) == sentinel_cluster.master.port
    wait_until(lambda: _versions(reader) == {1}, what="the snapshot on a replica")
    replica_ports = {r.port for r in sentinel_cluster.replicas}
    assert reader.info("server")["tcp_port"] in replica_ports
    with pytest.raises(redis.ReadOnlyError):
        reader.set("mist:written-by-the-web", "no")


def _master_port(client: redis.Redis) -> int:
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    return int(pool.get_master_address()[1])


def _get(client, path: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = client.get(path)
    return response.status_code, response.get_json(), time.monotonic() - started


def test_no_sentinel_answering_is_a_quick_503_json_and_the_web_retries(sentinel_cluster):
    publish_version(connect("redis://x:1/0", sentinel=sentinel_cluster.settings()), 1, interval=60)
    settings = sentinel_cluster.settings(read_from_replicas=True)
    app = web.create_app({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_SENTINEL": settings})
    client = app.test_client()
    wait_until(lambda: client.get("/api/organization").status_code == 200, what="a replica")
    for sentinel in sentinel_cluster.sentinels:
        sentinel.stop()
    for node in (sentinel_cluster.master, *sentinel_cluster.replicas):
        node.kill()  # the pooled connections break: the client must ask a Sentinel again
    for path in ("/api/organization", "/api/gateways", "/api/status", "/health"):
        status, body, seconds = _get(client, path)
        assert status == 503 and body["status"] == 503 and "error" in body, (path, body)
        assert seconds < 5, f"{path} took {seconds:.1f} s to say 503"
    for node in (sentinel_cluster.master, *sentinel_cluster.replicas):
        node.start()
    for sentinel in sentinel_cluster.sentinels:
        sentinel.start()
    wait_until(
        lambda: client.get("/api/organization").status_code == 200, 30, "the web to answer again"
    )


def test_a_failover_loses_no_snapshot_mixes_none_and_the_web_keeps_answering(sentinel_cluster):
    settings = sentinel_cluster.settings()
    worker = connect("redis://127.0.0.1:1/0", timeout=30.0, sentinel=settings)
    publish_version(worker, 1, interval=60)
    assert worker.execute_command("WAIT", 2, 2000) == 2  # both replicas have it
    app = web.create_app({"REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_SENTINEL": settings})
    client = app.test_client()
    seen: list[tuple[int, float, Any]] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            status, body, seconds = _get(client, "/api/organization")
            seen.append((status, seconds, body.get("name") if status == 200 else body))

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        killed_at = time.monotonic()
        sentinel_cluster.master.kill()
        wait_until(
            lambda: sentinel_cluster.master_port() != sentinel_cluster.master.port,
            30,
            "a replica promoted",
        )
        promoted = sentinel_cluster.master_port()
        assert _versions(sentinel_cluster.node(promoted).client()) == {1}  # nothing lost
        wait_until(lambda: publish_version(worker, 2, interval=60) > 0, 30, "a publish")
        assert time.monotonic() - killed_at < 30
        assert _master_port(worker) == promoted
        wait_until(lambda: seen[-1][2] == documents(2)[Dataset.ORG]["name"], 15, "version 2")
    finally:
        stop.set()
        poller.join(timeout=30)
    assert all(seconds < 10 for _, seconds, _ in seen), "a request hung"
    names = {documents(v)[Dataset.ORG]["name"] for v in (1, 2)}
    for status, _, body in seen:
        assert (status == 200 and body in names) or (status == 503 and body["status"] == 503)
    assert _versions(connect("redis://x:1/0", sentinel=settings)) == {2}
