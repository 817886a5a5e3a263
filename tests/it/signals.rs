//! Signals: SIGTERM (kill, timeout, systemd, Slurm) and SIGHUP (a closed
//! terminal or SSH session) stop a run cleanly, headless or in the
//! dashboard: status `stopped`, a final checkpoint, no socket left, the lock
//! released, and a resume that continues bit-identically.

use std::path::Path;
use std::process::{Command, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::common::{BIN, Child, Tmux, root, wait_until};

const SETS: [&str; 8] = [
    "--set",
    "data.count=1000",
    "--set",
    "train.batch_size=32",
    "--set",
    "checkpoint.keep_last=0",
    "--set",
    "train.epochs=300",
];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn rows(run: &Path) -> usize {
    read(&run.join("metrics.csv"))
        .matches('\n')
        .count()
        .saturating_sub(1)
}

fn summary(run: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&run.join("summary.json"))).unwrap_or_default()
}

/// Checks what a clean stop leaves, then resumes to a shorter end and
/// compares with a run never stopped.
fn stopped_cleanly_and_resumes(run: &Path, what: &str) {
    let s = summary(run);
    assert_eq!(s["status"], "stopped", "{what}: {s}");
    let steps = s["steps"].as_u64().unwrap();
    let ckpt = run.join(format!("checkpoints/step-{steps}.safetensors"));
    assert!(
        ckpt.is_file(),
        "{what}: no final checkpoint at step {steps}"
    );
    assert!(!run.join("control.sock").exists(), "{what}: socket left");
    assert!(!rnnlab::run::lock::is_held(run), "{what}: lock still held");
    // Continue to the end of the epoch after the stop, and compare.
    let info: serde_json::Value = serde_json::from_str(&read(&run.join("info.json"))).unwrap();
    let per_epoch = info["steps_per_epoch"].as_u64().unwrap();
    let epochs = (steps / per_epoch + 2).to_string();
    let set = format!("train.epochs={epochs}");
    let out = Command::new(BIN)
        .args(["resume", run.to_str().unwrap(), "--headless", "--set", &set])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let whole = run.with_extension("whole");
    let out = Command::new(BIN)
        .args(["train", "experiments/quickstart.toml", "--headless"])
        .args(SETS)
        .args(["--set", &set, "--run-dir", whole.to_str().unwrap()])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let losses = |r: &Path| -> Vec<String> {
        read(&r.join("metrics.csv"))
            .lines()
            .map(|l| l.split(',').take(4).skip(3).collect())
            .collect()
    };
    assert_eq!(losses(run), losses(&whole), "{what}: resumed losses differ");
}

fn headless(signal: Signal) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut child = Child(
        Command::new(BIN)
            .args(["train", "experiments/quickstart.toml", "--headless"])
            .args(SETS)
            .args(["--run-dir", run.to_str().unwrap()])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(
        "some training",
        60,
        || rows(&run) > 100,
        || read(&run.join("events.csv")),
    );
    kill(Pid::from_raw(child.0.id() as i32), signal).unwrap();
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{signal:?}: {status:?}");
    stopped_cleanly_and_resumes(&run, &format!("headless, {signal:?}"));
}

#[test]
fn sigterm_stops_a_headless_run_cleanly() {
    headless(Signal::SIGTERM);
}

#[test]
fn sighup_stops_a_headless_run_cleanly() {
    headless(Signal::SIGHUP);
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux is not installed")]
fn sigterm_and_sighup_stop_a_dashboard_run_cleanly() {
    for signal in [Signal::SIGTERM, Signal::SIGHUP] {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let exit = dir.path().join("exit");
        let tmux = Tmux::new("signals");
        tmux.session(
            80,
            24,
            &format!(
                "export LANG=C.UTF-8; cd {root} && {BIN} train experiments/quickstart.toml {sets} --run-dir {run}; echo $? > {exit}; sleep 60",
                root = root().display(),
                sets = SETS.join(" "),
                run = run.display(),
                exit = exit.display(),
            ),
        );
        tmux.wait("the dashboard", 60, |s| {
            s.contains("RUNNING") && rows(&run) > 100
        });
        // The trainer writes its process id in the run's lock file.
        let pid: i32 = read(&run.join("lock")).trim().parse().unwrap();
        kill(Pid::from_raw(pid), signal).unwrap();
        tmux.wait("the process to end", 60, |_| !read(&exit).is_empty());
        assert_eq!(read(&exit).trim(), "0", "{signal:?}: {}", tmux.screen());
        stopped_cleanly_and_resumes(&run, &format!("dashboard, {signal:?}"));
    }
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux is not installed")]
fn closing_the_terminal_of_a_dashboard_run_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let tmux = Tmux::new("hangup");
    tmux.session(
        80,
        24,
        &format!(
            "export LANG=C.UTF-8; cd {root} && exec {BIN} train experiments/quickstart.toml {sets} --run-dir {run}",
            root = root().display(),
            sets = SETS.join(" "),
            run = run.display(),
        ),
    );
    tmux.wait("the dashboard", 60, |s| {
        s.contains("RUNNING") && rows(&run) > 100
    });
    // As a dropped SSH connection would: the terminal goes away under it.
    tmux.close();
    wait_until(
        "the run to end",
        60,
        || summary(&run)["status"] != "running" && !rnnlab::run::lock::is_held(&run),
        || read(&run.join("events.csv")),
    );
    stopped_cleanly_and_resumes(&run, "dashboard, terminal closed");
}
