"""How the bytes of a Mist answer become values: standard JSON only, and never a crash.

Python's json reads `NaN`, `Infinity` and `-Infinity`, which are not JSON: a value Mist
sends as one of them is read as null, i.e. missing (model.values then treats it like any
absent field). Rejecting the whole answer instead would let one odd number in a page of
1,000 gateways fail every refresh; the served documents stay standard JSON either way.
JSON nested too deep to decode (json raises RecursionError) is a malformed answer, like
any other body that does not parse.
"""

from __future__ import annotations

import json
from typing import Any


def _missing(constant: str) -> None:
    """NaN, Infinity or -Infinity in a Mist answer: no value."""
    return None


def decode(content: bytes | str) -> Any:
    """The JSON value of a Mist answer's body; ValueError when it is not JSON we can read
    (malformed, too deep, or an integer too long to convert)."""
    try:
        return json.loads(content, parse_constant=_missing)
    except RecursionError:
        raise ValueError("JSON nested too deep to decode") from None
