//! Front ends: they render the event stream and send commands; they never
//! reach into training. Replay, attach and compare read run directories
//! through [`crate::run::read`] and feed the same dashboard.

pub mod compare;
pub mod headless;
pub mod replay;
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
                    valid: vec![
                        ("mse".into(), b.valid.mse),
                        ("rmse".into(), b.valid.rmse),
                        ("mae".into(), b.valid.mae),
                    ],
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Columns a line of output may take: the terminal's width when `terminal`
/// (the stream is a terminal, and its size can be read), else 80.
pub fn width(terminal: bool) -> usize {
    const DEFAULT: usize = 80;
    if !terminal {
        return DEFAULT;
    }
    crossterm::terminal::size().map_or(DEFAULT, |(w, _)| usize::from(w).max(20))
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
}

impl crate::error::Failure for FrontendError {
    fn kind(&self) -> crate::error::Kind {
        match self {
            FrontendError::Terminal(_) => crate::error::Kind::Failure,
            FrontendError::Read(_) => crate::error::Kind::BadInput,
        }
    }
}
