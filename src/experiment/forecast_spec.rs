//! The schema's forecasting settings: the rolling-origin backtest
//! (`[evaluate]`), calendar features (`data.calendar`), residual targets
//! (`task.residual`) and prediction intervals (`task.quantiles`,
//! `task.distribution`).

use serde::{Deserialize, Serialize};

/// The rolling-origin backtest run on the test part at the end of training
/// (forecasts of a series read from a CSV file): forecasts from `origins`
/// origins `step` steps apart, the last one as late as the test part
/// allows, each from the window of data before it; by the trained model
/// (the fixed-model protocol) and, with `retrain`, by a model retrained on
/// the data before each origin (the expanding-window protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSpec {
    /// Forecast origins; 0 = 20 (or as many as fit with `step`; every
    /// window position when the test part has fewer).
    #[serde(default)]
    pub origins: usize,
    /// Steps between consecutive origins; 0 = spread the origins evenly
    /// over the whole test part.
    #[serde(default)]
    pub step: usize,
    /// Also run the expanding-window protocol: at each origin a fresh model
    /// of the same experiment, trained (with its own train / valid split in
    /// `data.split`'s proportions) only on the rows before that origin,
    /// forecasts from it. One training run per origin, run as the trials of
    /// a sweep in the run directory; reported beside the fixed-model
    /// backtest as `backtest_retrained` in `summary.json`.
    #[serde(default)]
    pub retrain: bool,
}

/// A calendar feature: where a timestamp lies in a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calendar {
    /// The time of day (period: a day).
    HourOfDay,
    /// The day of the week, Monday first (period: a week).
    DayOfWeek,
    /// The day of the year (period: 365 or 366 days).
    DayOfYear,
    /// The month, with the day within it (period: a year).
    Month,
}

impl Calendar {
    /// The name in experiment files and column names.
    pub fn name(self) -> &'static str {
        match self {
            Calendar::HourOfDay => "hour_of_day",
            Calendar::DayOfWeek => "day_of_week",
            Calendar::DayOfYear => "day_of_year",
            Calendar::Month => "month",
        }
    }
}

/// What a forecasting model's outputs are relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Residual {
    /// The values themselves.
    #[default]
    None,
    /// The difference from the naive forecast (the window's last value).
    Naive,
    /// The difference from the seasonal-naive forecast (the value one
    /// `data.season` earlier, which the window holds).
    SeasonalNaive,
}

impl Residual {
    /// For a window of `window` steps, the step whose target value is the
    /// baseline's forecast of step `k` (0-based) after the window; `None`
    /// for [`Residual::None`].
    pub fn base_step(self, window: usize, season: usize, k: usize) -> Option<usize> {
        match self {
            Residual::None => None,
            Residual::Naive => Some(window - 1),
            Residual::SeasonalNaive => Some(window + k - season * (k / season + 1)),
        }
    }
}

/// How a probabilistic forecast's intervals are calibrated after training
/// (`task.calibration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calibration {
    /// The model's quantiles as they are.
    #[default]
    None,
    /// Conformalized quantile regression on the validation part (see
    /// `data/conformal.rs`).
    Conformal,
}

/// A parametric forecast distribution (`task.distribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// A normal distribution per forecast value: the head gives the mean
    /// and a raw scale, made positive by softplus; trained by the negative
    /// log-likelihood.
    Gaussian,
}

/// The quantile levels a Gaussian forecast reports: the median and the
/// central 80 % interval.
pub const GAUSSIAN_LEVELS: [f64; 3] = [0.1, 0.5, 0.9];

/// The name of quantile level `q` in column and metric names: `q0.1`,
/// `q0.5`, `q0.975` (the shortest decimal that reads back as `q`).
pub fn level_name(q: f64) -> String {
    format!("q{q}")
}
