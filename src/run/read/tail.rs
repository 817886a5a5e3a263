//! Reading a growing file from a byte offset, whole records at a time; a
//! last line without its newline (being written, or torn by a crash) waits.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{CHUNK, ReadError, error};

/// One file read incrementally from a byte offset.
pub(super) struct Tail {
    pub(super) path: PathBuf,
    /// Where the first record not yet read starts.
    offset: u64,
    /// The file's inode, once opened: a file replaced under us (a resumed
    /// run rewrites its logs) cannot be followed from an offset.
    inode: Option<u64>,
    /// CSV with quoting: a newline inside a quoted field does not end a record.
    csv: bool,
}

/// A bad record: its byte offset in the chunk, and what is wrong with it.
pub(super) type Bad = (usize, String);

impl Tail {
    pub(super) fn new(path: PathBuf, csv: bool) -> Tail {
        Tail {
            path,
            offset: 0,
            inode: None,
            csv,
        }
    }

    /// Hands the complete records after the offset to `each`, a chunk of whole
    /// records at a time, and moves past them, stopping after about `max`
    /// bytes. An unfinished last record stays for the next call. Returns
    /// whether everything was read. A missing file reads as empty; a record
    /// `each` refuses is an error at its line.
    pub(super) fn read(
        &mut self,
        max: u64,
        mut each: impl FnMut(&[u8]) -> Result<(), Bad>,
    ) -> Result<bool, ReadError> {
        let io_error = |e: io::Error| error(&self.path, None, format!("cannot read: {e}"));
        // Opened without blocking and refused unless a regular file (a FIFO
        // planted as a log would otherwise hang the reader).
        let mut file = match crate::fsio::open_regular(&self.path, u64::MAX, "log file") {
            Ok((f, _)) => f,
            Err(e) if e.not_found() => return Ok(true),
            Err(e) => return Err(error(&self.path, None, e.reason())),
        };
        let meta = file.metadata().map_err(io_error)?;
        let size = meta.len();
        if self.inode.is_some_and(|i| i != meta.ino()) || size < self.offset {
            let message = "was rewritten while being read (the run was resumed?); open it again";
            return Err(error(&self.path, None, message));
        }
        self.inode = Some(meta.ino());
        if size == self.offset {
            return Ok(true);
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io_error)?;
        let mut buf = vec![0u8; CHUNK.min((size - self.offset) as usize + 1)];
        let (mut filled, mut taken) = (0, 0);
        loop {
            if taken >= max {
                return Ok(self.offset >= size);
            }
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            let n = file.read(&mut buf[filled..]).map_err(io_error)?;
            if n == 0 {
                return Ok(true);
            }
            filled += n;
            if let Some(end) = complete(&buf[..filled], self.csv) {
                if let Err((at, message)) = each(&buf[..end]) {
                    let line = line_at(&self.path, self.offset + at as u64);
                    return Err(error(&self.path, line, message));
                }
                self.offset += end as u64;
                taken += end as u64;
                buf.copy_within(end..filled, 0);
                filled -= end;
            }
        }
    }
}

/// The length of the complete records at the start of `buf` (through the last
/// newline that ends a record), if there is one.
pub(super) fn complete(buf: &[u8], csv: bool) -> Option<usize> {
    if !csv {
        return buf.iter().rposition(|&b| b == b'\n').map(|i| i + 1);
    }
    let (mut quoted, mut end) = (false, None);
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => end = Some(i + 1),
            _ => {}
        }
    }
    end
}

/// Each non-blank record of a chunk of whole records with its byte offset.
pub(super) fn records(chunk: &[u8], csv: bool) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < chunk.len() {
            let len = complete_first(&chunk[at..], csv);
            let rec = &chunk[at..at + len];
            let start = at;
            at += len;
            let body = rec.strip_suffix(b"\n").unwrap_or(rec);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            if !body.is_empty() {
                return Some((start, body));
            }
        }
        None
    })
}

/// The length of the first record of `buf`, through its newline (or the end).
pub(super) fn complete_first(buf: &[u8], csv: bool) -> usize {
    let mut quoted = false;
    for (i, &b) in buf.iter().enumerate() {
        match b {
            b'"' if csv => quoted = !quoted,
            b'\n' if !quoted => return i + 1,
            _ => {}
        }
    }
    buf.len()
}

/// The 1-based line at a byte offset of a file (read again: errors only).
pub(super) fn line_at(path: &Path, offset: u64) -> Option<u64> {
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take(offset)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1)
}
