"""Which orgs a multi-org deployment reads (MIST_ORG_ID a list of ids, or `*`).

At start every token's `/self` is read once (as for one org): its org-scoped privileges and
its MSPs. Each refresh then asks every MSP for its orgs with their names in one paged call
(`GET /msps/{msp_id}/stats/orgs`, 1,000 orgs a page), so no org costs a `GET /orgs/{id}`
for its name: with `*` the orgs are the org-scoped privileges plus every org an MSP lists
now (an org the MSP no longer lists drops out), with a list they are the ids given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mist.connection import MistConnection
from mist.errors import MistError, MistSettingError, OrgChoiceError, RateLimited
from mist.org_choice import Privileges
from mist.streams import Fetched
from model.values import TEXT_MAX

log = logging.getLogger("mist")

OrgRecord = dict[str, Any]


@dataclass
class OrgCycle:
    """The orgs of one refresh: org id -> its record from an MSP listing (None: the org
    must be asked for itself), in order, with the calls and errors of the listing."""

    orgs: dict[str, OrgRecord | None] = field(default_factory=dict)
    calls: int = 0
    errors: list[str] = field(default_factory=list)


class OrgCatalog:
    """The orgs to read, settled at start and listed again each refresh."""

    def __init__(self, mist: MistConnection, wanted: tuple[str, ...], *, all_orgs: bool) -> None:
        self.mist = mist
        self.wanted = wanted
        self.all_orgs = all_orgs
        self.privileges = Privileges()
        self._listed: dict[str, list[str]] = {}  # MSP id -> the orgs it listed last time

    def start(self) -> None:
        """Check the tokens (one `/self` each) and keep what they may read."""
        seen, known = self.mist.check_tokens(collect=True)
        if self.all_orgs and not known:
            raise RateLimited("every token is rate limited: its privileges are unknown", 429)
        self.privileges = seen
        if self.all_orgs and known and not seen.orgs and not seen.msps:
            if seen.site_level:
                raise MistSettingError(
                    "MIST_ORG_ID=* needs org-level or MSP tokens; these have only site-level "
                    "privileges (an org-level token is needed: Observer or above)"
                )
            raise OrgChoiceError("MIST_ORG_ID=*: the tokens read no org", {})

    def cycle(self) -> OrgCycle:
        """This refresh's orgs: every MSP listed once (its last listing kept when Mist would
        not answer, so a passing failure drops no org)."""
        found = OrgCycle()
        records: dict[str, OrgRecord] = {}
        listed: list[str] = []
        for msp_id, (msp_name, token) in self.privileges.msps.items():
            try:
                fetched = self._list_msp(msp_id, token)
            except MistError as error:
                found.errors.append(f"MSP {msp_id}: {error}")
                listed.extend(self._listed.get(msp_id, ()))
                continue
            found.calls += fetched.calls
            ids = _records(fetched, msp_id, msp_name, records)
            self._listed[msp_id] = ids
            listed.extend(ids)
        order = [*self.privileges.orgs, *listed] if self.all_orgs else list(self.wanted)
        for org_id in dict.fromkeys(order):
            found.orgs[org_id] = records.get(org_id)
        return found

    def _list_msp(self, msp_id: str, token: int) -> Fetched:
        """The MSP's org stats; its plain org list when the stats are refused to this admin."""
        try:
            return self.mist.msp_org_stats(msp_id, token)
        except MistError as error:
            if error.status not in (403, 404):
                raise
            log.info("MSP %s: org stats refused (HTTP %s), listing its orgs", msp_id, error.status)
            return self.mist._msp_orgs_with(msp_id, token)


def _records(
    fetched: Fetched, msp_id: str, msp_name: str, records: dict[str, OrgRecord]
) -> list[str]:
    """The org records of one MSP listing, shaped as `GET /orgs/{id}` would give them."""
    ids: list[str] = []
    for item in fetched.items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        org_id = item["id"][:TEXT_MAX]
        name = item.get("name")
        records[org_id] = {
            "id": org_id,
            "name": name[:TEXT_MAX] if isinstance(name, str) else None,
            "msp_id": msp_id,
            "msp_name": msp_name[:TEXT_MAX] or None,
        }
        ids.append(org_id)
    return ids
