"""Gunicorn settings for the web tier in a small container.

Read-only dashboard traffic from a few NOC screens: two processes of four threads each
serve it comfortably from Redis. Everything can be tuned from the environment.
"""

from __future__ import annotations

import os
import sys


def _number(name: str, default: int, low: int, high: int) -> int:
    """A whole number from the environment; a bad one stops start-up naming the setting."""
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        print(f"{name} must be a whole number from {low} to {high}, not {raw!r}", file=sys.stderr)
        sys.exit(2)
    return value


bind = f"0.0.0.0:{_number('PORT', 5000, 1, 65535)}"  # the container's only door
workers = _number("WEB_CONCURRENCY", 2, 1, 32)
threads = _number("GUNICORN_THREADS", 4, 1, 64)
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
keepalive = 5
# Heartbeat files on shared memory: the container's root file system is read-only.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# No runtime control socket (gunicornc): it would live in $HOME, which a read-only container
# lacks, and parallel instances on one machine would share it. Restart the container instead.
control_socket_disable = True
# Only trust X-Forwarded-* from the reverse proxy in front (SSO); set its address here.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# The dashboard polls every few seconds: an access log would be noise. Errors still log.
accesslog = "-" if os.environ.get("ACCESS_LOG", "").lower() in {"1", "true", "yes"} else None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
