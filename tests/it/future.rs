//! Known-future columns end to end: a series `y = 2x + 1` whose driver `x`
//! is white noise known ahead (as a weather forecast would be). Without
//! `x` over the forecast steps no model can beat the mean; with
//! `data.future_columns = ["x"]` the forecast follows it. `predict` takes
//! the horizon's `x` from `--future`; the target itself is refused as a
//! known-future column, and a missing `--future` names the flag.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::common::{rnnlab, root, summary, train_headless, write_xy_csv as write_csv};

/// `x` in [0, 1) from a fixed linear congruential generator, `y = 2x + 1`.
fn series(rows: usize) -> Vec<(f64, f64)> {
    let mut state: u64 = 12_345;
    (0..rows)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = (state >> 40) as f64 / (1u64 << 24) as f64;
            (x, 2.0 * x + 1.0)
        })
        .collect()
}

fn experiment(dir: &Path, data: &Path, future: &str) -> PathBuf {
    let exp = dir.join(format!("future-{}.toml", future.replace('"', "")));
    std::fs::write(
        &exp,
        format!(
            r#"name = "future"
seed = 3
[data]
source = "csv"
path = '{}'
columns = ["y"]
future_columns = [{future}]
window = 8
horizon = 4
split = [0.7, 0.15, 0.15]
normalize = "zscore"
[task]
kind = "forecast"
strategy = "vector"
[[model.layers]]
cell = "gru"
units = 16
[train]
learning_rate = 0.01
batch_size = 32
epochs = 25
threads = 1
"#,
            data.display()
        ),
    )
    .unwrap();
    exp
}

/// Trains `exp` into `run`; returns the model's test RMSE and the naive
/// baseline's.
fn train(exp: &Path, run: &Path) -> (f64, f64) {
    train_headless(exp, run, &[]);
    let s = summary(run);
    let naive = s["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "naive")
        .unwrap()["test"]["rmse"]
        .as_f64()
        .unwrap();
    (s["test"]["rmse"].as_f64().unwrap(), naive)
}

#[test]
fn known_future_columns_reach_the_forecast_steps() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("xy.csv");
    let rows = series(900);
    write_csv(&data, &rows);

    // Without x the target is noise: no better than about its spread
    // (σ of 2·U(0,1) ≈ 0.577), nor than the naive forecast by much.
    let plain = experiment(tmp.path(), &data, "");
    let (blind, naive) = train(&plain, &tmp.path().join("blind"));
    assert!(
        blind > 0.45,
        "without x the model cannot know y: rmse {blind}"
    );

    let with_x = experiment(tmp.path(), &data, r#""x""#);
    let check = rnnlab(&root(), &["check", with_x.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    // y and x led by the horizon: 2 inputs per step.
    assert!(check.stdout.contains("×8×2"), "{}", check.stdout);
    let run = tmp.path().join("seeing");
    let (seeing, naive2) = train(&with_x, &run);
    eprintln!("test rmse: with x {seeing}, without {blind}, naive {naive}");
    assert_eq!(naive, naive2, "the same test windows");
    assert!(
        seeing < 0.25 * blind && seeing < 0.25 * naive,
        "with x over the forecast steps: rmse {seeing} (without {blind}, naive {naive})"
    );
    let scaler = std::fs::read_to_string(run.join("scaler.json")).unwrap();
    assert!(scaler.contains("x_lead4"), "{scaler}");

    // predict: the history's last window, and x over the next 4 steps.
    let history = tmp.path().join("history.csv");
    write_csv(&history, &rows[..700]);
    let ahead = tmp.path().join("ahead.csv");
    let mut text = String::from("x\n");
    for (x, _) in &rows[700..704] {
        let _ = writeln!(text, "{x:.6}");
    }
    std::fs::write(&ahead, text).unwrap();
    let out_csv = tmp.path().join("forecast.csv");
    let args = |future: Option<&Path>| {
        let mut a = vec![
            "predict".to_string(),
            run.to_str().unwrap().into(),
            "--series".into(),
            history.to_str().unwrap().into(),
            "--output".into(),
            out_csv.to_str().unwrap().into(),
        ];
        if let Some(f) = future {
            a.extend(["--future".into(), f.to_str().unwrap().into()]);
        }
        a
    };
    let run_args = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        rnnlab(&root(), &refs)
    };
    let out = run_args(args(Some(&ahead)));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let values = crate::common::first_row(&out_csv);
    assert_eq!(values.len(), 4);
    for (k, (v, (_, y))) in values.iter().zip(&rows[700..704]).enumerate() {
        assert!(
            (v - y).abs() < 0.35,
            "step {}: forecast {v}, truth {y}",
            k + 1
        );
    }

    // Without --future: exit 2, naming the columns and the flag.
    let out = run_args(args(None));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("known-future columns x") && out.stderr.contains("--future"),
        "{}",
        out.stderr
    );
    // Too few rows of x.
    std::fs::write(&ahead, "x\n0.5\n").unwrap();
    let out = run_args(args(Some(&ahead)));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("1 rows of known-future values"),
        "{}",
        out.stderr
    );

    // A copy of the target under another name is refused too.
    let copy = tmp.path().join("copy.csv");
    let mut text = String::from("x,y,y_copy\n");
    for (x, y) in &rows {
        let _ = writeln!(text, "{x:.6},{y:.6},{y:.6}");
    }
    std::fs::write(&copy, text).unwrap();
    let planted = experiment(tmp.path(), &copy, r#""y_copy""#);
    let out = rnnlab(&root(), &["check", planted.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`y_copy` equals the target `y` on every row"),
        "{}",
        out.stderr
    );

    // The target is not known ahead.
    let target = experiment(tmp.path(), &data, r#""y""#);
    let out = rnnlab(&root(), &["check", target.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("future_columns") && out.stderr.contains("`y` is the target"),
        "{}",
        out.stderr
    );
}
