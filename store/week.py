"""Each WAN port's 7-day volume (DATA.md §2 `mist:traffic:week`, §4).

A week's bytes need a port's whole history, which the usual refresh does not read (only the
home keys). The worker reckons the week whenever it reads a port whole (a new port, a
`:fine` trim about every 2 h, backfill) and keeps it here with the time it was reckoned;
the other refreshes take it back from here, with that time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import redis

from store.keys import KEY_WEEK_VOLUMES, WEEK_VOLUMES_TTL

Port = tuple[str, str]
WeekVolume = tuple[int | None, int | None, bool, float]
"""(rx bytes, tx bytes, partial: the history covers less than the week, reckoned at)."""

CHUNK = 1000  # fields per HMGET


def _field(port: Port) -> str:
    return f"{port[0]}:{port[1]}"


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def encode_week(volume: WeekVolume) -> str:
    """ "rx,tx,partial,at": short text, empty for an unknown direction."""
    rx, tx, partial, at = volume
    cells = ("" if rx is None else str(rx), "" if tx is None else str(tx))
    return f"{cells[0]},{cells[1]},{int(partial)},{at:.0f}"


def decode_week(raw: bytes | str) -> WeekVolume | None:
    """The stored text back; None for what does not read as one."""
    text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
    cells = text.split(",")
    if len(cells) != 4 or not cells[3].isdigit():
        return None
    return _number(cells[0]), _number(cells[1]), cells[2] == "1", float(cells[3])


def read_week_volumes(client: redis.Redis, ports: Sequence[Port]) -> dict[Port, WeekVolume]:
    """The stored 7-day volumes of these ports (those that have one)."""
    found: dict[Port, WeekVolume] = {}
    for start in range(0, len(ports), CHUNK):
        chunk = ports[start : start + CHUNK]
        values = client.hmget(KEY_WEEK_VOLUMES, [_field(port) for port in chunk])
        for port, raw in zip(chunk, values, strict=True):
            week = decode_week(raw) if raw else None
            if week is not None:
                found[port] = week
    return found


def write_week_volumes(client: redis.Redis, volumes: Mapping[Port, WeekVolume]) -> None:
    """Store the weeks reckoned this refresh (one HSET a chunk, the key's TTL renewed)."""
    items = [(_field(port), encode_week(volume)) for port, volume in volumes.items()]
    if not items:
        return
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(items), CHUNK):
        pipe.hset(KEY_WEEK_VOLUMES, mapping=dict(items[start : start + CHUNK]))
    pipe.expire(KEY_WEEK_VOLUMES, WEEK_VOLUMES_TTL)
    pipe.execute()
