//! Calendar features end to end: an hourly series whose daily shape only
//! the time of day explains, with timestamps in its own column; the
//! features' columns in `scaler.json`, and timestamps out of order or
//! repeated refused with the line.

use std::fmt::Write as _;
use std::path::Path;

use crate::common::{rnnlab, root};

/// `hours` hourly rows from 2000-02-27 (across 29 February): a daily
/// cycle plus a slow drift; `swap` exchanges two rows' timestamps.
fn csv(path: &Path, hours: usize, swap: Option<usize>) {
    let mut stamps: Vec<String> = (0..hours)
        .map(|h| {
            let day = h / 24;
            let date = chrono::NaiveDate::from_ymd_opt(2000, 2, 27).unwrap()
                + chrono::Days::new(day as u64);
            format!("{date} {:02}:00", h % 24)
        })
        .collect();
    if let Some(i) = swap {
        stamps.swap(i, i + 1);
    }
    let mut text = String::from("time,load\n");
    for (h, stamp) in stamps.iter().enumerate() {
        let v =
            100.0 + 20.0 * (std::f64::consts::TAU * (h % 24) as f64 / 24.0).sin() + h as f64 * 0.01;
        let _ = writeln!(text, "{stamp},{v:.3}");
    }
    std::fs::write(path, text).unwrap();
}

fn experiment(dir: &Path, data: &Path) -> std::path::PathBuf {
    let exp = dir.join("cal.toml");
    std::fs::write(
        &exp,
        format!(
            r#"name = "calendar"
[data]
source = "csv"
path = '{}'
columns = ["load"]
time_column = "time"
calendar = ["hour_of_day", "day_of_week"]
window = 6
horizon = 1
[[model.layers]]
cell = "gru"
units = 8
[train]
epochs = 2
"#,
            data.display()
        ),
    )
    .unwrap();
    exp
}

#[test]
fn calendar_features_are_inputs_and_bad_timestamps_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("load.csv");
    csv(&data, 24 * 30, None);
    let exp = experiment(tmp.path(), &data);
    let check = rnnlab(&root(), &["check", exp.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    // One data column and two sine/cosine pairs: 5 inputs per step.
    assert!(check.stdout.contains("×6×5"), "{}", check.stdout);
    let run = tmp.path().join("run");
    let out = rnnlab(
        &root(),
        &[
            "train",
            exp.to_str().unwrap(),
            "--headless",
            "--run-dir",
            run.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let scaler = std::fs::read_to_string(run.join("scaler.json")).unwrap();
    for name in [
        "hour_of_day_sin",
        "hour_of_day_cos",
        "day_of_week_sin",
        "day_of_week_cos",
    ] {
        assert!(scaler.contains(name), "{scaler}");
    }

    // Two rows out of order (file lines 12 and 13), then a repeated stamp.
    csv(&data, 24 * 30, Some(10));
    let bad = rnnlab(&root(), &["check", exp.to_str().unwrap()]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("line 13: 2000-02-27 10:00:00 goes back from line 12's 2000-02-27 11:00:00")
            && bad.stderr.contains("column `time`")
            && bad.stderr.contains("sort the file by time"),
        "{}",
        bad.stderr
    );
    let text = std::fs::read_to_string(&data)
        .unwrap()
        .replace("2000-02-27 11:00", "2000-02-27 10:00");
    std::fs::write(&data, text).unwrap();
    let dup = rnnlab(&root(), &["check", exp.to_str().unwrap()]);
    assert_eq!(dup.code, 2);
    assert!(dup.stderr.contains("repeats line 12's"), "{}", dup.stderr);
}
