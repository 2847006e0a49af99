"""The deployment's own documents after each refresh cycle: the org overview (`mist:orgs`,
`mist:orgs:csv`) and the org index the web routes `?org=` by (`mist:orgs:index`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis

from store.codec import encode_json
from store.keys import KEY_LAST_UPDATE, KEY_ORGS_INDEX, OVERVIEW_KEYSPACE, Dataset
from store.publisher import Publisher
from store.status import queue_status


def index_document(orgs: Sequence[str], *, multi: bool) -> dict[str, Any]:
    """`{"multi", "orgs"}`: the orgs served, in order; `multi` when each has its own keys."""
    return {"multi": multi, "orgs": list(orgs)}


def stage_overview(
    out: Publisher,
    *,
    overview: Mapping[str, bytes],
    index: Mapping[str, Any],
    last_update: float | None = None,
    status: Mapping[str, Any] | None = None,
) -> None:
    """The overview's JSON and CSV (`overview` = {"json", "csv"}: gzip twins, ETags and
    last-good copy as every served document) and the index, staged into `out` (a publish of
    the overview's keyspace: its own, or nested in a single-org snapshot's, switched with
    it); with `last_update` the deployment's (/health's age), with `status` the worker's."""
    out.served(Dataset.ORGS, overview["json"])
    out.served(Dataset.ORGS_CSV, overview["csv"])

    def queue(transaction: Any) -> None:
        transaction.set(KEY_ORGS_INDEX, encode_json(index))
        if last_update is not None:
            transaction.set(KEY_LAST_UPDATE, repr(float(last_update)))
        if status is not None:
            queue_status(transaction, status)

    out.with_switch(queue)


def publish_overview(
    client: redis.Redis,
    *,
    interval: int,
    now: float,
    owner: str | None,
    overview: Mapping[str, bytes],
    index: Mapping[str, Any],
    last_update: float | None = None,
    status: Mapping[str, Any] | None = None,
) -> None:
    """The overview and the index switched live on their own (a multi-org deployment, after
    each cycle; stage_overview says what). Fenced on the lease like every publish."""
    with Publisher(
        client, interval=interval, now=now, owner=owner, keyspace=OVERVIEW_KEYSPACE
    ) as out:
        stage_overview(out, overview=overview, index=index, last_update=last_update, status=status)
        out.commit()
