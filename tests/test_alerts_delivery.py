"""Delivery (alerts/delivery.py, outbox.py, service.py) against redis-server and real HTTP
receivers on loopback: nothing lost while a receiver is down, order kept, one idempotency
key per alert on every try, bounded timeouts, and no URL in Redis, logs or the status."""

from __future__ import annotations

import logging
import socket
import time

from alerts import outbox
from alerts.delivery import DeliveryThread, Outcome, Receiver, Sender
from alerts.service import Alerts
from model.events import make_event
from refresh.status import Redactor
from settings import AlertSettings, Secret
from tests.fixtures.webhook_receiver import WebhookReceiver
from tests.test_security import redis_values

T0 = 1_767_225_600.0
SECRET_PATH = "/services/T000/B000/sekretsekret"


def events(count: int, when: float, gateway: str = "g"):
    return [
        make_event(
            "port_down", when, gateway_id=f"{gateway}{i}", gateway_name=f"gw-{i}", port_id="wan0"
        )
        for i in range(count)
    ]


def service(client, *urls: str, fmt: str = "generic", **kw) -> Alerts:
    settings = AlertSettings(urls=tuple(Secret(u) for u in urls), formats=(fmt,) * len(urls))
    return Alerts(client, settings, interval=60, backoff=(0.05, 0.2), **kw)


def wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_receiver_down_then_up_gets_every_alert_in_order_with_stable_keys(redis_server, caplog):
    client = redis_server.client()
    caplog.set_level(logging.INFO)
    with WebhookReceiver() as hook:
        hook.status = 503  # down
        url = hook.url(SECRET_PATH)
        first = service(client, url)
        for refresh in range(3):
            first.enqueue(
                client, "o", events(10, T0 + refresh * 60, f"r{refresh}-"), T0 + refresh * 60
            )
        expected = [
            alert["id"]
            for raw in client.lrange("mist:alerts:outbox:1", 0, -1)
            for alert in [outbox._object(raw)]
            if alert
        ]
        assert len(expected) == 30
        first.start(may_send=lambda: True, on_change=lambda: None)
        wait(lambda: len(hook.requests) >= 4)
        [receiver] = first.status()
        assert receiver["name"] == "receiver 1" and receiver["last_error"] == "HTTP 503"
        assert receiver["queued"] == 30 and receiver["last_success"] is None
        first.stop()  # the worker restarts while the receiver is still down
        hook.status = 200
        second = service(client, url)
        assert second.status()[0]["last_error"] == "HTTP 503"  # kept in Redis across restarts
        second.start(may_send=lambda: True, on_change=lambda: None)
        delivered = hook.wait_for(30)
        second.stop()
    keys = [r.headers["Idempotency-Key"] for r in delivered]
    assert keys == expected  # every alert, once, in the order queued
    assert [r.body["idempotency_key"] for r in delivered] == keys
    retried = [r for r in hook.requests if r.headers["Idempotency-Key"] == expected[0]]
    assert len(retried) >= 4 and {r.body["idempotency_key"] for r in retried} == {expected[0]}
    assert len({r.body["event"]["id"] for r in retried}) == 1  # the same body every try
    assert outbox.queued(client, 1) == 0
    status = second.status()[0]
    assert status["queued"] == 0 and status["last_success"] and status["delivered"] >= 30
    assert not any(SECRET_PATH.encode() in value for _, value in redis_values(client))
    assert SECRET_PATH not in caplog.text and "sekret" not in caplog.text


def test_an_alert_the_receiver_refuses_is_dropped_after_five_tries(redis_server):
    client = redis_server.client()
    with WebhookReceiver() as hook:
        hook.status = 400
        alerts = service(client, hook.url("/x"))
        alerts.enqueue(client, "o", events(2, T0), T0)
        alerts.start(may_send=lambda: True, on_change=lambda: None)
        wait(lambda: len(hook.requests) >= 5)
        hook.status = 200
        delivered = hook.wait_for(1)
        alerts.stop()
    keys = [r.headers["Idempotency-Key"] for r in hook.requests]
    assert keys[:5] == [keys[0]] * 5 and delivered[0].headers["Idempotency-Key"] != keys[0]


def test_nothing_is_sent_without_the_lease(redis_server):
    client = redis_server.client()
    with WebhookReceiver() as hook:
        alerts = service(client, hook.url("/x"))
        alerts.enqueue(client, "o", events(1, T0), T0)
        held = [False]
        alerts.start(may_send=lambda: held[0], on_change=lambda: None)
        time.sleep(1.5)
        assert hook.requests == []
        held[0] = True
        hook.wait_for(1)
        alerts.stop()


def test_a_receiver_that_never_answers_times_out_and_blocks_no_other(redis_server):
    client = redis_server.client()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections (the backlog) and never answers
    try:
        with WebhookReceiver() as hook:
            dead = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
            settings = AlertSettings(
                urls=(Secret(dead), Secret(hook.url("/ok"))), formats=("generic", "generic")
            )
            alerts = Alerts(client, settings, interval=60, backoff=(0.05, 0.2), timeout=(0.5, 0.5))
            alerts.enqueue(client, "o", events(3, T0), T0)
            alerts.start(may_send=lambda: True, on_change=lambda: None)
            hook.wait_for(3, timeout=10)
            wait(lambda: alerts.status()[0]["last_error"] == "timeout")
            alerts.stop()
    finally:
        silent.close()
    assert alerts.status()[0]["queued"] == 3


def test_the_redactor_hides_webhook_urls_and_their_paths():
    url = "https://hooks.slack.com/services/T1/B2/abcdefghijkl"
    redactor = Redactor([Secret("tok")], urls=[Secret(url)])
    assert redactor.redact(f"POST {url} failed") == "POST *** failed"
    text = "Max retries exceeded with url: /services/T1/B2/abcdefghijkl (Caused by …)"
    assert "abcdefghijkl" not in redactor.redact(text)
    record = logging.LogRecord("x", logging.INFO, "f", 1, "sending to %s", (url,), None)
    assert redactor.filter(record) and record.getMessage() == "sending to ***"


def test_retries_back_off_exponentially_up_to_the_cap_and_honour_retry_after():
    thread = DeliveryThread(
        None,  # type: ignore[arg-type]
        Receiver(1, "generic"),
        Sender(Secret("https://example.invalid/x"), "generic"),
        may_send=lambda: False,
        on_change=lambda: None,
        backoff=(1.0, 300.0),
    )
    delays = []
    for tries in range(1, 11):
        thread.tries = tries
        delays.append(thread.delay(Outcome(False, "HTTP 503")))
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300]
    assert thread.delay(Outcome(False, "HTTP 429", retry_after=30.0)) == 30.0
    assert thread.delay(Outcome(False, "HTTP 429", retry_after=9999.0)) == 300.0


def test_an_alert_delivered_while_a_refresh_queues_more_is_removed_once(redis_server):
    """The delivered head leaves the outbox even when a refresh appends alerts between the
    check and the removal (once, it stayed and the receiver got it twice)."""
    client = redis_server.client()
    key = outbox.alert_outbox_key(1)
    client.delete(key)
    client.rpush(key, b'{"id":"mcs-first"}', b'{"id":"mcs-second"}')
    other = redis_server.client()
    original = client.pipeline

    def pipeline_with_a_refresh_queueing(*args, **kwargs):
        pipe = original(*args, **kwargs)
        lindex = pipe.lindex

        def lindex_then_append(*a, **k):
            found = lindex(*a, **k)
            if other.llen(key) < 3:  # a refresh queues, once, right after the check
                other.rpush(key, b'{"id":"mcs-third"}')
            return found

        pipe.lindex = lindex_then_append
        return pipe

    client.pipeline = pipeline_with_a_refresh_queueing
    assert outbox.pop(client, 1, b'{"id":"mcs-first"}') is True
    assert other.lrange(key, 0, -1) == [b'{"id":"mcs-second"}', b'{"id":"mcs-third"}']
