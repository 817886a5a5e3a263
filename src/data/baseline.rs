//! Reference scores that a trained model should beat, in original units.

use serde::{Deserialize, Serialize};

use super::window::Cut;
use crate::data::metrics::{Metrics, Scale};

/// A simple predictor's scores on the validation and test parts, in original units.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Baseline {
    /// `naive`, `drift`, `seasonal_naive`, `seasonal_drift` or `mean`.
    pub name: String,
    /// Scores on the validation part.
    pub valid: Metrics,
    /// Scores on the test part; `None` when it is empty.
    pub test: Option<Metrics>,
}

/// Repeats the last observed target value for every step of the horizon.
pub(super) fn naive(valid: &Cut, test: &Cut, horizon: usize, scale: &Scale) -> Baseline {
    forecast("naive", valid, test, horizon, scale, |history, _| {
        history.last().copied().unwrap_or(0.0)
    })
}

/// The naive forecast plus the window's average change per step (the
/// random walk with drift: the line through the window's first and last
/// values, extended).
pub(super) fn drift(valid: &Cut, test: &Cut, horizon: usize, scale: &Scale) -> Baseline {
    forecast("drift", valid, test, horizon, scale, drifted)
}

/// The drift forecast of step `k` after `history`.
pub(super) fn drifted(history: &[f32], k: usize) -> f32 {
    match history {
        [first, .., last] => {
            let slope = (*last as f64 - *first as f64) / (history.len() - 1) as f64;
            (*last as f64 + (k + 1) as f64 * slope) as f32
        }
        [only] => *only,
        [] => 0.0,
    }
}

/// The seasonal-naive forecast plus the window's average change per season
/// (the seasonal random walk with drift); needs a window longer than the
/// season.
pub(super) fn seasonal_drift(
    valid: &Cut,
    test: &Cut,
    horizon: usize,
    season: usize,
    scale: &Scale,
) -> Baseline {
    forecast(
        "seasonal_drift",
        valid,
        test,
        horizon,
        scale,
        |history, k| seasonal_drifted(history, k, season),
    )
}

/// The seasonal drift forecast of step `k` after `history` (longer than `season`).
pub(super) fn seasonal_drifted(history: &[f32], k: usize, season: usize) -> f32 {
    let n = history.len();
    // Mean of y_t − y_{t−m} over the window: telescopes to the last season's
    // sum less the first season's, over the number of differences.
    let last: f64 = history[n - season..].iter().map(|&v| v as f64).sum();
    let first: f64 = history[..season].iter().map(|&v| v as f64).sum();
    let per_season = (last - first) / (n - season) as f64;
    let seasons_back = (k / season + 1) as f64;
    (seasonal(history, k, season) as f64 + seasons_back * per_season) as f32
}

/// Predicts each step by the value one `season` earlier (needs window ≥ season).
pub(super) fn seasonal_naive(
    valid: &Cut,
    test: &Cut,
    horizon: usize,
    season: usize,
    scale: &Scale,
) -> Baseline {
    forecast(
        "seasonal_naive",
        valid,
        test,
        horizon,
        scale,
        |history, k| seasonal(history, k, season),
    )
}

/// The seasonal-naive forecast of step `k` after `history` (which holds at
/// least a season): the value a whole number of seasons earlier.
pub(super) fn seasonal(history: &[f32], k: usize, season: usize) -> f32 {
    let back = season * (k / season + 1);
    history[history.len() + k - back]
}

/// Predicts the mean of the training targets.
pub(super) fn mean(train: &Cut, valid: &Cut, test: &Cut) -> Baseline {
    let targets = &train.split.targets;
    let mean =
        (targets.iter().map(|&v| v as f64).sum::<f64>() / targets.len().max(1) as f64) as f32;
    let score = |cut: &Cut| {
        let truth = &cut.split.targets;
        Metrics::regression(&vec![mean; truth.len()], truth)
    };
    Baseline {
        name: "mean".into(),
        valid: score(valid),
        test: (test.split.len > 0).then(|| score(test)),
    }
}

/// Scores `predict(history, k)` (the forecast of step k after the window) against each sample's future.
fn forecast(
    name: &str,
    valid: &Cut,
    test: &Cut,
    horizon: usize,
    scale: &Scale,
    predict: impl Fn(&[f32], usize) -> f32,
) -> Baseline {
    let score = |cut: &Cut| {
        let w = cut.split.window;
        let pred: Vec<f32> = cut
            .history
            .chunks(w.max(1))
            .flat_map(|history| {
                (0..horizon)
                    .map(|k| predict(history, k))
                    .collect::<Vec<_>>()
            })
            .collect();
        Metrics::forecast(&pred, &cut.split.future, scale)
    };
    Baseline {
        name: name.into(),
        valid: score(valid),
        test: (test.split.len > 0).then(|| score(test)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::window::{Sequence, Shape, Truth, cut};
    use crate::experiment::Strategy;

    fn cut_series(v: Vec<f32>, window: usize, horizon: usize) -> Cut {
        let seq = Sequence {
            inputs: v.clone(),
            truth: Truth::Series(v),
        };
        let shape = Shape {
            window,
            horizon,
            features: 1,
            outputs: horizon,
            stride: Some(1),
            strategy: Strategy::Vector,
        };
        cut(&[seq], &shape)
    }

    #[test]
    fn naive_and_seasonal_naive() {
        // period-2 series: seasonal naive is exact, naive is off by 1 at every other step
        let c = cut_series(vec![0., 1., 0., 1., 0., 1.], 2, 3);
        let empty = cut_series(vec![], 2, 3);
        let scale = Scale::of(&[&[0.0, 1.0, 0.0]], 1).unwrap();
        let s = seasonal_naive(&c, &empty, 3, 2, &scale);
        assert_eq!((s.valid.mse, s.test.is_none()), (0.0, true));
        assert_eq!((s.valid.mase, s.valid.smape), (Some(0.0), Some(0.0)));
        let n = naive(&c, &c, 3, &scale);
        assert!((n.valid.mse - 2.0 / 3.0).abs() < 1e-12);
        // MAE 2/3 over an in-sample naive MAE of 1.
        assert!((n.valid.mase.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert!(n.test.is_some());
    }

    /// The drifts by hand: a line is continued exactly, and a season that
    /// grows by the same amount every season too.
    #[test]
    fn drift_and_seasonal_drift_continue_the_trend() {
        let line = [1.0, 3.0, 5.0, 7.0];
        assert_eq!(drifted(&line, 0), 9.0);
        assert_eq!(drifted(&line, 2), 13.0);
        assert_eq!(drifted(&[4.0], 3), 4.0);
        // Season 2, each season 10 higher: 0 5 | 10 15 | 20 25.
        let seasons = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0];
        assert_eq!(seasonal_drifted(&seasons, 0, 2), 30.0);
        assert_eq!(seasonal_drifted(&seasons, 1, 2), 35.0);
        assert_eq!(seasonal_drifted(&seasons, 2, 2), 40.0);
        // Hyndman's drift: last + h·(last − first)/(T − 1), here 2 + 1·(2 − 8)/3.
        let down = [8.0, 4.0, 6.0, 2.0];
        assert_eq!(drifted(&down, 0), 0.0);
    }

    #[test]
    fn mean_of_training_targets() {
        let labels = |ls: &[f32]| {
            let seqs: Vec<Sequence> = ls
                .iter()
                .map(|&l| Sequence {
                    inputs: vec![0.0],
                    truth: Truth::Label(l),
                })
                .collect();
            let shape = Shape {
                window: 1,
                horizon: 1,
                features: 1,
                outputs: 1,
                stride: None,
                strategy: Strategy::OneStep,
            };
            cut(&seqs, &shape)
        };
        let b = mean(&labels(&[1.0, 3.0]), &labels(&[2.0, 4.0]), &labels(&[]));
        assert_eq!((b.valid.mse, b.valid.mae), (2.0, 1.0));
    }
}
