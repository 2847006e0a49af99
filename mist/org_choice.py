"""Which org to read when MIST_ORG_ID is empty: the only one the token can see.

Org and site privileges in `/self` name their org; an MSP privilege names only the MSP, whose
orgs are listed (header-paged, counted like every call). Anything but exactly one org is an
OrgChoiceError, which the worker turns into exit 2 naming MIST_ORG_ID.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import mistapi
from mistapi.api.v1.self import self as self_api

from mist.errors import MalformedResponse, MistError, OrgChoiceError
from mist.streams import Fetched

log = logging.getLogger("mist")


def list_msp_orgs(session: mistapi.APISession, msp_id: str, *, limit: int, page: int) -> Any:
    """`mistapi.api.v1.msps.orgs.listMspOrgs` with paging: the SDK function (0.63.3), like
    spec 2509, takes no limit/page, yet Mist pages this bare array as every other one
    (X-Page-* headers, 100 by default), so without them an MSP's 101st org would be lost."""
    query = {"limit": str(limit), "page": str(page)}
    return session.mist_get(f"/api/v1/msps/{msp_id}/orgs", query=query)


def choose_org(call: Callable[..., Any], msp_orgs: Callable[[str], Fetched]) -> str:
    """The one org id the token sees, through `/self` and its MSPs' org listings."""
    body = call(self_api.getSelf)
    privileges = body.get("privileges") if isinstance(body, dict) else None
    if not isinstance(privileges, list):
        raise MalformedResponse("/self answered without privileges")
    orgs_seen, msps = privileged(privileges)
    refused = add_msp_orgs(orgs_seen, msps, msp_orgs)
    return only_org(orgs_seen, refused)


def privileged(privileges: list[Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(org id -> name, MSP id -> name) named by the privileges of `/self`."""
    orgs_seen: dict[str, str] = {}
    msps: dict[str, str] = {}
    for privilege in privileges:
        if not isinstance(privilege, dict):
            continue
        if privilege.get("org_id"):
            name = privilege.get("name") if privilege.get("scope") == "org" else None
            org_id = str(privilege["org_id"])
            orgs_seen[org_id] = str(name or privilege.get("org_name") or orgs_seen.get(org_id, ""))
        elif privilege.get("scope") == "msp" and privilege.get("msp_id"):
            msp_name = privilege.get("name") or privilege.get("msp_name") or ""
            msps[str(privilege["msp_id"])] = str(msp_name)
    return orgs_seen, msps


def add_msp_orgs(
    orgs_seen: dict[str, str], msps: dict[str, str], msp_orgs: Callable[[str], Fetched]
) -> list[str]:
    """Add every org the MSPs list; return the MSPs whose orgs Mist would not list
    (a restricted MSP admin gets 403 or 404: an answer, not a failure)."""
    refused: list[str] = []
    for msp_id, msp_name in msps.items():
        try:
            listed = msp_orgs(msp_id).items
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


def only_org(orgs_seen: dict[str, str], refused: list[str]) -> str:
    """The single org seen, else an OrgChoiceError that says why and lists the choices."""
    unlisted = f"Mist would not list the orgs of {', '.join(refused)}" if refused else ""
    if len(orgs_seen) == 1:
        if unlisted:
            log.warning("%s; reading the one org the token names", unlisted)
        return next(iter(orgs_seen))
    if not orgs_seen:
        why = f" and {unlisted}" if unlisted else ""
        raise OrgChoiceError(f"the token has no org privilege{why}; set MIST_ORG_ID", {})
    why = f" ({unlisted})" if unlisted else ""
    raise OrgChoiceError(
        f"the token sees several orgs{why}; choose one with MIST_ORG_ID", orgs_seen
    )
