// ExperimentError is rich by design and built only on failure.
#![allow(clippy::result_large_err)]
//! rnnlab: train deep stacked recurrent networks (simple RNN, LSTM, GRU) from
//! experiment files, on dfdx, and record every run to a directory.
//!
//! Data flows one way: [`experiment`] → [`data`] → [`model`] → [`train`] →
//! [`events`] → sinks ([`run`] directory, headless log).

pub mod bench;
pub mod cli;
pub mod compare;
pub mod control;
pub mod dashboard;
pub mod data;
pub mod events;
pub mod experiment;
pub mod headless;
pub mod metrics;
pub mod model;
pub mod replay;
pub mod run;
pub mod runs;
pub mod table;
pub mod train;
