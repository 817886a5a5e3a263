//! Running a sweep on this machine: each trial in its own process
//! (`rnnlab sweep-trial DIR INDEX`, the command a Slurm task runs too), at
//! most `parallel` at once, so that a crashed trial never takes the sweep
//! down. With early stopping the trials train round by round to each
//! rung (`--stop-at`) and resume from their checkpoints when promoted.
//!
//! [`Runner::tick`] does one round of bookkeeping without blocking; the
//! command line calls it in a loop (headless) or the sweep board does.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::dir::SweepDir;
use super::halving::Decisions;
use super::plan::Trial;
use crate::events::Command as RunCommand;
use crate::run::RunError;
use crate::run::control::ControlClient;
use crate::run::lock;
use crate::run::read::summary::read_summary;

/// Something that happened in the sweep, for the log or the board.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    Started {
        trial: usize,
        resumed: bool,
        budget: Option<u64>,
    },
    Ended {
        trial: usize,
        status: String,
        steps: Option<u64>,
        metric: Option<f64>,
    },
    Rung {
        rung: usize,
        budget: u64,
        kept: Vec<usize>,
        pruned: Vec<usize>,
    },
    Finished,
}

/// A trial process of this runner.
struct Running {
    trial: usize,
    child: Child,
}

/// Runs a sweep's trials.
pub struct Runner {
    dir: SweepDir,
    exe: PathBuf,
    parallel: usize,
    running: Vec<Running>,
    decisions: Option<Decisions>,
    /// Trials the user stopped (`x` on a board), read at each tick.
    user_stopped: BTreeSet<usize>,
    /// Trials whose process failed to start or died without a result:
    /// not started again in this run.
    given_up: BTreeSet<usize>,
    stopping: bool,
    paused: bool,
    finished: bool,
}

impl Runner {
    /// A runner for `dir`, `parallel` trials at once (at least 1).
    pub fn new(dir: SweepDir, parallel: usize) -> Result<Runner, RunError> {
        let exe = std::env::current_exe()
            .map_err(|e| RunError::io("find", &PathBuf::from("rnnlab"), e))?;
        let decisions = dir.resolved.sweep.early_stop.as_ref().map(|stop| {
            let saved = dir.decisions();
            if saved.alive.is_empty() && saved.pruned.is_empty() {
                Decisions::start(dir.resolved.sweep.configurations(), stop)
            } else {
                saved
            }
        });
        if let Some(d) = &decisions {
            dir.save_decisions(d)?;
        }
        Ok(Runner {
            dir,
            exe,
            parallel: parallel.max(1),
            running: Vec::new(),
            decisions,
            user_stopped: BTreeSet::new(),
            given_up: BTreeSet::new(),
            stopping: false,
            paused: false,
            finished: false,
        })
    }

    pub fn dir(&self) -> &SweepDir {
        &self.dir
    }

    /// The trials running now.
    pub fn running(&self) -> Vec<usize> {
        self.running.iter().map(|r| r.trial).collect()
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Whether every trial is done (or the sweep was stopped and every
    /// trial process has ended).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// The current round's step budget; `None` trains to the end.
    fn budget(&self) -> Option<u64> {
        let stop = self.dir.resolved.sweep.early_stop.as_ref()?;
        self.decisions.as_ref()?.budget(stop)
    }

    /// Whether `trial` still has to train in this round.
    fn to_run(&self, t: &Trial, budget: Option<u64>) -> bool {
        if self.user_stopped.contains(&t.index) || self.given_up.contains(&t.index) {
            return false;
        }
        if let Some(d) = &self.decisions
            && !d.alive.contains(&t.config)
        {
            return false;
        }
        let dir = self.dir.trial_dir(t);
        if lock::is_held(&dir) {
            return false; // running, in this process or another
        }
        let summary = read_summary(&dir);
        match summary.status.as_deref() {
            Some("completed" | "diverged" | "failed") => false,
            Some("stopped") => match budget {
                Some(b) => summary.steps.is_none_or(|s| s < b),
                None => true,
            },
            _ => true,
        }
    }

    /// One round of bookkeeping: ends finished trial processes, closes a
    /// rung whose trials are all done, starts trials while there is room.
    pub fn tick(&mut self) -> Result<Vec<Activity>, RunError> {
        let mut out = Vec::new();
        self.reap(&mut out)?;
        self.user_stopped = self.dir.stopped_by_user();
        if self.finished {
            return Ok(out);
        }
        let budget = self.budget();
        let pending: Vec<Trial> = self
            .dir
            .trials()
            .iter()
            .filter(|t| !self.running.iter().any(|r| r.trial == t.index))
            .filter(|t| self.to_run(t, budget))
            .cloned()
            .collect();
        if self.stopping {
            if self.running.is_empty() {
                self.finished = true;
                self.dir.event(
                    None,
                    "stop",
                    "the sweep was stopped; `rnnlab sweep --resume` continues it",
                )?;
                out.push(Activity::Finished);
            }
            return Ok(out);
        }
        if pending.is_empty() && self.running.is_empty() {
            match (budget, self.close_rung()?) {
                (Some(_), Some(activity)) => out.push(activity),
                _ => {
                    self.finished = true;
                    self.dir.refresh()?;
                    self.dir.event(None, "finish", "every trial is done")?;
                    out.push(Activity::Finished);
                }
            }
            return Ok(out);
        }
        if self.paused {
            return Ok(out);
        }
        for t in pending
            .into_iter()
            .take(self.parallel.saturating_sub(self.running.len()))
        {
            out.push(self.start(&t, budget)?);
        }
        Ok(out)
    }

    /// Starts a trial's process.
    fn start(&mut self, t: &Trial, budget: Option<u64>) -> Result<Activity, RunError> {
        let logs = self.dir.path.join("logs");
        fs::create_dir_all(&logs).map_err(|e| RunError::io("create", &logs, e))?;
        let log_path = logs.join(format!("{}.log", t.dir_name()));
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| RunError::io("open", &log_path, e))?;
        let resumed = self.dir.trial_dir(t).join("checkpoints").is_dir();
        let mut cmd = Command::new(&self.exe);
        cmd.arg("sweep-trial")
            .arg(&self.dir.path)
            .arg(t.index.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(b) = budget {
            cmd.args(["--stop-at", &b.to_string()]);
        }
        match cmd.spawn() {
            Ok(child) => {
                self.running.push(Running {
                    trial: t.index,
                    child,
                });
                // `sweep-trial` records its own start and end in events.csv.
                Ok(Activity::Started {
                    trial: t.index,
                    resumed,
                    budget,
                })
            }
            Err(e) => {
                self.given_up.insert(t.index);
                Err(RunError::io("start a trial process", &self.exe, e))
            }
        }
    }

    /// Ends the trial processes that have exited.
    fn reap(&mut self, out: &mut Vec<Activity>) -> Result<(), RunError> {
        let mut i = 0;
        while i < self.running.len() {
            match self.running[i].child.try_wait() {
                Ok(Some(exit)) => {
                    let trial = self.running.remove(i).trial;
                    let t = self.dir.trials()[trial].clone();
                    let dir = self.dir.trial_dir(&t);
                    let summary = read_summary(&dir);
                    let status = summary.status.clone().unwrap_or_else(|| "failed".into());
                    if summary.status.is_none() || !(exit.success() || exit.code() == Some(1)) {
                        // No result at all (killed, or refused to start): not again in this run.
                        self.given_up.insert(trial);
                    }
                    let metric = self.dir.last_metric(&dir);
                    self.dir.refresh()?;
                    if exit.code().is_none() {
                        // Killed before it could record its end.
                        self.dir
                            .event(Some(trial), "trial_end", &format!("{status} ({exit})"))?;
                    }
                    out.push(Activity::Ended {
                        trial,
                        status,
                        steps: summary.steps,
                        metric,
                    });
                }
                Ok(None) => i += 1,
                Err(_) => i += 1,
            }
        }
        Ok(())
    }

    /// When every trial of a rung has reached it: keeps the best 1/eta.
    fn close_rung(&mut self) -> Result<Option<Activity>, RunError> {
        let (Some(stop), Some(decisions)) = (
            self.dir.resolved.sweep.early_stop.clone(),
            self.decisions.as_mut(),
        ) else {
            return Ok(None);
        };
        let Some(budget) = decisions.budget(&stop) else {
            return Ok(None);
        };
        let trials = self.dir.trials().to_vec();
        let scores: Vec<Option<f64>> = decisions
            .alive
            .iter()
            .map(|&c| {
                let values: Option<Vec<f64>> = trials
                    .iter()
                    .filter(|t| t.config == c)
                    .map(|t| {
                        if self.user_stopped.contains(&t.index) {
                            return None; // stopped short of the rung
                        }
                        let dir = self.dir.trial_dir(t);
                        let ok = matches!(
                            read_summary(&dir).status.as_deref(),
                            Some("completed" | "stopped")
                        );
                        ok.then(|| self.dir.last_metric(&dir)).flatten()
                    })
                    .collect();
                values.map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
            })
            .collect();
        let rung = decisions.rung;
        let (kept, pruned) = decisions.advance(&scores, stop.eta, self.dir.resolved.sweep.maximize);
        let saved = decisions.clone();
        self.dir.save_decisions(&saved)?;
        let list = |v: &[usize]| {
            v.iter()
                .map(|c| format!("config {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.dir.event(
            None,
            "promote",
            &format!("rung {rung} (step {budget}): {} go on", list(&kept)),
        )?;
        if !pruned.is_empty() {
            self.dir.event(
                None,
                "prune",
                &format!("rung {rung} (step {budget}): {} stop here", list(&pruned)),
            )?;
        }
        self.dir.refresh()?;
        Ok(Some(Activity::Rung {
            rung,
            budget,
            kept,
            pruned,
        }))
    }

    /// Pauses or resumes every running trial (through their control sockets);
    /// no new trial starts while paused.
    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        let command = if paused {
            RunCommand::Pause
        } else {
            RunCommand::Resume
        };
        for r in &self.running {
            let t = &self.dir.trials()[r.trial];
            if let Ok(mut client) = ControlClient::connect(&self.dir.trial_dir(t)) {
                let _ = client.send(&command);
            }
        }
    }

    /// Stops one trial cleanly (final checkpoint; `sweep --resume` or
    /// `rnnlab resume` continues it); it is not started again in this run.
    pub fn stop_trial(&mut self, trial: usize) -> Result<(), RunError> {
        self.user_stopped.insert(trial);
        stop_trial(&self.dir, trial)
    }

    /// Stops the sweep: every running trial stops cleanly (SIGTERM: final
    /// checkpoint), no new one starts.
    pub fn stop_all(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        for r in &self.running {
            if let Ok(pid) = i32::try_from(r.child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
    }
}

/// Stops one trial of a sweep cleanly, whichever process runs it, and
/// records that the user did so: no runner starts it again.
pub fn stop_trial(dir: &SweepDir, trial: usize) -> Result<(), RunError> {
    dir.stop_by_user(trial)?;
    let t = &dir.trials()[trial];
    if let Ok(mut client) = ControlClient::connect(&dir.trial_dir(t)) {
        let _ = client.send(&RunCommand::Stop);
    }
    dir.event(Some(trial), "stop", "stopped by the user")
}

impl Drop for Runner {
    fn drop(&mut self) {
        // A runner dropped half-way (an error) stops its trials cleanly.
        self.stop_all();
        for r in &mut self.running {
            let _ = r.child.wait();
        }
    }
}
