"""The headless mistapi session (one per thread) and the timed request wrapper under it.

The SDK builds URLs and runs the generated endpoint functions; we keep it from reading our
environment, from sleeping on a 429 and from waiting forever on a socket, and we keep the raw
answer of each request so the caller can classify it (REFERENCE §3 and §5).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mistapi
import requests

from mist.errors import MistError
from mist.streams import Invoke
from settings import Secret


class _HeadlessSession(mistapi.APISession):
    """The SDK session minus its habit of reading MIST_HOST / MIST_APITOKEN from os.environ.

    Our MIST_HOST may be a simulator or lab proxy the SDK would reject, and a stray
    MIST_APITOKEN would make it validate (spend) tokens we did not choose.
    """

    def _load_env(self, env_file: str | None = None) -> None:
        return None


def official_host(host: str) -> bool:
    """A host of Mist's own clouds, which the SDK knows by name."""
    return host.endswith((".mist.com", ".mistsys.com", ".mist-federal.com"))


@dataclass(frozen=True)
class Answer:
    """What one request got: the raw response and its body, or the error that stopped it."""

    response: requests.Response | None
    content: bytes
    error: BaseException | None


class SdkSessions:
    """SDK sessions bound to our host, CA bundle and request timeout, one per thread."""

    def __init__(self, host: str, *, ca_bundle: str | None, timeout: float) -> None:
        self.host = host
        self.ca_bundle = ca_bundle
        self.timeout = timeout  # read at every request: may be changed after the sessions exist
        self._local = threading.local()

    def new(self) -> mistapi.APISession:
        """A headless SDK session bound to our host, CA bundle and request timeout."""
        session = _HeadlessSession(
            host=None, apitoken=None, console_log_level=0, logging_log_level=50,
            show_cli_notif=False,
        )  # fmt: skip
        if official_host(self.host):
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
        session._mcs_token = -1  # index of the token the session carries; none yet
        return session

    def attempt(self, invoke: Invoke, index: int, token: Secret) -> Answer:
        """Run one request on this thread's session with token `index`; never raises for
        what the request met (the answer says it), only for a session we cannot build."""
        session = self._for_thread()
        if session._mcs_token != index:
            session.set_api_token(token.reveal(), validate=False)
            session._mcs_token = index
        local = self._local
        local.response, local.content, local.error = None, b"", None
        try:
            invoke(session)
        except Exception as error:  # the SDK's error paths can raise on odd bodies
            local.error = local.error or error
        answer = Answer(local.response, local.content, local.error)
        local.response, local.content, local.error = None, b"", None  # the page is the caller's
        return answer

    def _for_thread(self) -> mistapi.APISession:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self.new()
            self._local.session = session
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
