"""How an alert looks to each kind of receiver, and which kind a webhook URL is.

- slack: an incoming webhook message: `text` (the notification's fallback) and `blocks`
  (header, section, fields, context). Slack reads `&`, `<` and `>` as markup, so names are
  escaped; a header holds at most 150 characters, a section 3000, a field 2000, 10 fields.
- teams: a Teams workflow ("Post to a channel when a webhook request is received") takes a
  message whose one attachment is an Adaptive Card:
  `{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": {AdaptiveCard}}]}`.
- generic: the alert record itself as JSON, for your own tooling.

Every body carries the alert's idempotency key (also sent as the `Idempotency-Key` header):
a context line in Slack, a small TextBlock in Teams, `idempotency_key` in generic JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from settings import ALERT_FORMATS as FORMATS
from settings import detect_webhook_format as detect_format

__all__ = ["FORMATS", "detect_format", "render"]
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
_CARD_COLOURS = {"critical": "Attention", "warning": "Warning", "info": "Good"}
_SLACK_MARKS = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":white_check_mark:",
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(alert: Mapping[str, Any]) -> dict[str, Any]:
    severity = str(alert.get("severity"))
    mark = _SLACK_MARKS.get(severity, ":large_blue_circle:")
    text = _slack_escape(str(alert["text"]))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(str(alert["title"]), 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"{mark} {text}", 3000)}},
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{_slack_escape(k)}*\n{_slack_escape(v)}", 2000)}
        for k, v in alert.get("facts") or []
    ][:10]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    context = f"MistCircuitStats · {severity} · idempotency key `{alert['id']}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": _cut(text, 3000), "blocks": blocks}


def teams_body(alert: Mapping[str, Any]) -> dict[str, Any]:
    colour = _CARD_COLOURS.get(str(alert.get("severity")), "Default")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": str(alert["title"]),
            "weight": "Bolder",
            "size": "Medium",
            "color": colour,
            "wrap": True,
        },
        {"type": "TextBlock", "text": str(alert["text"]), "wrap": True},
    ]
    facts = [{"title": k, "value": v} for k, v in alert.get("facts") or []]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    body.append(
        {
            "type": "TextBlock",
            "id": "idempotency-key",
            "text": f"MistCircuitStats · idempotency key {alert['id']}",
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    card = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": CARD_VERSION, "body": body}
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


def generic_body(alert: Mapping[str, Any]) -> dict[str, Any]:
    body = {"source": "MistCircuitStats", "idempotency_key": alert["id"]}
    body.update({k: v for k, v in alert.items() if k != "facts"})
    body["facts"] = dict(alert.get("facts") or [])
    return body


def render(alert: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """The JSON body `fmt` expects for `alert` (the same bytes on every try)."""
    if fmt == "slack":
        return slack_body(alert)
    if fmt == "teams":
        return teams_body(alert)
    return generic_body(alert)
