#!/usr/bin/env bash
# An adversarial pass over rnnlab: malformed experiments and data, hostile
# files (FIFOs, devices, directories, symlinks), absurd sizes, damaged run
# directories and state files, predict inputs, broken pipes, signals, two
# writers on one run. Each case is judged by what happened, and the pass
# prints the counts per class:
#
#   panic         exit 101 or "panicked at" on stderr
#   abort         killed by a signal (an allocation abort is SIGABRT, 134)
#   hang          no answer within the time limit (20 s)
#   unclear       bad input not refused with exit 2, or a message without
#                 the words that locate it (the file, key or fix)
#   silent        bad input accepted (exit 0): a result that is silently wrong
#   data-loss     a run left unresumable, rows lost, a live run disturbed
#   security      a file outside the run directory written through a symlink
#   ok            refused clearly (exit 2 with the words), or survived intact
#
# usage: tests/stress/adversarial.sh [BINARY]   (default target/debug/rnnlab)
# Not part of CI (the table-driven tests in tests/it/ are); run it to
# compare two builds, e.g. the round's start and now:
#   git worktree add /tmp/old 0bf874e && (cd /tmp/old && cargo build)
#   tests/stress/adversarial.sh /tmp/old/target/debug/rnnlab
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$ROOT/target/debug/rnnlab}")
W=$(mktemp -d /tmp/adversarial.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
declare -A COUNT
VERBOSE=${VERBOSE:-1}

record() { # id outcome [detail]
  COUNT[$2]=$(( ${COUNT[$2]:-0} + 1 ))
  [ "$VERBOSE" = 1 ] && printf '%-34s %-10s %s\n' "$1" "$2" "${3:-}"
}

# bad ID WORDS-REGEX CMD…: bad input that must be refused with exit 2 and a
# message matching WORDS (case-insensitive).
bad() {
  local id=$1 words=$2
  shift 2
  timeout -s KILL 20 "$@" > "$W/out" 2> "$W/err" < /dev/null
  local rc=$?
  local first
  first=$(grep -m1 -v '^\s*$' "$W/err" | cut -c1-110)
  if [ $rc = 137 ]; then record "$id" hang
  elif [ $rc = 101 ] || grep -q 'panicked at' "$W/err"; then record "$id" panic "$first"
  elif [ $rc -ge 128 ]; then record "$id" abort "exit $rc"
  elif [ $rc = 0 ]; then record "$id" silent "accepted"
  elif [ $rc != 2 ]; then record "$id" unclear "exit $rc: $first"
  elif ! grep -Eiq -- "$words" "$W/err"; then record "$id" unclear "$first"
  else record "$id" ok "$first"
  fi
}

# quiet ID CMD…: a command whose reader goes away; must exit 0 without a word.
quiet() {
  local id=$1
  shift
  timeout -s KILL 20 bash -c "$*" > /dev/null 2> "$W/err"
  local rc=$?
  if grep -q 'panicked at' "$W/err"; then record "$id" panic "$(head -c 100 "$W/err")"
  elif [ $rc = 137 ]; then record "$id" hang
  elif [ $rc != 0 ] || grep -qi 'broken pipe' "$W/err"; then record "$id" unclear "exit $rc $(head -c 80 "$W/err")"
  else record "$id" ok
  fi
}

exp() { # NAME BODY: an experiment file
  printf '%s\n' "$2" > "$W/$1"
  echo "$W/$1"
}

SMALL='name = "s"
seed = 1
[data]
source = "synthetic"
generator = "two_sines"
count = 200
window = 20
[[model.layers]]
cell = "gru"
units = 8
[train]
epochs = 2
batch_size = 32'
csv_exp() { # NAME CSV-FILE [COLUMNS-LINE]
  exp "$1" "name = \"c\"
[data]
source = \"csv\"
path = \"$2\"
${3:-}
window = 4
[[model.layers]]
cell = \"gru\"
units = 4
[train]
epochs = 1"
}
# train EXP ARGS…: a headless run into a new directory (a script, so that
# `timeout` can run it).
cat > "$W/train" << EOF
#!/usr/bin/env bash
exec "$BIN" train "\$@" --headless --run-dir "$W/run-\$RANDOM\$RANDOM"
EOF
chmod +x "$W/train"
train="$W/train"

echo "binary: $BIN"
echo "== files that are not regular files"
mkfifo "$W/fifo.toml"
bad fifo-experiment 'fifo|not a regular' "$BIN" check "$W/fifo.toml"
bad dev-zero-experiment 'device|not a regular|too large' "$BIN" check /dev/zero
mkdir -p "$W/dir.toml"
bad directory-experiment 'directory' "$BIN" check "$W/dir.toml"
bad missing-experiment 'no such file|not found|does not exist' "$BIN" check "$W/nope.toml"
head -c 3000 /dev/urandom > "$W/garbage.toml"
bad binary-experiment 'garbage.toml' "$BIN" check "$W/garbage.toml"

echo "== sizes"
for kv in "model.layers.0.units=100000000" "data.window=1000000000" "data.count=100000000000" \
          "data.window=18446744073709551615" "train.batch_size=10000000000" "train.epochs=10000000000000" \
          "train.threads=100000"; do
  bad "size:${kv:0:30}" "${kv%%=*}|${kv##*.}" "$train" "$(exp small.toml "$SMALL")" --set "$kv"
done
long=$(printf 'x%.0s' $(seq 300))
bad name-300-bytes 'name' "$BIN" check "$(exp small.toml "$SMALL")" --set "name=\"$long\""
bad sample-length-1e9 'sample_length' "$train" "$ROOT/experiments/text/chars-lstm.toml" --set task.sample_length=1000000000 --set train.epochs=1

echo "== malformed experiments (tests/invalid)"
for f in "$ROOT"/tests/invalid/*.toml; do
  bad "invalid:$(basename "$f" .toml)" "$(basename "$f")|\\.csv" "$BIN" check "$f"
done
bad set-unknown-key 'nosuch' "$BIN" check "$(exp small.toml "$SMALL")" --set train.nosuch=1
bad set-wrong-type 'epochs' "$BIN" check "$(exp small.toml "$SMALL")" --set train.epochs=abc

echo "== data files"
mkdir -p "$W/data.csv.d"
bad data-is-directory 'directory' "$train" "$(csv_exp d.toml "$W/data.csv.d")"
mkfifo "$W/data-fifo.csv"
bad data-is-fifo 'fifo|not a regular' "$train" "$(csv_exp f.toml "$W/data-fifo.csv")"
bad data-is-dev-zero 'device|not a regular|too large' "$train" "$(csv_exp z.toml /dev/zero)"
{ echo "x,x"; for i in $(seq 100); do echo "$i,$((i * 2))"; done; } > "$W/dup.csv"
bad csv-duplicate-header 'x' "$train" "$(csv_exp dup.toml "$W/dup.csv")"
{ echo "t,v"; echo "1,NA"; for i in $(seq 100); do echo "$i,$i.5"; done; } > "$W/na.csv"
bad csv-na-first-row 'NA|missing' "$train" "$(csv_exp na.toml "$W/na.csv")"
{ echo "v"; echo "null"; for i in $(seq 100); do echo "$i.5"; done; } > "$W/null.csv"
bad csv-null-only-column 'null|missing' "$train" "$(csv_exp null.toml "$W/null.csv")"
{ echo "v"; for i in $(seq 200); do echo "3.3e38"; echo "-3.3e38"; done; } > "$W/huge.csv"
# Values near the f32 limit are valid data: refused clearly, or trained with
# finite metrics in original units (a z-score in f64 scales them to ±1).
"$BIN" train "$(csv_exp huge.toml "$W/huge.csv" 'normalize = "zscore"')" --headless --run-dir "$W/huge-run" > /dev/null 2> "$W/err"
rc=$?
rmse=$(python3 -c "import json,math;r=json.load(open('$W/huge-run/summary.json'))['test']['rmse'];print('finite' if math.isfinite(r) and r > 0 else r)" 2> /dev/null)
if grep -q 'panicked at' "$W/err" || [ $rc = 101 ]; then record csv-near-f32-max panic
elif [ $rc = 2 ] && grep -Eiq 'huge.csv|overflow|finite|large' "$W/err"; then record csv-near-f32-max ok "refused: $(head -1 "$W/err" | cut -c1-80)"
elif [ $rc = 0 ] && [ "$rmse" = finite ]; then record csv-near-f32-max ok "trained, finite test rmse"
elif [ $rc = 0 ]; then record csv-near-f32-max silent "test rmse $rmse"
else record csv-near-f32-max unclear "exit $rc: $(head -1 "$W/err" | cut -c1-80)"
fi
{ echo "v"; for i in $(seq 200); do echo "1e-13"; done; } > "$W/tiny.csv"
bad csv-constant-tiny 'constant|tiny.csv' "$train" "$(csv_exp tiny.toml "$W/tiny.csv" 'normalize = "zscore"')"
{ echo "text,label"; for i in $(seq 4); do echo "good film $i,1"; echo "bad film $i,0"; done; } > "$W/sent.csv"
bad sentences-empty-valid 'valid|empty|split' "$train" "$(exp sent.toml "name = \"s\"
[data]
source = \"csv\"
layout = \"sentences\"
path = \"$W/sent.csv\"
columns = [\"text\"]
target = \"label\"
window = 5
split = [0.9, 0.05, 0.05]
[task]
kind = \"classify\"
classes = [\"negative\", \"positive\"]
[model]
embedding = 4
[[model.layers]]
cell = \"gru\"
units = 4
[train]
epochs = 1")"

echo "== run directories and state files"
"$BIN" train "$(exp small.toml "$SMALL")" --headless --run-dir "$W/good" > /dev/null 2>&1
mkdir -p "$W/notarun"
bad resume-not-a-run 'notarun' "$BIN" resume "$W/notarun" --headless
bad replay-not-a-run 'notarun' "$BIN" replay "$W/notarun"
bad attach-not-a-run 'notarun' "$BIN" attach "$W/notarun"
bad compare-not-a-run 'notarun' "$BIN" compare "$W/notarun" "$W/good" --csv
for damage in wall_huge wall_negative step_beyond truncated; do
  cp -r "$W/good" "$W/st-$damage"
  state=$(ls "$W/st-$damage"/checkpoints/*.state.safetensors | sort -V | tail -1)
  python3 - "$state" "$damage" << 'EOF'
import json, re, struct, sys
path, damage = sys.argv[1], sys.argv[2]
b = open(path, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
head = json.loads(b[8:8 + n])
state = head["__metadata__"]["state"]
if damage == "truncated":
    open(path, "wb").write(b[: 8 + n // 2])
    sys.exit()
state = {
    "wall_huge": lambda s: re.sub(r'"wall_s":[^,]*', '"wall_s":1e300', s),
    "wall_negative": lambda s: re.sub(r'"wall_s":[^,]*', '"wall_s":-5.0', s),
    "step_beyond": lambda s: re.sub(r'"step":[0-9]+', '"step":99999999', s),
}[damage](state)
head["__metadata__"]["state"] = state
h = json.dumps(head).encode()
h += b" " * (-len(h) % 8)
open(path, "wb").write(struct.pack("<Q", len(h)) + h + b[8 + n:])
EOF
  bad "state-$damage" 'state' "$BIN" resume "$W/st-$damage" --headless --set train.epochs=3
done
cp -r "$W/good" "$W/nockpt" && rm -f "$W/nockpt"/checkpoints/*
bad resume-no-checkpoint 'checkpoint' "$BIN" resume "$W/nockpt" --headless
echo '{"garbage' > "$W/nosum.json"
cp -r "$W/good" "$W/badsum" && cp "$W/nosum.json" "$W/badsum/summary.json"
quiet runs-damaged-summary "'$BIN' runs '$W'"

echo "== predict"
printf '%s\n' "$(for i in $(seq 20); do printf '0.%d,' "$i"; done | sed 's/,$//')" > "$W/in.csv"
printf ',%s\n' "$(for i in $(seq 19); do printf '0.%d,' "$i"; done | sed 's/,$//')" > "$W/in-missing.csv"
cat "$W/in.csv" >> "$W/in-missing.csv"
bad predict-first-cell-missing 'header|missing|in-missing.csv' "$BIN" predict "$W/good" --input "$W/in-missing.csv" --output "$W/p.csv"
bad predict-weights-dev-zero 'device|not a regular|too large' "$BIN" predict --experiment "$(exp small.toml "$SMALL")" --weights /dev/zero --input "$W/in.csv" --output "$W/p.csv"
python3 - "$W/good" "$W/nan.safetensors" << 'EOF' 2> /dev/null
import json, struct, sys, glob
src = [p for p in glob.glob(sys.argv[1] + "/checkpoints/*.safetensors") if ".state." not in p][0]
b = open(src, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
head = json.loads(b[8:8 + n])
body = bytearray(b[8 + n:])
for k, v in head.items():
    if k != "__metadata__":
        body[v["data_offsets"][0]:v["data_offsets"][0] + 4] = struct.pack("<f", float("nan"))
        break
open(sys.argv[2], "wb").write(b[:8 + n] + bytes(body))
EOF
bad predict-nan-weights 'nan|finite' "$BIN" predict --experiment "$(exp small.toml "$SMALL")" --weights "$W/nan.safetensors" --input "$W/in.csv" --output "$W/p.csv"
mkfifo "$W/in-fifo.csv"
bad predict-input-fifo 'fifo|not a regular' "$BIN" predict "$W/good" --input "$W/in-fifo.csv" --output "$W/p.csv"

echo "== broken pipes"
# `true` exits without reading: rnnlab writes into a closed pipe.
quiet pipe-check "'$BIN' check '$ROOT/experiments/quickstart.toml' | true"
quiet pipe-compare-csv "'$BIN' compare '$W/good' '$W/good' --csv | true"
quiet pipe-compare-json "'$BIN' compare '$W/good' '$W/good' --json | true"
quiet pipe-runs "'$BIN' runs '$W' | true"
quiet pipe-help "'$BIN' --help | true"
quiet pipe-train-log "'$BIN' train '$W/small.toml' --headless --run-dir '$W/pipe-run' 2>&1 | true"

echo "== signals"
for sig in TERM HUP; do
  d="$W/sig-$sig"
  "$BIN" train "$(exp small.toml "$SMALL")" --headless --set data.count=2000 --set train.epochs=50 --run-dir "$d" > /dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ -d "$d/checkpoints" ] && ls "$d"/checkpoints/*.safetensors > /dev/null 2>&1 && break; sleep 0.1; done
  kill -s "$sig" "$pid"
  wait "$pid"
  status=$(python3 -c "import json;print(json.load(open('$d/summary.json')).get('status'))" 2> /dev/null)
  if [ "$status" = stopped ] && [ ! -S "$d/control.sock" ] && "$BIN" resume "$d" --headless --set train.epochs=51 > /dev/null 2>&1; then
    record "signal-$sig" ok "stopped, resumable"
  else
    record "signal-$sig" data-loss "status $status"
  fi
done

echo "== two writers"
d="$W/live"
"$BIN" train "$(exp small.toml "$SMALL")" --headless --set data.count=4000 --set train.epochs=200 --run-dir "$d" > /dev/null 2>&1 &
live=$!
for _ in $(seq 100); do [ -f "$d/metrics.csv" ] && break; sleep 0.1; done
sleep 1
chmod 000 "$d/control.sock" 2> /dev/null # a socket nobody may connect to
"$BIN" resume "$d" --headless > /dev/null 2> "$W/err"
rc=$?
if [ $rc = 2 ] && kill -0 $live 2> /dev/null; then record resume-of-live-run ok "$(head -1 "$W/err" | cut -c1-90)"; else record resume-of-live-run data-loss "exit $rc"; fi
"$BIN" train "$W/small.toml" --headless --run-dir "$d" > /dev/null 2> "$W/err"
rc=$?
if [ $rc = 2 ] && kill -0 $live 2> /dev/null; then record train-into-live-run ok "$(head -1 "$W/err" | cut -c1-90)"; else record train-into-live-run data-loss "exit $rc"; fi
kill -TERM $live; wait $live
for i in 1 2 3 4 5; do
  d="$W/race-$i"
  "$BIN" train "$W/small.toml" --headless --run-dir "$d" > /dev/null 2>&1 &
  a=$!
  "$BIN" train "$W/small.toml" --headless --run-dir "$d" > /dev/null 2>&1 &
  b=$!
  wait $a; ra=$?
  wait $b; rb=$?
  status=$(python3 -c "import json;print(json.load(open('$d/summary.json')).get('status'))" 2> /dev/null)
  if [ "$status" = completed ] && { [ $ra = 0 ] || [ $rb = 0 ]; } && [ $((ra + rb)) -gt 0 ]; then
    record "race-$i" ok "one writer"
  else
    record "race-$i" data-loss "exits $ra $rb, status $status"
  fi
done

echo "== hostile run directories"
echo "keep" > "$W/victim1"; echo "keep" > "$W/victim2"
mkdir -p "$W/hostile"
ln -s "$W/victim1" "$W/hostile/.experiment.toml.tmp"
ln -s "$W/victim2" "$W/hostile/events.csv"
"$BIN" train "$W/small.toml" --headless --run-dir "$W/hostile" > /dev/null 2>&1
if [ "$(cat "$W/victim1")$(cat "$W/victim2")" = keepkeep ]; then record symlinks-in-run-dir ok; else record symlinks-in-run-dir security "a symlink's target was written"; fi
mkdir -p "$W/open" && chmod 777 "$W/open"
bad world-writable-run-dir 'written|writable' "$BIN" train "$W/small.toml" --headless --run-dir "$W/open"

echo "== I/O errors name the path (exit 1 for the machine's fault, 2 for the user's)"
named() { # ID PATH CMD…
  local id=$1 path=$2
  shift 2
  timeout -s KILL 20 "$@" > /dev/null 2> "$W/err" < /dev/null
  local rc=$?
  if [ $rc = 137 ]; then record "$id" hang
  elif [ $rc = 101 ] || grep -q 'panicked at' "$W/err"; then record "$id" panic
  elif [ $rc = 0 ]; then record "$id" silent "accepted"
  elif ! grep -qF -- "$path" "$W/err"; then record "$id" unclear "$(head -1 "$W/err" | cut -c1-90)"
  else record "$id" ok "exit $rc: $(head -1 "$W/err" | cut -c1-90)"
  fi
}
named run-dir-on-proc /proc/rnnlab-test "$BIN" train "$W/small.toml" --headless --run-dir /proc/rnnlab-test
named output-on-dev-full /dev/full "$BIN" predict "$W/good" --input "$W/in.csv" --output /dev/full
named run-dir-under-a-file "$W/small.toml/run" "$BIN" train "$W/small.toml" --headless --run-dir "$W/small.toml/run"

echo
echo "counts:"
total=0
for k in panic abort hang data-loss silent security unclear ok; do
  printf '  %-10s %d\n' "$k" "${COUNT[$k]:-0}"
  total=$(( total + ${COUNT[$k]:-0} ))
done
echo "  total      $total"
