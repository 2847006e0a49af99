"""Availability's stored state (store/sla.py) at an org's size: records inflated a piece at
a time and cut out of each piece come back exactly, whatever piece a record straddles."""

from __future__ import annotations

import zlib
from array import array

from sla.accumulator import WIDTH, Accumulator
from store.sla import decode_state, encode_state


def test_a_state_of_many_pieces_comes_back_record_for_record():
    found = Accumulator(time=1_700_000_000, hour=472_222, day=19_675, next_slot=30_000)
    for n in range(30_000):  # ~5.5 MB of integers: several 1 MB pieces, records straddling
        values = [(n * 7919 + i * 104_729) * (-1) ** i << (i % 20) for i in range(WIDTH)]
        found.circuits[f"p\tgw{n}\tge-0/0/{n % 4}"] = array("q", values)
    raw = encode_state(found)
    assert len(zlib.decompress(raw)) > 5 * WIDTH * 8 * 4096  # more than five pieces
    back = decode_state(raw)
    assert back == found
    assert back is not None and all(r.typecode == "q" for r in back.circuits.values())
    assert decode_state(raw[:-20]) is None  # cut short: no record half read
