"""The worker lease: only the worker holding `mist:lock:worker` may spend Mist tokens, and
only its holder may switch a refresh live (the publish is fenced on it, DATA.md §2)."""

from __future__ import annotations

import redis

from store.histories import as_bytes
from store.keys import KEY_LOCK


class LeaseLost(Exception):
    """The lease is another worker's (or nobody's): this worker must not publish."""


_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def acquire_lock(client: redis.Redis, owner: str, lease_seconds: float) -> bool:
    """Take the lease that allows spending tokens, or renew it when we already hold it."""
    lease_ms = int(lease_seconds * 1000)
    if client.set(KEY_LOCK, owner, nx=True, px=lease_ms):
        return True
    return renew_lock(client, owner, lease_seconds)


def renew_lock(client: redis.Redis, owner: str, lease_seconds: float) -> bool:
    """Extend our lease only if it is still ours (compare-and-renew in Lua)."""
    return bool(client.eval(_RENEW, 1, KEY_LOCK, owner, int(lease_seconds * 1000)))


def release_lock(client: redis.Redis, owner: str) -> bool:
    """Give the lease back if it is ours, so a standby worker takes over at once."""
    return bool(client.eval(_RELEASE, 1, KEY_LOCK, owner))


def lock_owner(client: redis.Redis) -> str | None:
    owner = client.get(KEY_LOCK)
    return None if owner is None else as_bytes(owner).decode()
