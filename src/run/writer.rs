//! Writing a run directory as events arrive: the trainer records every
//! event itself (the channel to the front ends may drop step events; the
//! run directory must not).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;

use super::Summary;
use super::atomic;
use super::checkpoints::{checkpoints, state_path};
use super::error::RunError;
use super::format::*;
use super::lock::RunLock;
use super::tensorboard::EventWriter;
use crate::data::Scaler;
use crate::events::Event;
use crate::experiment::Experiment;

/// Writes one run's files, holding the run's lock while it lives.
pub struct RunDir {
    pub path: PathBuf,
    _lock: RunLock,
    tensorboard: Option<Live>,
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

/// An I/O error and the file it happened on.
type OnFile = (PathBuf, io::Error);

/// Names `path` in an I/O (or CSV) error.
fn on<E: Into<io::Error>>(path: &Path) -> impl FnOnce(E) -> OnFile + '_ {
    move |e| (path.to_path_buf(), e.into())
}

impl RunDir {
    /// Creates `dir`, or `runs/<name>-<timestamp>/` under the working directory,
    /// and records the resolved experiment and the scaler.
    pub fn create(
        exp: &Experiment,
        dir: Option<PathBuf>,
        scaler: &Scaler,
    ) -> Result<RunDir, RunError> {
        RunDir::create_in(exp, dir, Path::new("runs"), scaler)
    }

    /// As [`RunDir::create`], a new `<name>-<timestamp>` directory under
    /// `root` when `dir` is not given.
    pub fn create_in(
        exp: &Experiment,
        dir: Option<PathBuf>,
        root: &Path,
        scaler: &Scaler,
    ) -> Result<RunDir, RunError> {
        let path = match dir {
            Some(d) => {
                fs::create_dir_all(&d)
                    .map_err(|e| RunError::io("create the run directory", &d, e))?;
                check_owner(&d)?;
                d
            }
            None => fresh_dir(root, &exp.name)?,
        };
        // Before anything is written: one writer per run directory.
        let lock = RunLock::acquire(&path)?;
        if path.join("metrics.csv").exists() {
            return Err(RunError::Exists { path });
        }
        let checkpoints = path.join("checkpoints");
        match fs::create_dir(&checkpoints) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let real_dir = fs::symlink_metadata(&checkpoints).is_ok_and(|m| m.is_dir());
                if !real_dir {
                    return Err(RunError::Refused {
                        path: checkpoints,
                        message: "exists and is not a directory (a symbolic link?); remove it or choose another --run-dir".into(),
                    });
                }
            }
            Err(e) => return Err(RunError::io("create", &checkpoints, e)),
        }
        write_file(&path.join("experiment.toml"), exp.to_toml().as_bytes())?;
        write_file(&path.join("scaler.json"), scaler.to_json().as_bytes())?;
        let open = |name: &str| -> Result<BufWriter<File>, RunError> {
            let p = path.join(name);
            let f = atomic::create_new(&p).map_err(|e| RunError::io("create", &p, e))?;
            Ok(BufWriter::new(f))
        };
        let mut events = csv::Writer::from_writer(open("events.csv")?);
        events
            .write_record(EVENTS_HEAD)
            .map_err(|e| RunError::io("write", &path.join("events.csv"), e.into()))?;
        Ok(RunDir {
            _lock: lock,
            tensorboard: None,
            predictions: open("predictions.jsonl")?,
            metrics: csv::Writer::from_writer(open("metrics.csv")?),
            eval: csv::Writer::from_writer(open("eval.csv")?),
            flow: csv::Writer::from_writer(open("flow.csv")?),
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

    /// Reopens a run directory to continue it from a checkpoint: the logs
    /// are cut back to their sizes at the checkpoint (`logs`; without them,
    /// checkpoints of older versions, to the rows of steps up to `step`,
    /// torn last lines dropped), the resolved experiment is rewritten
    /// (overrides applied), and the logs are appended to.
    pub fn reopen(
        exp: &Experiment,
        path: PathBuf,
        step: u64,
        logs: Option<&BTreeMap<String, u64>>,
    ) -> Result<RunDir, RunError> {
        // Before anything is rewritten: one writer per run directory.
        let lock = RunLock::acquire(&path)?;
        match logs {
            Some(sizes) => {
                for name in LOGS {
                    cut_to(&path.join(name), sizes.get(name).copied().unwrap_or(0))?;
                }
            }
            None => {
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
            }
        }
        write_file(&path.join("experiment.toml"), exp.to_toml().as_bytes())?;
        let open = |name: &str| -> Result<BufWriter<File>, RunError> {
            let p = path.join(name);
            let f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&p)
                .map_err(|e| RunError::io("open", &p, e))?;
            Ok(BufWriter::new(f))
        };
        let non_empty = |name: &str| fs::metadata(path.join(name)).is_ok_and(|m| m.len() > 0);
        let writer = |name: &str| -> Result<csv::Writer<BufWriter<File>>, RunError> {
            Ok(csv::Writer::from_writer(open(name)?))
        };
        Ok(RunDir {
            _lock: lock,
            tensorboard: None,
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
    pub fn record(&mut self, event: &Event) -> Result<(), RunError> {
        self.write_event(event)
            .map_err(|(path, e)| RunError::io("write", &path, e))
    }

    /// Also writes TensorBoard event files into `RUN_DIR/tensorboard/` as
    /// the run goes (`train --tensorboard`).
    pub fn enable_tensorboard(&mut self) -> Result<(), RunError> {
        let dir = self.path.join("tensorboard");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let writer = EventWriter::create(&dir, now).map_err(|e| RunError::io("create", &dir, e))?;
        self.tensorboard = Some(Live {
            writer,
            now,
            offset: None,
            groups: Vec::new(),
        });
        Ok(())
    }

    fn write_event(&mut self, event: &Event) -> Result<(), OnFile> {
        let dir = self.path.clone();
        if let Some(tb) = &mut self.tensorboard {
            tb.record(event).map_err(on(&tb.writer.path))?;
        }
        match event {
            Event::Started(info) => {
                let info_json = dir.join("info.json");
                let json = serde_json::to_string_pretty(info)
                    .map_err(io::Error::other)
                    .map_err(on(&info_json))?;
                atomic::write(&info_json, json.as_bytes()).map_err(on(&info_json))?;
                if self.metrics_header {
                    return Ok(());
                }
                self.metrics_header = true;
                let mut header: Vec<String> = METRICS_HEAD.map(String::from).to_vec();
                header.extend(info.groups.iter().map(|g| format!("grad_norm.{g}")));
                self.metrics
                    .write_record(&header)
                    .map_err(on(&dir.join("metrics.csv")))?;
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
                self.metrics
                    .write_record(&row)
                    .map_err(on(&dir.join("metrics.csv")))?;
            }
            Event::Eval(e) => {
                if !self.eval_header {
                    let mut header: Vec<String> = EVAL_HEAD.map(String::from).to_vec();
                    header.extend(e.metrics.iter().map(|(k, _)| k.clone()));
                    self.eval
                        .write_record(&header)
                        .map_err(on(&dir.join("eval.csv")))?;
                    self.eval_header = true;
                }
                let mut row = vec![
                    e.step.to_string(),
                    e.epoch.to_string(),
                    format!("{:.3}", e.wall_s),
                    e.valid_loss.to_string(),
                ];
                row.extend(e.metrics.iter().map(|(_, v)| v.to_string()));
                self.eval
                    .write_record(&row)
                    .map_err(on(&dir.join("eval.csv")))?;
                self.flush()?;
            }
            Event::Note(n) => {
                self.events
                    .write_record([
                        n.step.to_string(),
                        format!("{:.3}", n.wall_s),
                        n.kind.as_str().to_string(),
                        n.detail.clone(),
                    ])
                    .map_err(on(&dir.join("events.csv")))?;
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
                    self.flow
                        .write_record(&header)
                        .map_err(on(&dir.join("flow.csv")))?;
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
                self.flow
                    .write_record(&row)
                    .map_err(on(&dir.join("flow.csv")))?;
            }
            Event::Predictions(p) => {
                let file = dir.join("predictions.jsonl");
                serde_json::to_writer(&mut self.predictions, p)
                    .map_err(io::Error::from)
                    .map_err(on(&file))?;
                self.predictions.write_all(b"\n").map_err(on(&file))?;
            }
            Event::Finished(_) => self.flush()?,
        }
        if self.last_flush.elapsed().as_secs_f64() >= FLUSH_EVERY_S {
            self.flush()?;
        }
        Ok(())
    }

    /// The size of each log file, as [`RunDir::reopen`] can cut them back to.
    pub fn log_sizes(&self) -> Result<BTreeMap<String, u64>, RunError> {
        LOGS.iter()
            .map(|name| {
                let path = self.path.join(name);
                let len = fs::metadata(&path)
                    .map_err(|e| RunError::io("read", &path, e))?
                    .len();
                Ok((name.to_string(), len))
            })
            .collect()
    }

    /// Pushes buffered rows to the files.
    pub fn flush_all(&mut self) -> Result<(), RunError> {
        self.flush()
            .map_err(|(path, e)| RunError::io("write", &path, e))
    }

    fn flush(&mut self) -> Result<(), OnFile> {
        if let Some(tb) = &mut self.tensorboard {
            tb.writer.flush().map_err(on(&tb.writer.path))?;
        }
        let dir = &self.path;
        self.metrics.flush().map_err(on(&dir.join("metrics.csv")))?;
        self.eval.flush().map_err(on(&dir.join("eval.csv")))?;
        self.events.flush().map_err(on(&dir.join("events.csv")))?;
        self.predictions
            .flush()
            .map_err(on(&dir.join("predictions.jsonl")))?;
        self.flow.flush().map_err(on(&dir.join("flow.csv")))?;
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
    ) -> Result<String, RunError> {
        let dir = self.path.join("checkpoints");
        let name = format!("{stem}.safetensors");
        for (file, bytes) in [
            (format!("{stem}.state.safetensors"), state),
            (name.clone(), weights),
        ] {
            let path = dir.join(&file);
            atomic::write(&path, bytes)
                .map_err(|e| RunError::io("write the checkpoint", &path, e))?;
        }
        if prune && self.keep_last > 0 {
            let mut all = checkpoints(&self.path)?;
            while all.len() > self.keep_last {
                let (_, old) = all.remove(0);
                for path in [state_path(&old), old] {
                    if path.exists() {
                        fs::remove_file(&path)
                            .map_err(|e| RunError::io("remove the old checkpoint", &path, e))?;
                    }
                }
            }
        }
        Ok(name)
    }

    /// Writes `summary.json` atomically.
    pub fn write_summary(&self, summary: &Summary) -> Result<(), RunError> {
        let json = serde_json::to_string_pretty(summary).map_err(io::Error::other);
        let path = self.path.join("summary.json");
        json.and_then(|json| atomic::write(&path, json.as_bytes()))
            .map_err(|e| RunError::io("write", &path, e))
    }
}

/// TensorBoard scalars written as the run goes.
struct Live {
    writer: EventWriter,
    /// Unix time when the writer was made.
    now: f64,
    /// The run's clock (`wall_s`) at that moment, once seen.
    offset: Option<f64>,
    groups: Vec<String>,
}

impl Live {
    fn record(&mut self, event: &Event) -> io::Result<()> {
        let mut wall = |w: f64| self.now + (w - *self.offset.get_or_insert(w));
        match event {
            Event::Started(info) => self.groups = info.groups.clone(),
            Event::Step(s) => {
                let (step, t) = (s.step as i64, wall(s.wall_s));
                self.writer.scalar("train/loss", step, s.loss as f32, t)?;
                self.writer
                    .scalar("train/grad_norm", step, s.grad_norm as f32, t)?;
                self.writer
                    .scalar("train/learning_rate", step, s.lr as f32, t)?;
                for (g, v) in self.groups.iter().zip(&s.group_norms) {
                    self.writer
                        .scalar(&format!("grad_norm/{g}"), step, *v as f32, t)?;
                }
            }
            Event::Eval(e) => {
                let (step, t) = (e.step as i64, wall(e.wall_s));
                self.writer
                    .scalar("valid/loss", step, e.valid_loss as f32, t)?;
                for (k, v) in &e.metrics {
                    self.writer
                        .scalar(&format!("valid/{k}"), step, *v as f32, t)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The log files a checkpoint records the sizes of.
const LOGS: [&str; 5] = [
    "metrics.csv",
    "eval.csv",
    "events.csv",
    "flow.csv",
    "predictions.jsonl",
];

/// Cuts `path` back to `len` bytes (what it held at a checkpoint); a file
/// shorter than that was changed behind the run's back and is refused.
fn cut_to(path: &Path, len: u64) -> Result<(), RunError> {
    let size = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound && len == 0 => return Ok(()),
        Err(e) => return Err(RunError::io("read", path, e)),
    };
    if size < len {
        return Err(RunError::Refused {
            path: path.to_path_buf(),
            message: format!(
                "holds {size} bytes, fewer than the {len} it held at the checkpoint: it was changed since; resume from an earlier checkpoint (--from) or start a new run"
            ),
        });
    }
    if size > len {
        let file = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| RunError::io("open", path, e))?;
        file.set_len(len)
            .and_then(|()| file.sync_all())
            .map_err(|e| RunError::io("cut back", path, e))?;
    }
    Ok(())
}

/// Keeps the lines of `path` (after its header line, if `header`) whose step is
/// at most `step` and that are complete; rewrites the file atomically. A
/// missing file is left missing.
fn truncate_after(
    path: &Path,
    step: u64,
    header: bool,
    step_of: impl Fn(&str) -> Option<u64>,
) -> Result<(), RunError> {
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
        atomic::write(path, out.as_bytes()).map_err(|e| RunError::io("rewrite", path, e))?;
    }
    Ok(())
}

/// Replaces the file at `path` atomically, naming it in the error.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    atomic::write(path, bytes).map_err(|e| RunError::io("write", path, e))
}

/// Creates `runs/<name>-<YYYYmmdd-HHMMSS>` (or with `-2`, `-3`, … when a run
/// started in the same second has the name): created exclusively, so two
/// runs started together never share a directory.
fn fresh_dir(runs: &Path, name: &str) -> Result<PathBuf, RunError> {
    fs::create_dir_all(runs).map_err(|e| RunError::io("create", runs, e))?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let base = runs.join(format!("{name}-{stamp}"));
    for n in 1.. {
        let path = match n {
            1 => base.clone(),
            n => PathBuf::from(format!("{}-{n}", base.display())),
        };
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(RunError::io("create the run directory", &path, e)),
        }
    }
    unreachable!("an unbounded range ends")
}

/// Refuses a run directory that another user owns or every user may write
/// to: someone else could have planted files or links in it.
fn check_owner(dir: &Path) -> Result<(), RunError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| RunError::io("read", dir, e))?;
    let refuse = |message: String| {
        Err(RunError::Refused {
            path: dir.to_path_buf(),
            message,
        })
    };
    if meta.file_type().is_symlink() {
        return refuse("is a symbolic link; give the directory it points to".into());
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return refuse(format!(
            "belongs to another user (uid {}); a run directory must be your own",
            meta.uid()
        ));
    }
    if meta.mode() & 0o002 != 0 {
        return refuse(
            "can be written by every user; `chmod o-w` it or choose another --run-dir".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
