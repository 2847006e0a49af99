"""Alerts end to end: the real worker (SDK, mistsim, redis-server) and real HTTP receivers.

mistsim's admin API flips a port down; the next refresh stores the event, queues its alert
in the same publish, and the worker's delivery thread posts it: at the receiver within one
refresh. A port flapping at every refresh sends a bounded number of alerts. /api/status's
document names receivers by number, never by URL.
"""

from __future__ import annotations

import time
from functools import partial

from app import create_app
from store.status import read_status
from tests.fixtures.webhook_receiver import WebhookReceiver
from tests.test_events import quiet_gateway
from tests.test_security import redis_values
from tests.test_worker import make_worker

SLACK_PATH = "/services/T0CANARY/B0CANARY/slacksecretpath"
TEAMS_PATH = "/workflows/teamssecretpath/triggers/manual/paths/invoke"


def later(seconds: float) -> float:
    """A clock `seconds` ahead: each refresh of the flapping test is an interval later."""
    return time.time() + seconds


def port_alerts(received, gateway_id: str, port_id: str) -> list[str]:
    """The port_down/port_up alerts (generic bodies) about one gateway's port, in arrival
    order (mistsim's own flapping circuits, told by Mist's events, alert too)."""
    return [
        r.body["type"]
        for r in received
        if r.body.get("type") in ("port_down", "port_up")
        and (r.body["event"]["gateway_id"], r.body["event"]["port_id"]) == (gateway_id, port_id)
    ]


def card_title(received) -> str:
    """The title of a Teams card (its first TextBlock)."""
    return received.body["attachments"][0]["content"]["body"][0]["text"]


def test_a_port_flipped_down_is_an_alert_at_the_receiver_within_one_refresh(
    mistsim, redis_server, tmp_path
):
    rules = tmp_path / "alerts.yml"
    rules.write_text("routes:\n  - receivers: [1]\n  - receivers: [2]\n    types: [port_down]\n")
    with WebhookReceiver() as slack, WebhookReceiver() as teams:
        instance = make_worker(
            mistsim,
            redis_server,
            interval=60,
            ALERT_WEBHOOK_URLS=f"{slack.url(SLACK_PATH)},{teams.url(TEAMS_PATH)}",
            ALERT_WEBHOOK_FORMATS="slack,teams",
            ALERT_RULES_FILE=str(rules),
        )
        client = redis_server.client()
        try:
            instance.start_alerts()
            assert instance.refresh()  # learns the state: no event, no alert
            record = quiet_gateway(client)
            port_id = record["ports"][0]["port_id"]
            flipped = time.time()
            mistsim.admin(
                "POST", "link", json={"mac": record["mac"], "port_id": port_id, "state": "down"}
            )
            assert instance.refresh()
            refreshed = time.time()
            # mistsim's own flapping circuits alert too (Mist's events tell them): ours is
            # the one naming the gateway flipped
            card = teams.wait_until(lambda r: record["name"] in card_title(r), timeout=15)
            message = slack.wait_until(lambda r: record["name"] in r.body["text"], timeout=15)
            assert instance.alerts is not None and instance.alerts.drain(15)
        finally:
            instance.close()
    latency, after_refresh = card.at - flipped, card.at - refreshed
    print(f"\nalert latency: {latency:.2f} s from the flip in Mist to the receiver")
    print(f"  of which {refreshed - flipped:.2f} s the refresh, {after_refresh:.2f} s after it")
    assert latency < refreshed - flipped + 10  # within one refresh (and delivery's poll)
    content = card.body["attachments"][0]["content"]
    assert content["type"] == "AdaptiveCard" and "WAN port down" in content["body"][0]["text"]
    assert record["name"] in content["body"][0]["text"] and port_id in content["body"][0]["text"]
    assert card.headers["Idempotency-Key"] == message.headers["Idempotency-Key"]  # one key
    assert "WAN port down" in message.body["text"]
    status = read_status(client)
    assert status is not None
    names = [(r["name"], r["format"]) for r in status["receivers"]]
    assert names == [("receiver 1", "slack"), ("receiver 2", "teams")]
    served = create_app({"REDIS_URL": redis_server.url}).test_client().get("/api/status")
    receivers = served.get_json()["receivers"]
    assert [r["name"] for r in receivers] == ["receiver 1", "receiver 2"]
    assert all(r["last_success"] and r["queued"] == 0 for r in receivers), receivers
    assert b"secretpath" not in served.data and b"127.0.0.1" not in served.data
    stored = b"".join(value for _, value in redis_values(client))
    assert b"secretpath" not in stored and b"T0CANARY" not in stored


def test_a_port_flapping_at_every_refresh_sends_a_bounded_number_of_alerts(mistsim, redis_server):
    hold, flaps = 3, 6
    with WebhookReceiver() as hook:
        instance = make_worker(
            mistsim,
            redis_server,
            interval=60,
            ALERT_WEBHOOK_URLS=hook.url("/generic"),
            ALERT_HOLD_DOWN=str(hold),
            ALERT_STORM_LIMIT="200",
        )
        client = redis_server.client()
        try:
            instance.start_alerts()
            assert instance.refresh()
            record = quiet_gateway(client)
            port_id = record["ports"][0]["port_id"]
            for flap in range(flaps):
                state = "down" if flap % 2 == 0 else "up"
                body = {"mac": record["mac"], "port_id": port_id, "state": state}
                mistsim.admin("POST", "clock", json={"advance": 60})  # Mist's time moves too:
                mistsim.admin("POST", "link", json=body)  # its events date each flip as we do
                instance.clock = partial(later, 60.0 * (flap + 1))
                assert instance.refresh()
            time.sleep(1.0)
            assert instance.alerts is not None and instance.alerts.drain(15)
        finally:
            instance.close()
    sent = port_alerts(hook.delivered(), record["id"], port_id)
    assert sent[:2] == ["port_down", "port_up"]
    assert len(sent) <= 2 * -(-flaps // hold) < flaps  # at most 2 per window, fewer than flaps
