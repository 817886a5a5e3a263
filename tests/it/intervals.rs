//! Prediction intervals end to end: a quantile model and a Gaussian model
//! of the electricity day-ahead series train, report their interval
//! metrics in `eval.csv`, `summary.json` (test and backtest) and the result
//! lines, carry the outermost interval in `predictions.jsonl`, and
//! `predict --series` writes the quantiles sorted beside the point
//! forecast; a replay draws the band; a quantile run resumed mid-epoch is
//! bit-identical.

use std::path::Path;

use crate::common::{rnnlab, root};

/// 48 steps ahead from 336 (vector strategy, residual of seasonal naive).
const EXP: &str = "experiments/series/electricity-dayahead-gru.toml";

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

/// Trains `EXP` briefly with `sets` into `run`; returns stderr.
fn train(run: &Path, sets: &[&str]) -> String {
    let mut args = vec![
        "train",
        EXP,
        "--headless",
        "--run-dir",
        run.to_str().unwrap(),
        "--set",
        "train.max_steps=30",
        "--set",
        "model.layers.0.units=8",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = rnnlab(&root(), &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stderr
}

#[test]
fn quantile_and_gaussian_forecasts_report_their_intervals() {
    let tmp = tempfile::tempdir().unwrap();
    for (what, set) in [
        ("quantiles", "task.quantiles=[0.1,0.5,0.9]"),
        ("gaussian", "task.distribution=gaussian"),
    ] {
        let run = tmp.path().join(what);
        let said = train(&run, &[set]);
        assert!(
            said.contains("test 80 % interval q0.1–q0.9: coverage "),
            "{what}: {said}"
        );
        assert!(
            said.contains("; 80 % interval q0.1–q0.9: coverage "),
            "{what}: {said}"
        );

        let (header, rows) = csv(&run.join("eval.csv"));
        let tail =
            "pinball,pinball_q0.1,pinball_q0.5,pinball_q0.9,coverage_q0.1_q0.9,width_q0.1_q0.9";
        assert!(header.join(",").ends_with(tail), "{what}: {header:?}");
        let at = |name: &str| header.iter().position(|h| h == name).unwrap();
        for row in &rows {
            let c = row[at("coverage_q0.1_q0.9")];
            assert!((0.0..=1.0).contains(&c), "{what}: coverage {c}");
            assert!(row[at("width_q0.1_q0.9")] > 0.0);
            // The mean pinball loss is the mean of the levels'.
            let levels = ["pinball_q0.1", "pinball_q0.5", "pinball_q0.9"];
            let mean = levels.iter().map(|l| row[at(l)]).sum::<f64>() / 3.0;
            assert!((row[at("pinball")] - mean).abs() <= 1e-9 * mean);
        }

        let summary = json(&run.join("summary.json"));
        let coverage = summary["test"]["coverage_q0.1_q0.9"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&coverage), "{what}: {coverage}");
        let bt = &summary["backtest"]["metrics"];
        for key in ["coverage_q0.1_q0.9", "width_q0.1_q0.9", "pinball"] {
            assert!(bt[key]["mean"].is_f64(), "{what}: backtest lacks {key}");
        }

        // The dashboard's band: lower ≤ upper at every predicted value.
        let predictions = std::fs::read_to_string(run.join("predictions.jsonl")).unwrap();
        let last: serde_json::Value =
            serde_json::from_str(predictions.lines().last().unwrap()).unwrap();
        for ex in last["examples"].as_array().unwrap() {
            let band = &ex["interval"];
            assert_eq!(band["levels"], serde_json::json!([0.1, 0.9]));
            let (lo, hi) = (
                band["lower"].as_array().unwrap(),
                band["upper"].as_array().unwrap(),
            );
            assert_eq!(lo.len(), 48);
            for (l, u) in lo.iter().zip(hi) {
                assert!(l.as_f64().unwrap() <= u.as_f64().unwrap());
            }
        }

        replay_shows_the_band(&run);

        // predict --series: y_1..y_48, then q0.1_1..q0.9_48, sorted per
        // step, and the point forecast is the median (or the mean).
        let out = tmp.path().join(format!("{what}.csv"));
        let series = root().join("assets/electricity_demand_halfhourly.csv");
        let p = rnnlab(
            &root(),
            &[
                "predict",
                run.to_str().unwrap(),
                "--series",
                series.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(p.code, 0, "{}", p.stderr);
        let (header, rows) = csv(&out);
        assert_eq!(header.len(), 4 * 48);
        assert_eq!((header[0].as_str(), header[48].as_str()), ("y_1", "q0.1_1"));
        assert_eq!(header[4 * 48 - 1], "q0.9_48");
        let row = &rows[0];
        for k in 0..48 {
            let (y, q1, q5, q9) = (row[k], row[48 + k], row[96 + k], row[144 + k]);
            assert!(q1 <= q5 && q5 <= q9, "{what}: step {k}: {q1} {q5} {q9}");
            assert_eq!(y, q5, "{what}: the point forecast is the median");
        }
    }
}

/// A quantile run stopped mid-epoch and resumed writes the same losses and
/// evaluations (every row of the uninterrupted run's files is in the
/// resumed run's) and ends with the same weights.
#[test]
fn a_quantile_run_resumes_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let q = "task.quantiles=[0.05,0.5,0.95]";
    train(&a, &[q, "train.eval_every=10"]);
    train(&b, &[q, "train.eval_every=10", "train.max_steps=15"]);
    let out = rnnlab(
        &root(),
        &[
            "resume",
            b.to_str().unwrap(),
            "--headless",
            "--set",
            "train.max_steps=30",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for file in ["metrics.csv", "eval.csv"] {
        let cols = |run: &Path| -> Vec<String> {
            // Every column but the wall-clock ones.
            let (header, rows) = csv(&run.join(file));
            let keep: Vec<usize> = (0..header.len())
                .filter(|&i| !["wall_s", "samples_per_s"].contains(&header[i].as_str()))
                .collect();
            rows.iter()
                .map(|r| format!("{:?}", keep.iter().map(|&i| r[i]).collect::<Vec<_>>()))
                .collect()
        };
        // The stopped run also evaluated where it stopped: compare the
        // steps both evaluated.
        let (ra, rb) = (cols(&a), cols(&b));
        let common: Vec<&String> = ra.iter().filter(|r| rb.contains(r)).collect();
        assert_eq!(common.len(), ra.len(), "{file}: {ra:#?}\n{rb:#?}");
    }
    // Tensor by tensor (the header's metadata order varies).
    let weights = |run: &Path| {
        let bytes = std::fs::read(run.join("checkpoints/step-30.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut t: Vec<(String, Vec<usize>, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(name, v)| (name, v.shape().to_vec(), v.data().to_vec()))
            .collect();
        t.sort();
        t
    };
    let (wa, wb) = (weights(&a), weights(&b));
    // Three quantile blocks of 48 rows in the head.
    assert!(
        wa.iter()
            .any(|(n, shape, _)| n == "head.weight" && shape == &[144, 8])
    );
    assert!(wa == wb, "the final weights differ");
}

/// The run replayed: its predictions carry the interval, and the
/// dashboard at the end of the replay draws the band and names it.
fn replay_shows_the_band(run: &Path) {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use rnnlab::events::Event;
    use rnnlab::frontend::tui::app::App;
    use rnnlab::frontend::tui::ui::{Theme, render};
    let rec = rnnlab::run::read::load(run).unwrap();
    let last = rec
        .events()
        .filter_map(|e| match e {
            Event::Predictions(p) => Some(p),
            _ => None,
        })
        .last()
        .unwrap();
    assert!(last.examples.iter().all(|ex| ex.interval.is_some()));
    let app = App::replay(rec);
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let theme = Theme {
        ascii: false,
        color: true,
    };
    t.draw(|f| render(f, &app, &theme)).unwrap();
    let screen = t.backend().to_string();
    assert!(screen.contains("80% interval"), "{screen}");
}

/// `rnnlab check` says what a probabilistic head predicts, and its size.
#[test]
fn check_says_what_the_head_predicts() {
    let check = |sets: &[&str]| {
        let mut args = vec!["check", EXP];
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = rnnlab(&root(), &args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout
    };
    let q = check(&["task.quantiles=[0.1,0.5,0.9]"]);
    assert!(q.contains("gru(16) → dense(144)"), "{q}");
    assert!(
        q.contains("forecast: quantiles 0.1, 0.5, 0.9 of each of the 48 values, pinball loss; the median is the point forecast"),
        "{q}"
    );
    let g = check(&["task.distribution=gaussian"]);
    assert!(g.contains("gru(16) → dense(96)"), "{g}");
    assert!(
        g.contains("forecast: a Gaussian (a mean and a scale) for each of the 48 values"),
        "{g}"
    );
    assert!(!check(&[]).contains("forecast:"));
}

/// `rnnlab compare` of a Gaussian run whose negative log-likelihood goes
/// below 0 (a synthetic two-sine series, fitted closely at once): the
/// charts are linear even when log was asked for.
#[test]
fn compare_draws_a_negative_loss_linear() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use rnnlab::frontend::compare::{Comparison, render};
    use rnnlab::frontend::tui::ui::Theme;
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("gaussian");
    let out = rnnlab(
        &root(),
        &[
            "train",
            "experiments/quickstart.toml",
            "--headless",
            "--run-dir",
            run.to_str().unwrap(),
            "--set",
            "data.count=1000",
            "--set",
            "train.epochs=3",
            "--set",
            "task.distribution=gaussian",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let best = json(&run.join("summary.json"))["best_valid_loss"]
        .as_f64()
        .unwrap();
    assert!(best < 0.0, "the negative log-likelihood ends at {best}");
    let data = Comparison::load(std::slice::from_ref(&run)).unwrap();
    let theme = Theme {
        ascii: false,
        color: true,
    };
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    t.draw(|f| render(f, &data, &theme, true)).unwrap();
    let screen = t.backend().to_string();
    assert!(screen.contains("training loss (linear, EMA"), "{screen}");
}

/// The sweep board of Gaussian trials, whose validation loss (a negative
/// log-likelihood) goes below 0: its overlay chart is linear.
#[test]
fn the_sweep_board_draws_a_negative_loss_linear() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use rnnlab::frontend::sweep::Board;
    use rnnlab::frontend::sweep::ui::{Overlay, render};
    use rnnlab::frontend::tui::ui::Theme;
    use rnnlab::sweep::SweepDir;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sweep.toml");
    let exp = root().join("experiments/quickstart.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"gaussian\"\nexperiment = \"{}\"\n\n[params]\n\"train.learning_rate\" = [0.003, 0.005]\n",
            exp.display()
        ),
    )
    .unwrap();
    let dir = tmp.path().join("sweep");
    let out = rnnlab(
        &root(),
        &[
            "sweep",
            file.to_str().unwrap(),
            "--headless",
            "--sweep-dir",
            dir.to_str().unwrap(),
            "--set",
            "data.count=1000",
            "--set",
            "train.epochs=3",
            "--set",
            "task.distribution=gaussian",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let board = Board::new(SweepDir::open(&dir).unwrap());
    let theme = Theme {
        ascii: false,
        color: true,
    };
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    t.draw(|f| render(f, &board, &theme, Overlay::None))
        .unwrap();
    let screen = t.backend().to_string();
    assert!(
        screen.contains(" valid_loss by configuration · "),
        "{screen}"
    );
}

/// `task.calibration = "conformal"`: the offsets fitted on the validation
/// part for the final weights are in `summary.json`; the validation
/// interval they give covers its nominal share there (by construction);
/// `predict` from the final checkpoint moves each bound by exactly the
/// offset (in original units: × the target's scale), and from an earlier
/// checkpoint it says the intervals are uncalibrated and leaves them.
#[test]
fn conformal_calibration_moves_the_bounds_by_the_fitted_offsets() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("cal");
    train(
        &run,
        &[
            "task.quantiles=[0.1,0.5,0.9]",
            "task.calibration=\"conformal\"",
            "checkpoint.every_steps=10",
            "checkpoint.keep_last=0",
        ],
    );
    let s = json(&run.join("summary.json"));
    let cal = &s["calibration"];
    assert_eq!(cal["method"], "conformal");
    assert_eq!(cal["step"], s["steps"]);
    let offsets: Vec<f64> = cal["intervals"][0]["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(offsets.len(), 48, "one offset per forecast step");
    assert_eq!(cal["intervals"][0]["lo"], 0.1);
    let windows = cal["windows"].as_u64().unwrap();
    assert!(windows > 100, "{cal}");

    let series = root().join("assets/electricity_demand_halfhourly.csv");
    let predict = |out: &Path, from: Option<&str>| {
        let mut args = vec![
            "predict",
            run.to_str().unwrap(),
            "--series",
            series.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        if let Some(f) = from {
            args.extend(["--from", f]);
        }
        let p = rnnlab(&root(), &args);
        assert_eq!(p.code, 0, "{}", p.stderr);
        (csv(out).1.remove(0), p.stderr)
    };
    let (calibrated, said) = predict(&tmp.path().join("a.csv"), None);
    assert!(!said.contains("uncalibrated"), "{said}");
    // The same weights without the offsets: summary.json without them.
    let mut plain = s.clone();
    plain.as_object_mut().unwrap().remove("calibration");
    std::fs::write(run.join("summary.json"), plain.to_string()).unwrap();
    let (raw, _) = predict(&tmp.path().join("b.csv"), None);
    let scaler = json(&run.join("scaler.json"));
    let scale = scaler["target_scale"].as_f64().unwrap();
    for (k, offset) in offsets.iter().enumerate() {
        let d = offset * scale;
        let (lo, mid, hi) = (48 + k, 96 + k, 144 + k);
        assert!(
            (calibrated[mid] - raw[mid]).abs() < 1e-6,
            "the median stays"
        );
        // A bound narrowed past the median stops there.
        let want_lo = (raw[lo] - d).min(raw[mid]);
        let want_hi = (raw[hi] + d).max(raw[mid]);
        assert!(
            (calibrated[lo] - want_lo).abs() < 1e-2 * scale.max(1.0),
            "step {k}: {} vs {want_lo}",
            calibrated[lo]
        );
        assert!(
            (calibrated[hi] - want_hi).abs() < 1e-2 * scale.max(1.0),
            "step {k}: {} vs {want_hi}",
            calibrated[hi]
        );
    }
    assert!(offsets.iter().any(|d| d.abs() > 1e-3), "{offsets:?}");
    // An earlier checkpoint: a note, and the model's own intervals.
    std::fs::write(run.join("summary.json"), s.to_string()).unwrap();
    let (early, said) = predict(&tmp.path().join("c.csv"), Some("step-10"));
    assert!(
        said.contains("uncalibrated") && said.contains("step-30"),
        "{said}"
    );
    assert_eq!(early.len(), 4 * 48);
}

/// Seq2seq with a head per quantile at every step: trained by the pinball
/// loss over every step, scored over every step (and the last step apart),
/// its last step's interval drawn by the dashboard.
#[test]
fn seq2seq_forecasts_intervals_at_every_step() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("s2s");
    let args = [
        "train",
        "experiments/lstm-seq2seq.toml",
        "--headless",
        "--run-dir",
        run.to_str().unwrap(),
        "--set",
        "data.count=400",
        "--set",
        "train.epochs=3",
        "--set",
        "task.quantiles=[0.1,0.5,0.9]",
        "--set",
        "task.calibration=\"conformal\"",
    ];
    let out = rnnlab(&root(), &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = json(&run.join("summary.json"));
    let test = &s["test"];
    for key in ["coverage_q0.1_q0.9", "pinball_q0.5", "last_mse", "mase"] {
        assert!(test[key].is_number(), "{key}: {test}");
    }
    let cov = test["coverage_q0.1_q0.9"].as_f64().unwrap();
    assert!((0.6..=0.95).contains(&cov), "calibrated coverage {cov}");
    assert_eq!(
        s["calibration"]["intervals"][0]["offsets"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    // The dashboard's band: the last step's 10 forecast values.
    let predictions = std::fs::read_to_string(run.join("predictions.jsonl")).unwrap();
    let last: serde_json::Value =
        serde_json::from_str(predictions.lines().last().unwrap()).unwrap();
    let band = &last["examples"][0]["interval"];
    assert_eq!(band["lower"].as_array().unwrap().len(), 10, "{band}");
}
