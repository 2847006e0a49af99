"""Mist's gateway device events since the last read (`searchOrgDeviceEvents`), org-wide.

One search, cursor-paged like the other search streams (mist/paging.py), with the
connection's token rotation and retries: one call per refresh in a steady org (a page holds
1,000 events), more only when more happened. The event types to ask for are the model's
(model/mist_events.py); this module only asks.
"""

from __future__ import annotations

from collections.abc import Sequence

from mistapi.api.v1.orgs import devices

from mist.paging import Pager
from mist.streams import Fetched


def read_device_events(
    pager: Pager, org_id: str, *, start: int, end: int, types: Sequence[str]
) -> Fetched:
    """The org's gateway events of `types` with start ≤ timestamp ≤ end, oldest first."""
    return pager.cursor_paged(
        devices.searchOrgDeviceEvents,
        org_id,
        device_type="gateway",
        type=",".join(types),
        start=str(start),
        end=str(end),
        sort="timestamp",
    )
