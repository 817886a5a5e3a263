//! The rolling-origin backtest of a series' test part (Tashman 2000; what
//! Darts' `historical_forecasts` and sktime's `ExpandingWindowSplitter`
//! evaluate): forecasts from several origins `step` steps apart, the last
//! one as late as the test part allows, each from the `window` steps of
//! data before it, scored one origin at a time, with the baselines scored
//! at the same origins.

use super::DataError;
use super::baseline;
use super::metrics::{Metrics, Scale};
use super::window::{Cut, Sequence, Shape, Split, cut_at};
use crate::experiment::{EvaluateSpec, Experiment};

/// Origins used when `evaluate.origins` is 0 (fewer when the test part has
/// fewer window positions).
const DEFAULT_ORIGINS: usize = 20;

/// Where the forecasts start: `count` origins `step` steps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origins {
    pub count: usize,
    pub step: usize,
}

/// The origins of `spec` for a test part whose windows may start at
/// `0..=last` (`last` = rows − window − horizon). Without a step, the
/// origins are spread evenly over the whole test part (the first window at
/// its start, the last forecast at its end); without a count, there are 20
/// (or as many as fit with the step).
pub fn resolve(spec: EvaluateSpec, last: usize) -> Result<Origins, DataError> {
    let fit = |step: usize| last / step + 1;
    let spread = |count: usize| {
        if count > 1 {
            (last / (count - 1)).max(1)
        } else {
            1
        }
    };
    let (count, step) = match (spec.origins, spec.step) {
        (0, 0) => {
            let count = DEFAULT_ORIGINS.min(last + 1);
            (count, spread(count))
        }
        (0, step) => (fit(step).min(DEFAULT_ORIGINS), step),
        (count, 0) => (count, spread(count)),
        (count, step) => (count, step),
    };
    if fit(step) < count {
        return Err(DataError::new(format!(
            "`evaluate.origins` = {count} origins {step} step(s) apart do not fit in the test part: its windows can start at {} positions, which hold {} such origins",
            last + 1,
            fit(step)
        ))
        .with_hint("lower evaluate.origins or evaluate.step (0 chooses them from the test part's length), or give the test part a larger share in data.split"));
    }
    Ok(Origins { count, step })
}

/// The test part's samples at the origins, oldest first, in raw units,
/// with the first step each one forecasts (its row in the test part).
pub(super) fn cut(seq: &Sequence, shape: &Shape, o: Origins) -> (Cut, Vec<usize>) {
    let steps = seq.inputs.len() / shape.features.max(1);
    let last = steps - shape.window - shape.horizon;
    let starts: Vec<usize> = (0..o.count).rev().map(|k| last - k * o.step).collect();
    let firsts = starts.iter().map(|s| s + shape.window).collect();
    (cut_at(seq, shape, &starts), firsts)
}

/// What the model is scored on at each origin, and the baselines' scores.
#[derive(Debug, Clone)]
pub struct Backtest {
    pub origins: Origins,
    /// One sample per origin, oldest first, scaled like the other splits.
    pub split: Split,
    /// The same samples in original units (a retrained model scales them
    /// with its own scaler).
    pub raw: Split,
    /// The row of the test part each origin's forecast starts at.
    pub first_rows: Vec<usize>,
    /// The series' rows before the test part (train and valid).
    pub rows_before: usize,
    /// Each origin's index among the file's data records: the
    /// `data.end_row` of a run that sees only the rows before it.
    pub records: Vec<usize>,
    /// Each baseline's metrics at each origin, in original units.
    pub baselines: Vec<(String, Vec<Metrics>)>,
}

/// Each origin's data record: of row `before + first` of the series.
pub(super) fn records(first_rows: &[usize], before: usize, records: &[usize]) -> Vec<usize> {
    let at = |r: usize| records.get(r).copied().unwrap_or(r);
    first_rows.iter().map(|f| at(before + f)).collect()
}

/// The expanding-window runs of a backtest: each origin's `data.end_row`
/// (the data records before it) and the `data.split` of those rows, the
/// experiment's train / valid proportions without a test part. Refused,
/// naming the key and the fix, when the rows before the first origin are
/// too few for a training and a validation window.
pub fn retrain_cuts(exp: &Experiment, bt: &Backtest) -> Result<(Vec<usize>, [f64; 3]), DataError> {
    let d = &exp.data;
    let [tr, va, _] = d.split;
    let train = tr / (tr + va);
    let split = [train, 1.0 - train, 0.0];
    let first = bt.rows_before + bt.first_rows.first().copied().unwrap_or(0);
    let [n_train, n_valid, _] = super::source::split_sizes(first, split);
    let skip = d.lags.iter().copied().max().unwrap_or(0);
    let (need_train, need_valid) = (skip + d.window + d.horizon, d.window + d.horizon);
    if n_train < need_train || n_valid < need_valid {
        let lag = if skip > 0 {
            format!(" + the longest lag {skip}")
        } else {
            String::new()
        };
        return Err(DataError::new(format!(
            "`evaluate.retrain`: the first origin is row {first} of the series, and the {first} rows before it, split {train:.3} / {:.3} as data.split's train and valid shares, give the training part {n_train} rows and the validation part {n_valid}; each needs a window + horizon of {} + {} rows{lag}",
            1.0 - train,
            d.window,
            d.horizon
        ))
        .with_hint("move the first origin later (fewer origins or a smaller evaluate.step), give the test part a smaller share in data.split, or shorten data.window; or remove evaluate.retrain"));
    }
    Ok((bt.records.clone(), split))
}

/// Scores the naive and drift (and, with a season, the seasonal-naive and,
/// with a window longer than the season, the seasonal drift) forecasts at
/// each origin of `cut`.
pub(super) fn baselines(
    cut: &Cut,
    horizon: usize,
    season: usize,
    scale: &Scale,
) -> Vec<(String, Vec<Metrics>)> {
    let mut out = vec![
        (
            "naive".to_string(),
            per_origin(cut, horizon, scale, |h, _| *h.last().unwrap_or(&0.0)),
        ),
        (
            "drift".to_string(),
            per_origin(cut, horizon, scale, baseline::drifted),
        ),
    ];
    if season > 0 {
        out.push((
            "seasonal_naive".to_string(),
            per_origin(cut, horizon, scale, |h, k| baseline::seasonal(h, k, season)),
        ));
        if cut.split.window > season {
            out.push((
                "seasonal_drift".to_string(),
                per_origin(cut, horizon, scale, |h, k| {
                    baseline::seasonal_drifted(h, k, season)
                }),
            ));
        }
    }
    out
}

fn per_origin(
    cut: &Cut,
    horizon: usize,
    scale: &Scale,
    predict: impl Fn(&[f32], usize) -> f32,
) -> Vec<Metrics> {
    let w = cut.split.window.max(1);
    cut.history
        .chunks(w)
        .zip(cut.split.future.chunks(horizon.max(1)))
        .map(|(history, truth)| {
            let pred: Vec<f32> = (0..horizon).map(|k| predict(history, k)).collect();
            Metrics::forecast(&pred, truth, scale)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(origins: usize, step: usize) -> EvaluateSpec {
        EvaluateSpec {
            origins,
            step,
            retrain: false,
        }
    }

    #[test]
    fn origins_are_chosen_from_the_test_part() {
        // 300 start positions: 20 origins spread over them, 15 apart.
        assert_eq!(
            resolve(spec(0, 0), 299).unwrap(),
            Origins {
                count: 20,
                step: 15
            }
        );
        // Fewer than 20 positions: every position.
        assert_eq!(
            resolve(spec(0, 0), 3).unwrap(),
            Origins { count: 4, step: 1 }
        );
        // A count alone is spread; a step alone gives at most 20.
        assert_eq!(
            resolve(spec(5, 0), 299).unwrap(),
            Origins { count: 5, step: 74 }
        );
        assert_eq!(
            resolve(spec(0, 7), 20).unwrap(),
            Origins { count: 3, step: 7 }
        );
        assert_eq!(
            resolve(spec(0, 1), 299).unwrap(),
            Origins { count: 20, step: 1 }
        );
        // One origin: the last window.
        assert_eq!(
            resolve(spec(1, 0), 299).unwrap(),
            Origins { count: 1, step: 1 }
        );
    }

    #[test]
    fn origins_that_do_not_fit_are_refused_naming_the_key() {
        let e = resolve(spec(10, 24), 100).unwrap_err().to_string();
        assert!(
            e.contains("`evaluate.origins` = 10 origins 24 step(s) apart"),
            "{e}"
        );
        assert!(e.contains("which hold 5 such origins"), "{e}");
        assert!(resolve(spec(400, 0), 299).is_err());
    }

    #[test]
    fn each_origin_sees_only_the_window_before_it() {
        use crate::data::window::Truth;
        use crate::experiment::Strategy;
        // x_t = t, so a window's inputs say where it starts.
        let v: Vec<f32> = (0..40).map(|t| t as f32).collect();
        let seq = Sequence {
            inputs: v.clone(),
            truth: Truth::Series(v),
        };
        let shape = Shape {
            window: 8,
            horizon: 3,
            features: 1,
            outputs: 3,
            stride: Some(1),
            strategy: Strategy::Vector,
        };
        let (cut, firsts) = cut(&seq, &shape, Origins { count: 3, step: 5 });
        // The last origin is as late as possible: its forecast ends at row 39.
        assert_eq!(firsts, [27, 32, 37]);
        for (k, &first) in firsts.iter().enumerate() {
            let inputs = &cut.split.inputs[k * 8..(k + 1) * 8];
            assert_eq!(
                inputs.last(),
                Some(&((first - 1) as f32)),
                "the input ends before the origin"
            );
            let future = &cut.split.future[k * 3..(k + 1) * 3];
            assert_eq!(
                future,
                [first as f32, (first + 1) as f32, (first + 2) as f32]
            );
        }
        // Naive forecasts repeat the last input: errors 1, 2, 3 at every origin.
        let scale = Scale::of(&[&[0.0, 1.0, 2.0]], 1).unwrap();
        let b = baselines(&cut, 3, 0, &scale);
        assert_eq!(b.len(), 2);
        for m in &b[0].1 {
            assert!((m.mae - 2.0).abs() < 1e-9 && (m.mase.unwrap() - 2.0).abs() < 1e-9);
        }
        // The series is a line: the drift forecast continues it exactly.
        assert_eq!(b[1].0, "drift");
        for m in &b[1].1 {
            assert!(m.mae.abs() < 1e-6, "{m:?}");
        }
    }
}
