//! One writer per run directory, whatever happens around it: two trainers
//! started together on one directory, a resume of a live run (with or
//! without its control socket), and directories prepared by someone else.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{BIN, Child, root, wait_until};

const SMALL: [&str; 6] = [
    "--set",
    "data.count=400",
    "--set",
    "train.epochs=2",
    "--set",
    "train.batch_size=32",
];

fn train(run: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(["train", "experiments/quickstart.toml", "--headless"])
        .args(SMALL)
        .args(extra)
        .args(["--run-dir", run.to_str().unwrap()])
        .current_dir(root());
    c
}

fn said(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn two_trainers_on_one_directory_leave_one_intact_run() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let a = train(&run, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let b = train(&run, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let (a, b) = (
            a.unwrap().wait_with_output().unwrap(),
            b.unwrap().wait_with_output().unwrap(),
        );
        let codes = [a.status.code(), b.status.code()];
        assert!(
            codes.contains(&Some(0)) && codes.contains(&Some(2)),
            "round {round}: exit codes {codes:?}\n{}\n{}",
            said(&a),
            said(&b)
        );
        let loser = if a.status.code() == Some(2) { &a } else { &b };
        let why = said(loser);
        assert!(
            why.contains("is writing this run") || why.contains("already holds a run"),
            "round {round}: {why}"
        );
        let rows = read(&run.join("metrics.csv")).lines().count();
        assert_eq!(rows, 1 + 2 * 9, "round {round}: metrics.csv");
        assert!(read(&run.join("summary.json")).contains("\"completed\""));
    }
}

#[test]
fn a_live_run_cannot_be_resumed_even_without_its_socket() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut trainer = Child(
        train(&run, &["--set", "train.epochs=2000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(
        "a checkpoint",
        60,
        || run.join("checkpoints/step-9.safetensors").is_file(),
        || read(&run.join("events.csv")),
    );
    // As if the socket could not be bound, or another user's connect were refused.
    std::fs::remove_file(run.join("control.sock")).unwrap();
    let rows_before = read(&run.join("metrics.csv")).lines().count();
    let out = Command::new(BIN)
        .args(["resume", run.to_str().unwrap(), "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(
        said(&out).contains("still training in another process"),
        "{}",
        said(&out)
    );
    assert!(trainer.alive(), "the resume attempt ended the live run");
    wait_until(
        "more rows",
        30,
        || read(&run.join("metrics.csv")).lines().count() > rows_before,
        String::new,
    );
    // The rows are whole and in order: nothing was cut under the trainer.
    let steps: Vec<u64> = read(&run.join("metrics.csv"))
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    assert!(steps.windows(2).all(|w| w[1] == w[0] + 1));
}

#[test]
fn planted_links_are_not_followed_and_foreign_directories_refused() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    // Links in place of the run's files.
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    symlink(&victim, run.join("events.csv")).unwrap();
    symlink(&victim, run.join("experiment.toml")).unwrap();
    let out = train(&run, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    assert!(said(&out).contains("events.csv"), "{}", said(&out));
    assert_eq!(read(&victim), "precious");
    // A directory every user may write to.
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = train(&open, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        said(&out).contains("can be written by every user"),
        "{}",
        said(&out)
    );
    // A directory of another user (the tests may run as root, or not).
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    if nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).is_ok() {
        let out = train(&theirs, &[]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            said(&out).contains("belongs to another user"),
            "{}",
            said(&out)
        );
    }
    // A link to a directory as the run directory itself.
    let link = dir.path().join("link");
    symlink(dir.path(), &link).unwrap();
    let out = train(&link, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(said(&out).contains("symbolic link"), "{}", said(&out));
}
