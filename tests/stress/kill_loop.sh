#!/usr/bin/env bash
# Kill loop: trains the quick start headless, SIGKILLs it at random moments
# N times (default 50), resuming each time from the newest checkpoint, then
# checks that the per-step losses and the final model's predictions equal an
# uninterrupted run's. Not part of CI (tests/it/resume.rs does 10 kills there).
#
#   tests/stress/kill_loop.sh [KILLS] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/../.."
kills=${1:-50}
epochs=${2:-60}
cargo build --quiet
bin=target/debug/rnnlab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sets=(--set data.count=1000 --set "train.epochs=$epochs" --set checkpoint.every_steps=4 --set checkpoint.keep_last=2)

"$bin" train experiments/quickstart.toml --headless "${sets[@]}" --run-dir "$work/a" >/dev/null 2>&1
cmd=("$bin" train experiments/quickstart.toml --headless "${sets[@]}" --run-dir "$work/b")
done_kills=0
RANDOM=7
while (( done_kills < kills )); do
  "${cmd[@]}" >/dev/null 2>&1 &
  pid=$!
  if (( done_kills == 0 )); then
    until ls "$work/b/checkpoints/"step-*.safetensors >/dev/null 2>&1; do sleep 0.05; done
  fi
  sleep "0.$(( RANDOM % 9 + 1 ))"
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" || true
    break
  fi
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  done_kills=$(( done_kills + 1 ))
  cmd=("$bin" resume "$work/b" --headless)
done
if ! grep -q '"status": "completed"' "$work/b/summary.json"; then
  "$bin" resume "$work/b" --headless >/dev/null 2>&1
fi

cut -d, -f1,4 "$work/a/metrics.csv" > "$work/a.loss"
cut -d, -f1,4 "$work/b/metrics.csv" > "$work/b.loss"
printf '0.1,0.2,0.3,0.2,0.1,0.0,-0.1,-0.2,-0.3,-0.2,%.0s' {1..5} | sed 's/,$//' > "$work/in.csv"
echo >> "$work/in.csv"
"$bin" predict "$work/a" --input "$work/in.csv" --output "$work/a.out" 2>/dev/null
"$bin" predict "$work/b" --input "$work/in.csv" --output "$work/b.out" 2>/dev/null
if cmp -s "$work/a.loss" "$work/b.loss" && cmp -s "$work/a.out" "$work/b.out"; then
  echo "kill loop: $done_kills SIGKILLs, $(($(wc -l < "$work/b.loss") - 1)) steps: losses and final predictions identical"
else
  echo "kill loop: $done_kills SIGKILLs: MISMATCH" >&2
  diff "$work/a.loss" "$work/b.loss" | head >&2
  exit 1
fi
