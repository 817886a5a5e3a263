//! `rnnlab backtest RUN --retrain` (and `evaluate.retrain`): the
//! expanding-window backtest. Each origin is one trial of a sweep planned in
//! the run directory (`RUN/retrain-<origins>x<step>/`): the run's own
//! experiment cut at the origin's row (`data.end_row`), split into train
//! and valid in the experiment's proportions, trained as a separate process
//! by the sweep's runner (or a Slurm job array). Then each trial's model
//! forecasts from its origin, scored as the fixed-model backtest scores,
//! into `summary.json`'s `backtest_retrained`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::error::{CliResult, bad_input, fail};
use super::output;
use crate::data::{self, Scaler};
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::format::BacktestSummary;
use crate::sweep::dir::{Resolved, SweepDir};
use crate::sweep::run::{Activity, Runner};
use crate::sweep::spec::{Domain, Method, SlurmSpec};
use crate::sweep::{Sweep, plan};
use crate::train::Retrained;

/// Set by a SIGINT / SIGTERM handler (this command's, or `rnnlab train`'s
/// when it retrains after training): the running origins stop cleanly.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What `--retrain` was asked.
#[derive(Debug, Clone, Default)]
pub struct RetrainArgs {
    pub origins: Option<usize>,
    pub step: Option<usize>,
    /// Origins trained at once; `None`: as the cores allow.
    pub parallel: Option<usize>,
    /// Write a Slurm job-array script instead of training here.
    pub emit_slurm: bool,
}

/// Retrains at every origin of run `dir` (continuing what an earlier,
/// interrupted call left), scores the forecasts, records them in the run's
/// `summary.json` and prints the table.
pub fn command(dir: &Path, args: &RetrainArgs) -> CliResult<ExitCode> {
    match retrain(dir, args)? {
        Some(summary) => {
            let runs = summary.runs.clone().unwrap_or_default();
            let what = format!(
                "models retrained at each origin on the rows before it (expanding window; the runs are in {})",
                dir.join(runs).display()
            );
            output::print(&super::backtest::table(&summary, &what))?;
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// The retrained backtest of run `dir`: `None` when only a Slurm script was
/// written. An interrupted or failed origin is an error saying how to go on.
pub fn retrain(dir: &Path, args: &RetrainArgs) -> CliResult<Option<BacktestSummary>> {
    let file = dir.join("experiment.toml");
    if !file.is_file() {
        bad_input!(
            "{} is not a run directory (it has no experiment.toml); `rnnlab runs` lists the runs",
            dir.display()
        );
    }
    if crate::run::lock::is_held(dir) {
        bad_input!(
            "{} is still training in another process; retrain its backtest once it has finished",
            dir.display()
        );
    }
    let mut sets = Vec::new();
    if let Some(n) = args.origins {
        sets.push(format!("evaluate.origins={n}"));
    }
    if let Some(s) = args.step {
        sets.push(format!("evaluate.step={s}"));
    }
    let exp = Experiment::load(&file, &sets)?;
    let data = data::load(&exp)?;
    let Some(bt) = data.backtest.as_ref() else {
        bad_input!(
            "{}: a backtest needs a forecast of one series with a test part (data.source = \"csv\", layout \"series\", a test share in data.split)",
            dir.display()
        );
    };
    let (end_rows, split) = data::backtest::retrain_cuts(&exp, bt)?;
    let name = format!("retrain-{}x{}", bt.origins.count, bt.origins.step);
    let path = dir.join(&name);
    // Every origin's experiment: the run's, its rows split into train and
    // valid only, without a [reference] (it compares test scores) and
    // without retraining itself; each origin cuts it with data.end_row.
    let mut base = exp.clone();
    base.data.split = split;
    base.evaluate.retrain = false;
    base.reference = None;
    let text = base.to_toml();
    let base_file = path.join("experiment.toml");
    let sweep = if SweepDir::is_sweep_dir(&path) {
        let sweep = SweepDir::open(&path)?;
        let same = std::fs::read_to_string(&base_file).is_ok_and(|t| t == text)
            && sweep.resolved.sweep.params
                == plan_sweep(&base, &base_file, &end_rows, args)?.sweep.params;
        if !same {
            bad_input!(
                "{} holds a retrained backtest planned otherwise (the run's experiment or its data changed since); remove it to plan again",
                path.display()
            );
        }
        sweep
    } else {
        std::fs::create_dir_all(&path).map_err(|e| crate::run::RunError::io("create", &path, e))?;
        crate::run::atomic::write(&base_file, text.as_bytes())
            .map_err(|e| crate::run::RunError::io("write", &base_file, e))?;
        let resolved = plan_sweep(&base, &base_file, &end_rows, args)?;
        SweepDir::create(resolved, Some(path.clone()))?
    };
    if args.emit_slurm {
        let script = crate::sweep::slurm::write_script(&sweep)?;
        output::note(&format!(
            "wrote {}: one array task per origin\nsubmit it with:\n  sbatch {}\nthen score the origins with:\n  rnnlab backtest {} --retrain{}",
            script.display(),
            script.display(),
            dir.display(),
            origin_flags(args)
        ));
        return Ok(None);
    }
    train_origins(&sweep, args)?;
    let rows = sweep.refresh()?;
    let open: Vec<&str> = rows
        .iter()
        .filter(|r| r.status != "completed")
        .map(|r| r.status.as_str())
        .collect();
    if !open.is_empty() {
        let mut by: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for r in rows.iter().filter(|r| r.status != "completed") {
            by.entry(r.status.as_str())
                .or_default()
                .push(r.trial.to_string());
        }
        let each: Vec<String> = by
            .iter()
            .map(|(status, t)| format!("{status}: {}", t.join(" ")))
            .collect();
        fail!(
            "{} of {} origins did not complete ({}); `rnnlab backtest {} --retrain{}` continues them (logs in {})",
            open.len(),
            rows.len(),
            each.join("; "),
            dir.display(),
            origin_flags(args),
            path.join("logs").display()
        );
    }
    let models = sweep
        .trials()
        .iter()
        .map(|t| load_trial(&sweep.trial_dir(t)))
        .collect::<CliResult<Vec<_>>>()?;
    let Some(mut summary) = crate::train::backtest_retrained(&exp, &data, &models) else {
        fail!(
            "{}: the retrained runs do not match the backtest's origins",
            path.display()
        );
    };
    summary.runs = Some(name);
    record(dir, &path, &summary)?;
    Ok(Some(summary))
}

/// `--origins N --step S` as given, for the messages' commands.
fn origin_flags(args: &RetrainArgs) -> String {
    let mut out = String::new();
    if let Some(n) = args.origins {
        out += &format!(" --origins {n}");
    }
    if let Some(s) = args.step {
        out += &format!(" --step {s}");
    }
    out
}

/// The sweep of the origins: the experiment in `file` once per origin, cut
/// at its data record.
fn plan_sweep(
    exp: &Experiment,
    file: &Path,
    end_rows: &[usize],
    args: &RetrainArgs,
) -> CliResult<Resolved> {
    let values = end_rows
        .iter()
        .map(|&r| toml::Value::Integer(i64::try_from(r).unwrap_or(i64::MAX)))
        .collect();
    let sweep = Sweep {
        name: "retrain".into(),
        experiment: std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf()),
        method: Method::Grid,
        trials: 0,
        seed: 0,
        seeds: Vec::new(),
        metric: "valid_loss".into(),
        maximize: false,
        parallel: args.parallel.unwrap_or(0),
        params: vec![("data.end_row".into(), Domain::Values(values))],
        early_stop: None,
        slurm: SlurmSpec::default(),
        sets: Vec::new(),
    };
    let trials = plan(&sweep);
    let threads = exp.train.threads.max(1);
    for t in &trials {
        let mut sets = t.sets(&sweep);
        sets.push(format!("train.threads={threads}"));
        if let Err(mut e) = Experiment::load(&sweep.experiment, &sets) {
            e.message = format!(
                "origin {} (data.end_row = {}) is not a valid experiment: {}",
                t.index, end_rows[t.index], e.message
            );
            return Err(e.into());
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallel = match sweep.parallel {
        0 => (cores / threads).max(1),
        p => p,
    }
    .min(trials.len().max(1));
    Ok(Resolved {
        sweep,
        threads,
        parallel,
        trials,
    })
}

/// Trains the origins not yet trained, as the sweep runner does, logging
/// progress to stderr; Ctrl-C stops them cleanly (the next call resumes).
fn train_origins(sweep: &SweepDir, args: &RetrainArgs) -> CliResult<()> {
    let total = sweep.trials().len();
    let done = sweep
        .rows()
        .iter()
        .filter(|r| r.status == "completed")
        .count();
    if done == total {
        return Ok(());
    }
    let _lock = sweep.lock()?;
    let parallel = args.parallel.unwrap_or(sweep.resolved.parallel).max(1);
    output::note(&format!(
        "retraining at {} of {total} origins, {parallel} at once: one training run each, from scratch, on the rows before its origin (runs in {})",
        total - done,
        sweep.path.display()
    ));
    let kind = if done > 0 { "resume" } else { "start" };
    sweep.event(None, kind, &format!("{total} origins"))?;
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    let mut runner = Runner::new(sweep.clone(), parallel)?;
    let mut finished = done;
    loop {
        if INTERRUPTED.swap(false, Ordering::SeqCst) && !runner.is_stopping() {
            output::note("stopping: every running origin writes its final checkpoint…");
            runner.stop_all();
        }
        for activity in runner.tick()? {
            match activity {
                Activity::Started { trial, resumed, .. } => output::note(&format!(
                    "origin {trial:03} {} (data.end_row = {})",
                    if resumed { "resumed" } else { "started" },
                    end_row(sweep, trial)
                )),
                Activity::Ended {
                    trial,
                    status,
                    steps,
                    metric,
                } => {
                    if status == "completed" {
                        finished += 1;
                    }
                    output::note(&format!(
                        "origin {trial:03} {status} at step {}{} · {finished}/{total} origins done",
                        steps.unwrap_or(0),
                        metric.map_or(String::new(), |m| format!(
                            ", valid loss {}",
                            crate::fmt::compact(m)
                        ))
                    ));
                }
                Activity::Rung { .. } => {}
                Activity::Finished => return Ok(()),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `data.end_row` of trial `trial`.
fn end_row(sweep: &SweepDir, trial: usize) -> String {
    sweep.trials()[trial]
        .params
        .first()
        .map_or("?".into(), |(_, v)| v.to_string())
}

/// A trained origin's experiment, newest weights and scaler.
fn load_trial(run: &Path) -> CliResult<Retrained> {
    let exp = Experiment::load(&run.join("experiment.toml"), &[])?;
    let weights = super::predict::checkpoint(run, None)?;
    let mut model = Model::for_experiment(&exp, None);
    model.load_weights(&weights)?;
    // A calibrated interval experiment: each origin's own offsets.
    model.calibration = super::predict::calibration(run, &weights)?;
    let path = run.join("scaler.json");
    let text = match crate::fsio::read_text(&path, crate::fsio::SCALER_LIMIT, "scaler file") {
        Ok(text) => text,
        Err(e) => bad_input!("{e}"),
    };
    let scaler = Scaler::from_json(&text).map_err(|e| e.in_file(&path))?;
    Ok(Retrained { exp, model, scaler })
}

/// Writes the result beside the runs (`backtest.json`) and into the run's
/// `summary.json` (under the run's lock: it must not be training).
fn record(run: &Path, sweep: &Path, summary: &BacktestSummary) -> CliResult<()> {
    let json = serde_json::to_string_pretty(summary).unwrap_or_default();
    let out = sweep.join("backtest.json");
    crate::run::atomic::write(&out, json.as_bytes())
        .map_err(|e| crate::run::RunError::io("write", &out, e))?;
    let _lock = crate::run::lock::RunLock::acquire(run)?;
    let mut full = crate::run::read::summary::load_summary(run)?;
    full.backtest_retrained = Some(summary.clone());
    let text = serde_json::to_string_pretty(&full).unwrap_or_default();
    let path: PathBuf = run.join("summary.json");
    crate::run::atomic::write(&path, text.as_bytes())
        .map_err(|e| crate::run::RunError::io("write", &path, e))?;
    Ok(())
}
