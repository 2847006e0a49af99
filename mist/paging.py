"""Mist's two kinds of paging: X-Page-* headers on array endpoints (pages fetched
concurrently) and a relative `next` path on search endpoints (followed one by one)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from mist.errors import MalformedResponse, request_path
from mist.streams import CallCounter, Fetched, Invoke, SdkCall, Trim, keep

PAGE_LIMIT = 1000
MAX_PAGES = 10_000
Exchange = Callable[[Invoke, CallCounter | None], tuple[Any, requests.Response]]
PageOf = Callable[[int], Invoke]  # the request for page n of one stream


class Pager:
    """Walks the pages of one stream through `exchange` (one call with rotation and retries)."""

    def __init__(self, exchange: Exchange, workers: int) -> None:
        self._exchange = exchange
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mist-page")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def header_paged(self, fn: SdkCall, *args: Any, trim: Trim = keep, **kw: Any) -> Fetched:
        """Array endpoints: page 1, then all remaining pages concurrently (X-Page-* headers)."""
        started = time.monotonic()
        counter = CallCounter()

        def page_of(page: int) -> Invoke:
            return lambda s: fn(s, *args, limit=PAGE_LIMIT, page=page, **kw)

        first, response = self._exchange(page_of(1), counter)
        items = [trim(item) for item in expect_list(first, response)]
        pages = page_count(response)
        if pages is None:  # no paging headers: walk on while pages come back full
            self._walk_while_full(items, page_of, counter, trim)
        elif pages > 1:
            self._fetch_concurrently(items, pages, page_of, counter, trim)
        return Fetched(items, counter.calls, time.monotonic() - started)

    def _walk_while_full(
        self, items: list[Any], page_of: PageOf, counter: CallCounter, trim: Trim
    ) -> None:
        page, size = 1, len(items)
        while size >= PAGE_LIMIT and page < MAX_PAGES:
            page += 1
            batch = self._page(page_of(page), counter, trim)
            size = len(batch)
            items.extend(batch)

    def _fetch_concurrently(
        self, items: list[Any], pages: int, page_of: PageOf, counter: CallCounter, trim: Trim
    ) -> None:
        # Each page is trimmed on its own thread and its future dropped once read: a
        # finished future holds its result, and ten raw 1,000-gateway pages are ~150 MB.
        futures = deque(
            self._pool.submit(self._page, page_of(page), counter, trim)
            for page in range(2, min(pages, MAX_PAGES) + 1)
        )
        while futures:
            items.extend(futures.popleft().result())

    def _page(self, invoke: Invoke, counter: CallCounter, trim: Trim) -> list[Any]:
        body, response = self._exchange(invoke, counter)
        return [trim(item) for item in expect_list(body, response)]

    def cursor_paged(self, fn: SdkCall, *args: Any, trim: Trim = keep, **kw: Any) -> Fetched:
        """Search endpoints: follow the relative `next` path until Mist stops giving one."""
        started = time.monotonic()
        counter = CallCounter()
        body, response = self._exchange(lambda s: fn(s, *args, limit=PAGE_LIMIT, **kw), counter)
        items: list[Any] = []
        seen: set[str] = set()
        while True:
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise MalformedResponse(
                    f"search answer without results for {request_path(response)}"
                )
            items.extend(trim(item) for item in body["results"])
            next_path = body.get("next")
            if not next_path or not body["results"]:
                break
            check_next(next_path, seen, response)
            seen.add(next_path)
            body, response = self._exchange(follow(next_path), counter)
        return Fetched(items, counter.calls, time.monotonic() - started)


def check_next(next_path: Any, seen: set[str], response: requests.Response) -> None:
    """A `next` we follow must be a path on our host that we have not followed yet."""
    if not isinstance(next_path, str) or not next_path.startswith("/api/"):
        raise MalformedResponse(f"unexpected next link for {request_path(response)}")
    if next_path in seen or len(seen) >= MAX_PAGES:
        raise MalformedResponse(f"search paging loops for {request_path(response)}")


def follow(path: str) -> Invoke:
    """A call that GETs a `next` path as-is on our host (what mistapi.get_next does)."""
    return lambda session: session.mist_get(path)


def expect_list(body: Any, response: requests.Response) -> list[Any]:
    if not isinstance(body, list):
        raise MalformedResponse(f"expected a list from {request_path(response)}")
    return list(body)


def page_count(response: requests.Response) -> int | None:
    """Pages of a header-paged answer, or None when its X-Page-* headers say nothing usable."""
    try:
        total = int(response.headers["X-Page-Total"])
        limit = int(response.headers["X-Page-Limit"])
    except (KeyError, ValueError):
        return None
    if limit <= 0:
        return None
    return max(1, math.ceil(total / limit))
