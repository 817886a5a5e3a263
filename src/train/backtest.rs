//! The model's rolling-origin backtest: its forecast at each origin of
//! [`crate::data::Backtest`], scored one origin at a time in original units
//! beside the baselines at the same origins — by the one trained model
//! ([`backtest`], the fixed-model protocol) or by a model retrained on the
//! rows before each origin ([`backtest_retrained`], the expanding window).

use crate::data::metrics::Metrics;
use crate::data::{Dataset, Scaler};
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::format::{BacktestSummary, Protocol};

use super::eval::{Forecast, forecast_full};
use crate::data::interval;
use crate::run::format::Spread;

/// Origins per forward pass.
const CHUNK: usize = 256;

/// The backtest of `model` on `data`'s origins; `None` where the data has
/// none (not a forecast of one series, or no test part).
pub fn backtest(model: &Model, exp: &Experiment, data: &Dataset) -> Option<BacktestSummary> {
    let bt = data.backtest.as_ref()?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..bt.split.len).collect();
    let forecasts = indices.chunks(CHUNK).map(|chunk| {
        bt.split.gather(chunk, &mut x, &mut y);
        let mut f = forecast_full(model, exp, &x, chunk.len(), data.window);
        data.scaler.unscale_target(&mut f.point);
        data.scaler.unscale_target(&mut f.quantiles);
        (chunk.to_vec(), f)
    });
    score(exp, data, forecasts.collect())
}

/// A model retrained for one origin: its experiment (cut at the origin),
/// its weights and the scaler fitted on its own training part.
pub struct Retrained {
    pub exp: Experiment,
    pub model: Model,
    pub scaler: Scaler,
}

/// The expanding-window backtest: origin `k` of `data` (the whole series'
/// experiment `exp`) forecast by `models[k]`, from the same window as the
/// fixed-model backtest scaled with that model's own scaler, scored on the
/// same truth with the same MASE scale and baselines. `None` where the
/// data has no backtest or the models are not one per origin.
pub fn backtest_retrained(
    exp: &Experiment,
    data: &Dataset,
    models: &[Retrained],
) -> Option<BacktestSummary> {
    let bt = data.backtest.as_ref()?;
    if models.len() != bt.raw.len {
        return None;
    }
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut forecasts = Vec::with_capacity(models.len());
    for (k, r) in models.iter().enumerate() {
        let mut one = bt.raw.samples(k..k + 1);
        r.scaler.scale_inputs(&mut one.inputs);
        one.gather(&[0], &mut x, &mut y);
        let mut f = forecast_full(&r.model, &r.exp, &x, 1, r.exp.data.window);
        r.scaler.unscale_target(&mut f.point);
        r.scaler.unscale_target(&mut f.quantiles);
        forecasts.push((vec![k], f));
    }
    let mut summary = score(exp, data, forecasts)?;
    summary.protocol = Protocol::Retrained;
    Some(summary)
}

/// Scores forecasts in original units, each for the origins it lists, as
/// the backtest's summary.
fn score(
    exp: &Experiment,
    data: &Dataset,
    forecasts: Vec<(Vec<usize>, Forecast)>,
) -> Option<BacktestSummary> {
    let bt = data.backtest.as_ref()?;
    let scale = data.scale.as_ref()?;
    let (n, h) = (bt.split.len, data.horizon);
    let mut future = bt.split.future.clone();
    data.scaler.unscale_target(&mut future);
    let mut scores = Vec::with_capacity(n);
    // A probabilistic model's interval metrics, per origin.
    let levels = exp.levels();
    let mut spread_scores: Vec<Vec<(String, f64)>> = Vec::new();
    for (chunk, f) in forecasts {
        let (pred, quantiles) = (f.point, f.quantiles);
        // Values forecast per origin: the horizon, or 1 (one-step).
        let k = pred.len() / chunk.len().max(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// With the run's own model and scaler at every origin, the retrained
    /// backtest's path (one origin at a time, the raw window scaled by the
    /// origin's scaler) scores what the fixed-model backtest scores; with
    /// a model whose head predicts 0 (the mean) under another scaler, it
    /// follows that scaler.
    #[test]
    fn the_retrained_path_scores_the_fixed_model_as_the_fixed_backtest() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("experiments/series/airline-relu-rnn.toml");
        let exp = Experiment::load(&file, &[]).unwrap();
        let data = crate::data::load(&exp).unwrap();
        let model = Model::for_experiment(&exp, None);
        let fixed = backtest(&model, &exp, &data).unwrap();
        let n = fixed.origins;
        let same: Vec<Retrained> = (0..n)
            .map(|_| Retrained {
                exp: exp.clone(),
                model: model.clone(),
                scaler: data.scaler.clone(),
            })
            .collect();
        let retrained = backtest_retrained(&exp, &data, &same).unwrap();
        assert_eq!(retrained.protocol, Protocol::Retrained);
        assert_eq!(fixed.baselines, retrained.baselines);
        for (k, s) in &fixed.metrics {
            let r = retrained.metrics[k];
            assert!(
                (s.mean - r.mean).abs() <= 1e-5 * s.mean.abs().max(1.0),
                "{k}: {s:?} vs {r:?}"
            );
        }
        // A zero head forecasts the scaler's offset (log passengers): the
        // point forecast is exp(offset) at every origin, whatever the window.
        let mut zero = model.clone();
        for p in zero
            .params
            .iter_mut()
            .filter(|p| p.name.starts_with("head."))
        {
            p.data.fill(0.0);
        }
        let mut shifted = data.scaler.clone();
        shifted.target_offset = 6.0;
        let at = |scaler: &Scaler| -> Vec<Retrained> {
            (0..n)
                .map(|_| Retrained {
                    exp: exp.clone(),
                    model: zero.clone(),
                    scaler: scaler.clone(),
                })
                .collect()
        };
        let bt = data.backtest.as_ref().unwrap();
        let mut truth = bt.split.future.clone();
        data.scaler.unscale_target(&mut truth);
        let mae = truth
            .iter()
            .map(|t| (t - 6f32.exp()).abs() as f64)
            .sum::<f64>()
            / n as f64;
        let got = backtest_retrained(&exp, &data, &at(&shifted)).unwrap();
        let m = got.metrics["mae"].mean;
        assert!((m - mae).abs() <= 1e-3 * mae, "{m} vs {mae}");
        // One model short of the origins: no backtest.
        assert!(backtest_retrained(&exp, &data, &at(&shifted)[1..]).is_none());
    }
}
