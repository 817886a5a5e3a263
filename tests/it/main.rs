//! rnnlab's integration tests: one test binary (`cargo test --test it`),
//! one module per area, shared helpers in [`common`].
//!
//! - `backtest`: rolling-origin backtests, checked against the CSV;
//! - `board`: the sweep board (snapshots and tmux);
//! - `calendar`: calendar features from a timestamp column;
//! - `cli`: the binary end to end (errors, overrides, runs, prediction);
//! - `control`: the control socket;
//! - `dashboard`, `replay`: the dashboard's screens (insta snapshots in
//!   `snapshots/`), replay and attach;
//! - `encdec`: the encoder–decoder strategy (known-future inputs and lags
//!   per decoder step, predict, checkpoint names, resume);
//! - `experiments`: every shipped experiment validates;
//! - `future`: known-future columns reach the forecast steps, and `predict --future`;
//! - `intervals`: quantile and Gaussian forecasts end to end (metrics,
//!   predictions, `predict`'s quantile columns, replay, resume; a negative
//!   log-likelihood on linear axes in compare and the sweep board);
//! - `invalid_data`: bad data files, `predict`'s input, weights and scalers
//!   refused with located errors; random CSVs never panic a reader;
//! - `invalid_inputs`: hostile files, sizes, names, states and paths end
//!   at once with exit 2 (or 1) and a message naming the file or key;
//! - `multiseries`: several series in one file, one model, scores per series;
//! - `numerics`: the model against PyTorch fixtures;
//! - `resume`: bit-identical resume, also after kills;
//! - `retrain`: the retrained (expanding-window) backtest, each origin's run
//!   checked against the rows before it;
//! - `runs`: `rnnlab runs` and `compare`;
//! - `tmux`: the dashboard in a real terminal.
//!
//! Tests that need tmux are ignored, with the reason in the summary, when
//! the build found no tmux (see `build.rs`); `.ci/run` installs it.

mod common;

mod backtest;
mod board;
mod calendar;
mod cli;
mod control;
mod dashboard;
mod docs;
mod encdec;
mod experiments;
mod future;
mod fuzz;
mod intervals;
mod invalid_data;
mod invalid_inputs;
mod multiseries;
mod numerics;
mod output;
mod replay;
mod resume;
mod retrain;
mod runs;
mod signals;
mod slurm;
mod sweeps;
mod tensorboard;
mod tmux;
mod writers;
