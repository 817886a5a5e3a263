//! The model's rolling-origin backtest: its forecast at each origin of
//! [`crate::data::Backtest`], scored one origin at a time in original units
//! beside the baselines at the same origins.

use crate::data::Dataset;
use crate::data::metrics::Metrics;
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::format::BacktestSummary;

use super::eval::{Forecast, forecast_full};
use crate::data::interval;
use crate::run::format::Spread;

/// Origins per forward pass.
const CHUNK: usize = 256;

/// The backtest of `model` on `data`'s origins; `None` where the data has
/// none (not a forecast of one series, or no test part).
pub fn backtest(model: &Model, exp: &Experiment, data: &Dataset) -> Option<BacktestSummary> {
    let bt = data.backtest.as_ref()?;
    let scale = data.scale.as_ref()?;
    let (n, h) = (bt.split.len, data.horizon);
    let mut future = bt.split.future.clone();
    data.scaler.unscale_target(&mut future);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut scores = Vec::with_capacity(n);
    // A probabilistic model's interval metrics, per origin.
    let levels = exp.levels();
    let mut spread_scores: Vec<Vec<(String, f64)>> = Vec::new();
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(CHUNK) {
        bt.split.gather(chunk, &mut x, &mut y);
        let Forecast {
            point: mut pred,
            mut quantiles,
        } = forecast_full(model, exp, &x, chunk.len(), data.window);
        data.scaler.unscale_target(&mut pred);
        data.scaler.unscale_target(&mut quantiles);
        // Values forecast per origin: the horizon, or 1 (one-step).
        let k = pred.len() / chunk.len();
        let block = levels.len() * k;
        for (b, &i) in chunk.iter().enumerate() {
            let truth = &future[i * h..i * h + k];
            scores.push(Metrics::forecast(&pred[b * k..(b + 1) * k], truth, scale));
            if !quantiles.is_empty() {
                let q = &quantiles[b * block..(b + 1) * block];
                spread_scores.push(interval::metrics(&levels, q, truth, k));
            }
        }
    }
    let mut summary = BacktestSummary::of(
        bt.origins.count,
        bt.origins.step,
        bt.first_rows.first().copied().unwrap_or(0),
        &scores,
        &bt.baselines,
    );
    // Each interval metric's mean and spread over origins (every origin
    // forecasts as many values, so the mean coverage is the pooled one).
    for (at, name) in interval::metric_names(&levels).into_iter().enumerate() {
        let values: Vec<f64> = spread_scores.iter().map(|m| m[at].1).collect();
        if !values.is_empty() {
            summary.metrics.insert(name, Spread::of(&values));
        }
    }
    Some(summary)
}
