"""Alerts: the worker tells webhook receivers (Slack, Teams, generic JSON) about new events.

rules.py routes events to receivers (alerts.yml), holddown.py keeps a flapping circuit to one
"down" and one "recovered" per window, plan.py turns a refresh's events into alerts (storm
summaries included), formats.py renders a receiver's body, outbox.py keeps the queue in
Redis and delivery.py sends it on its own threads. service.py joins them for the worker.
"""
