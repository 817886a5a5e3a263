//! A sweep directory: `sweep.toml` (the resolved sweep and its plan),
//! `trials.csv` and `events.csv` (written by whichever process has news,
//! under a short lock, so that local trials and Slurm tasks can all update
//! them), and a run directory per trial.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::halving::Decisions;
use super::plan::Trial;
use super::spec::{Sweep, SweepError};
use crate::run::RunError;
use crate::run::atomic;
use crate::run::lock::{self, RunLock};
use crate::run::read::{self, summary::read_summary};

/// What `sweep.toml` holds: the sweep, how it runs, and its trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolved {
    pub sweep: Sweep,
    /// `train.threads` of every trial (a trial reproduces with these).
    pub threads: usize,
    /// Trials at once on the machine that planned it.
    pub parallel: usize,
    #[serde(rename = "trial")]
    pub trials: Vec<Trial>,
}

/// An open sweep directory.
#[derive(Debug, Clone)]
pub struct SweepDir {
    pub path: PathBuf,
    pub resolved: Resolved,
}

/// A trial as `trials.csv` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialRow {
    pub trial: usize,
    pub config: usize,
    pub seed: Option<u64>,
    pub params: Vec<(String, String)>,
    /// planned, running, paused (at a rung, to go on), completed, pruned,
    /// stopped, interrupted (killed; resumable), diverged, failed.
    pub status: String,
    pub steps: Option<u64>,
    pub best_valid_loss: Option<f64>,
    /// The sweep's metric at the trial's last evaluation.
    pub metric: Option<f64>,
    pub test: BTreeMap<String, f64>,
    pub run_dir: String,
    /// The run's message (why it failed, diverged or stopped).
    pub message: Option<String>,
}

impl SweepDir {
    /// Creates `dir` (or `sweeps/<name>-<timestamp>`), writes `sweep.toml`
    /// and the empty logs; returns it with the lock of the process that
    /// runs it, if `lock`.
    pub fn create(resolved: Resolved, dir: Option<PathBuf>) -> Result<SweepDir, RunError> {
        let path = match dir {
            Some(d) => {
                fs::create_dir_all(&d).map_err(|e| RunError::io("create", &d, e))?;
                if d.join("sweep.toml").exists() {
                    return Err(RunError::Refused {
                        path: d,
                        message: "already holds a sweep; continue it with `rnnlab sweep --resume` or choose another --sweep-dir".into(),
                    });
                }
                d
            }
            None => fresh_dir(Path::new("sweeps"), &resolved.sweep.name)?,
        };
        let trials = path.join("trials");
        fs::create_dir_all(&trials).map_err(|e| RunError::io("create", &trials, e))?;
        let text = toml::to_string(&resolved).map_err(|e| RunError::Refused {
            path: path.join("sweep.toml"),
            message: format!("cannot write the resolved sweep: {e}"),
        })?;
        write(&path.join("sweep.toml"), text.as_bytes())?;
        let dir = SweepDir { path, resolved };
        let events = dir.path.join("events.csv");
        if !events.exists() {
            write(&events, b"time,trial,kind,detail\n")?;
        }
        dir.refresh()?;
        Ok(dir)
    }

    /// Opens an existing sweep directory.
    pub fn open(path: &Path) -> Result<SweepDir, SweepError> {
        let file = path.join("sweep.toml");
        let text = crate::fsio::read_text(&file, crate::fsio::TOML_LIMIT, "sweep file");
        let text = text.map_err(|e| SweepError {
            file: file.clone(),
            location: None,
            key: None,
            set_by: None,
            message: e.reason(),
            hint: Some("give a directory made by `rnnlab sweep`".into()),
        })?;
        let resolved: Resolved = toml::from_str(&text).map_err(|e| SweepError {
            file: file.clone(),
            location: e
                .span()
                .map(|s| crate::experiment::locate::line_col(&text, s.start)),
            key: None,
            set_by: None,
            message: format!("not a resolved sweep: {}", e.message()),
            hint: Some("it is written by `rnnlab sweep`; do not edit it".into()),
        })?;
        Ok(SweepDir {
            path: path.to_path_buf(),
            resolved,
        })
    }

    /// Whether `path` looks like a sweep directory.
    pub fn is_sweep_dir(path: &Path) -> bool {
        path.join("sweep.toml").is_file() && path.join("trials").is_dir()
    }

    /// Takes the lock of the one process that runs the sweep.
    pub fn lock(&self) -> Result<RunLock, RunError> {
        RunLock::acquire(&self.path).map_err(|e| match e {
            RunError::Refused { path, .. } => RunError::Refused {
                path,
                message: "another rnnlab process is running this sweep; `rnnlab attach` shows it"
                    .into(),
            },
            other => other,
        })
    }

    /// Whether a process is running the sweep.
    pub fn is_running(&self) -> bool {
        lock::is_held(&self.path)
    }

    pub fn trials(&self) -> &[Trial] {
        &self.resolved.trials
    }

    /// A trial's run directory.
    pub fn trial_dir(&self, trial: &Trial) -> PathBuf {
        self.path.join("trials").join(trial.dir_name())
    }

    /// Appends a row to `events.csv`.
    pub fn event(&self, trial: Option<usize>, kind: &str, detail: &str) -> Result<(), RunError> {
        let _guard = self.update_lock()?;
        let path = self.path.join("events.csv");
        let mut row = csv::Writer::from_writer(Vec::new());
        let time = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
        let trial = trial.map_or(String::new(), |t| t.to_string());
        let _ = row.write_record([time.as_str(), trial.as_str(), kind, detail]);
        let bytes = row.into_inner().unwrap_or_default();
        let mut f = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| RunError::io("open", &path, e))?;
        f.write_all(&bytes)
            .map_err(|e| RunError::io("write", &path, e))
    }

    /// Successive halving's decisions so far (none without early stopping).
    pub fn decisions(&self) -> Decisions {
        fs::read_to_string(self.path.join("halving.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Records successive halving's decisions.
    pub fn save_decisions(&self, d: &Decisions) -> Result<(), RunError> {
        let _guard = self.update_lock()?;
        let json = serde_json::to_string_pretty(d).unwrap_or_default();
        write(&self.path.join("halving.json"), json.as_bytes())
    }

    /// Trials the user stopped (`x` on the board): never started again, by
    /// this process or by `sweep --resume` (`rnnlab resume` continues one
    /// by hand).
    pub fn stopped_by_user(&self) -> BTreeSet<usize> {
        fs::read_to_string(self.path.join("stopped.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Records that the user stopped `trial`.
    pub fn stop_by_user(&self, trial: usize) -> Result<(), RunError> {
        let _guard = self.update_lock()?;
        let mut stopped = self.stopped_by_user();
        stopped.insert(trial);
        let json = serde_json::to_string(&stopped).unwrap_or_default();
        write(&self.path.join("stopped.json"), json.as_bytes())
    }

    /// Every trial's row, read from its run directory now.
    pub fn rows(&self) -> Vec<TrialRow> {
        let decisions = self.decisions();
        self.trials()
            .iter()
            .map(|t| self.row(t, &decisions))
            .collect()
    }

    fn row(&self, t: &Trial, decisions: &Decisions) -> TrialRow {
        let dir = self.trial_dir(t);
        let summary = read_summary(&dir);
        let live = lock::is_held(&dir);
        let status = match summary.status.as_deref() {
            _ if live => "running".to_string(),
            None if dir.join("metrics.csv").exists() => "interrupted".into(),
            None => "planned".into(),
            Some("running") => "interrupted".into(),
            Some("stopped") if decisions.pruned.contains(&t.config) => "pruned".into(),
            Some("stopped") if decisions.waiting(t.config) => "paused".into(),
            Some(s) => s.to_string(),
        };
        TrialRow {
            trial: t.index,
            config: t.config,
            seed: t.seed,
            params: t
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
            status,
            steps: summary.steps,
            best_valid_loss: summary.best_valid_loss,
            metric: self.last_metric(&dir),
            test: summary.test,
            run_dir: format!("trials/{}", t.dir_name()),
            message: summary.message,
        }
    }

    /// The sweep's metric at the last evaluation of the run in `dir`.
    pub fn last_metric(&self, dir: &Path) -> Option<f64> {
        let evals = read::evals(dir).ok()?;
        let last = evals.last()?;
        match self.resolved.sweep.metric.strip_prefix("valid.") {
            None => Some(last.valid_loss),
            Some(name) => last
                .metrics
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| *v),
        }
    }

    /// Rewrites `trials.csv` from the trials' run directories (atomically,
    /// under the sweep's short lock) and returns the rows.
    pub fn refresh(&self) -> Result<Vec<TrialRow>, RunError> {
        let _guard = self.update_lock()?;
        let rows = self.rows();
        let tests: BTreeSet<&String> = rows.iter().flat_map(|r| r.test.keys()).collect();
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["trial".to_string(), "seed".into()];
        header.extend(self.resolved.sweep.params.iter().map(|(k, _)| k.clone()));
        header.extend(["status", "steps", "best_valid_loss"].map(String::from));
        header.extend(tests.iter().map(|k| format!("test.{k}")));
        header.push("run_dir".into());
        let _ = w.write_record(&header);
        let opt = |v: Option<String>| v.unwrap_or_default();
        for r in &rows {
            let mut rec = vec![r.trial.to_string(), opt(r.seed.map(|s| s.to_string()))];
            rec.extend(r.params.iter().map(|(_, v)| v.clone()));
            rec.push(r.status.clone());
            rec.push(opt(r.steps.map(|s| s.to_string())));
            rec.push(opt(r.best_valid_loss.map(|v| v.to_string())));
            rec.extend(
                tests
                    .iter()
                    .map(|k| opt(r.test.get(*k).map(|v| v.to_string()))),
            );
            rec.push(r.run_dir.clone());
            let _ = w.write_record(&rec);
        }
        let bytes = w.into_inner().unwrap_or_default();
        write(&self.path.join("trials.csv"), &bytes)?;
        Ok(rows)
    }

    /// A short exclusive lock around updates of the sweep's shared files.
    fn update_lock(&self) -> Result<Flock<File>, RunError> {
        let path = self.path.join(".update.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| RunError::io("open", &path, e))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| RunError::io("lock", &path, io::Error::from(e)))
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    atomic::write(path, bytes).map_err(|e| RunError::io("write", path, e))
}

/// `sweeps/<name>-<stamp>` (`-2`, `-3`, … if taken), created exclusively.
fn fresh_dir(root: &Path, name: &str) -> Result<PathBuf, RunError> {
    fs::create_dir_all(root).map_err(|e| RunError::io("create", root, e))?;
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let base = root.join(format!("{name}-{stamp}"));
    for n in 1.. {
        let path = match n {
            1 => base.clone(),
            n => PathBuf::from(format!("{}-{n}", base.display())),
        };
        match fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(RunError::io("create the sweep directory", &path, e)),
        }
    }
    unreachable!("an unbounded range ends")
}
