//! Entering and leaving the full-screen terminal, safely.
//!
//! The dashboard draws on the controlling terminal (`/dev/tty`) while the
//! process's stdout and stderr point at a log file, so a stray `println!` or a
//! library's warning cannot corrupt the screen. Leaving — normally, on error
//! or from the panic hook — restores the file descriptors, the main screen,
//! cooked mode and the cursor. No mouse capture: copy and paste keep working.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;

use crossterm::{cursor, execute, terminal};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// Saved copies of the original stdout and stderr while they are redirected (-1: none).
static SAVED_STDOUT: AtomicI32 = AtomicI32::new(-1);
static SAVED_STDERR: AtomicI32 = AtomicI32::new(-1);
/// Whether the terminal is in the dashboard's state.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The dashboard's terminal; leaving it (or dropping it) restores everything.
pub struct Tui {
    pub terminal: Terminal<CrosstermBackend<File>>,
}

impl Tui {
    /// Takes over the terminal. Output of the rest of the process goes to `log`
    /// (or is discarded) until [`Tui::leave`].
    pub fn enter(log: Option<&Path>) -> io::Result<Tui> {
        let tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
        install_panic_hook();
        redirect_output(log)?;
        let mut out = tty.try_clone()?;
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(tty))?;
        Ok(Tui { terminal })
    }

    /// Gives the terminal back.
    pub fn leave(self) {
        drop(self);
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the screen, the terminal mode and stdout/stderr; safe to call twice.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        if let Ok(mut tty) = OpenOptions::new().write(true).open("/dev/tty") {
            let _ = execute!(tty, terminal::LeaveAlternateScreen, cursor::Show);
            let _ = tty.flush();
        }
        let _ = terminal::disable_raw_mode();
    }
    restore_output();
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let original = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            original(info);
        }));
    });
}

fn redirect_output(log: Option<&Path>) -> io::Result<()> {
    let target = match log {
        Some(path) => OpenOptions::new().create(true).append(true).open(path)?,
        None => OpenOptions::new().write(true).open("/dev/null")?,
    };
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    for (fd, saved) in [(1, &SAVED_STDOUT), (2, &SAVED_STDERR)] {
        // SAFETY: plain fd duplication; results are checked.
        let copy = unsafe { libc::dup(fd) };
        if copy < 0 {
            return Err(io::Error::last_os_error());
        }
        saved.store(copy, Ordering::SeqCst);
        if unsafe { libc::dup2(target.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn restore_output() {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    for (fd, saved) in [(1, &SAVED_STDOUT), (2, &SAVED_STDERR)] {
        let copy = saved.swap(-1, Ordering::SeqCst);
        if copy >= 0 {
            // SAFETY: `copy` is a descriptor this module duplicated and still owns.
            unsafe {
                libc::dup2(copy, fd);
                libc::close(copy);
            }
        }
    }
}

/// Whether the locale promises UTF-8 (else the dashboard draws ASCII only).
pub fn locale_is_utf8() -> bool {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.contains("utf-8") || v.contains("utf8")
        })
}

/// Whether colour is wanted: `NO_COLOR` (any non-empty value) turns it off.
pub fn colour_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
