//! Just a run's curves — training loss and gradient norm per step, the
//! evaluations — for `rnnlab compare` and `rnnlab table`, read with the same
//! parsers as a whole run. Complete lines only, so a run still being
//! written can be read.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::follow::Follower;
use super::rows::Table;
use super::summary::{SummaryFields, is_run_dir, read_summary, status_label};
use super::{ReadError, error};
use crate::events::EvalStats;

/// One run's curves.
#[derive(Debug, Clone, Default)]
pub struct Curves {
    /// `(step, loss, global gradient norm)` per recorded step, at the f32
    /// precision they are recorded at.
    pub steps: Vec<(u64, f32, f32)>,
    /// Every evaluation, in file order.
    pub evals: Vec<EvalStats>,
}

/// Reads the curves of the run in `dir`; missing files read as empty.
pub fn curves(dir: &Path) -> Result<Curves, ReadError> {
    let mut follower = Follower::open(dir)?;
    let mut table = Table::default();
    follower.read_metrics(&mut table, u64::MAX)?;
    let mut evals = Vec::new();
    follower.read_evals(&mut evals)?;
    let steps = (0..table.len())
        .map(|i| {
            let s = table.get(i);
            (s.step, s.loss as f32, s.grad_norm as f32)
        })
        .collect();
    Ok(Curves { steps, evals })
}

/// The evaluations of the run in `dir`, in file order.
pub fn evals(dir: &Path) -> Result<Vec<EvalStats>, ReadError> {
    let mut evals = Vec::new();
    Follower::open(dir)?.read_evals(&mut evals)?;
    Ok(evals)
}

/// One run of several read side by side (`rnnlab compare`).
#[derive(Debug, Clone)]
pub struct NamedRun {
    /// The directory's name (its path when two runs' names repeat).
    pub name: String,
    pub path: PathBuf,
    /// As `rnnlab runs` shows it.
    pub status: String,
    pub summary: SummaryFields,
    pub curves: Curves,
}

impl NamedRun {
    /// The best validation loss and its step: the summary's, else the lowest evaluation.
    pub fn best(&self) -> Option<(u64, f64)> {
        match (self.summary.best_step, self.summary.best_valid_loss) {
            (Some(step), Some(loss)) => Some((step, loss)),
            _ => self
                .curves
                .evals
                .iter()
                .map(|e| (e.step, e.valid_loss))
                .filter(|(_, v)| v.is_finite())
                .min_by(|a, b| a.1.total_cmp(&b.1)),
        }
    }

    /// Steps trained: the summary's, else the last recorded step.
    pub fn step_count(&self) -> Option<u64> {
        self.summary
            .steps
            .or_else(|| self.curves.steps.last().map(|s| s.0))
    }

    /// The last recorded training loss, as the decimal it is recorded as.
    pub fn final_loss(&self) -> Option<f64> {
        let loss = self.curves.steps.last()?.1;
        loss.to_string().parse().ok()
    }
}

/// Reads several runs, naming each by its directory (by its path when names
/// repeat); the error names a path that is not a run directory.
pub fn named_runs(paths: &[PathBuf]) -> Result<Vec<NamedRun>, ReadError> {
    let names: Vec<String> = paths.iter().map(|p| dir_name(p)).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for n in &names {
        *counts.entry(n).or_default() += 1;
    }
    paths
        .iter()
        .zip(&names)
        .map(|(path, name)| {
            let name = if counts[name.as_str()] > 1 {
                path.display().to_string()
            } else {
                name.clone()
            };
            if !path.is_dir() {
                return Err(error(path, None, "no such run directory"));
            }
            if !is_run_dir(path) {
                let why = "not a run directory (it has no experiment.toml or summary.json)";
                return Err(error(path, None, why));
            }
            let summary = read_summary(path);
            Ok(NamedRun {
                name,
                path: path.clone(),
                status: status_label(path, &summary),
                curves: curves(path)?,
                summary,
            })
        })
        .collect()
}

/// A directory's own name, also for `.` or `..`.
fn dir_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            let full = path.canonicalize().ok()?;
            Some(full.file_name()?.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| path.display().to_string())
}

/// Runs that differ only in their seed: one configuration, several seeds.
#[derive(Debug, Clone)]
pub struct SeedGroup {
    /// The hyperparameters that set it apart from the other groups
    /// (`learning_rate=0.01 units=20`), or its first run's name.
    pub label: String,
    pub runs: Vec<NamedRun>,
    /// Each run's seed, as its experiment gives it.
    pub seeds: Vec<String>,
}

/// Groups runs whose experiments are the same but for `seed` (and keys
/// that do not change training: name, threads), in the order first seen.
pub fn by_seed(runs: Vec<NamedRun>) -> Vec<SeedGroup> {
    let ignore = ["name", "seed", "train.threads"];
    let mut groups: Vec<(BTreeMap<String, String>, SeedGroup)> = Vec::new();
    for run in runs {
        let mut keys = super::summary::experiment_keys(&run.path);
        let seed = keys.remove("seed").unwrap_or_else(|| "?".into());
        keys.retain(|k, _| !ignore.contains(&k.as_str()));
        match groups.iter_mut().find(|(k, _)| *k == keys) {
            Some((_, g)) => {
                g.runs.push(run);
                g.seeds.push(seed);
            }
            None => groups.push((
                keys,
                SeedGroup {
                    label: run.name.clone(),
                    runs: vec![run],
                    seeds: vec![seed],
                },
            )),
        }
    }
    // Label each group by what differs between the groups.
    if groups.len() > 1 {
        let all: std::collections::BTreeSet<String> =
            groups.iter().flat_map(|(k, _)| k.keys().cloned()).collect();
        let differing: Vec<String> = all
            .into_iter()
            .filter(|key| {
                groups
                    .iter()
                    .any(|(k, _)| k.get(key) != groups[0].0.get(key))
            })
            .collect();
        if !differing.is_empty() {
            for (keys, g) in &mut groups {
                g.label = differing
                    .iter()
                    .map(|key| {
                        let short = key.split_once('.').map_or(key.as_str(), |(_, r)| r);
                        format!(
                            "{short}={}",
                            keys.get(key).map_or("?", |v| v.trim_matches('"'))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
            }
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// Mean, sample standard deviation (0 for one value), minimum, maximum and count.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spread {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    /// Of the finite values; `None` without one.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Spread {
            mean,
            std: var.sqrt(),
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n,
        })
    }
}
