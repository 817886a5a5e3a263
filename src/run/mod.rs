//! The run directory: what a run records on disk, written as events arrive.
//!
//! ```text
//! runs/<name>-<YYYYmmdd-HHMMSS>/
//!   experiment.toml      resolved experiment, overrides applied
//!   scaler.json          normalisation fitted on the training part
//!   metrics.csv          one row per step
//!   eval.csv             one row per evaluation
//!   events.csv           start, pause, resume, tune, checkpoint, stop, finish, diverged
//!   predictions.jsonl    per evaluation: a few fixed validation examples, truth and prediction
//!   summary.json         status, best valid loss, test metrics, baselines
//!   checkpoints/step-<N>.safetensors
//! ```

pub mod atomic;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::{Baseline, Scaler};
use crate::events::{Event, Status};
use crate::experiment::Experiment;
use crate::model::Model;

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
    eval_header: bool,
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
        events.write_record(["step", "wall_s", "kind", "detail"])?;
        let predictions = File::create(path.join("predictions.jsonl")).with_context(|| {
            format!("cannot create {}", path.join("predictions.jsonl").display())
        })?;
        Ok(RunDir {
            predictions: BufWriter::new(predictions),
            metrics: open("metrics.csv")?,
            eval: open("eval.csv")?,
            events,
            eval_header: false,
            last_flush: Instant::now(),
            keep_last: exp.checkpoint.keep_last,
            path,
        })
    }

    /// Appends an event to the CSV it belongs to; flushes at least every second.
    pub fn record(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Started(info) => {
                let mut header: Vec<String> = [
                    "step",
                    "epoch",
                    "wall_s",
                    "loss",
                    "grad_norm",
                    "lr",
                    "samples_per_s",
                ]
                .map(String::from)
                .to_vec();
                header.extend(info.groups.iter().map(|g| format!("grad_norm.{g}")));
                self.metrics.write_record(&header)?;
            }
            Event::Step(s) => {
                let mut row = vec![
                    s.step.to_string(),
                    s.epoch.to_string(),
                    format!("{:.3}", s.wall_s),
                    s.loss.to_string(),
                    s.grad_norm.to_string(),
                    s.lr.to_string(),
                    format!("{:.1}", s.samples_per_s),
                ];
                row.extend(s.group_norms.iter().map(f64::to_string));
                self.metrics.write_record(&row)?;
            }
            Event::Eval(e) => {
                if !self.eval_header {
                    let mut header: Vec<String> = ["step", "epoch", "wall_s", "valid_loss"]
                        .map(String::from)
                        .to_vec();
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
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Writes `checkpoints/step-<N>.safetensors` atomically and prunes old ones
    /// beyond `keep_last`. Returns the file name.
    pub fn checkpoint(
        &self,
        model: &Model,
        step: u64,
        meta: HashMap<String, String>,
    ) -> Result<String> {
        let name = format!("step-{step}.safetensors");
        let path = self.path.join("checkpoints").join(&name);
        atomic::write(&path, &model.to_safetensors(meta))
            .with_context(|| format!("cannot write checkpoint {}", path.display()))?;
        if self.keep_last > 0 {
            let mut all = checkpoints(&self.path)?;
            while all.len() > self.keep_last {
                let (_, old) = all.remove(0);
                fs::remove_file(&old)
                    .with_context(|| format!("cannot remove old checkpoint {}", old.display()))?;
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

/// A run directory's checkpoints, oldest step first.
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
