"""The fixtures themselves: a test that needs Redis gets a real, isolated, durable one."""

import pytest

from tests.fixtures import redis_server
from tests.fixtures.ports import free_port
from tests.fixtures.redis_server import RedisServer


def test_redis_server_is_real_and_survives_sigkill_with_aof(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.set("mist:probe", b"kept")
    redis_server.kill()
    redis_server.start()
    assert redis_server.client().get("mist:probe") == b"kept"


def test_a_port_taken_before_the_bind_moves_to_another(tmp_path, monkeypatch) -> None:
    """free_port() and the bind race: the Redis that answers must be the one we started."""
    squatter = RedisServer(tmp_path / "squatter")
    squatter.start()
    try:
        taken = iter([squatter.port])
        monkeypatch.setattr(redis_server, "free_port", lambda: next(taken, free_port()))
        ours = RedisServer(tmp_path / "ours")
        ours.start()
        try:
            assert ours.port != squatter.port
            assert ours.process is not None and ours.process.poll() is None
            assert int(ours.client().info("server")["process_id"]) == ours.process.pid
        finally:
            ours.stop()
    finally:
        squatter.stop()


def test_a_restart_whose_port_was_taken_fails_naming_it(tmp_path) -> None:
    """A restart keeps its port (clients hold the URL): another Redis there is no success."""
    server = RedisServer(tmp_path / "ours")
    server.start()
    port = server.port
    server.kill()
    squatter = RedisServer(tmp_path / "squatter", port=port)
    squatter.start()
    try:
        with pytest.raises(TimeoutError, match=f"127.0.0.1:{port}"):
            server.start(timeout=2)
        assert server.port == port
    finally:
        server.stop()
        squatter.stop()
