"""The synthetic org's static shape: sites, gateways, ports, peer paths and config objects.

Only what never changes with time lives here; time-dependent values (rates, counters,
link state, path quality) are computed from these records by `mistsim.dynamics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Isp:
    """The carrier behind a WAN port, as Mist's IP intelligence (`servp_info`) names it."""

    name: str
    asn: str


@dataclass(slots=True)
class Port:
    """One physical gateway port (WAN or LAN) with the parameters of its traffic model."""

    port_id: str  # physical, e.g. ge-0/0/0
    node: str  # node0 / node1 (HA clusters)
    usage: str  # wan / lan
    port_mac: str
    speed: int  # Mbps when up
    rx_base: float  # mean bits per second
    tx_base: float
    phase: float  # diurnal phase (radians)
    key: int  # seed for deterministic noise
    link: str = "up"  # up / down / flap
    down_since: float = 0.0  # for link == down
    flap_period: float = 0.0  # for link == flap
    flap_down: float = 0.0
    flap_offset: float = 0.0
    # WAN only
    wan_name: str = ""
    description: str = ""
    wan_type: str = ""  # broadband / dsl / lte
    address_mode: str = ""  # DHCP / Static / PPPoE
    vlan: int = 0
    ip_cidr: str = ""
    gateway_ip: str = ""
    public_ip: str = ""
    isp: Isp | None = None
    latency: float = 0.0  # probe baseline (ms)
    jitter: float = 0.0
    loss: float = 0.0
    override: bool = False
    # LAN only
    network: str = ""
    # cache: the traffic integral at the last boot seen (deterministic, so races are benign)
    boot_at: float = -1.0
    rx_at_boot: float = 0.0
    tx_at_boot: float = 0.0
    # admin fault: from `leap_at` until the next reboot both counters read `leap_bytes` more
    leap_at: float | None = None
    leap_bytes: int = 0

    @property
    def logical(self) -> str:
        """The logical interface Mist keys `if_stat` by (unit = VLAN id, else 0)."""
        return f"{self.port_id}.{self.vlan}"


@dataclass(slots=True)
class Gateway:
    """One gateway (an HA cluster counts as one, with ports on node0 and node1)."""

    index: int
    mac: str
    id: str
    name: str
    serial: str
    model: str
    family: str  # srx / ssr
    version: str
    site_id: str
    is_hub: bool
    is_ha: bool
    deviceprofile_id: str | None
    created_time: float
    modified_time: float
    reboot_period: float
    reboot_offset: float
    connected: bool
    disconnected_at: float
    key: int
    ports: list[Port] = field(default_factory=list)
    peer_paths: list[PeerPath] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    own_port_config: dict[str, Any] = field(default_factory=dict)
    sparse: bool = False  # edge case: stats lack optional fields

    @property
    def wan_ports(self) -> list[Port]:
        return [port for port in self.ports if port.usage == "wan"]


@dataclass(slots=True)
class PeerPath:
    """A VPN path from a spoke's WAN port to a hub's WAN port."""

    gateway: Gateway
    port: Port
    hub: Gateway
    hub_port: Port
    type: str  # ipsec (SRX) / svr (SSR)
    latency: float
    jitter: float
    loss: float
    mtu: int
    key: int
    down: bool = False  # admin `path`: the tunnel is down while both its ports are up

    @property
    def port_label(self) -> str:
        """SRX reports the physical port, SSR the WAN name."""
        return self.port.port_id if self.type == "ipsec" else self.port.wan_name

    @property
    def peer_port_label(self) -> str:
        return self.hub_port.port_id if self.type == "ipsec" else self.hub_port.wan_name


@dataclass(slots=True)
class Site:
    id: str
    name: str
    address: str
    country_code: str
    timezone: str
    tzoffset: int
    lat: float
    lng: float
    gatewaytemplate_id: str | None
    created_time: float
    modified_time: float
    gateways: list[Gateway] = field(default_factory=list)


@dataclass(slots=True)
class ConfigObject:
    """A gateway template or device profile: a named `port_config` the org reuses."""

    id: str
    name: str
    type: str  # template: spoke/standalone; profile: gateway/ap
    port_config: dict[str, Any]
    created_time: float
    modified_time: float
    family: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Org:
    """The whole synthetic org plus lookup tables the API needs."""

    id: str
    name: str
    msp_id: str
    msp_name: str
    created_time: float
    other_org_ids: list[str]
    sites: list[Site]
    gateways: list[Gateway]
    templates: list[ConfigObject]
    profiles: list[ConfigObject]
    ports: list[tuple[Gateway, Port]]
    peer_paths: list[PeerPath]
    site_by_id: dict[str, Site] = field(default_factory=dict)
    gateway_by_id: dict[str, Gateway] = field(default_factory=dict)
    gateway_by_mac: dict[str, Gateway] = field(default_factory=dict)
    template_by_id: dict[str, ConfigObject] = field(default_factory=dict)
    profile_by_id: dict[str, ConfigObject] = field(default_factory=dict)

    def index(self) -> None:
        """Build the id/mac lookup tables once the lists are complete."""
        self.site_by_id = {site.id: site for site in self.sites}
        self.gateway_by_id = {gateway.id: gateway for gateway in self.gateways}
        self.gateway_by_mac = {gateway.mac: gateway for gateway in self.gateways}
        self.template_by_id = {template.id: template for template in self.templates}
        self.profile_by_id = {profile.id: profile for profile in self.profiles}
