#!/usr/bin/env bash
# The cost of running trials as a sweep, measured on this machine:
#   A. N trainings as separate `rnnlab train --headless` processes, P at a time (xargs -P);
#   B. the same N trainings as one headless sweep (`rnnlab sweep --headless --parallel P`);
#   C. the same sweep on the sweep board (in a tmux terminal of 80×24).
# Each variant runs REPEATS times, interleaved; the script prints the wall
# times and the trials' own training throughput (steps / wall_s from their
# summary.json), whose ratio C/B is the board's cost, and the CPU time the
# sweep process itself used (the runner; with C, the board too).
#
# usage: scripts/sweep_overhead.sh [N=8] [P=2] [REPEATS=3] [EPOCHS=60]
# needs: a built rnnlab (cargo build), tmux, python3.
set -euo pipefail
N=${1:-8}
P=${2:-2}
REPEATS=${3:-3}
EPOCHS=${4:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RNNLAB:-$ROOT/target/debug/rnnlab}
OUT=$(mktemp -d /tmp/sweep-overhead.XXXXXX)
EXP=$ROOT/experiments/quickstart.toml
SEEDS=$(seq -s, 1 "$N")

cat > "$OUT/sweep.toml" <<EOF
name = "overhead"
experiment = "$EXP"
seeds = [$SEEDS]
[params]
"train.epochs" = [$EPOCHS]
EOF

now() { date +%s.%N; }

# Mean training throughput (steps per second of each trial's own wall time).
throughput() {
  python3 - "$@" <<'PY'
import json, sys, glob
rates = []
for d in sys.argv[1:]:
    s = json.load(open(d + "/summary.json"))
    rates.append(s["steps"] / s["wall_s"])
print(f"{sum(rates) / len(rates):.0f}")
PY
}

separate() {
  local dir=$OUT/separate-$1
  mkdir -p "$dir"
  local t0=$(now)
  seq 1 "$N" | xargs -P "$P" -I{} "$BIN" train "$EXP" --headless \
    --set seed={} --set data.count=3000 --set train.epochs="$EPOCHS" --set train.threads=1 --run-dir "$dir/{}" \
    > /dev/null 2>&1
  echo "$(echo "$(now) - $t0" | bc) $(throughput "$dir"/*)"
}

# CPU seconds (user + system) a process has used itself, not its children.
cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2> /dev/null
}

# Polls a process's own CPU time until it exits; prints the last reading.
cpu_until_exit() {
  local pid=$1 last=0 now
  while now=$(cpu_of "$pid") && [ -n "$now" ]; do
    last=$now
    sleep 0.2
  done
  echo "$last"
}

headless() {
  local dir=$OUT/headless-$1
  local t0=$(now)
  "$BIN" sweep "$OUT/sweep.toml" --headless --parallel "$P" --set data.count=3000 --sweep-dir "$dir" > /dev/null 2>&1 &
  local cpu=$(cpu_until_exit $!)
  wait
  echo "$(echo "$(now) - $t0" | bc) $(throughput "$dir"/trials/*) $cpu"
}

board() {
  local dir=$OUT/board-$1
  local done=$OUT/board-$1.done
  local server=overhead-$$
  local t0=$(now)
  tmux -L "$server" -f /dev/null new-session -d -s s -x 80 -y 24 \
    "LANG=C.UTF-8 $BIN sweep $OUT/sweep.toml --parallel $P --set data.count=3000 --sweep-dir $dir > /dev/null 2>&1; touch $done"
  # The board stays up when the sweep is over; wait for the last trial, then quit it.
  until [ -f "$dir/events.csv" ] && grep -q ',finish,' "$dir/events.csv"; do sleep 0.1; done
  local t1=$(now)
  local pid=$(pgrep -f -- "--sweep-dir $dir" | head -1)
  local cpu=$(cpu_of "$pid")
  tmux -L "$server" send-keys -t s q
  until [ -f "$done" ]; do sleep 0.1; done
  tmux -L "$server" kill-server > /dev/null 2>&1 || true
  echo "$(echo "$t1 - $t0" | bc) $(throughput "$dir"/trials/*) $cpu"
}

echo "N=$N trials of experiments/quickstart.toml (data.count=3000, epochs=$EPOCHS, 1 thread each), $P at a time; $REPEATS repeats"
echo "commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, output in $OUT"
printf '%-8s %-30s %10s %22s %18s\n' repeat variant "wall (s)" "trial steps/s (mean)" "sweep process CPU"
for r in $(seq 1 "$REPEATS"); do
  read -r w s <<< "$(separate "$r")"
  printf '%-8s %-30s %10.2f %22s %18s\n' "$r" "A separate train processes" "$w" "$s" "-"
  read -r w s c <<< "$(headless "$r")"
  printf '%-8s %-30s %10.2f %22s %16s s\n' "$r" "B sweep --headless" "$w" "$s" "$c"
  read -r w s c <<< "$(board "$r")"
  printf '%-8s %-30s %10.2f %22s %16s s\n' "$r" "C sweep on the board" "$w" "$s" "$c"
done
