"""model/port_config.py: each gateway's effective port configuration, template < device
profile < device, with ranges, lists and {{vars}} as Mist writes them."""

from __future__ import annotations

from typing import Any

import pytest

from model.port_config import (
    PortConfig,
    expand_port_keys,
    index_port_configs,
    resolve_port_configs,
)
from tests.fixtures.snapshots import DENVER_GW, configs_from, load


@pytest.fixture
def mist() -> dict[str, Any]:
    return load("examples.json")


@pytest.mark.parametrize(
    ("key", "ports"),
    [
        ("ge-0/0/1", ["ge-0/0/1"]),
        ("ge-0/0/1-3", ["ge-0/0/1", "ge-0/0/2", "ge-0/0/3"]),
        ("ge-0/0/0,ge-7/0/0", ["ge-0/0/0", "ge-7/0/0"]),
        ("ge-0/0/0, ge-0/0/8-9", ["ge-0/0/0", "ge-0/0/8", "ge-0/0/9"]),
        ("xe-0/0/10-11", ["xe-0/0/10", "xe-0/0/11"]),
        ("{{WAN_PORT}}", ["{{WAN_PORT}}"]),
        ("ge-0-1", ["ge-0-1"]),  # an SSR port name, not a range
        ("ge-0/0/5-2", ["ge-0/0/5-2"]),  # backwards: left as written, not guessed at
        ("ge-0/0/0-99999", ["ge-0/0/0-99999"]),  # absurd: never expands into a huge list
        ("", []),
        ("reth0", ["reth0"]),
    ],
)
def test_expand_port_keys(key, ports):
    assert expand_port_keys(key) == ports


def test_device_overrides_profile_overrides_template_per_port():
    template = {
        "port_config": {
            "ge-0/0/0-1": {"usage": "wan", "name": "tmpl", "description": "from template"},
            "ge-0/0/2": {"usage": "wan", "name": "tmpl2"},
        }
    }
    profile = {"port_config": {"ge-0/0/1": {"usage": "wan", "name": "prof"}}}
    device = {
        "port_config": {
            "ge-0/0/2": {"usage": "wan", "name": "dev", "ip_config": {"type": "PPPoE"}},
            "ge-0/0/3": {"usage": "wan", "name": "dev-only", "disabled": True},
        }
    }
    configs = resolve_port_configs(site=None, template=template, profile=profile, device=device)
    assert {p: (c.name, c.source, c.override) for p, c in configs.items()} == {
        "ge-0/0/0": ("tmpl", "template", False),
        "ge-0/0/1": ("prof", "deviceprofile", False),
        "ge-0/0/2": ("dev", "device", True),
        "ge-0/0/3": ("dev-only", "device", True),
    }
    assert configs["ge-0/0/0"].description == "from template"
    assert configs["ge-0/0/1"].description is None  # a more specific entry replaces, not merges
    assert configs["ge-0/0/2"].address_mode == "pppoe"
    assert configs["ge-0/0/3"].disabled is True


def test_device_repeating_its_template_is_not_an_override():
    entry = {"usage": "wan", "name": "wan_a", "ip_config": {"type": "dhcp"}}
    configs = resolve_port_configs(
        site=None,
        template={"port_config": {"ge-0/0/0": entry}},
        profile=None,
        device={"port_config": {"ge-0/0/0": dict(entry)}},
    )
    assert configs["ge-0/0/0"].override is False
    assert configs["ge-0/0/0"].source == "device"


def test_vars_substitute_in_keys_and_values_and_unknown_vars_stay_visible():
    template = {
        "port_config": {
            "{{WAN1}}": {
                "usage": "wan",
                "name": "wan1",
                "description": "{{ ISP }} / {{CKT}}",
                "vlan_id": "{{VLAN}}",
                "ip_config": {"type": "static", "gateway": "{{GW}}"},
            },
            "ge-0/0/5": {"usage": "wan", "vlan_id": "{{NOPE}}", "description": "{{MISSING}}"},
        }
    }
    device = {
        "vars": {
            "WAN1": "ge-0/0/4",
            "ISP": "Zürich <Fibre>",
            "CKT": 7,
            "VLAN": "120",
            "GW": "192.0.2.1",
        }
    }
    configs = resolve_port_configs(site=None, template=template, profile=None, device=device)
    assert set(configs) == {"ge-0/0/4", "ge-0/0/5"}
    wan1 = configs["ge-0/0/4"]
    assert (wan1.description, wan1.vlan, wan1.gateway_ip) == (
        "Zürich <Fibre> / 7",
        120,
        "192.0.2.1",
    )
    assert configs["ge-0/0/5"].description == "{{MISSING}}"
    assert configs["ge-0/0/5"].vlan is None
    assert configs["ge-0/0/5"].address_mode == "dhcp"  # Mist's default for a WAN port


def test_site_vars_fill_in_where_the_device_has_none():
    template = {"port_config": {"ge-0/0/0": {"usage": "wan", "description": "{{A}} {{B}}"}}}
    configs = resolve_port_configs(
        site={"vars": {"A": "site-a", "B": "site-b"}},
        template=template,
        profile=None,
        device={"vars": {"B": "device-b"}},
    )
    assert configs["ge-0/0/0"].description == "site-a device-b"


def test_resolve_port_configs_tolerates_junk():
    configs = resolve_port_configs(
        site={"vars": None},
        template={"port_config": None},
        profile={"port_config": {"ge-0/0/0": None, "ge-0/0/1": "oops"}},
        device={
            "port_config": {"ge-0/0/2": {"ip_config": None, "usage": None, "vlan_id": True}},
            "vars": None,
        },
    )
    assert list(configs) == ["ge-0/0/2"]
    assert configs["ge-0/0/2"] == PortConfig(
        None, None, None, None, None, None, None, False, "device", True
    )
    assert resolve_port_configs(site=None, template=None, profile=None, device=None) == {}


def test_index_port_configs_joins_site_template_and_inventory_profile(mist):
    configs = configs_from(mist)
    denver = configs[DENVER_GW]
    assert {p: c.source for p, c in denver.items()} == {
        "ge-0/0/0": "template",
        "ge-0/0/1": "template",
        "ge-0/0/4": "template",
        "cl-1/0/0": "device",
    }
    hub = configs["00000000-0000-0000-1000-4c96144f9b20"]  # profile id from the inventory
    assert hub["ge-0/0/3"].source == "deviceprofile"
    assert hub["ge-0/0/3"].gateway_ip == "192.0.2.1"


def test_index_port_configs_with_missing_pieces():
    configs = index_port_configs(
        sites=[{"id": "s1", "gatewaytemplate_id": "gone"}],
        templates=[],
        profiles=[],
        inventory=[{"id": "g1", "site_id": "s1", "deviceprofile_id": "gone-too"}, {"mac": "no-id"}],
        device_configs={
            "g2": {"site_id": "nowhere", "port_config": {"ge-0/0/0": {"usage": "wan"}}}
        },
    )
    assert configs["g1"] == {}
    assert configs["g2"]["ge-0/0/0"].usage == "wan"


def test_until_the_device_config_is_read_whether_a_port_overrides_is_not_known():
    """ "from template" is only said once the device's own config has been read."""
    template = {"id": "t1", "port_config": {"ge-0/0/0": {"usage": "wan", "name": "wan-a"}}}
    pieces: dict[str, Any] = {
        "sites": [{"id": "s1", "gatewaytemplate_id": "t1"}],
        "templates": [template],
        "profiles": [],
        "inventory": [{"id": "g1", "site_id": "s1"}],
    }
    before = index_port_configs(**pieces, device_configs={})
    assert before["g1"]["ge-0/0/0"].name == "wan-a" and before["g1"]["ge-0/0/0"].override is None
    after = index_port_configs(**pieces, device_configs={"g1": {"site_id": "s1"}})
    assert after["g1"]["ge-0/0/0"].override is False
