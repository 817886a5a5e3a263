//! Evaluation of a model on a split: the loss in training units and the task
//! metrics in the data's original units.

use crate::data::metrics::Metrics;
use crate::data::{Dataset, Split};
use crate::events::Example;
use crate::experiment::{Experiment, Strategy, TaskKind};
use crate::model::Model;

/// Samples per forward pass during evaluation.
const EVAL_BATCH: usize = 256;

/// The result of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean squared error in scaled units (the training objective).
    pub loss: f64,
    /// Task metrics in original units, in a fixed order.
    pub metrics: Vec<(String, f64)>,
}

/// Evaluates `model` on `split` (which must hold at least one sample).
pub fn evaluate(model: &Model, exp: &Experiment, data: &Dataset, split: &Split) -> Evaluation {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut preds = Vec::with_capacity(split.targets.len());
    let mut truths = Vec::with_capacity(split.targets.len());
    // With a residual target: the loss is on the residuals, the metrics on
    // the forecasts (the baseline's forecast added back to both).
    let mut loss_sum = 0.0f64;
    let indices: Vec<usize> = (0..split.len).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        split.gather(chunk, &mut x, &mut y);
        let mut p = model.predict(&x, chunk.len(), data.window);
        loss_sum += Metrics::regression(&p, &y).mse * p.len() as f64;
        add_base(exp, &x, chunk.len(), data.window, &mut p);
        add_base(exp, &x, chunk.len(), data.window, &mut y);
        preds.extend(p);
        truths.extend_from_slice(&y);
    }
    let loss = loss_sum / preds.len().max(1) as f64;
    let strategy = exp.task.strategy;
    if exp.task.kind == TaskKind::Regress {
        return Evaluation {
            loss,
            metrics: named(Metrics::regression(&preds, &truths), ""),
        };
    }
    let scaler = &data.scaler;
    let score = |pred: &[f32], truth: &[f32]| match &data.scale {
        Some(scale) => Metrics::forecast(pred, truth, scale),
        None => Metrics::regression(pred, truth),
    };
    let mut metrics = match strategy {
        Strategy::Iterative => {
            let mut rolled = rollout(model, data, split);
            let mut future = split.future.clone();
            scaler.unscale_target(&mut rolled);
            scaler.unscale_target(&mut future);
            named(score(&rolled, &future), "")
        }
        _ => {
            scaler.unscale_target(&mut preds);
            scaler.unscale_target(&mut truths);
            named(score(&preds, &truths), "")
        }
    };
    if strategy == Strategy::Seq2seq {
        // Time-major [t][b][h] per chunk: the last step's rows of every chunk.
        let (h, w) = (data.outputs, data.window);
        let (mut last_p, mut last_t) = (Vec::new(), Vec::new());
        let mut offset = 0;
        for chunk in indices.chunks(EVAL_BATCH) {
            let n = chunk.len();
            let start = offset + (w - 1) * n * h;
            last_p.extend_from_slice(&preds[start..start + n * h]);
            last_t.extend_from_slice(&truths[start..start + n * h]);
            offset += w * n * h;
        }
        metrics.extend(named(Metrics::regression(&last_p, &last_t), "last_"));
    }
    Evaluation { loss, metrics }
}

/// Iterative forecasting over a split: `len × horizon` scaled predictions, sample-major.
fn rollout(model: &Model, data: &Dataset, split: &Split) -> Vec<f32> {
    let (w, h) = (data.window, data.horizon);
    let mut out = vec![0.0; split.len * h];
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..split.len).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        split.gather(chunk, &mut x, &mut y);
        let rolled = roll(model, &x, chunk.len(), w, h);
        out[chunk[0] * h..(chunk[0] + chunk.len()) * h].copy_from_slice(&rolled);
    }
    out
}

/// Predicts one step, appends the prediction to the window and drops the
/// oldest step, `horizon` times, for `n` time-major one-feature sequences.
/// Returns `n × horizon`, sample-major.
fn roll(model: &Model, x: &[f32], n: usize, window: usize, horizon: usize) -> Vec<f32> {
    let mut x = x.to_vec();
    let mut out = vec![0.0; n * horizon];
    for k in 0..horizon {
        let pred = model.predict(&x, n, window);
        for (b, p) in pred.iter().enumerate() {
            out[b * horizon + k] = *p;
        }
        x.copy_within(n.., 0);
        x[(window - 1) * n..].copy_from_slice(&pred);
    }
    out
}

/// The model's forecast for `n` time-major sequences of `window` steps, in
/// scaled units, sample-major: the head's output at the last step (seq2seq:
/// the last step's vector; iterative: the `horizon` rolled-out values).
pub fn forecast(model: &Model, exp: &Experiment, x: &[f32], n: usize, window: usize) -> Vec<f32> {
    if exp.task.kind == TaskKind::Forecast && exp.task.strategy == Strategy::Iterative {
        return roll(model, x, n, window, exp.data.horizon);
    }
    let mut out = model.predict(x, n, window);
    if model.every_step {
        out[(window - 1) * n * model.output..].to_vec()
    } else {
        add_base(exp, x, n, window, &mut out);
        out
    }
}

/// `task.residual`: adds the baseline's forecast, read from the target's
/// (scaled) values in the time-major windows `x` of `n` sequences, to each
/// of the `n × k` sample-major values `v`; nothing without a residual.
fn add_base(exp: &Experiment, x: &[f32], n: usize, window: usize, v: &mut [f32]) {
    let Some(col) = exp.target_input() else {
        return;
    };
    if exp.task.residual == crate::experiment::Residual::None {
        return;
    }
    let (f, k) = (exp.input_features(), v.len() / n.max(1));
    for b in 0..n {
        for j in 0..k {
            if let Some(t) = exp.task.residual.base_step(window, exp.data.season, j) {
                v[b * k + j] += x[(t * n + b) * f + col];
            }
        }
    }
}

/// The metrics `m` holds ([`Metrics::named`]), each name prefixed.
fn named(m: Metrics, prefix: &str) -> Vec<(String, f64)> {
    m.named()
        .into_iter()
        .map(|(name, v)| (format!("{prefix}{name}"), v))
        .collect()
}

/// Up to `count` validation examples spread evenly over `split`, in original
/// units: the target's input window (when the target is an input), the truth
/// and the prediction (`horizon` values; 1 for one-step and regression).
pub fn examples(
    model: &Model,
    exp: &Experiment,
    data: &Dataset,
    split: &Split,
    count: usize,
) -> Vec<Example> {
    let n = count.min(split.len);
    if n == 0 {
        return Vec::new();
    }
    let indices: Vec<usize> = (0..n).map(|i| i * split.len / n).collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    split.gather(&indices, &mut x, &mut y);
    let pred = forecast(model, exp, &x, n, data.window);
    let k = pred.len() / n;
    let scaler = &data.scaler;
    let target_col = scaler.columns.iter().position(|c| *c == scaler.target);
    let forecast_task = exp.task.kind == TaskKind::Forecast;
    indices
        .iter()
        .enumerate()
        .map(|(b, &i)| {
            let input = match target_col {
                Some(c) if forecast_task => (0..data.window)
                    .map(|t| {
                        let v = x[(t * n + b) * data.features + c];
                        scaler.unscale_input_value(c, v) as f64
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let truth: Vec<f32> = if forecast_task {
                split.future[i * data.horizon..(i + 1) * data.horizon].to_vec()
            } else {
                split.targets[i * data.outputs..(i + 1) * data.outputs].to_vec()
            };
            let unscale = |v: &[f32]| -> Vec<f64> {
                v.iter()
                    .map(|v| scaler.unscale_target_value(*v) as f64)
                    .collect()
            };
            Example {
                index: i,
                input,
                truth: unscale(&truth),
                // One-step predicts 1 value; its truth is the first future value.
                prediction: unscale(&pred[b * k..(b + 1) * k]),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A residual model whose head outputs 0 forecasts exactly what its
    /// baseline does: the metrics equal the baseline's, which the data
    /// computed from the raw series with no residual in sight.
    #[test]
    fn a_residual_model_that_predicts_zero_is_its_baseline() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("experiments/series/electricity-dayahead-gru.toml");
        for (residual, baseline) in [("seasonal_naive", "seasonal_naive"), ("naive", "naive")] {
            let sets = [
                format!("task.residual={residual}"),
                "data.lags=[288,336]".to_string(),
                "model.layers.0.units=4".to_string(),
            ];
            let exp = Experiment::load(&file, &sets).unwrap();
            let data = crate::data::load(&exp).unwrap();
            let mut model = Model::for_experiment(&exp, None);
            for p in model
                .params
                .iter_mut()
                .filter(|p| p.name.starts_with("head."))
            {
                p.data.fill(0.0);
            }
            let eval = evaluate(&model, &exp, &data, &data.test);
            let want = data
                .baselines
                .iter()
                .find(|b| b.name == baseline)
                .and_then(|b| b.test)
                .unwrap();
            let got = |k: &str| eval.metrics.iter().find(|(n, _)| n == k).unwrap().1;
            for (k, w) in [
                ("rmse", want.rmse),
                ("mae", want.mae),
                ("mase", want.mase.unwrap()),
            ] {
                assert!(
                    (got(k) - w).abs() <= 1e-4 * w,
                    "{residual}: {k} {} vs the baseline's {w}",
                    got(k)
                );
            }
            // The backtest agrees at every origin's mean.
            let bt = crate::train::backtest(&model, &exp, &data).unwrap();
            let (m, b) = (bt.metrics["mase"].mean, bt.baselines[baseline]["mase"].mean);
            assert!((m - b).abs() <= 1e-4 * b, "{residual}: backtest {m} vs {b}");
        }
    }
}
