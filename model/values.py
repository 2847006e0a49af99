"""One reading of each kind of Mist value: numbers, counters, text, flags, mappings.

Every optional Mist field may be missing, None or of the wrong type; these turn it into a
value we can use or None, never raising. Numbers are finite JSON numbers only: a bool, a
numeric-looking string, NaN or infinity is not a number here. Sizes are bounded too: a
number beyond ±2**64 is no reading of anything (nor storable as a float32 rate), counters
stay within 0 ≤ v < 2**64, and text is cut at TEXT_MAX characters (the rest is kept
nowhere), so a hostile answer cannot make a value that fails to encode as strict JSON or a
10 MB name.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

ADDRESS_MODES = ("static", "dhcp", "pppoe")
SHARE_MAX = 64  # longer strings (descriptions, addresses) rarely repeat
TEXT_MAX = 256  # names and descriptions longer than this are cut
NUMBER_LIMIT = 2**64  # a number this big is no reading of anything (10**400 has no float)
COUNTER_LIMIT = 2**64  # Mist's byte counters are unsigned 64-bit


def share(value: Any) -> Any:
    """One object per repeated short string (MACs, port ids, models, ISP names …): each page
    of a Mist answer decodes its own copy of every string."""
    if type(value) is str and len(value) <= SHARE_MAX:
        return sys.intern(value)
    return value


def number(value: Any) -> float | int | None:
    """A finite JSON number within ±2**64, or None (bools and numeric-looking strings are
    not numbers)."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return value if -NUMBER_LIMIT < value < NUMBER_LIMIT else None
    return None


def bounded(value: Any, low: float, high: float) -> float | int | None:
    """A finite number capped into the physical range [low, high], or None: a reading of
    1e308 or 10**4000 becomes `high`, so no average of readings can overflow."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return min(max(value, low), high)
    return None


def counter(value: Any) -> int | None:
    """A cumulative byte counter: a finite number within 0 ≤ v < 2**64, as an int (beyond
    that it is no counter Mist keeps, and would overflow the rate math)."""
    found = number(value)
    return int(found) if found is not None and 0 <= found < COUNTER_LIMIT else None


def boolean(value: Any) -> bool | None:
    return value if value is True or value is False else None


def text(value: Any) -> str | None:
    """A Mist string of at most TEXT_MAX characters (a number or flag as its text), or None
    when Mist gave nothing usable (missing, null, empty, an object or a list)."""
    if isinstance(value, str):
        return value[:TEXT_MAX] or None
    found = scalar(value)
    return None if found is None else str(found)


def scalar(value: Any) -> str | float | int | bool | None:
    """A Mist value passed through as it came when it is a JSON scalar: strings cut at
    TEXT_MAX; NaN, infinities, ints beyond ±2**64, objects and lists read as None."""
    if isinstance(value, str):
        return value[:TEXT_MAX]
    if value is None or value is True or value is False:
        return value
    return number(value)


def as_int(value: Any) -> int | None:
    """An int from an int or a numeric string (Mist's `vlan_id` may be either)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def address_mode(value: Any) -> str | None:
    """Normalise Mist's address mode spellings (`DHCP`, `Static`, `Unknown`) to ours."""
    if not isinstance(value, str):
        return None
    mode = value.strip().lower()
    return mode if mode in ADDRESS_MODES else None


def mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is a mapping, else an empty one."""
    if type(value) is dict:  # what JSON gives: skip the slower ABC check
        return value
    return value if isinstance(value, Mapping) else {}
