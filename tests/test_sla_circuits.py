"""The catalogue (sla/circuits.py) keys every circuit as sla.accumulator's port_key and
path_key do, odd values of Mist's included: its records and the events' flags meet."""

from __future__ import annotations

from sla.accumulator import path_key, port_key
from sla.circuits import catalogue
from tests.test_events import gateway, path, port, snapshot


def test_the_catalogues_keys_are_port_key_and_path_keys():
    odd = path("ge-0/0/1", True)._replace(port_id=3, peer_mac=None, peer_port_id=1.5)
    snap = snapshot(
        gateway("gw1", port("ge-0/0/0"), port("ge-0/0/1")),
        gateway("gw2", port("wan")),
        paths={("gw1", "m1"): [path("ge-0/0/0", True), odd], ("gw2", "m2"): [path("wan", False)]},
    )
    found = catalogue(snap)
    assert list(found.ports) == [
        port_key("gw1", "ge-0/0/0"), port_key("gw1", "ge-0/0/1"), port_key("gw2", "wan")
    ]  # fmt: skip
    assert list(found.paths) == [
        path_key("gw1", "ge-0/0/0", "hubmac", "ge-0/0/1"),
        path_key("gw1", 3, None, 1.5),
        path_key("gw2", "wan", "hubmac", "ge-0/0/1"),
    ]
    assert [info.gateway_name for info in found.paths.values()] == ["gw-gw1"] * 2 + ["gw-gw2"]
