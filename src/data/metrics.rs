//! Regression metrics, always reported in the data's original units, and
//! for forecasts the scale-free ones forecasters compare series with:
//!
//! - MASE (Hyndman & Koehler 2006): the MAE divided by the in-sample MAE of
//!   the one-step seasonal-naive forecast on the training part,
//!   `mean |y_t − y_{t−m}|` with `m = data.season` (1, the naive forecast,
//!   without a season). Below 1: better than that naive forecast was in
//!   sample.
//! - RMSSE (the M5 competition's): the root of the MSE divided by the
//!   in-sample mean of `(y_t − y_{t−m})²`.
//! - sMAPE (the M4 competition's, in percent): the mean of
//!   `200 · |F − A| / (|A| + |F|)`, 0 where both are 0; between 0 and 200.

use serde::{Deserialize, Serialize};

/// Mean squared error, its root, and mean absolute error; for forecasts
/// also the scale-free metrics (absent in summaries written before them).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub mse: f64,
    pub rmse: f64,
    pub mae: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mase: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmsse: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smape: Option<f64>,
}

/// The in-sample errors of the seasonal-naive forecast that MASE and RMSSE
/// divide by, from the training part's target series in original units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// The season `m` (1 when the data has none).
    pub season: usize,
    /// `mean |y_t − y_{t−m}|`.
    pub mae: f64,
    /// `mean (y_t − y_{t−m})²`.
    pub mse: f64,
}

/// Why the scale cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScaleError {
    #[error(
        "the training part has no value {season} step(s) after another, so MASE and RMSSE have no scale"
    )]
    TooShort { season: usize },
    #[error(
        "the training part's target never changes over {season} step(s), so MASE and RMSSE (which divide by that change) are undefined"
    )]
    Constant { season: usize },
}

impl Scale {
    /// The scale of the target series `series` (several series are pooled:
    /// the mean over every pair `(y_t, y_{t−m})` within a series).
    pub fn of(series: &[&[f32]], season: usize) -> Result<Scale, ScaleError> {
        let m = season.max(1);
        let (mut abs, mut sq, mut n) = (0.0f64, 0.0f64, 0usize);
        for s in series {
            for t in m..s.len() {
                let d = s[t] as f64 - s[t - m] as f64;
                abs += d.abs();
                sq += d * d;
                n += 1;
            }
        }
        if n == 0 {
            return Err(ScaleError::TooShort { season: m });
        }
        if abs == 0.0 {
            return Err(ScaleError::Constant { season: m });
        }
        Ok(Scale {
            season: m,
            mae: abs / n as f64,
            mse: sq / n as f64,
        })
    }
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
            mase: None,
            rmsse: None,
            smape: None,
        }
    }

    /// [`Metrics::regression`] with the scale-free metrics of a forecast.
    pub fn forecast(pred: &[f32], truth: &[f32], scale: &Scale) -> Metrics {
        let mut m = Metrics::regression(pred, truth);
        let n = pred.len().max(1) as f64;
        let smape: f64 = pred
            .iter()
            .zip(truth)
            .map(|(&f, &a)| {
                let (f, a) = (f as f64, a as f64);
                let denominator = f.abs() + a.abs();
                if denominator == 0.0 {
                    0.0
                } else {
                    200.0 * (f - a).abs() / denominator
                }
            })
            .sum();
        m.mase = Some(m.mae / scale.mae);
        m.rmsse = Some((m.mse / scale.mse).sqrt());
        m.smape = Some(smape / n);
        m
    }

    /// Every metric that was computed, by name, in a fixed order.
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![("mse", self.mse), ("rmse", self.rmse), ("mae", self.mae)];
        for (name, v) in [
            ("mase", self.mase),
            ("rmsse", self.rmsse),
            ("smape", self.smape),
        ] {
            if let Some(v) = v {
                out.push((name, v));
            }
        }
        out
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
        assert_eq!((m.mase, m.rmsse, m.smape), (None, None, None));
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn scale_free_metrics_by_hand() {
        // Training series 1, 3, 2, 4: naive differences 2, 1, 2 (mean 5/3,
        // squares 9/3 = 3); with season 2: 1, 1 (mean 1, squares 1).
        let train: &[f32] = &[1.0, 3.0, 2.0, 4.0];
        let naive = Scale::of(&[train], 0).unwrap();
        assert_eq!(naive.season, 1);
        assert!(close(naive.mae, 5.0 / 3.0) && close(naive.mse, 3.0));
        let seasonal = Scale::of(&[train], 2).unwrap();
        assert!(close(seasonal.mae, 1.0) && close(seasonal.mse, 1.0));
        // Forecast 2, 2 for truth 1, 4: errors 1, 2 → MAE 1.5, MSE 2.5.
        let m = Metrics::forecast(&[2.0, 2.0], &[1.0, 4.0], &naive);
        assert!(close(m.mase.unwrap(), 1.5 / (5.0 / 3.0)));
        assert!(close(m.rmsse.unwrap(), (2.5f64 / 3.0).sqrt()));
        // sMAPE: 200·1/3 and 200·2/6, mean 200/3.
        assert!(close(m.smape.unwrap(), 200.0 / 3.0));
        let names: Vec<&str> = m.named().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["mse", "rmse", "mae", "mase", "rmsse", "smape"]);
    }

    #[test]
    fn smape_is_defined_at_zeros_and_bounded() {
        let scale = Scale::of(&[&[0.0, 1.0]], 1).unwrap();
        // Both zero: 0; one zero: the maximum, 200; sign flip: 200.
        let m = Metrics::forecast(&[0.0, 0.0, 1.0], &[0.0, 5.0, -1.0], &scale);
        assert!(close(m.smape.unwrap(), 400.0 / 3.0));
    }

    #[test]
    fn series_are_pooled_and_degenerate_ones_refused() {
        // Pairs within each series only: |2−1| and |5−5|, |9−5|: mean 5/3.
        let pooled = Scale::of(&[&[1.0, 2.0], &[5.0, 5.0, 9.0]], 1).unwrap();
        assert!(close(pooled.mae, 5.0 / 3.0));
        assert_eq!(
            Scale::of(&[&[3.0, 3.0, 3.0]], 1),
            Err(ScaleError::Constant { season: 1 })
        );
        // A season longer than the data: no pair at all.
        assert_eq!(
            Scale::of(&[&[1.0, 2.0, 3.0]], 24),
            Err(ScaleError::TooShort { season: 24 })
        );
        // A series with a constant season is refused only if every pair is equal.
        assert!(Scale::of(&[&[1.0, 2.0, 1.0, 2.0]], 2).is_err());
        assert!(Scale::of(&[&[1.0, 2.0, 1.0, 3.0]], 2).is_ok());
    }
}
