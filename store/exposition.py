"""The Prometheus exposition formats (text 0.0.4 and OpenMetrics 1.0): a family's HELP and
TYPE, label escaping, sample values, and the one family the web renders per request.

views/metrics.py builds the families of a snapshot with these; web/metrics.py serves them
and puts `mist_data_age_seconds` in front, so both tiers write the format the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
OPENMETRICS_EOF = b"# EOF\n"


@dataclass(frozen=True)
class Family:
    """One metric family; `name` is the OpenMetrics family name (a counter's samples add
    `_total`)."""

    name: str
    kind: str  # "gauge" or "counter"
    help: str

    @property
    def sample(self) -> str:
        return self.name + "_total" if self.kind == "counter" else self.name

    def header(self, openmetrics: bool) -> bytes:
        """HELP and TYPE: the text format names a counter by its samples, OpenMetrics not."""
        name = self.name if openmetrics else self.sample
        return f"# HELP {name} {self.help}\n# TYPE {name} {self.kind}\n".encode()


Rendered = tuple[Family, bytes]
"""A family and its sample lines, encoded."""

DATA_AGE = Family("mist_data_age_seconds", "gauge", "Seconds since the worker published this data.")


def escape(value: object) -> str:
    """A label value as the format writes it: backslash, double quote and newline escaped;
    None is the empty value (Prometheus' absent label)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_labels(pairs: Iterable[tuple[str, object]]) -> str:
    """`name="value",…` (without braces), every value escaped."""
    return ",".join(f'{name}="{escape(value)}"' for name, value in pairs)


def number(value: object) -> str | None:
    """A sample value, or None when there is none to give (missing or not finite)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return None


def family(kind: Family, samples: Iterable[tuple[str, str | None]]) -> Rendered:
    """One family's sample lines from (labels, value) pairs; a None value is left out."""
    name = kind.sample
    lines = [
        f"{name}{{{labels}}} {value}\n" if labels else f"{name} {value}\n"
        for labels, value in samples
        if value is not None
    ]
    return kind, "".join(lines).encode("utf-8", "replace")


def data_age_family(age: float | None) -> bytes:
    """The one per-request family (the web puts it in front of the stored body); no sample
    before the first publish."""
    kind, samples = family(DATA_AGE, [("", number(age))])
    return kind.header(openmetrics=False) + samples
