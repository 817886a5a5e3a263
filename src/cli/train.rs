//! `rnnlab train` and `rnnlab resume`: start a trainer, show it in the
//! dashboard or the headless log, and serve its control socket until it ends.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{CliResult, bad_input};
use super::output;
use crate::data;
use crate::events::{Command, Outcome, Status};
use crate::experiment::{Experiment, ExperimentError};
use crate::frontend::{headless, tui, tui::ui::Theme};
use crate::model::Model;
use crate::run::control::{self, ControlError, ControlServer};
use crate::run::read::summary::read_summary;
use crate::run::{self, RunDir};
use crate::train;

/// `rnnlab train EXP`: prints the run directory, then trains.
pub fn train(
    path: &Path,
    sets: &[String],
    run_dir: Option<PathBuf>,
    dashboard: Option<Theme>,
    options: train::Options,
) -> CliResult<ExitCode> {
    let exp = Experiment::load(path, sets)?;
    train::check_threads(exp.train.threads)?;
    let data = data::load(&exp)?;
    if let (true, Some(bt)) = (exp.evaluate.retrain, &data.backtest) {
        // Refused now rather than after training.
        data::backtest::retrain_cuts(&exp, bt)?;
    }
    let model = Model::for_experiment(&exp, data.text.as_ref());
    let mut run = RunDir::create(&exp, run_dir, &data.scaler)?;
    if options.tensorboard {
        run.enable_tensorboard()?;
    }
    let run_path = run.path.clone();
    output::println(&run_path.display().to_string())?;
    let retrain = exp.evaluate.retrain && options.stop_at.is_none();
    let handle = train::spawn(exp, data, model, run, None, options)?;
    let code = supervise(handle, &run_path, dashboard)?;
    let completed = crate::run::read::summary::read_summary(&run_path)
        .status
        .as_deref()
        == Some("completed");
    if retrain && completed && !super::retrain::INTERRUPTED.load(Ordering::SeqCst) {
        // `evaluate.retrain`: the expanding-window backtest after training.
        let args = super::retrain::RetrainArgs::default();
        if let Some(b) = super::retrain::retrain(&run_path, &args)? {
            output::note(&retrained_line(&b));
        }
    }
    Ok(code)
}

/// The retrained backtest's MASE beside the baselines'.
pub(super) fn retrained_line(b: &crate::run::format::BacktestSummary) -> String {
    let mase = |m: &std::collections::BTreeMap<String, crate::run::format::Spread>| {
        m.get("mase").map_or("–".into(), |s| s.compact())
    };
    let baselines: Vec<String> = b
        .baselines
        .iter()
        .map(|(name, m)| format!("{name} {}", mase(m)))
        .collect();
    format!(
        "retrained backtest MASE {} over {} origins {} step(s) apart, a model trained on the rows before each (baselines: {}); runs in {}",
        mase(&b.metrics),
        b.origins,
        b.step,
        baselines.join(", "),
        b.runs.as_deref().unwrap_or("?")
    )
}

/// Keys `resume --set` may change: the run's data and model are fixed.
const RESUMABLE: [&str; 2] = ["train.", "checkpoint."];

/// `rnnlab resume RUN`: continues a run in its own directory.
pub fn resume(
    run_path: &Path,
    from: Option<&str>,
    sets: &[String],
    dashboard: Option<Theme>,
    options: train::Options,
) -> CliResult<ExitCode> {
    for set in sets {
        if !RESUMABLE.iter().any(|p| set.trim_start().starts_with(p)) {
            return Err(ExperimentError {
                file: run_path.join("experiment.toml"),
                location: None,
                key: None,
                set_by: Some(set.clone()),
                message: "a resumed run keeps its data and model; only [train] and [checkpoint] keys can change".into(),
                hint: Some("e.g. --set train.epochs=40 extends the run; start a new run to change anything else".into()),
            }
            .into());
        }
    }
    if !run_path.join("metrics.csv").is_file() {
        bad_input!(
            "{} is not a run directory (no metrics.csv)",
            run_path.display()
        );
    }
    if control::is_live(run_path) {
        bad_input!(
            "{} is still training in another process; attach to it with `rnnlab attach {}`",
            run_path.display(),
            run_path.display()
        );
    }
    let file = run_path.join("experiment.toml");
    let before = Experiment::load(&file, &[])?;
    let exp = Experiment::load(&file, sets)?;
    refuse_unresumable(&before, &exp, &file, sets)?;
    train::check_threads(exp.train.threads)?;
    let data = data::load(&exp)?;
    let mut model = Model::for_experiment(&exp, data.text.as_ref());
    let weights = match from {
        Some(name) => run::named(run_path, name),
        None => {
            let all = run::checkpoints(run_path)?;
            let complete = all.iter().rev().find(|(_, p)| run::state_path(p).is_file());
            match (complete, all.last()) {
                (Some((_, p)), _) => p.clone(),
                (None, Some((_, p))) => bad_input!(
                    "{} has checkpoints but none with its training state (e.g. {} is missing); a run cannot resume from weights alone — start a new run, or load the weights with `rnnlab predict --experiment … --weights {}`",
                    run_path.display(),
                    run::state_path(p).display(),
                    p.display()
                ),
                (None, None) => {
                    bad_input!("{} has no checkpoint to resume from", run_path.display())
                }
            }
        }
    };
    if !weights.is_file() {
        bad_input!(
            "no checkpoint {}; see the checkpoints/ folder of the run",
            weights.display()
        );
    }
    model.load_weights(&weights)?;
    let state_file = run::state_path(&weights);
    // The optimizer's two moments per parameter, and the JSON state.
    let limit = (8 * model.parameter_count() as u64).saturating_add(64 << 20);
    let bytes = match crate::fsio::read_regular(&state_file, limit, "trainer state file") {
        Ok(bytes) => bytes,
        Err(e) => bad_input!("{e} (the checkpoint's training state)"),
    };
    let (state, (m, v)) = train::state::decode(&bytes, &state_file, &model)?;
    let per_epoch = data.batches_per_epoch(before.train.batch_size);
    let expect = train::state::Expect {
        steps_per_epoch: per_epoch,
        model: &model,
    };
    if let Err(why) = state.check(&expect) {
        bad_input!("{}: {why}", state_file.display());
    }
    // A checkpoint's name says its step: a state claiming another one was
    // damaged or belongs to another checkpoint.
    let named = weights.file_name().and_then(|n| n.to_str()).and_then(|n| {
        n.strip_prefix("step-")?
            .strip_suffix(".safetensors")?
            .parse::<u64>()
            .ok()
    });
    if let Some(n) = named
        && n != state.step
    {
        bad_input!(
            "{}: the training state is at step {}, but its checkpoint is step {n}
  hint: the state file is damaged or was copied from another checkpoint; resume from another one (`--from step-N`, see checkpoints/)",
            state_file.display(),
            state.step
        );
    }
    if exp.train.batch_size != before.train.batch_size
        && !(state.next.index == 0 || state.next.index == per_epoch)
    {
        bad_input!(
            "`train.batch_size` can change only at an epoch's end: {} stopped at batch {} of epoch {} (of {per_epoch}), and the rest of that epoch's shuffled order is made of batches of {}\n  hint: resume from a checkpoint at an epoch's end (`--from step-N`, see checkpoints/), or without --set train.batch_size",
            weights.display(),
            state.next.index,
            state.next.epoch,
            before.train.batch_size
        );
    }
    let summary = read_summary(run_path);
    let total = total_steps(&exp, &data);
    if state.step >= total && summary.status.as_deref() == Some("completed") {
        output::note(&format!(
            "{} is complete ({} steps): nothing to resume, nothing changed\n  hint: to train longer, --set train.epochs=N (now {}) or train.max_steps",
            run_path.display(),
            state.step,
            exp.train.epochs
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let mut run = RunDir::reopen(
        &exp,
        run_path.to_path_buf(),
        state.step,
        state.logs.as_ref(),
    )?;
    if options.tensorboard {
        run.enable_tensorboard()?;
    }
    let from = weights
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().to_string());
    output::println(&run_path.display().to_string())?;
    let resume = train::Resume {
        state,
        m,
        v,
        from,
        started: summary.started,
        before,
    };
    let handle = train::spawn(exp, data, model, run, Some(resume), options)?;
    supervise(handle, run_path, dashboard)
}

/// The steps a run of `exp` trains: its epochs, capped by `max_steps`.
fn total_steps(exp: &Experiment, data: &data::Dataset) -> u64 {
    let per_epoch = data.batches_per_epoch(exp.train.batch_size) as u64;
    let total = per_epoch * exp.train.epochs as u64;
    match exp.train.max_steps {
        0 => total,
        max => total.min(max),
    }
}

/// `[train]` keys a resumed run cannot honour.
fn refuse_unresumable(
    before: &Experiment,
    exp: &Experiment,
    file: &Path,
    sets: &[String],
) -> CliResult<()> {
    if exp.train.optimizer != before.train.optimizer {
        return Err(ExperimentError {
            file: file.to_path_buf(),
            location: None,
            key: Some("train.optimizer".into()),
            set_by: sets.iter().find(|s| s.contains("optimizer")).cloned(),
            message: "a resumed run keeps its optimizer: the checkpoint holds its moments".into(),
            hint: Some("start a new run to change the optimizer".into()),
        }
        .into());
    }
    Ok(())
}

/// Shows a running trainer in the dashboard or the headless log until it ends,
/// while `rnnlab attach` can steer it through the run's control socket.
fn supervise(
    handle: train::Handle,
    run_path: &Path,
    dashboard: Option<Theme>,
) -> CliResult<ExitCode> {
    let server = match ControlServer::start(run_path, handle.commands.clone()) {
        Ok(server) => Some(server),
        Err(e @ ControlError::AlreadyRunning { .. }) => {
            let _ = handle.commands.send(Command::Stop);
            let _ = handle.join();
            return Err(e.into());
        }
        Err(e) => {
            output::note(&format!(
                "warning: {e}; `rnnlab attach` cannot steer this run"
            ));
            None
        }
    };
    // Ctrl-C (SIGINT), SIGTERM (kill, timeout, systemd, Slurm) and SIGHUP
    // (the terminal or the SSH session went away) stop cleanly: final
    // checkpoint, summary status `stopped`.
    let interrupt = Arc::new(AtomicBool::new(false));
    let shown_done = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let stop = handle.commands.clone();
    let headless = dashboard.is_none();
    let (trainer_done, front_done) = (handle.done.clone(), shown_done.clone());
    let _ = ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        // A retrained backtest after training stops too.
        super::retrain::INTERRUPTED.store(true, Ordering::SeqCst);
        let _ = stop.send(Command::Stop);
        if !headless {
            // The dashboard takes it from here; but a dashboard whose
            // terminal has gone may never look again, so once the run is on
            // disk the process ends even if it does not.
            let (trainer_done, front_done) = (trainer_done.clone(), front_done.clone());
            let _ = std::thread::Builder::new()
                .name("rnnlab-hangup".into())
                .spawn(move || watchdog(&trainer_done, &front_done));
        }
    });
    let shown = match dashboard {
        Some(theme) => {
            let log = run_path.join("dashboard.log");
            tui::run(
                &handle.events,
                Some(&handle.commands),
                interrupt,
                theme,
                Some(&log),
            )
        }
        None => {
            headless::log(&handle.events);
            Ok(())
        }
    };
    if shown.is_err() {
        // The terminal is gone (a closed SSH session): stop the run cleanly
        // rather than let the process end under the trainer.
        let _ = handle.commands.send(Command::Stop);
        while handle.events.recv().is_ok() {}
    }
    shown_done.store(true, Ordering::SeqCst);
    let outcome = handle.join()?;
    shown?;
    drop(server);
    if headless {
        // The log has said how the run ended.
        for line in result_lines(run_path) {
            output::note(&line);
        }
    } else {
        report(run_path, &outcome);
    }
    Ok(match outcome.status {
        Status::Completed | Status::Stopped => ExitCode::SUCCESS,
        Status::Diverged | Status::Failed | Status::Running => ExitCode::from(1),
    })
}

/// After a signal to a dashboard run: waits for the run to be on disk, then
/// gives the dashboard a few seconds to close; if it has not (its terminal
/// is gone and the terminal library waits on it for ever), ends the process.
fn watchdog(trainer_done: &AtomicBool, front_done: &AtomicBool) {
    let start = std::time::Instant::now();
    while !trainer_done.load(Ordering::SeqCst) {
        // The trainer stops between steps; even a long final evaluation and
        // checkpoint fit in this.
        if start.elapsed() > std::time::Duration::from_secs(600) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    if !front_done.load(Ordering::SeqCst) {
        crate::frontend::tui::terminal::restore();
        std::process::exit(0);
    }
}

/// After the dashboard closes: how the run ended, then its result, on stderr.
pub(super) fn report(run: &Path, outcome: &Outcome) {
    let status = format!("{:?}", outcome.status).to_lowercase();
    let message = outcome
        .message
        .as_deref()
        .map_or(String::new(), |m| format!(": {m}"));
    output::note(&format!("{status} after {} steps{message}", outcome.steps));
    for line in result_lines(run) {
        output::note(&line);
    }
}

/// The backtest's MASE over origins beside the baselines' at the same
/// origins, when the run has one.
fn backtest_line(run: &Path) -> Option<String> {
    let summary = crate::run::read::summary::load_summary(run).ok()?;
    let b = summary.backtest?;
    let mase = b.metrics.get("mase")?;
    let baselines: Vec<String> = b
        .baselines
        .iter()
        .filter_map(|(name, m)| Some(format!("{name} {}", m.get("mase")?.compact())))
        .collect();
    let mut line = format!(
        "backtest MASE {} over {} origins {} step(s) apart (baselines: {})",
        mase.compact(),
        b.origins,
        b.step,
        baselines.join(", ")
    );
    let means = b.metrics.iter().map(|(k, s)| (k.clone(), s.mean)).collect();
    if let Some(interval) = interval_clause(&means) {
        line += &format!("; {interval}");
    }
    Some(line)
}

/// A probabilistic forecast's outermost interval in `metrics` (eval or
/// backtest names): "80 % interval q0.1–q0.9: coverage 0.79, width 12.3,
/// pinball 1.2". The outermost comes first by name: `q0.05` sorts before
/// `q0.1`, as every level below 1 written as a decimal does.
pub(super) fn interval_clause(metrics: &std::collections::BTreeMap<String, f64>) -> Option<String> {
    let (key, coverage) = metrics.iter().find(|(k, _)| k.starts_with("coverage_"))?;
    let name = &key["coverage_".len()..];
    let (lo, hi) = name.split_once('_')?;
    let level = |q: &str| q.strip_prefix('q')?.parse::<f64>().ok();
    let nominal = (level(hi)? - level(lo)?) * 100.0;
    let mut out = format!(
        "{} % interval {lo}–{hi}: coverage {}",
        crate::fmt::compact(nominal),
        crate::fmt::compact(*coverage)
    );
    if let Some(w) = metrics.get(&format!("width_{name}")) {
        out += &format!(", width {}", crate::fmt::compact(*w));
    }
    if let Some(p) = metrics.get("pinball") {
        out += &format!(", pinball {}", crate::fmt::compact(*p));
    }
    Some(out)
}

/// Several series: each one's test MASE (or RMSE without a scale) beside
/// its best baseline's, one line per series.
fn series_lines(run: &Path) -> Vec<String> {
    let Ok(summary) = crate::run::read::summary::load_summary(run) else {
        return Vec::new();
    };
    let count = summary.series.len();
    let beaten = summary
        .series
        .iter()
        .filter(|s| {
            let metric = if s.test.contains_key("mase") {
                "mase"
            } else {
                "rmse"
            };
            let best = s
                .baselines
                .values()
                .filter_map(|b| b.get(metric))
                .fold(f64::INFINITY, |a, &b| a.min(b));
            s.test.get(metric).is_some_and(|m| *m < best)
        })
        .count();
    let mut out = Vec::new();
    if count > 0 {
        // Scale-free metrics average across series; RMSE does not.
        let mean = |get: &dyn Fn(&crate::run::format::SeriesScore) -> Option<f64>| {
            let v: Vec<f64> = summary.series.iter().filter_map(get).collect();
            (v.len() == count).then(|| v.iter().sum::<f64>() / count as f64)
        };
        let mut line = String::from("per series (test)");
        if let Some(m) = mean(&|s| s.test.get("mase").copied()) {
            line += &format!(": mean MASE {}", crate::fmt::compact(m));
            let names: std::collections::BTreeSet<&String> = summary
                .series
                .iter()
                .flat_map(|s| s.baselines.keys())
                .collect();
            let others: Vec<String> = names
                .into_iter()
                .filter_map(|n| {
                    let b = mean(&|s| s.baselines.get(n)?.get("mase").copied())?;
                    Some(format!("{n} {}", crate::fmt::compact(b)))
                })
                .collect();
            if !others.is_empty() {
                line += &format!(" (baselines: {})", others.join(", "));
            }
        }
        line += &format!("; the model beats every baseline on {beaten} of {count}");
        out.push(line);
    }
    for s in &summary.series {
        let metric = if s.test.contains_key("mase") {
            "mase"
        } else {
            "rmse"
        };
        let Some(model) = s.test.get(metric) else {
            continue;
        };
        let best = s
            .baselines
            .iter()
            .filter_map(|(name, m)| Some((name, *m.get(metric)?)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let versus = best.map_or(String::new(), |(name, v)| {
            format!(" (best baseline: {name} {})", crate::fmt::compact(v))
        });
        // With intervals: the outermost one's coverage (its key sorts first).
        let coverage = s
            .test
            .iter()
            .find(|(k, _)| k.starts_with("coverage_"))
            .map_or(String::new(), |(k, v)| {
                let levels = k.trim_start_matches("coverage_").replace('_', "–");
                format!(", {levels} coverage {}", crate::fmt::compact(*v))
            });
        out.push(format!(
            "  {}: {metric} {} over {} windows{versus}{coverage}",
            s.name,
            crate::fmt::compact(*model),
            s.windows
        ));
    }
    out
}

/// The result a user came for, from the run's `summary.json`: the test
/// part's headline metric in original units beside the baselines' (naive,
/// seasonal naive, mean; the majority class; the unigram model), the best
/// evaluation and its checkpoint, and the run directory.
pub(super) fn result_lines(run: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let result = crate::frontend::test_result(run);
    if let Some(((name, value), rest)) = result.split_first() {
        let mut line = format!("{name} {}", crate::fmt::compact(*value));
        if !rest.is_empty() {
            let others: Vec<String> = rest
                .iter()
                .map(|(n, v)| format!("{n} {}", crate::fmt::compact(*v)))
                .collect();
            line += &format!(" (baselines: {})", others.join(", "));
        }
        out.push(line);
    }
    let summary = crate::run::read::summary::load_summary(run);
    if let Some(interval) = summary.as_ref().ok().and_then(|s| interval_clause(&s.test)) {
        out.push(format!("test {interval}"));
    }
    if let Some(line) = backtest_line(run) {
        out.push(line);
    }
    out.extend(series_lines(run));
    if let Ok(summary) = summary
        && let (Some(loss), Some(step)) = (summary.best_valid_loss, summary.best_step)
    {
        // The headline metric in original units when there is one.
        let (name, value) = ["rmse", "accuracy", "bits_per_char"]
            .iter()
            .find_map(|k| summary.best_valid.get(*k).map(|v| (*k, *v)))
            .unwrap_or(("loss", loss));
        let best_file = run.join("checkpoints/best.safetensors");
        let checkpoint = if best_file.is_file() {
            format!("; weights: {}", best_file.display())
        } else {
            String::new()
        };
        out.push(format!(
            "best valid {name} {} at step {}{checkpoint}",
            crate::fmt::compact(value),
            crate::fmt::thousands(step)
        ));
    }
    out.push(format!("run directory: {}", run.display()));
    out
}
