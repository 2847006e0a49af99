"""Mist's time parameters: `start`/`end` (epoch or relative like `-1d`, `now`), `duration`
(`10m`, `1h`, `7d`, `2w`) and `interval`."""

from __future__ import annotations

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SPAN = re.compile(r"^(\d+)([smhdw])$")


class BadTime(ValueError):
    """A time parameter Mist would refuse (400)."""


def span(value: str, name: str) -> int:
    """Seconds in a span such as `10m` or `7d`."""
    match = _SPAN.match(value.strip())
    if not match:
        raise BadTime(f"{name} must look like 10m, 1h, 7d or 2w, not {value!r}")
    return int(match.group(1)) * UNITS[match.group(2)]


def moment(value: str, now: float, name: str) -> float:
    """An epoch value, `now`, or a relative `-2h` style moment."""
    text = value.strip()
    if text == "now":
        return now
    if text.startswith("-"):
        return now - span(text[1:], name)
    try:
        return float(text)
    except ValueError:
        raise BadTime(f"{name} must be epoch seconds or relative like -1d, not {value!r}") from None


def window(
    start: str | None, end: str | None, duration: str | None, now: float, default: str = "1d"
) -> tuple[float, float]:
    """(start, end) the way Mist resolves them: end defaults to now, start to end - duration."""
    end_t = moment(end, now, "end") if end else None
    start_t = moment(start, now, "start") if start else None
    length = span(duration, "duration") if duration else None
    if start_t is not None and end_t is not None:
        pass
    elif start_t is not None:
        end_t = start_t + length if length is not None else now
    else:
        end_t = end_t if end_t is not None else now
        start_t = end_t - (length if length is not None else span(default, "duration"))
    if end_t < start_t:
        raise BadTime("end must not be before start")
    return start_t, end_t
