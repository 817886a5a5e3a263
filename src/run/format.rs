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
    /// The rolling-origin backtest of the final model on the test part
    /// (forecasts of a series; absent otherwise and in older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest: Option<BacktestSummary>,
    /// The expanding-window backtest (`rnnlab backtest --retrain`,
    /// `evaluate.retrain`): at each origin a model retrained on the rows
    /// before it; the same origins, metrics and baselines as `backtest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest_retrained: Option<BacktestSummary>,
    /// Several series (`data.series_column`): the final model's test
    /// metrics per series beside that series' baselines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesScore>,
    /// `task.calibration = "conformal"`: the intervals' offsets, fitted on
    /// the validation part for the final weights and applied to the test
    /// metrics, the backtest and `predict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::data::conformal::Conformal>,
}

/// One series' test metrics (original units; MASE and RMSSE scaled by its
/// own training part) and its baselines' on the same windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesScore {
    pub name: String,
    /// Test windows of the series.
    pub windows: usize,
    pub test: BTreeMap<String, f64>,
    pub baselines: BTreeMap<String, BTreeMap<String, f64>>,
}

/// Mean and standard deviation (n − 1; 0 for one value) over origins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub mean: f64,
    pub sd: f64,
}

impl Spread {
    /// `mean ± sd`, each in [`crate::fmt::compact`] form.
    pub fn compact(&self) -> String {
        format!(
            "{} ± {}",
            crate::fmt::compact(self.mean),
            crate::fmt::compact(self.sd)
        )
    }

    /// The spread of `values` (at least one).
    pub fn of(values: &[f64]) -> Spread {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        let sd = if values.len() > 1 {
            (ss / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        Spread { mean, sd }
    }
}

/// The backtest in `summary.json`: every metric of the model and of each
/// baseline over the same origins, in original units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestSummary {
    /// Which model forecasts at each origin.
    #[serde(default)]
    pub protocol: Protocol,
    pub origins: usize,
    /// Steps between origins.
    pub step: usize,
    /// The row of the test part the first origin's forecast starts at.
    pub first_row: usize,
    pub metrics: BTreeMap<String, Spread>,
    pub baselines: BTreeMap<String, BTreeMap<String, Spread>>,
    /// Retrained: the sweep directory of the runs, one per origin
    /// (relative to the run directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs: Option<String>,
}

/// How a backtest's forecasts were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The one trained model forecasts from every origin.
    #[default]
    Fixed,
    /// At each origin, a model trained only on the rows before it
    /// (expanding window).
    Retrained,
}

impl BacktestSummary {
    /// Summarises per-origin metrics: the model's and each baseline's.
    pub fn of(
        origins: usize,
        step: usize,
        first_row: usize,
        model: &[crate::data::metrics::Metrics],
        baselines: &[(String, Vec<crate::data::metrics::Metrics>)],
    ) -> BacktestSummary {
        let spreads = |ms: &[crate::data::metrics::Metrics]| -> BTreeMap<String, Spread> {
            let names: Vec<&str> = ms
                .first()
                .map(|m| m.named().into_iter().map(|(n, _)| n).collect())
                .unwrap_or_default();
            names
                .into_iter()
                .enumerate()
                .map(|(i, name)| {
                    let values: Vec<f64> = ms.iter().map(|m| m.named()[i].1).collect();
                    (name.to_string(), Spread::of(&values))
                })
                .collect()
        };
        BacktestSummary {
            protocol: Protocol::Fixed,
            origins,
            step,
            first_row,
            metrics: spreads(model),
            baselines: baselines
                .iter()
                .map(|(name, ms)| (name.clone(), spreads(ms)))
                .collect(),
            runs: None,
        }
    }

    /// The baseline with the lowest mean of `metric`, and that mean.
    pub fn best_baseline(&self, metric: &str) -> Option<(&str, Spread)> {
        self.baselines
            .iter()
            .filter_map(|(name, m)| m.get(metric).map(|s| (name.as_str(), *s)))
            .min_by(|a, b| a.1.mean.total_cmp(&b.1.mean))
    }
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn spread_by_hand() {
        let s = Spread::of(&[1.0, 2.0, 3.0, 6.0]);
        assert_eq!(s.mean, 3.0);
        // Squares 4, 1, 0, 9 over n − 1 = 3.
        assert!((s.sd - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Spread::of(&[5.0]), Spread { mean: 5.0, sd: 0.0 });
    }
}
