//! Front ends: they render the event stream and send commands; they never
//! reach into training. Replay, attach and compare read run directories
//! through [`crate::run::read`] and feed the same dashboard.

pub mod compare;
pub mod headless;
pub mod replay;
pub mod sweep;
pub mod tensorboard;
pub mod tui;

use crate::run::read::ReadError;

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
