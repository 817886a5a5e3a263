#!/usr/bin/env python3
"""Writes assets/us_macro_long.csv: eight series of assets/us_macrodata_quarterly.csv
(statsmodels' macrodata, 1959Q1-2009Q3) in long format, one row per series and
quarter (`series,quarter,value`), the series one after another. rnnlab reads it
with `data.series_column = "series"` (experiments/series/us-macro-global-gru.toml).

Usage: python3 scripts/macro_long.py   (from the repository root; standard library only)
"""
import csv

SERIES = ["realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop"]

with open("assets/us_macrodata_quarterly.csv", newline="") as f:
    rows = list(csv.DictReader(f))
with open("assets/us_macro_long.csv", "w", newline="") as f:
    out = csv.writer(f, lineterminator="\n")
    out.writerow(["series", "quarter", "value"])
    for name in SERIES:
        for r in rows:
            out.writerow([name, f"{r['year']}Q{r['quarter']}", r[name]])
