"""The worker's parts: its status, its lease, the config cache, the fetch, the snapshot writer.

`worker.py` runs them as a short pipeline each interval: fetch from Mist → build the
snapshot (`model`) → the traffic step (`traffic`) → write everything in one publish (`store`).
"""
