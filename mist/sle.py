"""Mist's WAN SLEs of every site in one org-wide call (`getOrgSitesSle`, DATA.md §1 #13).

`GET /api/v1/orgs/{org_id}/insights/sites-sle?sle=wan&duration=1h` is paged in its body
(REFERENCE.md style D: `page`, `limit`, `total`, no headers, no `next`), so the SDK's
`get_all` stops after page 1: page 1 is read first, then the pages its `total` announces
(concurrently, as header-paged lists are), ⌈sites/1000⌉ calls in all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
from mistapi.api.v1.orgs import insights

from mist.errors import MalformedResponse, request_path
from mist.paging import MAX_PAGES, PAGE_LIMIT, Exchange
from mist.streams import CallCounter, Fetched, Invoke, Trim, keep

SLE_DURATION = "1h"  # the last hour's aggregate: the worker reads it at most once an hour


@dataclass(frozen=True)
class SleFetched(Fetched):
    """The sites' SLE entries and the window Mist measured them over (epoch seconds)."""

    start: float | None = None
    end: float | None = None


def _page(fetch: Exchange, org_id: str, page: int, counter: CallCounter) -> tuple[Any, Any]:
    """One page's body and response."""
    invoke: Invoke = lambda session: insights.getOrgSitesSle(  # noqa: E731
        session, org_id, sle="wan", duration=SLE_DURATION, limit=PAGE_LIMIT, page=page
    )
    return fetch(invoke, counter)


def _results(body: Any, response: requests.Response) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise MalformedResponse(f"SLE answer without results for {request_path(response)}")
    return list(body["results"])


def _pages(body: dict[str, Any]) -> int:
    """Pages the first answer announces (its `total` over its `limit`); 1 when it says
    nothing usable."""
    total, limit = body.get("total"), body.get("limit") or PAGE_LIMIT
    if not isinstance(total, int) or not isinstance(limit, int) or limit <= 0:
        return 1
    return max(1, min(MAX_PAGES, math.ceil(total / limit)))


def site_sles(
    fetch: Exchange,
    org_id: str,
    *,
    trim: Trim = keep,
    workers: int = 4,
    clock: Callable[[], float] = time.monotonic,
) -> SleFetched:
    """Every site's WAN SLE entry (trimmed as it arrives) and the window of page 1."""
    started = clock()
    counter = CallCounter()
    body, response = _page(fetch, org_id, 1, counter)
    items = [trim(item) for item in _results(body, response)]
    pages = _pages(body)
    if pages > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mist-sle") as pool:
            futures = [
                pool.submit(_page, fetch, org_id, page, counter) for page in range(2, pages + 1)
            ]
            for future in futures:
                more, answer = future.result()
                items.extend(trim(item) for item in _results(more, answer))
    return SleFetched(
        items,
        counter.calls,
        clock() - started,
        _moment(body.get("start")),
        _moment(body.get("end")),
    )


def _moment(value: Any) -> float | None:
    """An epoch-seconds bound of the window, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)
