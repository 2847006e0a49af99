"""All Mist I/O of the worker: headless SDK sessions, token rotation, one call with retries,
paging, org choice and the org-wide calls of docs/DATA.md §1.

Only the worker image ships this package: it is the only code that holds Mist tokens.
"""
