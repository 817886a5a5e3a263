//! The encoder–decoder strategy end to end: a seasonal series plus a
//! driver `x` known ahead, `y_t = sin(2πt/12) + x_t`. The decoder reads
//! `x` at each forecast step (a known-future column) and the value 12
//! steps before it (a lag ≥ the horizon); it must beat every baseline by
//! far, `predict` must forecast the horizon from the history and `x` ahead,
//! the checkpoint must name the two stacks, and a run with scheduled
//! sampling stopped and resumed must end with the same weights.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::common::{rnnlab, root, summary, train_headless, write_xy_csv as write_csv};

/// `x` in [0, 0.5) from a fixed linear congruential generator.
fn series(rows: usize) -> Vec<(f64, f64)> {
    let mut state: u64 = 777;
    (0..rows)
        .map(|t| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let x = 0.5 * (state >> 40) as f64 / (1u64 << 24) as f64;
            let season = (2.0 * std::f64::consts::PI * t as f64 / 12.0).sin();
            (x, season + x)
        })
        .collect()
}

fn experiment(dir: &Path, data: &Path) -> PathBuf {
    let exp = dir.join("encdec.toml");
    std::fs::write(
        &exp,
        format!(
            r#"name = "encdec"
seed = 5
[data]
source = "csv"
path = '{}'
columns = ["y"]
future_columns = ["x"]
lags = [12]
season = 12
window = 24
horizon = 6
split = [0.7, 0.15, 0.15]
normalize = "zscore"
[task]
kind = "forecast"
strategy = "encoder-decoder"
teacher_forcing = 1.0
teacher_forcing_end = 0.5
[[model.layers]]
cell = "gru"
units = 12
[[model.decoder]]
cell = "gru"
units = 12
[train]
learning_rate = 0.01
batch_size = 32
epochs = 15
threads = 1
"#,
            data.display()
        ),
    )
    .unwrap();
    exp
}

/// name → (shape, bytes) of a safetensors file.
fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.shape().to_vec(), v.data().to_vec())))
        .collect()
}

#[test]
fn the_decoder_unrolls_the_horizon_with_known_future_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("xy.csv");
    let rows = series(900);
    write_csv(&data, &rows);
    let exp = experiment(tmp.path(), &data);

    let check = rnnlab(&root(), &["check", exp.to_str().unwrap()]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check
            .stdout
            .contains("encoder[gru(12)] → decoder[gru(12)] → dense(1) × 6 steps"),
        "{}",
        check.stdout
    );

    let run = tmp.path().join("run");
    let out = train_headless(&exp, &run, &[]);
    let s = summary(&run);
    let rmse = s["test"]["rmse"].as_f64().unwrap();
    let best = s["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["test"]["rmse"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    eprintln!("{}\ntest rmse {rmse}, best baseline {best}", out.stdout);
    // The best baseline (seasonal naive) misses by x_t − x_{t−12}: σ ≈ 0.2.
    assert!(
        rmse < 0.5 * best,
        "test rmse {rmse} against the best baseline's {best}"
    );
    let backtest = &s["backtest"]["metrics"]["mase"]["mean"];
    assert!(backtest.as_f64().unwrap() < 0.7, "{backtest}");

    // The resolved experiment lists the decoder; the checkpoint names both stacks.
    let resolved = std::fs::read_to_string(run.join("experiment.toml")).unwrap();
    assert!(resolved.contains("[[model.decoder]]"), "{resolved}");
    let steps = s["steps"].as_u64().unwrap();
    let t = tensors(&run.join(format!("checkpoints/step-{steps}.safetensors")));
    // The decoder's input: the previous value, x ahead, the lag and the context.
    assert_eq!(t["decoder.0.weight_ih"].0, vec![36, 3 + 12]);
    assert_eq!(t["encoder.0.weight_ih"].0, vec![36, 3]);
    assert_eq!(t["head.weight"].0, vec![1, 12]);
    assert!(
        !t.keys().any(|k| k.starts_with("layers.")),
        "{:?}",
        t.keys()
    );

    // predict: the history's last window and x over the next 6 steps.
    let history = tmp.path().join("history.csv");
    write_csv(&history, &rows[..700]);
    let ahead = tmp.path().join("ahead.csv");
    let mut text = String::from("x\n");
    for (x, _) in &rows[700..706] {
        let _ = writeln!(text, "{x:.6}");
    }
    std::fs::write(&ahead, text).unwrap();
    let forecast = tmp.path().join("forecast.csv");
    let args = [
        "predict",
        run.to_str().unwrap(),
        "--series",
        history.to_str().unwrap(),
        "--future",
        ahead.to_str().unwrap(),
        "--output",
        forecast.to_str().unwrap(),
    ];
    let out = rnnlab(&root(), &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let values = crate::common::first_row(&forecast);
    let written = std::fs::read_to_string(&forecast).unwrap();
    assert_eq!(values.len(), 6, "{written}");
    for (k, (v, (_, y))) in values.iter().zip(&rows[700..706]).enumerate() {
        assert!(
            (v - y).abs() < 0.2,
            "step {}: forecast {v}, truth {y}",
            k + 1
        );
    }
}

/// Scheduled sampling draws from the run's random source: a run stopped
/// mid-way and resumed ends with the uninterrupted run's weights.
#[test]
fn an_encoder_decoder_run_with_scheduled_sampling_resumes_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("xy.csv");
    write_csv(&data, &series(400));
    let exp = experiment(tmp.path(), &data);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let set = ["--set", "train.max_steps=24", "--set", "train.eval_every=8"];
    train_headless(&exp, &a, &set);
    train_headless(
        &exp,
        &b,
        &[
            "--set",
            "train.max_steps=24",
            "--set",
            "train.eval_every=8",
            "--stop-at",
            "9",
        ],
    );
    let out = rnnlab(&root(), &["resume", b.to_str().unwrap(), "--headless"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let last = |run: &Path| tensors(&run.join("checkpoints/step-24.safetensors"));
    let (wa, wb) = (last(&a), last(&b));
    assert!(wa.contains_key("decoder.0.weight_hh"));
    assert!(wa == wb, "the final weights differ");
}
