//! Reading a run directory back into events: [`load`] a whole run at once, or
//! [`Follower`] to tail one that is still being written.
//!
//! Rows are merged back into the order the trainer emitted them: by step, and
//! within a step the `Step` first, then the evaluation, its predictions and
//! the notes — except that a note written before the evaluation (a pause or
//! tune just before a stopped run's final evaluation) keeps its place by its
//! time. A last line without its newline is a write in progress (or torn by a
//! crash): [`load`] ignores it, [`Follower`] waits for the rest of it.

//!
//! One file per job: [`follow`] (tailing a growing run), [`tail`] (a file
//! from an offset), [`rows`] (compact step storage), [`parse`] (numbers and
//! rows), [`timeline`] (the merge), [`sample`] (bounded samples), [`curves`]
//! (just the loss curves, for `compare` and `table`).

mod curves;
mod follow;
mod parse;
mod rows;
mod sample;
pub mod summary;
mod tail;
mod timeline;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::events::*;
use crate::experiment::Experiment;
use summary::SummaryHead;

pub use curves::{Curves, NamedRun, SeedGroup, Spread, by_seed, curves, evals, named_runs};
pub use follow::Follower;
use rows::Table;
use sample::{Sampler, thin};
pub use timeline::Events;
use timeline::{Batch, Timeline};

/// Bytes read from a file at a time.
pub(crate) const CHUNK: usize = 4 << 20;
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

pub(crate) fn error(path: &Path, line: Option<u64>, message: impl Into<String>) -> ReadError {
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
            ));
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
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ReadError> {
    let bytes = match crate::fsio::read_regular(path, crate::fsio::RUN_FILE_LIMIT, "run file") {
        Ok(b) => b,
        Err(e) if e.not_found() => return Ok(None),
        Err(e) => return Err(error(path, None, e.reason())),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| error(path, Some(e.line() as u64), e.to_string()))
}

/// A `RunInfo` for a run recorded before `info.json` existed.
fn reconstruct(dir: &Path, groups: Vec<String>, table: &Table) -> Result<RunInfo, ReadError> {
    let path = dir.join("experiment.toml");
    let text =
        crate::fsio::read_text(&path, crate::fsio::TOML_LIMIT, "experiment file").map_err(|e| {
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

impl crate::error::Failure for ReadError {
    fn kind(&self) -> crate::error::Kind {
        crate::error::Kind::BadInput
    }
}
