"""Per-WAN-port traffic history: counter deltas into samples, two resolution tiers, backfill.

Pure and stdlib-only (DATA.md §3.5, §4). Mist only gives cumulative byte counters and a
"last known" bps, so the worker turns each refresh's counters into a rate here. The
`fine` tier keeps one sample per refresh for 24 h (1 h / 6 h / 24 h charts); the `coarse`
tier keeps hourly averages for 7 days (7 d chart) and is where Mist's own insights
backfill lands, only in hours we did not measure ourselves.

- `samples`: a port's history, counters into rate samples, pruning, restoring from storage.
- `volume`: bytes per hour and the 24 h volume.
- `state`: a port's counters and running hourly bytes, for a refresh that reads no samples.
- `backfill`: Mist's insights landed in the hourly tier, and which hours to ask for.
- `series`: the chart's regular time grid per range.
"""
