"""Reading an org's events newest first: the recent sorted set, then the packed blocks
(store/event_pack.py keeps every block older than every member of the set, so the two are
read one after the other, never merged). A position is (time, events at that time already
read), the same in both, so a cursor made in the set still holds once its hour is packed.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import islice
from typing import Any

import redis

from store.codec import encode_json
from store.event_blocks import Block
from store.event_catalog import CatalogReader
from store.event_pack import HOUR, read_meta
from store.histories import as_bytes
from store.keys import event_blocks_key, events_key

TAB = b"\t"
Position = tuple[float, int]  # (time, events at that time already read)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the web reads it: the filter facts and the JSON to send as is."""

    time: float
    type: str
    severity: str
    site_id: str
    gateway_id: str
    body: bytes


def decode_member(member: bytes, score: float) -> StoredEvent:
    """A set member split into its head and its JSON (nothing decoded but the head)."""
    kind, severity, site_id, gateway_id, body = member.split(TAB, 4)
    return StoredEvent(
        score, kind.decode(), severity.decode(), site_id.decode(), gateway_id.decode(), body
    )


@dataclass(frozen=True)
class Filter:
    """Which events a page keeps (empty: any)."""

    types: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    site: str | None = None
    gateway: str | None = None

    def keeps(self, kind: str, severity: str) -> bool:
        return (not self.types or kind in self.types) and (
            not self.severities or severity in self.severities
        )

    def matches(self, event: StoredEvent) -> bool:
        return (
            self.keeps(event.type, event.severity)
            and (self.site is None or event.site_id == self.site)
            and (self.gateway is None or event.gateway_id == self.gateway)
        )


@dataclass
class Search:
    """One page being read: where it is, what it found, how much it read."""

    newest: float
    skip: int
    oldest: float
    limit: int
    budget: int  # events it may still read before it answers with what it has
    found: list[StoredEvent]

    def full(self) -> bool:
        return len(self.found) >= self.limit or self.budget <= 0


def read_recent(
    client: redis.Redis, org_id: str, *, newest: float, oldest: float, skip: int, count: int
) -> list[StoredEvent]:
    """Up to `count` members of the set with oldest ≤ time ≤ newest, newest first, after
    skipping `skip`."""
    found: Any = client.zrange(
        events_key(org_id), newest, oldest, desc=True, byscore=True, offset=skip, num=count,
        withscores=True,
    )  # fmt: skip
    return [decode_member(as_bytes(member), float(score)) for member, score in found]


FILTER_SCRIPT = """
local rows = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2], 'BYSCORE', 'REV',
  'LIMIT', ARGV[3], ARGV[4], 'WITHSCORES')
local types, severities, site, gateway = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local wanted, out, read = tonumber(ARGV[5]), {}, 0
for i = 1, #rows, 2 do
  local m = rows[i]
  read = read + 1
  local a = string.find(m, '\t', 1, true)
  local b = string.find(m, '\t', a + 1, true)
  local c = string.find(m, '\t', b + 1, true)
  local d = string.find(m, '\t', c + 1, true)
  if (types == '' or string.find(types, ',' .. string.sub(m, 1, a - 1) .. ',', 1, true))
    and (severities == ''
      or string.find(severities, ',' .. string.sub(m, a + 1, b - 1) .. ',', 1, true))
    and (site == '' or string.sub(m, b + 1, c - 1) == site)
    and (gateway == '' or string.sub(m, c + 1, d - 1) == gateway) then
    out[#out + 1] = m
    out[#out + 1] = rows[i + 1]
    if #out >= 2 * wanted then break end
  end
end
local last, same = '', 0
if read > 0 then
  last = rows[2 * read]
  local j = read
  while j > 0 and rows[2 * j] == last do same = same + 1; j = j - 1 end
end
return {read, #rows / 2, last, same, out}
"""  # the set's members filtered by their head in Redis: only the matches cross the wire
BATCH = 5000  # members one call of the script reads at most


def _listed(values: frozenset[str]) -> str:
    return "," + ",".join(sorted(values)) + "," if values else ""


def _recent(client: redis.Redis, org_id: str, flt: Filter, search: Search) -> bool:
    """The set's part of the page; True when the set holds nothing older in range."""
    while not search.full():
        args: list[str | int] = [
            repr(float(search.newest)), repr(float(search.oldest)), search.skip,
            min(BATCH, search.budget), search.limit - len(search.found), _listed(flt.types),
            _listed(flt.severities), flt.site or "", flt.gateway or "",
        ]  # fmt: skip
        # EVAL_RO: the web's Redis user may read (ACL `+eval_ro`, keys `%R~mist:*`), no more
        answer = client.eval_ro(FILTER_SCRIPT, 1, events_key(org_id), *args)
        read, total, last, same, out = answer
        for n in range(0, len(out), 2):
            search.found.append(decode_member(as_bytes(out[n]), float(out[n + 1])))
        if read:
            if float(last) == search.newest:
                search.skip += int(read)
            else:
                search.newest, search.skip = float(last), int(same)
        search.budget -= int(read)
        if total < min(BATCH, search.budget + read) and read == total:
            return True
    return False


def _step(search: Search, time: float) -> None:
    """The position moves past one event read at `time`."""
    if time == search.newest:
        search.skip += 1
    else:
        search.newest, search.skip = time, 1


class BlockReader:
    """Rows of one block, newest first, matched and built into events."""

    def __init__(self, catalog: CatalogReader, client: redis.Redis, org_id: str) -> None:
        self.catalog, self.client, self.org_id = catalog, client, org_id

    def read(
        self, block: Block, lowest: int, flt: Filter, subjects: frozenset[int] | None, s: Search
    ) -> bool:
        """Rows from the search's position down to row `lowest`; True when it went past
        `oldest` (nothing older can match)."""
        times = block.times
        top = block.rows_until(math.inf if math.isinf(s.newest) else round(s.newest * 1000))
        if not math.isinf(s.newest) and top and times[top - 1] == round(s.newest * 1000):
            # the page before sent the first `skip` events at its last time
            top -= min(s.skip, top - bisect_left(times, times[top - 1]))
        floor = bisect_left(times, round(s.oldest * 1000), lowest)
        bottom = max(floor, top - s.budget)
        wanted = s.limit - len(s.found)
        kinds = {n for n, kind in enumerate(block.kinds) if flt.keeps(kind[0], kind[1])}
        k, subject = block.columns["k"], block.columns["s"]
        chosen = list(
            islice(
                (
                    i
                    for i in range(top - 1, bottom - 1, -1)
                    if k[i] in kinds and (subjects is None or subject[i] in subjects)
                ),
                wanted,
            )
        )
        last = chosen[-1] if len(chosen) == wanted else bottom
        if last < top:  # rows were read: the position moves to the last one
            s.newest = times[last] / 1000
            s.skip = bisect_right(times, times[last]) - last
            s.budget -= top - last
        s.found += self._build(block, chosen)
        return len(chosen) < wanted and bottom == floor and floor > lowest

    def _build(self, block: Block, rows: list[int]) -> list[Any]:
        if not rows:
            return []
        peers = [p for p in (block.peer_index(i) for i in rows) if p is not None]
        entries = self.catalog.entries(
            self.client, self.org_id, [block.row(i).subject for i in rows] + peers
        )
        built = []
        for index in rows:
            event = block.event(index, entries, entries)
            site, gateway = event["site_id"] or "", event["gateway_id"] or ""
            body = encode_json(event)
            built.append(
                StoredEvent(event["time"], event["type"], event["severity"], site, gateway, body)
            )
        return built


def _blocks(
    client: redis.Redis, org_id: str, flt: Filter, search: Search, catalog: CatalogReader
) -> bool:
    """The blocks' part of the page, newest block first; True when nothing older is left."""
    meta = read_meta(client, org_id)
    subjects = catalog.subjects(client, org_id, flt.site, flt.gateway)
    reader = BlockReader(catalog, client, org_id)
    for hour in sorted(meta.counts, reverse=True):
        if search.full():
            return False
        if hour > search.newest:
            continue
        if hour + HOUR <= search.oldest:
            return True
        raw = client.hget(event_blocks_key(org_id), str(hour))
        if raw is None:
            continue
        lowest = meta.cut[1] if meta.cut[0] == hour else 0
        if reader.read(Block(as_bytes(raw)), lowest, flt, subjects, search):
            return True
    return not search.full()


def search_events(
    client: redis.Redis,
    org_id: str,
    flt: Filter,
    *,
    start: Position,
    oldest: float,
    limit: int,
    budget: int,
    catalog: CatalogReader,
) -> tuple[list[StoredEvent], Position | None]:
    """Up to `limit` matching events from `start` (newest first), reading at most about
    `budget` events, and the position to go on from (None: nothing older matches)."""
    search = Search(start[0], start[1], oldest, limit, budget, [])
    if _recent(client, org_id, flt, search) and _blocks(client, org_id, flt, search, catalog):
        return search.found, None
    return search.found, (search.newest, search.skip)
