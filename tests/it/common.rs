//! Helpers shared by the integration tests: the binary, deadlines, tmux.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The `rnnlab` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rnnlab");

/// The package root: `experiments/`, `assets/`, `tests/invalid/` are relative to it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `rnnlab args…` in `dir`; fails the test if it panicked (exit code
/// 101 or a panic message) or was killed by a signal.
pub fn rnnlab(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running rnnlab");
    let out = Out {
        code: out.status.code().expect("rnnlab was killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        out.code != 101 && !out.stderr.contains("panicked"),
        "rnnlab {args:?} panicked:\n{}",
        out.stderr
    );
    out
}

/// Polls `check` every 50 ms until it holds; panics with `what` and
/// `context()` (e.g. the screen) after `secs` seconds.
pub fn wait_until(
    what: &str,
    secs: u64,
    mut check: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {secs} s waiting for {what}\n{}", context());
}

/// A child process killed on drop (if the test fails half-way).
pub struct Child(pub std::process::Child);

impl Child {
    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.0.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tmux server of its own (killed on drop) with one session, `s`.
pub struct Tmux(String);

impl Tmux {
    /// A server named after `name` and this process.
    pub fn new(name: &str) -> Tmux {
        Tmux(format!("rnnlab-{name}-{}", std::process::id()))
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .output()
            .expect("running tmux");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Runs `script` in a fresh `w × h` session.
    pub fn session(&self, w: u16, h: u16, script: &str) {
        self.run(&["kill-session", "-t", "s"]);
        let (w, h) = (w.to_string(), h.to_string());
        let args = ["-f", "/dev/null", "new-session", "-d", "-s", "s"];
        self.run(&[&args[..], &["-x", &w, "-y", &h, script]].concat());
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "s"])
    }

    /// Types keys (tmux names: `Space`, `Enter`, `Home`, or text).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "s"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits until the screen satisfies `check`, for up to `secs` seconds.
    pub fn wait(&self, what: &str, secs: u64, mut check: impl FnMut(&str) -> bool) {
        wait_until(what, secs, || check(&self.screen()), || self.screen());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}
