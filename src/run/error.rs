//! [`RunError`]: what went wrong with a run directory, naming the path.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Failure, Kind};

/// A run directory could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot {action} {}: {}", path.display(), describe(err))]
    Io {
        action: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("{} already holds a run; choose another --run-dir (runs are never overwritten)", path.display())]
    Exists { path: PathBuf },
    #[error("{} is not a run directory ({why})", path.display())]
    NotARun { path: PathBuf, why: String },
    #[error("{}: {message}", path.display())]
    Refused { path: PathBuf, message: String },
}

impl RunError {
    /// An I/O error while doing `action` (`write`, `create`, …) on `path`.
    pub fn io(action: &'static str, path: &Path, err: io::Error) -> RunError {
        RunError::Io {
            action,
            path: path.to_path_buf(),
            err,
        }
    }
}

impl Failure for RunError {
    fn kind(&self) -> Kind {
        match self {
            RunError::Io { err, .. } => match err.kind() {
                // The user pointed at a path that cannot be used.
                io::ErrorKind::NotFound
                | io::ErrorKind::PermissionDenied
                | io::ErrorKind::NotADirectory
                | io::ErrorKind::IsADirectory
                | io::ErrorKind::ReadOnlyFilesystem
                | io::ErrorKind::AlreadyExists
                | io::ErrorKind::InvalidFilename => Kind::BadInput,
                _ => Kind::Failure,
            },
            RunError::Exists { .. } | RunError::NotARun { .. } | RunError::Refused { .. } => {
                Kind::BadInput
            }
        }
    }
}

/// An I/O error in words, with the fix for the common ones.
pub fn describe(err: &io::Error) -> String {
    let hint = match err.kind() {
        io::ErrorKind::StorageFull => "; free some space, or write to another disk",
        io::ErrorKind::ReadOnlyFilesystem => "; choose a directory on a writable filesystem",
        io::ErrorKind::PermissionDenied => "; check the directory's owner and permissions",
        io::ErrorKind::QuotaExceeded => "; free some space within your quota",
        _ => "",
    };
    format!("{err}{hint}")
}
