#!/usr/bin/env python3
"""PyTorch equivalent of `experiments/homl/04-deep-rnn.toml`, for wall time.

What it does
------------
The Hands-On ML (2nd ed., ch. 15) deep RNN, as rnnlab builds it from the
experiment file: SimpleRNN(20) -> SimpleRNN(20) -> SimpleRNN(1), tanh, Keras
initialisation (Glorot-uniform input weights, orthogonal recurrent weights,
zero biases), then rnnlab's linear head Linear(1, 1) (Glorot, zero bias) on
the last step.  Data: 10,000 two-sine series of 51 points (the book's
generator), inputs the first 50 points, target point 50; rows 0-6999 train,
7000-8999 validation, 9000-9999 test; no scaling.  Training: Adam (lr 0.001),
MSE, batch 32, 20 epochs, the training rows shuffled every epoch, validation
MSE after every epoch (as rnnlab does), test MSE at the end.

It prints the wall time (data, training and evaluation; Python start-up and
`import torch` excluded) and the final validation and test MSE.  Compare with
the wall time of::

    rnnlab train experiments/homl/04-deep-rnn.toml --headless --set train.threads=2

How to run
----------
From the repository root::

    python3 scripts/homl_deep_rnn.py [--threads 2] [--epochs 20] [--seed 42]

Requires torch 2.x and numpy.  Not run in CI.
"""

import argparse
import time

import numpy as np
import torch
import torch.nn as nn


def generate_time_series(rng, batch_size, n_steps):
    """The book's generator: two sines plus uniform noise, shape (batch, steps)."""
    freq1, freq2, offsets1, offsets2 = rng.random((4, batch_size, 1))
    t = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((t - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((t - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.random((batch_size, n_steps)) - 0.5)
    return series.astype(np.float32)


class DeepRnn(nn.Module):
    """Three stacked tanh RNNs (20, 20, 1 units) and a Linear(1, 1) head."""

    def __init__(self):
        super().__init__()
        sizes = [(1, 20), (20, 20), (20, 1)]
        self.layers = nn.ModuleList(nn.RNN(i, h, nonlinearity="tanh") for i, h in sizes)
        self.head = nn.Linear(1, 1)
        for rnn in self.layers:
            nn.init.xavier_uniform_(rnn.weight_ih_l0)
            nn.init.orthogonal_(rnn.weight_hh_l0)
            nn.init.zeros_(rnn.bias_ih_l0)
            nn.init.zeros_(rnn.bias_hh_l0)
        nn.init.xavier_uniform_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x):  # x: (T, B, 1), time-major
        for rnn in self.layers:
            x, _ = rnn(x)
        return self.head(x[-1])


def mse(model, x, y, batch=1000):
    with torch.inference_mode():
        se = sum(((model(x[:, i:i + batch]) - y[i:i + batch]) ** 2).sum().item()
                 for i in range(0, y.shape[0], batch))
    return se / y.shape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    start = time.perf_counter()
    series = generate_time_series(np.random.default_rng(args.seed), 10_000, 51)
    # time-major inputs (T, N, 1) and targets (N, 1)
    x = torch.from_numpy(series[:, :50, None].transpose(1, 0, 2).copy())
    y = torch.from_numpy(series[:, 50:51].copy())
    (x_train, y_train) = (x[:, :7000], y[:7000])
    (x_valid, y_valid) = (x[:, 7000:9000], y[7000:9000])
    (x_test, y_test) = (x[:, 9000:], y[9000:])

    model = DeepRnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    valid = float("nan")
    for epoch in range(args.epochs):
        order = torch.randperm(7000)
        train_se = 0.0
        for i in range(0, 7000, 32):
            idx = order[i:i + 32]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[:, idx]), y_train[idx])
            loss.backward()
            opt.step()
            train_se += loss.item() * len(idx)
        valid = mse(model, x_valid, y_valid)
        print(f"epoch {epoch + 1:2}/{args.epochs}  train {train_se / 7000:.5f}  valid {valid:.5f}",
              flush=True)
    test = mse(model, x_test, y_test)
    wall = time.perf_counter() - start
    print(f"PyTorch {torch.__version__}, {args.threads} threads: wall {wall:.1f} s, "
          f"validation MSE {valid:.5f}, test MSE {test:.5f}")


if __name__ == "__main__":
    main()
