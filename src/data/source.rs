//! The raw sequences of an experiment's data source, split into train / valid / test.

use std::path::{Path, PathBuf};

use super::window::{Sequence, Truth};
use super::{DataError, csv_read, synthetic};
use crate::experiment::{Experiment, Generator, Layout, Source as Kind, TaskKind};

/// Raw (unscaled) sequences of the three parts, with their names.
pub(super) struct Source {
    /// Train, valid and test sequences.
    pub parts: [Vec<Sequence>; 3],
    /// Rows (series layout) or sequences in each part.
    pub sizes: [usize; 3],
    /// Input column (feature) names.
    pub columns: Vec<String>,
    /// The predicted column's name.
    pub target: String,
    /// The target's index among the input columns, if it is one.
    pub target_input: Option<usize>,
    /// Whether windows slide along each sequence (series layout) rather than one per sequence.
    pub slide: bool,
    /// The CSV read, if any.
    pub file: Option<PathBuf>,
    /// Series with lags or several series: each series' whole training
    /// part of the target (its first rows are not in `parts[0]` when they
    /// have no lagged values), which MASE and RMSSE are scaled by.
    pub train_target: Option<Vec<Vec<f32>>>,
    /// Several series (`data.series_column`): their names, in the order of
    /// the sequences in each part; empty for one.
    pub series: Vec<String>,
    /// One CSV series: the index among the file's data records of each of
    /// its rows (what `data.end_row` counts); empty otherwise.
    pub records: Vec<usize>,
}

impl Source {
    /// Reads or generates the experiment's data.
    pub fn read(exp: &Experiment) -> Result<Source, DataError> {
        let d = &exp.data;
        match (d.source, &d.path) {
            (Kind::Synthetic, _) => generated(exp),
            (Kind::Csv, Some(path)) if d.layout == Layout::Series => series(exp, path),
            (Kind::Csv, Some(path)) => rows(exp, path),
            (Kind::Text, _) => Err(DataError::new("text data is read by data::text")),
            (Kind::Csv, None) => Err(DataError::new("CSV data needs a path")
                .with_hint("set data.path = \"assets/sunspots_monthly.csv\"")),
        }
    }

    /// The error for part `i` (named `name`) having no complete window.
    pub fn too_short(&self, exp: &Experiment, name: &str, i: usize) -> DataError {
        let d = &exp.data;
        let n = self.sizes[i];
        let total: usize = self.sizes.iter().sum();
        let frac = d.split[i];
        let err = if self.slide {
            DataError::new(format!(
                "the {name} part has {n} rows, fewer than window + horizon = {} (data.window)",
                d.window + d.horizon
            ))
            .with_hint("lower data.window or change data.split")
        } else if d.source == Kind::Synthetic {
            DataError::new(format!(
                "the {name} part has no sequences ({total} sequences × {frac} < 1)"
            ))
            .with_hint("raise data.count or change data.split")
        } else {
            DataError::new(format!(
                "the {name} part has no rows ({total} rows × {frac} < 1)"
            ))
            .with_hint("add rows or change data.split")
        };
        match &self.file {
            Some(file) => err.in_file(file),
            None => err,
        }
    }
}

/// Part sizes of `n` items: floor for train and valid, the rest for test.
pub(super) fn split_sizes(n: usize, split: [f64; 3]) -> [usize; 3] {
    // The epsilon keeps 10,000 × 0.7 at 7,000 despite binary rounding.
    let part = |f: f64| ((n as f64 * f + 1e-9).floor() as usize).min(n);
    let train = part(split[0]);
    let valid = part(split[1]).min(n - train);
    [train, valid, n - train - valid]
}

/// Splits whole sequences by order.
fn by_order(mut seqs: Vec<Sequence>, sizes: [usize; 3]) -> [Vec<Sequence>; 3] {
    let test = seqs.split_off(sizes[0] + sizes[1]);
    let valid = seqs.split_off(sizes[0]);
    [seqs, valid, test]
}

/// Series layout: one long series; rows are time steps.
fn series(exp: &Experiment, path: &Path) -> Result<Source, DataError> {
    let d = &exp.data;
    if d.columns.is_empty() {
        return Err(DataError::new("no input columns")
            .in_file(path)
            .with_hint("name them in data.columns"));
    }
    let target = d.target.as_ref().unwrap_or(&d.columns[0]);
    super::error::check_file(path)?;
    // The input columns, then the known-future ones that are not inputs too.
    let mut read: Vec<String> = d.columns.clone();
    read.extend(
        d.future_columns
            .iter()
            .filter(|c| !d.columns.contains(c))
            .cloned(),
    );
    let t = csv_read::read_series_until(path, &read, target, d.missing, d.transform, d.end_row)?;
    if let Some(end) = d.end_row.filter(|&end| t.read < end) {
        return Err(DataError::new(format!(
            "data.end_row = {end}, but the file has {} data rows",
            t.read
        ))
        .in_file(path)
        .with_hint(format!(
            "give an end_row of at most {}, or remove data.end_row to read every row",
            t.read
        )));
    }
    let future = pick(&t.inputs, &read, &d.future_columns);
    // A known-future copy of the target would hand the model what it forecasts.
    for (j, name) in d.future_columns.iter().enumerate() {
        let k = d.future_columns.len();
        let same = t
            .target
            .iter()
            .enumerate()
            .all(|(r, y)| future[r * k + j] == *y);
        if same {
            return Err(DataError::new(format!(
                "known-future column `{name}` equals the target `{target}` on every row: as a known-future input it would hand the model the values it forecasts"
            ))
            .in_file(path)
            .in_column(name)
            .with_hint("remove it from data.future_columns (data.lags gives the target's known past)"));
        }
    }
    let t = csv_read::SeriesTable {
        inputs: pick(&t.inputs, &read, &d.columns),
        ..t
    };
    let groups = match &d.series_column {
        Some(col) => group_rows(&csv_read::read_column_text(path, col, &t.lines)?),
        None => vec![(String::new(), (0..t.target.len()).collect())],
    };
    let skip = d.lags.iter().copied().max().unwrap_or(0);
    let (c, k) = (d.columns.len(), d.future_columns.len());
    let mut parts: [Vec<Sequence>; 3] = Default::default();
    let mut sizes = [0; 3];
    let mut train_target = Vec::new();
    for (name, rows) in &groups {
        let of = |table: &[f32], width: usize| -> Vec<f32> {
            rows.iter()
                .flat_map(|&r| table[r * width..(r + 1) * width].iter().copied())
                .collect()
        };
        let target_rows = of(&t.target, 1);
        let lines: Vec<usize> = rows.iter().map(|&r| t.lines[r]).collect();
        // The split is that of the series' rows, with or without lags; the
        // rows whose lags reach before the series are dropped from its
        // training part.
        let n = split_sizes(target_rows.len(), d.split);
        let (inputs, f) = with_lags(&of(&t.inputs, c), c, &target_rows, &d.lags);
        let (inputs, f) = match &d.time_column {
            Some(time) if !d.calendar.is_empty() => {
                let texts = csv_read::read_column_text(path, time, &lines)?;
                let cal = super::calendar::features(&texts, &lines, &d.calendar, time)
                    .map_err(|e| e.in_file(path))?;
                let width = 2 * d.calendar.len();
                let mut out = Vec::with_capacity(inputs.len() + cal.len());
                for (row, c) in inputs.chunks_exact(f.max(1)).zip(cal.chunks_exact(width)) {
                    out.extend_from_slice(row);
                    out.extend_from_slice(c);
                }
                (out, f + width)
            }
            _ => (inputs, f),
        };
        let (inputs, f) = with_leads(&inputs, f, &of(&future, k), k, d.horizon);
        let need = skip + d.window + d.horizon;
        let short = |part: &str, rows: usize| {
            let which = match &d.series_column {
                Some(col) => format!("series `{name}` ({col} = {name}): its {part} part"),
                None => format!("the {part} part"),
            };
            DataError::new(format!(
                "{which} has {rows} rows; the longest of data.lags ({skip}) leaves too few for one window of {} + {} steps",
                d.window, d.horizon
            ))
            .in_file(path)
            .with_hint("shorten data.lags or data.window")
        };
        if skip > 0 && need > n[0] {
            return Err(short("training", n[0]));
        }
        if d.series_column.is_some() {
            // Every series must give every part a window, or it would drop
            // out of a part unseen.
            for (i, part) in ["training", "validation", "test"].iter().enumerate() {
                let min = if i == 0 { need } else { d.window + d.horizon };
                if n[i] < min && (i == 0 || d.split[i] > 0.0) {
                    return Err(DataError::new(format!(
                        "series `{name}` has {} rows; its {part} part ({} rows) is shorter than one window of {} + {} steps{}",
                        target_rows.len(),
                        n[i],
                        d.window,
                        d.horizon,
                        if i == 0 && skip > 0 { format!(" after the longest lag ({skip})") } else { String::new() }
                    ))
                    .in_file(path)
                    .in_column(d.series_column.as_deref().unwrap_or_default())
                    .with_hint("leave the short series out of the file, or lower data.window or data.horizon"));
                }
            }
        }
        let mut start = 0;
        for (i, len) in n.iter().enumerate() {
            let from = start.max(skip);
            parts[i].push(Sequence {
                inputs: inputs[from * f..(start + len) * f].to_vec(),
                truth: Truth::Series(target_rows[from..start + len].to_vec()),
            });
            sizes[i] += len;
            start += len;
        }
        train_target.push(target_rows[..n[0]].to_vec());
    }
    let mut columns = d.columns.clone();
    columns.extend(d.lags.iter().map(|l| format!("{target}_lag{l}")));
    columns.extend(super::calendar::names(&d.calendar));
    columns.extend(lead_names(&d.future_columns, d.horizon));
    let multi = d.series_column.is_some();
    Ok(Source {
        records: if multi { Vec::new() } else { t.records },
        parts,
        sizes,
        columns,
        target: target.clone(),
        target_input: d.columns.iter().position(|c| c == target),
        slide: true,
        file: Some(path.to_path_buf()),
        train_target: (skip > 0 || multi).then_some(train_target),
        series: if multi {
            groups.into_iter().map(|(name, _)| name).collect()
        } else {
            Vec::new()
        },
    })
}

/// The rows of each series, by the series column's text on each row: series
/// in the order they first appear, rows in file order.
fn group_rows(ids: &[String]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (r, id) in ids.iter().enumerate() {
        let g = *index.entry(id.clone()).or_insert_with(|| {
            groups.push((id.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(r);
    }
    groups
}

/// The inputs (`f` values per row) with the target `lags` steps earlier
/// appended to each row (0 where that reaches before the first row: those
/// rows are not used); returns them with the new width.
fn with_lags(inputs: &[f32], f: usize, target: &[f32], lags: &[usize]) -> (Vec<f32>, usize) {
    if lags.is_empty() {
        return (inputs.to_vec(), f);
    }
    let width = f + lags.len();
    let mut out = Vec::with_capacity(target.len() * width);
    for (r, row) in inputs.chunks_exact(f.max(1)).enumerate() {
        out.extend_from_slice(row);
        out.extend(
            lags.iter()
                .map(|&l| if r >= l { target[r - l] } else { 0.0 }),
        );
    }
    (out, width)
}

/// The columns `want` of a row-major table whose columns are `have`.
fn pick(table: &[f32], have: &[String], want: &[String]) -> Vec<f32> {
    let index: Vec<usize> = want
        .iter()
        .map(|w| {
            have.iter()
                .position(|h| h == w)
                .expect("read with the table")
        })
        .collect();
    table
        .chunks_exact(have.len().max(1))
        .flat_map(|row| index.iter().map(|&i| row[i]))
        .collect()
}

/// The input column names of known-future columns led by `lead` steps.
pub(super) fn lead_names(columns: &[String], lead: usize) -> Vec<String> {
    columns.iter().map(|c| format!("{c}_lead{lead}")).collect()
}

/// The inputs (`f` values per row) with the `k` known-future values of row
/// `r + lead` appended to each row `r` (`future`, `k` per row); rows whose
/// lead reaches past the last row get 0 (no window reads them: a window's
/// last row is at least the horizon before the end of its part). Returns
/// them with the new width.
pub(super) fn with_leads(
    inputs: &[f32],
    f: usize,
    future: &[f32],
    k: usize,
    lead: usize,
) -> (Vec<f32>, usize) {
    if k == 0 {
        return (inputs.to_vec(), f);
    }
    let rows = future.len() / k;
    let mut out = Vec::with_capacity(rows * (f + k));
    for (r, row) in inputs.chunks_exact(f.max(1)).enumerate() {
        out.extend_from_slice(row);
        match future.get((r + lead) * k..(r + lead + 1) * k) {
            Some(ahead) => out.extend_from_slice(ahead),
            None => out.extend(std::iter::repeat_n(0.0, k)),
        }
    }
    (out, f + k)
}

/// Rows layout: each row one sequence, time-major; the target series is feature 0.
fn rows(exp: &Experiment, path: &Path) -> Result<Source, DataError> {
    let d = &exp.data;
    let f = d.features;
    super::error::check_file(path)?;
    let t = csv_read::read_rows(path, f, d.missing, d.transform)?;
    let steps = t.width / f;
    if steps < d.window + d.horizon {
        return Err(DataError::new(format!(
            "rows have {steps} steps ({} values / {f} features), fewer than window + horizon = {}",
            t.width,
            d.window + d.horizon
        ))
        .in_file(path)
        .with_hint("lower data.window or data.horizon, or check data.features"));
    }
    let seqs: Vec<Sequence> = t
        .values
        .chunks(t.width)
        .map(|row| Sequence {
            inputs: row.to_vec(),
            truth: Truth::Series(row.iter().step_by(f).copied().collect()),
        })
        .collect();
    let sizes = split_sizes(seqs.len(), d.split);
    let columns: Vec<String> = (0..f).map(|i| format!("feature{i}")).collect();
    Ok(Source {
        parts: by_order(seqs, sizes),
        sizes,
        target: columns[0].clone(),
        columns,
        target_input: Some(0),
        slide: false,
        file: Some(path.to_path_buf()),
        train_target: None,
        series: Vec::new(),
        records: Vec::new(),
    })
}

/// Synthetic sequences, seeded from the experiment's seed.
fn generated(exp: &Experiment) -> Result<Source, DataError> {
    let d = &exp.data;
    let Some(generator) = d.generator else {
        return Err(DataError::new("synthetic data needs a generator")
            .with_hint("set data.generator = \"two_sines\", \"sine\" or \"adding\""));
    };
    let adding = generator == Generator::Adding;
    let need = if adding {
        d.window
    } else {
        d.window + d.horizon
    };
    let length = d.length.unwrap_or(need);
    if adding && (length != d.window || length < 2) {
        return Err(DataError::new(format!(
            "the adding problem's input is the whole sequence, of at least 2 steps (data.length = {length}, data.window = {})",
            d.window
        ))
        .with_hint("set data.window ≥ 2 and leave data.length out (or equal to window)"));
    }
    if length < need {
        return Err(DataError::new(format!(
            "data.length = {length} is shorter than window + horizon = {need}"
        ))
        .with_hint("raise data.length or lower data.window / data.horizon"));
    }
    if adding && exp.task.kind != TaskKind::Regress {
        return Err(DataError::new("the adding problem has explicit targets")
            .with_hint("set task.kind = \"regress\""));
    }
    let seqs = synthetic::generate(generator, d.count, length, exp.seed);
    let sizes = split_sizes(seqs.len(), d.split);
    let (columns, target) = if adding {
        (vec!["value".to_string(), "marker".to_string()], "sum")
    } else {
        (vec!["x".to_string()], "x")
    };
    Ok(Source {
        parts: by_order(seqs, sizes),
        sizes,
        columns,
        target: target.to_string(),
        target_input: (!adding).then_some(0),
        slide: false,
        file: None,
        train_target: None,
        series: Vec::new(),
        records: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sizes_floor_train_and_valid() {
        assert_eq!(split_sizes(10_000, [0.7, 0.2, 0.1]), [7000, 2000, 1000]);
        assert_eq!(split_sizes(309, [0.7, 0.2, 0.1]), [216, 61, 32]);
        assert_eq!(split_sizes(10, [0.8, 0.2, 0.0]), [8, 2, 0]);
    }
}

#[cfg(test)]
mod lag_tests {
    #[test]
    fn lags_append_earlier_targets_without_the_future() {
        // Two input columns; the target is 10·r.
        let inputs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let target = [0.0, 10.0, 20.0, 30.0];
        let (out, w) = super::with_lags(&inputs, 2, &target, &[1, 3]);
        assert_eq!(w, 4);
        // Row 3: its inputs, y_2 and y_0; never y_3 or later.
        assert_eq!(&out[12..16], [7.0, 8.0, 20.0, 0.0]);
        assert_eq!(&out[4..8], [3.0, 4.0, 0.0, 0.0]);
    }

    #[test]
    fn leads_append_the_known_future_of_the_forecast_steps() {
        // One input column r; two known-future columns 100·r and 1000·r.
        let inputs = [0.0, 1.0, 2.0, 3.0, 4.0];
        let future: Vec<f32> = (0..5)
            .flat_map(|r| [100.0 * r as f32, 1000.0 * r as f32])
            .collect();
        let (out, w) = super::with_leads(&inputs, 1, &future, 2, 2);
        assert_eq!(w, 3);
        // Row 1 holds the values of row 3; rows 3 and 4 reach past the end.
        assert_eq!(&out[3..6], [1.0, 300.0, 3000.0]);
        assert_eq!(&out[9..], [3.0, 0.0, 0.0, 4.0, 0.0, 0.0]);
        let names = super::super::source::lead_names(&["temp".into()], 48);
        assert_eq!(names, ["temp_lead48"]);
    }
}
