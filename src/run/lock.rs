//! One writer per run directory: a trainer holds an exclusive `flock` on
//! `RUN_DIR/lock` for its whole life, taken before anything else is
//! written. The kernel releases it when the process ends however it ends
//! (a `kill -9` included), so a held lock always means a live writer, and a
//! free one a run nobody is writing — whatever the control socket says.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::RunError;

/// The lock file's name in a run directory.
pub const LOCK: &str = "lock";

/// The exclusive lock of a run directory; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _lock: Flock<File>,
    pub path: PathBuf,
}

impl RunLock {
    /// Takes the run directory's lock, or fails at once if another process
    /// holds it. The file records the holder's process id (for messages).
    pub fn acquire(dir: &Path) -> Result<RunLock, RunError> {
        let path = dir.join(LOCK);
        let file = open(&path, true).map_err(|e| RunError::io("create the lock", &path, e))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, Errno::EWOULDBLOCK)) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                let by = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (process {holder})")
                };
                return Err(RunError::Refused {
                    path: dir.to_path_buf(),
                    message: format!(
                        "another rnnlab process{by} is writing this run; `rnnlab attach {}` shows it, and only one process may write a run",
                        dir.display()
                    ),
                });
            }
            Err((_, errno)) => {
                return Err(RunError::io("lock", &path, io::Error::from(errno)));
            }
        };
        let pid = std::process::id().to_string();
        let written = lock
            .set_len(0)
            .and_then(|_| lock.write_all(pid.as_bytes()))
            .and_then(|_| lock.flush());
        written.map_err(|e| RunError::io("write", &path, e))?;
        Ok(RunLock { _lock: lock, path })
    }
}

/// Whether a process holds the lock of the run in `dir` (is writing it).
pub fn is_held(dir: &Path) -> bool {
    let Ok(file) = open(&dir.join(LOCK), false) else {
        return false;
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_) => false,
        Err((_, errno)) => errno == Errno::EWOULDBLOCK,
    }
}

/// Opens the lock file without following a symbolic link; `create` makes it
/// (mode 0644: others may test the lock, not take it over).
fn open(path: &Path, create: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    if create {
        o.write(true).create(true).mode(0o644);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::{RunLock, is_held};

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_held(dir.path()));
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert!(is_held(dir.path()));
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another rnnlab process"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(lock);
        assert!(!is_held(dir.path()));
        RunLock::acquire(dir.path()).unwrap();
    }
}
