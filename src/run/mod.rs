//! The run directory: what a run records on disk, written as events arrive.
//!
//! ```text
//! runs/<name>-<YYYYmmdd-HHMMSS>/
//!   experiment.toml      resolved experiment, overrides applied
//!   info.json            what the dashboard needs to know about the run (model, groups, totals)
//!   scaler.json          normalisation fitted on the training part
//!   metrics.csv          one row per step
//!   eval.csv             one row per evaluation
//!   events.csv           start, pause, resume, tune, checkpoint, stop, finish, diverged
//!   predictions.jsonl    per evaluation: a few fixed validation examples, truth and prediction
//!   flow.csv             every `train.flow_every` steps: per-gate gradient norms (`gate.*`)
//!                        and ‖∂L/∂h_t‖ per layer and time step (`dh.<layer>.t<k>`, empty
//!                        past the end of a sequence shorter than the window)
//!   summary.json         status, best valid loss, test metrics, baselines
//!   checkpoints/step-<N>.safetensors
//! ```

pub mod atomic;
pub mod read;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::{Baseline, Scaler};
use crate::events::{Event, Status};
use crate::experiment::Experiment;

/// Columns of `metrics.csv` before the per-group gradient norms.
pub const METRICS_HEAD: [&str; 7] = [
    "step",
    "epoch",
    "wall_s",
    "loss",
    "grad_norm",
    "lr",
    "samples_per_s",
];
/// Columns of `eval.csv` before the task metrics.
pub const EVAL_HEAD: [&str; 4] = ["step", "epoch", "wall_s", "valid_loss"];
/// Prefix of `flow.csv`'s per-gate gradient-norm columns: `gate.layers.0.f`.
pub const FLOW_GATE: &str = "gate.";
/// Prefix of `flow.csv`'s gradient-through-time columns: `dh.layers.0.t12`.
pub const FLOW_TIME: &str = "dh.";
/// Columns of `events.csv`.
pub const EVENTS_HEAD: [&str; 4] = ["step", "wall_s", "kind", "detail"];

/// The run's `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub name: String,
    pub status: Status,
    pub started: String,
    pub model: String,
    pub parameters: usize,
    pub steps: u64,
    pub epochs: usize,
    pub wall_s: f64,
    pub best_valid_loss: Option<f64>,
    pub best_step: Option<u64>,
    /// Validation metrics at the best evaluation, original units.
    pub best_valid: BTreeMap<String, f64>,
    /// Test metrics of the final model, original units (empty without a test part).
    pub test: BTreeMap<String, f64>,
    pub baselines: Vec<Baseline>,
    pub message: Option<String>,
}

/// Writes one run's files.
pub struct RunDir {
    pub path: PathBuf,
    metrics: csv::Writer<BufWriter<File>>,
    eval: csv::Writer<BufWriter<File>>,
    events: csv::Writer<BufWriter<File>>,
    predictions: BufWriter<File>,
    flow: csv::Writer<BufWriter<File>>,
    metrics_header: bool,
    eval_header: bool,
    flow_header: bool,
    /// Time columns per layer in `flow.csv`: the window (shorter sequences leave cells empty).
    flow_width: usize,
    last_flush: Instant,
    keep_last: usize,
}

const FLUSH_EVERY_S: f64 = 1.0;

impl RunDir {
    /// Creates `dir`, or `runs/<name>-<timestamp>/` under the working directory,
    /// and records the resolved experiment and the scaler.
    pub fn create(exp: &Experiment, dir: Option<PathBuf>, scaler: &Scaler) -> Result<RunDir> {
        let path = match dir {
            Some(d) => d,
            None => {
                let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
                let base = PathBuf::from("runs").join(format!("{}-{stamp}", exp.name));
                let mut path = base.clone();
                let mut n = 2;
                while path.exists() {
                    path = PathBuf::from(format!("{}-{n}", base.display()));
                    n += 1;
                }
                path
            }
        };
        if path.join("metrics.csv").exists() {
            bail!(
                "{} already holds a run; choose another --run-dir (runs are never overwritten)",
                path.display()
            );
        }
        fs::create_dir_all(path.join("checkpoints"))
            .with_context(|| format!("cannot create the run directory {}", path.display()))?;
        atomic::write(&path.join("experiment.toml"), exp.to_toml().as_bytes())?;
        atomic::write(&path.join("scaler.json"), scaler.to_json().as_bytes())?;
        let open = |name: &str| -> Result<csv::Writer<BufWriter<File>>> {
            let f = File::create(path.join(name))
                .with_context(|| format!("cannot create {}", path.join(name).display()))?;
            Ok(csv::Writer::from_writer(BufWriter::new(f)))
        };
        let mut events = open("events.csv")?;
        events.write_record(EVENTS_HEAD)?;
        let predictions = File::create(path.join("predictions.jsonl")).with_context(|| {
            format!("cannot create {}", path.join("predictions.jsonl").display())
        })?;
        Ok(RunDir {
            predictions: BufWriter::new(predictions),
            metrics: open("metrics.csv")?,
            eval: open("eval.csv")?,
            flow: open("flow.csv")?,
            events,
            metrics_header: false,
            eval_header: false,
            flow_header: false,
            flow_width: exp.data.window,
            last_flush: Instant::now(),
            keep_last: exp.checkpoint.keep_last,
            path,
        })
    }

    /// Reopens a run directory to continue it after `step`: log rows past that
    /// step and torn last lines (from a crash) are dropped, the resolved
    /// experiment is rewritten (overrides applied), and the logs are appended to.
    pub fn reopen(exp: &Experiment, path: PathBuf, step: u64) -> Result<RunDir> {
        for name in ["metrics.csv", "eval.csv", "events.csv", "flow.csv"] {
            truncate_after(&path.join(name), step, true, |line| {
                line.split(',').next().and_then(|s| s.parse().ok())
            })?;
        }
        truncate_after(&path.join("predictions.jsonl"), step, false, |line| {
            #[derive(Deserialize)]
            struct Step {
                step: u64,
            }
            serde_json::from_str::<Step>(line).ok().map(|s| s.step)
        })?;
        atomic::write(&path.join("experiment.toml"), exp.to_toml().as_bytes())?;
        let open = |name: &str| -> Result<BufWriter<File>> {
            let p = path.join(name);
            let f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .with_context(|| format!("cannot open {}", p.display()))?;
            Ok(BufWriter::new(f))
        };
        let non_empty = |name: &str| fs::metadata(path.join(name)).is_ok_and(|m| m.len() > 0);
        let writer = |name: &str| -> Result<csv::Writer<BufWriter<File>>> {
            Ok(csv::Writer::from_writer(open(name)?))
        };
        Ok(RunDir {
            metrics_header: non_empty("metrics.csv"),
            eval_header: non_empty("eval.csv"),
            flow_header: non_empty("flow.csv"),
            flow_width: exp.data.window,
            metrics: writer("metrics.csv")?,
            eval: writer("eval.csv")?,
            flow: writer("flow.csv")?,
            events: writer("events.csv")?,
            predictions: open("predictions.jsonl")?,
            last_flush: Instant::now(),
            keep_last: exp.checkpoint.keep_last,
            path,
        })
    }

    /// Appends an event to the CSV it belongs to; flushes at least every second.
    pub fn record(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Started(info) => {
                let json = serde_json::to_string_pretty(info).map_err(io::Error::other)?;
                atomic::write(&self.path.join("info.json"), json.as_bytes())?;
                if self.metrics_header {
                    return Ok(());
                }
                self.metrics_header = true;
                let mut header: Vec<String> = METRICS_HEAD.map(String::from).to_vec();
                header.extend(info.groups.iter().map(|g| format!("grad_norm.{g}")));
                self.metrics.write_record(&header)?;
            }
            Event::Step(s) => {
                let mut row = vec![
                    s.step.to_string(),
                    s.epoch.to_string(),
                    format!("{:.3}", s.wall_s),
                    (s.loss as f32).to_string(),
                    (s.grad_norm as f32).to_string(),
                    s.lr.to_string(),
                    format!("{:.1}", s.samples_per_s),
                ];
                // The loss and the norms at f32, the precision they are computed at.
                row.extend(s.group_norms.iter().map(|&n| (n as f32).to_string()));
                self.metrics.write_record(&row)?;
            }
            Event::Eval(e) => {
                if !self.eval_header {
                    let mut header: Vec<String> = EVAL_HEAD.map(String::from).to_vec();
                    header.extend(e.metrics.iter().map(|(k, _)| k.clone()));
                    self.eval.write_record(&header)?;
                    self.eval_header = true;
                }
                let mut row = vec![
                    e.step.to_string(),
                    e.epoch.to_string(),
                    format!("{:.3}", e.wall_s),
                    e.valid_loss.to_string(),
                ];
                row.extend(e.metrics.iter().map(|(_, v)| v.to_string()));
                self.eval.write_record(&row)?;
                self.flush()?;
            }
            Event::Note(n) => {
                self.events.write_record([
                    n.step.to_string(),
                    format!("{:.3}", n.wall_s),
                    n.kind.as_str().to_string(),
                    n.detail.clone(),
                ])?;
                self.flush()?;
            }
            Event::Flow(fl) => {
                if !self.flow_header {
                    let mut header = vec!["step".to_string()];
                    header.extend(fl.gates.iter().map(|(g, _)| format!("{FLOW_GATE}{g}")));
                    for (layer, _) in &fl.time {
                        header.extend(
                            (0..self.flow_width).map(|t| format!("{FLOW_TIME}{layer}.t{t}")),
                        );
                    }
                    self.flow.write_record(&header)?;
                    self.flow_header = true;
                }
                let mut row = vec![fl.step.to_string()];
                row.extend(fl.gates.iter().map(|(_, v)| v.to_string()));
                for (_, norms) in &fl.time {
                    let cells = norms
                        .iter()
                        .map(f64::to_string)
                        .chain(std::iter::repeat(String::new()));
                    row.extend(cells.take(self.flow_width));
                }
                self.flow.write_record(&row)?;
            }
            Event::Predictions(p) => {
                serde_json::to_writer(&mut self.predictions, p)?;
                self.predictions.write_all(b"\n")?;
            }
            Event::Finished(_) => self.flush()?,
        }
        if self.last_flush.elapsed().as_secs_f64() >= FLUSH_EVERY_S {
            self.flush()?;
        }
        Ok(())
    }

    /// Pushes buffered rows to the files.
    pub fn flush(&mut self) -> io::Result<()> {
        self.metrics.flush()?;
        self.eval.flush()?;
        self.events.flush()?;
        self.predictions.flush()?;
        self.flow.flush()?;
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Writes `checkpoints/<stem>.state.safetensors` and then
    /// `checkpoints/<stem>.safetensors`, each atomically; the weights file
    /// completes the checkpoint. With `prune`, periodic checkpoints beyond
    /// `keep_last` are deleted. Returns the weights file's name.
    pub fn checkpoint(
        &self,
        stem: &str,
        weights: &[u8],
        state: &[u8],
        prune: bool,
    ) -> Result<String> {
        let dir = self.path.join("checkpoints");
        let name = format!("{stem}.safetensors");
        for (file, bytes) in [
            (format!("{stem}.state.safetensors"), state),
            (name.clone(), weights),
        ] {
            let path = dir.join(&file);
            atomic::write(&path, bytes)
                .with_context(|| format!("cannot write checkpoint {}", path.display()))?;
        }
        if prune && self.keep_last > 0 {
            let mut all = checkpoints(&self.path)?;
            while all.len() > self.keep_last {
                let (_, old) = all.remove(0);
                for path in [state_path(&old), old] {
                    if path.exists() {
                        fs::remove_file(&path).with_context(|| {
                            format!("cannot remove old checkpoint {}", path.display())
                        })?;
                    }
                }
            }
        }
        Ok(name)
    }

    /// Writes `summary.json` atomically.
    pub fn write_summary(&self, summary: &Summary) -> Result<()> {
        let json = serde_json::to_string_pretty(summary)?;
        atomic::write(&self.path.join("summary.json"), json.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.join("summary.json").display()))
    }
}

/// Keeps the lines of `path` (after its header line, if `header`) whose step is
/// at most `step` and that are complete; rewrites the file atomically. A
/// missing file is left missing.
fn truncate_after(
    path: &Path,
    step: u64,
    header: bool,
    step_of: impl Fn(&str) -> Option<u64>,
) -> Result<()> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(());
    };
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if !line.ends_with('\n') {
            break; // torn by a crash
        }
        let keep = (header && i == 0) || step_of(line.trim_end()).is_some_and(|s| s <= step);
        if keep {
            out.push_str(line);
        }
    }
    if out.len() != text.len() {
        atomic::write(path, out.as_bytes())
            .with_context(|| format!("cannot rewrite {}", path.display()))?;
    }
    Ok(())
}

/// The trainer-state file that belongs to a checkpoint's weights file.
pub fn state_path(weights: &Path) -> PathBuf {
    let name = weights.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.strip_suffix(".safetensors").unwrap_or(name);
    weights.with_file_name(format!("{stem}.state.safetensors"))
}

/// A run directory's periodic checkpoints (`step-<N>`), oldest step first.
pub fn checkpoints(run: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let dir = run.join("checkpoints");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|n| n.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(step) = step {
            out.push((step, path));
        }
    }
    out.sort();
    Ok(out)
}
