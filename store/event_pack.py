"""The worker's write of an org's events: recent ones in the sorted set, closed hours packed
into blocks (store/event_blocks.py), and the trims by age and count (DATA.md §3.8).

Everything older than `until` (an hour line) is in blocks, everything from it on in the set,
so a reader goes newest first through the set and then the blocks without merging the two.
An hour is packed once it closed GRACE ago; an event told later than that (Mist's record
after a long stop) goes straight into its hour's block, repacked with it. Trims drop whole
blocks and mark the oldest block's oldest rows as cut; nothing is rewritten to trim.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from store.codec import encode_json
from store.event_blocks import Block, encode_block, time_ms
from store.event_catalog import CatalogWriter, catalog_writer
from store.histories import as_bytes
from store.keys import event_blocks_key, events_key

HOUR = 3600
GRACE = 600  # an hour is packed this long after it closed (Mist tells events late)
PACK_HOURS = 24  # hours packed by one write at most (a large backlog packs over several)
META = "meta"
TAB = b"\t"
HEAD_FIELDS = ("type", "severity", "site_id", "gateway_id")


@dataclass
class Meta:
    """What the blocks hold: rows per hour, the line below which everything is packed (ms)
    and the cut (the oldest block's rows a trim removed: hour, rows)."""

    until: int = 0
    counts: dict[int, int] = field(default_factory=dict)
    cut: tuple[int, int] = (0, 0)

    def visible(self, hour: int) -> int:
        """Rows of `hour`'s block a reader sees."""
        return self.counts.get(hour, 0) - (self.cut[1] if self.cut[0] == hour else 0)

    def total(self) -> int:
        return sum(self.visible(hour) for hour in self.counts)

    def encode(self) -> bytes:
        counts = {str(hour): n for hour, n in self.counts.items()}
        return encode_json({"until": self.until, "counts": counts, "cut": list(self.cut)})


def read_meta(client: redis.Redis, org_id: str) -> Meta:
    """The org's blocks as the last write left them (empty: none packed yet)."""
    raw = client.hget(event_blocks_key(org_id), META)
    if raw is None:
        return Meta()
    document = json.loads(as_bytes(raw))
    counts = {int(hour): int(n) for hour, n in document["counts"].items()}
    return Meta(int(document["until"]), counts, (int(document["cut"][0]), int(document["cut"][1])))


def member_event(member: bytes) -> dict[str, Any]:
    """The event a set member holds (its JSON behind the four-field head)."""
    return json.loads(member.split(TAB, 4)[4])


def sort_key(event: Mapping[str, Any], member: bytes) -> tuple[int, bytes]:
    """Stored order: time, then member bytes (the sorted set's order of a tie)."""
    return time_ms(event), member


@dataclass
class Plan:
    """One write: what the set gains and loses, the blocks written and dropped, the meta."""

    meta: Meta
    recent: list[Mapping[str, Any]]
    packed_below: int | None = None  # ms: the set's members under this went into blocks
    packed: int = 0  # how many members that is
    blocks: dict[int, bytes] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)
    catalog: CatalogWriter | None = None


def _pack_line(client: redis.Redis, org_id: str, meta: Meta, now: float) -> int:
    """Where `until` moves to (ms): the last hour that closed GRACE ago, at most PACK_HOURS
    past the set's oldest member."""
    line = int((now - GRACE) // HOUR * HOUR)
    if line * 1000 <= meta.until:
        return meta.until
    oldest: Any = client.zrange(events_key(org_id), 0, 0, withscores=True)
    if oldest:
        start = int(float(oldest[0][1]) // HOUR * HOUR)
        line = min(line, max(start, meta.until // 1000) + PACK_HOURS * HOUR)
    return max(meta.until, line * 1000)


def _repack(
    client: redis.Redis, org_id: str, plan: Plan, groups: dict[int, list[tuple[Any, bytes]]]
) -> None:
    """Each hour of `groups` (events with their members) packed, with its block's rows."""
    if not groups:
        return
    catalog = plan.catalog = catalog_writer(client, org_id)
    hours = sorted(groups)
    found: list[Any] = client.hmget(event_blocks_key(org_id), [str(hour) for hour in hours])
    entries: dict[int, list[Any]] | None = None
    for hour, raw in zip(hours, found, strict=True):
        rows = {member: event for event, member in groups[hour]}
        if raw is not None:
            entries = entries if entries is not None else catalog.entries()
            for event in Block(as_bytes(raw)).events(entries, entries):
                rows.setdefault(encode_member_bytes(event), event)
        ordered = sorted(rows.items(), key=lambda item: sort_key(item[1], item[0]))
        events = [event for _, event in ordered]
        plan.blocks[hour] = encode_block(events, hour, catalog.index, catalog.index)
        plan.meta.counts[hour] = len(events)


def encode_member_bytes(event: Mapping[str, Any]) -> bytes:
    """The set member of `event` (store.events.encode_member, here to avoid a cycle)."""
    head = TAB.join(str(event.get(name) or "").encode() for name in HEAD_FIELDS)
    return head + TAB + encode_json(event)


def _trim(client: redis.Redis, org_id: str, plan: Plan, line_ms: int, max_events: int) -> None:
    """Whole blocks older than the age line dropped, the oldest block's rows under it cut;
    then the oldest blocks dropped (or cut) while more than `max_events` are kept."""
    meta = plan.meta
    cut_hour, cut_rows = meta.cut
    for hour in sorted(meta.counts):
        if (hour + HOUR) * 1000 <= line_ms:
            plan.dropped.append(hour)
            del meta.counts[hour]
        elif hour * 1000 < line_ms:
            raw = plan.blocks.get(hour) or client.hget(event_blocks_key(org_id), str(hour))
            aged = bisect_left(Block(as_bytes(raw)).times, line_ms) if raw is not None else 0
            cut_rows = max(aged, cut_rows if cut_hour == hour else 0)
            cut_hour = hour
    meta.cut = (cut_hour, cut_rows) if cut_hour in meta.counts else (0, 0)
    recent = int(client.zcard(events_key(org_id))) - plan.packed + len(plan.recent)
    excess = recent + meta.total() - max_events
    for hour in sorted(meta.counts):
        if excess <= 0:
            break
        visible = meta.visible(hour)
        if excess >= visible:
            plan.dropped.append(hour)
            del meta.counts[hour]
            excess -= visible
        else:
            meta.cut = (hour, meta.counts[hour] - visible + excess)
            excess = 0
    if meta.cut[0] not in meta.counts:
        meta.cut = (0, 0)


def plan_write(
    client: redis.Redis,
    org_id: str,
    events: Sequence[Mapping[str, Any]],
    now: float,
    max_age: float,
    max_events: int,
) -> Plan:
    """Read what the write needs (the meta, the members to pack, the blocks to repack) and
    decide it; nothing is written here (queue_plan writes it in the caller's transaction)."""
    meta = read_meta(client, org_id)
    line_ms = round((now - max_age) * 1000)
    until = _pack_line(client, org_id, meta, now)
    groups: dict[int, list[tuple[Any, bytes]]] = {}
    plan = Plan(meta, [])
    if until > meta.until:
        found: Any = client.zrange(events_key(org_id), "-inf", f"({until / 1000!r}", byscore=True)
        for member in found:
            raw = as_bytes(member)
            stored = member_event(raw)
            groups.setdefault(time_ms(stored) // 1000 // HOUR * HOUR, []).append((stored, raw))
        plan.packed_below, plan.packed = until, len(found)
    meta.until = until
    for event in events:
        ms = time_ms(event)
        if ms < line_ms:
            continue  # already past the age line: never stored
        if ms >= until:
            plan.recent.append(event)
        else:
            member = encode_member_bytes(event)
            groups.setdefault(ms // 1000 // HOUR * HOUR, []).append((event, member))
    _repack(client, org_id, plan, groups)
    _trim(client, org_id, plan, line_ms, max_events)
    return plan


def queue_plan(pipe: Any, org_id: str, plan: Plan, line: float, max_events: int) -> None:
    """The plan's writes on `pipe`, the set's own trims by age and count after them."""
    key, blocks = events_key(org_id), event_blocks_key(org_id)
    if plan.catalog is not None:
        plan.catalog.queue(pipe)
    if plan.blocks:
        pipe.hset(blocks, mapping={str(hour): data for hour, data in plan.blocks.items()})
    if plan.dropped:
        pipe.hdel(blocks, *(str(hour) for hour in plan.dropped))
    if plan.packed_below is not None:
        pipe.zremrangebyscore(key, "-inf", f"({plan.packed_below / 1000!r}")
    if plan.recent:
        pipe.zadd(key, {encode_member_bytes(event): float(event["time"]) for event in plan.recent})
    pipe.zremrangebyscore(key, "-inf", f"({line!r}")
    pipe.zremrangebyrank(key, 0, -max_events - 1)
    pipe.hset(blocks, META, plan.meta.encode())
