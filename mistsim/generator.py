"""Build a deterministic synthetic org from a seed: same options, same org, every time.

Identities (ids, names, MACs) depend only on the options. Times that should look recent
(a port that went down "two hours ago") are placed relative to `now`.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from typing import Any

from mistsim import edge
from mistsim.model import ConfigObject, Gateway, Isp, Org, PeerPath, Port, Site

CREATED_BASE = 1_690_000_000.0

ISPS: list[Isp] = [
    Isp("Example Broadband Inc", "AS64500"),
    Isp("Northwind Fiber LLC", "AS64501"),
    Isp("Contoso Telecom", "AS64502"),
    Isp("Acme Cable Co", "AS64503"),
    Isp("Fabrikam DSL", "AS64504"),
    Isp("Tailspin Metro Ethernet", "AS64505"),
    Isp("Wingtip Business Internet", "AS64506"),
    Isp("Litware Carrier Services", "AS64507"),
]
LTE_ISPS: list[Isp] = [
    Isp("BlueSky Mobile", "AS64510"),
    Isp("Proseware Wireless", "AS64511"),
]
# three DC circuits per hub, so a dual-WAN spoke still gets its default six peer paths
DC_ISPS: list[Isp] = [
    Isp("Example Transit Ltd", "AS64520"),
    Isp("Adatum IX Networks", "AS64521"),
    Isp("Litware Carrier Services", "AS64507"),
]

CITIES: list[tuple[str, str, str, int, float, float]] = [
    ("Denver", "US", "America/Denver", -420, 39.74, -104.99),
    ("Austin", "US", "America/Chicago", -360, 30.27, -97.74),
    ("Seattle", "US", "America/Los_Angeles", -480, 47.61, -122.33),
    ("Boston", "US", "America/New_York", -300, 42.36, -71.06),
    ("Toronto", "CA", "America/Toronto", -300, 43.65, -79.38),
    ("London", "GB", "Europe/London", 0, 51.51, -0.13),
    ("Paris", "FR", "Europe/Paris", 60, 48.86, 2.35),
    ("Berlin", "DE", "Europe/Berlin", 60, 52.52, 13.40),
    ("Madrid", "ES", "Europe/Madrid", 60, 40.42, -3.70),
    ("Tokyo", "JP", "Asia/Tokyo", 540, 35.68, 139.69),
    ("Sydney", "AU", "Australia/Sydney", 600, -33.87, 151.21),
    ("Singapore", "SG", "Asia/Singapore", 480, 1.35, 103.82),
]
SRX_SPOKE_MODELS = ["SRX300", "SRX320", "SRX340", "SRX380"]
SSR_SPOKE_MODELS = ["SSR120", "SSR130"]
HUB_MODELS = {"srx": "SRX1500", "ssr": "SSR1200"}
VERSIONS = {
    "srx": ["22.4R3-S2.11", "23.4R2-S3.9", "21.4R3-S5.4"],
    "ssr": ["6.2.5-5.r2", "6.3.0-107.r1"],
}

# WAN slots of a template, in order: (port, wan name, wan type, ip mode, ISP var prefix)
WAN_SLOTS: list[tuple[str, str, str, str, str]] = [
    ("ge-0/0/0", "wan_isp_a", "broadband", "dhcp", "ISP_A"),
    ("ge-0/0/1", "wan_isp_b", "broadband", "static", "ISP_B"),
    ("ge-0/0/2", "wan_dsl", "dsl", "pppoe", "ISP_C"),
    ("ge-0/0/3", "wan_lte", "lte", "dhcp", "ISP_D"),
]
HA_NODE1_PREFIX = "ge-5/0/"
EDGE_GATEWAY_WITHOUT_WAN = 7  # with --edge-cases, this gateway index has LAN ports only


@dataclass(slots=True)
class OrgOptions:
    """What the command line asks of the org."""

    sites: int = 100
    gateways: int = 200
    seed: int = 1
    wan_ports_min: int = 2
    wan_ports_max: int = 4
    peer_paths: int = 6
    orgs: int = 1
    edge_cases: bool = False
    mac_base: int | None = None  # set by mistsim.msp so that the orgs of one MSP share no MAC


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def wan_slot(index: int) -> tuple[str, str, str, str, str]:
    if index < len(WAN_SLOTS):
        return WAN_SLOTS[index]
    return (f"ge-0/0/{10 + index}", f"wan_extra_{index}", "broadband", "dhcp", f"ISP_X{index}")


def template_wan_entry(slot: tuple[str, str, str, str, str], vlan: int) -> dict[str, Any]:
    _, name, wan_type, mode, var = slot
    ip_config: dict[str, Any] = {"type": mode}
    if mode == "static":
        ip_config.update(ip=f"{{{{{var}_IP}}}}", netmask="/29", gateway=f"{{{{{var}_GW}}}}")
    entry: dict[str, Any] = {
        "usage": "wan",
        "name": name,
        "description": f"{{{{{var}_NAME}}}} circuit {{{{{var}_CKT}}}}",
        "wan_type": wan_type,
        "ip_config": ip_config,
        "wan_source_nat": {"disabled": False},
        "vpn_paths": {"hub-vpn": {"role": "spoke", "bfd_profile": "broadband"}},
    }
    if vlan:
        entry["vlan_id"] = vlan
    if wan_type == "lte":
        entry.update(lte_apn="internet.example", lte_auth="none")
    return entry


def _lan_entries() -> dict[str, Any]:
    return {
        "ge-0/0/4-5": {"usage": "lan", "networks": ["corp"]},
        "ge-0/0/6,ge-0/0/7": {"usage": "lan", "networks": ["guest"]},
    }


class _Builder:
    """Stateful helper so the generation steps share one RNG and address pools."""

    def __init__(self, options: OrgOptions, now: float) -> None:
        self.options = options
        self.now = now
        self.rng = random.Random(options.seed)
        self.public_next = 0
        self.mac_base = 0
        self.template_by_id: dict[str, ConfigObject] = {}

    def public_ip(self) -> tuple[str, str]:
        """A /29 host address from 198.18.0.0/15 (benchmarking space) and its gateway."""
        block = self.public_next
        self.public_next += 1
        base = (198 << 24) | (18 << 16) | ((block * 8) % (1 << 17))
        host, gw = base + 2, base + 1
        return _ip(host), _ip(gw)

    def build(self) -> Org:
        rng, options = self.rng, self.options
        org_id = _uuid(rng)
        other_orgs = [_uuid(rng) for _ in range(max(0, options.orgs - 1))]
        msp_id = _uuid(rng)
        gateway_count = max(0, options.gateways)
        site_count = max(1, options.sites)
        self.mac_base = rng.randrange(0x010000, max(0x020000, 0xFFFFFF - gateway_count * 16))
        if options.mac_base is not None:
            self.mac_base = options.mac_base
        templates = self.make_templates()
        self.template_by_id = {template.id: template for template in templates.values()}
        hub_profiles, branch_profile, ap_profile = self.make_profiles()
        sites = self.make_sites(site_count, templates)
        gateways = self.make_gateways(gateway_count, sites, hub_profiles, branch_profile)
        self.guarantee_variety(gateways)
        self.make_peer_paths(gateways)
        profiles = [*hub_profiles.values(), branch_profile, ap_profile]
        ports = [(gateway, port) for gateway in gateways for port in gateway.ports]
        peer_paths = [path for gateway in gateways for path in gateway.peer_paths]
        org = Org(
            id=org_id,
            name="Example Retail Co" if not options.edge_cases else "Example <b>Retail</b> Co 🚀",
            msp_id=msp_id,
            msp_name="Example MSP",
            created_time=CREATED_BASE - 86400 * 30,
            other_org_ids=other_orgs,
            sites=sites,
            gateways=gateways,
            templates=list(templates.values()),
            profiles=profiles,
            ports=ports,
            peer_paths=peer_paths,
        )
        org.index()
        return org

    def make_templates(self) -> dict[tuple[str, int, int], ConfigObject]:
        """One template per (family, WAN count, variant); variant 1 puts WAN B on VLAN 100."""
        lo = max(0, self.options.wan_ports_min)
        hi = max(lo, self.options.wan_ports_max)
        templates: dict[tuple[str, int, int], ConfigObject] = {}
        for family in ("srx", "ssr"):
            for count in range(lo, hi + 1):
                for variant in (0, 1):
                    port_config: dict[str, Any] = {}
                    for slot_index in range(count):
                        slot = wan_slot(slot_index)
                        vlan = 100 if variant == 1 and slot_index == 1 else 0
                        port_config[slot[0]] = template_wan_entry(slot, vlan)
                    port_config.update(_lan_entries())
                    created = CREATED_BASE + self.rng.randrange(0, 86400 * 200)
                    templates[(family, count, variant)] = ConfigObject(
                        id=_uuid(self.rng),
                        name=f"branch-{family}-{count}wan" + ("-vlan" if variant else ""),
                        type="spoke",
                        port_config=port_config,
                        created_time=created,
                        modified_time=created + self.rng.randrange(0, 86400 * 100),
                        family=family,
                        extra={"count": count, "variant": variant},
                    )
        return templates

    def make_profiles(self) -> tuple[dict[str, ConfigObject], ConfigObject, ConfigObject]:
        hubs: dict[str, ConfigObject] = {}
        for family in ("srx", "ssr"):
            port_config: dict[str, Any] = {}
            for n, isp in enumerate(DC_ISPS):
                port_config[f"ge-0/0/{3 + n}"] = {
                    "usage": "wan",
                    "name": f"dc_transit_{'abc'[n]}",
                    "description": f"{isp.name} 10G transit",
                    "wan_type": "broadband",
                    "ip_config": {"type": "static", "ip": f"{{{{DC_IP_{n}}}}}", "netmask": "/30"},
                    "wan_source_nat": {"disabled": True},
                    "vpn_paths": {"hub-vpn": {"role": "hub"}},
                }
            port_config["ge-0/0/0-1"] = {"usage": "lan", "networks": ["dc-core"]}
            hubs[family] = ConfigObject(
                id=_uuid(self.rng),
                name=f"dc-hub-{family}",
                type="gateway",
                port_config=port_config,
                created_time=CREATED_BASE,
                modified_time=CREATED_BASE + 86400,
                family=family,
            )
        branch = ConfigObject(
            id=_uuid(self.rng),
            name="branch-primary-circuit-label",
            type="gateway",
            port_config={
                "ge-0/0/0": {
                    **template_wan_entry(WAN_SLOTS[0], 0),
                    "description": "Primary {{ISP_A_NAME}} ({{ISP_A_CKT}}) - profile",
                }
            },
            created_time=CREATED_BASE,
            modified_time=CREATED_BASE + 3600,
        )
        ap = ConfigObject(
            id=_uuid(self.rng),
            name="office-aps",
            type="ap",
            port_config={},
            created_time=CREATED_BASE,
            modified_time=CREATED_BASE,
        )
        return hubs, branch, ap

    def make_sites(
        self, count: int, templates: dict[tuple[str, int, int], ConfigObject]
    ) -> list[Site]:
        rng = self.rng
        keys = list(templates)
        sites: list[Site] = []
        for n in range(count):
            city = CITIES[n % len(CITIES)]
            if n == 0:
                name, template_id = "DC1 Hub", None
            else:
                name = f"{city[0]} Branch {n:04d}"
                template_id = templates[rng.choice(keys)].id if keys else None
            if self.options.edge_cases and 1 <= n <= len(edge.SITE_NAMES):
                name = edge.SITE_NAMES[n - 1]
            created = CREATED_BASE + rng.randrange(0, 86400 * 300)
            sites.append(
                Site(
                    id=_uuid(rng),
                    name=name,
                    address=f"{100 + n} Example Street, {city[0]}",
                    country_code=city[1],
                    timezone=city[2],
                    tzoffset=city[3],
                    lat=round(city[4] + rng.uniform(-0.2, 0.2), 4),
                    lng=round(city[5] + rng.uniform(-0.2, 0.2), 4),
                    gatewaytemplate_id=template_id,
                    created_time=created,
                    modified_time=created + rng.randrange(0, 86400 * 50),
                )
            )
        return sites

    def make_gateways(
        self,
        count: int,
        sites: list[Site],
        hub_profiles: dict[str, ConfigObject],
        branch_profile: ConfigObject,
    ) -> list[Gateway]:
        options = self.options
        hubs = 0 if count == 0 else 1 if count <= 2 else 2 if count < 100 else 4
        gateways: list[Gateway] = []
        # spokes are spread over branch sites; with --edge-cases the last site stays empty
        branch_sites = sites[1:] if len(sites) > 1 else sites
        if options.edge_cases and len(branch_sites) > 1:
            branch_sites = branch_sites[:-1]
        for n in range(count):
            is_hub = n < hubs
            site = sites[0] if is_hub else branch_sites[(n - hubs) % len(branch_sites)]
            gateway = self.make_gateway(n, site, is_hub, hub_profiles, branch_profile)
            site.gateways.append(gateway)
            gateways.append(gateway)
        return gateways

    def make_gateway(
        self,
        n: int,
        site: Site,
        is_hub: bool,
        hub_profiles: dict[str, ConfigObject],
        branch_profile: ConfigObject,
    ) -> Gateway:
        rng, options = self.rng, self.options
        mac_int = (self.mac_base + n * 16) & 0xFFFFFF
        mac = f"4c9614{mac_int:06x}"
        template = self.template_of(site)
        if is_hub:
            family = "srx" if n % 2 == 0 else "ssr"
            model = HUB_MODELS[family]
        else:
            family = template.family if template else rng.choice(["srx", "ssr"])
            model = rng.choice(SRX_SPOKE_MODELS if family == "srx" else SSR_SPOKE_MODELS)
        is_ha = (is_hub and n == 0) or (not is_hub and rng.random() < 0.08)
        created = CREATED_BASE + rng.randrange(0, 86400 * 300)
        city = site.name.split(" ")[0].lower()[:3] if site.name.isascii() else "xx"
        name = f"{city}-{'hub' if is_hub else 'br'}-gw{n:05d}"
        if options.edge_cases and 0 < n <= len(edge.GATEWAY_NAMES):
            name = edge.GATEWAY_NAMES[n - 1]
        deviceprofile_id: str | None = None
        if is_hub:
            deviceprofile_id = hub_profiles[family].id
        elif rng.random() < 0.1:
            deviceprofile_id = branch_profile.id
        disconnected = not is_hub and rng.random() < 0.015
        gateway = Gateway(
            index=n,
            mac=mac,
            id=f"00000000-0000-0000-1000-{mac}",
            name=name,
            serial=f"{'CV' if family == 'srx' else 'SS'}{rng.randrange(10**9, 10**10)}",
            model=model,
            family=family,
            version=rng.choice(VERSIONS[family]),
            site_id=site.id,
            is_hub=is_hub,
            is_ha=is_ha,
            deviceprofile_id=deviceprofile_id,
            created_time=created,
            modified_time=created + rng.randrange(0, 86400 * 100),
            reboot_period=rng.uniform(7, 90) * 86400,
            reboot_offset=rng.uniform(0, 90 * 86400),
            connected=not disconnected,
            disconnected_at=self.now - rng.uniform(600, 86400 * 3),
            key=rng.getrandbits(32),
            sparse=options.edge_cases and n % 17 == 5,
        )
        if is_hub:
            self.add_hub_ports(gateway, hub_profiles[family])
        elif not (options.edge_cases and n == EDGE_GATEWAY_WITHOUT_WAN):
            self.add_spoke_wan_ports(gateway, template, deviceprofile_id == branch_profile.id)
        self.add_lan_ports(gateway)
        return gateway

    def template_of(self, site: Site) -> ConfigObject | None:
        if site.gatewaytemplate_id is None:
            return None
        return self.template_by_id.get(site.gatewaytemplate_id)

    def new_port(self, gateway: Gateway, port_id: str, node: str, usage: str) -> Port:
        rng = self.rng
        slot = len(gateway.ports) + 1
        mac_int = (int(gateway.mac[6:], 16) + min(slot, 15)) & 0xFFFFFF
        return Port(
            port_id=port_id,
            node=node,
            usage=usage,
            port_mac=f"4c9614{mac_int:06x}",
            speed=1000,
            rx_base=0.0,
            tx_base=0.0,
            phase=rng.uniform(0, 2 * math.pi),
            key=rng.getrandbits(32),
        )

    def add_hub_ports(self, gateway: Gateway, profile: ConfigObject) -> None:
        rng = self.rng
        for n, isp in enumerate(DC_ISPS):
            port = self.new_port(gateway, f"ge-0/0/{3 + n}", "node0", "wan")
            ip, gw = self.public_ip()
            gateway.vars[f"DC_IP_{n}"] = ip
            port.wan_name = f"dc_transit_{'abc'[n]}"
            port.description = f"{isp.name} 10G transit"
            port.wan_type, port.address_mode, port.ip_cidr = "broadband", "Static", f"{ip}/30"
            port.gateway_ip, port.public_ip, port.isp, port.speed = gw, ip, isp, 10000
            port.rx_base = rng.uniform(800e6, 3e9)
            port.tx_base = port.rx_base * rng.uniform(0.6, 1.0)
            port.latency, port.jitter, port.loss = rng.uniform(1, 4), rng.uniform(0.1, 0.6), 0.0
            gateway.ports.append(port)

    def add_spoke_wan_ports(
        self, gateway: Gateway, template: ConfigObject | None, has_profile: bool
    ) -> None:
        rng, options = self.rng, self.options
        count = template.extra["count"] if template else options.wan_ports_min
        variant = template.extra["variant"] if template else 0
        isps = rng.sample(ISPS, k=min(len(ISPS), max(count, 1)))
        for slot_index in range(count):
            port_id, wan_name, wan_type, mode, var = wan_slot(slot_index)
            node = "node0"
            override = False
            if gateway.is_ha and count >= 2 and slot_index == count - 1:
                # the last circuit of a cluster lands on node1; the device config says so
                old_port = port_id
                port_id = HA_NODE1_PREFIX + port_id.rsplit("/", 1)[1]
                node, override = "node1", True
                gateway.own_port_config[old_port] = {"usage": "ha_data"}
            port = self.new_port(gateway, port_id, node, "wan")
            isp = LTE_ISPS[rng.randrange(len(LTE_ISPS))] if wan_type == "lte" else isps[slot_index]
            if options.edge_cases and gateway.index % 11 == 3 and slot_index == 0:
                isp = Isp(edge.ISP_NAMES[gateway.index % len(edge.ISP_NAMES)], "AS64599")
            circuit = f"{isp.name.split(' ')[0][:4].upper()}-{rng.randrange(100000, 999999)}"
            gateway.vars[f"{var}_NAME"] = isp.name
            gateway.vars[f"{var}_CKT"] = circuit
            port.wan_name, port.wan_type, port.isp = wan_name, wan_type, isp
            port.description = f"{isp.name} circuit {circuit}"
            if has_profile and slot_index == 0:
                port.description = f"Primary {isp.name} ({circuit}) - profile"
            port.vlan = 100 if variant == 1 and slot_index == 1 else 0
            if wan_type == "lte":
                octets = rng.getrandbits(22)
                port.address_mode = "DHCP"
                port.ip_cidr = f"100.{64 + (octets >> 16)}.{(octets >> 8) & 255}.{octets & 255}/32"
                port.public_ip, port.gateway_ip = port.ip_cidr[:-3], ""
                port.speed = 100
                port.rx_base, port.tx_base = rng.uniform(1e6, 15e6), rng.uniform(0.3e6, 4e6)
                port.latency, port.jitter, port.loss = rng.uniform(40, 90), rng.uniform(3, 12), 0.1
            else:
                ip, gw = self.public_ip()
                if mode == "static":
                    port.address_mode, port.ip_cidr, port.gateway_ip = "Static", f"{ip}/29", gw
                    gateway.vars[f"{var}_IP"] = ip
                    gateway.vars[f"{var}_GW"] = gw
                elif mode == "pppoe":
                    port.address_mode, port.ip_cidr, port.gateway_ip = "PPPoE", f"{ip}/32", ""
                elif rng.random() < 0.3:  # DHCP behind the ISP's CPE: private address, NAT
                    port.address_mode, port.gateway_ip = "DHCP", "192.168.1.1"
                    port.ip_cidr = f"192.168.1.{rng.randrange(2, 250)}/24"
                else:
                    port.address_mode, port.ip_cidr, port.gateway_ip = "DHCP", f"{ip}/29", gw
                port.public_ip = ip
                port.speed = 100 if wan_type == "dsl" else 1000
                scale = 0.1 if wan_type == "dsl" else 1.0
                port.rx_base = rng.uniform(5e6, 150e6) * scale
                port.tx_base = port.rx_base * rng.uniform(0.1, 0.5)
                port.latency, port.jitter = rng.uniform(5, 35), rng.uniform(0.3, 4)
                port.loss = 0.0
            if options.edge_cases and gateway.index % 13 == 4 and slot_index == 0:
                port.description = edge.WAN_DESCRIPTIONS[gateway.index % len(edge.WAN_DESCRIPTIONS)]
                override = True
            if not override and slot_index == 0 and rng.random() < 0.1:
                port.description = f"Circuit {rng.randrange(10000, 99999)} / {isp.name}"
                override = True
            if override:
                entry = template_wan_entry((port_id, wan_name, wan_type, mode, var), port.vlan)
                entry["description"] = port.description
                gateway.own_port_config[port_id] = entry
            port.override = override
            self.assign_link(port)
            gateway.ports.append(port)

    def guarantee_variety(self, gateways: list[Gateway]) -> None:
        """Even a small org shows every state: one circuit down, one flapping, one degraded,
        and (from 10 gateways) one gateway offline; chance alone would often miss them."""
        rng = self.rng
        spokes = [g for g in gateways if not g.is_hub and g.connected and g.wan_ports]
        if len(spokes) >= 3:
            down, flapping, degraded = (
                spokes[0].wan_ports[-1],
                spokes[1].wan_ports[-1],
                spokes[2].wan_ports[0],
            )
            down.link, down.down_since = "down", self.now - rng.uniform(600, 86400)
            flapping.link, flapping.flap_period, flapping.flap_down = "flap", 1800.0, 180.0
            flapping.flap_offset = rng.uniform(0, 1800)
            degraded.link = "up"
            degraded.latency, degraded.jitter, degraded.loss = 140.0, 35.0, 1.2
        if len(gateways) >= 10 and len(spokes) >= 4:
            offline = spokes[-1]
            offline.connected = False
            offline.disconnected_at = self.now - rng.uniform(1800, 86400)

    def assign_link(self, port: Port) -> None:
        """Most circuits are steady; a few are down, a few flap, a few are degraded."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            port.link = "down"
            port.down_since = self.now - rng.uniform(600, 86400 * 2)
        elif roll < 0.06:
            port.link = "flap"
            port.flap_period = rng.uniform(1200, 3600)
            port.flap_down = rng.uniform(60, 240)
            port.flap_offset = rng.uniform(0, port.flap_period)
        elif roll < 0.10:
            port.latency, port.jitter = rng.uniform(110, 220), rng.uniform(20, 45)
            port.loss = rng.uniform(0.2, 2.5)

    def add_lan_ports(self, gateway: Gateway) -> None:
        rng = self.rng
        lan_count = 3 if gateway.is_hub else rng.randint(1, 3)
        for n in range(lan_count):
            port_id = f"ge-0/0/{n}" if gateway.is_hub else f"ge-0/0/{4 + n}"
            if gateway.is_hub and n == 2:
                port_id = "ge-0/0/7"
            port = self.new_port(gateway, port_id, "node0", "lan")
            port.network = "dc-core" if gateway.is_hub else ("corp" if n < 2 else "guest")
            port.ip_cidr = f"10.{gateway.index % 250}.{n}.1/24"
            port.rx_base = rng.uniform(1e6, 80e6)
            port.tx_base = rng.uniform(1e6, 80e6)
            gateway.ports.append(port)
        if gateway.is_ha:
            port = self.new_port(gateway, HA_NODE1_PREFIX + "4", "node1", "lan")
            port.network, port.ip_cidr = "corp", f"10.{gateway.index % 250}.9.1/24"
            port.rx_base, port.tx_base = rng.uniform(1e6, 20e6), rng.uniform(1e6, 20e6)
            gateway.ports.append(port)

    def make_peer_paths(self, gateways: list[Gateway]) -> None:
        """Each spoke gets `--peer-paths` paths to hub ports of its own family."""
        rng = self.rng
        hubs = [gateway for gateway in gateways if gateway.is_hub]
        for gateway in gateways:
            if gateway.is_hub:
                continue
            family_hubs = [hub for hub in hubs if hub.family == gateway.family] or hubs
            hub_ports = [(hub, port) for hub in family_hubs for port in hub.wan_ports]
            wans = gateway.wan_ports
            if not hub_ports or not wans:
                continue
            # round-robin so every WAN port gets a path before any gets a second one
            ordered: list[tuple[Port, Gateway, Port]] = []
            for round_index in range(len(hub_ports)):
                for wan_index, wan in enumerate(wans):
                    hub, hub_port = hub_ports[(round_index + wan_index) % len(hub_ports)]
                    ordered.append((wan, hub, hub_port))
            for wan, hub, hub_port in ordered[: max(0, self.options.peer_paths)]:
                path_type = "ipsec" if gateway.family == "srx" else "svr"
                gateway.peer_paths.append(
                    PeerPath(
                        gateway=gateway,
                        port=wan,
                        hub=hub,
                        hub_port=hub_port,
                        type=path_type,
                        latency=wan.latency + hub_port.latency + rng.uniform(2, 30),
                        jitter=wan.jitter + rng.uniform(0.1, 1.5),
                        loss=wan.loss,
                        mtu=1400 if path_type == "ipsec" else 1500,
                        key=rng.getrandbits(32),
                    )
                )


def _ip(value: int) -> str:
    return f"{(value >> 24) & 255}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def generate(options: OrgOptions, now: float) -> Org:
    """The synthetic org for these options; `now` anchors "recent" events."""
    builder = _Builder(options, now)
    return builder.build()
