//! `rnnlab sweep` (plan and run a sweep, or continue one), and
//! `rnnlab sweep-trial` (run one trial of a planned sweep: what the local
//! runner starts for each trial, and what each task of a Slurm job array runs).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::error::{CliResult, bad_input};
use super::output;
use crate::experiment::Experiment;
use crate::fmt::{short_key, short_value};
use crate::frontend::sweep::{Driver, SweepCommand};
use crate::frontend::tui::ui::Theme;
use crate::sweep::dir::{Resolved, SweepDir, TrialRow};
use crate::sweep::run::{Activity, Runner};
use crate::sweep::{Sweep, plan};

/// What `rnnlab sweep` was asked.
pub struct SweepArgs {
    pub file: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub sweep_dir: Option<PathBuf>,
    pub parallel: Option<usize>,
    pub sets: Vec<String>,
    pub emit_slurm: bool,
    /// The sweep board's theme, or `None` to log to stderr.
    pub dashboard: Option<Theme>,
}

/// `rnnlab sweep SWEEP.toml` / `rnnlab sweep --resume SWEEP_DIR`.
pub fn sweep(args: SweepArgs) -> CliResult<ExitCode> {
    let dir = match (&args.file, &args.resume) {
        (Some(file), None) => plan_sweep(file, &args)?,
        (None, Some(dir)) => {
            if !SweepDir::is_sweep_dir(dir) {
                bad_input!(
                    "{} is not a sweep directory (it has no sweep.toml and trials/)",
                    dir.display()
                );
            }
            SweepDir::open(dir)?
        }
        _ => bad_input!("give a sweep file, or --resume SWEEP_DIR"),
    };
    output::println(&dir.path.display().to_string())?;
    if args.emit_slurm {
        let script = crate::sweep::slurm::write_script(&dir)?;
        if dir.resolved.sweep.early_stop.is_some() {
            output::note(
                "note: [early_stop] is not applied under Slurm: every task trains its trial to the end",
            );
        }
        output::note(&format!(
            "wrote {}\nsubmit it with:\n  sbatch {}",
            script.display(),
            script.display()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = dir.lock()?;
    let resumed = args.resume.is_some();
    let (kind, detail) = if resumed {
        ("resume", "the sweep continues".to_string())
    } else {
        ("start", format!("{} trials", dir.trials().len()))
    };
    dir.event(None, kind, &detail)?;
    let parallel = match args.parallel.unwrap_or(dir.resolved.parallel) {
        0 => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / dir.resolved.threads.max(1)).max(1)
        }
        p => p,
    };
    run_sweep(dir, parallel, args.dashboard)
}

/// Plans a sweep from its file and creates its directory.
fn plan_sweep(file: &Path, args: &SweepArgs) -> CliResult<SweepDir> {
    let sweep = Sweep::load(file, &args.sets)?;
    let trials = plan(&sweep);
    let base = Experiment::load(&sweep.experiment, &sweep.sets)?;
    // A trial's threads never depend on how many trials run at once, so
    // that its results do not either: the experiment's `train.threads`, or 1.
    let threads = base.train.threads.max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallel = match args.parallel.unwrap_or(sweep.parallel) {
        0 => (cores / threads).max(1),
        p => p,
    };
    let parallel = parallel.min(trials.len().max(1));
    // Every trial's experiment must be valid before anything runs.
    for t in &trials {
        let mut sets = t.sets(&sweep);
        sets.push(format!("train.threads={threads}"));
        if let Err(mut e) = Experiment::load(&sweep.experiment, &sets) {
            let params: Vec<String> = t.params.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            e.message = format!(
                "trial {} ({}) is not a valid experiment: {}",
                t.index,
                params.join(", "),
                e.message
            );
            e.file = file.to_path_buf();
            e.location = None;
            return Err(e.into());
        }
    }
    let resolved = Resolved {
        sweep,
        threads,
        parallel,
        trials,
    };
    Ok(SweepDir::create(resolved, args.sweep_dir.clone())?)
}

/// Runs the sweep's trials until they are done or a signal (or the user)
/// stops them — cleanly: `--resume` continues. With a theme on the sweep
/// board, otherwise logging to stderr.
fn run_sweep(dir: SweepDir, parallel: usize, dashboard: Option<Theme>) -> CliResult<ExitCode> {
    let total = dir.trials().len();
    let sweep = dir.resolved.sweep.clone();
    let threads = dir.resolved.threads;
    output::note(&format!(
        "sweep {}: {}{total} trials, {parallel} at once{}",
        sweep.name,
        if sweep.seeds.len() > 1 {
            format!(
                "{} configurations × {} seeds = ",
                sweep.configurations(),
                sweep.seeds.len()
            )
        } else {
            String::new()
        },
        if threads > 1 {
            format!(", {threads} threads each")
        } else {
            String::new()
        }
    ));
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let mut driven = Driven {
        labels: (0..total).map(|t| label(&dir, t)).collect(),
        runner: Runner::new(dir.clone(), parallel)?,
        error: None,
    };
    if let Some(theme) = dashboard {
        crate::frontend::sweep::show(dir.clone(), &mut driven, theme, &interrupt)?;
        if let Some(e) = driven.error.take() {
            return Err(e.into());
        }
        return Ok(ended(&driven.runner, &dir.refresh()?));
    }
    loop {
        if interrupt.swap(false, Ordering::SeqCst) && !driven.runner.is_stopping() {
            output::note("stopping: every running trial writes its final checkpoint…");
            driven.runner.stop_all();
        }
        for activity in driven.runner.tick()? {
            match driven.line(&activity) {
                Some(line) => output::note(&line),
                None => return Ok(ended(&driven.runner, &runner_rows(&driven.runner)?)),
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn runner_rows(runner: &Runner) -> CliResult<Vec<TrialRow>> {
    Ok(runner.dir().refresh()?)
}

/// The end of a sweep run: the best configurations, and how to go on if
/// it was stopped.
fn ended(runner: &Runner, rows: &[TrialRow]) -> ExitCode {
    let dir = runner.dir();
    output::note(&best_table(rows, &dir.resolved.sweep));
    let open = rows
        .iter()
        .filter(|r| {
            matches!(
                r.status.as_str(),
                "planned" | "interrupted" | "paused" | "running"
            )
        })
        .count();
    if open > 0 {
        output::note(&format!(
            "{open} trial{} not finished; continue with: rnnlab sweep --resume {}",
            if open == 1 { " is" } else { "s are" },
            dir.path.display()
        ));
    }
    ExitCode::SUCCESS
}

/// A trial's swept values and seed, as `lr=0.01 units=32 seed=2`.
fn label(dir: &SweepDir, trial: usize) -> String {
    let t = &dir.trials()[trial];
    let mut parts: Vec<String> = t
        .params
        .iter()
        .map(|(k, v)| format!("{}={}", short_key(k), short_value(&v.to_string())))
        .collect();
    if let Some(seed) = t.seed {
        parts.push(format!("seed={seed}"));
    }
    parts.join(" ")
}

/// The runner as the sweep board drives it.
struct Driven {
    runner: Runner,
    labels: Vec<String>,
    /// The first error of the runner (the sweep is then stopped).
    error: Option<crate::run::RunError>,
}

impl Driven {
    /// A line for the log about `activity`; `None` when the sweep is over.
    fn line(&self, activity: &Activity) -> Option<String> {
        let metric = &self.runner.dir().resolved.sweep.metric;
        Some(match activity {
            Activity::Started {
                trial,
                resumed,
                budget,
            } => format!(
                "trial {trial:03} {} {}{}",
                if *resumed { "resumed" } else { "started" },
                self.labels[*trial],
                budget.map_or(String::new(), |b| format!(" (to step {b})"))
            ),
            Activity::Ended {
                trial,
                status,
                steps,
                metric: value,
            } => format!(
                "trial {trial:03} {status} at step {}{}",
                steps.unwrap_or(0),
                value.map_or(String::new(), |m| format!(
                    ": {metric} {}",
                    crate::fmt::compact(m)
                ))
            ),
            Activity::Rung {
                rung,
                budget,
                kept,
                pruned,
            } => format!(
                "rung {rung} (step {budget}): configurations {kept:?} go on, {} stop",
                pruned.len()
            ),
            Activity::Finished => return None,
        })
    }
}

impl Driver for Driven {
    fn tick(&mut self) -> Vec<String> {
        match self.runner.tick() {
            Ok(activities) => activities
                .iter()
                .map(|a| {
                    self.line(a)
                        .unwrap_or_else(|| "the sweep is over; q leaves".to_string())
                })
                .collect(),
            Err(e) => {
                let line = format!("error: {e}; stopping the sweep");
                if self.error.is_none() {
                    self.error = Some(e);
                    self.runner.stop_all();
                    vec![line]
                } else {
                    Vec::new()
                }
            }
        }
    }

    fn command(&mut self, command: SweepCommand) {
        match command {
            SweepCommand::Pause(p) => self.runner.set_paused(p),
            SweepCommand::StopTrial(t) => {
                if let Err(e) = self.runner.stop_trial(t)
                    && self.error.is_none()
                {
                    self.error = Some(e);
                }
            }
            SweepCommand::StopAll => self.runner.stop_all(),
        }
    }

    fn finished(&self) -> bool {
        self.runner.finished()
    }
}

/// The best configurations (mean over their seeds), as a few lines for the
/// end of a sweep.
fn best_table(rows: &[TrialRow], sweep: &Sweep) -> String {
    let mut configs: Vec<(usize, Vec<f64>, &TrialRow)> = Vec::new();
    // Only trials trained to the end compare fairly.
    for r in rows.iter().filter(|r| r.status == "completed") {
        match configs.iter_mut().find(|(c, _, _)| *c == r.config) {
            Some((_, values, _)) => values.extend(r.metric),
            None => configs.push((r.config, r.metric.into_iter().collect(), r)),
        }
    }
    configs.retain(|(_, v, _)| !v.is_empty());
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    configs.sort_by(|a, b| {
        let (a, b) = (mean(&a.1), mean(&b.1));
        if sweep.maximize {
            b.total_cmp(&a)
        } else {
            a.total_cmp(&b)
        }
    });
    if configs.is_empty() {
        return "no trial has completed yet".into();
    }
    let mut out = format!(
        "best configurations by {} (the last evaluation{}):",
        sweep.metric,
        if sweep.seeds.len() > 1 {
            "; mean over completed seeds"
        } else {
            ""
        }
    );
    for (config, values, r) in configs.iter().take(5) {
        let m = mean(values);
        let spread = if values.len() > 1 {
            let var =
                values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
            format!(
                " ± {} (n={})",
                crate::fmt::compact(var.sqrt()),
                values.len()
            )
        } else if sweep.seeds.len() > 1 {
            " (n=1)".to_string()
        } else {
            String::new()
        };
        let params: Vec<String> = r
            .params
            .iter()
            .map(|(k, v)| format!("{}={}", short_key(k), short_value(&v.to_string())))
            .collect();
        out += &format!(
            "\n  config {config:>3}  {}{spread}  {}",
            crate::fmt::compact(m),
            params.join(" ")
        );
    }
    out
}

/// `rnnlab sweep-trial SWEEP_DIR INDEX [--stop-at STEP]`: trains one trial
/// of a planned sweep headless in `trials/<INDEX>`, or resumes it from its
/// newest checkpoint; then brings `trials.csv` up to date.
pub fn sweep_trial(dir: &Path, index: usize, stop_at: Option<u64>) -> CliResult<ExitCode> {
    if !SweepDir::is_sweep_dir(dir) {
        bad_input!("{} is not a sweep directory", dir.display());
    }
    let sweep = SweepDir::open(dir)?;
    let Some(trial) = sweep.trials().get(index).cloned() else {
        bad_input!(
            "{} has trials 0 to {}; there is no trial {index}",
            dir.display(),
            sweep.trials().len().saturating_sub(1)
        );
    };
    let run = sweep.trial_dir(&trial);
    let options = crate::train::Options {
        stop_at,
        tensorboard: false,
    };
    let resumable = crate::run::checkpoints(&run)
        .is_ok_and(|c| c.iter().any(|(_, p)| crate::run::state_path(p).is_file()));
    let slurm = match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(job), Ok(task)) => format!(" (slurm job {job}_{task})"),
        _ => std::env::var("SLURM_JOB_ID").map_or(String::new(), |j| format!(" (slurm job {j})")),
    };
    let (kind, to) = (
        if resumable {
            "trial_resume"
        } else {
            "trial_start"
        },
        stop_at.map_or("to the end".into(), |s| format!("to step {s}")),
    );
    sweep.event(Some(index), kind, &format!("{to}{slurm}"))?;
    let trained = (|| -> CliResult<ExitCode> {
        if resumable {
            return super::train::resume(&run, None, &[], None, options);
        }
        if run.join("metrics.csv").exists() {
            // Killed before its first checkpoint: nothing to keep.
            clear_run(&run)?;
        }
        let mut sets = trial.sets(&sweep.resolved.sweep);
        sets.push(format!("train.threads={}", sweep.resolved.threads));
        let exp = &sweep.resolved.sweep.experiment;
        super::train::train(exp, &sets, Some(run.clone()), None, options)
    })();
    sweep.refresh()?;
    let summary = crate::run::read::summary::read_summary(&run);
    let detail = match &trained {
        Err(e) => format!("failed: {e}{slurm}"),
        Ok(_) => format!(
            "{} at step {}{}{slurm}",
            summary.status.as_deref().unwrap_or("failed"),
            summary.steps.unwrap_or(0),
            sweep.last_metric(&run).map_or(String::new(), |m| format!(
                ": {} {m}",
                sweep.resolved.sweep.metric
            ))
        ),
    };
    sweep.event(Some(index), "trial_end", &detail)?;
    trained
}

/// Empties a trial's run directory that has no checkpoint to resume from.
fn clear_run(run: &Path) -> CliResult<()> {
    let lock = crate::run::RunLock::acquire(run)?;
    for entry in std::fs::read_dir(run).map_err(|e| crate::run::RunError::io("read", run, e))? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "lock") {
            continue;
        }
        let removed = if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| crate::run::RunError::io("remove", &path, e))?;
    }
    drop(lock);
    Ok(())
}
