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

/// Trains `exp` headless into `run` with `extra` arguments (`--set …`);
/// fails the test unless it ends with exit 0. Returns what it printed.
pub fn train_headless(exp: &Path, run: &Path, extra: &[&str]) -> Out {
    let mut args = vec![
        "train",
        exp.to_str().unwrap(),
        "--headless",
        "--run-dir",
        run.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = rnnlab(&root(), &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

/// A run's `summary.json`.
pub fn summary(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
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

/// A tmux server of its own (killed on drop) with one current session.
///
/// Each [`Tmux::session`] starts a new session (`s1`, `s2`, …) before it
/// kills the previous one: killing a server's only session makes the server
/// exit, and a `new-session` sent while it exits can be lost (the next
/// screen is then empty until the test times out).
pub struct Tmux {
    server: String,
    current: std::cell::Cell<u32>,
}

impl Tmux {
    /// A server named after `name` and this process.
    pub fn new(name: &str) -> Tmux {
        Tmux {
            server: format!("rnnlab-{name}-{}", std::process::id()),
            current: std::cell::Cell::new(0),
        }
    }

    fn command(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.server])
            .args(args)
            .output()
            .expect("running tmux")
    }

    pub fn run(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.command(args).stdout).to_string()
    }

    /// The current session, for `-t`.
    pub fn target(&self) -> String {
        format!("s{}", self.current.get())
    }

    /// Runs `script` in a fresh `w × h` session, which becomes the current
    /// one; the previous session is killed once the new one exists.
    pub fn session(&self, w: u16, h: u16, script: &str) {
        let old = self.target();
        self.current.set(self.current.get() + 1);
        let new = self.target();
        let (w, h) = (w.to_string(), h.to_string());
        let args = ["-f", "/dev/null", "new-session", "-d", "-s", &new];
        let args = [&args[..], &["-x", &w, "-y", &h, script]].concat();
        let mut tries = 0;
        loop {
            let out = self.command(&args);
            if out.status.success() {
                break;
            }
            tries += 1;
            assert!(
                tries < 20,
                "tmux new-session failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if self.current.get() > 1 {
            self.run(&["kill-session", "-t", &old]);
        }
    }

    /// Closes the current session, as a terminal that goes away would.
    pub fn close(&self) {
        self.run(&["kill-session", "-t", &self.target()]);
    }

    /// The visible screen.
    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.target()])
    }

    /// Types keys (tmux names: `Space`, `Enter`, `Home`, or text).
    pub fn keys(&self, keys: &[&str]) {
        let target = self.target();
        let mut args = vec!["send-keys", "-t", &target];
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

/// Writes `(x, y)` rows as a CSV with the header `x,y` (6 decimals).
pub fn write_xy_csv(path: &Path, rows: &[(f64, f64)]) {
    use std::fmt::Write as _;
    let mut text = String::from("x,y\n");
    for (x, y) in rows {
        let _ = writeln!(text, "{x:.6},{y:.6}");
    }
    std::fs::write(path, text).unwrap();
}

/// The first data row (after the header) of a CSV written by `predict`, as numbers.
pub fn first_row(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let row = text.lines().nth(1).unwrap_or_else(|| panic!("{text}"));
    row.split(',').map(|v| v.parse().unwrap()).collect()
}
