"""The fixtures themselves: a test that needs Redis gets a real, isolated, durable one."""

import pytest

from tests.fixtures import redis_server, web_server
from tests.fixtures.ports import free_port
from tests.fixtures.redis_server import RedisServer
from tests.fixtures.web_server import start_web_server


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


def test_a_web_port_taken_before_gunicorn_binds_moves_to_another(
    tmp_path, monkeypatch, redis_server: RedisServer
) -> None:
    """Another gunicorn serving our app on the chosen port must not pass for ours."""
    squatter = start_web_server(redis_server.url, tmp_path / "squatter")
    try:
        taken = iter([squatter.port])
        monkeypatch.setattr(web_server, "free_port", lambda: next(taken, free_port()))
        ours = start_web_server(redis_server.url, tmp_path / "ours")
        try:
            assert ours.port != squatter.port
            assert f"Listening at: {ours.url} ({ours.process.pid})" in ours.output()
            assert ours.get("/health").status_code in (200, 503)
        finally:
            ours.stop()
    finally:
        squatter.stop()
