//! The rolling-origin backtest end to end: at the end of training into
//! `summary.json` and the result lines, and by `rnnlab backtest` with other
//! origins; the baselines' scores checked against a computation from the
//! CSV itself (split, origins, in-sample scale), not from rnnlab's code;
//! `predict` with lag columns and a residual target agreeing with it, and
//! `predict --series` computing the lag columns itself.

use std::path::Path;

use crate::common::{rnnlab, root};
use rnnlab::fmt::compact;

/// The electricity day-ahead experiment: 48 steps ahead from 336, weekly season.
const EXP: &str = "experiments/series/electricity-dayahead-gru.toml";

fn demand() -> Vec<f64> {
    let text =
        std::fs::read_to_string(root().join("assets/electricity_demand_halfhourly.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Mean and sample standard deviation.
fn spread(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

#[test]
fn a_series_is_backtested_over_rolling_origins_beside_its_baselines() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = rnnlab(
        &root(),
        &[
            "train",
            EXP,
            "--headless",
            "--run-dir",
            run.to_str().unwrap(),
            "--set",
            "train.max_steps=20",
            "--set",
            "model.layers.0.units=8",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let summary = json(&run.join("summary.json"));
    let bt = &summary["backtest"];
    // The rows split 0.6 / 0.2 / 0.2 (floors, the rest to test): the test
    // part's windows (336 + 48 rows) can start at `last + 1` positions, over
    // which 20 origins are spread.
    let y = demand();
    let n = y.len();
    let (train, valid) = ((n as f64 * 0.6) as usize, (n as f64 * 0.2) as usize);
    let test = &y[train + valid..];
    let last = test.len() - 336 - 48;
    let step = last / 19;
    assert_eq!(
        (bt["origins"].as_u64(), bt["step"].as_u64()),
        (Some(20), Some(step as u64)),
        "{bt:#}"
    );
    // The naive forecast at each origin, scaled by the training part's
    // mean |y_t − y_{t−336}|.
    let scale = {
        let t = &y[..train];
        (336..t.len())
            .map(|i| (t[i] - t[i - 336]).abs())
            .sum::<f64>()
            / (t.len() - 336) as f64
    };
    let mase: Vec<f64> = (0..20)
        .rev()
        .map(|k| {
            let start = last - k * step;
            let origin = start + 336;
            let naive = test[origin - 1];
            let mae = test[origin..origin + 48]
                .iter()
                .map(|v| (v - naive).abs())
                .sum::<f64>()
                / 48.0;
            mae / scale
        })
        .collect();
    let (mean, sd) = spread(&mase);
    let got = &bt["baselines"]["naive"]["mase"];
    assert!(
        (got["mean"].as_f64().unwrap() - mean).abs() < 1e-6 * mean,
        "{got} vs {mean}"
    );
    assert!(
        (got["sd"].as_f64().unwrap() - sd).abs() < 1e-6 * mean,
        "{got} vs {sd}"
    );
    assert_eq!(
        bt["first_row"].as_u64(),
        Some((last - 19 * step + 336) as u64)
    );
    // Every metric for the model and both baselines; sMAPE within [0, 200].
    for who in [
        &bt["metrics"],
        &bt["baselines"]["naive"],
        &bt["baselines"]["seasonal_naive"],
    ] {
        for key in ["mse", "rmse", "mae", "mase", "rmsse", "smape"] {
            assert!(
                who[key]["mean"].as_f64().is_some_and(f64::is_finite),
                "{key}: {who:#}"
            );
        }
        assert!((0.0..=200.0).contains(&who["smape"]["mean"].as_f64().unwrap()));
    }
    let model = bt["metrics"]["mase"]["mean"].as_f64().unwrap();
    let model_sd = bt["metrics"]["mase"]["sd"].as_f64().unwrap();
    assert!(
        out.stderr.contains(&format!(
            "backtest MASE {} ± {} over 20 origins",
            compact(model),
            compact(model_sd)
        )),
        "{}",
        out.stderr
    );

    // `rnnlab backtest` with the experiment's origins gives the same figures…
    let r = run.to_str().unwrap();
    let again = rnnlab(&root(), &["backtest", r]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains(&format!(
            "| model | {} ± {} |",
            compact(model),
            compact(model_sd)
        )),
        "{}",
        again.stdout
    );
    assert!(
        again.stdout.contains("| seasonal_naive |"),
        "{}",
        again.stdout
    );
    // …and others when asked: the last origin stays as late as possible.
    let other = rnnlab(&root(), &["backtest", r, "--origins", "3", "--step", "100"]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let first = last - 200 + 336;
    assert!(
        other.stdout.contains(&format!(
            "3 origins, 100 step(s) apart, the first forecast at row {first} of the test part"
        )),
        "{}",
        other.stdout
    );
    // `runs` shows the backtest's MASE.
    let runs = rnnlab(&root(), &["runs", tmp.path().to_str().unwrap()]);
    assert!(
        runs.stdout
            .contains(&format!("mase {}±{}", compact(model), compact(model_sd))),
        "{}",
        runs.stdout
    );

    // `predict` on the last window (its lag columns beside the demand)
    // forecasts what the backtest's single last origin does: same MAE.
    let t = y.len() - 48;
    let row: Vec<String> = (t - 336..t)
        .flat_map(|s| [y[s], y[s - 288], y[s - 336]])
        .map(|v| v.to_string())
        .collect();
    let (input, output) = (tmp.path().join("in.csv"), tmp.path().join("out.csv"));
    std::fs::write(&input, row.join(",") + "\n").unwrap();
    let p = rnnlab(
        &root(),
        &[
            "predict",
            r,
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    let pred = crate::common::first_row(&output);
    let text = std::fs::read_to_string(&output).unwrap();
    let mae = pred
        .iter()
        .zip(&y[t..])
        .map(|(p, v)| (p - v).abs())
        .sum::<f64>()
        / 48.0;
    // `predict --series` on the file cut after that window computes the
    // lag columns itself and forecasts the same values.
    let csv =
        std::fs::read_to_string(root().join("assets/electricity_demand_halfhourly.csv")).unwrap();
    let cut: Vec<&str> = csv.lines().take(1 + t).collect();
    let head = tmp.path().join("head.csv");
    std::fs::write(&head, cut.join("\n") + "\n").unwrap();
    let series_out = tmp.path().join("series.csv");
    let ps = rnnlab(
        &root(),
        &[
            "predict",
            r,
            "--series",
            head.to_str().unwrap(),
            "--output",
            series_out.to_str().unwrap(),
        ],
    );
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    assert_eq!(std::fs::read_to_string(&series_out).unwrap(), text);
    let one = rnnlab(&root(), &["backtest", r, "--origins", "1"]);
    let model_row = one
        .stdout
        .lines()
        .find(|l| l.starts_with("| model |"))
        .unwrap();
    let cells: Vec<&str> = model_row.split('|').map(str::trim).collect();
    assert_eq!(cells[6], format!("{} ± 0", compact(mae)), "{}", one.stdout);

    // Origins that do not fit, and a run that is not a series: exit 2.
    let too_many = rnnlab(
        &root(),
        &["backtest", r, "--origins", "10", "--step", "100"],
    );
    assert_eq!(too_many.code, 2);
    assert!(
        too_many
            .stderr
            .contains("`evaluate.origins` = 10 origins 100 step(s) apart")
            && too_many
                .stderr
                .contains(&format!("which hold {} such origins", last / 100 + 1)),
        "{}",
        too_many.stderr
    );
    let quick = tmp.path().join("quick");
    let q = rnnlab(
        &root(),
        &[
            "train",
            "experiments/quickstart.toml",
            "--headless",
            "--run-dir",
            quick.to_str().unwrap(),
            "--set",
            "train.max_steps=5",
        ],
    );
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert!(json(&quick.join("summary.json")).get("backtest").is_none());
    let none = rnnlab(&root(), &["backtest", quick.to_str().unwrap()]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr
            .contains("a backtest needs a forecast of one series"),
        "{}",
        none.stderr
    );
}
