"""All Mist I/O: a headless mistapi session per thread, token rotation, timeouts, retries,
pagination and call accounting.

The SDK is used for what it is good at (URL building, the generated endpoint functions); we
take over what a background worker cannot leave to it: it never prompts, never sleeps 5/10/20 s
on a 429 (we rotate to a token that still has budget), never waits forever on a socket, and never
mistakes a malformed body for an empty list. REFERENCE §3 and §5 explain the SDK behaviours.
"""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import mistapi
import requests
from mistapi.api.v1.orgs import (
    deviceprofiles,
    gatewaytemplates,
    inventory,
    orgs,
    sites,
    stats,
)
from mistapi.api.v1.self import self as self_api
from mistapi.api.v1.sites import devices
from mistapi.api.v1.sites import insights as site_insights

from settings import Secret, WorkerSettings

log = logging.getLogger("mist")

PAGE_LIMIT = 1000
HOURLY_LIMIT = 5000
MAX_PAGES = 10_000
SdkCall = Callable[..., Any]
Trim = Callable[[Any], Any]  # applied to each item as its page arrives (keeps memory small)


def _keep(item: Any) -> Any:
    return item


class MistError(Exception):
    """A Mist call failed for good (after bounded retries); the message is safe to log."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(MistError):
    """Every configured token has spent its hourly budget."""


class MalformedResponse(MistError):
    """Mist answered 200 with a body that is not the JSON we asked for."""


@dataclass
class TokenState:
    """Our own bookkeeping per token: calls this clock hour and whether Mist said 'enough'."""

    label: str
    hour: int = 0
    calls_this_hour: int = 0
    calls_total: int = 0
    exhausted_until: float = 0.0
    limit: int = HOURLY_LIMIT
    rejected: bool = False  # Mist answered 401: revoked or mistyped; skipped until restart

    def usable(self, now: float) -> bool:
        return (
            not self.rejected and self.exhausted_until <= now and self.calls_this_hour < self.limit
        )

    def as_status(self, now: float) -> dict[str, Any]:
        return {
            "label": self.label,
            "calls_this_hour": self.calls_this_hour,
            "limit": self.limit,
            "exhausted": self.rejected or self.exhausted_until > now,
        }


@dataclass
class CallCounter:
    """Calls spent by one stream (thread-safe: pages of one stream run concurrently)."""

    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self) -> None:
        with self.lock:
            self.calls += 1


@dataclass(frozen=True)
class Fetched:
    """Items of one stream and what they cost."""

    items: list[Any]
    calls: int
    seconds: float


class _HeadlessSession(mistapi.APISession):
    """The SDK session minus its habit of reading MIST_HOST / MIST_APITOKEN from os.environ.

    Our MIST_HOST may be a simulator or lab proxy the SDK would reject, and a stray
    MIST_APITOKEN would make it validate (spend) tokens we did not choose.
    """

    def _load_env(self, env_file: str | None = None) -> None:
        return None


def _official_host(host: str) -> bool:
    return host.endswith((".mist.com", ".mistsys.com", ".mist-federal.com"))


class MistConnection:
    """One org's worth of Mist access for the worker; safe to use from several threads."""

    def __init__(
        self,
        host: str,
        tokens: Sequence[Secret],
        *,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        page_workers: int = 4,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not tokens:
            raise ValueError("at least one token is needed")
        self.host = host
        self._tokens = list(tokens)
        self._states = [TokenState(label=f"token {i + 1}") for i in range(len(tokens))]
        self._active = 0
        self._token_lock = threading.Lock()
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._local = threading.local()
        self._pages = ThreadPoolExecutor(max_workers=page_workers, thread_name_prefix="mist-page")
        self.calls_this_refresh = 0
        self.rate_limited = False
        self.insights_keyed = True  # flips to one call per metric if Mist answers the spec shape
        self.insights_shape_known = False  # until one answer told us which shape Mist speaks
        self.cancelled = threading.Event()  # set on SIGTERM: no new attempts, no more waiting

    @classmethod
    def from_settings(cls, settings: WorkerSettings, **options: Any) -> MistConnection:
        return cls(settings.mist_host, settings.tokens, ca_bundle=settings.ca_bundle, **options)

    def close(self) -> None:
        self._pages.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------ sessions and tokens

    def new_sdk_session(self) -> mistapi.APISession:
        """A headless SDK session bound to our host, CA bundle and request timeout."""
        session = _HeadlessSession(
            host=None, apitoken=None, console_log_level=0, logging_log_level=50,
            show_cli_notif=False,
        )  # fmt: skip
        if _official_host(self.host):
            session.set_cloud(self.host)
        if session.get_cloud() != self.host:
            session._cloud_uri = self.host  # REFERENCE §5: the SDK only knows Mist's own hosts
        if session._url("/api/v1/self") != f"https://{self.host}/api/v1/self":
            raise MistError(
                f"this mistapi version cannot reach {self.host}; pin the tested version"
            )
        session._MAX_429_RETRIES = 0  # we rotate tokens ourselves; the SDK would sleep 5-20 s
        raw: requests.Session = session._session
        if self.ca_bundle:
            raw.verify = self.ca_bundle
        raw.request = self._timed_request(raw.request)  # type: ignore[method-assign]
        session._mcs_token = -1
        return session

    def _timed_request(self, request: Callable[..., requests.Response]) -> Callable[..., Any]:
        """Give every request a timeout and keep the raw response for classification."""
        local = self._local

        def timed(method: str, url: str, **kwargs: Any) -> requests.Response:
            kwargs.setdefault("timeout", self.timeout)
            if self.ca_bundle:  # a request-level verify beats REQUESTS_CA_BUNDLE in the env
                kwargs.setdefault("verify", self.ca_bundle)
            local.response = None
            local.error = None
            try:
                response = request(method, url, **kwargs)
            except Exception as error:
                local.error = error
                raise
            local.response = response
            local.content = response.content
            if response.status_code < 300:
                # The SDK parses every body again into an APIResponse we never read: hand it a
                # stub so a 1,000-item page is decoded once, by us (CPU and memory at 10k).
                response._content = b"{}"
            return response

        return timed

    def _session(self) -> mistapi.APISession:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self.new_sdk_session()
            self._local.session = session
        return session

    def _pick_token(self) -> int:
        """The active token, or the next one with budget left; RateLimited when none has."""
        now = self._clock()
        with self._token_lock:
            for step in range(len(self._tokens)):
                index = (self._active + step) % len(self._tokens)
                state = self._states[index]
                self._roll_hour(state, now)
                if state.usable(now):
                    if index != self._active:
                        log.info("switching to %s (previous token unusable)", state.label)
                    self._active = index
                    return index
            if all(s.rejected for s in self._states):
                raise MistError(
                    f"Mist rejected every configured token (HTTP 401): check MIST_API_TOKEN "
                    f"({len(self._tokens)} token(s))",
                    status=401,
                )
            self.rate_limited = True
            soonest = min(s.exhausted_until for s in self._states if not s.rejected)
            raise RateLimited(
                f"all {len(self._tokens)} Mist API tokens are rate limited "
                f"(next budget in {max(0, int(soonest - now))} s)",
                status=429,
            )

    @staticmethod
    def _roll_hour(state: TokenState, now: float) -> None:
        hour = int(now // 3600)
        if hour != state.hour:
            state.hour, state.calls_this_hour = hour, 0

    def _count(self, index: int) -> None:
        with self._token_lock:
            state = self._states[index]
            self._roll_hour(state, self._clock())
            state.calls_this_hour += 1
            state.calls_total += 1
            self.calls_this_refresh += 1

    def _exhaust(self, index: int, retry_after: str | None) -> None:
        now = self._clock()
        try:
            until = now + max(1.0, float(retry_after)) if retry_after else 0.0
        except ValueError:
            until = 0.0
        if not until:
            until = (math.floor(now / 3600) + 1) * 3600  # Mist resets budgets on the hour
        with self._token_lock:
            self._states[index].exhausted_until = until
        log.warning("%s is rate limited by Mist (HTTP 429)", self._states[index].label)

    def token_status(self) -> list[dict[str, Any]]:
        """Per-token budget for the status JSON; tokens are only ever named 'token N'."""
        now = self._clock()
        with self._token_lock:
            for state in self._states:
                self._roll_hour(state, now)
            return [state.as_status(now) for state in self._states]

    def tokens_available(self) -> int:
        now = self._clock()
        with self._token_lock:
            return sum(1 for s in self._states if s.usable(now))

    def begin_refresh(self) -> None:
        with self._token_lock:
            self.calls_this_refresh = 0
            self.rate_limited = False

    # ------------------------------------------------------------ one call

    def call(self, fn: SdkCall, *args: Any, counter: CallCounter | None = None, **kw: Any) -> Any:
        """Run one SDK endpoint function with rotation and retries; return the parsed JSON."""
        body, _ = self._call(lambda session: fn(session, *args, **kw), counter)
        return body

    def _call(
        self, invoke: Callable[[mistapi.APISession], Any], counter: CallCounter | None
    ) -> tuple[Any, requests.Response]:
        session = self._session()
        failures = 0
        while True:
            if self.cancelled.is_set():
                raise MistError("stopped before the call (shutting down)")
            index = self._pick_token()
            if session._mcs_token != index:
                session.set_api_token(self._tokens[index].reveal(), validate=False)
                session._mcs_token = index
            self._local.response = None
            self._local.error = None
            self._local.content = None
            try:
                invoke(session)
            except Exception as error:  # the SDK's error paths can raise on odd bodies
                self._local.error = self._local.error or error
            self._count(index)
            if counter is not None:
                counter.add()
            response: requests.Response | None = self._local.response
            problem: str
            if response is None:
                problem = f"no answer from {self.host}: {_describe(self._local.error)}"
            elif response.status_code == 429:
                self._exhaust(index, response.headers.get("Retry-After"))
                continue  # another token (or RateLimited), no sleep
            elif response.status_code >= 500:
                problem = f"HTTP {response.status_code} from Mist"
            elif response.status_code == 401 and len(self._tokens) > 1:
                with self._token_lock:
                    self._states[index].rejected = True
                log.warning(
                    "%s was rejected by Mist (HTTP 401); using the others",
                    self._states[index].label,
                )
                continue
            elif response.status_code >= 400:
                raise MistError(
                    f"HTTP {response.status_code} from Mist for {_path(response)}: "
                    f"{_detail(response)}",
                    status=response.status_code,
                )
            else:
                try:
                    body = json.loads(self._local.content)
                    self._local.response = self._local.content = None  # free the page
                    return body, response
                except ValueError:
                    problem = f"malformed JSON from Mist for {_path(response)}"
                    if failures >= self.retries:
                        raise MalformedResponse(problem, status=response.status_code) from None
            failures += 1
            if failures > self.retries:
                raise MistError(f"{problem} (gave up after {failures} attempts)")
            delay = min(10.0, self.backoff * 2 ** (failures - 1)) * (0.5 + random.random())  # noqa: S311
            log.info("retrying in %.2f s: %s", delay, problem)
            if self._sleep is time.sleep:
                self.cancelled.wait(delay)
            else:
                self._sleep(delay)

    # ------------------------------------------------------------ pagination

    def header_paged(self, fn: SdkCall, *args: Any, trim: Trim = _keep, **kw: Any) -> Fetched:
        """Array endpoints: page 1, then all remaining pages concurrently (X-Page-* headers)."""
        started = time.monotonic()
        counter = CallCounter()
        first, response = self._call(
            lambda s: fn(s, *args, limit=PAGE_LIMIT, page=1, **kw), counter
        )
        items = [trim(item) for item in _expect_list(first, response)]
        pages = _page_count(response)
        if pages is None:  # no paging headers: walk on while pages come back full
            page = 1
            batch = items
            while len(batch) >= PAGE_LIMIT and page < MAX_PAGES:
                page += 1
                batch = self._page(fn, args, kw, page, counter)
                items.extend(trim(item) for item in batch)
        elif pages > 1:
            # Each page is trimmed on its own thread and its future dropped once read: a
            # finished future holds its result, and ten raw 1,000-gateway pages are ~150 MB.
            futures = deque(
                self._pages.submit(self._page, fn, args, kw, page, counter, trim)
                for page in range(2, min(pages, MAX_PAGES) + 1)
            )
            while futures:
                items.extend(futures.popleft().result())
        return Fetched(items, counter.calls, time.monotonic() - started)

    def _page(
        self,
        fn: SdkCall,
        args: Sequence[Any],
        kw: dict[str, Any],
        page: int,
        counter: CallCounter,
        trim: Trim = _keep,
    ) -> list[Any]:
        body, response = self._call(
            lambda s: fn(s, *args, limit=PAGE_LIMIT, page=page, **kw), counter
        )
        return [trim(item) for item in _expect_list(body, response)]

    def cursor_paged(self, fn: SdkCall, *args: Any, trim: Trim = _keep, **kw: Any) -> Fetched:
        """Search endpoints: follow the relative `next` path until Mist stops giving one."""
        started = time.monotonic()
        counter = CallCounter()
        body, response = self._call(lambda s: fn(s, *args, limit=PAGE_LIMIT, **kw), counter)
        items: list[Any] = []
        seen: set[str] = set()
        while True:
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise MalformedResponse(f"search answer without results for {_path(response)}")
            items.extend(trim(item) for item in body["results"])
            next_path = body.get("next")
            if not next_path or not body["results"]:
                break
            if not isinstance(next_path, str) or not next_path.startswith("/api/"):
                raise MalformedResponse(f"unexpected next link for {_path(response)}")
            if next_path in seen or len(seen) >= MAX_PAGES:
                raise MalformedResponse(f"search paging loops for {_path(response)}")
            seen.add(next_path)
            body, response = self._call(_follow(next_path), counter)
        return Fetched(items, counter.calls, time.monotonic() - started)

    # ------------------------------------------------------------ the calls of DATA.md §1

    def detect_org(self, wanted: str | None) -> str:
        """The org id to read: the configured one, or the only org the token can see.

        Org and site privileges name their org; an MSP privilege names only the MSP, whose
        orgs are listed (header-paged, counted like every call). Anything but exactly one
        org is an OrgChoiceError, which the worker turns into exit 2 naming MIST_ORG_ID.
        """
        if wanted:
            return wanted
        body = self.call(self_api.getSelf)
        privileges = body.get("privileges") if isinstance(body, dict) else None
        if not isinstance(privileges, list):
            raise MalformedResponse("/self answered without privileges")
        orgs_seen: dict[str, str] = {}
        msps: dict[str, str] = {}
        for privilege in privileges:
            if not isinstance(privilege, dict):
                continue
            if privilege.get("org_id"):
                name = privilege.get("name") if privilege.get("scope") == "org" else None
                org_id = str(privilege["org_id"])
                orgs_seen[org_id] = str(
                    name or privilege.get("org_name") or orgs_seen.get(org_id, "")
                )
            elif privilege.get("scope") == "msp" and privilege.get("msp_id"):
                msp_name = privilege.get("name") or privilege.get("msp_name") or ""
                msps[str(privilege["msp_id"])] = str(msp_name)
        refused: list[str] = []  # MSPs whose orgs Mist would not list (restricted MSP admin)
        for msp_id, msp_name in msps.items():
            try:
                listed = self.msp_orgs(msp_id).items
            except MistError as error:
                if error.status not in (403, 404):
                    raise
                refused.append(f"MSP {msp_id} ({msp_name}, HTTP {error.status})")
                continue
            for org in listed:
                if isinstance(org, dict) and org.get("id"):
                    org_id = str(org["id"])
                    orgs_seen[org_id] = orgs_seen.get(org_id) or str(org.get("name") or "")
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

    def msp_orgs(self, msp_id: str) -> Fetched:
        """Every org of an MSP (`GET /api/v1/msps/{msp_id}/orgs`), 1,000 a page."""
        return self.header_paged(_list_msp_orgs, msp_id)

    def org(self, org_id: str) -> Fetched:
        started = time.monotonic()
        counter = CallCounter()
        body = self.call(orgs.getOrg, org_id, counter=counter)
        if not isinstance(body, dict):
            raise MalformedResponse("the org answer is not an object")
        return Fetched([body], counter.calls, time.monotonic() - started)

    def sites(self, org_id: str) -> Fetched:
        return self.header_paged(sites.listOrgSites, org_id)

    def gateway_stats(self, org_id: str, trim: Trim = _keep) -> Fetched:
        return self.header_paged(stats.listOrgDevicesStats, org_id, type="gateway", trim=trim)

    def port_stats(self, org_id: str, trim: Trim = _keep) -> Fetched:
        return self.cursor_paged(
            stats.searchOrgSwOrGwPorts, org_id, device_type="gateway", trim=trim
        )

    def peer_paths(self, org_id: str, trim: Trim = _keep) -> Fetched:
        return self.cursor_paged(stats.searchOrgPeerPathStats, org_id, duration="1h", trim=trim)

    def gateway_templates(self, org_id: str) -> Fetched:
        return self.header_paged(gatewaytemplates.listOrgGatewayTemplates, org_id)

    def device_profiles(self, org_id: str) -> Fetched:
        return self.header_paged(deviceprofiles.listOrgDeviceProfiles, org_id, type="gateway")

    def inventory(self, org_id: str) -> Fetched:
        return self.header_paged(inventory.getOrgInventory, org_id, type="gateway")

    def device_config(self, site_id: str, device_id: str, counter: CallCounter) -> dict[str, Any]:
        body = self.call(devices.getSiteDevice, site_id, device_id, counter=counter)
        if not isinstance(body, dict):
            raise MalformedResponse("a device config is not an object")
        return body

    def port_insights(
        self,
        site_id: str,
        gateway_id: str,
        port_id: str,
        *,
        start: int,
        end: int,
        counter: CallCounter,
    ) -> tuple[list[tuple[int, float | None, float | None]], int]:
        """Hourly rx/tx bps of one WAN port between start and end: (points, step seconds).

        Mist's live answer is keyed per metric; the spec's is one `results` series. We ask for
        both metrics at once and fall back to one call per metric when Mist will not.
        """
        query = {"port_id": port_id, "start": str(start), "end": str(end), "interval": "1h"}
        if self.insights_keyed:
            try:
                body = self.call(
                    site_insights.getSiteInsightMetricsForGateway,
                    site_id, gateway_id, "rx_bps,tx_bps", limit=PAGE_LIMIT, counter=counter,
                    **query,
                )  # fmt: skip
            except MistError as error:
                if error.status != 400:
                    raise
                body = None
            if isinstance(body, dict) and isinstance(body.get("rx_bps"), list):
                self.insights_shape_known = True
                step = _interval(body)
                return _zip_series(body, body["rx_bps"], body.get("tx_bps"), step), step
            log.info("Mist answers insights one metric at a time; switching to that")
            self.insights_keyed = False
            self.insights_shape_known = True
        series: dict[str, dict[str, Any]] = {}
        for metric in ("rx_bps", "tx_bps"):
            body = self.call(
                site_insights.getSiteInsightMetricsForGateway,
                site_id, gateway_id, metric, limit=PAGE_LIMIT, counter=counter, **query,
            )  # fmt: skip
            if not isinstance(body, dict):
                raise MalformedResponse("an insights answer is not an object")
            series[metric] = body
        rx, tx = series["rx_bps"], series["tx_bps"]
        values_rx = rx.get(metric_key(rx, "rx_bps"))
        values_tx = tx.get(metric_key(tx, "tx_bps"))
        step = _interval(rx)
        return _zip_series(rx, values_rx, values_tx, step), step


class OrgChoiceError(MistError):
    """The org cannot be chosen automatically; `orgs` maps id to name for the message.

    The message lists at most ORG_CHOICES_LISTED orgs: an MSP may have thousands, and one
    line of stderr should stay readable.
    """

    def __init__(self, message: str, orgs_seen: dict[str, str]) -> None:
        shown = list(orgs_seen.items())[:ORG_CHOICES_LISTED]
        listing = "; ".join(f"{org_id} ({name})" for org_id, name in shown)
        if len(orgs_seen) > len(shown):
            listing += f"; and {len(orgs_seen) - len(shown)} more"
        super().__init__(f"{message}: {listing}" if listing else message)
        self.orgs = orgs_seen


ORG_CHOICES_LISTED = 50


def _list_msp_orgs(session: mistapi.APISession, msp_id: str, *, limit: int, page: int) -> Any:
    """`mistapi.api.v1.msps.orgs.listMspOrgs` with paging: the SDK function (0.63.3), like
    spec 2509, takes no limit/page, yet Mist pages this bare array as every other one
    (X-Page-* headers, 100 by default), so without them an MSP's 101st org would be lost."""
    query = {"limit": str(limit), "page": str(page)}
    return session.mist_get(f"/api/v1/msps/{msp_id}/orgs", query=query)


def metric_key(body: dict[str, Any], metric: str) -> str:
    return metric if isinstance(body.get(metric), list) else "results"


def _interval(body: dict[str, Any]) -> int:
    try:
        step = int(body.get("interval") or 3600)
    except (TypeError, ValueError):
        step = 3600
    return step if step > 0 else 3600


def _zip_series(
    body: dict[str, Any], rx: Any, tx: Any, step: int
) -> list[tuple[int, float | None, float | None]]:
    """Bucket i starts at start + i*interval (REFERENCE §4.9); a null value stays a gap."""
    if not isinstance(rx, list):
        raise MalformedResponse("an insights answer without a series")
    tx_values = tx if isinstance(tx, list) else []
    try:
        start = float(body.get("start") or 0)
    except (TypeError, ValueError):
        raise MalformedResponse("an insights answer without a start time") from None
    points = []
    for i, rx_value in enumerate(rx):
        tx_value = tx_values[i] if i < len(tx_values) else None
        points.append((int(start) + i * step, _number(rx_value), _number(tx_value)))
    return points


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _describe(error: BaseException | None) -> str:
    """Exception name plus the last part of its text (urllib3 nests the useful bit)."""
    if error is None:
        return "unknown error"
    text = str(error).replace(str(error.__class__.__name__), "").strip(" :()")
    return f"{type(error).__name__}: {text[-160:]}" if text else type(error).__name__


def _follow(path: str) -> Callable[[mistapi.APISession], Any]:
    """A call that GETs a `next` path as-is on our host (what mistapi.get_next does)."""
    return lambda session: session.mist_get(path)


def _expect_list(body: Any, response: requests.Response) -> list[Any]:
    if not isinstance(body, list):
        raise MalformedResponse(f"expected a list from {_path(response)}")
    return list(body)


def _page_count(response: requests.Response) -> int | None:
    try:
        total = int(response.headers["X-Page-Total"])
        limit = int(response.headers["X-Page-Limit"])
    except (KeyError, ValueError):
        return None
    if limit <= 0:
        return None
    return max(1, math.ceil(total / limit))


def _path(response: requests.Response) -> str:
    return urlsplit(response.url).path if response.url else "?"


def _detail(response: requests.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail)[:200] if detail else response.reason or "error"
