"""One packed hour (store/event_blocks.py), pure: events in, the same events out."""

from __future__ import annotations

from typing import Any

import pytest

from model.events import make_event
from store.event_blocks import Block, encode_block
from tests.test_store_events import START, stream


def catalog() -> tuple[dict[tuple[Any, ...], int], Any]:
    found: dict[tuple[Any, ...], int] = {}
    return found, lambda facts: found.setdefault(facts, len(found))


def test_a_block_gives_back_every_event_in_its_order():
    events = sorted(stream(40, 0.9), key=lambda e: e["time"])
    found, index = catalog()
    data = encode_block(events, START, index, index)
    entries = {n: list(facts) for facts, n in found.items()}
    block = Block(data)
    assert block.n == 40 and block.events(entries, entries) == events
    assert block.rows_until(round(events[9]["time"] * 1000)) >= 10
    assert len(data) < 20 * len(events)  # names live in the catalog, not in the block


def test_an_hour_of_10000_gateways_packs_to_a_few_bytes_per_event():
    events = [
        make_event("port_down" if n % 2 else "port_up", START + n * 0.36, "mist",
                   org_id="o", org_name="Org", site_id=f"s{n % 997}", site_name=f"Site {n % 997}",
                   gateway_id=f"gw{(n * 7919) % 10000}", gateway_name=f"g{(n * 7919) % 10000}",
                   port_id=f"ge-0/0/{n % 4}", before=n % 2 == 0, after=n % 2 == 1)
        for n in range(10_000)
    ]  # fmt: skip
    _, index = catalog()
    assert len(encode_block(events, START, index, index)) < 5 * len(events)


def test_what_is_not_a_block_is_refused():
    with pytest.raises(ValueError, match="not an event block"):
        Block(b"{}")
