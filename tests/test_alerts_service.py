"""Handing a refresh's alerts off as soon as its events are derived (alerts/service.py
hand_off) against redis-server: they are in the outbox at once, fenced on the worker lease;
the publish then only clears their pending marks; when they cannot be queued early they go
with the publish, as before (an event stored is an alert queued)."""

from __future__ import annotations

from alerts import outbox
from alerts.plan import PENDING
from tests.test_alerts_delivery import T0, events, service

ORG = "org-early"
LEASE = "test:alerts-early:lease"  # a fence key of its own: the worker lease stays free


def publish(client, addition) -> None:
    """What the refresh's switch does with the hand-off's addition."""
    assert addition is not None
    with client.pipeline(transaction=True) as pipe:
        addition(pipe)
        pipe.execute()


def test_alerts_are_queued_when_handed_off_and_the_publish_clears_their_marks(redis_server):
    client = redis_server.client()
    client.delete("mist:alerts:outbox:1", outbox.alert_holddown_key(ORG), LEASE)
    client.set(LEASE, "me")
    alerts = service(client, "http://127.0.0.1:9/hook", fence=(LEASE, "me"))
    addition = alerts.hand_off(ORG, events(2, T0), T0)
    assert outbox.queued(client, 1) == 2  # in the outbox before any publish
    assert PENDING in outbox.read_holddown(client, ORG)
    publish(client, addition)
    assert outbox.queued(client, 1) == 2  # the publish queues nothing more …
    state = outbox.read_holddown(client, ORG)
    assert PENDING not in state and state  # … and keeps hold-down, no change pending


def test_without_the_lease_nothing_leaves_early_and_the_publish_queues_them(redis_server):
    client = redis_server.client()
    client.delete("mist:alerts:outbox:1", outbox.alert_holddown_key(ORG), LEASE)
    client.set(LEASE, "another worker")
    alerts = service(client, "http://127.0.0.1:9/hook", fence=(LEASE, "me"))
    addition = alerts.hand_off(ORG, events(3, T0), T0)
    assert outbox.queued(client, 1) == 0  # a worker that lost the lease sends nothing
    publish(client, addition)  # (a real publish is fenced too: here it is what it adds)
    assert outbox.queued(client, 1) == 3
    assert PENDING not in outbox.read_holddown(client, ORG)
