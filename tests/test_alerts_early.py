"""Alerts leave as soon as a refresh knows its events, before it publishes (issue 12's
latency target): the real worker (SDK, mistsim, redis-server) and a real HTTP receiver.

The publish is held until the alert is at the receiver, so the order is what is asserted,
never a time: the alert comes first, while /api/events does not show its event yet (events
still go live with the publish). A refresh that fails after its alerts left is retried
without a second alert for the same change (alerts/service.py hand_off, alerts/plan.py
PENDING), even with a hold-down window that has ended.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

import redis

from alerts import outbox
from tests.fixtures.webhook_receiver import WebhookReceiver
from tests.test_alerts_worker import later, port_alerts
from tests.test_events import quiet_gateway
from tests.test_refresh_events import served_events
from tests.test_worker import make_worker


def alerting_worker(mistsim, redis_server, tmp_path, hook, **env: str) -> tuple[Any, dict]:
    """A quiet gateway (chosen after a refresh without alerts) and a worker whose alerts
    name only it and the worker's own conditions, with no hold-down window or outbox left
    by other tests (mistsim's own flaps, told by Mist's events, would alert too)."""
    plain = make_worker(mistsim, redis_server, interval=60)
    try:
        assert plain.refresh()  # learns the state: the alerting worker compares with it
    finally:
        plain.lease.release()
        plain.close()
    client = redis_server.client()
    record = quiet_gateway(client)
    rules = tmp_path / "alerts.yml"
    rules.write_text(
        f'routes:\n  - receivers: [1]\n    gateways: ["{record["id"]}"]\n'
        "  - receivers: [1]\n    types: [refresh_failing, refresh_recovered]\n"
    )
    client.delete(outbox.alert_holddown_key(str(plain.org_id)), outbox.alert_outbox_key(1))
    instance = make_worker(
        mistsim,
        redis_server,
        interval=60,
        ALERT_WEBHOOK_URLS=hook.url("/generic"),
        ALERT_RULES_FILE=str(rules),
        **env,
    )
    instance.start_alerts()
    return instance, record


def flip_down(mistsim, record: dict[str, Any]) -> str:
    port_id = str(record["ports"][0]["port_id"])
    mistsim.admin("POST", "link", json={"mac": record["mac"], "port_id": port_id, "state": "down"})
    return port_id


def test_the_alert_reaches_the_receiver_before_its_refresh_publishes(
    mistsim, redis_server, tmp_path
):
    with WebhookReceiver() as hook:
        instance, record = alerting_worker(mistsim, redis_server, tmp_path, hook)
        seen: dict[str, Any] = {}
        try:
            port_id = flip_down(mistsim, record)
            publish = instance.pipeline._publish

            def held_publish(*args: Any, **kwargs: Any) -> int:
                """The publish waits for the alert (at most 20 s) and notes what was served."""
                found = hook.wait_until(
                    lambda r: port_alerts([r], record["id"], port_id) == ["port_down"],
                    timeout=20,
                )
                seen["alert"] = found
                seen["served"] = served_events(redis_server, record["id"])
                seen["published_at"] = time.time()
                return publish(*args, **kwargs)

            instance.pipeline._publish = held_publish
            assert instance.refresh()
            assert instance.alerts is not None and instance.alerts.drain(30)
        finally:
            instance.close()
    alert = seen["alert"]
    assert alert.at <= seen["published_at"]  # at the receiver while the publish was held
    assert not any(e["port_id"] == port_id for e in seen["served"])  # not published yet
    stored = [
        e
        for e in served_events(redis_server, record["id"])
        if e["port_id"] == port_id and e["type"] == "port_down"
    ]
    assert len(stored) == 1  # the publish stored it afterwards, under the alert's key
    assert alert.body["id"] == f"mcs-{stored[0]['id']}"
    assert alert.headers["Idempotency-Key"] == alert.body["id"]
    assert port_alerts(hook.delivered(), record["id"], port_id) == ["port_down"]


def test_a_refresh_failing_after_its_alerts_left_is_retried_without_a_second_alert(
    mistsim, redis_server, tmp_path
):
    with WebhookReceiver() as hook:
        # ALERT_HOLD_DOWN=1: its window ends before the retry, so hold-down alone would send
        # the retried change again
        instance, record = alerting_worker(
            mistsim, redis_server, tmp_path, hook, ALERT_HOLD_DOWN="1"
        )
        try:
            port_id = flip_down(mistsim, record)
            traffic, failed = instance.pipeline._traffic, threading.Event()

            def failing_traffic(*args: Any, **kwargs: Any) -> Any:
                """History fails once, after the events (and their alerts) were handed off."""
                if not failed.is_set():
                    failed.set()
                    raise redis.ConnectionError("history write failed")
                return traffic(*args, **kwargs)

            instance.pipeline._traffic = failing_traffic
            assert not instance.refresh()  # failed: nothing published …
            assert not any(
                e["port_id"] == port_id for e in served_events(redis_server, record["id"])
            )
            hook.wait_until(
                lambda r: port_alerts([r], record["id"], port_id) == ["port_down"], timeout=20
            )  # … but its alert went out
            mistsim.admin("POST", "clock", json={"advance": 60})
            instance.clock = partial(later, 60.0)  # the retry, an interval later
            assert instance.refresh()
            time.sleep(1.0)
            assert instance.alerts is not None and instance.alerts.drain(30)
        finally:
            instance.close()
    events = served_events(redis_server, record["id"])
    stored = [e["type"] for e in events if e["port_id"] == port_id and e["type"].startswith("port")]
    assert stored == ["port_down"]  # stored once, by the retry
    sent = [
        (r.body["id"], r.body["event"].get("source"), r.body["event"].get("time"))
        for r in hook.delivered()
        if r.body.get("type") == "port_down" and r.body["event"]["port_id"] == port_id
    ]
    assert port_alerts(hook.delivered(), record["id"], port_id) == ["port_down"], sent  # once
    types = [r.body.get("type") for r in hook.delivered()]
    assert "refresh_failing" in types and "refresh_recovered" in types  # the failure was told
