#!/usr/bin/env bash
# Dashboard overhead: trains the quick start headless (output to /dev/null)
# and in the dashboard (in tmux at 120x40), in random order within each
# round, and prints the trainer's wall time of each (`wall_s` in the run's
# summary.json), then the median of the per-round ratios. Needs tmux.
#
#   scripts/dashboard_overhead.sh [ROUNDS] [EPOCHS]     (defaults: 20 rounds, 16 epochs)
#
# Run it on an otherwise idle machine. The script itself looks only every
# 2 s whether a dashboard run has finished: a script that checked every
# 0.3 s (starting a `grep` each time) cost the runs in tmux 2-3 %.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
epochs=${2:-16}
command -v tmux >/dev/null || { echo "error: tmux is not installed (apt-get install -y tmux)" >&2; exit 2; }
cargo build --release --quiet
bin=$PWD/target/release/rnnlab
work=$(mktemp -d)
session=rnnlab-overhead-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
train=(train experiments/quickstart.toml --set data.count=3000 --set "train.epochs=$epochs")

wall() { sed -n 's/.*"wall_s": *\([0-9.e+-]*\).*/\1/p' "$1/summary.json"; }

headless() {
  "$bin" "${train[@]}" --headless --run-dir "$1" >/dev/null 2>&1
}

dashboard() {
  tmux new-session -d -s "$session" -x 120 -y 40 "$(printf '%q ' "$bin" "${train[@]}" --run-dir "$1"); sleep 60"
  # summary.json says "running" until the run ends.
  until [[ -f $1/summary.json ]] && ! grep -q '"running"' "$1/summary.json"; do sleep 2; done
  tmux send-keys -t "$session" q
  sleep 0.5
  tmux kill-session -t "$session" 2>/dev/null || true
}

echo "round  headless_s  dashboard_s  ratio"
ratios=()
for i in $(seq "$rounds"); do
  rm -rf "$work/h" "$work/d"
  if (( RANDOM % 2 )); then headless "$work/h"; dashboard "$work/d"; else dashboard "$work/d"; headless "$work/h"; fi
  h=$(wall "$work/h")
  d=$(wall "$work/d")
  r=$(awk -v h="$h" -v d="$d" 'BEGIN { printf "%.4f", d / h }')
  ratios+=("$r")
  printf '%5d  %10.3f  %11.3f  %s\n' "$i" "$h" "$d" "$r"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '
  { r[NR] = $1 }
  END {
    m = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
    printf "dashboard against headless, median of %d rounds: %+.1f %% (range %+.1f to %+.1f %%)\n",
      NR, 100 * (m - 1), 100 * (r[1] - 1), 100 * (r[NR] - 1)
  }'
