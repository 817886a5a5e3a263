//! Entering and leaving the full-screen terminal, safely.
//!
//! The dashboard draws on the controlling terminal (`/dev/tty`) while the
//! process's stdout and stderr point at a log file, so a stray `println!` or a
//! library's warning cannot corrupt the screen. Leaving — normally, on error
//! or from the panic hook — restores the file descriptors, the main screen,
//! cooked mode and the cursor. No mouse capture: copy and paste keep working.
//! Each frame reaches the terminal in one write (see [`FrameWriter`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};

use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Copies of the original stdout and stderr while they are redirected.
static SAVED: Mutex<Option<(OwnedFd, OwnedFd)>> = Mutex::new(None);
/// Whether the terminal is in the dashboard's state.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// The dashboard's terminal; leaving it (or dropping it) restores everything.
pub struct Tui {
    /// `None` only while being dropped.
    terminal: Option<Screen>,
    /// The terminal, to wait on for input and notice a hang-up.
    input: File,
    /// Readable after a resize (SIGWINCH), for the same wait.
    resized: std::os::unix::net::UnixStream,
    winch: signal_hook::SigId,
    _restore: Restore,
}

type Screen = Terminal<CrosstermBackend<FrameWriter<File>>>;

/// Restores the terminal and the output when dropped; made before anything
/// is changed, so that an error half-way through entering undoes the rest.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        restore();
    }
}

impl Tui {
    /// Takes over the terminal. Output of the rest of the process goes to `log`
    /// (or is discarded) until [`Tui::leave`].
    pub fn enter(log: Option<&Path>) -> io::Result<Tui> {
        let tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
        install_panic_hook();
        let restore = Restore;
        redirect_output(log)?;
        let mut out = tty.try_clone()?;
        let input = tty.try_clone()?;
        let (resized, notify) = std::os::unix::net::UnixStream::pair()?;
        resized.set_nonblocking(true)?;
        let winch = signal_hook::low_level::pipe::register(signal_hook::consts::SIGWINCH, notify)?;
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(FrameWriter::new(tty)))?;
        Ok(Tui {
            terminal: Some(terminal),
            input,
            resized,
            winch,
            _restore: restore,
        })
    }

    /// Draws a frame.
    pub fn draw(&mut self, render: impl FnOnce(&mut ratatui::Frame)) -> io::Result<()> {
        match &mut self.terminal {
            Some(t) => t.draw(render).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Waits up to `wait` for input from the terminal (a key, a resize
    /// report); an error when the terminal has gone away (a closed SSH
    /// session), which the terminal library would wait on for ever.
    pub fn input_ready(&self, wait: std::time::Duration) -> io::Result<bool> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::io::Read;
        use std::os::fd::AsFd;
        let mut fds = [
            PollFd::new(self.input.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.resized.as_fd(), PollFlags::POLLIN),
        ];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => Ok(false),
            Ok(_) => {
                let gone = PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL;
                if fds[0].revents().is_some_and(|r| r.intersects(gone)) {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the terminal went away",
                    ));
                }
                let mut drain = [0u8; 64];
                while (&self.resized).read(&mut drain).is_ok_and(|n| n > 0) {}
                Ok(true)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the terminal back.
    pub fn leave(self) {
        drop(self);
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.winch);
        // A frame cut short by an error goes out before the screen is left;
        // after a panic has restored the terminal, nothing more is written.
        if let Some(mut terminal) = self.terminal.take() {
            let alive = ACTIVE.load(Ordering::SeqCst)
                && terminal.backend_mut().flush().is_ok()
                && terminal.show_cursor().is_ok();
            if !alive {
                // The terminal is gone (or a panic restored it): ratatui's
                // own drop would try to show the cursor and print its failure
                // to a stderr that may be gone too, which panics.
                std::mem::forget(terminal);
            }
        }
        restore();
    }
}

/// Holds what the drawing code writes until ratatui flushes the frame, then
/// writes it in one go. crossterm writes every escape sequence and cell in
/// pieces: unbuffered, a 16-epoch quick start made 16,000 `write` calls to
/// the terminal, each a wake-up of tmux or sshd (which may send it as a
/// packet of its own); now it makes one per frame. Unlike a `BufWriter`,
/// it writes nothing when dropped.
pub struct FrameWriter<W: Write> {
    out: W,
    pending: Vec<u8>,
}

impl<W: Write> FrameWriter<W> {
    /// Frames for `out`.
    pub fn new(out: W) -> FrameWriter<W> {
        FrameWriter {
            out,
            pending: Vec::with_capacity(64 * 1024),
        }
    }
}

impl<W: Write> Write for FrameWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            // Cleared even when the write fails: a frame is not sent twice.
            let result = self.out.write_all(&self.pending);
            self.pending.clear();
            result?;
        }
        self.out.flush()
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
    let saved = (
        nix::unistd::dup(io::stdout())?,
        nix::unistd::dup(io::stderr())?,
    );
    *SAVED.lock().unwrap_or_else(PoisonError::into_inner) = Some(saved);
    nix::unistd::dup2_stdout(&target)?;
    nix::unistd::dup2_stderr(&target)?;
    Ok(())
}

fn restore_output() {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    let saved = SAVED.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some((stdout, stderr)) = saved {
        let _ = nix::unistd::dup2_stdout(&stdout);
        let _ = nix::unistd::dup2_stderr(&stderr);
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

#[cfg(test)]
mod tests {
    use super::FrameWriter;
    use crate::frontend::tui::app::App;
    use crate::frontend::tui::ui::{Theme, render};
    use ratatui::Terminal;
    use ratatui::backend::CrosstermBackend;
    use std::io::{self, Write};

    /// Counts the writes that reach it.
    #[derive(Default)]
    struct Counting {
        writes: usize,
        bytes: Vec<u8>,
    }

    impl Write for &mut Counting {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_frame_is_one_write() {
        let mut sink = Counting::default();
        let app = App::new(true);
        let theme = Theme {
            ascii: false,
            color: true,
        };
        {
            let backend = CrosstermBackend::new(FrameWriter::new(&mut sink));
            let mut terminal = Terminal::with_options(
                backend,
                ratatui::TerminalOptions {
                    viewport: ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, 100, 30)),
                },
            )
            .unwrap();
            for _ in 0..2 {
                terminal.draw(|f| render(f, &app, &theme)).unwrap();
            }
        }
        assert!(sink.bytes.len() > 1000, "a frame was drawn");
        assert!(
            sink.writes <= 3,
            "{} writes for two frames: output is not buffered",
            sink.writes
        );
    }

    #[test]
    fn nothing_is_written_on_drop() {
        let mut sink = Counting::default();
        {
            let mut w = FrameWriter::new(&mut sink);
            w.write_all(b"half a frame").unwrap();
        }
        assert_eq!(sink.writes, 0);
    }
}
