#!/usr/bin/env python3
"""Successive halving against the exhaustive grid (docs/sweeps.md).

usage: scripts/asha_vs_grid.py [DIR]

DIR (default .) holds grid-s1..3 and asha-s1..3, the sweep directories of
experiments/sweeps/homl-deep-rnn.toml and homl-deep-rnn-asha.toml run with
--set seed=1, 2, 3, and optionally log.txt with lines
"grid seed S wall W s" / "asha seed S wall W s" (from /usr/bin/time -f).
For each seed it prints the grid's best configuration by the sweep's metric
(the validation loss at the last evaluation), ASHA's pick, the pick's rank
in the grid, ASHA's share of the grid's training steps and the wall times,
as a Markdown table; and checks that the pick's loss equals that of the same
configuration in the grid (exact resume).
"""
import csv
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."


def rows(d):
    with open(os.path.join(root, d, "trials.csv")) as f:
        return list(csv.DictReader(f))


def last_valid(d, run):
    last = None
    with open(os.path.join(root, d, run, "eval.csv")) as f:
        for row in csv.DictReader(f):
            last = float(row["valid_loss"])
    return last


def config(r):
    return (r["model.layers"].count("cell"), r["model.layers.*.units"], r["train.learning_rate"])


def name(c):
    return f"{c[0]}×{c[1]}, lr {c[2]}"


walls = {}
log = os.path.join(root, "log.txt")
if os.path.exists(log):
    for line in open(log):
        p = line.split()
        if len(p) >= 5 and p[1] == "seed" and p[3] == "wall":
            walls[(p[0], p[2])] = f"{float(p[4]):.1f} s"

print("| seed | the grid's best (valid loss) | ASHA's pick (valid loss) | its rank in the grid "
      "| ASHA's steps / the grid's | wall: grid / ASHA |")
print("|---|---|---|---|---|---|")
ok = True
for s in ("1", "2", "3"):
    g, a = f"grid-s{s}", f"asha-s{s}"
    grid = {config(r): last_valid(g, r["run_dir"]) for r in rows(g)}
    order = sorted(grid, key=lambda c: grid[c])
    done = [r for r in rows(a) if r["status"] == "completed"]
    asha = {config(r): last_valid(a, r["run_dir"]) for r in done}
    pick = min(asha, key=lambda c: asha[c])
    ok &= asha[pick] == grid[pick]
    gsteps = sum(int(r["steps"]) for r in rows(g))
    asteps = sum(int(r["steps"] or 0) for r in rows(a))
    print(f"| {s} | {name(order[0])} ({grid[order[0]]:.5f}) | {name(pick)} ({asha[pick]:.5f}) "
          f"| {order.index(pick) + 1} of {len(order)} "
          f"| {asteps:,} / {gsteps:,} = {asteps / gsteps:.1%} "
          f"| {walls.get(('grid', s), '?')} / {walls.get(('asha', s), '?')} |")
print("ASHA's picks equal the grid's same configurations:", "yes" if ok else "NO")
sys.exit(0 if ok else 1)
