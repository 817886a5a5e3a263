//! The names of the run directory's files and columns: the contract between
//! the writer ([`super::writer`]) and the reader ([`super::read`]). See
//! `docs/run-directory.md`; bump [`FORMAT_VERSION`] on any incompatible change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::Baseline;
use crate::events::Status;

/// The version of the run-directory format this build writes.
pub const FORMAT_VERSION: u32 = 1;

/// Columns of `metrics.csv` before the per-group gradient norms.
pub const METRICS_HEAD: [&str; 7] = [
    "step",
    "epoch",
    "wall_s",
    "loss",
    "grad_norm",
    "lr",
    "samples_per_s",
];
/// Columns of `eval.csv` before the task metrics.
pub const EVAL_HEAD: [&str; 4] = ["step", "epoch", "wall_s", "valid_loss"];
/// Prefix of `flow.csv`'s per-gate gradient-norm columns: `gate.layers.0.f`.
pub const FLOW_GATE: &str = "gate.";
/// Prefix of `flow.csv`'s gradient-through-time columns: `dh.layers.0.t12`.
pub const FLOW_TIME: &str = "dh.";
/// Columns of `events.csv`.
pub const EVENTS_HEAD: [&str; 4] = ["step", "wall_s", "kind", "detail"];

/// The run's `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub name: String,
    pub status: Status,
    pub started: String,
    pub model: String,
    pub parameters: usize,
    pub steps: u64,
    pub epochs: usize,
    pub wall_s: f64,
    pub best_valid_loss: Option<f64>,
    pub best_step: Option<u64>,
    /// Validation metrics at the best evaluation, original units.
    pub best_valid: BTreeMap<String, f64>,
    /// Test metrics of the final model, original units (empty without a test part).
    pub test: BTreeMap<String, f64>,
    pub baselines: Vec<Baseline>,
    pub message: Option<String>,
}
