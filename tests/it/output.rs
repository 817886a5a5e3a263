//! What every command prints, it prints without panicking: a reader that
//! goes away early (`| head -1`) ends the command quietly, and a path that
//! is not a run is refused at once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::{BIN, root};

/// Runs `rnnlab args…` with stdout read up to its first line and then closed.
fn first_line_then_close(args: &[&str]) -> (String, Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The read end is dropped here: further writes meet a broken pipe.
    let out = child.wait_with_output().unwrap();
    (
        first,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_reader_that_goes_away_ends_commands_quietly() {
    let (first, code, err) = first_line_then_close(&["check", "experiments/homl/04-deep-rnn.toml"]);
    assert!(first.contains(": ok"), "{first}");
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // An output longer than a pipe holds (64 KiB): the CSV of a long run.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = Command::new(BIN)
        .args(["train", "experiments/quickstart.toml", "--headless"])
        .args(["--set", "data.count=400", "--set", "train.epochs=400"])
        .args(["--run-dir", run.to_str().unwrap()])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success());
    let (first, code, err) = first_line_then_close(&["compare", run.to_str().unwrap(), "--csv"]);
    assert_eq!(first.trim(), "run,step,loss,valid_loss,grad_norm");
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn attach_and_replay_refuse_a_path_that_is_not_a_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["attach", "replay"] {
        let started = std::time::Instant::now();
        let out = Command::new(BIN)
            .args([cmd, dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("is not a run or sweep directory"),
            "{cmd}: {err}"
        );
        assert!(started.elapsed().as_secs() < 5, "{cmd} waited");
        let out = Command::new(BIN)
            .args([cmd, "/no/such/run"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no such run directory"));
    }
}
