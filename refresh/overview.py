"""The org overview's rows and bytes (`views.orgs`), and a single-org deployment's overview
staged into its snapshot's publish, so both go live in one switch."""

from __future__ import annotations

from typing import Any

from store.codec import encode_json
from store.keys import OVERVIEW_KEYSPACE
from store.overview import index_document, stage_overview
from store.publisher import Publisher
from views.orgs import OrgSummary, overview_csv, overview_document


def summary_of(
    org_id: str,
    name: Any,
    summary: Any,
    last_update: float | None,
    error: str | None,
) -> OrgSummary:
    """One overview row from an org's last counts (zeros before its first publish)."""
    counts = summary if isinstance(summary, dict) else {}

    def count(key: str) -> int:
        value = counts.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return OrgSummary(
        org_id=org_id,
        name=name if isinstance(name, str) else "",
        gateways_online=count("gateways_online"),
        gateways_offline=count("gateways_offline"),
        circuits_up=count("circuits_up"),
        circuits_down=count("circuits_down"),
        paths_up=count("peer_paths_up"),
        paths_down=count("peer_paths_down"),
        circuits_degraded=count("circuits_degraded"),
        last_update=last_update,
        error=error,
    )


def overview_bytes(orgs: list[OrgSummary], now: float, interval: int) -> dict[str, bytes]:
    """The overview as JSON and CSV bytes (views.orgs builds both)."""
    document = overview_document(orgs, now=now, interval=interval)
    return {"json": encode_json(document), "csv": overview_csv(orgs, now=now, interval=interval)}


def stage_single_overview(out: Publisher, org_id: str, name: Any, summary: Any, now: float) -> None:
    """A single-org deployment's overview (its one row, published `now`) and the index
    naming its org, switched live with the snapshot `out` publishes: no moment where the
    snapshot is live and /api/orgs has nothing to answer."""
    row = summary_of(org_id, name, summary, now, None)
    stage_overview(
        out.nested(OVERVIEW_KEYSPACE),
        overview=overview_bytes([row], now, out.interval),
        index=index_document([org_id], multi=False),
    )
