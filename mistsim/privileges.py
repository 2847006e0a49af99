"""User tokens with mixed privileges (`--user-tokens`): what their `/self` lists and what
they may read.

An ordinary Mist user holds privileges of several scopes at once, listed in no particular
order: `scope: org` (reads that org's org-wide endpoints), `scope: site` (reads only that
site: Mist answers 403 to `/orgs/{id}/...`) and `scope: msp` (lists the MSP's orgs and reads
every one of them). The worker must choose its org from such a list, so the simulator serves
one.

Spec: `TOKEN=PRIV+PRIV+...`, entries separated by commas, where PRIV is `org:N`, `site:N` or
`msp`, each optionally followed by `:ROLE` (admin, write, read, helpdesk, installer; default
read, Mist's "Observer"). N counts the orgs of `--orgs` from 1 (org 1 holds the data);
`site:1` is the org's first site, `site:N>1` a site of that (empty) org.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from mistsim import render
from mistsim.model import Org

ROLES = ("admin", "write", "read", "helpdesk", "installer")


@dataclass(frozen=True)
class Privilege:
    """One privilege of a user token: scope, the org it is in (1-based; 0 for msp), role."""

    scope: str
    org: int
    role: str = "read"


def parse_user_tokens(text: str, orgs: int) -> dict[str, tuple[Privilege, ...]]:
    """`--user-tokens` as token -> privileges in the order given; ValueError says what is
    wrong in the words of the flag."""
    tokens: dict[str, tuple[Privilege, ...]] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        token, _, spec = entry.partition("=")
        token = token.strip()
        if not token or not spec.strip():
            raise ValueError(f"--user-tokens entry {entry!r} is not TOKEN=PRIV[+PRIV...]")
        if token in tokens:
            raise ValueError(f"--user-tokens names {token!r} twice")
        tokens[token] = tuple(_privilege(part.strip(), orgs) for part in spec.split("+"))
    return tokens


def _privilege(text: str, orgs: int) -> Privilege:
    fields = text.split(":")
    scope = fields[0]
    if scope == "msp":
        number, rest = 0, fields[1:]
    elif scope in ("org", "site") and len(fields) >= 2 and fields[1].isdigit():
        number, rest = int(fields[1]), fields[2:]
        if not 1 <= number <= orgs:
            raise ValueError(f"--user-tokens privilege {text!r}: org {number} is not 1..{orgs}")
    else:
        raise ValueError(f"--user-tokens privilege {text!r} is not org:N, site:N or msp")
    if len(rest) > 1 or (rest and rest[0] not in ROLES):
        raise ValueError(f"--user-tokens privilege {text!r}: the role is one of {ROLES}")
    return Privilege(scope, number, rest[0] if rest else "read")


class Grants:
    """What the user tokens hold in one simulated MSP: their `/self` and their reach."""

    def __init__(self, org: Org, tokens: dict[str, tuple[Privilege, ...]]) -> None:
        self.org = org
        self.tokens = tokens
        self.org_ids = [org.id, *org.other_org_ids]

    def __contains__(self, token: object) -> bool:
        return token in self.tokens

    def site_of(self, number: int) -> tuple[str, str]:
        """(site id, site name) of `site:N`: org 1's first site, else a site of that org that
        exists only in the privilege (the org holds no data)."""
        if number == 1:
            site = self.org.sites[0]
            return site.id, site.name
        org_id = self.org_ids[number - 1]
        return str(uuid.uuid5(uuid.UUID(org_id), "site")), f"Site of Other Org {number}"

    def privileges(self, token: str) -> list[dict[str, Any]]:
        """The `privileges` of this token's `/self`, in its order, shaped as Mist's."""
        listed: list[dict[str, Any]] = []
        for privilege in self.tokens[token]:
            item: dict[str, Any] = {"scope": privilege.scope, "role": privilege.role}
            if privilege.scope == "msp":
                item.update(
                    msp_id=self.org.msp_id, name=self.org.msp_name, msp_name=self.org.msp_name
                )
            else:
                org_id = self.org_ids[privilege.org - 1]
                org_name = render.org_object(self.org, org_id)["name"]
                item.update(org_id=org_id, msp_id=self.org.msp_id, msp_name=self.org.msp_name)
                if privilege.scope == "site":
                    site_id, site_name = self.site_of(privilege.org)
                    item.update(site_id=site_id, name=site_name, org_name=org_name)
                else:
                    item["name"] = org_name
            item["views"] = []
            listed.append(item)
        return listed

    def may_read(self, token: str, params: dict[str, str]) -> bool:
        """Mist's rule: an MSP privilege reads its MSP and every org of it; an org privilege
        reads its org and the org's sites; a site privilege reads only its site."""
        held = self.tokens[token]
        if any(p.scope == "msp" for p in held):
            return params.get("msp_id", self.org.msp_id) == self.org.msp_id
        if "msp_id" in params:
            return False
        orgs = {self.org_ids[p.org - 1] for p in held if p.scope == "org"}
        if "org_id" in params:
            return params["org_id"] in orgs
        site_id = params.get("site_id")
        if site_id is None:
            return True
        sites = {self.site_of(p.org)[0] for p in held if p.scope == "site"}
        return site_id in sites or (self.org.id in orgs and site_id in self.org.site_by_id)
