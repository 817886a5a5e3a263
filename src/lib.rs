// ExperimentError is rich by design and built only on failure.
#![allow(clippy::result_large_err)]
// `unsafe` lives in `kernels` only (which allows it), each block with its reason.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
//! rnnlab: train deep stacked recurrent networks (simple RNN, LSTM, GRU) from
//! experiment files, on dfdx, and record every run to a directory.
//!
//! Data flows one way (see `ARCHITECTURE.md` at the repository root):
//!
//! ```text
//! experiment → data → model → train → events → run directory / dashboard / headless log
//!                       │                         ▲
//!                    kernels            run::read (replay, attach, compare, runs)
//! ```
//!
//! - Pipeline stages: [`experiment`], [`data`], [`model`] (on [`kernels`]),
//!   [`train`], [`events`], [`run`].
//! - Front ends: [`frontend`] (dashboard, headless log, replay and attach, compare).
//! - Commands: [`cli`], the only module that uses `anyhow` and picks exit codes.

pub mod error;
pub mod fmt;
pub mod fsio;

pub mod data;
pub mod events;
pub mod experiment;
pub mod kernels;
pub mod model;
pub mod run;
pub mod sweep;
pub mod train;

pub mod frontend;

pub mod cli;
