//! Several series in one file (`data.series_column`) end to end: each
//! series split on its own rows, windows never crossing series (the
//! per-series window counts and the naive baseline's errors recomputed here
//! from the CSV), a series too short refused by name, and `predict` given
//! one series' rows.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::common::{rnnlab, root, summary, train_headless};

const WINDOW: usize = 6;
const HORIZON: usize = 2;

/// Three series of different lengths and levels, interleaved in the file
/// for the first 40 rows of each (the rows of one series keep their order).
fn series() -> Vec<(String, Vec<f64>)> {
    [
        ("north", 120, 10.0),
        ("south", 90, 500.0),
        ("east", 100, -40.0),
    ]
    .iter()
    .map(|&(name, n, level)| {
        let values = (0..n)
            .map(|t| {
                let t = t as f64;
                level + 3.0 * (t * std::f64::consts::TAU / 8.0).sin() + 0.05 * t
            })
            .collect();
        (name.to_string(), values)
    })
    .collect()
}

fn write_csv(path: &Path, all: &[(String, Vec<f64>)]) {
    let mut text = String::from("id,y\n");
    let longest = all.iter().map(|(_, v)| v.len()).max().unwrap();
    for t in 0..longest {
        for (name, v) in all {
            if let Some(y) = v.get(t) {
                let _ = writeln!(text, "{name},{y:.6}");
            }
        }
    }
    std::fs::write(path, text).unwrap();
}

fn experiment(dir: &Path, data: &Path) -> PathBuf {
    let exp = dir.join("multi.toml");
    std::fs::write(
        &exp,
        format!(
            r#"name = "multi"
seed = 5
[data]
source = "csv"
path = '{}'
columns = ["y"]
series_column = "id"
window = {WINDOW}
horizon = {HORIZON}
split = [0.6, 0.2, 0.2]
normalize = "zscore"
[task]
kind = "forecast"
strategy = "vector"
[[model.layers]]
cell = "gru"
units = 8
[train]
epochs = 3
threads = 1
"#,
            data.display()
        ),
    )
    .unwrap();
    exp
}

/// Part sizes as rnnlab splits a series: floor for train and valid.
fn parts(n: usize) -> [usize; 3] {
    let train = (n as f64 * 0.6 + 1e-9).floor() as usize;
    let valid = (n as f64 * 0.2 + 1e-9).floor() as usize;
    [train, valid, n - train - valid]
}

#[test]
fn several_series_train_one_model_and_score_each() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("multi.csv");
    let all = series();
    write_csv(&data, &all);
    let exp = experiment(tmp.path(), &data);
    let run = tmp.path().join("run");
    let out = train_headless(&exp, &run, &[]);
    assert!(
        out.stderr.contains("per series (test): mean MASE") && out.stderr.contains("  south: mase"),
        "{}",
        out.stderr
    );
    let s = summary(&run);
    let scored = s["series"].as_array().unwrap();
    let names: Vec<&str> = scored.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["north", "south", "east"], "in order of appearance");
    for ((name, values), score) in all.iter().zip(scored) {
        // The series' own test part: windows that fit in it alone.
        let [train, valid, test] = parts(values.len());
        let rows = &values[train + valid..];
        assert_eq!(rows.len(), test);
        let windows = test - WINDOW - HORIZON + 1;
        assert_eq!(
            score["windows"].as_u64().unwrap() as usize,
            windows,
            "{name}"
        );
        // The naive forecast's MAE on them, from the CSV's values.
        let mut sum = 0.0;
        for s in 0..windows {
            let last = rows[s + WINDOW - 1];
            for k in 0..HORIZON {
                sum += (rows[s + WINDOW + k] - last).abs();
            }
        }
        let want = sum / (windows * HORIZON) as f64;
        let got = score["baselines"]["naive"]["mae"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-4 * want.max(1.0),
            "{name}: naive MAE {got}, recomputed {want}"
        );
        assert!(score["test"]["mase"].as_f64().unwrap() > 0.0, "{name}");
    }
    // With quantile heads, each series' interval coverage too.
    let q_run = tmp.path().join("q");
    let quantiles = train_headless(&exp, &q_run, &["--set", "task.quantiles=[0.1, 0.5, 0.9]"]);
    assert!(
        quantiles.stderr.contains("  east: mase")
            && quantiles.stderr.contains("q0.1–q0.9 coverage"),
        "{}",
        quantiles.stderr
    );
    let q = summary(&q_run);
    for score in q["series"].as_array().unwrap() {
        let c = score["test"]["coverage_q0.1_q0.9"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c), "{score}");
    }
    // `rnnlab runs` lists the quantile run's test coverage (the point run has none).
    let listed = rnnlab(&root(), &["runs", tmp.path().to_str().unwrap()]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let overall = q["test"]["coverage_q0.1_q0.9"].as_f64().unwrap();
    let q_line = listed.stdout.lines().find(|l| l.starts_with("q ")).unwrap();
    assert!(
        listed.stdout.lines().next().unwrap().contains("coverage")
            && q_line.contains(&format!(" {overall:.3}")),
        "{}",
        listed.stdout
    );

    // The pooled test part holds every series' windows.
    let total: u64 = scored.iter().map(|x| x["windows"].as_u64().unwrap()).sum();
    assert!(total > 0);

    // predict continues one series: the whole file is refused…
    let out_csv = tmp.path().join("next.csv");
    let predict = |series: &Path| {
        rnnlab(
            &root(),
            &[
                "predict",
                run.to_str().unwrap(),
                "--series",
                series.to_str().unwrap(),
                "--output",
                out_csv.to_str().unwrap(),
            ],
        )
    };
    let out = predict(&data);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("holds 3 series (north, south, east)"),
        "{}",
        out.stderr
    );
    // …one series' rows are forecast.
    let south = tmp.path().join("south.csv");
    write_csv(&south, &all[1..2]);
    let out = predict(&south);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let written = std::fs::read_to_string(&out_csv).unwrap();
    assert_eq!(written.lines().count(), 2, "{written}");

    // A series too short for its own test window is refused by name.
    let mut short = all.clone();
    short[2].1.truncate(30);
    write_csv(&data, &short);
    let out = rnnlab(&root(), &["check", exp.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("series `east` has 30 rows"),
        "{}",
        out.stderr
    );
}
