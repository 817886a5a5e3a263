//! The model's rolling-origin backtest: its forecast at each origin of
//! [`crate::data::Backtest`], scored one origin at a time in original units
//! beside the baselines at the same origins.

use crate::data::Dataset;
use crate::data::metrics::Metrics;
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::format::BacktestSummary;

use super::eval::forecast;

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
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(CHUNK) {
        bt.split.gather(chunk, &mut x, &mut y);
        let mut pred = forecast(model, exp, &x, chunk.len(), data.window);
        data.scaler.unscale_target(&mut pred);
        // Values forecast per origin: the horizon, or 1 (one-step).
        let k = pred.len() / chunk.len();
        for (b, &i) in chunk.iter().enumerate() {
            let truth = &future[i * h..i * h + k];
            scores.push(Metrics::forecast(&pred[b * k..(b + 1) * k], truth, scale));
        }
    }
    Some(BacktestSummary::of(
        bt.origins.count,
        bt.origins.step,
        bt.first_rows.first().copied().unwrap_or(0),
        &scores,
        &bt.baselines,
    ))
}
