"""Which org to read when MIST_ORG_ID is empty: the only one the tokens can read org-wide.

Only privileges that can read org-wide data choose: `scope: org` (any role: admin, write,
read = Observer, helpdesk, installer) and the orgs an `scope: msp` privilege's MSP lists
(header-paged, counted like every call). A site-level privilege (`site`, `sitegroup`) cannot
read `/orgs/{id}/stats/...` (Mist answers 403), so it never chooses, wherever `/self` lists
it; a token with nothing else is the wrong kind of token (a MistSettingError naming
MIST_API_TOKEN). Anything but exactly one org is an OrgChoiceError naming MIST_ORG_ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mistapi

from mist.errors import MalformedResponse, MistError, MistSettingError, OrgChoiceError
from mist.streams import Fetched

log = logging.getLogger("mist")

SITE_LEVEL = ("site", "sitegroup")
SITES_LISTED = 5

MspOrgs = Callable[[str, int], Fetched]  # (MSP id, index of a token holding it) -> its orgs


def list_msp_orgs(session: mistapi.APISession, msp_id: str, *, limit: int, page: int) -> Any:
    """`mistapi.api.v1.msps.orgs.listMspOrgs` with paging: the SDK function (0.63.3), like
    spec 2509, takes no limit/page, yet Mist pages this bare array as every other one
    (X-Page-* headers, 100 by default), so without them an MSP's 101st org would be lost."""
    query = {"limit": str(limit), "page": str(page)}
    return session.mist_get(f"/api/v1/msps/{msp_id}/orgs", query=query)


@dataclass
class Privileges:
    """What the `/self` answers of the accepted tokens grant, merged in token order."""

    orgs: dict[str, str] = field(default_factory=dict)  # org-scoped: org id -> name
    msps: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (name, token)
    site_level: list[str] = field(default_factory=list)  # for the message only

    def add(self, body: Any, token: int) -> None:
        """One token's `/self` answer (token = its index, to list an MSP with it)."""
        privileges = body.get("privileges") if isinstance(body, dict) else None
        if not isinstance(privileges, list):
            raise MalformedResponse("/self answered without privileges")
        for privilege in privileges:
            if isinstance(privilege, dict):
                self._add_one(privilege, token)

    def _add_one(self, privilege: dict[str, Any], token: int) -> None:
        scope = privilege.get("scope")
        if scope == "org" and privilege.get("org_id"):
            org_id = str(privilege["org_id"])
            name = privilege.get("name") or privilege.get("org_name") or self.orgs.get(org_id)
            self.orgs[org_id] = str(name or "")
        elif scope == "msp" and privilege.get("msp_id"):
            msp_id = str(privilege["msp_id"])
            name = privilege.get("name") or privilege.get("msp_name") or ""
            self.msps.setdefault(msp_id, (str(name), token))
        elif scope in SITE_LEVEL:
            where = privilege.get("name") or privilege.get("site_id") or "?"
            org = privilege.get("org_name") or privilege.get("org_id") or "?"
            self.site_level.append(f"{scope} {where} in org {org}")


def choose_org(seen: Privileges, msp_orgs: MspOrgs) -> str:
    """The one org id the tokens can read org-wide, through their MSPs' org listings."""
    orgs_seen = dict(seen.orgs)
    refused = add_msp_orgs(orgs_seen, seen.msps, msp_orgs)
    return only_org(orgs_seen, refused, seen.site_level)


def add_msp_orgs(
    orgs_seen: dict[str, str], msps: dict[str, tuple[str, int]], msp_orgs: MspOrgs
) -> list[str]:
    """Add every org the MSPs list; return the MSPs whose orgs Mist would not list
    (a restricted MSP admin gets 403 or 404: an answer, not a failure)."""
    refused: list[str] = []
    for msp_id, (msp_name, token) in msps.items():
        try:
            listed = msp_orgs(msp_id, token).items
        except MistError as error:
            if error.status not in (403, 404):
                raise
            refused.append(f"MSP {msp_id} ({msp_name}, HTTP {error.status})")
            continue
        for org in listed:
            if isinstance(org, dict) and org.get("id"):
                org_id = str(org["id"])
                orgs_seen[org_id] = orgs_seen.get(org_id) or str(org.get("name") or "")
    return refused


def only_org(orgs_seen: dict[str, str], refused: list[str], site_level: list[str]) -> str:
    """The single org seen, else a MistSettingError that says why and lists the choices."""
    unlisted = f"Mist would not list the orgs of {', '.join(refused)}" if refused else ""
    if len(orgs_seen) == 1:
        if unlisted:
            log.warning("%s; reading the one org the token names", unlisted)
        return next(iter(orgs_seen))
    if not orgs_seen and site_level and not refused:
        shown = "; ".join(site_level[:SITES_LISTED])
        more = (
            f"; and {len(site_level) - SITES_LISTED} more" if len(site_level) > SITES_LISTED else ""
        )
        raise MistSettingError(
            f"the token has only site-level privileges ({shown}{more}), which cannot read "
            "org-wide data; an org-level token is needed (Observer, i.e. read-only, or above)"
        )
    if not orgs_seen:
        why = f" and {unlisted}" if unlisted else ""
        raise OrgChoiceError(f"the token has no org privilege{why}; set MIST_ORG_ID", {})
    why = f" ({unlisted})" if unlisted else ""
    raise OrgChoiceError(
        f"the token sees several orgs{why}; choose one with MIST_ORG_ID", orgs_seen
    )
