"""alerts.yml: which events go to which receiver, and when a receiver is quiet.

A NOC routes critical circuits to the pager channel and the rest to a team channel, and
mutes the chatty ones at night. Receivers are numbered as in ALERT_WEBHOOK_URLS (1 is the
first): the file never holds a URL. Read with PyYAML's node tree so that every mistake is
reported with its line (the worker exits 2 naming ALERT_RULES_FILE and the line).

    routes:                          # absent: every event goes to every receiver
      - receivers: [1]
        severities: [critical]
      - receivers: [2]
        types: [port_down, port_up]  # event types (DATA.md §3.8)
        sites: ["Denver*"]           # site name or id, * and ? wildcards, any case
        gateways: ["*-hub"]          # gateway name or id
        names: ["*comcast*"]         # any name the event carries (site, gateway, port, peer)
    quiet_hours:
      - receivers: [2]               # absent: every receiver
        from: "22:00"
        to: "07:00"                  # a window past midnight belongs to the day it starts
        days: [mon, tue, wed, thu, fri]
        timezone: Europe/Paris       # absent: UTC
        severities: [info, warning]  # muted in the window (absent: info and warning)
"""

from __future__ import annotations

import datetime
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from model.events import EVENT_TYPES, SEVERITIES
from settings import SettingError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROUTE_KEYS = ("receivers", "types", "severities", "sites", "gateways", "names")
QUIET_KEYS = ("receivers", "from", "to", "days", "timezone", "severities")
_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_NAME_FIELDS = ("site_name", "gateway_name", "port_id", "peer_name", "peer_port_id", "org_name")


class RulesError(ValueError):
    """A mistake in alerts.yml, with the line it is on (1-based)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _matches(patterns: tuple[str, ...] | None, values: Iterable[Any]) -> bool:
    if patterns is None:
        return True
    texts = [str(v).lower() for v in values if v not in (None, "")]
    return any(fnmatch.fnmatchcase(t, p) for p in patterns for t in texts)


@dataclass(frozen=True)
class Route:
    """Events of these kinds go to these receivers (None: any)."""

    receivers: frozenset[int]
    types: frozenset[str] | None = None
    severities: frozenset[str] | None = None
    sites: tuple[str, ...] | None = None
    gateways: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None

    def matches(self, event: Mapping[str, Any]) -> bool:
        if self.types is not None and event.get("type") not in self.types:
            return False
        if self.severities is not None and event.get("severity") not in self.severities:
            return False
        return (
            _matches(self.sites, (event.get("site_name"), event.get("site_id")))
            and _matches(self.gateways, (event.get("gateway_name"), event.get("gateway_id")))
            and _matches(self.names, (event.get(name) for name in _NAME_FIELDS))
        )


@dataclass(frozen=True)
class QuietHours:
    """A daily window in which some severities are not sent to some receivers."""

    receivers: frozenset[int] | None
    start: int  # minutes after local midnight
    end: int
    days: frozenset[int]  # 0 = Monday
    zone: str
    severities: frozenset[str]

    def mutes(self, receiver: int, severity: str, when: float) -> bool:
        if self.receivers is not None and receiver not in self.receivers:
            return False
        if severity not in self.severities:
            return False
        local = datetime.datetime.fromtimestamp(when, ZoneInfo(self.zone))
        minute, day = local.hour * 60 + local.minute, local.weekday()
        if self.start < self.end:
            return day in self.days and self.start <= minute < self.end
        if minute >= self.start:  # the evening part (or the whole day when start == end)
            return day in self.days
        return minute < self.end and (day - 1) % 7 in self.days


@dataclass(frozen=True)
class Rules:
    """The routes (None: every event to every receiver) and the quiet hours."""

    routes: tuple[Route, ...] | None = None
    quiet: tuple[QuietHours, ...] = ()

    def receivers_for(self, event: Mapping[str, Any], count: int) -> list[int]:
        """The receivers (1-based, ascending) this event goes to."""
        if self.routes is None:
            return list(range(1, count + 1))
        chosen: set[int] = set()
        for route in self.routes:
            if route.matches(event):
                chosen |= route.receivers
        return sorted(chosen)

    def muted(self, receiver: int, severity: str, when: float) -> bool:
        return any(quiet.mutes(receiver, severity, when) for quiet in self.quiet)


# ---------------------------------------------------------------- reading the file


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _mapping(node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise RulesError(_line(node), f"{what} must be a mapping of {', '.join(allowed)}")
    found: dict[str, yaml.Node] = {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name not in allowed:
            raise RulesError(
                _line(key), f"unknown key {name!r} in {what} (allowed: {', '.join(allowed)})"
            )
        if name in found:
            raise RulesError(_line(key), f"{name!r} is given twice in {what}")
        found[name] = value
    return found


def _scalars(node: yaml.Node, what: str) -> list[tuple[str, int]]:
    """A scalar or a list of scalars, each with its line."""
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    found = []
    for item in items:
        if not isinstance(item, yaml.ScalarNode) or item.value == "":
            raise RulesError(_line(item), f"{what} must be a word or a list of words")
        found.append((str(item.value), _line(item)))
    return found


def _choices(node: yaml.Node, what: str, allowed: Iterable[str]) -> frozenset[str]:
    allowed = tuple(allowed)
    chosen = set()
    for value, line in _scalars(node, what):
        if value.lower() not in allowed:
            raise RulesError(line, f"{value!r} is not one of the {what}: {', '.join(allowed)}")
        chosen.add(value.lower())
    return frozenset(chosen)


def _receivers(node: yaml.Node, count: int) -> frozenset[int]:
    chosen = set()
    for value, line in _scalars(node, "receivers"):
        number = value.removeprefix("receiver").strip()
        if not number.isdigit() or not 1 <= int(number) <= count:
            raise RulesError(
                line,
                f"receiver {value!r} is not a number from 1 to {count} "
                "(the receivers of ALERT_WEBHOOK_URLS, in order)",
            )
        chosen.add(int(number))
    return frozenset(chosen)


def _patterns(node: yaml.Node | None, what: str) -> tuple[str, ...] | None:
    if node is None:
        return None
    return tuple(value.lower() for value, _ in _scalars(node, what))


def _route(node: yaml.Node, count: int) -> Route:
    fields = _mapping(node, "a route", ROUTE_KEYS)
    if "receivers" not in fields:
        raise RulesError(_line(node), "a route needs receivers: [1, …]")
    types, severities = fields.get("types"), fields.get("severities")
    return Route(
        receivers=_receivers(fields["receivers"], count),
        types=None if types is None else _choices(types, "event types", EVENT_TYPES),
        severities=None if severities is None else _choices(severities, "severities", SEVERITIES),
        sites=_patterns(fields.get("sites"), "sites"),
        gateways=_patterns(fields.get("gateways"), "gateways"),
        names=_patterns(fields.get("names"), "names"),
    )


def _clock(node: yaml.Node | None, key: str, parent: yaml.Node) -> int:
    if node is None:
        raise RulesError(_line(parent), f'quiet hours need {key}: "HH:MM"')
    match = _CLOCK.match(str(node.value)) if isinstance(node, yaml.ScalarNode) else None
    if match is None:
        raise RulesError(_line(node), f'{key} must be a time like "22:00" (quote it)')
    return int(match.group(1)) * 60 + int(match.group(2))


def _zone(node: yaml.Node | None) -> str:
    if node is None:
        return "UTC"
    name = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RulesError(_line(node), f"{name!r} is not a time zone (e.g. Europe/Paris)") from None
    return name


def _quiet(node: yaml.Node, count: int) -> QuietHours:
    fields = _mapping(node, "quiet hours", QUIET_KEYS)
    days, severities = fields.get("days"), fields.get("severities")
    chosen_days = DAYS if days is None else _choices(days, "days", DAYS)
    return QuietHours(
        receivers=None if "receivers" not in fields else _receivers(fields["receivers"], count),
        start=_clock(fields.get("from"), "from", node),
        end=_clock(fields.get("to"), "to", node),
        days=frozenset(DAYS.index(day) for day in chosen_days),
        zone=_zone(fields.get("timezone")),
        severities=frozenset({"info", "warning"})
        if severities is None
        else _choices(severities, "severities", SEVERITIES),
    )


def _list(node: yaml.Node, what: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise RulesError(_line(node), f"{what} must be a list (each item starts with -)")
    return list(node.value)


def parse_rules(text: str, receivers: int) -> Rules:
    """The rules in `text` for `receivers` receivers; RulesError names the bad line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise RulesError(line, f"not YAML: {error.problem or error.context}") from None
    if root is None:
        return Rules()
    top = _mapping(root, "the file", ("routes", "quiet_hours"))
    routes = None
    if "routes" in top:
        routes = tuple(_route(item, receivers) for item in _list(top["routes"], "routes"))
    quiet: tuple[QuietHours, ...] = ()
    if "quiet_hours" in top:
        quiet = tuple(_quiet(item, receivers) for item in _list(top["quiet_hours"], "quiet_hours"))
    return Rules(routes=routes, quiet=quiet)


def load_rules(path: str | None, receivers: int) -> Rules:
    """ALERT_RULES_FILE's rules (none: every event to every receiver); a SettingError names
    the file and the line of the first mistake."""
    if path is None:
        return Rules()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise SettingError(
            "ALERT_RULES_FILE", f"must be a readable YAML file; {path} is not"
        ) from None
    try:
        return parse_rules(text, receivers)
    except RulesError as error:
        raise SettingError("ALERT_RULES_FILE", f"{path} {error}") from None
