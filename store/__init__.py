"""Everything Redis holds: key names and TTLs, encodings, the publish, the reads, the lease.

Storage turns ready values into bytes and back; it decides nothing about circuits or traffic.
The worker writes through `publisher` (a refresh) and the small writers (`status`, `configs`,
`lease`); the web app reads through `reads`. Nobody else knows a key name (`keys`).
See docs/DATA.md §2 and §4.
"""
