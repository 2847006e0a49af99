"""MistConnection: one org's worth of Mist access for the worker.

One call is made with token rotation and bounded retries: it never prompts, never sleeps
5/10/20 s on a 429 (it rotates to a token that still has budget), never waits forever on a
socket, and never mistakes a malformed body for an empty list. On top of that call sit the
org-wide calls of docs/DATA.md §1.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from mistapi.api.v1.msps import stats as msp_stats
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

from mist.body import decode
from mist.device_events import read_device_events
from mist.errors import (
    MalformedResponse,
    MistError,
    MistSettingError,
    RateLimited,
    describe,
    detail,
    request_path,
)
from mist.insights import Point, PortInsights
from mist.org_choice import Privileges, choose_org, list_msp_orgs
from mist.paging import Pager
from mist.session import Answer, SdkSessions
from mist.sle import SleFetched, site_sles
from mist.streams import CallCounter, Fetched, Invoke, SdkCall, Trim, keep
from mist.tokens import TokenPool
from settings import Secret, WorkerSettings

log = logging.getLogger("mist")


@dataclass(frozen=True)
class _Parsed:
    """A 2xx answer whose body decoded: the call is done."""

    body: Any
    response: requests.Response


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
        self.host = host
        self._tokens = TokenPool(tokens, clock)
        self._sessions = SdkSessions(host, ca_bundle=ca_bundle, timeout=timeout)
        self._pager = Pager(self.exchange, page_workers)
        self._insights = PortInsights(self.call)
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self.cancelled = threading.Event()  # set on SIGTERM: no new attempts, no more waiting

    @classmethod
    def from_settings(cls, settings: WorkerSettings, **options: Any) -> MistConnection:
        return cls(settings.mist_host, settings.tokens, ca_bundle=settings.ca_bundle, **options)

    def close(self) -> None:
        self._pager.close()

    # ------------------------------------------------------------ state the worker reads

    @property
    def timeout(self) -> float:
        """Seconds each request may take; a change applies to the next request."""
        return self._sessions.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self._sessions.timeout = seconds

    @property
    def calls_this_refresh(self) -> int:
        return self._tokens.calls_this_refresh

    @property
    def rate_limited(self) -> bool:
        """Whether this refresh ran out of tokens with budget."""
        return self._tokens.rate_limited

    @property
    def insights_keyed(self) -> bool:
        """Whether one insights call brings both metrics (else one call per metric)."""
        return self._insights.keyed

    @property
    def insights_shape_known(self) -> bool:
        return self._insights.shape_known

    def token_status(self) -> list[dict[str, Any]]:
        """Per-token budget for the status JSON; tokens are only ever named 'token N'."""
        return self._tokens.status()

    def call_totals(self) -> dict[str, int]:
        """Calls per token since start, named 'token N' (the metrics' counter)."""
        return self._tokens.call_totals()

    def tokens_available(self) -> int:
        return self._tokens.available()

    def begin_refresh(self) -> None:
        self._tokens.begin_refresh()

    # ------------------------------------------------------------ one call

    def call(self, fn: SdkCall, *args: Any, counter: CallCounter | None = None, **kw: Any) -> Any:
        """Run one SDK endpoint function with rotation and retries; return the parsed JSON."""
        body, _ = self.exchange(lambda session: fn(session, *args, **kw), counter)
        return body

    def exchange(
        self, invoke: Invoke, counter: CallCounter | None
    ) -> tuple[Any, requests.Response]:
        """One request with rotation and retries: the parsed JSON and the raw response
        (whose headers paging reads)."""
        failures = 0
        while True:
            index, answer = self._attempt(invoke, counter)
            outcome = self._judge(index, answer, failures)
            if isinstance(outcome, _Parsed):
                return outcome.body, outcome.response
            if outcome is not None:
                failures += 1
                self._pause(outcome, failures)

    def _attempt(self, invoke: Invoke, counter: CallCounter | None) -> tuple[int, Answer]:
        """One try with the token to use now; every try is counted, whatever came back."""
        if self.cancelled.is_set():
            raise MistError("stopped before the call (shutting down)")
        index = self._tokens.pick()
        answer = self._sessions.attempt(invoke, index, self._tokens.secret(index))
        self._tokens.count(index)
        if counter is not None:
            counter.add()
        return index, answer

    def _judge(self, index: int, answer: Answer, failures: int) -> _Parsed | str | None:
        """The body when done; None to try again at once with another token; else the
        problem worth a retry. Raises when retrying cannot help."""
        response = answer.response
        if response is None:
            return f"no answer from {self.host}: {describe(answer.error)}"
        status = response.status_code
        if status == 429:
            self._tokens.exhaust(index, response.headers.get("Retry-After"))
            return None  # another token (or RateLimited), no sleep
        if status >= 500:
            return f"HTTP {status} from Mist"
        if status == 401 and len(self._tokens) > 1:
            self._tokens.reject(index)
            return None
        if status >= 400:
            raise MistError(
                f"HTTP {status} from Mist for {request_path(response)}: {detail(response)}",
                status=status,
            )
        try:
            return _Parsed(decode(answer.content), response)
        except ValueError:
            problem = f"malformed JSON from Mist for {request_path(response)}"
            if failures >= self.retries:
                raise MalformedResponse(problem, status=status) from None
            return problem

    def _pause(self, problem: str, failures: int) -> None:
        """Wait before the next try (jittered exponential backoff), or give up."""
        if failures > self.retries:
            raise MistError(f"{problem} (gave up after {failures} attempts)")
        delay = min(10.0, self.backoff * 2 ** (failures - 1)) * (0.5 + random.random())  # noqa: S311
        log.info("retrying in %.2f s: %s", delay, problem)
        if self._sleep is time.sleep:
            self.cancelled.wait(delay)
        else:
            self._sleep(delay)

    # ------------------------------------------------------------ the calls of DATA.md §1

    def start(self, wanted: str | None) -> str:
        """Check every token (one `GET /self` each) and return the org to read: `wanted`, or
        the only org the accepted tokens read org-wide. A token Mist refuses is left, named
        `token N`; all refused, or no single org, is a MistSettingError; Mist unreachable is a
        plain MistError (worth trying again)."""
        seen, known = self.check_tokens(collect=not wanted)
        if wanted:
            return wanted
        if not known:
            raise RateLimited("every token is rate limited: its privileges are unknown", 429)
        return choose_org(seen, self._msp_orgs_with)

    def check_tokens(self, *, collect: bool = True) -> tuple[Privileges, int]:
        """One `GET /self` per token: the privileges of those Mist accepted (merged, when
        `collect`) and how many answered. Every token refused is a MistSettingError."""
        seen = Privileges()
        known = 0
        for index in range(len(self._tokens)):
            body = self._self_of(index)
            if body is not None:
                known += 1
                if collect:
                    seen.add(body, index)
        if self._tokens.all_rejected():
            raise MistSettingError(
                f"Mist rejected every configured token ({len(self._tokens)} token(s), "
                "HTTP 401/403): check MIST_API_TOKEN"
            )
        return seen, known

    def _self_of(self, index: int) -> Any:
        """Token `index`'s own `/self` (no rotation): its body; None when Mist refuses the
        token (401/403: it is rejected) or it has no budget left (429: left until then)."""
        failures = 0
        while True:
            if self.cancelled.is_set():
                raise MistError("stopped before the call (shutting down)")
            answer = self._sessions.attempt(self_api.getSelf, index, self._tokens.secret(index))
            self._tokens.count(index)
            response = answer.response
            status = None if response is None else response.status_code
            if response is not None and status in (401, 403):
                self._tokens.reject(index, response.status_code)
                return None
            if response is not None and status == 429:
                self._tokens.exhaust(index, response.headers.get("Retry-After"))
                return None
            if status == 200:
                try:
                    return decode(answer.content)
                except ValueError:
                    problem = "malformed JSON from Mist for /api/v1/self"
            elif status is None:
                problem = f"no answer from {self.host}: {describe(answer.error)}"
            else:
                problem = f"HTTP {status} from Mist for /api/v1/self"
            failures += 1
            self._pause(problem, failures)

    def _msp_orgs_with(self, msp_id: str, index: int) -> Fetched:
        """The MSP's orgs, asked with a token that holds the MSP privilege."""
        self._tokens.prefer(index)
        return self.msp_orgs(msp_id)

    def msp_org_stats(self, msp_id: str, token: int) -> Fetched:
        """Every org of an MSP with its name and device counts (`GET /api/v1/msps/{msp_id}/
        stats/orgs`, 1,000 a page), asked with a token that holds the MSP privilege: one call
        names 1,000 orgs, where `GET /orgs/{id}` would cost one each."""
        self._tokens.prefer(token)
        return self._pager.header_paged(msp_stats.listMspOrgStats, msp_id)

    def msp_orgs(self, msp_id: str) -> Fetched:
        """Every org of an MSP (`GET /api/v1/msps/{msp_id}/orgs`), 1,000 a page."""
        return self._pager.header_paged(list_msp_orgs, msp_id)

    def org(self, org_id: str) -> Fetched:
        started = time.monotonic()
        counter = CallCounter()
        body = self.call(orgs.getOrg, org_id, counter=counter)
        if not isinstance(body, dict):
            raise MalformedResponse("the org answer is not an object")
        return Fetched([body], counter.calls, time.monotonic() - started)

    def sites(self, org_id: str) -> Fetched:
        return self._pager.header_paged(sites.listOrgSites, org_id)

    def gateway_stats(self, org_id: str, trim: Trim = keep) -> Fetched:
        return self._pager.header_paged(
            stats.listOrgDevicesStats, org_id, type="gateway", trim=trim
        )

    def port_stats(self, org_id: str, trim: Trim = keep) -> Fetched:
        return self._pager.cursor_paged(
            stats.searchOrgSwOrGwPorts, org_id, device_type="gateway", trim=trim
        )

    def peer_paths(self, org_id: str, trim: Trim = keep) -> Fetched:
        return self._pager.cursor_paged(
            stats.searchOrgPeerPathStats, org_id, duration="1h", trim=trim
        )

    def device_events(self, org_id: str, *, start: int, end: int, types: Sequence[str]) -> Fetched:
        """Gateway device events of `types` between start and end (mist/device_events.py)."""
        return read_device_events(self._pager, org_id, start=start, end=end, types=types)

    def site_sles(self, org_id: str, trim: Trim = keep) -> SleFetched:
        """Every site's WAN SLEs of the last hour (mist/sle.py), ⌈sites/1000⌉ calls."""
        return site_sles(self.exchange, org_id, trim=trim)

    def gateway_templates(self, org_id: str) -> Fetched:
        return self._pager.header_paged(gatewaytemplates.listOrgGatewayTemplates, org_id)

    def device_profiles(self, org_id: str) -> Fetched:
        return self._pager.header_paged(
            deviceprofiles.listOrgDeviceProfiles, org_id, type="gateway"
        )

    def inventory(self, org_id: str) -> Fetched:
        return self._pager.header_paged(inventory.getOrgInventory, org_id, type="gateway")

    def device_config(self, site_id: str, device_id: str, counter: CallCounter) -> dict[str, Any]:
        body = self.call(devices.getSiteDevice, site_id, device_id, counter=counter)
        if not isinstance(body, dict):
            raise MalformedResponse("a device config is not an object")
        return body

    def site_device_configs(self, site_id: str, counter: CallCounter) -> list[Any]:
        """Every gateway config of one site (`GET /sites/{id}/devices?type=gateway`, 1,000 a
        page): one call where `device_config` would take one per gateway."""
        fetched = self._pager.header_paged(devices.listSiteDevices, site_id, type="gateway")
        for _ in range(fetched.calls):
            counter.add()
        return fetched.items

    def port_insights(
        self,
        site_id: str,
        gateway_id: str,
        port_id: str,
        *,
        start: int,
        end: int,
        counter: CallCounter,
    ) -> tuple[list[Point], int]:
        """Hourly rx/tx bps of one WAN port between start and end: (points, step seconds)."""
        return self._insights.read(
            site_id, gateway_id, port_id, start=start, end=end, counter=counter
        )
