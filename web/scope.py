"""`?org=<org_id>`: which org's keys an org-scoped request reads (DATA.md §2.3, §3.9).

The worker writes the org index (`mist:orgs:index`) after each cycle. A single-org deployment
serves its org from the seed's keys with or without `org` (another id is a 404); a multi-org
deployment serves `org` from that org's own keys, the only org without `org`, and answers a
request without `org` 400 naming the orgs to choose from when there are several. The index
is read at most once a second per process (one GET), so a hot path costs no more than that.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import redis

from store.codec import encode_json
from store.keys import DEFAULT_KEYSPACE, Keyspace, org_keyspace
from store.reads import OrgIndex, read_org_index
from web.answers import NO_STORE_JSON, Answer

ORG_ID_RE = re.compile(
    r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
)
INDEX_SECONDS = 1.0
SEVERAL = "several orgs are served: choose one with ?org=<org_id> (orgs lists them)"
UNKNOWN = "no such org in this deployment"
BAD_ID = "org must be a Mist org id"


@dataclass(frozen=True)
class OrgChoice:
    """The org a request reads: its keys and its id (None: not known yet)."""

    keyspace: Keyspace
    org_id: str | None


class OrgRefused(Exception):
    """The request names no org where several are served, or one that is not served."""

    def __init__(self, status: int, document: dict[str, Any]) -> None:
        super().__init__(document["error"])
        self.status = status
        self.body = encode_json(document)

    def answer(self) -> Answer:
        return self.status, list(NO_STORE_JSON), self.body


def org_argument(environ: Mapping[str, Any]) -> str | None:
    """The `org` query argument of a raw WSGI request (None when absent)."""
    query = environ.get("QUERY_STRING", "")
    if "org=" not in query:
        return None
    values = parse_qs(query, keep_blank_values=True).get("org")
    return values[0] if values else None


class OrgScopes:
    """Resolves `?org=` against the org index the worker wrote (cached a second)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        seconds: float = INDEX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._index: OrgIndex | None = None
        self._read_at = -1e18

    def index(self) -> OrgIndex | None:
        now = self.clock()
        with self._lock:
            if now - self._read_at < self.seconds:
                return self._index
        found = read_org_index(self.client)
        with self._lock:
            self._index, self._read_at = found, now
        return found

    def choose(self, org: str | None) -> OrgChoice:
        """The org of a request's `org` argument; OrgRefused says why not (400 / 404)."""
        if org is not None and not ORG_ID_RE.match(org):
            raise OrgRefused(400, {"error": BAD_ID, "status": 400})
        index = self.index()
        if index is None:  # no worker has published yet: the seed's keys (empty for now)
            return OrgChoice(DEFAULT_KEYSPACE, org)
        if org is not None and org.lower() not in index.orgs:
            raise OrgRefused(404, {"error": UNKNOWN, "status": 404})
        if not index.multi:
            return OrgChoice(DEFAULT_KEYSPACE, index.orgs[0] if index.orgs else org)
        if org is None:
            if len(index.orgs) != 1:
                raise OrgRefused(400, {"error": SEVERAL, "status": 400, "orgs": list(index.orgs)})
            org = index.orgs[0]
        return OrgChoice(org_keyspace(org.lower()), org.lower())

    def multi(self) -> bool:
        """Whether each org has its own keys (a multi-org deployment)."""
        index = self.index()
        return index is not None and index.multi
