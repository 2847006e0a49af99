"""From a refresh's events to alerts (alerts/plan.py, holddown.py) and their bodies
(alerts/formats.py): hold-down bounds a flapping circuit, a storm is one summary per
receiver, quiet hours and routes apply, and Slack and Teams get their documented shapes."""

from __future__ import annotations

import json
import math

from alerts.formats import ADAPTIVE_CARD, detect_format, render
from alerts.plan import AlertConfig, plan_alerts
from alerts.rules import parse_rules
from model.events import make_event

INTERVAL = 60
T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def port_event(kind: str, when: float, port: str = "ge-0/0/0", gateway: str = "g1"):
    return make_event(
        kind,
        when,
        org_id="o",
        org_name="Acme",
        site_id="s1",
        site_name="Denver",
        gateway_id=gateway,
        gateway_name=f"gw-{gateway}",
        port_id=port,
        before=(kind == "port_up" and False) or True,
        after=kind == "port_up",
    )


def run(refreshes, config):
    """Plan every refresh in turn (events per refresh); returns the alerts of receiver 1."""
    state: dict = {}
    sent = []
    for index, events in enumerate(refreshes):
        plan = plan_alerts(events, state, T0 + index * INTERVAL, config)
        state = plan.state
        sent.extend(plan.alerts[1])
    return sent


def test_a_port_flapping_every_refresh_sends_at_most_two_alerts_per_window():
    hold = 3
    config = AlertConfig(receivers=1, hold_down=hold, interval=INTERVAL)
    refreshes = [
        [port_event("port_down" if i % 2 == 0 else "port_up", T0 + i * INTERVAL)] for i in range(9)
    ]
    refreshes += [[] for _ in range(6)]  # then it stays down
    sent = run(refreshes, config)
    flapping_windows = math.ceil(9 / hold)
    assert len(sent) <= 2 * flapping_windows + 1 < 9  # one more: the state it ended in
    assert sent[-1]["type"] == "port_down"  # the state it ended in is the last one told
    assert [a["type"] for a in sent[:2]] == ["port_down", "port_up"]
    assert any("flapped 2 times in 3 refreshes" in a["text"] for a in sent)
    assert len({a["id"] for a in sent}) == len(sent)


def test_many_flaps_between_two_refreshes_are_one_down_and_one_up():
    """Mist's own events can tell of many flaps in one interval: two alerts, with the count."""
    config = AlertConfig(receivers=1, hold_down=2, interval=INTERVAL)
    flaps = []
    for i in range(20):
        flaps.append(port_event("port_down", T0 + i * 2))
        flaps.append(port_event("port_up", T0 + i * 2 + 1))
    flaps.append(port_event("port_down", T0 + 50))
    sent = run([flaps, [], [], []], config)
    assert [a["type"] for a in sent] == ["port_down", "port_up", "port_down"]
    assert sent[-1]["flaps"] == 21 and "flapped 21 times" in sent[-1]["text"]


def test_different_ports_are_held_down_apart():
    config = AlertConfig(receivers=1, hold_down=2, interval=INTERVAL)
    events = [port_event("port_down", T0, port=p) for p in ("a", "b", "c")]
    assert [a["event"]["port_id"] for a in run([events], config)] == ["a", "b", "c"]


def test_a_storm_is_one_summary_per_receiver():
    config = AlertConfig(receivers=2, storm_limit=20, interval=INTERVAL)
    events = [port_event("port_down", T0, gateway=f"g{i}") for i in range(25)]
    events.append(make_event("gateway_offline", T0, gateway_id="g99", gateway_name="gw-99"))
    plan = plan_alerts(events, {}, T0, config)
    for receiver in (1, 2):
        [summary] = plan.alerts[receiver]
        assert summary["kind"] == "summary" and summary["count"] == 26
        assert summary["severity"] == "critical"  # the worst of the storm
        assert "WAN port down: 25" in summary["text"] and "16 more" in summary["text"]
    again = plan_alerts(events, {}, T0, config)
    assert again.alerts[1][0]["id"] == plan.alerts[1][0]["id"]  # a stable key
    small = plan_alerts(events[:20], {}, T0, config)
    assert len(small.alerts[1]) == 20  # at the limit: each alert on its own


def test_routes_and_quiet_hours_choose_receivers():
    rules = parse_rules(
        "routes:\n  - receivers: [1]\n    severities: [critical]\n"
        "  - receivers: [2]\n"
        "quiet_hours:\n  - {receivers: [2], from: '23:00', to: '01:00'}\n",
        2,
    )
    config = AlertConfig(receivers=2, rules=rules, interval=INTERVAL)
    events = [
        port_event("port_down", T0),
        make_event("gateway_offline", T0, gateway_id="g2", gateway_name="gw-2"),
    ]
    plan = plan_alerts(events, {}, T0 + 3600 * 12, config)  # noon: not quiet
    assert [a["type"] for a in plan.alerts[1]] == ["gateway_offline"]
    assert sorted(a["type"] for a in plan.alerts[2]) == ["gateway_offline", "port_down"]
    night = plan_alerts(events, {}, T0, config)  # midnight UTC: receiver 2 is quiet
    assert [a["type"] for a in night.alerts[2]] == ["gateway_offline"]  # critical gets through
    assert night.muted == 1


def alert():
    events = [port_event("port_down", T0)]
    return plan_alerts(events, {}, T0, AlertConfig(receivers=1)).alerts[1][0]


def test_slack_body_is_an_incoming_webhook_message_with_text_and_blocks():
    one = alert()
    body = render(one, "slack")
    assert set(body) == {"text", "blocks"}
    assert "WAN port down" in body["text"] and "gw-g1" in body["text"]
    kinds = [block["type"] for block in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    header = body["blocks"][0]["text"]
    assert header["type"] == "plain_text" and len(header["text"]) <= 150
    assert body["blocks"][1]["text"]["type"] == "mrkdwn"
    assert all(f["type"] == "mrkdwn" for f in body["blocks"][2]["fields"])
    assert len(body["blocks"][2]["fields"]) <= 10
    assert one["id"] in body["blocks"][3]["elements"][0]["text"]
    escaped = render({**one, "text": "a <b> & c", "title": "t"}, "slack")
    assert escaped["text"] == "a &lt;b&gt; &amp; c"


def test_teams_body_is_a_message_with_one_adaptive_card_attachment():
    one = alert()
    body = render(one, "teams")
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    kinds = [element["type"] for element in card["body"]]
    assert kinds == ["TextBlock", "TextBlock", "FactSet", "TextBlock"]
    assert card["body"][0]["color"] == "Warning"  # port_down is a warning
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts["Gateway"] == "gw-g1" and facts["Port"] == "ge-0/0/0"
    assert one["id"] in card["body"][3]["text"]


def test_generic_body_is_the_alert_with_its_idempotency_key():
    one = alert()
    body = render(one, "generic")
    assert body["idempotency_key"] == one["id"] and body["source"] == "MistCircuitStats"
    assert body["event"]["type"] == "port_down" and body["facts"]["Site"] == "Denver"
    json.dumps(body)  # plain JSON


def test_format_detection_reads_only_the_host():
    assert detect_format("https://hooks.slack.com/services/T/B/x") == "slack"
    assert detect_format("https://x.webhook.office.com/webhookb2/y") == "teams"
    assert detect_format("https://prod.westeurope.logic.azure.com:443/workflows/z") == "teams"
    assert detect_format("https://example.com/hooks.slack.com/") == "generic"


def test_a_change_alerted_ahead_of_a_publish_that_failed_is_not_alerted_again_by_its_retry():
    config = AlertConfig(receivers=1, hold_down=1, interval=INTERVAL)  # windows end at once
    early = plan_alerts([port_event("port_down", T0)], {}, T0, config, pending=True)
    assert [a["type"] for a in early.alerts[1]] == ["port_down"]
    # the refresh failed: its own event's alert is planned with the marks left in place
    failing = plan_alerts([], early.state, T0 + 1, config)
    assert failing.alerts[1] == []
    # the retry derives the same change again, later (a new time, a new event id)
    retry = plan_alerts(
        [port_event("port_down", T0 + INTERVAL)], failing.state, T0 + INTERVAL, config, pending=True
    )
    assert retry.alerts[1] == [] and retry.repeated == 1
    # it published: the change is stored, the next one is alerted as usual
    after = plan_alerts(
        [port_event("port_up", T0 + 2 * INTERVAL)], retry.published(), T0 + 2 * INTERVAL, config
    )
    assert [a["type"] for a in after.alerts[1]] == ["port_up"]
    again = plan_alerts(
        [port_event("port_down", T0 + 3 * INTERVAL)], after.state, T0 + 3 * INTERVAL, config
    )
    assert [a["type"] for a in again.alerts[1]] == ["port_down"]  # not held as pending


def test_a_retry_hearing_the_same_change_from_mist_does_not_alert_it_again():
    """The failed refresh derived the down itself; its retry reads it from Mist's own events
    (another source, another id): the NOC still gets one alert."""
    config = AlertConfig(receivers=1, hold_down=1, interval=INTERVAL)
    early = plan_alerts([port_event("port_down", T0)], {}, T0, config, pending=True)
    assert [a["type"] for a in early.alerts[1]] == ["port_down"]
    told = {**port_event("port_down", T0 - 5), "source": "mist", "id": "mist-told-1"}
    retry = plan_alerts([told], early.state, T0 + INTERVAL, config, pending=True)
    assert retry.alerts[1] == [] and retry.repeated == 1
