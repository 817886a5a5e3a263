//! The run directory: what a run records on disk, written as events arrive.
//!
//! ```text
//! runs/<name>-<YYYYmmdd-HHMMSS>/
//!   experiment.toml      resolved experiment, overrides applied
//!   info.json            what the dashboard needs to know about the run (model, groups, totals)
//!   scaler.json          normalisation fitted on the training part
//!   metrics.csv          one row per step
//!   eval.csv             one row per evaluation
//!   events.csv           start, pause, resume, tune, checkpoint, stop, finish, diverged
//!   predictions.jsonl    per evaluation: a few fixed validation examples, truth and prediction
//!   flow.csv             every `train.flow_every` steps: per-gate gradient norms (`gate.*`)
//!                        and ‖∂L/∂h_t‖ per layer and time step (`dh.<layer>.t<k>`, empty
//!                        past the end of a sequence shorter than the window)
//!   summary.json         status, best valid loss, test metrics, baselines
//!   checkpoints/step-<N>.safetensors
//! ```
//!
//! One module per job: [`format`] (file and column names), [`writer`]
//! ([`RunDir`]), [`atomic`] (crash-safe replacement), [`checkpoints`],
//! [`lock`] (one writer per run), [`control`] (the socket `rnnlab attach` steers through) and
//! [`read`] (the one reader every command uses).

pub mod atomic;
pub mod checkpoints;
pub mod control;
pub mod error;
pub mod format;
pub mod lock;
pub mod read;
pub mod tensorboard;
pub mod writer;

pub use checkpoints::{checkpoints, named, state_path};
pub use error::RunError;
pub use format::*;
pub use lock::RunLock;
pub use writer::RunDir;
