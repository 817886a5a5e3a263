//! Just a run's curves — training loss and gradient norm per step, the
//! evaluations — for `rnnlab compare` and `rnnlab table`, read with the same
//! parsers as a whole run. Complete lines only, so a run still being
//! written can be read.

use std::collections::HashMap;
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
