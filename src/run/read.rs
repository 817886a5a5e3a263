//! Reading a run directory back into events: [`load`] a whole run at once, or
//! [`Follower`] to tail one that is still being written.
//!
//! Rows are merged back into the order the trainer emitted them: by step, and
//! within a step the `Step` first, then the evaluation, its predictions and
//! the notes — except that a note written before the evaluation (a pause or
//! tune just before a stopped run's final evaluation) keeps its place by its
//! time. A last line without its newline is a write in progress (or torn by a
//! crash): [`load`] ignores it, [`Follower`] waits for the rest of it.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Deserialize;

use crate::events::*;
use crate::experiment::Experiment;

use super::{EVAL_HEAD, EVENTS_HEAD, FLOW_GATE, FLOW_TIME, METRICS_HEAD};

/// Bytes read from a file at a time.
const CHUNK: usize = 4 << 20;
/// Metrics bytes one [`Follower::poll`] reads at most (~50,000 rows), so
/// catching up with a long run goes in small bites.
const POLL_BYTES: u64 = 8 << 20;
/// Gradient-flow snapshots [`load`] keeps at most (evenly spaced, the last
/// always), so a long run's replay stays small in memory.
const MAX_FLOWS: usize = 2000;
/// Chunks at least this big are parsed on every core.
const PARALLEL_BYTES: usize = 256 << 10;

/// A run-directory file that cannot be read, or a line in it that cannot be parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadError {
    pub path: PathBuf,
    /// 1-based line, when one line is at fault.
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ReadError {}

fn error(path: &Path, line: Option<u64>, message: impl Into<String>) -> ReadError {
    ReadError {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// A whole recorded run: its info, its events in emission order (`Started`
/// first, `Finished` last when the run is over), and how it ended.
///
/// Steps are kept column-wise (about 8 bytes per value), not as events; the
/// events are made on the fly by [`Recorded::events`] and [`Recorded::span`].
pub struct Recorded {
    pub info: RunInfo,
    /// `None` while `summary.json` says the run is still running (or it is missing).
    pub outcome: Option<Outcome>,
    timeline: Timeline,
}

impl Recorded {
    /// Number of `Step` events (rows of `metrics.csv`).
    pub fn steps(&self) -> usize {
        self.timeline.table.len()
    }

    /// Number of events of every kind.
    pub fn len(&self) -> usize {
        self.steps() + self.timeline.others.len()
    }

    /// Whether there are no events at all (never: `Started` is always there).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every event, in order.
    pub fn events(&self) -> Events<'_> {
        self.timeline.events()
    }

    /// The events that take a view showing the first `from` steps to showing
    /// the first `to` (`from ≤ to ≤ steps()`). A view "showing `n` steps" has
    /// seen everything up to and including step row `n` and what followed it
    /// before the next row; [`Recorded::head`] shows 0 steps.
    pub fn span(&self, from: usize, to: usize) -> Events<'_> {
        self.timeline.span(from, to)
    }

    /// The events before the first step (`Started`, the start note).
    pub fn head(&self) -> Events<'_> {
        self.timeline.span_from_start(0)
    }

    /// Wall-clock seconds of the `i`-th step row (0-based).
    pub fn wall_s(&self, i: usize) -> f64 {
        self.timeline.table.wall_s(i)
    }

    /// The step number of the `i`-th step row (0-based).
    pub fn step_number(&self, i: usize) -> u64 {
        self.timeline.table.step(i)
    }

    /// How many step rows have a step number of at most `step`.
    pub fn rows_through(&self, step: u64) -> usize {
        self.timeline.table.rows_through(step)
    }
}

/// Reads a run directory: completed, stopped, diverged, failed, crashed or
/// still running. Missing `info.json` (runs recorded before it existed) is
/// rebuilt from `experiment.toml`, `summary.json` and the metrics.
pub fn load(dir: &Path) -> Result<Recorded, ReadError> {
    let mut f = Follower::open(dir)?;
    let metrics = dir.join("metrics.csv");
    let size = match fs::metadata(&metrics) {
        Ok(m) => m.len(),
        Err(_) => {
            return Err(error(
                &metrics,
                None,
                "missing: not a run directory, or the run never started",
            ))
        }
    };
    let outcome = outcome(dir)?;
    let mut batch = Batch {
        flow_sample: Some(Sampler::new(MAX_FLOWS)),
        ..Batch::default()
    };
    f.read_others(&mut batch)?;
    batch.flows = batch
        .flow_sample
        .take()
        .map(Sampler::finish)
        .unwrap_or_default();
    thin(&mut batch.flows, MAX_FLOWS);
    // Rows are at least ~48 bytes; unused capacity is never touched, so it
    // costs no memory (and shrinking it afterwards would copy the table).
    batch.table.reserve((size / 48) as usize);
    f.read_metrics(&mut batch.table, u64::MAX)?;
    let info = match (read_json::<RunInfo>(&dir.join("info.json"))?, &f.groups) {
        (Some(info), _) => info,
        (None, Some(groups)) => reconstruct(dir, groups.clone(), &batch.table)?,
        (None, None) => {
            let message = "missing, and metrics.csv has no header: the run never started";
            return Err(error(&dir.join("info.json"), None, message));
        }
    };
    f.info_groups = Some(info.groups.clone());
    f.check_groups()?;
    let timeline = Timeline::new(batch, Some(info.clone()), outcome.clone());
    Ok(Recorded {
        info,
        outcome,
        timeline,
    })
}

/// An evenly spaced sample of a stream that never holds more than about
/// `2·max` items: every `stride`-th item, the stride doubling whenever the
/// sample fills, and the last item.
struct Sampler<T> {
    max: usize,
    stride: usize,
    seen: usize,
    kept: Vec<T>,
    /// The newest item, when the sample does not hold it.
    last: Option<T>,
}

impl<T> Sampler<T> {
    fn new(max: usize) -> Sampler<T> {
        Sampler {
            max: max.max(1),
            stride: 1,
            seen: 0,
            kept: Vec::new(),
            last: None,
        }
    }

    fn push(&mut self, item: T) {
        if self.seen.is_multiple_of(self.stride) {
            self.kept.push(item);
            self.last = None;
            if self.kept.len() >= 2 * self.max {
                // Keep the items at even places (multiples of twice the stride).
                self.last = self.kept.pop();
                let mut i = 0;
                self.kept.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
        } else {
            self.last = Some(item);
        }
        self.seen += 1;
    }

    fn finish(self) -> Vec<T> {
        let mut kept = self.kept;
        kept.extend(self.last);
        kept
    }
}

/// Keeps at most `max` of `v`, evenly spaced, the last one always.
fn thin<T>(v: &mut Vec<T>, max: usize) {
    let n = v.len();
    if n <= max || max == 0 {
        return;
    }
    let every = n.div_ceil(max);
    let mut i = 0;
    v.retain(|_| {
        i += 1;
        (n - i).is_multiple_of(every)
    });
}

/// Tails a run directory that may still be growing: each [`poll`](Follower::poll)
/// returns the events of the lines completed since the last one, once each, in order.
pub struct Follower {
    dir: PathBuf,
    started: bool,
    finished: bool,
    metrics: Tail,
    eval: Tail,
    events: Tail,
    predictions: Tail,
    flow: Tail,
    /// The columns of `flow.csv`, once its header is read.
    flow_columns: Option<FlowColumns>,
    /// Gradient-norm groups from the metrics header, once read.
    groups: Option<Vec<String>>,
    /// The groups `info.json` announces, once read.
    info_groups: Option<Vec<String>>,
    /// Metric names from the eval header, once read.
    eval_names: Option<Vec<String>>,
    events_header: bool,
    /// Rows read ahead of the metrics (only while the metrics are behind).
    held: Batch,
    last_step: u64,
    behind: bool,
}

impl Follower {
    /// Starts at the beginning of the run directory `dir` (which must exist).
    pub fn open(dir: &Path) -> Result<Follower, ReadError> {
        if !dir.is_dir() {
            return Err(error(dir, None, "no such run directory"));
        }
        let tail = |name: &str, csv| Tail::new(dir.join(name), csv);
        Ok(Follower {
            dir: dir.to_path_buf(),
            started: false,
            finished: false,
            metrics: tail("metrics.csv", false),
            eval: tail("eval.csv", false),
            events: tail("events.csv", true),
            predictions: tail("predictions.jsonl", false),
            flow: tail("flow.csv", false),
            flow_columns: None,
            groups: None,
            info_groups: None,
            eval_names: None,
            events_header: false,
            held: Batch::default(),
            last_step: 0,
            behind: false,
        })
    }

    /// The events of everything completed since the last poll: `Started` once
    /// `info.json` exists, then the rows, and `Finished` once `summary.json`
    /// says the run is over and every row has been read.
    pub fn poll(&mut self) -> Result<Vec<Event>, ReadError> {
        if self.finished {
            return Ok(Vec::new());
        }
        let mut start = None;
        if !self.started {
            let path = self.dir.join("info.json");
            match read_json::<RunInfo>(&path)? {
                Some(info) => start = Some(info),
                None if self.dir.join("metrics.csv").metadata().is_ok_and(|m| m.len() > 0) => {
                    return Err(error(
                        &path,
                        None,
                        "missing: this run was recorded by an older rnnlab; replay it once it is over",
                    ))
                }
                None => return Ok(Vec::new()),
            }
        }
        // The trainer writes the summary's final status only after flushing every
        // row, and flushes the metrics before the other files: reading in this
        // order never sees an evaluation or note ahead of its step's row.
        let outcome = outcome(&self.dir)?;
        let mut batch = std::mem::take(&mut self.held);
        self.read_others(&mut batch)?;
        let done = self.read_metrics(&mut batch.table, POLL_BYTES)?;
        if let Some(info) = &start {
            self.info_groups = Some(info.groups.clone());
            self.started = true;
        }
        self.check_groups()?;
        self.behind = !done;
        let end = if done {
            self.finished = outcome.is_some();
            outcome
        } else {
            self.last_step = batch.table.last_step().unwrap_or(self.last_step);
            self.held = batch.hold_after(self.last_step);
            None
        };
        Ok(Timeline::new(batch, start, end).events().collect())
    }

    /// Whether the last poll stopped early with more complete rows waiting.
    pub fn behind(&self) -> bool {
        self.behind
    }

    fn read_others(&mut self, batch: &mut Batch) -> Result<(), ReadError> {
        let names = &mut self.eval_names;
        self.eval.read(u64::MAX, |chunk| {
            for (at, rec) in records(chunk, false) {
                match names {
                    None => *names = Some(header(rec, &EVAL_HEAD).map_err(|m| (at, m))?),
                    Some(names) => batch.evals.push(eval_row(rec, names).map_err(|m| (at, m))?),
                }
            }
            Ok(())
        })?;
        let seen = &mut self.events_header;
        self.events.read(u64::MAX, |chunk| {
            for (at, rec) in records(chunk, true) {
                if *seen {
                    batch.notes.push(note_row(rec).map_err(|m| (at, m))?);
                    continue;
                }
                match header(rec, &EVENTS_HEAD).map_err(|m| (at, m))?.first() {
                    None => *seen = true,
                    Some(c) => return Err((at, format!("unexpected column `{c}`"))),
                }
            }
            Ok(())
        })?;
        self.predictions.read(u64::MAX, |chunk| {
            for (at, rec) in records(chunk, false) {
                let p = serde_json::from_slice(rec)
                    .map_err(|e| (at, format!("not a predictions record: {e}")))?;
                batch.predictions.push(p);
            }
            Ok(())
        })?;
        let columns = &mut self.flow_columns;
        self.flow.read(u64::MAX, |chunk| {
            for (at, rec) in records(chunk, false) {
                match columns {
                    None => *columns = Some(FlowColumns::parse(rec).map_err(|m| (at, m))?),
                    Some(c) => {
                        let row = c.row(rec).map_err(|m| (at, m))?;
                        match &mut batch.flow_sample {
                            Some(sample) => sample.push(row),
                            None => batch.flows.push(row),
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Reads about `max` bytes of metrics rows at most; returns whether all were read.
    fn read_metrics(&mut self, table: &mut Table, max: u64) -> Result<bool, ReadError> {
        let groups = &mut self.groups;
        if let Some(g) = groups {
            table.groups = g.len();
        }
        self.metrics.read(max, |chunk| {
            let mut rows = 0;
            if groups.is_none() {
                let Some((at, rec)) = records(chunk, false).next() else {
                    return Ok(());
                };
                let g = metrics_header(rec).map_err(|m| (at, m))?;
                table.groups = g.len();
                *groups = Some(g);
                rows = at + complete_first(&chunk[at..], false);
            }
            table.push_rows(&chunk[rows..], rows)
        })
    }

    fn check_groups(&self) -> Result<(), ReadError> {
        match (&self.groups, &self.info_groups) {
            (Some(g), Some(info)) if g != info => Err(error(
                &self.metrics.path,
                Some(1),
                format!(
                    "the gradient-norm columns ({}) do not match info.json's groups ({})",
                    g.join(", "),
                    info.join(", ")
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Rows read and not yet merged.
#[derive(Default)]
struct Batch {
    table: Table,
    evals: Vec<EvalStats>,
    predictions: Vec<Predictions>,
    flows: Vec<FlowStats>,
    /// When set, flow rows are sampled into it instead of kept in `flows`.
    flow_sample: Option<Sampler<FlowStats>>,
    notes: Vec<Note>,
}

impl Batch {
    /// Moves the non-step rows after `step` into a new batch.
    fn hold_after(&mut self, step: u64) -> Batch {
        fn split<T>(v: &mut Vec<T>, at: impl Fn(&T) -> bool) -> Vec<T> {
            let i = v.iter().position(at).unwrap_or(v.len());
            v.split_off(i)
        }
        Batch {
            table: Table::default(),
            evals: split(&mut self.evals, |e| e.step > step),
            predictions: split(&mut self.predictions, |p| p.step > step),
            flows: split(&mut self.flows, |f| f.step > step),
            flow_sample: None,
            notes: split(&mut self.notes, |n| n.step > step),
        }
    }
}

/// Step rows column-wise and compact (about 36 bytes a row with three
/// groups): step numbers as runs of consecutive numbers, epochs and learning
/// rates as runs of equal values, wall time and throughput as f64, and the
/// loss and gradient norms as f32, the precision they are recorded at.
#[derive(Default)]
struct Table {
    groups: usize,
    rows: usize,
    /// (first row, its step) of each run of consecutive step numbers.
    steps: Vec<(usize, u64)>,
    /// (first row, epoch) of each run of rows in one epoch.
    epochs: Vec<(usize, u32)>,
    /// (first row, rate) of each run of rows at one learning rate.
    lrs: Vec<(usize, f64)>,
    /// `wall_s, samples_per_s` per row.
    wide: Vec<f64>,
    /// `loss, grad_norm`, then one norm per group, per row.
    narrow: Vec<f32>,
}

/// The run holding `row`: the last whose first row is at most `row`.
fn run_at<T: Copy>(runs: &[(usize, T)], row: usize) -> (usize, T) {
    runs[runs.partition_point(|&(first, _)| first <= row) - 1]
}

/// Appends `value` at `row` to runs of equal values (`same` tells equal).
fn extend_runs<T: Copy>(
    runs: &mut Vec<(usize, T)>,
    row: usize,
    value: T,
    same: impl Fn(T, T) -> bool,
) {
    if !runs.last().is_some_and(|&(_, v)| same(v, value)) {
        runs.push((row, value));
    }
}

/// One parsed `metrics.csv` row.
struct Row {
    step: u64,
    epoch: u32,
    lr: f64,
    wide: [f64; 2],
}

impl Table {
    fn narrow_width(&self) -> usize {
        2 + self.groups
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn reserve(&mut self, rows: usize) {
        self.wide.reserve(2 * rows);
        self.narrow.reserve(rows * self.narrow_width());
    }

    /// Appends a row whose loss and norms are already on `narrow`.
    fn push(&mut self, r: Row) {
        let row = self.rows;
        let next = self
            .steps
            .last()
            .map(|&(first, step)| step + (row - first) as u64);
        if next != Some(r.step) {
            self.steps.push((row, r.step));
        }
        extend_runs(&mut self.epochs, row, r.epoch, |a, b| a == b);
        extend_runs(&mut self.lrs, row, r.lr, |a, b| a.to_bits() == b.to_bits());
        self.wide.extend_from_slice(&r.wide);
        self.rows += 1;
    }

    /// Appends the rows of `other`.
    fn append(&mut self, other: Table) {
        for i in 0..other.rows {
            self.push(Row {
                step: other.step(i),
                epoch: run_at(&other.epochs, i).1,
                lr: run_at(&other.lrs, i).1,
                wide: [other.wide[2 * i], other.wide[2 * i + 1]],
            });
        }
        self.narrow.extend_from_slice(&other.narrow);
    }

    fn step(&self, i: usize) -> u64 {
        let (first, step) = run_at(&self.steps, i);
        step + (i - first) as u64
    }

    fn last_step(&self) -> Option<u64> {
        self.rows.checked_sub(1).map(|i| self.step(i))
    }

    /// How many rows have a step number of at most `step` (rows are in step order).
    fn rows_through(&self, step: u64) -> usize {
        let (mut lo, mut hi) = (0, self.rows);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.step(mid) <= step {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Parses whole `metrics.csv` rows (`chunk` starts at byte `base` of
    /// the caller's chunk), a big chunk in pieces on every core.
    fn push_rows(&mut self, chunk: &[u8], base: usize) -> Result<(), Bad> {
        let chunk = std::str::from_utf8(chunk)
            .map_err(|e| (base + e.valid_up_to(), "not UTF-8 text".to_string()))?;
        let parts = rayon::current_num_threads();
        if chunk.len() < PARALLEL_BYTES || parts < 2 {
            return self.parse_rows(chunk, base);
        }
        let mut pieces = Vec::with_capacity(parts);
        let mut at = 0;
        for k in 1..=parts {
            let goal = (chunk.len() * k / parts).max(at);
            let end = match chunk[goal..].find('\n') {
                Some(i) if k < parts => goal + i + 1,
                _ => chunk.len(),
            };
            pieces.push((at, &chunk[at..end]));
            at = end;
        }
        let tables: Vec<Result<Table, Bad>> = pieces
            .into_par_iter()
            .map(|(at, piece)| {
                let mut t = Table {
                    groups: self.groups,
                    ..Table::default()
                };
                t.parse_rows(piece, base + at).map(|_| t)
            })
            .collect();
        for t in tables {
            self.append(t?);
        }
        Ok(())
    }

    /// Parses whole rows in one pass over the bytes; stops at the first bad one.
    fn parse_rows(&mut self, chunk: &str, base: usize) -> Result<(), Bad> {
        let mut at = 0;
        while at < chunk.len() {
            let start = at;
            if let Some(row) = self
                .parse_row(chunk, &mut at)
                .map_err(|m| (base + start, m))?
            {
                self.push(row);
            }
        }
        Ok(())
    }

    /// Parses the row at `at` (`None` for a blank line) and moves past its
    /// newline; its loss and norms go onto `narrow`.
    fn parse_row(&mut self, chunk: &str, at: &mut usize) -> Result<Option<Row>, String> {
        let start = *at;
        for blank in ["\n", "\r\n"] {
            if chunk[start..].starts_with(blank) {
                *at += blank.len();
                return Ok(None);
            }
        }
        let fields = 5 + self.narrow_width();
        let names = METRICS_HEAD
            .iter()
            .chain(std::iter::repeat(&"gradient norm"));
        let mut row = Row {
            step: 0,
            epoch: 0,
            lr: 0.0,
            wide: [0.0; 2],
        };
        let narrow = self.narrow.len();
        for (col, name) in names.take(fields).enumerate() {
            let rest = &chunk[*at..];
            let field = &rest[..field_len(rest.as_bytes())];
            let bad = || format!("{name}: `{field}` is not a number");
            let wide = || float(field).ok_or_else(bad);
            match col {
                0 => row.step = field.parse().map_err(|_| bad())?,
                1 => row.epoch = field.parse().map_err(|_| bad())?,
                2 => row.wide[0] = wide()?,
                5 => row.lr = wide()?,
                6 => row.wide[1] = wide()?,
                _ => match float32(field) {
                    Some(v) => self.narrow.push(v),
                    None => {
                        self.narrow.truncate(narrow);
                        return Err(bad());
                    }
                },
            }
            *at += field.len();
            let last = col + 1 == fields;
            *at += match (&chunk.as_bytes()[*at..], last) {
                ([b',', ..], false) | ([b'\n', ..], true) => 1,
                ([b'\r', b'\n', ..], true) => 2,
                ([], true) => 0,
                _ => {
                    self.narrow.truncate(narrow);
                    let line = chunk[start..].lines().next().unwrap_or_default();
                    *at = start + line.len() + 1;
                    let found = line.split(',').count();
                    return Err(format!("{found} fields, expected {fields}"));
                }
            };
        }
        Ok(Some(row))
    }

    fn wall_s(&self, i: usize) -> f64 {
        self.wide[2 * i]
    }

    fn get(&self, i: usize) -> StepStats {
        let w = self.narrow_width();
        let v = &self.narrow[i * w..(i + 1) * w];
        StepStats {
            step: self.step(i),
            epoch: run_at(&self.epochs, i).1 as usize,
            wall_s: self.wide[2 * i],
            loss: f64::from(v[0]),
            grad_norm: f64::from(v[1]),
            lr: run_at(&self.lrs, i).1,
            samples_per_s: self.wide[2 * i + 1],
            group_norms: v[2..].iter().map(|&x| f64::from(x)).collect(),
        }
    }
}

fn number<T: std::str::FromStr>(field: &[u8], what: &str) -> Result<T, String> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "{what}: `{}` is not a number",
                String::from_utf8_lossy(field)
            )
        })
}

/// The length of the field at the start of `s`: up to a `,`, `\r`, `\n` or
/// the end. Scans eight bytes at a time.
fn field_len(s: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let has = |w: u64, b: u8| {
        let x = w ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut i = 0;
    while let Some(bytes) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
        let found = has(w, b',') | has(w, b'\n') | has(w, b'\r');
        if found != 0 {
            return i + found.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(|&b| matches!(b, b',' | b'\n' | b'\r'))
        .unwrap_or(s.len() - i)
}

/// Parses a number exactly as `f64::from_str` does, plain decimals fast.
fn float(field: &str) -> Option<f64> {
    clinger(field.as_bytes()).or_else(|| field.parse().ok())
}

/// Parses a number exactly as `f32::from_str` does, short plain decimals fast.
fn float32(field: &str) -> Option<f32> {
    const POW10: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
    match decimal(field.as_bytes()) {
        // Both exact in f32, so the quotient is correctly rounded (Clinger).
        Some((negative, w, scale)) if w <= 1 << 24 && scale < POW10.len() => {
            let v = w as f32 / POW10[scale];
            Some(if negative { -v } else { v })
        }
        _ => field.parse().ok(),
    }
}

/// A plain decimal whose digits fit in 2^53, fast and exactly: an exact
/// integer divided by an exact power of ten is correctly rounded (Clinger).
fn clinger(field: &[u8]) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (negative, w, scale) = decimal(field)?;
    if w > 1 << 53 || scale >= POW10.len() {
        return None;
    }
    let v = w as f64 / POW10[scale];
    Some(if negative { -v } else { v })
}

/// A plain decimal of at most 17 characters (`-`, digits and one `.`): its
/// sign, its digits as an integer and how many follow the point.
fn decimal(field: &[u8]) -> Option<(bool, u64, usize)> {
    // Longer fields rarely fit (shortest round-trip output has up to 17
    // digits); leave them to `from_str` at once.
    if field.len() > 17 {
        return None;
    }
    let (negative, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, field),
    };
    let (mut w, mut scale, mut dot, mut any) = (0u64, 0, false, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                w = w * 10 + u64::from(b - b'0');
                scale += usize::from(dot);
                any = true;
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    any.then_some((negative, w, scale))
}

/// The gradient-norm groups named by the `metrics.csv` header.
fn metrics_header(rec: &[u8]) -> Result<Vec<String>, String> {
    header(rec, &METRICS_HEAD)?
        .into_iter()
        .map(|c| match c.strip_prefix("grad_norm.") {
            Some(name) => Ok(name.to_string()),
            None => Err(format!("unexpected column `{c}`")),
        })
        .collect()
}

/// Checks a header's first columns; returns the rest.
fn header(rec: &[u8], expected: &[&str]) -> Result<Vec<String>, String> {
    let mut cols = csv_fields(rec)?;
    if cols.len() < expected.len() || cols[..expected.len()] != *expected {
        return Err(format!(
            "not the header this file should have (`{}`…)",
            expected.join(",")
        ));
    }
    Ok(cols.split_off(expected.len()))
}

/// The layout of `flow.csv`: `step`, the gate columns, then each layer's time steps.
struct FlowColumns {
    gates: Vec<String>,
    /// (layer, time steps) in column order.
    layers: Vec<(String, usize)>,
}

impl FlowColumns {
    fn parse(rec: &[u8]) -> Result<FlowColumns, String> {
        let mut c = FlowColumns {
            gates: Vec::new(),
            layers: Vec::new(),
        };
        for col in header(rec, &["step"])? {
            if let Some(g) = col.strip_prefix(FLOW_GATE) {
                if !c.layers.is_empty() {
                    return Err(format!("gate column `{col}` after the time columns"));
                }
                c.gates.push(g.to_string());
                continue;
            }
            let parsed = col
                .strip_prefix(FLOW_TIME)
                .and_then(|rest| rest.rsplit_once(".t"))
                .and_then(|(layer, t)| Some((layer, t.parse::<usize>().ok()?)));
            let Some((layer, t)) = parsed else {
                return Err(format!("unexpected column `{col}`"));
            };
            match c.layers.last_mut() {
                Some((name, n)) if name == layer && *n == t => *n += 1,
                _ if t == 0 => c.layers.push((layer.to_string(), 1)),
                _ => return Err(format!("column `{col}` out of order")),
            }
        }
        Ok(c)
    }

    fn row(&self, rec: &[u8]) -> Result<FlowStats, String> {
        let f: Vec<&[u8]> = rec.split(|&b| b == b',').collect();
        let width = 1 + self.gates.len() + self.layers.iter().map(|(_, n)| n).sum::<usize>();
        if f.len() != width {
            return Err(format!("{} fields, expected {width}", f.len()));
        }
        let gates = self
            .gates
            .iter()
            .zip(&f[1..])
            .map(|(g, v)| Ok((g.clone(), number(v, g)?)))
            .collect::<Result<_, String>>()?;
        let mut at = 1 + self.gates.len();
        let mut time = Vec::with_capacity(self.layers.len());
        for (layer, n) in &self.layers {
            // A sequence shorter than the window leaves the rest of its cells empty.
            let norms = f[at..at + n]
                .iter()
                .take_while(|v| !v.is_empty())
                .map(|v| number(v, layer))
                .collect::<Result<_, String>>()?;
            time.push((layer.clone(), norms));
            at += n;
        }
        Ok(FlowStats {
            step: number(f[0], "step")?,
            time,
            gates,
        })
    }
}

fn eval_row(rec: &[u8], names: &[String]) -> Result<EvalStats, String> {
    let f: Vec<&[u8]> = rec.split(|&b| b == b',').collect();
    if f.len() != EVAL_HEAD.len() + names.len() {
        return Err(format!(
            "{} fields, expected {}",
            f.len(),
            EVAL_HEAD.len() + names.len()
        ));
    }
    let metrics = names
        .iter()
        .zip(&f[EVAL_HEAD.len()..])
        .map(|(n, v)| Ok((n.clone(), number(v, n)?)))
        .collect::<Result<_, String>>()?;
    Ok(EvalStats {
        step: number(f[0], "step")?,
        epoch: number(f[1], "epoch")?,
        wall_s: number(f[2], "wall_s")?,
        valid_loss: number(f[3], "valid_loss")?,
        metrics,
    })
}

fn note_row(rec: &[u8]) -> Result<Note, String> {
    let f = csv_fields(rec)?;
    let [step, wall_s, kind, detail] =
        <[String; 4]>::try_from(f).map_err(|f| format!("{} fields, expected 4", f.len()))?;
    let kind = NoteKind::deserialize(kind.as_str().into_deserializer())
        .map_err(|_: serde::de::value::Error| format!("unknown event kind `{kind}`"))?;
    Ok(Note {
        step: number(step.as_bytes(), "step")?,
        wall_s: number(wall_s.as_bytes(), "wall_s")?,
        kind,
        detail,
    })
}

/// Splits a CSV record into fields, unquoting `"…"` (with `""` for a quote).
fn csv_fields(rec: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(rec).map_err(|_| "not UTF-8 text".to_string())?;
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(field);
    Ok(fields)
}

/// The parts of `summary.json` read back (the rest may change between versions).
#[derive(Deserialize)]
struct SummaryHead {
    status: Status,
    #[serde(default)]
    steps: u64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    parameters: usize,
}

/// How the run in `dir` ended, once `summary.json` says it is over (`None`
/// while it is running, or before it has started).
pub fn outcome(dir: &Path) -> Result<Option<Outcome>, ReadError> {
    let summary = read_json::<SummaryHead>(&dir.join("summary.json"))?;
    Ok(summary
        .filter(|s| s.status != Status::Running)
        .map(|s| Outcome {
            status: s.status,
            steps: s.steps,
            message: s.message,
        }))
}

/// A JSON file written atomically; `None` if it does not exist (yet).
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ReadError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(path, None, format!("cannot read: {e}"))),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| error(path, Some(e.line() as u64), e.to_string()))
}

/// A `RunInfo` for a run recorded before `info.json` existed.
fn reconstruct(dir: &Path, groups: Vec<String>, table: &Table) -> Result<RunInfo, ReadError> {
    let path = dir.join("experiment.toml");
    let text = fs::read_to_string(&path).map_err(|e| {
        error(
            &dir.join("info.json"),
            None,
            format!("missing, and experiment.toml cannot be read either ({e})"),
        )
    })?;
    let exp: Experiment = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start].lines().count().max(1) as u64);
        error(&path, line, e.message())
    })?;
    let summary = read_json::<SummaryHead>(&dir.join("summary.json"))?;
    let target = read_json::<serde_json::Value>(&dir.join("scaler.json"))?
        .and_then(|s| s.get("target")?.as_str().map(String::from));
    let t = &exp.train;
    let last = table.last_step().unwrap_or(0);
    // An epoch's steps, if a later epoch shows where the first one ended.
    let per_epoch = table.epochs.get(1).map_or(last, |&(row, _)| row as u64);
    let mut total = per_epoch * t.epochs as u64;
    if t.max_steps > 0 {
        total = total.min(t.max_steps);
    }
    Ok(RunInfo {
        name: exp.name.clone(),
        run_dir: dir.display().to_string(),
        model: summary.as_ref().map_or(String::new(), |s| s.model.clone()),
        parameters: summary.as_ref().map_or(0, |s| s.parameters),
        steps_per_epoch: per_epoch,
        total_steps: total.max(last),
        epochs: t.epochs,
        groups,
        learning_rate: t.learning_rate,
        clip_grad_norm: t.clip_grad_norm,
        eval_every: t.eval_every,
        horizon: exp.data.horizon,
        target: target.unwrap_or_default(),
        temperature: exp.task.temperature,
    })
}

/// Step rows and the other events merged in emission order; `anchors[i]` is
/// the number of step rows before `others[i]`.
struct Timeline {
    table: Table,
    others: Vec<Event>,
    anchors: Vec<usize>,
}

impl Timeline {
    fn new(batch: Batch, start: Option<RunInfo>, end: Option<Outcome>) -> Timeline {
        let Batch {
            table,
            evals,
            predictions,
            flows,
            notes,
            ..
        } = batch;
        let mut others =
            Vec::with_capacity(evals.len() + predictions.len() + flows.len() + notes.len() + 2);
        others.extend(start.map(Event::Started));
        let (mut e, mut p, mut fl, mut n) = (
            evals.into_iter().peekable(),
            predictions.into_iter().peekable(),
            flows.into_iter().peekable(),
            notes.into_iter().peekable(),
        );
        loop {
            let (es, ps, fs, ns) = (
                e.peek().map(|x| x.step),
                p.peek().map(|x| x.step),
                fl.peek().map(|x| x.step),
                n.peek().map(|x| x.step),
            );
            let Some(min) = [es, ps, fs, ns].into_iter().flatten().min() else {
                break;
            };
            let at = |s: Option<u64>| s == Some(min);
            // Within a step the trainer emits the flow snapshot right after the step row.
            let next = if at(fs) {
                fl.next().map(Event::Flow)
            } else if at(es) {
                let (eval, note) = (e.peek(), n.peek());
                match (eval, note) {
                    (Some(ev), Some(no)) if at(ns) && no.wall_s < ev.wall_s => {
                        n.next().map(Event::Note)
                    }
                    _ => e.next().map(Event::Eval),
                }
            } else if at(ps) {
                p.next().map(Event::Predictions)
            } else {
                n.next().map(Event::Note)
            };
            others.extend(next);
        }
        let mut anchors = Vec::with_capacity(others.len() + 1);
        let mut rows = 0;
        for event in &others {
            let step = match event {
                Event::Eval(x) => x.step,
                Event::Predictions(x) => x.step,
                Event::Flow(x) => x.step,
                Event::Note(x) => x.step,
                _ => 0,
            };
            while rows < table.len() && table.step(rows) <= step {
                rows += 1;
            }
            anchors.push(if matches!(event, Event::Started(_)) {
                0
            } else {
                rows
            });
        }
        if let Some(o) = end {
            others.push(Event::Finished(o));
            anchors.push(table.len());
        }
        Timeline {
            table,
            others,
            anchors,
        }
    }

    fn events(&self) -> Events<'_> {
        self.span_from_start(self.table.len())
    }

    fn span_from_start(&self, to: usize) -> Events<'_> {
        Events {
            timeline: self,
            rows: 0,
            to,
            other: 0,
        }
    }

    fn span(&self, from: usize, to: usize) -> Events<'_> {
        Events {
            timeline: self,
            rows: from,
            to: to.max(from),
            other: self.anchors.partition_point(|&a| a <= from),
        }
    }
}

/// An iterator over a stretch of a [`Recorded`] run's events.
pub struct Events<'a> {
    timeline: &'a Timeline,
    /// Step rows yielded so far (counting from the start of the run).
    rows: usize,
    to: usize,
    other: usize,
}

impl Iterator for Events<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let t = self.timeline;
        if self.other < t.others.len() && t.anchors[self.other] <= self.rows {
            self.other += 1;
            return Some(t.others[self.other - 1].clone());
        }
        if self.rows < self.to.min(t.table.len()) {
            self.rows += 1;
            return Some(Event::Step(t.table.get(self.rows - 1)));
        }
        None
    }
}

/// One file read incrementally from a byte offset.
struct Tail {
    path: PathBuf,
    /// Where the first record not yet read starts.
    offset: u64,
    /// The file's inode, once opened: a file replaced under us (a resumed
    /// run rewrites its logs) cannot be followed from an offset.
    inode: Option<u64>,
    /// CSV with quoting: a newline inside a quoted field does not end a record.
    csv: bool,
}

/// A bad record: its byte offset in the chunk, and what is wrong with it.
type Bad = (usize, String);

impl Tail {
    fn new(path: PathBuf, csv: bool) -> Tail {
        Tail {
            path,
            offset: 0,
            inode: None,
            csv,
        }
    }

    /// Hands the complete records after the offset to `each`, a chunk of whole
    /// records at a time, and moves past them, stopping after about `max`
    /// bytes. An unfinished last record stays for the next call. Returns
    /// whether everything was read. A missing file reads as empty; a record
    /// `each` refuses is an error at its line.
    fn read(
        &mut self,
        max: u64,
        mut each: impl FnMut(&[u8]) -> Result<(), Bad>,
    ) -> Result<bool, ReadError> {
        let io_error = |e: io::Error| error(&self.path, None, format!("cannot read: {e}"));
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(io_error(e)),
        };
        let meta = file.metadata().map_err(io_error)?;
        let size = meta.len();
        if self.inode.is_some_and(|i| i != meta.ino()) || size < self.offset {
            let message = "was rewritten while being read (the run was resumed?); open it again";
            return Err(error(&self.path, None, message));
        }
        self.inode = Some(meta.ino());
        if size == self.offset {
            return Ok(true);
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io_error)?;
        let mut buf = vec![0u8; CHUNK.min((size - self.offset) as usize + 1)];
        let (mut filled, mut taken) = (0, 0);
        loop {
            if taken >= max {
                return Ok(self.offset >= size);
            }
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = file.read(&mut buf[filled..]).map_err(io_error)?;
            if n == 0 {
                return Ok(true);
            }
            filled += n;
            if let Some(end) = complete(&buf[..filled], self.csv) {
                if let Err((at, message)) = each(&buf[..end]) {
                    let line = line_at(&self.path, self.offset + at as u64);
                    return Err(error(&self.path, line, message));
                }
                self.offset += end as u64;
                taken += end as u64;
                buf.copy_within(end..filled, 0);
                filled -= end;
            }
        }
    }
}

/// The length of the complete records at the start of `buf` (through the last
/// newline that ends a record), if there is one.
fn complete(buf: &[u8], csv: bool) -> Option<usize> {
    if !csv {
        return buf.iter().rposition(|&b| b == b'\n').map(|i| i + 1);
    }
    let (mut quoted, mut end) = (false, None);
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => end = Some(i + 1),
            _ => {}
        }
    }
    end
}

/// Each non-blank record of a chunk of whole records with its byte offset.
fn records(chunk: &[u8], csv: bool) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < chunk.len() {
            let len = complete_first(&chunk[at..], csv);
            let rec = &chunk[at..at + len];
            let start = at;
            at += len;
            let body = rec.strip_suffix(b"\n").unwrap_or(rec);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            if !body.is_empty() {
                return Some((start, body));
            }
        }
        None
    })
}

/// The length of the first record of `buf`, through its newline (or the end).
fn complete_first(buf: &[u8], csv: bool) -> usize {
    let mut quoted = false;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'"' if csv => quoted = !quoted,
            b'\n' if !quoted => return i + 1,
            _ => {}
        }
    }
    buf.len()
}

/// The 1-based line at a byte offset of a file (read again: errors only).
fn line_at(path: &Path, offset: u64) -> Option<u64> {
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take(offset)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::{float, float32, thin, Sampler, Table};

    /// The fast paths parse exactly as `from_str` does: shortest forms of
    /// f32 and f64 values, and short decimals of every scale.
    #[test]
    fn numbers_parse_exactly_as_from_str_does() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let bits = next();
            let v = f32::from_bits(bits as u32);
            if v.is_finite() {
                assert_eq!(
                    float32(&v.to_string()).map(f32::to_bits),
                    Some(v.to_bits()),
                    "{v}"
                );
            }
            let digits = format!("{}", bits % 10u64.pow((bits >> 60) as u32 % 12 + 1));
            let at = (bits >> 40) as usize % (digits.len() + 1);
            let text = format!("{}.{}", &digits[..at], &digits[at..]);
            let want32: f32 = text.parse().unwrap();
            assert_eq!(
                float32(&text).map(f32::to_bits),
                Some(want32.to_bits()),
                "{text}"
            );
            let want64: f64 = text.parse().unwrap();
            assert_eq!(
                float(&text).map(f64::to_bits),
                Some(want64.to_bits()),
                "{text}"
            );
        }
        assert_eq!(float32("-0.5"), Some(-0.5));
        assert!(float32("NaN").is_some_and(f32::is_nan));
        assert_eq!(
            (float32("1e-7"), float32("x"), float32(".")),
            (Some(1e-7), None, None)
        );
    }

    /// Rows read back exactly, in one piece or appended from two, with step
    /// numbers, epochs and rates kept as runs.
    #[test]
    fn the_step_table_reads_rows_back_exactly_and_keeps_runs_short() {
        let rows = [
            (1, 1, 0.1, "0.25"),
            (2, 1, 0.1, "0.125"),
            (3, 2, 0.1, "0.3333333"),
            (7, 2, 0.05, "0.1391985"),
            (8, 2, 0.05, "1e-7"),
            (9, 3, 0.1, "NaN"),
        ];
        let text: String = rows
            .iter()
            .map(|(step, epoch, lr, loss)| {
                format!("{step},{epoch},{step}.125,{loss},0.5,{lr},99.5,0.25,0.75\n")
            })
            .collect();
        let table = |pieces: &[&str]| {
            let mut whole = Table {
                groups: 2,
                ..Table::default()
            };
            for piece in pieces {
                let mut t = Table {
                    groups: 2,
                    ..Table::default()
                };
                t.parse_rows(piece, 0).unwrap();
                whole.append(t);
            }
            whole
        };
        let cut = text.match_indices('\n').nth(2).unwrap().0 + 1;
        for t in [table(&[&text]), table(&[&text[..cut], &text[cut..]])] {
            assert_eq!(t.len(), rows.len());
            for (i, (step, epoch, lr, loss)) in rows.iter().enumerate() {
                let s = t.get(i);
                assert_eq!((s.step, s.epoch, s.lr), (*step, *epoch, *lr), "row {i}");
                let want = f64::from(loss.parse::<f32>().unwrap());
                assert!(
                    s.loss == want || (s.loss.is_nan() && want.is_nan()),
                    "row {i}"
                );
                assert_eq!(s.wall_s, *step as f64 + 0.125);
                assert_eq!((s.grad_norm, s.samples_per_s), (0.5, 99.5));
                assert_eq!(s.group_norms, vec![0.25, 0.75]);
            }
            assert_eq!((t.steps.len(), t.epochs.len(), t.lrs.len()), (2, 3, 3));
            assert_eq!(
                (t.rows_through(0), t.rows_through(5), t.rows_through(7)),
                (0, 3, 4)
            );
            assert_eq!((t.rows_through(9), t.last_step()), (6, Some(9)));
        }
    }

    #[test]
    fn sampling_a_stream_keeps_evenly_spaced_items_the_last_and_little_memory() {
        for (n, max) in [(5000u32, 100), (7, 4), (199, 100), (200, 100), (1, 3)] {
            let mut s = Sampler::new(max);
            let mut most = 0;
            for i in 0..n {
                s.push(i);
                most = most.max(s.kept.len());
            }
            assert!(most < 2 * max, "({n},{max}) held {most}");
            let v = s.finish();
            assert_eq!(v.last(), Some(&(n - 1)), "({n},{max})");
            let body = &v[..v.len() - 1];
            let gaps: Vec<u32> = body.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(
                gaps.windows(2).all(|g| g[0] == g[1]),
                "({n},{max}) {gaps:?}"
            );
            assert!(body.first().is_none_or(|&first| first == 0), "({n},{max})");
            assert!(
                v.len() >= max.min(n as usize) / 2,
                "({n},{max}) kept {}",
                v.len()
            );
        }
    }

    #[test]
    fn thinning_keeps_evenly_spaced_items_and_the_last() {
        let mut v: Vec<u32> = (1..=10).collect();
        thin(&mut v, 4);
        assert_eq!(v, vec![1, 4, 7, 10]);
        let mut v: Vec<u32> = (1..=5000).collect();
        thin(&mut v, 2000);
        assert!(v.len() <= 2000 && v.len() > 1000, "{}", v.len());
        assert_eq!(v.last(), Some(&5000));
        let mut short = vec![1, 2, 3];
        thin(&mut short, 4);
        assert_eq!(short, vec![1, 2, 3]);
    }
}
