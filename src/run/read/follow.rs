//! [`Follower`]: tailing a run directory that may still be growing, as
//! `rnnlab attach` does.

use std::path::{Path, PathBuf};

use super::parse::{FlowColumns, eval_row, header, metrics_header, note_row};
use super::rows::Table;
use super::tail::{Tail, complete_first, records};
use super::timeline::{Batch, Timeline};
use super::{POLL_BYTES, ReadError, error, outcome, read_json};
use crate::events::*;
use crate::run::format::{EVAL_HEAD, EVENTS_HEAD};

/// Tails a run directory that may still be growing: each [`poll`](Follower::poll)
/// returns the events of the lines completed since the last one, once each, in order.
pub struct Follower {
    dir: PathBuf,
    started: bool,
    finished: bool,
    metrics: Tail,
    eval: Tail,
    events: Tail,
    pub(super) predictions: Tail,
    flow: Tail,
    /// The columns of `flow.csv`, once its header is read.
    flow_columns: Option<FlowColumns>,
    /// Gradient-norm groups from the metrics header, once read.
    pub(super) groups: Option<Vec<String>>,
    /// The groups `info.json` announces, once read.
    pub(super) info_groups: Option<Vec<String>>,
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
                None if self
                    .dir
                    .join("metrics.csv")
                    .metadata()
                    .is_ok_and(|m| m.len() > 0) =>
                {
                    return Err(error(
                        &path,
                        None,
                        "missing: this run was recorded by an older rnnlab; replay it once it is over",
                    ));
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

    pub(super) fn read_others(&mut self, batch: &mut Batch) -> Result<(), ReadError> {
        self.read_evals(&mut batch.evals)?;
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

    /// Appends the evaluations completed since the last read.
    pub(super) fn read_evals(&mut self, evals: &mut Vec<EvalStats>) -> Result<(), ReadError> {
        let names = &mut self.eval_names;
        self.eval.read(u64::MAX, |chunk| {
            for (at, rec) in records(chunk, false) {
                match names {
                    None => *names = Some(header(rec, &EVAL_HEAD).map_err(|m| (at, m))?),
                    Some(names) => evals.push(eval_row(rec, names).map_err(|m| (at, m))?),
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Reads about `max` bytes of metrics rows at most; returns whether all were read.
    pub(super) fn read_metrics(&mut self, table: &mut Table, max: u64) -> Result<bool, ReadError> {
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

    pub(super) fn check_groups(&self) -> Result<(), ReadError> {
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
