"""A refresh's traffic step: each WAN port's counters into its stored history.

`plan` decides what each port's keys need (usually one appended record); `step` runs it
for a whole org, reading only what it must and backfilling holes from Mist within budget.
The maths is `history`'s; the bytes go to Redis through `store`.
"""
