//! End to end in a real terminal: the dashboard driven through tmux.
//!
//! Needs `tmux` (`.ci/run` installs it and sets `RNNLAB_REQUIRE_TMUX=1`, so CI
//! never skips this test; elsewhere a missing tmux skips it with a notice).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "rnnlab"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "rnnlab"];
        args.extend_from_slice(keys);
        self.run(&args);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Polls `check` every 100 ms for up to `secs` seconds.
fn wait_for(what: &str, secs: u64, mut check: impl FnMut() -> bool, tmux: &Tmux) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}; screen:\n{}", tmux.screen());
}

fn rows(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn dashboard_pause_tune_checkpoint_quit_in_tmux() {
    if !tmux_available() {
        assert!(
            std::env::var_os("RNNLAB_REQUIRE_TMUX").is_none(),
            "tmux is required (RNNLAB_REQUIRE_TMUX is set) but not installed"
        );
        eprintln!("SKIPPED dashboard_pause_tune_checkpoint_quit_in_tmux: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run: PathBuf = dir.path().join("run");
    let exit_file = dir.path().join("exit");
    let stty_file = dir.path().join("stty");
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!(
        "export LANG=C.UTF-8; unset NO_COLOR; cd {root} && {bin} train experiments/quickstart.toml --set train.epochs=200 --run-dir {run}; \
         echo $? > {exit}; stty -a > {stty}; sleep 60",
        bin = env!("CARGO_BIN_EXE_rnnlab"),
        run = run.display(),
        exit = exit_file.display(),
        stty = stty_file.display(),
    );
    let tmux = Tmux {
        socket: format!("rnnlab-test-{}", std::process::id()),
    };
    tmux.run(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "rnnlab",
        "-x",
        "100",
        "-y",
        "30",
        &script,
    ]);
    let metrics = run.join("metrics.csv");
    let events = run.join("events.csv");

    wait_for(
        "the dashboard and some steps",
        120,
        || tmux.screen().contains("RUNNING") && rows(&metrics) > 30,
        &tmux,
    );
    let screen = tmux.screen();
    assert!(
        screen.contains("loss") && screen.contains("gradient norms"),
        "{screen}"
    );

    // space pauses training: PAUSED on screen, metrics.csv stops growing.
    tmux.keys(&["Space"]);
    wait_for("PAUSED", 20, || tmux.screen().contains("PAUSED"), &tmux);
    std::thread::sleep(Duration::from_millis(300));
    let paused_rows = rows(&metrics);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rows(&metrics), paused_rows, "metrics.csv grew while paused");
    assert!(read(&events).contains(",pause,"));

    // space again resumes.
    tmux.keys(&["Space"]);
    wait_for(
        "training to resume",
        20,
        || rows(&metrics) > paused_rows + 5,
        &tmux,
    );
    assert!(read(&events).contains(",resume,"));

    // t opens the tune form; typing replaces the learning rate; Enter applies.
    tmux.keys(&["t"]);
    wait_for(
        "the tune form",
        10,
        || tmux.screen().contains("learning_rate"),
        &tmux,
    );
    tmux.keys(&["0", ".", "0", "0", "0", "3", "Enter"]);
    wait_for(
        "the tune event",
        20,
        || read(&events).contains("learning_rate 0.005 → 0.0003"),
        &tmux,
    );
    wait_for(
        "the new rate in metrics.csv",
        20,
        || {
            read(&metrics)
                .lines()
                .last()
                .is_some_and(|l| l.split(',').nth(5) == Some("0.0003"))
        },
        &tmux,
    );

    // c writes a checkpoint now.
    let checkpoints_before = read(&events).matches(",checkpoint,").count();
    tmux.keys(&["c"]);
    wait_for(
        "the checkpoint event",
        20,
        || read(&events).matches(",checkpoint,").count() > checkpoints_before,
        &tmux,
    );
    let last = read(&events)
        .lines()
        .rfind(|l| l.contains(",checkpoint,"))
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .to_string();
    assert!(run.join("checkpoints").join(&last).is_file(), "{last}");

    // q asks; y stops cleanly and restores the terminal.
    tmux.keys(&["q"]);
    wait_for(
        "the quit question",
        10,
        || tmux.screen().contains("stop training? (y/n)"),
        &tmux,
    );
    tmux.keys(&["y"]);
    wait_for(
        "the process to exit",
        60,
        || exit_file.exists() && stty_file.exists(),
        &tmux,
    );
    assert_eq!(read(&exit_file).trim(), "0");
    let summary = read(&run.join("summary.json"));
    assert!(summary.contains("\"status\": \"stopped\""), "{summary}");
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "rnnlab", "#{alternate_on}"])
            .trim(),
        "0"
    );
    let stty = read(&stty_file);
    let flags: Vec<&str> = stty.split_whitespace().collect();
    assert!(
        flags.contains(&"icanon") && flags.contains(&"echo"),
        "terminal left raw:\n{stty}"
    );
    let screen = tmux.screen();
    assert!(screen.contains("stopped after"), "{screen}");
}
