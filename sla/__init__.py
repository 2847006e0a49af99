"""Availability and SLA: running sums per WAN port and peer path, and the documents on them."""
