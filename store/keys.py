"""Every Redis key name and TTL (docs/DATA.md §2), and nothing else."""

from __future__ import annotations

import enum

PREFIX = "mist:"
KEY_ORG = "mist:org"
KEY_SITES = "mist:sites"
KEY_GATEWAYS = "mist:gateways"
KEY_GATEWAY_ROWS = "mist:gateways:rows"
KEY_EXPORT_CSV = "mist:export:csv"
KEY_VPN_PEERS_ALL = "mist:vpn_peers:all"
KEY_INSIGHTS_ALL = "mist:insights:all"
KEY_METRICS = "mist:metrics"  # Prometheus text format 0.0.4
KEY_METRICS_OPENMETRICS = "mist:metrics:openmetrics"  # the same as OpenMetrics 1.0
KEY_GATEWAY_DETAILS = "mist:gateways:by_id"  # hash: gateway id -> its JSON
KEY_PEER_PATH_DETAILS = "mist:vpn_peers:by_gateway"  # hash: gateway id -> its peer paths
KEY_LAST_UPDATE = "mist:metadata:last_update"
KEY_WORKER_STATUS = "mist:metadata:worker_status"
KEY_STATUS = "mist:metadata:status"
KEY_INTERVAL = "mist:metadata:interval"
KEY_ETAGS = "mist:metadata:etags"
KEY_HEARTBEAT = "mist:metadata:heartbeat"
KEY_LOCK = "mist:lock:worker"
KEY_EVENTS_ORG = "mist:events:org"  # the org whose events the web serves (no TTL)
KEY_WEEK_VOLUMES = "mist:traffic:week"  # hash: "gateway_id:port_id" -> its 7-day volume
GZ_SUFFIX = ":gz"
STAGED_PREFIX = "mist:staged:"  # a refresh is written here, then renamed live at once
LAST_GOOD_PREFIX = "mist:lastgood:"  # the newest snapshot again, served once the live is gone
FINE_SUFFIX = ":fine"
COARSE_SUFFIX = ":coarse"

HISTORY_TTL = 7 * 86400  # a port's history lives 7 days after its newest sample
CONFIG_TTL = 7 * 86400
WEEK_VOLUMES_TTL = 7 * 86400  # renewed with each write; a port gone a week is forgotten
LAST_GOOD_TTL = 7 * 86400  # the last known circuits outlive a long Mist outage by this much
LEASE_SECONDS = 10  # a killed worker's lease lapses this soon; the heartbeat renews it
HEARTBEAT_PERIOD = 10
HEARTBEAT_TTL = 3 * HEARTBEAT_PERIOD  # a missing heartbeat means a dead worker
COMPANION_SLACK = 3 * 3600  # `:fine`/`:coarse` outlive the home key by at most this


class Dataset(enum.Enum):
    """The ready-made documents the web app serves."""

    ORG = "org"
    SITES = "sites"
    GATEWAYS = "gateways"
    GATEWAY_ROWS = "gateway_rows"
    EXPORT_CSV = "export_csv"
    VPN_PEERS_ALL = "vpn_peers_all"
    INSIGHTS_ALL = "insights_all"
    METRICS = "metrics"
    METRICS_OPENMETRICS = "metrics_openmetrics"


DATASET_KEYS: dict[Dataset, str] = {
    Dataset.ORG: KEY_ORG,
    Dataset.SITES: KEY_SITES,
    Dataset.GATEWAYS: KEY_GATEWAYS,
    Dataset.GATEWAY_ROWS: KEY_GATEWAY_ROWS,
    Dataset.EXPORT_CSV: KEY_EXPORT_CSV,
    Dataset.VPN_PEERS_ALL: KEY_VPN_PEERS_ALL,
    Dataset.INSIGHTS_ALL: KEY_INSIGHTS_ALL,
    Dataset.METRICS: KEY_METRICS,
    Dataset.METRICS_OPENMETRICS: KEY_METRICS_OPENMETRICS,
}


def snapshot_ttl(interval: int) -> int:
    """Snapshot keys live 3 refresh intervals: a dead worker's data disappears, a slow one's not."""
    return 3 * interval


def staged_key(key: str) -> str:
    """Where a refresh writes `key` before its switch (`mist:x` -> `mist:staged:x`)."""
    return STAGED_PREFIX + key.removeprefix(PREFIX)


def last_good_key(key: str) -> str:
    """The last-good copy of a live key (`mist:x` -> `mist:lastgood:x`), DATA.md §2."""
    return LAST_GOOD_PREFIX + key.removeprefix(PREFIX)


def gateway_mac(gateway_id: str) -> str:
    """The MAC a Mist gateway id ends with (`00000000-0000-0000-1000-{mac}`)."""
    return gateway_id.rsplit("-", 1)[-1]


def peer_paths_key(gateway_id: str) -> str:
    """`mist:vpn_peers:{gateway_id}-{mac}` (the seed's name): the MAC is the id's own end."""
    return f"mist:vpn_peers:{gateway_id}-{gateway_mac(gateway_id)}"


def events_key(org_id: str) -> str:
    """An org's events: a sorted set scored by time, kept 30 days (no TTL: AOF keeps it)."""
    return f"mist:events:{org_id}"


def events_state_key(org_id: str) -> str:
    """What the last refresh saw of an org, for the next one to compare with (model/events)."""
    return f"mist:events:{org_id}:state"


def events_system_key(org_id: str) -> str:
    """The worker's own conditions (failing, exhausted, stale) as its events last told them."""
    return f"mist:events:{org_id}:system"


def history_key(gateway_id: str, port_id: str) -> str:
    """The home key of a port's traffic history (its `:fine`/`:coarse` companions append)."""
    return f"mist:insights:{gateway_id}:{port_id}"


def config_key(kind: str) -> str:
    return f"mist:config:{kind}"
