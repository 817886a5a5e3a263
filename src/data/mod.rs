//! Data: reads a CSV or generates synthetic sequences, splits them
//! chronologically into train / valid / test, normalises with statistics of the
//! training part, cuts windows into [`Split`]s, and scores simple [`Baseline`]s.

pub mod backtest;
mod baseline;
pub mod calendar;
mod cells;
pub mod conformal;
mod csv_read;
mod error;
pub mod interval;
pub mod metrics;
mod scale;
mod source;
mod synthetic;
pub mod text;
mod transform;
mod window;

pub use backtest::Backtest;
pub use baseline::Baseline;
pub use csv_read::{numeric_columns, read_sequences};
pub use error::DataError;
pub use metrics::Scale;
pub use scale::Scaler;
pub use text::Text;
pub use window::Split;

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::experiment::{Experiment, TaskKind};
use source::Source;
use window::{Sequence, Shape, Truth};

/// Everything a model trains and is evaluated on, in scaled units.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Input values per time step.
    pub features: usize,
    /// Input steps per sample.
    pub window: usize,
    /// Steps predicted ahead (`data.horizon`).
    pub horizon: usize,
    /// Model outputs per prediction.
    pub outputs: usize,
    /// Seq2seq: a target vector at every input step.
    pub every_step: bool,
    /// Training samples.
    pub train: Split,
    /// Validation samples.
    pub valid: Split,
    /// Test samples (empty only when the test fraction is 0).
    pub test: Split,
    /// Normalisation fitted on the training part.
    pub scaler: Scaler,
    /// Reference scores in original units.
    pub baselines: Vec<Baseline>,
    /// Forecasts: the in-sample seasonal-naive errors that MASE and RMSSE
    /// divide by (see [`metrics`]).
    pub scale: Option<Scale>,
    /// Forecasts of one series with a test part: the rolling-origin
    /// backtest's samples and baseline scores (see [`backtest`]).
    pub backtest: Option<Backtest>,
    /// Text tasks: the tokens and their batches (the numeric splits are then empty).
    pub text: Option<Text>,
    /// Several series (`data.series_column`): each one's name, MASE scale
    /// and baselines, in the order of the splits' groups; empty for one.
    pub series: Vec<SeriesInfo>,
}

/// One of several series of a dataset.
#[derive(Debug, Clone)]
pub struct SeriesInfo {
    /// The series column's value on its rows.
    pub name: String,
    /// Its own training part's seasonal-naive errors (MASE, RMSSE).
    pub scale: Scale,
    /// The baselines on its own validation and test windows.
    pub baselines: Vec<Baseline>,
}

impl Dataset {
    /// Training batches per epoch of `batch` samples (text: see [`Text::plan`]).
    pub fn batches_per_epoch(&self, batch: usize) -> usize {
        match &self.text {
            Some(t) => t.batches_per_epoch(batch, self.window),
            None => self.train.len.div_ceil(batch),
        }
    }

    /// The training batches of one epoch, in order: shuffled sample indices
    /// (text: see [`Text::plan`]). Depends only on `rng`'s state.
    pub fn plan(&self, batch: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
        if let Some(t) = &self.text {
            return t.plan(batch, self.window, rng);
        }
        let mut order: Vec<usize> = (0..self.train.len).collect();
        order.shuffle(rng);
        order.chunks(batch).map(<[usize]>::to_vec).collect()
    }

    /// Fills `x` and `y` with a training batch from [`Dataset::plan`] (laid out
    /// as [`Split::gather`]; text: token and class ids); returns (sequences, steps).
    pub fn gather_train(
        &self,
        indices: &[usize],
        batch: usize,
        x: &mut Vec<f32>,
        y: &mut Vec<f32>,
    ) -> (usize, usize) {
        match &self.text {
            Some(t) => {
                let b = t.gather(0, indices, batch, self.window);
                (*x, *y) = (b.x, b.y);
                (b.n, b.steps)
            }
            None => {
                self.train.gather(indices, x, y);
                (indices.len(), self.window)
            }
        }
    }

    /// Whether batches continue each other (a text stream): the state carries over.
    pub fn is_stream(&self) -> bool {
        self.text
            .as_ref()
            .is_some_and(|t| matches!(t.parts, text::Parts::Stream(_)))
    }
}

/// Part names, in split order.
const PARTS: [&str; 3] = ["train", "valid", "test"];

/// Loads, splits, normalises and windows the data of a validated experiment.
pub fn load(exp: &Experiment) -> Result<Dataset, DataError> {
    if matches!(exp.task.kind, TaskKind::Classify | TaskKind::Generate) {
        return load_text(exp);
    }
    let d = &exp.data;
    let forecast = exp.task.kind == TaskKind::Forecast;
    if forecast && d.season > d.window {
        return Err(DataError::new(format!(
            "data.season = {} is longer than data.window = {}; the seasonal-naive baseline needs a season of history",
            d.season, d.window
        ))
        .with_hint("raise data.window or lower data.season (0 = no seasonal baseline)"));
    }
    let source = Source::read(exp)?;
    let shape = Shape {
        window: d.window,
        horizon: d.horizon,
        features: exp.input_features(),
        outputs: exp.output_size(),
        stride: source.slide.then_some(d.stride),
        strategy: exp.task.strategy,
    };
    let cuts = source
        .parts
        .each_ref()
        .map(|part| window::cut(part, &shape));
    for (i, cut) in cuts.iter().enumerate() {
        if cut.split.len == 0 && (i < 2 || d.split[2] > 0.0) {
            return Err(source.too_short(exp, PARTS[i], i));
        }
    }
    let scaler = fit_scaler(exp, &source)?;
    for (cut, part) in cuts.iter().zip(PARTS) {
        if let Some((column, value)) = scaler.unscalable(&cut.split) {
            let err = DataError::new(format!(
                "the {part} part's value {value:e} is not finite once normalised with the training part's statistics"
            ))
            .in_column(column)
            .with_hint("express the column in units that keep its values far from f32's limit of 3.4e38");
            return Err(match &source.file {
                Some(file) => err.in_file(file),
                None => err,
            });
        }
    }
    let scale = forecast
        .then(|| forecast_scale(&source, d.season))
        .transpose()?;
    let [train, valid, test] = &cuts;
    let series = series_info(exp, &source, &shape)?;
    let baselines = match &scale {
        Some(scale) => {
            let mut b = vec![
                baseline::naive(valid, test, d.horizon, scale),
                baseline::drift(valid, test, d.horizon, scale),
            ];
            if d.season > 0 {
                b.push(baseline::seasonal_naive(
                    valid, test, d.horizon, d.season, scale,
                ));
                if d.window > d.season {
                    b.push(baseline::seasonal_drift(
                        valid, test, d.horizon, d.season, scale,
                    ));
                }
            }
            b
        }
        None => vec![baseline::mean(train, valid, test)],
    };
    let residual = |split: &mut Split| {
        if let Some(col) = exp.target_input() {
            to_residual(split, exp.task.residual, d.season, col);
        }
    };
    let backtest = match (&scale, &source.parts[2][..]) {
        (Some(scale), [series]) if source.slide && test.split.len > 0 => {
            let steps = series.inputs.len() / shape.features.max(1);
            let last = steps - d.window - d.horizon;
            let origins =
                backtest::resolve(exp.evaluate, last).map_err(|e| match &source.file {
                    Some(file) => e.in_file(file),
                    None => e,
                })?;
            let (cut, first_rows) = backtest::cut(series, &shape, origins);
            let baselines = backtest::baselines(&cut, d.horizon, d.season, scale);
            let before = source.sizes[0] + source.sizes[1];
            let records = backtest::records(&first_rows, before, &source.records);
            let raw = cut.split.clone();
            let mut split = cut.split;
            scaler.scale_inputs(&mut split.inputs);
            scaler.scale_target(&mut split.targets);
            scaler.scale_target(&mut split.future);
            residual(&mut split);
            Some(Backtest {
                origins,
                split,
                raw,
                first_rows,
                rows_before: before,
                records,
                baselines,
            })
        }
        _ => None,
    };
    let [train, valid, test] = cuts.map(|cut| {
        let mut split = cut.split;
        scaler.scale_inputs(&mut split.inputs);
        scaler.scale_target(&mut split.targets);
        scaler.scale_target(&mut split.future);
        residual(&mut split);
        split
    });
    Ok(Dataset {
        features: shape.features,
        window: d.window,
        horizon: d.horizon,
        outputs: shape.outputs,
        every_step: exp.every_step(),
        train,
        valid,
        test,
        scaler,
        baselines,
        scale,
        backtest,
        text: None,
        series,
    })
}

/// Each of several series' name, scale and baselines (none for one series).
fn series_info(
    exp: &Experiment,
    source: &Source,
    shape: &Shape,
) -> Result<Vec<SeriesInfo>, DataError> {
    let d = &exp.data;
    let Some(targets) = source
        .train_target
        .as_ref()
        .filter(|_| !source.series.is_empty())
    else {
        return Ok(Vec::new());
    };
    source
        .series
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let scale = Scale::of(&[&targets[i][..]], d.season).map_err(|e| {
                let err = DataError::new(format!("series `{name}`: {e}")).with_hint(
                    "check the series' target values and data.season (0 scales by the one-step naive forecast)",
                );
                match &source.file {
                    Some(file) => err.in_file(file),
                    None => err,
                }
            })?;
            let one = |part: usize| window::cut(&source.parts[part][i..=i], shape);
            let (valid, test) = (one(1), one(2));
            let mut baselines = vec![
                baseline::naive(&valid, &test, d.horizon, &scale),
                baseline::drift(&valid, &test, d.horizon, &scale),
            ];
            if d.season > 0 {
                baselines.push(baseline::seasonal_naive(
                    &valid, &test, d.horizon, d.season, &scale,
                ));
                if d.window > d.season {
                    baselines.push(baseline::seasonal_drift(
                        &valid, &test, d.horizon, d.season, &scale,
                    ));
                }
            }
            Ok(SeriesInfo {
                name: name.clone(),
                scale,
                baselines,
            })
        })
        .collect()
}

/// The last `data.window` rows of the series CSV `path`, laid out as the
/// model's inputs (the experiment's columns, then its lags, calendar
/// features and known-future columns), in original units, one step after
/// another: the window `predict --series` forecasts the steps after the
/// file's end from. A model with `data.future_columns` also needs their
/// values over the forecast steps: `future`, a CSV with those columns and
/// one row per step of the horizon.
pub fn last_window(
    exp: &Experiment,
    path: &std::path::Path,
    future: Option<&std::path::Path>,
) -> Result<Vec<f32>, DataError> {
    let d = &exp.data;
    let k = d.future_columns.len();
    let (lead, future) = match (k, future) {
        (0, None) => (0, None),
        (0, Some(file)) => {
            return Err(DataError::new(
                "this model reads no known-future columns (data.future_columns is empty)",
            )
            .in_file(file)
            .with_hint("leave out --future"));
        }
        (_, None) => {
            return Err(DataError::new(format!(
                "this model reads the known-future columns {} over the {} forecast steps",
                d.future_columns.join(", "),
                d.horizon
            ))
            .in_file(path)
            .with_hint(format!(
                "give their values with --future FILE: a CSV with those columns and {} rows, one per forecast step",
                d.horizon
            )));
        }
        (_, Some(file)) => (d.horizon, Some(future_rows(exp, file)?)),
    };
    let mut whole = exp.clone();
    whole.data.path = Some(path.to_path_buf());
    // Every row in one part; the horizon is what is forecast, not read. The
    // known-future columns are read as plain columns after the inputs, and
    // led below.
    whole.data.split = [1.0, 0.0, 0.0];
    whole.data.horizon = 0;
    let extra: Vec<String> = d
        .future_columns
        .iter()
        .filter(|c| !d.columns.contains(c))
        .cloned()
        .collect();
    whole.data.columns.extend(extra.iter().cloned());
    whole.data.future_columns.clear();
    let source = Source::read(&whole)?;
    if source.series.len() > 1 {
        let names = source.series.join(", ");
        return Err(DataError::new(format!(
            "the file holds {} series ({names}); a forecast continues one",
            source.series.len()
        ))
        .in_file(path)
        .in_column(d.series_column.as_deref().unwrap_or_default())
        .with_hint("give the rows of the series to forecast only"));
    }
    let read = whole.data.columns;
    let wide = whole_features(exp) + extra.len();
    let w = d.window;
    let inputs = source.parts[0].first().map_or(&[][..], |s| &s.inputs[..]);
    let rows = inputs.len() / wide.max(1);
    if rows < w {
        return Err(DataError::new(format!(
            "{rows} usable rows (after the longest lag), fewer than data.window = {w}"
        ))
        .in_file(path)
        .with_hint("give the series' last window of rows at least, plus the longest lag"));
    }
    // Row layout read: columns, extra, lags, calendar; the model's: columns,
    // lags, calendar, then the known-future columns `lead` rows later.
    let c = d.columns.len();
    let mut out = Vec::with_capacity(w * exp.input_features());
    let value = |r: usize, name: &String| {
        let at = read.iter().position(|n| n == name).expect("read above");
        inputs[r * wide + at]
    };
    for r in rows - w..rows {
        let row = &inputs[r * wide..(r + 1) * wide];
        out.extend_from_slice(&row[..c]);
        out.extend_from_slice(&row[c + extra.len()..]);
        for (j, name) in d.future_columns.iter().enumerate() {
            out.push(match (r + lead < rows, &future) {
                (true, _) => value(r + lead, name),
                (false, Some(f)) => f[(r + lead - rows) * k + j],
                (false, None) => unreachable!("no leads without known-future columns"),
            });
        }
    }
    Ok(out)
}

/// The model's inputs per step without its known-future columns.
fn whole_features(exp: &Experiment) -> usize {
    exp.input_features() - exp.data.future_columns.len()
}

/// The known-future columns' values over the forecast steps, from the CSV
/// `path` (`data.horizon` rows, the experiment's missing-value rule).
fn future_rows(exp: &Experiment, path: &std::path::Path) -> Result<Vec<f32>, DataError> {
    let d = &exp.data;
    error::check_file(path)?;
    let cols = &d.future_columns;
    let t = csv_read::read_series(path, cols, &cols[0], d.missing, d.transform)?;
    let rows = t.inputs.len() / cols.len();
    if rows != d.horizon {
        return Err(DataError::new(format!(
            "{rows} rows of known-future values; the model forecasts {} steps",
            d.horizon
        ))
        .in_file(path)
        .with_hint(format!(
            "give exactly {} rows, one per forecast step, in order",
            d.horizon
        )));
    }
    Ok(t.inputs)
}

/// `task.residual`: each target (scaled) less the baseline's forecast of it,
/// the target `col`'s scaled value at the window step the baseline copies.
/// The offset of the scaling cancels, so the residual is the difference of
/// the values over the target's scale.
fn to_residual(
    split: &mut Split,
    residual: crate::experiment::Residual,
    season: usize,
    col: usize,
) {
    let (w, f, o) = (split.window, split.features, split.outputs);
    for i in 0..split.len {
        for k in 0..o {
            if let Some(step) = residual.base_step(w, season, k) {
                split.targets[i * o + k] -= split.inputs[(i * w + step) * f + col];
            }
        }
    }
}

/// The scale of MASE and RMSSE: the training part's target series, in
/// original units, against itself one season (or one step) earlier.
fn forecast_scale(source: &Source, season: usize) -> Result<Scale, DataError> {
    let series: Vec<&[f32]> = match &source.train_target {
        Some(each) => each.iter().map(|v| &v[..]).collect(),
        None => source.parts[0]
            .iter()
            .filter_map(|s| match &s.truth {
                Truth::Series(v) => Some(&v[..]),
                Truth::Label(_) => None,
            })
            .collect(),
    };
    Scale::of(&series, season).map_err(|e| {
        let err = DataError::new(e.to_string()).with_hint(
            "check the target column and data.season (0 scales by the one-step naive forecast)",
        );
        match &source.file {
            Some(file) => err.in_file(file),
            None => err,
        }
    })
}

/// Loads a text task: token ids in place of values, no scaling.
fn load_text(exp: &Experiment) -> Result<Dataset, DataError> {
    if let Some(path) = &exp.data.path {
        error::check_file(path)?;
    }
    let text = Text::load(exp)?;
    let generate = exp.task.kind == TaskKind::Generate;
    let outputs = if generate {
        text.vocab.len()
    } else {
        text.classes.len()
    };
    let target = if generate { "next character" } else { "class" };
    Ok(Dataset {
        features: 1,
        window: exp.data.window,
        horizon: 1,
        outputs,
        every_step: generate,
        train: Split::default(),
        valid: Split::default(),
        test: Split::default(),
        scaler: Scaler {
            columns: vec!["token".into()],
            offset: vec![0.0],
            scale: vec![1.0],
            target: target.into(),
            target_offset: 0.0,
            target_scale: 1.0,
            transform: Default::default(),
        },
        baselines: Vec::new(),
        scale: None,
        backtest: None,
        text: Some(text),
        series: Vec::new(),
    })
}

/// Fits the scaler on the training part, after `data.transform`; regression
/// targets stay unscaled. A column that cannot be normalised is refused,
/// naming the file and the column.
fn fit_scaler(exp: &Experiment, source: &Source) -> Result<Scaler, DataError> {
    let method = exp
        .data
        .normalize
        .unwrap_or(crate::experiment::Normalize::None);
    let transform = exp.data.transform;
    let transformed =
        |values: &[f32]| -> Vec<f32> { values.iter().map(|&v| transform.apply(v)).collect() };
    let train: Vec<Sequence> = source.parts[0]
        .iter()
        .map(|s| Sequence {
            inputs: transformed(&s.inputs),
            truth: match &s.truth {
                Truth::Series(v) => Truth::Series(transformed(v)),
                Truth::Label(l) => Truth::Label(*l),
            },
        })
        .collect();
    let refuse = |column: &str, e: scale::Unfit| {
        let after = match transform {
            crate::experiment::Transform::None => "",
            _ => " (values after data.transform)",
        };
        let err = DataError::new(format!("{}{after}", e.message))
            .in_column(column)
            .with_hint(e.hint);
        match &source.file {
            Some(file) => err.in_file(file),
            None => err,
        }
    };
    let (offset, scale) = scale::fit(
        method,
        train.iter().map(|s| s.inputs.as_slice()),
        source.columns.len(),
    )
    .map_err(|e| refuse(&source.columns[e.column].clone(), e))?;
    let (target_offset, target_scale) = match source.target_input {
        _ if exp.task.kind == TaskKind::Regress => (0.0, 1.0),
        Some(i) => (offset[i], scale[i]),
        None => {
            let series = train.iter().filter_map(|s| match &s.truth {
                Truth::Series(v) => Some(v.as_slice()),
                Truth::Label(_) => None,
            });
            let (o, s) = scale::fit(method, series, 1).map_err(|e| refuse(&source.target, e))?;
            (o[0], s[0])
        }
    };
    Ok(Scaler {
        columns: source.columns.clone(),
        offset,
        scale,
        target: source.target.clone(),
        target_offset,
        target_scale,
        transform,
    })
}

#[cfg(test)]
mod tests;
