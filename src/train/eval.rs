//! Evaluation of a model on a split: the loss in training units and the task
//! metrics in the data's original units.

use crate::data::conformal::Conformal;
use crate::data::interval;
use crate::data::metrics::Metrics;
use crate::data::{Dataset, Split};
use crate::events::{Band, Example};
use crate::experiment::{Calibration, Experiment, Strategy, TaskKind};
use crate::model::{Loss, Model};

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
    // A probabilistic model's quantiles, sorted (empty for a point forecast).
    let mut quantiles = Vec::new();
    // With a residual target: the loss is on the residuals, the metrics on
    // the forecasts (the baseline's forecast added back to both).
    let mut loss_sum = 0.0f64;
    let indices: Vec<usize> = (0..split.len).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        split.gather(chunk, &mut x, &mut y);
        let out = model.predict(&x, chunk.len(), data.window);
        let chunk_loss = match model.probabilistic_loss(&out, &y) {
            Some(l) => l,
            None => Metrics::regression(&out, &y).mse,
        };
        loss_sum += chunk_loss * y.len() as f64;
        // Seq2seq: a prediction per step of every sequence.
        let rows = out.len() / model.output.max(1);
        let Forecast {
            point: mut p,
            quantiles: mut q,
        } = from_heads(model, exp, out, rows);
        add_base(exp, &x, chunk.len(), data.window, &mut p);
        add_base(exp, &x, chunk.len(), data.window, &mut q);
        calibrate(model, exp, &mut q);
        add_base(exp, &x, chunk.len(), data.window, &mut y);
        preds.extend(p);
        quantiles.extend(q);
        truths.extend_from_slice(&y);
    }
    let loss = loss_sum / truths.len().max(1) as f64;
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
            let mut m = named(score(&preds, &truths), "");
            if !quantiles.is_empty() {
                scaler.unscale_target(&mut quantiles);
                let k = data.outputs;
                m.extend(interval::metrics(&exp.levels(), &quantiles, &truths, k));
            }
            m
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

/// A forecast of `n` samples in scaled units, sample-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// `n × k`: the point forecast (a probabilistic model's median or mean).
    pub point: Vec<f32>,
    /// `n × levels × k`, each value's quantiles ascending
    /// ([`Experiment::levels`]); empty for a point forecast.
    pub quantiles: Vec<f32>,
}

/// The model's forecast for `n` time-major sequences of `window` steps, in
/// scaled units, sample-major: the head's output at the last step (seq2seq:
/// the last step's vector; iterative: the `horizon` rolled-out values).
pub fn forecast(model: &Model, exp: &Experiment, x: &[f32], n: usize, window: usize) -> Vec<f32> {
    forecast_full(model, exp, x, n, window).point
}

/// As [`forecast`], with a probabilistic model's quantiles.
pub fn forecast_full(
    model: &Model,
    exp: &Experiment,
    x: &[f32],
    n: usize,
    window: usize,
) -> Forecast {
    if exp.task.kind == TaskKind::Forecast && exp.task.strategy == Strategy::Iterative {
        let point = roll(model, x, n, window, exp.data.horizon);
        return Forecast {
            point,
            quantiles: Vec::new(),
        };
    }
    let mut out = model.predict(x, n, window);
    if model.every_step {
        // Seq2seq: the last step's prediction.
        out.drain(..(window - 1) * n * model.output);
    }
    let mut f = from_heads(model, exp, out, n);
    add_base(exp, x, n, window, &mut f.point);
    add_base(exp, x, n, window, &mut f.quantiles);
    calibrate(model, exp, &mut f.quantiles);
    f
}

/// Applies the model's conformal offsets, if any, to the quantiles `q`
/// (sample-major, in scaled units).
fn calibrate(model: &Model, exp: &Experiment, q: &mut [f32]) {
    if let Some(c) = &model.calibration
        && !q.is_empty()
    {
        c.apply(&exp.levels(), q, exp.output_size().max(1));
    }
}

/// Fits conformal offsets for `model`'s intervals on the validation part
/// (`task.calibration = "conformal"`); `None` without intervals or
/// validation forecasts. `step` is the model's training step.
pub fn fit_conformal(
    model: &Model,
    exp: &Experiment,
    data: &Dataset,
    step: u64,
) -> Option<Conformal> {
    if exp.task.calibration != Calibration::Conformal || exp.levels().is_empty() {
        return None;
    }
    let split = &data.valid;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let (mut quantiles, mut truths) = (Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..split.len).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        split.gather(chunk, &mut x, &mut y);
        let out = model.predict(&x, chunk.len(), data.window);
        let rows = out.len() / model.output.max(1);
        let mut f = from_heads(model, exp, out, rows);
        add_base(exp, &x, chunk.len(), data.window, &mut f.quantiles);
        add_base(exp, &x, chunk.len(), data.window, &mut y);
        quantiles.extend(f.quantiles);
        truths.extend_from_slice(&y);
    }
    let k = exp.output_size().max(1);
    Conformal::fit(&exp.levels(), &quantiles, &truths, k, step)
}

/// The point forecast and quantiles of the head outputs `out` of `n`
/// predictions (quantile-major blocks, see `model/loss.rs`): quantile heads
/// sorted per value, the median the point; a Gaussian's mean the point and
/// `μ + Φ⁻¹(p)·σ` its quantiles; a point head as it is.
fn from_heads(model: &Model, exp: &Experiment, out: Vec<f32>, n: usize) -> Forecast {
    let k = model.output / model.heads();
    match model.loss {
        Loss::Pinball => {
            let mut quantiles = out;
            interval::sort_each(&mut quantiles, model.heads(), k);
            let levels = exp.levels();
            let m = levels
                .iter()
                .position(|&q| q == 0.5)
                .unwrap_or(levels.len() / 2);
            let block = levels.len() * k;
            let point = (0..n)
                .flat_map(|b| &quantiles[b * block + m * k..b * block + (m + 1) * k])
                .copied()
                .collect();
            Forecast { point, quantiles }
        }
        Loss::Gaussian => {
            let z: Vec<f32> = exp
                .levels()
                .iter()
                .map(|&p| interval::normal_quantile(p) as f32)
                .collect();
            let mut point = Vec::with_capacity(n * k);
            let mut quantiles = Vec::with_capacity(n * z.len() * k);
            for row in out.chunks_exact(2 * k.max(1)) {
                let (mu, raw) = row.split_at(k);
                point.extend_from_slice(mu);
                for z in &z {
                    quantiles.extend(
                        mu.iter()
                            .zip(raw)
                            .map(|(m, r)| m + z * crate::model::sigma(*r)),
                    );
                }
            }
            Forecast { point, quantiles }
        }
        Loss::Mse | Loss::CrossEntropy => Forecast {
            point: out,
            quantiles: Vec::new(),
        },
    }
}

/// `task.residual`: adds the baseline's forecast, read from the target's
/// (scaled) values in the time-major windows `x` of `n` sequences, to each
/// of the sample-major values `v`: per sample, one or more blocks of the
/// horizon's values (quantiles); nothing without a residual.
fn add_base(exp: &Experiment, x: &[f32], n: usize, window: usize, v: &mut [f32]) {
    let Some(col) = exp.target_input() else {
        return;
    };
    if exp.task.residual == crate::experiment::Residual::None {
        return;
    }
    let (f, k) = (exp.input_features(), v.len() / n.max(1));
    // Values per block: the horizon's (one-step: 1).
    let h = exp.output_size().max(1);
    for b in 0..n {
        for j in 0..k {
            if let Some(t) = exp.task.residual.base_step(window, exp.data.season, j % h) {
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
    let Forecast {
        point: pred,
        quantiles,
    } = forecast_full(model, exp, &x, n, data.window);
    let k = pred.len() / n;
    let levels = exp.levels();
    let outer = interval::intervals(&levels).first().copied();
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
            // The outermost interval's bounds, for the dashboard's band.
            let interval = outer.filter(|_| !quantiles.is_empty()).map(|(lo, hi)| {
                let block = levels.len() * k;
                let bound =
                    |h: usize| unscale(&quantiles[b * block + h * k..b * block + (h + 1) * k]);
                Band {
                    levels: (levels[lo], levels[hi]),
                    lower: bound(lo),
                    upper: bound(hi),
                }
            });
            Example {
                index: i,
                input,
                truth: unscale(&truth),
                // One-step predicts 1 value; its truth is the first future value.
                prediction: unscale(&pred[b * k..(b + 1) * k]),
                interval,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantile heads that cross (the 0.1 head above the 0.9 one) are
    /// reported sorted, value by value, and the point forecast is the
    /// middle of the sorted values; the metrics see the sorted quantiles.
    #[test]
    fn crossing_quantile_heads_are_reported_sorted() {
        let file =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/gru-vector.toml");
        let sets = ["task.quantiles=[0.1,0.5,0.9]".to_string()];
        let exp = Experiment::load(&file, &sets).unwrap();
        let data = crate::data::load(&exp).unwrap();
        let mut model = Model::for_experiment(&exp, None);
        let k = data.outputs;
        // Zero weights; biases q0.1 → 2, q0.5 → 0, q0.9 → −2 at every step.
        for p in model.params.iter_mut() {
            if p.name == "head.weight" {
                p.data.fill(0.0);
            } else if p.name == "head.bias" {
                for (i, v) in p.data.iter_mut().enumerate() {
                    *v = [2.0, 0.0, -2.0][i / k];
                }
            }
        }
        let (mut x, mut y) = (Vec::new(), Vec::new());
        data.valid.gather(&[0, 1], &mut x, &mut y);
        let f = forecast_full(&model, &exp, &x, 2, data.window);
        assert_eq!(f.point, vec![0.0; 2 * k]);
        for b in 0..2 {
            for j in 0..k {
                let q: Vec<f32> = (0..3).map(|h| f.quantiles[(b * 3 + h) * k + j]).collect();
                assert_eq!(q, [-2.0, 0.0, 2.0], "prediction {b}, step {j}");
            }
        }
        // The interval is [−2, 2] in scaled units: positive widths.
        let eval = evaluate(&model, &exp, &data, &data.valid);
        let width = eval.metrics.iter().find(|(n, _)| n == "width_q0.1_q0.9");
        assert!(width.unwrap().1 > 0.0, "{:?}", eval.metrics);
        let ex = examples(&model, &exp, &data, &data.valid, 1);
        let band = ex[0].interval.as_ref().unwrap();
        assert_eq!(band.levels, (0.1, 0.9));
        assert!(band.lower.iter().zip(&band.upper).all(|(l, u)| l < u));
    }

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
