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
    let indices: Vec<usize> = (0..split.len).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        split.gather(chunk, &mut x, &mut y);
        preds.extend(model.predict(&x, chunk.len(), data.window));
        truths.extend_from_slice(&y);
    }
    let loss = Metrics::regression(&preds, &truths).mse;
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
    let out = model.predict(x, n, window);
    if model.every_step {
        out[(window - 1) * n * model.output..].to_vec()
    } else {
        out
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
