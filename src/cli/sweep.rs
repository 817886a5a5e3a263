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
    let parallel = args.parallel.unwrap_or(dir.resolved.parallel);
    run_headless(dir, parallel)
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

/// Runs the sweep's trials, logging to stderr, until they are done or a
/// signal stops them (cleanly: `--resume` continues).
fn run_headless(dir: SweepDir, parallel: usize) -> CliResult<ExitCode> {
    let total = dir.trials().len();
    let sweep = dir.resolved.sweep.clone();
    let describe = |trial: usize| -> String {
        let t = &dir.trials()[trial];
        let mut parts: Vec<String> = t
            .params
            .iter()
            .map(|(k, v)| format!("{}={v}", short_key(k)))
            .collect();
        if let Some(seed) = t.seed {
            parts.push(format!("seed={seed}"));
        }
        parts.join(" ")
    };
    output::note(&format!(
        "sweep {}: {total} trials ({} configurations{}), {parallel} at a time, {} thread{} each",
        sweep.name,
        sweep.configurations(),
        if sweep.seeds.is_empty() {
            String::new()
        } else {
            format!(" × {} seeds", sweep.seeds.len())
        },
        dir.resolved.threads,
        if dir.resolved.threads == 1 { "" } else { "s" }
    ));
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let labels: Vec<String> = (0..total).map(describe).collect();
    let mut runner = Runner::new(dir, parallel)?;
    loop {
        if interrupt.swap(false, Ordering::SeqCst) && !runner.is_stopping() {
            output::note("stopping: every running trial writes its final checkpoint…");
            runner.stop_all();
        }
        for activity in runner.tick()? {
            let line = match activity {
                Activity::Started {
                    trial,
                    resumed,
                    budget,
                } => format!(
                    "trial {trial:03} {} {}{}",
                    if resumed { "resumed" } else { "started" },
                    labels[trial],
                    budget.map_or(String::new(), |b| format!(" (to step {b})"))
                ),
                Activity::Ended {
                    trial,
                    status,
                    steps,
                    metric,
                } => format!(
                    "trial {trial:03} {status} at step {}{}",
                    steps.unwrap_or(0),
                    metric.map_or(String::new(), |m| format!(
                        ": {} {}",
                        sweep.metric,
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
                Activity::Finished => {
                    let rows = runner.dir().refresh()?;
                    output::note(&best_table(&rows, &sweep));
                    return Ok(ExitCode::SUCCESS);
                }
            };
            output::note(&line);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `train.learning_rate` → `learning_rate`; `model.layers.0.units` → `layers.0.units`.
pub fn short_key(key: &str) -> &str {
    key.split_once('.').map_or(key, |(_, rest)| rest)
}

/// The best configurations (mean over their seeds), as a few lines for the
/// end of a sweep.
fn best_table(rows: &[TrialRow], sweep: &Sweep) -> String {
    let mut configs: Vec<(usize, Vec<f64>, &TrialRow)> = Vec::new();
    for r in rows {
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
    let mut out = format!(
        "best configurations by {} (the last evaluation; mean over seeds):",
        sweep.metric
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
        } else {
            String::new()
        };
        let params: Vec<String> = r
            .params
            .iter()
            .map(|(k, v)| format!("{}={v}", short_key(k)))
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
