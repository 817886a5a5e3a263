//! `rnnlab export … --tensorboard OUT`: runs and sweeps as TensorBoard
//! event files, one folder per run. Scalars: `train/loss`,
//! `train/grad_norm`, `train/learning_rate`, `grad_norm/<group>`,
//! `valid/loss`, `valid/<metric>` (original units), and `test/<metric>` at
//! the last step. A sweep also gets the HParams plugin's experiment (its
//! swept keys and seed) in `OUT/<sweep>/`, and one session per trial, so
//! that TensorBoard's HParams table and parallel-coordinates view show it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::events::Event;
use crate::frontend::FrontendError;
use crate::run::RunError;
use crate::run::read::{self, summary::read_summary};
use crate::run::tensorboard::{EventWriter, HValue, SessionStatus};
use crate::sweep::SweepDir;

/// What one export wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exported {
    /// Folders with event files, one per run.
    pub runs: Vec<PathBuf>,
    /// Scalars written in all.
    pub scalars: usize,
}

/// The run's start as seconds since the Unix epoch (now if unknown).
fn started(dir: &Path) -> f64 {
    read_summary(dir)
        .started
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_millis() as f64 / 1000.0)
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        })
}

/// Writes the run in `dir` into the folder `out`; with `session`, also its
/// HParams session (hyperparameters and group).
pub fn export_run(
    dir: &Path,
    out: &Path,
    session: Option<(&[(String, HValue)], &str)>,
) -> Result<usize, FrontendError> {
    let recorded = read::load(dir)?;
    let t0 = started(dir);
    let mut w = create(out, t0)?;
    let written = write_run(&mut w, dir, &recorded, t0, session);
    written.map_err(|e| RunError::io("write", &w.path, e).into())
}

/// Creates an event file in `out`, naming the folder in an error.
fn create(out: &Path, wall_time: f64) -> Result<EventWriter, FrontendError> {
    EventWriter::create(out, wall_time)
        .map_err(|e| RunError::io("write TensorBoard events to", out, e).into())
}

/// The run's scalars (and session) into `w`; returns how many.
fn write_run(
    w: &mut EventWriter,
    dir: &Path,
    recorded: &read::Recorded,
    t0: f64,
    session: Option<(&[(String, HValue)], &str)>,
) -> std::io::Result<usize> {
    if let Some((hparams, group)) = session {
        w.hparams_session_start(hparams, group, t0)?;
    }
    let groups = recorded.info.groups.clone();
    let mut n = 0;
    let mut last = (0u64, t0);
    for event in recorded.events() {
        match event {
            Event::Step(s) => {
                let (step, wall) = (s.step as i64, t0 + s.wall_s);
                w.scalar("train/loss", step, s.loss as f32, wall)?;
                w.scalar("train/grad_norm", step, s.grad_norm as f32, wall)?;
                w.scalar("train/learning_rate", step, s.lr as f32, wall)?;
                for (g, v) in groups.iter().zip(&s.group_norms) {
                    w.scalar(&format!("grad_norm/{g}"), step, *v as f32, wall)?;
                }
                n += 3 + s.group_norms.len();
                last = (s.step, wall);
            }
            Event::Eval(e) => {
                let (step, wall) = (e.step as i64, t0 + e.wall_s);
                w.scalar("valid/loss", step, e.valid_loss as f32, wall)?;
                for (k, v) in &e.metrics {
                    w.scalar(&format!("valid/{k}"), step, *v as f32, wall)?;
                }
                n += 1 + e.metrics.len();
            }
            _ => {}
        }
    }
    let summary = read_summary(dir);
    for (k, v) in &summary.test {
        w.scalar(&format!("test/{k}"), last.0 as i64, *v as f32, last.1)?;
        n += 1;
    }
    if session.is_some() {
        let status = match recorded.outcome.as_ref().map(|o| o.status) {
            Some(crate::events::Status::Completed | crate::events::Status::Stopped) => {
                SessionStatus::Success
            }
            None | Some(crate::events::Status::Running) => SessionStatus::Running,
            Some(_) => SessionStatus::Failure,
        };
        w.hparams_session_end(status, last.1)?;
    }
    w.flush()?;
    Ok(n)
}

/// The folder name of a run: its directory's name.
fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            Some(
                path.canonicalize()
                    .ok()?
                    .file_name()?
                    .to_string_lossy()
                    .into_owned(),
            )
        })
        .unwrap_or_else(|| "run".into())
}

/// A swept value as a hyperparameter.
fn hvalue(v: &toml::Value) -> HValue {
    match v {
        toml::Value::Integer(i) => HValue::Number(*i as f64),
        toml::Value::Float(f) => HValue::Number(*f),
        toml::Value::Boolean(b) => HValue::Bool(*b),
        toml::Value::String(s) => HValue::Text(s.clone()),
        other => HValue::Text(crate::fmt::short_value(&other.to_string())),
    }
}

/// Writes a sweep: the HParams experiment in `out`, each trial's run in
/// `out/trial_<NNN>` with its session.
pub fn export_sweep(sweep: &SweepDir, out: &Path) -> Result<Exported, FrontendError> {
    let spec = &sweep.resolved.sweep;
    let mut values: BTreeMap<String, Vec<HValue>> = BTreeMap::new();
    let mut order: Vec<String> = spec.params.iter().map(|(k, _)| k.clone()).collect();
    if !spec.seeds.is_empty() {
        order.push("seed".into());
    }
    for t in sweep.trials() {
        for (k, v) in &t.params {
            let v = hvalue(v);
            let list = values.entry(k.clone()).or_default();
            if !list.contains(&v) {
                list.push(v);
            }
        }
        if let Some(seed) = t.seed {
            let list = values.entry("seed".into()).or_default();
            let v = HValue::Number(seed as f64);
            if !list.contains(&v) {
                list.push(v);
            }
        }
    }
    let hparams: Vec<(String, Vec<HValue>)> = order
        .iter()
        .map(|k| {
            let list = values.remove(k).unwrap_or_default();
            // Continuous draws are not a useful discrete domain.
            let list = if list.len() > 20 { Vec::new() } else { list };
            (k.clone(), list)
        })
        .collect();
    let mut metrics = vec!["valid/loss".to_string(), "train/loss".into()];
    if let Some(m) = spec.metric.strip_prefix("valid.") {
        metrics.push(format!("valid/{m}"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut root = create(out, now)?;
    root.hparams_experiment(&hparams, &metrics, now)
        .and_then(|()| root.flush())
        .map_err(|e| RunError::io("write", &root.path, e))?;
    let mut done = Exported::default();
    for t in sweep.trials() {
        let dir = sweep.trial_dir(t);
        if !dir.join("metrics.csv").exists() {
            continue; // not started
        }
        let mut hp: Vec<(String, HValue)> = t
            .params
            .iter()
            .map(|(k, v)| (k.clone(), hvalue(v)))
            .collect();
        if let Some(seed) = t.seed {
            hp.push(("seed".into(), HValue::Number(seed as f64)));
        }
        let folder = out.join(format!("trial_{}", t.dir_name()));
        let group = format!("config_{}", t.config);
        done.scalars += export_run(&dir, &folder, Some((&hp, &group)))?;
        done.runs.push(folder);
    }
    Ok(done)
}

/// Exports each path (a run or a sweep) into `out/<its name>`.
pub fn export(paths: &[PathBuf], out: &Path) -> Result<Exported, FrontendError> {
    let mut all = Exported::default();
    for path in paths {
        let folder = out.join(name_of(path));
        if SweepDir::is_sweep_dir(path) {
            let sweep = SweepDir::open(path).map_err(|e| {
                FrontendError::Read(read::ReadError {
                    path: path.join("sweep.toml"),
                    line: e.location.map(|(l, _)| l as u64),
                    message: e.message,
                })
            })?;
            let done = export_sweep(&sweep, &folder)?;
            all.runs.extend(done.runs);
            all.scalars += done.scalars;
        } else {
            all.scalars += export_run(path, &folder, None)?;
            all.runs.push(folder);
        }
    }
    Ok(all)
}
