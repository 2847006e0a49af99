"""Hostile and unusual values for `--edge-cases` and the `nonstandard`/`deep` faults: the
product must render names as text, keep CSV cells inert, and serve standard JSON whatever
numbers Mist sends."""

from __future__ import annotations

import json
from typing import Any

FORMULA_NAMES: list[str] = [
    '=HYPERLINK("http://example.invalid","click")',
    "+49 30 1234",
    "-2+3",
    "@SUM(1+1)",
    "x;=1+1",  # a formula cell where Excel's list separator is `;`
    "Name;@cmd",
]
"""Names Excel would run as a formula unless the CSV neutralises them."""

LONG_NAME = "Long " + "n" * 995  # 1,000 characters: the dashboard keeps at most 256

SITE_NAMES: list[str] = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__pwned=1</script>",
    "東京本社 データセンター",
    "Café 🚀 Branch 🛰️",
    "فرع الرياض",
    "סניף תל אביב",
    "L" + "o" * 198 + "!",  # 200 characters
    '"quoted" & <b>bold</b> \' single',
    *FORMULA_NAMES[:2],
]

GATEWAY_NAMES: list[str] = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__pwned=1</script>",
    "ゲートウェイ-東京-01",
    "gw-🔥-emoji-🙂",
    "بوابة-الرياض",
    "G" * 200,
    *FORMULA_NAMES,
    LONG_NAME,
]

WAN_DESCRIPTIONS: list[str] = [
    "<script>window.__pwned=1</script> circuit",
    "回線 NTT フレッツ 光",
    "خط الإنترنت الرئيسي",
    "🚀 Starlink backup",
    "D" * 200,
    *FORMULA_NAMES[3:],
]

ISP_NAMES: list[str] = [
    "<img src=x onerror=alert(1)> Telecom",
    "株式会社ネットワーク",
    "شركة الاتصالات",
    FORMULA_NAMES[4],
]

NONSTANDARD: dict[str, Any] = {
    "name": float("nan"),
    "latency": 1e308,  # two of them average to infinity
    "jitter": float("inf"),
    "loss": float("-inf"),
    "mos": float("nan"),
    "rx_bps": float("nan"),
    "rx_bytes": 1e308,
    "tx_bytes": 10**400,
    "uptime": 10**400,
}
"""What the `nonstandard` fault puts in every answer for these keys: numbers JSON has no
spelling for (Python writes NaN and Infinity) and numbers too big for a float."""

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
"""What the `deep` fault answers: valid JSON nested deeper than a recursive decoder goes."""


def _nonstandard(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: NONSTANDARD[key] if key in NONSTANDARD else _nonstandard(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_nonstandard(item) for item in value]
    return value


def nonstandard_json(body: bytes) -> bytes:
    """A JSON answer with NONSTANDARD's values in place of each of its keys, at any depth."""
    return json.dumps(_nonstandard(json.loads(body)), separators=(",", ":")).encode()
