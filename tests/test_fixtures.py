"""The fixtures themselves: a test that needs Redis gets a real, isolated, durable one."""

from tests.fixtures.redis_server import RedisServer


def test_redis_server_is_real_and_survives_sigkill_with_aof(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.set("mist:probe", b"kept")
    redis_server.kill()
    redis_server.start()
    assert redis_server.client().get("mist:probe") == b"kept"
