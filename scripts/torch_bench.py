#!/usr/bin/env python3
"""PyTorch reference timings for `rnnlab bench`.

What it times
-------------
The same configurations as `rnnlab bench` (src/cli/bench/mod.rs, CONFIGS), with
the same definition of a training step: a 2-layer stacked nn.LSTM / nn.GRU /
nn.RNN(nonlinearity="relu" or "tanh"), or minGRU / minLSTM layers in the
log-space parallel-scan formulation (`min_stack`), (time-major, float32) plus an nn.Linear head on
the last time step's output, MSE against random targets, zero_grad, backward
and one Adam step.  Inference is the forward pass alone under
torch.inference_mode().  Inputs are U(-1, 1).  After a few warm-up steps each
pass is timed `--runs` times; the median and the 10th-90th percentiles are
reported in milliseconds (nearest rank, as rnnlab does).

How to run
----------
From the repository root::

    python3 scripts/torch_bench.py                  # Markdown table
    python3 scripts/torch_bench.py --json           # one JSON object a line
    python3 scripts/torch_bench.py --config gru-2x128 --runs 10 --threads 1
    python3 scripts/torch_bench.py --peak           # GFLOP/s of a large sgemm

    python3 scripts/torch_bench.py --shape lstm-1x512:lstm:1:512:32:200:32

`--shape NAME:CELL:LAYERS:UNITS:INPUT:T:BATCH` times any shape (repeatable);
`rnnlab bench --compare` (and `--sweep --compare`) runs it with `--json`,
one shape per process, with the same runs and threads.  The peak resident
memory of each shape is measured as rnnlab measures its own: the high-water
mark (VmHWM) is reset through /proc/self/clear_refs before the model is
built, and read after both passes (Linux only).  Requires torch 2.x.  Not
run in CI.
"""

import argparse
import json
import sys
import time

# name, cell, layers, units, input, steps (T), batch: keep in step with CONFIGS
# in src/cli/bench/mod.rs (rnnlab checks the shapes it gets back).
CONFIGS = [
    dict(name="lstm-2x64", cell="lstm", layers=2, units=64, input=1, steps=50, batch=32),
    dict(name="lstm-2x256", cell="lstm", layers=2, units=256, input=32, steps=100, batch=64),
    dict(name="gru-2x128", cell="gru", layers=2, units=128, input=8, steps=50, batch=32),
    dict(name="rnn-relu-2x128", cell="rnn-relu", layers=2, units=128, input=8, steps=50,
         batch=32),
    dict(name="rnn-tanh-2x256-t200", cell="rnn-tanh", layers=2, units=256, input=2, steps=200,
         batch=32),
    dict(name="gru-2x256-t256", cell="gru", layers=2, units=256, input=32, steps=256, batch=32),
    dict(name="mingru-2x256-t256", cell="mingru", layers=2, units=256, input=32, steps=256,
         batch=32),
    dict(name="minlstm-2x256-t256", cell="minlstm", layers=2, units=256, input=32, steps=256,
         batch=32),
]
WARMUP = 3


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=30, help="timed steps per pass (default 30)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--config", action="append", default=[], metavar="NAME",
                   help="only this configuration (repeatable; default all)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME:CELL:LAYERS:UNITS:INPUT:T:BATCH",
                   help="time this shape (repeatable); CELL is lstm, gru, rnn-tanh or rnn-relu")
    p.add_argument("--json", action="store_true", help="print one JSON object per configuration")
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True) first (PyTorch's default keeps subnormals)")
    p.add_argument("--peak", action="store_true",
                   help="print the GFLOP/s of a 4096x4096 float32 matmul and exit")
    args = p.parse_args()
    if args.runs < 1 or args.threads < 1:
        p.error("--runs and --threads must be at least 1")
    known = {c["name"] for c in CONFIGS}
    for name in args.config:
        if name not in known:
            p.error(f"unknown configuration {name!r}; known: {', '.join(sorted(known))}")
    shapes = []
    for text in args.shape:
        parts = text.split(":")
        try:
            name, cell = parts[0], parts[1]
            layers, units, inp, steps, batch = (int(v) for v in parts[2:])
        except ValueError:
            p.error(f"--shape {text!r}: expected NAME:CELL:LAYERS:UNITS:INPUT:T:BATCH")
        if cell not in ("lstm", "gru", "rnn-tanh", "rnn-relu", "mingru", "minlstm"):
            p.error(f"--shape {text!r}: unknown cell {cell!r}")
        shapes.append(dict(name=name, cell=cell, layers=layers, units=units, input=inp,
                           steps=steps, batch=batch))
    args.shapes = shapes
    return args


def memory_mib():
    """(resident now, peak since the last reset) in MiB, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        kib = lambda k: float(fields[k].strip().split()[0])
        return kib("VmRSS") / 1024, kib("VmHWM") / 1024
    except (OSError, KeyError, ValueError):
        return None


def reset_peak():
    """Resets the peak resident memory; returns the resident memory now."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None
    m = memory_mib()
    return m and m[0]


def min_stack(torch, cell, layers, input_size, units):
    """A stack of minGRU or minLSTM layers (Feng et al. 2024) in the usual
    log-space parallel-scan formulation (the paper's appendix; as in
    lucidrains/minGRU-pytorch): time-major, h_0 = 0, returns (output, None)
    like nn.RNN modules."""
    nn, F = torch.nn, torch.nn.functional
    gates = 2 if cell == "mingru" else 3

    def log_g(x):
        return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            sizes = [input_size] + [units] * (layers - 1)
            self.linears = nn.ModuleList(nn.Linear(n, gates * units) for n in sizes)

        def forward(self, x):
            for lin in self.linears:
                k = lin(x).chunk(gates, dim=-1)
                if gates == 2:
                    log_coeffs, log_values = -F.softplus(k[0]), -F.softplus(-k[0]) + log_g(k[1])
                else:
                    diff = F.softplus(-k[0]) - F.softplus(-k[1])
                    log_coeffs, log_values = -F.softplus(diff), -F.softplus(-diff) + log_g(k[2])
                a_star = torch.cumsum(log_coeffs, dim=0)
                x = torch.exp(a_star + torch.logcumsumexp(log_values - a_star, dim=0))
            return x, None

    return Stack()


def build(torch, cfg):
    """The recurrent stack and its linear head."""
    nn = torch.nn
    kw = dict(input_size=cfg["input"], hidden_size=cfg["units"], num_layers=cfg["layers"])
    if cfg["cell"] in ("mingru", "minlstm"):
        rnn = min_stack(torch, cfg["cell"], cfg["layers"], cfg["input"], cfg["units"])
    elif cfg["cell"] == "lstm":
        rnn = nn.LSTM(**kw)
    elif cfg["cell"] == "gru":
        rnn = nn.GRU(**kw)
    else:
        rnn = nn.RNN(nonlinearity=cfg["cell"].removeprefix("rnn-"), **kw)
    head = nn.Linear(cfg["units"], 1)
    return rnn, head


def stats(ms):
    ms = sorted(ms)
    at = lambda q: ms[round((len(ms) - 1) * q)]
    return dict(median=at(0.5), p10=at(0.1), p90=at(0.9))


def time_config(torch, cfg, runs):
    before = reset_peak()
    result = time_passes(torch, cfg, runs)
    after = memory_mib()
    if before is not None and after is not None:
        result["memory_mib"] = dict(process=after[1], added=max(0.0, after[1] - before))
    return result


def time_passes(torch, cfg, runs):
    torch.manual_seed(0)
    rnn, head = build(torch, cfg)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=1e-4)
    x = torch.rand(cfg["steps"], cfg["batch"], cfg["input"]) * 2 - 1
    y = torch.rand(cfg["batch"], 1) * 2 - 1

    def train_step():
        opt.zero_grad(set_to_none=True)
        out, _ = rnn(x)
        loss = torch.nn.functional.mse_loss(head(out[-1]), y)
        loss.backward()
        opt.step()

    def infer():
        with torch.inference_mode():
            out, _ = rnn(x)
            return head(out[-1])

    result = {}
    for key, fn in (("train_ms", train_step), ("infer_ms", infer)):
        for _ in range(WARMUP):
            fn()
        ms = []
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t) * 1e3)
        result[key] = stats(ms)
    return result


def peak_gflops(torch, n=4096, reps=10):
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main():
    args = parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"error: PyTorch is not installed for {sys.executable} ({e}); "
              "install it with `pip install torch`", file=sys.stderr)
        sys.exit(3)
    torch.set_num_threads(args.threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    if args.peak:
        print(f"{peak_gflops(torch):.1f}")
        return
    if args.shapes:
        configs = [c for c in CONFIGS if c["name"] in args.config] + args.shapes
    else:
        configs = [c for c in CONFIGS if not args.config or c["name"] in args.config]
    if not args.json:
        print(f"PyTorch {torch.__version__}, {args.threads} threads, {args.runs} runs\n")
        print("| config | train median ms | p10–p90 ms | inference median ms | p10–p90 ms |")
        print("|---|---|---|---|---|")
    for cfg in configs:
        r = time_config(torch, cfg, args.runs)
        if args.json:
            line = dict(cfg, torch=torch.__version__, threads=args.threads, runs=args.runs, **r)
            print(json.dumps(line), flush=True)
        else:
            t, i = r["train_ms"], r["infer_ms"]
            print(f"| {cfg['name']} | {t['median']:.2f} | {t['p10']:.2f}–{t['p90']:.2f} "
                  f"| {i['median']:.2f} | {i['p10']:.2f}–{i['p90']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
