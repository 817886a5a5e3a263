//! Front ends: they render the event stream and send commands; they never
//! reach into training. Replay, attach and compare read run directories
//! through [`crate::run::read`] and feed the same dashboard.

pub mod compare;
pub mod headless;
pub mod replay;
pub mod sweep;
pub mod tensorboard;
pub mod tui;

use std::io::IsTerminal;
use std::path::Path;

use crate::run::read::ReadError;
use tui::view::Baseline;

/// The baselines' validation scores recorded in `run/summary.json` (written
/// before the first step), in original units; none when it cannot be read.
pub fn baselines(run: &Path) -> Vec<Baseline> {
    crate::run::read::summary::load_summary(run)
        .map(|s| {
            s.baselines
                .into_iter()
                .map(|b| Baseline {
                    name: b.name,
                    valid: b
                        .valid
                        .named()
                        .into_iter()
                        .map(|(name, v)| (name.into(), v))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The result a user came for, from `run/summary.json` once the run is over:
/// the test part's headline metric in original units (RMSE, accuracy, bits
/// per character) first, then the same metric of each reference (the
/// baselines' test scores; the majority class; the unigram model). Empty
/// when the summary has no test figures.
pub fn test_result(run: &Path) -> Vec<(String, f64)> {
    let Ok(s) = crate::run::read::summary::load_summary(run) else {
        return Vec::new();
    };
    let Some((key, value)) = ["rmse", "accuracy", "bits_per_char"]
        .iter()
        .find_map(|k| s.test.get(*k).map(|v| (*k, *v)))
    else {
        return Vec::new();
    };
    let mut out = vec![(format!("test {key}"), value)];
    for (k, v) in &s.test {
        if tui::view::baseline_of(k) == Some(key) {
            out.push((k.split('_').next().unwrap_or(k).to_string(), *v));
        }
    }
    if key == "rmse" {
        for b in &s.baselines {
            if let Some(t) = &b.test {
                out.push((b.name.clone(), t.rmse));
            }
        }
    }
    out
}

/// Columns a line of output may take: the terminal's width when `terminal`
/// (the stream is a terminal, and its size can be read), else `COLUMNS` if
/// set, else 80.
pub fn width(terminal: bool) -> usize {
    if terminal && let Ok((w, _)) = crossterm::terminal::size() {
        return usize::from(w).max(20);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .map_or(80, |w| w.max(20))
}

/// [`width`] for stderr.
pub fn stderr_width() -> usize {
    width(std::io::stderr().is_terminal())
}

/// [`width`] for stdout.
pub fn stdout_width() -> usize {
    width(std::io::stdout().is_terminal())
}

/// Why a front end stopped.
#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    #[error("the terminal failed: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Files could not be written (`export`).
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
}

impl crate::error::Failure for FrontendError {
    fn kind(&self) -> crate::error::Kind {
        match self {
            FrontendError::Terminal(_) => crate::error::Kind::Failure,
            FrontendError::Read(_) => crate::error::Kind::BadInput,
            FrontendError::Run(e) => e.kind(),
        }
    }
}
