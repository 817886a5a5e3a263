//! TensorBoard export: a sweep becomes one folder of event files per trial
//! with their scalars and HParams sessions, and the sweep's HParams
//! experiment; `train --tensorboard` writes them as it trains. The files
//! are checked here with rnnlab's reader of the framing (CRCs); the
//! `tensorboard` package's own readers check them in
//! `scripts/check_tensorboard.py` (not in CI: it needs the package).

use std::path::{Path, PathBuf};
use std::process::Command;

use rnnlab::run::tensorboard::read_records;

use crate::common::{BIN, root};

fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    files
}

/// How many records mention `needle`.
fn count(records: &[Vec<u8>], needle: &[u8]) -> usize {
    records
        .iter()
        .filter(|r| r.windows(needle.len()).any(|w| w == needle))
        .count()
}

#[test]
fn a_sweep_exports_scalars_and_hparams_and_a_run_writes_them_live() {
    let dir = tempfile::tempdir().unwrap();
    let exp = root().join("experiments/quickstart.toml");
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        format!("name = \"tb\"\nexperiment = \"{}\"\nseeds = [1, 2]\n[params]\n\"train.learning_rate\" = [0.003, 0.01]\n", exp.display()),
    )
    .unwrap();
    let sweep = dir.path().join("sweep");
    let out = Command::new(BIN)
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--headless",
            "--sweep-dir",
            sweep.to_str().unwrap(),
        ])
        .args(["--set", "data.count=300", "--set", "train.epochs=2"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tb = dir.path().join("tb");
    let out = Command::new(BIN)
        .args([
            "export",
            sweep.to_str().unwrap(),
            "--tensorboard",
            tb.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("tensorboard --logdir"));
    let root_files = event_files(&tb.join("sweep"));
    assert_eq!(root_files.len(), 1);
    let records = read_records(&root_files[0]).unwrap();
    assert_eq!(count(&records, b"brain.Event:2"), 1);
    assert_eq!(count(&records, b"_hparams_/experiment"), 1);
    assert_eq!(count(&records, b"train.learning_rate"), 1);
    for i in 0..4 {
        let trial = tb.join(format!("sweep/trial_{i:03}"));
        let files = event_files(&trial);
        assert_eq!(files.len(), 1, "{}", trial.display());
        let records = read_records(&files[0]).unwrap();
        // 2 epochs of 7 steps (300 sequences, batch 32): a loss per step, a
        // validation loss per epoch, the session's start and end.
        let steps = std::fs::read_to_string(sweep.join(format!("trials/{i:03}/metrics.csv")))
            .unwrap()
            .lines()
            .count()
            - 1;
        assert_eq!(count(&records, b"train/loss"), steps);
        assert_eq!(count(&records, b"valid/loss"), 2);
        assert_eq!(count(&records, b"_hparams_/session_start_info"), 1);
        assert_eq!(count(&records, b"_hparams_/session_end_info"), 1);
        assert_eq!(count(&records, b"test/rmse"), 1);
    }
    // Live, as the run trains.
    let run = dir.path().join("run");
    let out = Command::new(BIN)
        .args([
            "train",
            "experiments/quickstart.toml",
            "--headless",
            "--tensorboard",
        ])
        .args(["--set", "data.count=300", "--set", "train.epochs=2"])
        .args(["--run-dir", run.to_str().unwrap()])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = event_files(&run.join("tensorboard"));
    let records = read_records(&files[0]).unwrap();
    let steps = std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(count(&records, b"train/loss"), steps);
    assert_eq!(count(&records, b"valid/rmse"), 2);
}
