"""Every Redis key name and TTL (docs/DATA.md §2), and nothing else."""

from __future__ import annotations

import enum
from dataclasses import dataclass

PREFIX = "mist:"
KEY_ORG = "mist:org"
KEY_SITES = "mist:sites"
KEY_GATEWAYS = "mist:gateways"
KEY_GATEWAY_ROWS = "mist:gateways:rows"
KEY_GATEWAY_FIRST = "mist:gateways:first"  # the rows document's first screen
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
KEY_ALERT_RECEIVERS = "mist:alerts:receivers"  # hash: receiver number -> its delivery JSON
KEY_AVAILABILITY = "mist:availability"  # every WAN port's and peer path's availability
KEY_AVAILABILITY_CSV = "mist:availability:csv"
KEY_AVAILABILITY_DETAILS = "mist:availability:by_gateway"  # hash: gateway id -> its JSON
KEY_ISPS = "mist:isps"  # the ISPs ranked by availability and quality
KEY_ISPS_CSV = "mist:isps:csv"
KEY_SLE = "mist:sle"  # the sites' last WAN SLEs read from Mist, with when (hourly)
KEY_WORST = "mist:worst"  # the worst circuits document (views/worst.py)
KEY_ORGS = "mist:orgs"  # the org overview (views.orgs), one row per org
KEY_ORGS_CSV = "mist:orgs:csv"
KEY_ORGS_INDEX = "mist:orgs:index"  # which orgs the web serves and under which keys (no TTL)
ORG_PREFIX = "mist:org:"  # a multi-org deployment's per-org keys: mist:org:{org_id}:…
OVERVIEW_PREFIX = "mist:orgs:"  # the overview's own etags and last_update
KEY_WEEK_VOLUMES = "mist:traffic:week"  # hash: "gateway_id:port_id" -> its 7-day volume
GZ_SUFFIX = ":gz"
STAGED_PREFIX = "mist:staged:"  # a refresh is written here, then renamed live at once
LAST_GOOD_PREFIX = "mist:lastgood:"  # the newest snapshot again, served once the live is gone
PIECES_PREFIX = "mist:pieces:"  # a big document's pieces, named by its manifest (store/pieces)
FINE_SUFFIX = ":fine"
COARSE_SUFFIX = ":coarse"

HISTORY_TTL = 7 * 86400  # a port's history lives 7 days after its newest sample
CONFIG_TTL = 7 * 86400
SLE_TTL = 7 * 86400  # the last SLE values outlive a long Mist outage, like the configs
WEEK_VOLUMES_TTL = 7 * 86400  # renewed with each write; a port gone a week is forgotten
LAST_GOOD_TTL = 7 * 86400  # the last known circuits outlive a long Mist outage by this much
LEASE_SECONDS = 10  # a killed worker's lease lapses this soon; the heartbeat renews it
HEARTBEAT_PERIOD = 10
HEARTBEAT_TTL = 3 * HEARTBEAT_PERIOD  # a missing heartbeat means a dead worker
ALERT_OUTBOX_MAX = 10_000  # alerts waiting per receiver; beyond it the oldest go
SLA_HOUR_TTL = 2 * 86400  # a closed hour is read back once, 24 h after it closed
SLA_DAY_TTL = 32 * 86400  # a closed day is read back 7 and 30 days after it closed
COMPANION_SLACK = 3 * 3600  # `:fine`/`:coarse` outlive the home key by at most this


class Dataset(enum.Enum):
    """The ready-made documents the web app serves."""

    ORG = "org"
    SITES = "sites"
    GATEWAYS = "gateways"
    GATEWAY_ROWS = "gateway_rows"
    GATEWAY_FIRST = "gateway_first"
    EXPORT_CSV = "export_csv"
    VPN_PEERS_ALL = "vpn_peers_all"
    INSIGHTS_ALL = "insights_all"
    METRICS = "metrics"
    METRICS_OPENMETRICS = "metrics_openmetrics"
    AVAILABILITY = "availability"
    AVAILABILITY_CSV = "availability_csv"
    ISPS = "isps"
    ISPS_CSV = "isps_csv"
    WORST = "worst"
    ORGS = "orgs"
    ORGS_CSV = "orgs_csv"


GZIP_ONLY: frozenset[Dataset] = frozenset(
    {
        Dataset.METRICS,
        Dataset.METRICS_OPENMETRICS,
        Dataset.AVAILABILITY,
        Dataset.AVAILABILITY_CSV,
        Dataset.VPN_PEERS_ALL,
        Dataset.INSIGHTS_ALL,
        Dataset.EXPORT_CSV,
    }
)
"""Datasets stored only as their gzip twin (DATA.md §2). As plain text the exposition, in two
formats, was 40 % of Redis at 10,000 gateways (326 of 790 MB), the availability JSON and CSV
another 43 MB (their twins: 1.5 MB), every peer path, every port's insights and the circuits'
CSV 40 MB more (21 + 6 + 13; twins 3 MB): memory every fork of Redis copies the page tables of
and every publish rewrites into the AOF (a rewrite of it forks again once the AOF has grown by
its base: one refresh's writes less, one fork less). Scrapers and browsers ask for gzip; the
web inflates the twin as it sends it to a client that does not (web/metrics.py,
web/served.py). The seed's own keys (`mist:gateways`, `mist:sites`, `mist:org`) stay plain."""

DATASET_KEYS: dict[Dataset, str] = {
    Dataset.ORG: KEY_ORG,
    Dataset.SITES: KEY_SITES,
    Dataset.GATEWAYS: KEY_GATEWAYS,
    Dataset.GATEWAY_ROWS: KEY_GATEWAY_ROWS,
    Dataset.GATEWAY_FIRST: KEY_GATEWAY_FIRST,
    Dataset.EXPORT_CSV: KEY_EXPORT_CSV,
    Dataset.VPN_PEERS_ALL: KEY_VPN_PEERS_ALL,
    Dataset.INSIGHTS_ALL: KEY_INSIGHTS_ALL,
    Dataset.METRICS: KEY_METRICS,
    Dataset.METRICS_OPENMETRICS: KEY_METRICS_OPENMETRICS,
    Dataset.AVAILABILITY: KEY_AVAILABILITY,
    Dataset.AVAILABILITY_CSV: KEY_AVAILABILITY_CSV,
    Dataset.ISPS: KEY_ISPS,
    Dataset.ISPS_CSV: KEY_ISPS_CSV,
    Dataset.WORST: KEY_WORST,
    Dataset.ORGS: KEY_ORGS,
    Dataset.ORGS_CSV: KEY_ORGS_CSV,
}
OVERVIEW_DATASETS = frozenset({Dataset.ORGS, Dataset.ORGS_CSV})  # one per deployment


@dataclass(frozen=True)
class Keyspace:
    """Where one org's snapshot lives (DATA.md §2.3). The default is the single-org
    deployment's keys, exactly as they always were (`mist:gateways`, …); a multi-org
    deployment gives each org its own prefix (`mist:org:{org_id}:gateways`, …). Keys that
    need no org (per-gateway peer paths and histories, events, the lease) are not here."""

    prefix: str = PREFIX
    org_id: str | None = None  # None: the single-org deployment (and the overview)

    def key(self, suffix: str) -> str:
        return self.prefix + suffix

    def dataset_key(self, dataset: Dataset) -> str:
        """A served dataset's key; the overview's are the deployment's own, in any keyspace."""
        if dataset in OVERVIEW_DATASETS:
            return DATASET_KEYS[dataset]
        return self.prefix + DATASET_KEYS[dataset].removeprefix(PREFIX)

    @property
    def etags(self) -> str:
        return self.key("metadata:etags")

    @property
    def last_update(self) -> str:
        return self.key("metadata:last_update")

    @property
    def status(self) -> str:
        return self.key("metadata:status")

    @property
    def gateway_details(self) -> str:
        return self.key("gateways:by_id")

    @property
    def peer_path_details(self) -> str:
        return self.key("vpn_peers:by_gateway")

    @property
    def availability_details(self) -> str:
        return self.key("availability:by_gateway")

    @property
    def sle(self) -> str:
        """The sites' last WAN SLEs (kept between refreshes, read hourly)."""
        return self.key("sle")

    def config_key(self, kind: str) -> str:
        return self.key(f"config:{kind}")


DEFAULT_KEYSPACE = Keyspace()
OVERVIEW_KEYSPACE = Keyspace(prefix=OVERVIEW_PREFIX)


def org_keyspace(org_id: str) -> Keyspace:
    """An org's keys in a multi-org deployment: `mist:org:{org_id}:…`."""
    return Keyspace(prefix=f"{ORG_PREFIX}{org_id}:", org_id=org_id)


def keyspace_of(dataset: Dataset, keyspace: Keyspace) -> Keyspace:
    """The keyspace a dataset is read from: the overview's own, else the org's."""
    return OVERVIEW_KEYSPACE if dataset in OVERVIEW_DATASETS else keyspace


def snapshot_ttl(interval: int) -> int:
    """Snapshot keys live 3 refresh intervals: a dead worker's data disappears, a slow one's not."""
    return 3 * interval


def staged_key(key: str) -> str:
    """Where a refresh writes `key` before its switch (`mist:x` -> `mist:staged:x`)."""
    return STAGED_PREFIX + key.removeprefix(PREFIX)


def retired_key(key: str) -> str:
    """Where the switch moves the old value of `key` until it is UNLINKed, right after
    (`mist:x` -> `mist:staged:retired:x`)."""
    return STAGED_PREFIX + "retired:" + key.removeprefix(PREFIX)


def piece_key(key: str, generation: str) -> str:
    """The base name of one generation's pieces of the document at live `key`
    (`mist:x` -> `mist:pieces:x:<generation>`; piece n is `…:<generation>:<n>`)."""
    return f"{PIECES_PREFIX}{key.removeprefix(PREFIX)}:{generation}"


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


def event_blocks_key(org_id: str) -> str:
    """An org's packed events (hash, no TTL: AOF keeps it): `<hour>` -> that hour's block
    (store/event_blocks.py), `meta` -> what the blocks hold (counts, packed-until, cut)."""
    return f"mist:events:{org_id}:blocks"


def event_catalog_key(org_id: str) -> str:
    """An org's event subjects and peers, numbered (hash, no TTL; store/event_catalog.py)."""
    return f"mist:events:{org_id}:catalog"


def event_version_key(org_id: str) -> str:
    """A token each write of an org's events changes: the default /api/events page's ETag."""
    return f"mist:events:{org_id}:version"


def alert_outbox_key(receiver: int) -> str:
    """A receiver's queue of alerts (a list, oldest first; no TTL: AOF keeps it). Receivers
    are numbers (1 = the first of ALERT_WEBHOOK_URLS): no URL is ever in a key or value."""
    return f"mist:alerts:outbox:{receiver}"


def alert_holddown_key(org_id: str) -> str:
    """An org's open hold-down windows (JSON, no TTL): per org, so orgs refreshed side by
    side never overwrite each other's."""
    return f"mist:alerts:holddown:{org_id}"


def sla_state_key(org_id: str) -> str:
    """An org's availability running sums (sla.accumulator), zlib'd JSON, no TTL."""
    return f"mist:sla:{org_id}:state"


def sla_bucket_key(org_id: str, bucket: str) -> str:
    """One closed hour (`h…`) or day (`d…`) of an org's circuits, read back once it leaves
    a window (SLA_HOUR_TTL, SLA_DAY_TTL)."""
    return f"mist:sla:{org_id}:{bucket}"


def history_key(gateway_id: str, port_id: str) -> str:
    """The home key of a port's traffic history (its `:fine`/`:coarse` companions append)."""
    return f"mist:insights:{gateway_id}:{port_id}"


def config_key(kind: str) -> str:
    return DEFAULT_KEYSPACE.config_key(kind)
