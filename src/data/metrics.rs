//! Regression metrics, always reported in the data's original units.

use serde::{Deserialize, Serialize};

/// Mean squared error, its root, and mean absolute error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub mse: f64,
    pub rmse: f64,
    pub mae: f64,
}

impl Metrics {
    /// Metrics of `pred` against `truth` (same length, at least one value).
    pub fn regression(pred: &[f32], truth: &[f32]) -> Metrics {
        assert_eq!(
            pred.len(),
            truth.len(),
            "prediction and truth lengths differ"
        );
        let n = pred.len().max(1) as f64;
        let (mut se, mut ae) = (0.0f64, 0.0f64);
        for (p, t) in pred.iter().zip(truth) {
            let d = (*p as f64) - (*t as f64);
            se += d * d;
            ae += d.abs();
        }
        let mse = se / n;
        Metrics {
            mse,
            rmse: mse.sqrt(),
            mae: ae / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let m = Metrics::regression(&[1.0, 2.0, 4.0], &[1.0, 0.0, 1.0]);
        assert!((m.mse - 13.0 / 3.0).abs() < 1e-12);
        assert!((m.rmse - (13.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.mae - 5.0 / 3.0).abs() < 1e-12);
    }
}
