"""Each gateway's effective port configuration: template < device profile < device.

Mist spreads a gateway's port_config over its site's gateway template, its device profile
and its own device config, with `{{vars}}` from the device and the site. Only the WAN port
labels the dashboard shows are read (name, description, type, address mode, gateway, VLAN).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from model import values
from model.values import as_int, mapping, scalar, share, text

MAX_RANGE_PORTS = 256  # a port-key range longer than this is a typo, not a chassis
_VAR = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_RANGE = re.compile(r"^(.*/)(\d+)-(\d+)$")  # Junos style: ge-0/0/1-3; SSR ge-0-1 is a name

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class PortConfig:
    """One port's effective configuration after template/profile/device merging."""

    name: str | None
    description: str | None
    wan_type: str | None
    usage: str | None
    address_mode: str | None
    gateway_ip: str | None
    vlan: int | None
    disabled: bool
    source: str
    override: bool | None  # None: the device's own config is not read yet, so not known


def expand_port_keys(key: str) -> list[str]:
    """Expand a Mist port_config key into physical port ids.

    Mist lets one entry cover ranges (`ge-0/0/1-3`) and lists (`ge-0/0/0,ge-7/0/0` for a
    reth pair); `{{var}}` keys are returned untouched so the caller can substitute first.
    """
    ports: list[str] = []
    for part in str(key).split(","):
        part = part.strip()
        if not part:
            continue
        match = None if "{{" in part else _RANGE.match(part)
        if match:
            prefix, first, last = match.group(1), int(match.group(2)), int(match.group(3))
            if first <= last and last - first < MAX_RANGE_PORTS:
                ports.extend(f"{prefix}{n}" for n in range(first, last + 1))
                continue
        ports.append(part)
    return ports


def substitute_vars(value: Any, variables: Mapping[str, Any]) -> Any:
    """Replace `{{name}}` in a string from `variables`; unknown names stay as written."""
    if not isinstance(value, str) or "{{" not in value or not variables:
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(variables[name]) if variables.get(name) is not None else match.group(0)

    return _VAR.sub(replace, value)


def _port_entries(layer: Mapping[str, Any] | None, variables: Mapping[str, Any]) -> dict[str, Json]:
    """port_id -> raw port_config entry of one layer, keys substituted and expanded."""
    entries: dict[str, Json] = {}
    for key, entry in mapping(mapping(layer).get("port_config")).items():
        if not isinstance(entry, Mapping):
            continue
        for port_id in expand_port_keys(substitute_vars(key, variables)):
            entries[port_id] = dict(entry)
    return entries


def _port_config(
    entry: Mapping[str, Any], variables: Mapping[str, Any], source: str, override: bool
) -> PortConfig:
    """Turn one raw port_config entry into a PortConfig, substituting `{{vars}}`."""

    def field(name: str, within: Mapping[str, Any] = entry) -> str | None:
        return text(substitute_vars(within.get(name), variables))

    usage = field("usage")
    ip_config = mapping(entry.get("ip_config"))
    address_mode = values.address_mode(field("type", ip_config))
    if address_mode is None and usage == "wan" and not ip_config.get("type"):
        address_mode = "dhcp"  # Mist's default for a WAN port without ip_config.type
    return PortConfig(
        name=field("name"),
        description=field("description"),
        wan_type=field("wan_type"),
        usage=usage,
        address_mode=address_mode,
        gateway_ip=field("gateway", ip_config),
        vlan=as_int(substitute_vars(entry.get("vlan_id"), variables)),
        disabled=entry.get("disabled") is True,
        source=source,
        override=override,
    )


def resolve_port_configs(
    *,
    site: Mapping[str, Any] | None,
    template: Mapping[str, Any] | None,
    profile: Mapping[str, Any] | None,
    device: Mapping[str, Any] | None,
) -> dict[str, PortConfig]:
    """Effective port_config of one gateway: template < device profile < device, per port.

    A more specific layer replaces the whole entry of a port (Mist's own rule). `override`
    marks ports the device config sets differently from what its template/profile says.
    Variables come from the device's `vars`, then the site's (`site["vars"]` if given).
    """
    variables: dict[str, Any] = dict(mapping(mapping(site).get("vars")))
    variables.update(mapping(mapping(device).get("vars")))
    inherited: dict[str, tuple[Json, str]] = {}
    for source, layer in (("template", template), ("deviceprofile", profile)):
        for port_id, entry in _port_entries(layer, variables).items():
            inherited[port_id] = (entry, source)
    own = _port_entries(device, variables)
    resolved: dict[str, PortConfig] = {}
    for port_id, (entry, source) in inherited.items():
        if port_id not in own:
            resolved[port_id] = _port_config(entry, variables, source, False)
    for port_id, entry in own.items():
        below = inherited.get(port_id)
        resolved[port_id] = _port_config(
            entry, variables, "device", below is None or below[0] != entry
        )
    return resolved


def _by_id(items: list[dict]) -> dict[Any, Mapping[str, Any]]:
    """Mist objects by their `id` (what is not an object is skipped; an id that is not a
    JSON scalar is no id)."""
    return {scalar(item.get("id")): item for item in items if isinstance(item, Mapping)}


def index_port_configs(
    *,
    sites: list[dict],
    templates: list[dict],
    profiles: list[dict],
    inventory: list[dict],
    device_configs: Mapping[str, dict],
) -> dict[str, dict[str, PortConfig]]:
    """gateway_id -> port_id -> PortConfig for every gateway we know a config piece of.

    The site gives the gateway template, the device (or inventory) the device profile;
    any missing piece simply contributes nothing. Until a gateway's device config is read,
    its ports' `override` is None: the page says "config not read yet", not "from template".
    """
    sites_by_id, templates_by_id = _by_id(sites), _by_id(templates)
    profiles_by_id = _by_id(profiles)
    inventory_by_id: dict[str, Mapping[str, Any]] = {
        item["id"]: item
        for item in inventory
        if isinstance(item, Mapping) and isinstance(item.get("id"), str)
    }
    configs: dict[str, dict[str, PortConfig]] = {}
    shared: dict[PortConfig, PortConfig] = {}  # gateways of one template: the same configs
    for gateway_id in list(inventory_by_id) + [
        g for g in device_configs if g not in inventory_by_id
    ]:
        item = mapping(inventory_by_id.get(gateway_id))
        device = mapping(device_configs.get(gateway_id))
        site = mapping(sites_by_id.get(scalar(device.get("site_id") or item.get("site_id"))))
        profile_id = scalar(device.get("deviceprofile_id") or item.get("deviceprofile_id"))
        resolved = resolve_port_configs(
            site=site,
            template=templates_by_id.get(scalar(site.get("gatewaytemplate_id"))),
            profile=profiles_by_id.get(profile_id),
            device=device or None,
        )
        if gateway_id not in device_configs:  # whether it overrides is not known yet
            resolved = {port_id: replace(c, override=None) for port_id, c in resolved.items()}
        configs[gateway_id] = {
            share(port_id): shared.setdefault(config, config)
            for port_id, config in resolved.items()
        }
    return configs
