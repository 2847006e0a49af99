"""One reading of each kind of Mist value: numbers, counters, text, flags, mappings.

Every optional Mist field may be missing, None or of the wrong type; these turn it into a
value we can use or None, never raising. Numbers are finite JSON numbers only: a bool, a
numeric-looking string, NaN or infinity is not a number here.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

ADDRESS_MODES = ("static", "dhcp", "pppoe")
SHARE_MAX = 64  # longer strings (descriptions, addresses) rarely repeat


def share(value: Any) -> Any:
    """One object per repeated short string (MACs, port ids, models, ISP names …): each page
    of a Mist answer decodes its own copy of every string."""
    if type(value) is str and len(value) <= SHARE_MAX:
        return sys.intern(value)
    return value


def number(value: Any) -> float | int | None:
    """A finite JSON number, or None (bools and numeric-looking strings are not numbers)."""
    kind = type(value)
    if kind is int:
        return value
    if kind is float and math.isfinite(value):
        return value
    return None


def counter(value: Any) -> int | None:
    """A cumulative byte counter: a non-negative finite number, as an int."""
    found = number(value)
    return int(found) if found is not None and found >= 0 else None


def boolean(value: Any) -> bool | None:
    return value if value is True or value is False else None


def text(value: Any) -> str | None:
    """A Mist string, or None when Mist gave nothing usable (missing, null, empty)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


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
