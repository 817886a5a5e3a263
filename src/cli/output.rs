//! Writing to the user without ever panicking: `println!` panics when the
//! reader of a pipe has gone (`rnnlab runs | head -1`) or the terminal was
//! closed. Results go to stdout through [`print`], which ends the command
//! quietly (exit 0, as ripgrep does) when the reader is gone; messages go to
//! stderr through [`note`], which drops what cannot be written.

use std::io::{self, Write};

use super::error::{CliError, CliResult};

/// The marker of a closed stdout, recognised by [`is_broken_pipe`].
#[derive(Debug, thiserror::Error)]
#[error("broken pipe")]
struct BrokenPipe;

impl crate::error::Failure for BrokenPipe {
    fn kind(&self) -> crate::error::Kind {
        crate::error::Kind::Failure
    }
}

/// Writes `text` to stdout as is.
pub fn print(text: &str) -> CliResult<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(BrokenPipe.into()),
        Err(e) => Err(CliError::failure(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Writes `line` and a newline to stdout.
pub fn println(line: &str) -> CliResult<()> {
    print(&format!("{line}\n"))
}

/// Writes `line` and a newline to stderr, if it can.
pub fn note(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Columns stdout may take: the terminal's width, else `COLUMNS`, else 80.
pub fn width() -> usize {
    crate::frontend::stdout_width()
}

/// Whether the command ended because stdout's reader went away.
pub fn is_broken_pipe(e: &CliError) -> bool {
    e.error.downcast_ref::<BrokenPipe>().is_some()
}
