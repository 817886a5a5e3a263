//! The retrained (expanding-window) backtest end to end: `evaluate.retrain`
//! trains one run per origin, as the trials of a sweep in the run
//! directory, each on exactly the rows before its origin (checked against
//! the CSV: its scaler and its validation baseline); the baselines are the
//! fixed-model backtest's at the same origins; `backtest --retrain` scores
//! a finished one again without training; bad inputs end with exit 2.

use std::path::{Path, PathBuf};

use crate::common::{rnnlab, root, summary, train_headless};

/// Rows of the series; the first origin's row, from which every value is
/// poisoned (+1000), so that a run that saw it would show it.
const ROWS: usize = 100;
const FIRST_ORIGIN: usize = 94;

fn value(t: usize) -> f64 {
    let clean = 50.0 + 10.0 * (t as f64 * std::f64::consts::TAU / 12.0).sin() + 0.2 * t as f64;
    if t >= FIRST_ORIGIN {
        clean + 1000.0
    } else {
        clean
    }
}

/// The series' values as the CSV holds them (f32 text).
fn series() -> Vec<f64> {
    (0..ROWS).map(|t| value(t) as f32 as f64).collect()
}

/// A small vector forecast of the series: 60 / 20 / 20 rows, 3 origins 2
/// steps apart (the test part's windows start at 0..=10: forecasts from
/// rows 94, 96 and 98), retrained.
fn experiment(dir: &Path) -> PathBuf {
    let csv: String = std::iter::once("y".to_string())
        .chain(series().iter().map(|v| format!("{}", *v as f32)))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("series.csv"), csv + "\n").unwrap();
    let exp = dir.join("exp.toml");
    std::fs::write(
        &exp,
        r#"name = "retrain-test"
seed = 3

[data]
source = "csv"
path = "series.csv"
columns = ["y"]
window = 8
horizon = 2
split = [0.6, 0.2, 0.2]
normalize = "minmax"

[task]
kind = "forecast"
strategy = "vector"

[evaluate]
origins = 3
step = 2
retrain = true

[[model.layers]]
cell = "gru"
units = 4

[train]
batch_size = 16
epochs = 2
threads = 1
"#,
    )
    .unwrap();
    exp
}

#[test]
fn each_origin_is_retrained_on_exactly_the_rows_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path());
    let run = tmp.path().join("run");
    let out = train_headless(&exp, &run, &[]);
    assert!(
        out.stderr.contains("retraining at 3 of 3 origins")
            && out.stderr.contains("3/3 origins done")
            && out.stderr.contains("retrained backtest MASE"),
        "{}",
        out.stderr
    );
    let s = summary(&run);
    let (fixed, retrained) = (&s["backtest"], &s["backtest_retrained"]);
    assert_eq!(fixed["protocol"], "fixed");
    assert_eq!(retrained["protocol"], "retrained");
    assert_eq!(retrained["runs"], "retrain-3x2");
    for key in ["origins", "step", "first_row", "baselines"] {
        assert_eq!(
            fixed[key], retrained[key],
            "{key}: the same origins and baselines"
        );
    }
    for key in ["mase", "rmsse", "smape", "rmse", "mae", "mse"] {
        let m = &retrained["metrics"][key];
        assert!(m["mean"].as_f64().is_some_and(f64::is_finite), "{key}: {m}");
        assert!(m["sd"].as_f64().is_some_and(|v| v >= 0.0), "{key}: {m}");
    }

    // Each origin's run: cut at its row, split 0.75 / 0.25 (the
    // experiment's train and valid shares), never a row at or after it.
    let y = series();
    let sweep = run.join("retrain-3x2");
    for (k, origin) in [94usize, 96, 98].into_iter().enumerate() {
        let trial = sweep.join(format!("trials/{k:03}"));
        let text = std::fs::read_to_string(trial.join("experiment.toml")).unwrap();
        assert!(text.contains(&format!("end_row = {origin}")), "{text}");
        let train = (origin as f64 * 0.75 + 1e-9).floor() as usize;
        let valid = (origin as f64 * 0.25 + 1e-9).floor() as usize;
        // minmax scaling fitted on the training rows only.
        let part = &y[..train];
        let min = part.iter().copied().fold(f64::INFINITY, f64::min);
        let max = part.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let scaler: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(trial.join("scaler.json")).unwrap())
                .unwrap();
        let (offset, scale) = (
            scaler["offset"][0].as_f64().unwrap(),
            scaler["scale"][0].as_f64().unwrap(),
        );
        assert!((offset - min).abs() < 1e-3, "origin {k}: {offset} vs {min}");
        assert!(
            (scale - (max - min)).abs() < 1e-3,
            "origin {k}: {scale} vs {}",
            max - min
        );
        // The naive baseline on its validation windows, rows train..train+valid.
        let rows = &y[train..train + valid];
        let errors: Vec<f64> = (0..=rows.len() - 10)
            .flat_map(|s| {
                let last = rows[s + 7];
                rows[s + 8..s + 10].iter().map(move |v| (v - last).abs())
            })
            .collect();
        let mae = errors.iter().sum::<f64>() / errors.len() as f64;
        let t = summary(&trial);
        let naive = t["baselines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "naive")
            .unwrap();
        let got = naive["valid"]["mae"].as_f64().unwrap();
        assert!(
            (got - mae).abs() < 1e-4 * mae.max(1.0),
            "origin {k}: {got} vs {mae}"
        );
        assert_eq!(t["status"], "completed");
        assert!(
            t.get("backtest").is_none(),
            "an origin's run has no test part"
        );
        if k == 0 {
            // The first origin's run saw none of the poisoned rows.
            assert!(max < 500.0 && got < 100.0, "{max} {got}");
        }
    }
    let trials = std::fs::read_to_string(sweep.join("trials.csv")).unwrap();
    assert_eq!(trials.lines().count(), 4, "{trials}");
    assert!(trials.lines().next().unwrap().contains("data.end_row"));

    // Again by hand: nothing left to train; the same figures.
    let r = run.to_str().unwrap();
    let again = rnnlab(&root(), &["backtest", r, "--retrain"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(!again.stderr.contains("started"), "{}", again.stderr);
    let mase = &retrained["metrics"]["mase"];
    let cell = format!(
        "| model | {} ± {} |",
        rnnlab::fmt::compact(mase["mean"].as_f64().unwrap()),
        rnnlab::fmt::compact(mase["sd"].as_f64().unwrap())
    );
    assert!(
        again.stdout.contains("models retrained at each origin") && again.stdout.contains(&cell),
        "{}",
        again.stdout
    );
    assert_eq!(summary(&run)["backtest_retrained"], *retrained);
    // `runs` shows both protocols.
    let runs = rnnlab(&root(), &["runs", tmp.path().to_str().unwrap(), "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&runs.stdout).unwrap();
    assert_eq!(rows[0]["retrained"], *mase, "{}", runs.stdout);
    // A run cut where the test part begins, split in the same proportions,
    // holds exactly the run's training and validation rows: it trains bit
    // for bit as the run did.
    let same = tmp.path().join("same");
    train_headless(
        &exp,
        &same,
        &[
            "--set",
            "data.end_row=80",
            "--set",
            "data.split=[0.75, 0.25, 0.0]",
            "--set",
            "evaluate.retrain=false",
        ],
    );
    let (a, b) = (summary(&run), summary(&same));
    assert_eq!(a["best_valid_loss"], b["best_valid_loss"]);
    assert_eq!(a["steps"], b["steps"]);
    assert!(b.get("backtest").is_none() && b.get("backtest_retrained").is_none());
    // `--from` is a fixed model's checkpoint: not with --retrain.
    let both = rnnlab(&root(), &["backtest", r, "--retrain", "--from", "best"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
}

#[test]
fn retraining_refuses_what_it_cannot_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path());
    // A cut past the end of the file, or at row 0.
    let check = |sets: &[&str]| {
        let mut args = vec!["check", exp.to_str().unwrap()];
        for s in sets {
            args.extend(["--set", s]);
        }
        rnnlab(&root(), &args)
    };
    let long = check(&["data.end_row=5000"]);
    assert_eq!(long.code, 2, "{}", long.stderr);
    assert!(
        long.stderr
            .contains("data.end_row = 5000, but the file has 100 data rows"),
        "{}",
        long.stderr
    );
    let zero = check(&["data.end_row=0"]);
    assert_eq!(zero.code, 2, "{}", zero.stderr);
    assert!(zero.stderr.contains("data.end_row"), "{}", zero.stderr);
    // Retraining needs a test part for its origins, and one CSV series.
    let no_test = check(&["data.split=[0.8, 0.2, 0.0]"]);
    assert_eq!(no_test.code, 2, "{}", no_test.stderr);
    assert!(
        no_test.stderr.contains("evaluate.retrain") && no_test.stderr.contains("test part"),
        "{}",
        no_test.stderr
    );
    let synthetic = rnnlab(
        &root(),
        &[
            "check",
            "experiments/quickstart.toml",
            "--set",
            "evaluate.retrain=true",
        ],
    );
    assert_eq!(synthetic.code, 2, "{}", synthetic.stderr);
    assert!(
        synthetic.stderr.contains("evaluate.retrain")
            && synthetic.stderr.contains("remove evaluate.retrain"),
        "{}",
        synthetic.stderr
    );
    // The key is located in the file.
    let text = std::fs::read_to_string(&exp).unwrap();
    std::fs::write(&exp, text.replace("normalize", "end_row = 0\nnormalize")).unwrap();
    let located = rnnlab(&root(), &["check", exp.to_str().unwrap()]);
    assert_eq!(located.code, 2, "{}", located.stderr);
    assert!(
        located.stderr.contains("exp.toml:11:") && located.stderr.contains("data.end_row"),
        "{}",
        located.stderr
    );
}

#[test]
fn a_planned_retrain_is_continued_by_the_next_call() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path());
    let run = tmp.path().join("run");
    train_headless(&exp, &run, &["--set", "evaluate.retrain=false"]);
    assert!(summary(&run).get("backtest_retrained").is_none());
    let r = run.to_str().unwrap();
    // --emit slurm plans the origins and trains none here.
    let emit = rnnlab(
        &root(),
        &[
            "backtest",
            r,
            "--retrain",
            "--origins",
            "2",
            "--emit",
            "slurm",
        ],
    );
    assert_eq!(emit.code, 0, "{}", emit.stderr);
    let sweep = run.join("retrain-2x2");
    let script = std::fs::read_to_string(sweep.join("slurm.sh")).unwrap();
    assert!(
        script.contains("#SBATCH --array=0-1") && script.contains("sweep-trial"),
        "{script}"
    );
    let trials = std::fs::read_to_string(sweep.join("trials.csv")).unwrap();
    assert_eq!(trials.matches(",planned,").count(), 2, "{trials}");
    // The next call trains what is left and scores it.
    let done = rnnlab(
        &root(),
        &[
            "backtest",
            r,
            "--retrain",
            "--origins",
            "2",
            "--parallel",
            "1",
        ],
    );
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.stderr
            .contains("retraining at 2 of 2 origins, 1 at once"),
        "{}",
        done.stderr
    );
    let s = summary(&run);
    assert_eq!(s["backtest_retrained"]["origins"], 2);
    assert_eq!(s["backtest_retrained"]["runs"], "retrain-2x2");
    // The fixed backtest at the same origins prints both tables.
    let fixed = rnnlab(&root(), &["backtest", r, "--origins", "2"]);
    assert_eq!(fixed.code, 0, "{}", fixed.stderr);
    assert_eq!(
        fixed.stdout.matches("| model |").count(),
        2,
        "{}",
        fixed.stdout
    );
}
