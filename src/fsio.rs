//! Reading the files a user names: regular files only, up to a size limit.
//!
//! Every file rnnlab reads because the user pointed at it (an experiment, a
//! sweep, data, weights, a trainer state, a scaler, predict's input) is
//! opened here. The path is opened with `O_NONBLOCK`, so that a FIFO cannot
//! block the open, and the opened descriptor is `fstat`ed: a directory, FIFO,
//! device or socket is refused, saying which it is, and so is a file larger
//! than the limit for its kind (naming both), before anything is read. The
//! read itself stops one byte past the limit, so a file that grows while it is
//! read, or reports no size (`/proc`), cannot exhaust memory either.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The limit for experiment and sweep files (TOML written by hand).
pub const TOML_LIMIT: u64 = 1 << 20;
/// The limit for a run's JSON files (`summary.json`, `info.json`, …).
pub const RUN_FILE_LIMIT: u64 = 64 << 20;
/// The limit for a run's `scaler.json`.
pub const SCALER_LIMIT: u64 = 16 << 20;

/// Why a file the user named cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", path.display(), self.reason())]
pub struct FileError {
    pub path: PathBuf,
    /// What the file is to rnnlab: "experiment file", "weights file", ….
    pub what: &'static str,
    pub problem: Problem,
}

/// What is wrong with the file.
#[derive(Debug)]
pub enum Problem {
    /// It could not be opened, or looked at.
    Open(io::Error),
    /// Reading it failed part-way.
    Read(io::Error),
    /// It is not a regular file: what it is ("a directory", "a FIFO (named pipe)", …).
    NotRegular(&'static str),
    /// It is larger than the limit for its kind.
    TooLarge { size: u64, limit: u64 },
    /// Text was expected and the file is not UTF-8.
    NotUtf8,
}

impl FileError {
    /// The problem in words, without the path: "the experiment file is a directory, not a file".
    pub fn reason(&self) -> String {
        let what = self.what;
        match &self.problem {
            Problem::Open(e) => format!("cannot read the {what}: {e}"),
            Problem::Read(e) => format!("reading the {what} failed: {e}"),
            Problem::NotRegular(kind) => {
                format!("the {what} is {kind}, not a regular file")
            }
            Problem::TooLarge { size, limit } => format!(
                "the {what} is {}, over the {} limit for {what}s",
                bytes(*size),
                bytes(*limit)
            ),
            Problem::NotUtf8 => format!("the {what} is not UTF-8 text"),
        }
    }

    /// How to fix it, when there is more to say than the reason.
    pub fn hint(&self) -> Option<String> {
        match &self.problem {
            Problem::NotRegular(_) => Some(
                "give the path of a file: a pipe, a device or a directory cannot be read whole"
                    .into(),
            ),
            Problem::TooLarge { .. } => Some(format!(
                "check that this is the right {}; one this large cannot be read whole",
                self.what
            )),
            Problem::Open(e) if e.kind() == io::ErrorKind::NotFound => {
                Some("check the path".into())
            }
            _ => None,
        }
    }

    /// Whether the file does not exist.
    pub fn not_found(&self) -> bool {
        matches!(&self.problem, Problem::Open(e) if e.kind() == io::ErrorKind::NotFound)
    }

    fn new(path: &Path, what: &'static str, problem: Problem) -> FileError {
        FileError {
            path: path.to_path_buf(),
            what,
            problem,
        }
    }
}

impl crate::error::Failure for FileError {
    fn kind(&self) -> crate::error::Kind {
        use crate::error::Kind;
        match &self.problem {
            // A disk error while reading is not the user's doing.
            Problem::Read(e) if !matches!(e.kind(), io::ErrorKind::InvalidData) => Kind::Failure,
            _ => Kind::BadInput,
        }
    }
}

/// What a non-regular file is, in words.
fn kind_of(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("of an unknown type")
    }
}

/// Opens `path` for reading if it is a regular file of at most `limit`
/// bytes; returns the file and its size. Never blocks on a FIFO.
pub fn open_regular(path: &Path, limit: u64, what: &'static str) -> Result<(File, u64), FileError> {
    let fail = |problem| FileError::new(path, what, problem);
    // Refused before opening: a device may act on open, a socket cannot be
    // opened at all (ENXIO), and a FIFO would wait for a writer.
    if let Ok(meta) = std::fs::metadata(path)
        && let Some(kind) = kind_of(&meta)
    {
        return Err(fail(Problem::NotRegular(kind)));
    }
    let file = OpenOptions::new()
        .read(true)
        // Should the path become a FIFO after the check, the open still returns at once.
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| fail(Problem::Open(e)))?;
    // The descriptor's own type and size: what was opened, not what the path was.
    let meta = file.metadata().map_err(|e| fail(Problem::Open(e)))?;
    if let Some(kind) = kind_of(&meta) {
        return Err(fail(Problem::NotRegular(kind)));
    }
    if meta.len() > limit {
        return Err(fail(Problem::TooLarge {
            size: meta.len(),
            limit,
        }));
    }
    Ok((file, meta.len()))
}

/// Reads a regular file of at most `limit` bytes whole.
pub fn read_regular(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, FileError> {
    let (file, size) = open_regular(path, limit, what)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::new(path, what, Problem::Read(e)))?;
    if bytes.len() as u64 > limit {
        // It grew past the limit while being read.
        return Err(FileError::new(
            path,
            what,
            Problem::TooLarge {
                size: bytes.len() as u64,
                limit,
            },
        ));
    }
    Ok(bytes)
}

/// Reads a regular UTF-8 text file of at most `limit` bytes whole.
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, FileError> {
    let bytes = read_regular(path, limit, what)?;
    String::from_utf8(bytes).map_err(|_| FileError::new(path, what, Problem::NotUtf8))
}

/// The memory this machine can give a process now, in bytes: `MemAvailable`
/// from `/proc/meminfo`, lowered to a cgroup's remaining allowance; `None`
/// when neither can be read.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib.saturating_mul(1024))
    });
    let read = |name: &str| -> Option<u64> {
        std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    // cgroup v2: `memory.max` is "max" when unlimited (then it does not
    // parse); v1: `memory.limit_in_bytes` is a huge number when unlimited.
    let cgroup = read("memory.max")
        .map(|max| max.saturating_sub(read("memory.current").unwrap_or(0)))
        .or_else(|| {
            let max = read("memory/memory.limit_in_bytes")?;
            Some(max.saturating_sub(read("memory/memory.usage_in_bytes").unwrap_or(0)))
        });
    match (meminfo, cgroup) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// Memory assumed when the machine's cannot be read.
pub const ASSUMED_MEMORY: u64 = 8 << 30;

/// The limit for files read whole into memory (data, predict's input):
/// the memory available, or [`ASSUMED_MEMORY`].
pub fn memory_limit() -> u64 {
    available_memory().unwrap_or(ASSUMED_MEMORY)
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.0 GiB`, `16 EiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn reason(r: Result<Vec<u8>, FileError>) -> String {
        r.map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn reads_a_regular_file_up_to_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        std::fs::write(&p, b"name = \"x\"\n").unwrap();
        assert_eq!(
            read_text(&p, 11, "experiment file").unwrap(),
            "name = \"x\"\n"
        );
        let e = reason(read_regular(&p, 10, "experiment file"));
        assert!(
            e.contains("a.toml") && e.contains("is 11 B, over the 10 B limit for experiment files"),
            "{e}"
        );
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_and_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Would block forever without O_NONBLOCK: nobody writes to it.
            let e = reason(read_regular(&fifo, 100, "experiment file"));
            assert!(
                e.contains("is a FIFO (named pipe), not a regular file"),
                "{e}"
            );
        }
        let e = reason(read_regular(dir.path(), 100, "data file"));
        assert!(e.contains("the data file is a directory"), "{e}");
        let e = reason(read_regular(Path::new("/dev/zero"), 100, "weights file"));
        assert!(
            e.contains("/dev/zero: the weights file is a character device"),
            "{e}"
        );
        let sock = dir.path().join("sock");
        let _listener = UnixListener::bind(&sock).unwrap();
        let e = reason(read_regular(&sock, 100, "data file"));
        assert!(e.contains("is a socket"), "{e}");
        let e = reason(read_regular(&dir.path().join("none"), 100, "data file"));
        assert!(e.contains("cannot read the data file: No such file"), "{e}");
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        let e = read_text(&p, 100, "text file").unwrap_err().to_string();
        assert!(e.contains("the text file is not UTF-8 text"), "{e}");
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(1 << 20), "1.0 MiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
        assert!(available_memory().is_some_and(|m| m > 0));
    }
}
