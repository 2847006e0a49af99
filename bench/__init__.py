"""`make bench` and `make drill`: reproducible figures for token thrift, speed and trust.

Everything here starts real processes on loopback (redis-server, mistsim, worker.py,
gunicorn, Chromium, wrk) and measures them side by side in one run.
"""
