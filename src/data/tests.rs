//! Tests of [`load`] through real experiment files.

use std::path::Path;

use super::*;

const MODEL: &str = "[[model.layers]]\ncell = \"gru\"\nunits = 2\n";

/// An experiment with `data` as its `[data]` table (plus `extra` tables), in `dir`.
fn experiment(dir: &Path, data: &str, extra: &str) -> Experiment {
    let text = format!("name = \"t\"\n[data]\n{data}\n{extra}\n{MODEL}");
    Experiment::from_str_at(&text, &dir.join("exp.toml"), dir, &[])
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A CSV with columns `step,a,b`: a = step, b = 1000 + step, `rows` rows.
fn ramp(dir: &Path, rows: usize) {
    let mut text = String::from("step,a,b\n");
    for i in 0..rows {
        text.push_str(&format!("{i},{i},{}\n", 1000 + i));
    }
    std::fs::write(dir.join("ramp.csv"), text).unwrap();
}

#[test]
fn chronological_split_then_windows() {
    let dir = tempfile::tempdir().unwrap();
    ramp(dir.path(), 100);
    let exp = experiment(
        dir.path(),
        "source = \"csv\"\npath = \"ramp.csv\"\ncolumns = [\"a\"]\nwindow = 5\nnormalize = \"none\"",
        "",
    );
    let ds = load(&exp).unwrap();
    // 70 / 20 / 10 rows → 65 / 15 / 5 windows of 5 + 1
    assert_eq!((ds.train.len, ds.valid.len, ds.test.len), (65, 15, 5));
    assert_eq!(&ds.train.inputs[..5], &[0., 1., 2., 3., 4.]);
    assert_eq!(ds.train.targets[64], 69.0);
    assert_eq!(&ds.valid.inputs[..5], &[70., 71., 72., 73., 74.]);
    assert_eq!(ds.test.targets, vec![95., 96., 97., 98., 99.]);
    assert_eq!((ds.features, ds.outputs, ds.every_step), (1, 1, false));
    // naive: last value vs next, always off by 1
    assert_eq!(ds.baselines[0].name, "naive");
    assert_eq!(ds.baselines[0].valid.mse, 1.0);
}

#[test]
fn zscore_is_fitted_on_train_only() {
    let dir = tempfile::tempdir().unwrap();
    ramp(dir.path(), 100);
    let exp = experiment(
        dir.path(),
        "source = \"csv\"\npath = \"ramp.csv\"\ncolumns = [\"a\"]\ntarget = \"b\"\nwindow = 5",
        "",
    );
    let ds = load(&exp).unwrap();
    // train rows 0..70: mean 34.5, population std sqrt((70² − 1) / 12)
    let std = ((70.0f64 * 70.0 - 1.0) / 12.0).sqrt() as f32;
    assert_eq!(ds.scaler.offset, vec![34.5]);
    assert!((ds.scaler.scale[0] - std).abs() < 1e-4);
    assert_eq!(
        (ds.scaler.target.as_str(), ds.scaler.target_offset),
        ("b", 1034.5)
    );
    assert!((ds.valid.inputs[0] - (70.0 - 34.5) / std).abs() < 1e-5);
    assert!((ds.scaler.unscale_target_value(ds.valid.targets[0]) - 1075.0).abs() < 1e-3);
    // baselines stay in original units
    assert!((ds.baselines[0].valid.mse - 1.0).abs() < 1e-6);
}

#[test]
fn seq2seq_through_load() {
    let dir = tempfile::tempdir().unwrap();
    ramp(dir.path(), 100);
    let exp = experiment(
        dir.path(),
        "source = \"csv\"\npath = \"ramp.csv\"\ncolumns = [\"a\"]\nwindow = 3\nhorizon = 2\nstride = 10\nnormalize = \"none\"",
        "[task]\nstrategy = \"seq2seq\"",
    );
    let ds = load(&exp).unwrap();
    assert_eq!((ds.outputs, ds.every_step, ds.train.len), (2, true, 7));
    assert_eq!(&ds.train.targets[6..12], &[11., 12., 12., 13., 13., 14.]);
    assert_eq!(&ds.train.future[2..4], &[13., 14.]);
}

#[test]
fn window_longer_than_a_part_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    ramp(dir.path(), 100);
    let exp = experiment(
        dir.path(),
        "source = \"csv\"\npath = \"ramp.csv\"\nwindow = 30",
        "",
    );
    let e = load(&exp).unwrap_err().to_string();
    assert!(
        e.contains("ramp.csv: the valid part has 20 rows, fewer than window + horizon = 31"),
        "{e}"
    );
    assert!(e.contains("data.window") && e.contains("data.split"), "{e}");
}

#[test]
fn empty_test_part_only_when_its_fraction_is_zero() {
    let dir = tempfile::tempdir().unwrap();
    ramp(dir.path(), 100);
    let data = "source = \"csv\"\npath = \"ramp.csv\"\nwindow = 10";
    let e = load(&experiment(dir.path(), data, "")).unwrap_err();
    assert!(e.message.contains("the test part has 10 rows"), "{e}");
    let data = format!("{data}\nsplit = [0.7, 0.3, 0.0]");
    let ds = load(&experiment(dir.path(), &data, "")).unwrap();
    assert_eq!(ds.test.len, 0);
    assert!(ds.baselines[0].test.is_none());
}

#[test]
fn missing_values_through_load() {
    let asset = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/co2_mauna_loa_weekly.csv");
    let dir = tempfile::tempdir().unwrap();
    let data = format!(
        "source = \"csv\"\npath = {:?}\nwindow = 52",
        asset.display().to_string()
    );
    let e = load(&experiment(dir.path(), &data, "")).unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (Some(8), Some("co2_ppm")));
    for missing in ["interpolate", "drop"] {
        let data = format!("{data}\nmissing = \"{missing}\"");
        let ds = load(&experiment(dir.path(), &data, "")).unwrap();
        assert!(ds.train.inputs.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn rows_layout_one_sample_per_row() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("x0,y0,x1,y1,x2,y2\n");
    for i in 0..10 {
        text.push_str(&format!("{i},0,{},1,{},2\n", i + 10, i + 20));
    }
    std::fs::write(dir.path().join("rows.csv"), text).unwrap();
    let data = "source = \"csv\"\npath = \"rows.csv\"\nlayout = \"rows\"\nfeatures = 2\nwindow = 2\nnormalize = \"none\"\nsplit = [0.8, 0.2, 0.0]";
    let ds = load(&experiment(dir.path(), data, "")).unwrap();
    assert_eq!((ds.train.len, ds.valid.len, ds.test.len), (8, 2, 0));
    assert_eq!(&ds.valid.inputs[..4], &[8., 0., 18., 1.]);
    assert_eq!(ds.valid.targets, vec![28., 29.]);
    let e = load(&experiment(
        dir.path(),
        &data.replace("window = 2", "window = 3"),
        "",
    ))
    .unwrap_err();
    assert!(e.message.contains("rows have 3 steps"), "{e}");
}

#[test]
fn season_longer_than_window_is_an_error() {
    let data = "source = \"synthetic\"\ngenerator = \"sine\"\ncount = 20\nwindow = 10\nseason = 12";
    let dir = tempfile::tempdir().unwrap();
    let e = load(&experiment(dir.path(), data, "")).unwrap_err();
    assert!(e.message.contains("data.season = 12"), "{e}");
    let ds = load(&experiment(dir.path(), &data.replace("12", "5"), "")).unwrap();
    let names: Vec<&str> = ds.baselines.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        ["naive", "drift", "seasonal_naive", "seasonal_drift"]
    );
}

#[test]
fn synthetic_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let data = "source = \"synthetic\"\ngenerator = \"two_sines\"\ncount = 50";
    let a = load(&experiment(dir.path(), data, "")).unwrap();
    let b = load(&experiment(dir.path(), data, "")).unwrap();
    assert_eq!((a.train.clone(), a.valid.clone()), (b.train, b.valid));
    let text = format!("name = \"t\"\nseed = 43\n[data]\n{data}\n{MODEL}");
    let d = Experiment::from_str_at(&text, &dir.path().join("e.toml"), dir.path(), &[]).unwrap();
    assert_ne!(load(&d).unwrap().train.inputs, a.train.inputs);
}

#[test]
fn two_sines_naive_baseline_matches_hands_on_ml() {
    let dir = tempfile::tempdir().unwrap();
    let data = "source = \"synthetic\"\ngenerator = \"two_sines\"\nwindow = 50\nlength = 51";
    let ds = load(&experiment(dir.path(), data, "")).unwrap();
    assert_eq!(
        (ds.train.len, ds.valid.len, ds.test.len),
        (7000, 2000, 1000)
    );
    let mse = ds.baselines[0].valid.mse;
    assert!((0.015..=0.026).contains(&mse), "naive MSE {mse}");
}

#[test]
fn adding_mean_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let data = "source = \"synthetic\"\ngenerator = \"adding\"\nwindow = 20";
    let ds = load(&experiment(dir.path(), data, "[task]\nkind = \"regress\"")).unwrap();
    assert_eq!(
        (ds.features, ds.outputs, ds.train.inputs.len()),
        (2, 1, 7000 * 40)
    );
    assert!(ds.train.future.is_empty());
    let b = &ds.baselines[0];
    assert_eq!(b.name, "mean");
    assert!(
        (0.14..=0.19).contains(&b.valid.mse),
        "mean MSE {}",
        b.valid.mse
    );
}

#[test]
fn every_shipped_asset_loads() {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let dir = tempfile::tempdir().unwrap();
    for (file, column) in [
        ("sunspots_monthly.csv", "sunspots"),
        ("sunspots_yearly.csv", "sunspots"),
        ("airline_passengers.csv", "passengers"),
        ("co2_mauna_loa_weekly.csv", "co2_ppm"),
        ("electricity_demand_halfhourly.csv", "demand_mw"),
    ] {
        let path = assets.join(file).display().to_string();
        let data = format!(
            "source = \"csv\"\npath = {path:?}\ncolumns = [\"{column}\"]\nwindow = 12\nmissing = \"interpolate\""
        );
        let ds = load(&experiment(dir.path(), &data, "")).unwrap();
        assert!(ds.test.len > 0 && ds.baselines[0].valid.mse > 0.0, "{file}");
    }
}

#[test]
fn log_transform_before_scaling_and_baselines_in_original_units() {
    let dir = tempfile::tempdir().unwrap();
    ramp(dir.path(), 100);
    let data = "source = \"csv\"\npath = \"ramp.csv\"\ncolumns = [\"b\"]\nwindow = 5\nseason = 2";
    let plain = load(&experiment(dir.path(), data, "")).unwrap();
    let logged = load(&experiment(
        dir.path(),
        &format!("{data}\ntransform = \"log\""),
        "",
    ))
    .unwrap();
    // zscore is fitted on ln(1000..1070): mean near ln(1034.5)
    assert!((logged.scaler.target_offset - 1034.5f32.ln()).abs() < 1e-3);
    let first = logged.scaler.unscale_target_value(logged.valid.targets[0]);
    assert!((first - 1075.0).abs() < 0.05, "{first}");
    let unscaled = logged.scaler.unscale_input_value(0, logged.valid.inputs[0]);
    assert!((unscaled - 1070.0).abs() < 0.05, "{unscaled}");
    // the baselines do not depend on the transform
    for (p, l) in plain.baselines.iter().zip(&logged.baselines) {
        assert_eq!((&p.name, p.valid.mse), (&l.name, l.valid.mse));
    }
    let seasonal = logged.baselines.iter().find(|b| b.name == "seasonal_naive");
    assert_eq!(seasonal.unwrap().valid.mse, 4.0);
}

#[test]
fn transform_of_synthetic_data_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "name = \"t\"\n[data]\nsource = \"synthetic\"\ngenerator = \"sine\"\ntransform = \"log\"\n{MODEL}"
    );
    let e = Experiment::from_str_at(&text, &dir.path().join("e.toml"), dir.path(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`data.transform`") && e.contains("applies to CSV data"),
        "{e}"
    );
}

#[test]
fn tiny_values_are_normalised_relative_to_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("v\n");
    for i in 0..100 {
        text.push_str(&format!(
            "{:e}\n",
            (1.0 + 0.5 * (i as f64 * 0.7).sin()) * 1e-13
        ));
    }
    std::fs::write(dir.path().join("tiny.csv"), text).unwrap();
    let exp = experiment(
        dir.path(),
        "source = \"csv\"\npath = \"tiny.csv\"\nwindow = 5\nnormalize = \"zscore\"",
        "",
    );
    let ds = load(&exp).unwrap();
    assert!(ds.scaler.scale[0] < 1e-13, "scaled: {:?}", ds.scaler.scale);
    let n = ds.train.targets.len() as f64;
    let mean = ds.train.targets.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = ds
        .train
        .targets
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!(
        mean.abs() < 0.2 && (var.sqrt() - 1.0).abs() < 0.2,
        "mean {mean}, std {}",
        var.sqrt()
    );
}

#[test]
fn an_empty_sentence_part_is_refused_unless_its_share_is_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("text,label\n");
    for i in 0..10 {
        text.push_str(&format!("sentence {i},{}\n", i % 2));
    }
    std::fs::write(dir.path().join("s.csv"), text).unwrap();
    let data = |split: &str| {
        format!(
            "source = \"csv\"\nlayout = \"sentences\"\npath = \"s.csv\"\nwindow = 5\nsplit = {split}"
        )
    };
    let extra = "[task]\nkind = \"classify\"\n[model]\nembedding = 2";
    let exp = experiment(dir.path(), &data("[0.9, 0.04, 0.06]"), extra);
    let e = load(&exp).unwrap_err();
    assert!(
        e.to_string()
            .contains("s.csv: the valid part has no sentences"),
        "{e}"
    );
    let exp = experiment(dir.path(), &data("[0.8, 0.17, 0.03]"), extra);
    let e = load(&exp).unwrap_err();
    assert!(
        e.to_string().contains("the test part has no sentences"),
        "{e}"
    );
    let exp = experiment(dir.path(), &data("[0.8, 0.2, 0.0]"), extra);
    let ds = load(&exp).unwrap();
    assert_eq!(
        ds.text.unwrap().len(2),
        0,
        "a test share of 0 is an empty test part"
    );
    std::fs::write(dir.path().join("s.csv"), "text,text,label\na,b,0\nc,d,1\n").unwrap();
    let e = load(&exp).unwrap_err();
    assert!(
        e.to_string()
            .contains("s.csv:1: the header names column `text` twice"),
        "{e}"
    );
}

#[test]
fn end_row_never_reads_the_rows_after_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    // 100 good rows, the last one's `a` missing; then a planted leak: a
    // huge value the interpolation would reach for, and a row that does
    // not parse at all.
    let mut text = String::from("step,a,b\n");
    for i in 0..100 {
        let a = if i == 99 {
            String::new()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{i},{a},{}\n", 1000 + i));
    }
    text.push_str("100,1000000,1100\n101,oops,1101\n");
    std::fs::write(dir.path().join("ramp.csv"), text).unwrap();
    let data = "source = \"csv\"\npath = \"ramp.csv\"\ncolumns = [\"a\"]\nwindow = 5\nnormalize = \"none\"\nmissing = \"interpolate\"";
    let whole = experiment(dir.path(), data, "");
    assert!(load(&whole).is_err(), "the unparseable row is read");
    let cut = experiment(dir.path(), &format!("{data}\nend_row = 100"), "");
    let ds = load(&cut).unwrap();
    // 70 / 20 / 10 rows of the 100; row 99 filled from before the cut.
    assert_eq!((ds.train.len, ds.valid.len, ds.test.len), (65, 15, 5));
    let last = *ds.test.targets.last().unwrap();
    assert!(last < 100.0, "row 99 = {last}: filled from after the cut");
}

#[test]
fn retrained_origins_are_cut_at_their_data_records() {
    let dir = tempfile::tempdir().unwrap();
    // Row 10 of the file is dropped as missing: the series' row r ≥ 10 is
    // the file's data record r + 1.
    let mut text = String::from("step,a\n");
    for i in 0..101 {
        let a = if i == 10 {
            String::new()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{i},{a}\n"));
    }
    std::fs::write(dir.path().join("gap.csv"), text).unwrap();
    let exp = experiment(
        dir.path(),
        "source = \"csv\"\npath = \"gap.csv\"\ncolumns = [\"a\"]\nwindow = 5\nsplit = [0.6, 0.2, 0.2]\nmissing = \"drop\"\nnormalize = \"none\"",
        "[evaluate]\norigins = 3\nstep = 4\nretrain = true",
    );
    let ds = load(&exp).unwrap();
    let bt = ds.backtest.as_ref().unwrap();
    // 100 rows: 60 / 20 / 20; the test part's windows start at 0..=14:
    // origins at test rows 11, 15, 19 = series rows 91, 95, 99.
    assert_eq!(bt.first_rows, [11, 15, 19]);
    assert_eq!(bt.rows_before, 80);
    let (ends, split) = backtest::retrain_cuts(&exp, bt).unwrap();
    assert_eq!(ends, [92, 96, 100]);
    assert!((split[0] - 0.75).abs() < 1e-12 && (split[1] - 0.25).abs() < 1e-12);
    assert_eq!(split[2], 0.0);
    // A run cut there holds the series' 91 rows before the origin (row 91,
    // value 92): 68 train and 22 valid rows (the floors leave row 90 out),
    // so the last value it sees is row 89's, 90.
    let mut cut = exp.clone();
    cut.data.end_row = Some(ends[0]);
    cut.data.split = split;
    cut.evaluate.retrain = false;
    let c = load(&cut).unwrap();
    assert_eq!(c.valid.future.last(), Some(&90.0));
    assert_eq!((c.train.len, c.valid.len), (68 - 5, 22 - 5));
    assert!(c.backtest.is_none());
    // Too few rows before the first origin: refused, naming the key and the fix.
    let mut short = bt.clone();
    short.rows_before = 2;
    let e = backtest::retrain_cuts(&exp, &short)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`evaluate.retrain`: the first origin is row 13"),
        "{e}"
    );
    assert!(
        e.contains("evaluate.step") && e.contains("data.window"),
        "{e}"
    );
}
