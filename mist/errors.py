"""What can go wrong talking to Mist, and how to say it without leaking a token or a body."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from mist.body import decode

ORG_CHOICES_LISTED = 50


class MistError(Exception):
    """A Mist call failed for good (after bounded retries); the message is safe to log."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(MistError):
    """Every configured token has spent its hourly budget."""


class MalformedResponse(MistError):
    """Mist answered 200 with a body that is not the JSON we asked for."""


class MistSettingError(MistError):
    """What Mist answered shows a setting is wrong (not that Mist is unreachable): the worker
    exits 2 naming `setting`, since trying again cannot help."""

    setting = "MIST_API_TOKEN"


class OrgChoiceError(MistSettingError):
    """The org cannot be chosen automatically; `orgs` maps id to name for the message.

    The message lists at most ORG_CHOICES_LISTED orgs: an MSP may have thousands, and one
    line of stderr should stay readable.
    """

    setting = "MIST_ORG_ID"

    def __init__(self, message: str, orgs_seen: dict[str, str]) -> None:
        shown = list(orgs_seen.items())[:ORG_CHOICES_LISTED]
        listing = "; ".join(f"{org_id} ({name})" for org_id, name in shown)
        if len(orgs_seen) > len(shown):
            listing += f"; and {len(orgs_seen) - len(shown)} more"
        super().__init__(f"{message}: {listing}" if listing else message)
        self.orgs = orgs_seen


def describe(error: BaseException | None) -> str:
    """Exception name plus the last part of its text (urllib3 nests the useful bit)."""
    if error is None:
        return "unknown error"
    text = str(error).replace(str(error.__class__.__name__), "").strip(" :()")
    return f"{type(error).__name__}: {text[-160:]}" if text else type(error).__name__


def request_path(response: requests.Response) -> str:
    """The path a response answered, for messages: no host, no query string."""
    return urlsplit(response.url).path if response.url else "?"


def detail(response: requests.Response) -> str:
    """Mist's own `detail` of an error answer, short, else the HTTP reason."""
    try:
        found = decode(response.content).get("detail")
    except (ValueError, AttributeError):
        found = None
    return str(found)[:200] if found else response.reason or "error"
