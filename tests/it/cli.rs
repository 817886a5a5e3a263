//! The `rnnlab` binary end to end: experiment errors, `--set` overrides, path
//! resolution, training runs and their run directories, determinism,
//! divergence and prediction.
//!
//! Every run is tiny (200 synthetic sequences or the 309-row yearly sunspots
//! series, layers of 4–8 units, 2–3 epochs), so the whole file runs in seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// The package root: `tests/invalid/…` and `assets/…` are relative to it.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one invocation of the binary did.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `rnnlab args…` in `dir`; fails the test if the process panicked.
fn rnnlab_in(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running rnnlab");
    let out = Out {
        code: out.status.code().expect("rnnlab was killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked") && !out.stdout.contains("panicked"),
        "rnnlab {args:?} panicked:\n{}",
        out.stderr
    );
    out
}

/// Runs `rnnlab args…` in the package root.
fn rnnlab(args: &[&str]) -> Out {
    rnnlab_in(&root(), args)
}

/// Asserts exit code 0 and returns the output.
fn ok(args: &[&str]) -> Out {
    let out = rnnlab(args);
    assert_eq!(
        out.code, 0,
        "rnnlab {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A CSV file as (header, rows).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// One column of a CSV file, by name.
fn column(path: &Path, name: &str) -> Vec<String> {
    let (header, rows) = read_csv(path);
    let i = header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("{} has no column `{name}`: {header:?}", path.display()));
    rows.into_iter().map(|r| r[i].clone()).collect()
}

/// One column of a CSV file, parsed.
fn numbers(path: &Path, name: &str) -> Vec<f64> {
    column(path, name)
        .iter()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{}: `{v}` in `{name}` is not a number", path.display()))
        })
        .collect()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every CSV cell parsed as a finite number.
fn prediction_rows(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let (header, rows) = read_csv(path);
    let rows = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| {
                    let x: f64 = v
                        .parse()
                        .unwrap_or_else(|_| panic!("`{v}` is not a number"));
                    assert!(
                        x.is_finite(),
                        "{}: non-finite prediction {v}",
                        path.display()
                    );
                    x
                })
                .collect()
        })
        .collect();
    (header, rows)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-12)
}

/// A small synthetic forecasting experiment: 200 two-sine sequences of 20
/// steps, gru(6) → lstm(4), Adam, 2 epochs of batch 32 (5 steps per epoch).
/// `data_extra` and `task` are spliced into `[data]` and `[task]`.
fn tiny(name: &str, data_extra: &str, task: &str) -> String {
    format!(
        r#"name = "{name}"
seed = 42

[data]
source = "synthetic"
generator = "two_sines"
count = 200
window = 20
{data_extra}

[task]
{task}

[[model.layers]]
cell = "gru"
units = 6

[[model.layers]]
cell = "lstm"
units = 4

[train]
optimizer = "adam"
learning_rate = 0.005
batch_size = 32
epochs = 2
"#
    )
}

/// Writes `text` as `<dir>/<name>.toml` and returns its path.
fn experiment(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    write(&path, text);
    path
}

/// Trains `exp` into `<dir>/<run>` with `sets`; asserts success and that
/// stdout names the run directory. Returns the run directory.
fn train(exp: &Path, dir: &Path, run: &str, sets: &[&str]) -> PathBuf {
    let run_dir = dir.join(run);
    let mut args = vec!["train", s(exp), "--headless", "--run-dir", s(&run_dir)];
    for set in sets {
        args.extend(["--set", set]);
    }
    let out = ok(&args);
    assert_eq!(
        out.stdout.trim(),
        run_dir.display().to_string(),
        "stdout names the run"
    );
    let summary = json(&run_dir.join("summary.json"));
    assert_eq!(summary["status"], "completed", "{summary:#}");
    run_dir
}

/// The sunspots column of `assets/sunspots_yearly.csv`.
fn sunspots() -> Vec<f64> {
    let path = root().join("assets/sunspots_yearly.csv");
    numbers(&path, "sunspots")
}

/// Part sizes as rnnlab computes them: floor for train and valid, rest for test.
fn split_sizes(n: usize, split: [f64; 3]) -> [usize; 3] {
    let part = |f: f64| ((n as f64 * f + 1e-9).floor() as usize).min(n);
    let train = part(split[0]);
    let valid = part(split[1]).min(n - train);
    [train, valid, n - train - valid]
}

/// A yearly-sunspots experiment with the CSV referred to by absolute path.
fn sunspots_experiment(name: &str, strategy: &str, horizon: usize) -> String {
    let csv = root().join("assets/sunspots_yearly.csv");
    format!(
        r#"name = "{name}"
seed = 3

[data]
source = "csv"
path = '{}'
columns = ["sunspots"]
window = 10
horizon = {horizon}
normalize = "zscore"

[task]
strategy = "{strategy}"

[[model.layers]]
cell = "gru"
units = 8

[train]
learning_rate = 0.01
batch_size = 32
epochs = 2
"#,
        csv.display()
    )
}

/// Writes the rows as a CSV without a header.
fn write_rows(path: &Path, rows: &[Vec<f64>]) {
    let text: String = rows
        .iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().map(f64::to_string).collect();
            cells.join(",") + "\n"
        })
        .collect();
    write(path, &text);
}

fn predict_run(run: &Path, input: &Path, output: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    ok(&[
        "predict",
        s(run),
        "--input",
        s(input),
        "--output",
        s(output),
    ]);
    prediction_rows(output)
}

/// The tensors of a safetensors file: name → (shape, little-endian bytes).
fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    st.tensors()
        .into_iter()
        .map(|(name, view)| (name, (view.shape().to_vec(), view.data().to_vec())))
        .collect()
}

/// The newest checkpoint of a run directory.
fn newest_checkpoint(run: &Path) -> PathBuf {
    let mut all: Vec<(u64, PathBuf)> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let step = p
                .file_name()?
                .to_str()?
                .strip_prefix("step-")?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()?;
            Some((step, p))
        })
        .collect();
    all.sort();
    all.pop().expect("a checkpoint").1
}

// ---------------------------------------------------------------------------
// 1. Malformed experiments
// ---------------------------------------------------------------------------

/// (file under tests/invalid, substrings stderr must contain).
const INVALID: &[(&str, &[&str])] = &[
    (
        "calibration_without_intervals.toml",
        &[
            "tests/invalid/calibration_without_intervals.toml:10:15: ",
            "`task.calibration`: conformal calibration adjusts prediction intervals, and this experiment forecasts none",
            "add task.quantiles = [0.1, 0.5, 0.9]",
        ],
    ),
    (
        "decoder_bidirectional.toml",
        &[
            "tests/invalid/decoder_bidirectional.toml:21:17: ",
            "`model.decoder[0].bidirectional`: the decoder unrolls the forecast one step at a time",
            "the encoder may be bidirectional",
        ],
    ),
    (
        "decoder_vector.toml",
        &[
            "tests/invalid/decoder_vector.toml:17:1: ",
            "`model.decoder`: only the encoder–decoder strategy has a decoder",
            "set strategy = \"encoder-decoder\" in [task], or remove [[model.decoder]]",
        ],
    ),
    (
        "teacher_forcing_range.toml",
        &[
            "tests/invalid/teacher_forcing_range.toml:13:23: ",
            "`task.teacher_forcing_end`: must be a probability, between 0 and 1 (got 1.5)",
        ],
    ),
    (
        "decoder_target_not_input.toml",
        &[
            "tests/invalid/decoder_target_not_input.toml:7:10: ",
            "`data.target`: the decoder starts from the target's last value in the window",
            "add the target to data.columns",
        ],
    ),
    (
        "norm_mingru.toml",
        &[
            "tests/invalid/norm_mingru.toml:12:8: ",
            "`model.layers[0].norm`: mingru layers have no recurrent pre-activation to normalise",
            "remove `norm`, or use cell = \"rnn\", \"lstm\" or \"gru\"",
        ],
    ),
    (
        "bidirectional_iterative.toml",
        &[
            "tests/invalid/bidirectional_iterative.toml:16:17: ",
            "`model.layers[0].bidirectional`: a bidirectional layer would leak the future here: the iterative strategy",
            "use strategy = \"vector\"",
        ],
    ),
    (
        "bidirectional_generate.toml",
        &[
            "tests/invalid/bidirectional_generate.toml:17:17: ",
            "a backward pass would read the character it must predict",
            "remove `bidirectional`",
        ],
    ),
    (
        "recurrent_dropout_mingru.toml",
        &[
            "tests/invalid/recurrent_dropout_mingru.toml:12:21: ",
            "mingru layers have no recurrent weights",
            "use `dropout`",
        ],
    ),
    (
        "lags_iterative.toml",
        &[
            "tests/invalid/lags_iterative.toml:10:8: ",
            "`data.lags`: the iterative strategy feeds each prediction back as the only input",
            "use strategy = \"vector\"",
        ],
    ),
    (
        "lags_zero.toml",
        &[
            "tests/invalid/lags_zero.toml:9:8: ",
            "`data.lags`: lag 2 is 0: the target itself",
        ],
    ),
    (
        "calendar_without_time.toml",
        &[
            "tests/invalid/calendar_without_time.toml:7:12: ",
            "`data.calendar`: calendar features are derived from a timestamp column",
            "set data.time_column",
        ],
    ),
    (
        "lags_too_long.toml",
        &[
            "short.csv: the training part has 14 rows; the longest of data.lags (12) leaves too few for one window of 3 + 1 steps",
            "shorten data.lags or data.window",
        ],
    ),
    (
        "lags_synthetic.toml",
        &[
            "tests/invalid/lags_synthetic.toml:8:8: ",
            "apply to forecasts of a CSV series (layout = \"series\") only",
        ],
    ),
    (
        "residual_seq2seq.toml",
        &[
            "tests/invalid/residual_seq2seq.toml:12:12: ",
            "`task.residual`: a residual target applies to forecasts with the one-step or vector strategy",
        ],
    ),
    (
        "residual_no_season.toml",
        &[
            "tests/invalid/residual_no_season.toml:12:12: ",
            "\"seasonal_naive\" needs data.season",
            "hint: set data.season",
        ],
    ),
    (
        "quantiles_iterative.toml",
        &[
            "tests/invalid/quantiles_iterative.toml:14:13: ",
            "`task.quantiles`: the iterative strategy feeds each point prediction back",
            "hint: use strategy = \"vector\"",
        ],
    ),
    (
        "quantiles_without_median.toml",
        &[
            "tests/invalid/quantiles_without_median.toml:11:13: ",
            "the point forecast (RMSE, MAE, MASE, predict's y columns) is the median, and 0.5 is not among the levels",
            "hint: add 0.5",
        ],
    ),
    (
        "quantiles_unsorted.toml",
        &[
            "tests/invalid/quantiles_unsorted.toml:11:13: ",
            "levels must be strictly increasing (0.5 then 0.1)",
        ],
    ),
    (
        "quantiles_out_of_range.toml",
        &[
            "tests/invalid/quantiles_out_of_range.toml:11:13: ",
            "level 2 is 1; a quantile level lies strictly between 0 and 1",
        ],
    ),
    (
        "quantiles_and_distribution.toml",
        &[
            "tests/invalid/quantiles_and_distribution.toml:12:16: ",
            "`task.distribution`: task.quantiles and task.distribution both say how the forecast's uncertainty is modelled; give one",
        ],
    ),
    (
        "classify_without_embedding.toml",
        &[
            "tests/invalid/classify_without_embedding.toml:11:3: ",
            "`model.embedding`",
            "text tasks need an embedding",
            "add embedding = 32 to [model]",
        ],
    ),
    (
        "embedding_on_numbers.toml",
        &[
            "tests/invalid/embedding_on_numbers.toml:10:13: ",
            "`model.embedding`",
            "this experiment's inputs are numbers",
        ],
    ),
    (
        "unknown_key.toml",
        &[
            "tests/invalid/unknown_key.toml:11:1: ",
            "`model.layers[0].unitz`",
            "unknown field `unitz`",
            "expected one of `cell`, `units`",
        ],
    ),
    (
        "wrong_type.toml",
        &[
            "tests/invalid/wrong_type.toml:11:9: ",
            "`model.layers[0].units`",
            "invalid type: string \"ten\"",
            "expected usize",
            "whole number",
        ],
    ),
    (
        "negative_units.toml",
        &[
            "tests/invalid/negative_units.toml:11:9: ",
            "`model.layers[0].units`",
            "`-5`",
            "expected usize",
            "whole number",
        ],
    ),
    (
        "zero_units.toml",
        &[
            "tests/invalid/zero_units.toml:15:9: ",
            "`model.layers[1].units`",
            "must be at least 1 (got 0)",
        ],
    ),
    (
        "unknown_cell.toml",
        &[
            "tests/invalid/unknown_cell.toml:10:8: ",
            "`model.layers[0].cell`",
            "unknown variant `transformer`",
            "`rnn`, `lstm`, `gru`",
        ],
    ),
    (
        "missing_data.toml",
        &[
            "tests/invalid/missing_data.toml",
            "missing field `data`",
            "add the key",
        ],
    ),
    (
        "missing_source.toml",
        &[
            "tests/invalid/missing_source.toml:3:1: ",
            "`data`",
            "missing field `source`",
        ],
    ),
    (
        "window_too_long.toml",
        &[
            "tests/invalid/short.csv: ",
            "the train part has 14 rows",
            "fewer than window + horizon = 51",
            "data.window",
        ],
    ),
    (
        "non_numeric_cell.toml",
        &[
            "tests/invalid/non_numeric.csv:4: ",
            "column `value`",
            "`oops` is not a number",
            "data.missing",
        ],
    ),
    (
        "missing_csv.toml",
        &[
            "tests/invalid/missing_csv.toml:5:8: ",
            "`data.path`",
            "file not found: tests/invalid/no_such_dir/absent.csv",
            "relative to the experiment file's directory",
        ],
    ),
    (
        "split_sum.toml",
        &[
            "tests/invalid/split_sum.toml:8:9: ",
            "`data.split`",
            "must add up to 1",
            "split = [0.7, 0.2, 0.1]",
        ],
    ),
    (
        "lstm_activation.toml",
        &[
            "tests/invalid/lstm_activation.toml:12:14: ",
            "`model.layers[0].activation`",
            "lstm cells have fixed activations",
            "cell = \"rnn\"",
        ],
    ),
    (
        "horizon_one_step.toml",
        &[
            "tests/invalid/horizon_one_step.toml:8:11: ",
            "`data.horizon`",
            "one-step strategy predicts 1 step (horizon = 3)",
            "\"iterative\", \"vector\", \"seq2seq\" or \"encoder-decoder\"",
        ],
    ),
    (
        "log_of_zero.toml",
        &[
            "tests/invalid/with_zero.csv:4: ",
            "column `passengers`",
            "`0` cannot be transformed: data.transform = \"log\" needs values > 0",
            "transform = \"log1p\"",
        ],
    ),
    (
        "bad_syntax.toml",
        &["tests/invalid/bad_syntax.toml:7:10: ", "invalid TOML"],
    ),
];

#[test]
fn malformed_experiments_exit_2_with_located_errors() {
    let mut failures = Vec::new();
    for (file, expected) in INVALID {
        let path = format!("tests/invalid/{file}");
        assert!(root().join(&path).is_file(), "{path} is missing");
        for cmd in ["check", "train"] {
            let out = match cmd {
                "check" => rnnlab(&["check", &path]),
                _ => rnnlab(&["train", &path, "--run-dir", "/nonexistent/never-created"]),
            };
            if out.code != 2 {
                failures.push(format!(
                    "{cmd} {path}: exit code {} (want 2)\n{}",
                    out.code, out.stderr
                ));
            }
            if !out.stderr.starts_with("error: ") {
                failures.push(format!(
                    "{cmd} {path}: stderr does not start with `error: `:\n{}",
                    out.stderr
                ));
            }
            for want in *expected {
                if !out.stderr.contains(want) {
                    failures.push(format!(
                        "{cmd} {path}: stderr lacks {want:?}:\n{}",
                        out.stderr
                    ));
                }
            }
            assert!(
                out.stdout.is_empty(),
                "{cmd} {path} printed to stdout: {}",
                out.stdout
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(!Path::new("/nonexistent/never-created").exists());
}

/// Every case file in tests/invalid is covered by the table.
#[test]
fn every_invalid_case_is_in_the_table() {
    for entry in std::fs::read_dir(root().join("tests/invalid")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".toml") {
            assert!(
                INVALID.iter().any(|(f, _)| *f == name),
                "tests/invalid/{name} has no row in INVALID"
            );
        }
    }
}

/// A missing top-level table is reported against the file, not against the
/// first key that happens to be in it (`name`, `seed`, …).
#[test]
fn missing_top_level_table_is_not_blamed_on_the_first_key() {
    let out = rnnlab(&["check", "tests/invalid/missing_data.toml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("missing field `data`"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("`name`:"),
        "the error blames the unrelated key `name`:\n{}",
        out.stderr
    );
}

#[test]
fn missing_experiment_file_is_a_bad_input() {
    let out = rnnlab(&["check", "tests/invalid/does_not_exist.toml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("tests/invalid/does_not_exist.toml"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("cannot read the experiment file"),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// 2. --set overrides
// ---------------------------------------------------------------------------

#[test]
fn set_type_error_names_the_override() {
    let out = rnnlab(&[
        "check",
        "experiments/quickstart.toml",
        "--set",
        "train.epochs=abc",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for want in [
        "experiments/quickstart.toml",
        "`train.epochs`",
        "invalid type: string \"abc\", expected usize",
        "(value given by --set train.epochs=abc)",
    ] {
        assert!(out.stderr.contains(want), "lacks {want:?}:\n{}", out.stderr);
    }
}

#[test]
fn set_layer_units_changes_the_parameter_count() {
    let base = ok(&["check", "experiments/quickstart.toml"]);
    assert!(
        base.stdout.contains("total parameters: 3921"),
        "{}",
        base.stdout
    );
    let out = ok(&[
        "check",
        "experiments/quickstart.toml",
        "--set",
        "model.layers.0.units=7",
    ]);
    // gru(7) on 1 input: 3·(7·1 + 7·7 + 2·7) = 210; gru(20) on 7: 3·(20·7 + 20·20 + 2·20) = 1740;
    // dense(1) on 20: 21.
    assert!(
        out.stdout.contains("model: gru(7) → gru(20) → dense(1)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("total parameters: 1971"),
        "{}",
        out.stdout
    );
    // The bracket spelling is the same override.
    let out2 = ok(&[
        "check",
        "experiments/quickstart.toml",
        "--set",
        "model.layers[0].units=7",
    ]);
    // The memory line names the memory available now, which moves.
    let fixed = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("memory:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(fixed(&out.stdout), fixed(&out2.stdout));
}

#[test]
fn set_unknown_paths_are_errors() {
    let cases: &[(&str, &[&str])] = &[
        (
            "train.epochz=3",
            &[
                "`train.epochz`",
                "unknown field `epochz`",
                "`epochs`",
                "--set train.epochz=3",
            ],
        ),
        ("nosuch=1", &["unknown field `nosuch`", "--set nosuch=1"]),
        (
            "model.layers.5.units=3",
            &[
                "`layers` has 2 entries; index 5 is out of range",
                "--set model.layers.5.units=3",
            ],
        ),
        (
            "train.epochs",
            &["an override needs `=`", "--set train.epochs"],
        ),
    ];
    for (set, expected) in cases {
        let out = rnnlab(&["check", "experiments/quickstart.toml", "--set", set]);
        assert_eq!(out.code, 2, "--set {set}: {}", out.stderr);
        assert!(
            out.stderr.contains("experiments/quickstart.toml"),
            "{}",
            out.stderr
        );
        for want in *expected {
            assert!(
                out.stderr.contains(want),
                "--set {set}: lacks {want:?}:\n{}",
                out.stderr
            );
        }
    }
}

#[test]
fn set_validation_error_names_the_override() {
    let out = rnnlab(&[
        "check",
        "experiments/quickstart.toml",
        "--set",
        "data.split=[0.5, 0.5, 0.5]",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("`data.split`"), "{}", out.stderr);
    assert!(out.stderr.contains("add up to 1"), "{}", out.stderr);
    assert!(
        out.stderr.contains("--set data.split=[0.5, 0.5, 0.5]"),
        "{}",
        out.stderr
    );
}

/// An override that adds a key the file lacks must not shift the line numbers
/// of errors about keys that are in the file.
#[test]
fn set_does_not_shift_error_locations_in_the_file() {
    // `units = 0` is on line 15, column 9 of the file.
    let plain = rnnlab(&["check", "tests/invalid/zero_units.toml"]);
    assert!(
        plain
            .stderr
            .contains("tests/invalid/zero_units.toml:15:9: "),
        "{}",
        plain.stderr
    );
    // Replacing a value that is in the file keeps the lines.
    let replaced = rnnlab(&[
        "check",
        "tests/invalid/zero_units.toml",
        "--set",
        "data.count=200",
    ]);
    assert_eq!(replaced.code, 2);
    assert!(
        replaced
            .stderr
            .contains("tests/invalid/zero_units.toml:15:9: "),
        "{}",
        replaced.stderr
    );
    // Adding a key (horizon is not in the file) must not move the error either.
    let added = rnnlab(&[
        "check",
        "tests/invalid/zero_units.toml",
        "--set",
        "data.horizon=1",
    ]);
    assert_eq!(added.code, 2);
    assert!(
        added
            .stderr
            .contains("tests/invalid/zero_units.toml:15:9: "),
        "the error points at the wrong line of the file:\n{}",
        added.stderr
    );
}

// ---------------------------------------------------------------------------
// 3. Paths resolve against the experiment file's directory
// ---------------------------------------------------------------------------

#[test]
fn csv_paths_resolve_against_the_experiment_directory() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("assets")).unwrap();
    std::fs::create_dir_all(tmp.path().join("experiments")).unwrap();
    std::fs::copy(
        root().join("assets/sunspots_yearly.csv"),
        tmp.path().join("assets/sunspots_yearly.csv"),
    )
    .unwrap();
    let exp = tmp.path().join("experiments/sun.toml");
    write(
        &exp,
        r#"name = "sun"

[data]
source = "csv"
path = "../assets/sunspots_yearly.csv"
window = 10

[[model.layers]]
cell = "lstm"
units = 4
"#,
    );
    // 309 rows → 216 / 61 / 32; windows of 10 + 1; both numeric columns
    // (year, sunspots) are inputs when `columns` is left out.
    let check = |out: &Out| {
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains(": ok"), "{}", out.stdout);
        assert!(
            out.stdout.contains("train     206  x 206×10×2  y 206×1"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("valid      51"), "{}", out.stdout);
        assert!(out.stdout.contains("test       22"), "{}", out.stdout);
    };
    // From an unrelated working directory, with an absolute experiment path.
    check(&rnnlab_in(Path::new("/"), &["check", s(&exp)]));
    // From the temp dir, with a relative experiment path.
    check(&rnnlab_in(tmp.path(), &["check", "experiments/sun.toml"]));
    // From the experiments dir itself.
    check(&rnnlab_in(
        &tmp.path().join("experiments"),
        &["check", "sun.toml"],
    ));
    // The working directory never takes part: from the repository root the
    // same relative path would point at the repository's own assets, so
    // remove the copy and the error names the resolved (missing) file.
    std::fs::remove_file(tmp.path().join("assets/sunspots_yearly.csv")).unwrap();
    let out = rnnlab_in(&root(), &["check", s(&exp)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let resolved = tmp.path().join("experiments/../assets/sunspots_yearly.csv");
    assert!(
        out.stderr
            .contains(&format!("file not found: {}", resolved.display())),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_csv_error_names_the_absolute_resolved_path() {
    let exp = root().join("tests/invalid/missing_csv.toml");
    let out = rnnlab_in(Path::new("/"), &["check", s(&exp)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let resolved = root().join("tests/invalid/no_such_dir/absent.csv");
    assert!(
        out.stderr
            .contains(&format!("file not found: {}", resolved.display())),
        "{}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// 4. End-to-end training and the run directory
// ---------------------------------------------------------------------------

/// The adding problem over `steps` steps with two layers of `cell` (and
/// `extra` keys on each layer), for a few steps only.
fn adding(name: &str, steps: usize, cell: &str, extra: &str) -> String {
    format!(
        r#"name = "{name}"

[data]
source = "synthetic"
generator = "adding"
count = 200
window = {steps}

[task]
kind = "regress"

[[model.layers]]
cell = "{cell}"
units = 16
{extra}

[[model.layers]]
cell = "{cell}"
units = 16
{extra}

[train]
max_steps = 10
flow_every = 5
"#
    )
}

/// `flow.csv` as (gate columns, per-layer ‖∂L/∂h_t‖ of the last row, steps recorded).
fn flow(run: &Path) -> (Vec<String>, Vec<Vec<f64>>, Vec<u64>) {
    let (header, rows) = read_csv(&run.join("flow.csv"));
    assert_eq!(header[0], "step");
    let gates: Vec<String> = header
        .iter()
        .filter_map(|c| c.strip_prefix("gate.").map(String::from))
        .collect();
    let last = rows.last().expect("flow rows");
    let mut layers: Vec<Vec<f64>> = Vec::new();
    for (c, v) in header.iter().zip(last) {
        if let Some(rest) = c.strip_prefix("dh.") {
            let v: f64 = v.parse().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{c} = {v}");
            if rest.ends_with(".t0") {
                layers.push(Vec::new());
            }
            layers.last_mut().unwrap().push(v);
        }
    }
    let steps = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    (gates, layers, steps)
}

#[test]
fn gradient_flow_through_time_is_recorded_and_vanishes_in_a_tanh_rnn() {
    let tmp = tempfile::tempdir().unwrap();
    let (gates, tanh, steps) = flow(&train(
        &experiment(tmp.path(), "tanh", &adding("tanh", 60, "rnn", "")),
        tmp.path(),
        "tanh",
        &[],
    ));
    assert!(gates.is_empty(), "a simple RNN has no gates: {gates:?}");
    assert_eq!(
        steps,
        vec![1, 5, 10],
        "the first step, then every flow_every"
    );
    assert_eq!(tanh.len(), 2);
    assert!(tanh.iter().all(|l| l.len() == 60));
    // The error signal fades by orders of magnitude on its way back to t = 0…
    let ratio = |l: &[f64]| l[0] / l[l.len() - 1];
    assert!(ratio(&tanh[0]) < 1e-4, "tanh: {:?}", tanh[0]);
    // …while identity-initialised ReLU units (IRNN) carry it across the window.
    let (_, irnn, _) = flow(&train(
        &experiment(
            tmp.path(),
            "irnn",
            &adding(
                "irnn",
                60,
                "rnn",
                "activation = \"relu\"\ninit = \"identity\"",
            ),
        ),
        tmp.path(),
        "irnn",
        &[],
    ));
    assert!(ratio(&irnn[0]) > 1e-2, "irnn: {:?}", irnn[0]);
    // LSTM and GRU layers add one norm column per gate.
    let (gates, _, _) = flow(&train(
        &experiment(tmp.path(), "gru", &adding("gru", 20, "gru", "")),
        tmp.path(),
        "gru",
        &[],
    ));
    assert_eq!(
        gates,
        [
            "layers.0.r",
            "layers.0.z",
            "layers.0.n",
            "layers.1.r",
            "layers.1.z",
            "layers.1.n"
        ]
    );
}

/// The last `predictions.jsonl` record's text samples.
fn last_texts(run: &Path) -> Vec<Value> {
    let text = read(&run.join("predictions.jsonl"));
    let last: Value = serde_json::from_str(text.lines().last().expect("a record")).unwrap();
    last["texts"].as_array().expect("texts").clone()
}

#[test]
fn sentiment_trains_reports_accuracy_beside_the_majority_and_shows_probes() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = root().join("experiments/text/sentiment-gru.toml");
    let run = train(
        &exp,
        tmp.path(),
        "run",
        &["train.max_steps=60", "train.eval_every=30"],
    );
    let summary = json(&run.join("summary.json"));
    let test = &summary["test"];
    for key in ["accuracy", "cross_entropy", "majority_accuracy"] {
        let v = test[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {summary:#}"));
        assert!(
            (0.0..=1.0).contains(&v) || key == "cross_entropy",
            "{key} = {v}"
        );
    }
    // The 450 test sentences are split at random from a balanced file.
    assert!((0.4..0.6).contains(&test["majority_accuracy"].as_f64().unwrap()));
    let texts = last_texts(&run);
    let probes: Vec<&Value> = texts.iter().filter(|t| t["kind"] == "probe").collect();
    let valid: Vec<&Value> = texts.iter().filter(|t| t["kind"] == "valid").collect();
    assert_eq!(probes.len(), 6, "{texts:?}");
    assert_eq!(valid.len(), 6, "{texts:?}");
    assert_eq!(probes[1]["text"], "it is not good");
    for t in &texts {
        let p = t["probability"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&p), "{t}");
        assert!(["negative", "positive"].contains(&t["predicted"].as_str().unwrap()));
    }
    assert!(valid.iter().all(|t| t["truth"].is_string()));
    // Sentences of every length share one flow.csv: cells past a sentence's end are empty.
    let (header, rows) = read_csv(&run.join("flow.csv"));
    assert!(header.contains(&"gate.layers.1.z".to_string()));
    assert!(rows.iter().any(|r| r.iter().any(String::is_empty)));
}

#[test]
fn a_character_model_carries_its_state_learns_and_samples_text() {
    let tmp = tempfile::tempdir().unwrap();
    let book: String = (0..120)
        .map(|i| {
            format!(
                "It is a truth universally acknowledged, number {}.\n",
                i % 7
            )
        })
        .collect();
    write(&tmp.path().join("book.txt"), &book);
    let exp = experiment(
        tmp.path(),
        "chars",
        r#"name = "chars"

[data]
source = "text"
path = "book.txt"
window = 20
split = [0.8, 0.1, 0.1]

[task]
kind = "generate"
prime = "It is"
sample_length = 40

[model]
embedding = 8

[[model.layers]]
cell = "lstm"
units = 24

[train]
learning_rate = 0.02
batch_size = 4
epochs = 100
max_steps = 150
eval_every = 50
"#,
    );
    let run = train(&exp, tmp.path(), "run", &[]);
    let summary = json(&run.join("summary.json"));
    let bpc = summary["test"]["bits_per_char"].as_f64().unwrap();
    let unigram = summary["test"]["unigram_bits_per_char"].as_f64().unwrap();
    assert!(bpc < 0.6 * unigram, "{bpc} bits/char vs unigram {unigram}");
    let texts = last_texts(&run);
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0]["kind"], "sample");
    assert_eq!(texts[0]["text"], "It is");
    let sample = texts[0]["predicted"].as_str().unwrap();
    assert_eq!(sample.chars().count(), 40);
    assert!(sample.chars().all(|c| book.contains(c)), "{sample:?}");
    // `rnnlab predict` says where a text model's output is instead of misreading it.
    let out = rnnlab(&[
        "predict",
        s(&run),
        "--input",
        s(&tmp.path().join("book.txt")),
        "--output",
        s(&tmp.path().join("out.csv")),
    ]);
    assert_ne!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("text model"), "{}", out.stderr);
}

#[test]
fn train_writes_a_complete_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(
        tmp.path(),
        "e2e",
        &tiny("e2e", "", "strategy = \"one-step\""),
    );
    let (epochs, keep_last) = (3usize, 2usize);
    let run = train(
        &exp,
        tmp.path(),
        "run",
        &[
            &format!("train.epochs={epochs}"),
            &format!("checkpoint.keep_last={keep_last}"),
        ],
    );

    // experiment.toml: every key explicit, overrides applied, and it checks.
    let resolved = read(&run.join("experiment.toml"));
    for want in [
        "epochs = 3",
        "keep_last = 2",
        "length = 21",
        "normalize = \"none\"",
        "max_steps = 0",
    ] {
        assert!(
            resolved.contains(want),
            "experiment.toml lacks {want:?}:\n{resolved}"
        );
    }
    let out = ok(&["check", s(&run.join("experiment.toml"))]);
    assert!(
        out.stdout.contains("model: gru(6) → lstm(4) → dense(1)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("training: 15 steps (3 epochs × 5 steps of batch 32"),
        "{}",
        out.stdout
    );

    // scaler.json
    let scaler = json(&run.join("scaler.json"));
    assert_eq!(scaler["columns"], serde_json::json!(["x"]));
    assert_eq!(scaler["target"], "x");

    // metrics.csv: one row per step; 140 training samples in batches of 32.
    let (header, rows) = read_csv(&run.join("metrics.csv"));
    assert_eq!(
        header.join(","),
        "step,epoch,wall_s,loss,grad_norm,lr,samples_per_s,grad_norm.layers.0,grad_norm.layers.1,grad_norm.head"
    );
    let steps_per_epoch = 140usize.div_ceil(32);
    assert_eq!(rows.len(), epochs * steps_per_epoch);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), header.len());
        assert_eq!(row[0], (i + 1).to_string(), "step column");
        assert_eq!(
            row[1],
            (i / steps_per_epoch + 1).to_string(),
            "epoch column"
        );
        let loss: f64 = row[3].parse().unwrap();
        assert!(loss.is_finite() && loss > 0.0, "loss {loss}");
        assert_eq!(row[5], "0.005", "lr column");
        // The global norm is the L2 norm of the group norms (each recorded
        // at f32 precision).
        let groups: Vec<f64> = row[7..].iter().map(|v| v.parse().unwrap()).collect();
        let global: f64 = row[4].parse().unwrap();
        let from_groups = groups.iter().map(|g| g * g).sum::<f64>().sqrt();
        assert!(
            close(global, from_groups, 1e-6),
            "grad_norm {global} vs groups {from_groups}"
        );
    }

    // eval.csv: one evaluation per epoch, at the epoch's last step.
    let eval = run.join("eval.csv");
    let (header, rows) = read_csv(&eval);
    assert_eq!(
        header.join(","),
        "step,epoch,wall_s,valid_loss,mse,rmse,mae,mase,rmsse,smape"
    );
    assert_eq!(rows.len(), epochs);
    let steps = numbers(&eval, "step");
    assert_eq!(steps, vec![5.0, 10.0, 15.0]);
    let valid = numbers(&eval, "valid_loss");
    // Synthetic data is unscaled: mse in original units equals the loss.
    for ((v, m), r) in valid
        .iter()
        .zip(numbers(&eval, "mse"))
        .zip(numbers(&eval, "rmse"))
    {
        assert!(close(*v, m, 1e-9), "valid_loss {v} vs mse {m}");
        assert!(close(m.sqrt(), r, 1e-9), "rmse {r} vs √mse {}", m.sqrt());
    }

    // events.csv: start … checkpoints … finish.
    let kinds = column(&run.join("events.csv"), "kind");
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("start"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("finish"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "checkpoint").count(),
        epochs,
        "{kinds:?}"
    );
    let details = column(&run.join("events.csv"), "detail");
    assert_eq!(details.last().map(String::as_str), Some("completed"));

    // summary.json
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["name"], "e2e");
    // MASE and RMSSE divide by one in-sample scale: the model's and the
    // naive baseline's MASE / MAE agree; sMAPE lies in [0, 200].
    let naive = &summary["baselines"][0];
    assert_eq!(naive["name"], "naive");
    let per_mae =
        naive["valid"]["mase"].as_f64().unwrap() / naive["valid"]["mae"].as_f64().unwrap();
    for (mae, mase) in numbers(&eval, "mae").iter().zip(numbers(&eval, "mase")) {
        assert!(
            close(mase / mae, per_mae, 1e-6),
            "mase {mase} / mae {mae} vs {per_mae}"
        );
    }
    assert!(
        numbers(&eval, "smape")
            .iter()
            .all(|v| (0.0..=200.0).contains(v))
    );
    assert_eq!(summary["steps"], 15);
    assert_eq!(summary["epochs"], 3);
    assert_eq!(summary["model"], "gru(6) → lstm(4) → dense(1)");
    let best = summary["best_valid_loss"]
        .as_f64()
        .expect("best_valid_loss");
    let min = valid.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(
        best, min,
        "best_valid_loss is the lowest valid_loss in eval.csv"
    );
    let best_step = summary["best_step"].as_f64().unwrap();
    assert_eq!(
        steps[valid.iter().position(|v| *v == min).unwrap()],
        best_step
    );
    for k in ["loss", "mse", "rmse", "mae"] {
        let v = summary["test"][k]
            .as_f64()
            .unwrap_or_else(|| panic!("test.{k}: {summary:#}"));
        assert!(v.is_finite() && v >= 0.0);
    }
    let baselines = summary["baselines"].as_array().unwrap();
    assert_eq!(baselines[0]["name"], "naive");
    assert!(baselines[0]["valid"]["mse"].as_f64().unwrap() > 0.0);
    assert!(baselines[0]["test"]["mse"].as_f64().unwrap() > 0.0);

    // checkpoints: one per epoch, the oldest pruned to keep_last.
    let mut files: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            "step-10.safetensors",
            "step-10.state.safetensors",
            "step-15.safetensors",
            "step-15.state.safetensors"
        ]
    );

    // A run directory is never overwritten.
    let out = rnnlab(&["train", s(&exp), "--run-dir", s(&run)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("already holds a run"), "{}", out.stderr);
    assert_eq!(read_csv(&run.join("metrics.csv")).1.len(), 15);
}

#[test]
fn max_steps_and_every_steps_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), "steps", &tiny("steps", "", ""));
    let run = train(
        &exp,
        tmp.path(),
        "run",
        &[
            "train.max_steps=7",
            "checkpoint.every_steps=3",
            "checkpoint.keep_last=0",
        ],
    );
    assert_eq!(read_csv(&run.join("metrics.csv")).1.len(), 7);
    let mut files: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    // Every 3 steps, plus the final one; keep_last = 0 keeps all.
    assert_eq!(
        files,
        vec![
            "step-3.safetensors",
            "step-3.state.safetensors",
            "step-6.safetensors",
            "step-6.state.safetensors",
            "step-7.safetensors",
            "step-7.state.safetensors"
        ]
    );
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["steps"], 7);
    // The last evaluation is of the final model.
    assert_eq!(numbers(&run.join("eval.csv"), "step").last(), Some(&7.0));
}

// ---------------------------------------------------------------------------
// 5. Determinism
// ---------------------------------------------------------------------------

#[test]
fn same_seed_same_losses_other_seed_other_losses() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), "det", &tiny("det", "", ""));
    let a = train(&exp, tmp.path(), "a", &[]);
    let b = train(&exp, tmp.path(), "b", &[]);
    let c = train(&exp, tmp.path(), "c", &["seed=7"]);
    let loss = |run: &Path| column(&run.join("metrics.csv"), "loss");
    let valid = |run: &Path| column(&run.join("eval.csv"), "valid_loss");
    assert_eq!(loss(&a).len(), 10);
    assert_eq!(loss(&a), loss(&b), "same experiment, different step losses");
    assert_eq!(
        valid(&a),
        valid(&b),
        "same experiment, different valid losses"
    );
    assert!(
        tensors(&newest_checkpoint(&a)) == tensors(&newest_checkpoint(&b)),
        "same experiment, different final weights"
    );
    assert_ne!(loss(&a), loss(&c), "another seed gave the same losses");
    assert_ne!(
        valid(&a),
        valid(&c),
        "another seed gave the same valid losses"
    );
}

// ---------------------------------------------------------------------------
// 6. Strategies and tasks
// ---------------------------------------------------------------------------

#[test]
fn vector_strategy_trains_and_predicts_horizon_values() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(
        tmp.path(),
        "vector",
        &tiny("vector", "horizon = 5", "strategy = \"vector\""),
    );
    let check = ok(&["check", s(&exp)]);
    assert!(
        check.stdout.contains("gru(6) → lstm(4) → dense(5)"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("x 140×20×1  y 140×5"),
        "{}",
        check.stdout
    );
    let run = train(&exp, tmp.path(), "run", &[]);
    let (header, _) = read_csv(&run.join("eval.csv"));
    assert_eq!(
        header.join(","),
        "step,epoch,wall_s,valid_loss,mse,rmse,mae,mase,rmsse,smape"
    );

    // predict from the run directory: 3 sequences of `window` values → 3 × 5.
    let input = tmp.path().join("in.csv");
    let rows: Vec<Vec<f64>> = (0..3)
        .map(|r| {
            (0..20)
                .map(|t| 0.4 * (0.3 * (t + 2 * r) as f64).sin())
                .collect()
        })
        .collect();
    write_rows(&input, &rows);
    let out_run = tmp.path().join("out_run.csv");
    let (header, preds) = predict_run(&run, &input, &out_run);
    assert_eq!(header, vec!["y_1", "y_2", "y_3", "y_4", "y_5"]);
    assert_eq!(preds.len(), 3);
    assert!(preds.iter().all(|r| r.len() == 5));

    // predict --experiment --weights with the newest checkpoint: the same numbers.
    let out_exp = tmp.path().join("out_exp.csv");
    let ckpt = newest_checkpoint(&run);
    assert!(
        ckpt.ends_with("checkpoints/step-10.safetensors"),
        "{}",
        ckpt.display()
    );
    ok(&[
        "predict",
        "--experiment",
        s(&exp),
        "--weights",
        s(&ckpt),
        "--input",
        s(&input),
        "--output",
        s(&out_exp),
    ]);
    assert_eq!(read(&out_run), read(&out_exp));

    // An older checkpoint is a different model.
    let out_old = tmp.path().join("out_old.csv");
    ok(&[
        "predict",
        "--experiment",
        s(&exp),
        "--weights",
        s(&run.join("checkpoints/step-5.safetensors")),
        "--input",
        s(&input),
        "--output",
        s(&out_old),
    ]);
    assert_ne!(read(&out_run), read(&out_old));
}

#[test]
fn seq2seq_strategy_reports_last_step_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(
        tmp.path(),
        "s2s",
        &tiny("s2s", "horizon = 5", "strategy = \"seq2seq\""),
    );
    let check = ok(&["check", s(&exp)]);
    assert!(
        check.stdout.contains("x 140×20×1  y 140×20×5"),
        "{}",
        check.stdout
    );
    let run = train(&exp, tmp.path(), "run", &[]);
    let eval = run.join("eval.csv");
    let (header, rows) = read_csv(&eval);
    assert_eq!(
        header.join(","),
        "step,epoch,wall_s,valid_loss,mse,rmse,mae,mase,rmsse,smape,last_mse,last_rmse,last_mae"
    );
    assert_eq!(rows.len(), 2);
    for v in numbers(&eval, "last_mse") {
        assert!(v.is_finite() && v > 0.0);
    }
    let summary = json(&run.join("summary.json"));
    assert!(
        summary["best_valid"]["last_mse"].as_f64().is_some(),
        "{summary:#}"
    );
    assert!(
        summary["test"]["last_mse"].as_f64().is_some(),
        "{summary:#}"
    );

    // predict gives the last step's horizon vector.
    let input = tmp.path().join("in.csv");
    write_rows(
        &input,
        &[(0..20).map(|t| (t as f64 * 0.2).sin() * 0.3).collect()],
    );
    let (header, preds) = predict_run(&run, &input, &tmp.path().join("out.csv"));
    assert_eq!(header.len(), 5);
    assert_eq!(preds.len(), 1);
}

#[test]
fn iterative_strategy_trains_and_rolls_out_the_horizon() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(
        tmp.path(),
        "iter",
        &tiny("iter", "horizon = 5", "strategy = \"iterative\""),
    );
    let check = ok(&["check", s(&exp)]);
    // Trained one step ahead.
    assert!(
        check.stdout.contains("gru(6) → lstm(4) → dense(1)"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("x 140×20×1  y 140×1"),
        "{}",
        check.stdout
    );
    let run = train(&exp, tmp.path(), "run", &[]);
    let eval = run.join("eval.csv");
    // Unscaled data: a one-step metric would equal the (one-step) loss; the
    // rolled-out 5-step metric does not.
    for (v, m) in numbers(&eval, "valid_loss")
        .iter()
        .zip(numbers(&eval, "mse"))
    {
        assert!(
            !close(*v, m, 1e-9),
            "iterative mse {m} equals the one-step loss {v}"
        );
    }

    // predict rolls out 5 values, each fed back as the next input.
    let x: Vec<f64> = (0..20).map(|t| 0.4 * (0.35 * t as f64).sin()).collect();
    let input = tmp.path().join("in.csv");
    write_rows(&input, std::slice::from_ref(&x));
    let (header, preds) = predict_run(&run, &input, &tmp.path().join("out.csv"));
    assert_eq!(header, vec!["y_1", "y_2", "y_3", "y_4", "y_5"]);
    let y = &preds[0];
    let mut shifted = x[1..].to_vec();
    shifted.push(y[0]);
    let shifted_in = tmp.path().join("in2.csv");
    write_rows(&shifted_in, &[shifted]);
    let (_, preds2) = predict_run(&run, &shifted_in, &tmp.path().join("out2.csv"));
    for k in 0..4 {
        assert!(
            close(preds2[0][k], y[k + 1], 1e-4),
            "rolling the window by y_1 should give y_{}: {} vs {}",
            k + 2,
            preds2[0][k],
            y[k + 1]
        );
    }
}

/// On real data the evaluation's metrics can be recomputed from `predict`:
/// for the iterative strategy they are the 5-step rolled-out errors over the
/// validation windows, in original units.
#[test]
fn iterative_eval_metrics_are_rolled_out_errors_in_original_units() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(
        tmp.path(),
        "sun_iter",
        &sunspots_experiment("sun-iter", "iterative", 5),
    );
    let run = train(&exp, tmp.path(), "run", &[]);
    let series = sunspots();
    let [tr, va, _] = split_sizes(series.len(), [0.7, 0.2, 0.1]);
    let valid = &series[tr..tr + va];
    let (w, h) = (10, 5);
    let windows: Vec<Vec<f64>> = (0..=va - w - h).map(|s| valid[s..s + w].to_vec()).collect();
    let input = tmp.path().join("valid_windows.csv");
    write_rows(&input, &windows);
    let (header, preds) = predict_run(&run, &input, &tmp.path().join("out.csv"));
    assert_eq!(header.len(), h);
    assert_eq!(preds.len(), windows.len());
    let (mut se, mut ae, mut n) = (0.0, 0.0, 0.0);
    for (s, p) in preds.iter().enumerate() {
        for k in 0..h {
            let d = p[k] - valid[s + w + k];
            se += d * d;
            ae += d.abs();
            n += 1.0;
        }
    }
    let eval = run.join("eval.csv");
    let mse = *numbers(&eval, "mse").last().unwrap();
    let mae = *numbers(&eval, "mae").last().unwrap();
    assert!(
        close(mse, se / n, 1e-4),
        "eval mse {mse} vs rolled-out mse {}",
        se / n
    );
    assert!(
        close(mae, ae / n, 1e-4),
        "eval mae {mae} vs rolled-out mae {}",
        ae / n
    );
}

#[test]
fn csv_series_with_zscore_trains_in_original_units() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(
        tmp.path(),
        "sun",
        &sunspots_experiment("sun", "one-step", 1),
    );
    let run = train(&exp, tmp.path(), "run", &[]);

    // The scaler is fitted on the training part only.
    let series = sunspots();
    let [tr, _, _] = split_sizes(series.len(), [0.7, 0.2, 0.1]);
    let train_part = &series[..tr];
    let mean = train_part.iter().sum::<f64>() / tr as f64;
    let std = (train_part.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / tr as f64).sqrt();
    let scaler = json(&run.join("scaler.json"));
    assert_eq!(scaler["columns"], serde_json::json!(["sunspots"]));
    assert_eq!(scaler["target"], "sunspots");
    let offset = scaler["offset"][0].as_f64().unwrap();
    let scale = scaler["scale"][0].as_f64().unwrap();
    assert!(
        close(offset, mean, 1e-5),
        "offset {offset} vs train mean {mean}"
    );
    assert!(close(scale, std, 1e-5), "scale {scale} vs train std {std}");
    assert_eq!(scaler["target_offset"].as_f64().unwrap(), offset);
    assert_eq!(scaler["target_scale"].as_f64().unwrap(), scale);

    // The loss is in scaled units, the metrics in sunspot counts.
    let eval = run.join("eval.csv");
    for (v, m) in numbers(&eval, "valid_loss")
        .iter()
        .zip(numbers(&eval, "mse"))
    {
        assert!(
            close(v * scale * scale, m, 1e-4),
            "valid_loss {v} × {scale}² vs mse {m}"
        );
    }
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["baselines"][0]["name"], "naive");
    // The naive baseline (repeat the last value) on the validation rows.
    let [_, va, _] = split_sizes(series.len(), [0.7, 0.2, 0.1]);
    let valid = &series[tr..tr + va];
    let w = 10;
    let errs: Vec<f64> = (0..=va - w - 1)
        .map(|s| valid[s + w] - valid[s + w - 1])
        .collect();
    let naive = errs.iter().map(|e| e * e).sum::<f64>() / errs.len() as f64;
    let got = summary["baselines"][0]["valid"]["mse"].as_f64().unwrap();
    assert!(close(got, naive, 1e-5), "naive valid mse {got} vs {naive}");

    // Predictions come back in original units: the last 10 training values.
    let input = tmp.path().join("in.csv");
    write_rows(&input, &[series[tr - 10..tr].to_vec()]);
    let (_, preds) = predict_run(&run, &input, &tmp.path().join("out.csv"));
    assert!(
        preds[0][0] > -3.0 * std + mean && preds[0][0] < mean + 3.0 * std,
        "prediction {} not in sunspot units (mean {mean}, std {std})",
        preds[0][0]
    );
}

#[test]
fn regress_adding_problem_trains_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tiny("adding", "", "kind = \"regress\"").replace("two_sines", "adding");
    let exp = experiment(tmp.path(), "adding", &text);
    let check = ok(&["check", s(&exp)]);
    // Two inputs per step: value and marker; one explicit target.
    assert!(
        check.stdout.contains("x 140×20×2  y 140×1"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("baseline mean: valid mse"),
        "{}",
        check.stdout
    );
    let run = train(&exp, tmp.path(), "run", &[]);
    let (header, rows) = read_csv(&run.join("eval.csv"));
    // Regression has no series to scale MASE by.
    assert_eq!(
        header.join(","),
        "step,epoch,wall_s,valid_loss,mse,rmse,mae"
    );
    assert_eq!(rows.len(), 2);
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["baselines"][0]["name"], "mean");
    let scaler = json(&run.join("scaler.json"));
    assert_eq!(scaler["columns"], serde_json::json!(["value", "marker"]));
    assert_eq!(scaler["target"], "sum");

    // predict: 20 steps × 2 features per row, one value out.
    let row: Vec<f64> = (0..20)
        .flat_map(|t| {
            [
                0.1 * t as f64 % 1.0,
                if t == 3 || t == 11 { 1.0 } else { 0.0 },
            ]
        })
        .collect();
    let input = tmp.path().join("in.csv");
    write_rows(&input, &[row.clone(), row.clone(), row]);
    let (header, preds) = predict_run(&run, &input, &tmp.path().join("out.csv"));
    assert_eq!(header, vec!["y_1"]);
    assert_eq!(preds.len(), 3);
    assert_eq!(preds[0], preds[1]);
}

// ---------------------------------------------------------------------------
// 7. Divergence
// ---------------------------------------------------------------------------

#[test]
fn huge_learning_rate_diverges_with_advice() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(
        tmp.path(),
        "diverge",
        r#"name = "diverge"
seed = 1

[data]
source = "synthetic"
generator = "two_sines"
count = 200
window = 20

[[model.layers]]
cell = "rnn"
units = 8
activation = "relu"
init = "identity"

[train]
optimizer = "sgd"
learning_rate = 1e6
momentum = 0.0
batch_size = 32
epochs = 2
"#,
    );
    let run = tmp.path().join("run");
    let out = rnnlab(&["train", s(&exp), "--headless", "--run-dir", s(&run)]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert_eq!(out.stdout.trim(), run.display().to_string());
    assert!(
        out.stderr
            .contains("try a lower learning_rate (now 1000000)"),
        "{}",
        out.stderr
    );
    let summary = json(&run.join("summary.json"));
    assert_eq!(summary["status"], "diverged", "{summary:#}");
    let message = summary["message"].as_str().unwrap();
    assert!(message.contains("lower learning_rate"), "{message}");
    let kinds = column(&run.join("events.csv"), "kind");
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("diverged"),
        "{kinds:?}"
    );
    assert!(summary["steps"].as_u64().unwrap() < 10);
    // The non-finite loss is reported, not recorded as a step.
    let losses = numbers(&run.join("metrics.csv"), "loss");
    assert!(losses.len() as u64 <= summary["steps"].as_u64().unwrap());
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
}

// ---------------------------------------------------------------------------
// 8. Predict errors
// ---------------------------------------------------------------------------

#[test]
fn predict_rejects_bad_weights_and_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = experiment(tmp.path(), "p", &tiny("p", "", ""));
    let run = train(&exp, tmp.path(), "run", &["train.epochs=1"]);
    let input = tmp.path().join("in.csv");
    write_rows(&input, &[vec![0.1; 20], vec![0.2; 20], vec![-0.3; 20]]);

    // One-step: one column.
    let (header, preds) = predict_run(&run, &input, &tmp.path().join("out.csv"));
    assert_eq!(header, vec!["y_1"]);
    assert_eq!(preds.len(), 3);

    // A garbage weights file.
    let garbage = tmp.path().join("garbage.safetensors");
    write(&garbage, "this is not a safetensors file");
    let out_path = tmp.path().join("never.csv");
    let out = rnnlab(&[
        "predict",
        "--experiment",
        s(&exp),
        "--weights",
        s(&garbage),
        "--input",
        s(&input),
        "--output",
        s(&out_path),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&garbage.display().to_string()),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("not a readable safetensors file"),
        "{}",
        out.stderr
    );
    assert!(!out_path.exists());

    // Weights of another model.
    let other = experiment(
        tmp.path(),
        "other",
        &tiny("other", "horizon = 5", "strategy = \"vector\""),
    );
    let ckpt = newest_checkpoint(&run);
    let out = rnnlab(&[
        "predict",
        "--experiment",
        s(&other),
        "--weights",
        s(&ckpt),
        "--input",
        s(&input),
        "--output",
        s(&out_path),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&ckpt.display().to_string()),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("head.weight"), "{}", out.stderr);
    assert!(!out_path.exists());

    // Too few values per row names the file and line.
    let short = tmp.path().join("short.csv");
    write_rows(&short, &[vec![0.1; 20], vec![0.1; 7]]);
    let out = rnnlab(&[
        "predict",
        s(&run),
        "--input",
        s(&short),
        "--output",
        s(&out_path),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{}:2: 7 values, fewer than window × features = 20 × 1 = 20",
            short.display()
        )),
        "{}",
        out.stderr
    );
    assert!(!out_path.exists());
}

/// `rnnlab table` trains a `goal = "beat"` experiment and prints its test
/// scores beside the baselines' test scores, read from the run's summary.
#[test]
fn table_compares_test_scores_with_a_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = root().join("assets/sunspots_yearly.csv");
    let text = format!(
        "name = \"beat\"\n[data]\nsource = \"csv\"\npath = \"{}\"\ncolumns = [\"sunspots\"]\n\
         window = 12\nseason = 11\n[[model.layers]]\ncell = \"gru\"\nunits = 4\n[train]\nepochs = 2\n\
         [reference]\nsource = \"s\"\nlabel = \"tiny GRU\"\nmetric = \"baseline.seasonal_naive\"\ngoal = \"beat\"\n",
        csv.display()
    );
    std::fs::write(tmp.path().join("beat.toml"), text).unwrap();
    let out = rnnlab_in(tmp.path(), &["table", "beat.toml", "--runs-dir", "runs"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.starts_with("| experiment | model | test RMSE | test MAE | naive RMSE | seasonal-naive RMSE | target | ratio | beaten |"),
        "{}",
        out.stdout
    );
    let row = out.stdout.lines().nth(2).unwrap();
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(&cells[1..3], ["`beat.toml`", "tiny GRU"], "{row}");
    let run = std::fs::read_dir(tmp.path().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let rmse = summary["test"]["rmse"].as_f64().unwrap();
    let seasonal = summary["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "seasonal_naive")
        .unwrap()["test"]["rmse"]
        .as_f64()
        .unwrap();
    let close = |cell: &str, v: f64| (cell.parse::<f64>().unwrap() - v).abs() <= v * 1e-3;
    assert!(
        close(cells[3], rmse) && close(cells[6], seasonal),
        "{row} vs {rmse}, {seasonal}"
    );
    let ratio: f64 = cells[8].parse().unwrap();
    assert!((ratio - rmse / seasonal).abs() <= 0.0051, "{row}");
    assert_eq!(
        cells[9],
        if rmse < seasonal { "yes" } else { "**no**" },
        "{row}"
    );
}

#[test]
fn bench_times_training_and_inference_as_a_markdown_table() {
    let out = ok(&[
        "bench",
        "--config",
        "rnn-relu",
        "--runs",
        "1",
        "--threads",
        "1",
    ]);
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert!(
        rows[0].starts_with("| config | input | T | batch | pass |"),
        "{}",
        out.stdout
    );
    assert_eq!(rows.len(), 6, "{}", out.stdout);
    assert_eq!(rows[4], "", "{}", out.stdout);
    assert!(
        rows[5].starts_with("Machine: ")
            && rows[5].contains(" logical CPUs; products in ")
            && rows[5].ends_with(", 1 thread; subnormals flushed to zero."),
        "{}",
        out.stdout
    );
    assert!(
        rows[2].starts_with("| rnn-relu-2x128 | 8 | 50 | 32 | train step |"),
        "{}",
        out.stdout
    );
    assert!(
        rows[3].starts_with("| rnn-relu-2x128 | 8 | 50 | 32 | inference |"),
        "{}",
        out.stdout
    );
}

#[test]
fn bench_rejects_an_unknown_configuration_and_a_missing_python() {
    let out = rnnlab(&["bench", "--config", "lstm-9x9"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("known: lstm-2x64, lstm-2x256"),
        "{}",
        out.stderr
    );
    let out = rnnlab(&["bench", "--compare", "--python", "/nonexistent/python3"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("could not start `/nonexistent/python3`"),
        "{}",
        out.stderr
    );
}

/// The end of a run prints the result a user came for: the test metric in
/// original units beside the baselines', and the best evaluation.
#[test]
fn the_end_of_a_run_prints_the_test_result_beside_the_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(
        dir.path(),
        "sun",
        &sunspots_experiment("sun", "one-step", 1),
    );
    let run = dir.path().join("run");
    let out = ok(&["train", s(&exp), "--headless", "--run-dir", s(&run)]);
    let summary = json(&run.join("summary.json"));
    let rmse = summary["test"]["rmse"].as_f64().unwrap();
    let naive = summary["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "naive")
        .unwrap()["test"]["rmse"]
        .as_f64()
        .unwrap();
    let want = format!(
        "test rmse {} (baselines: naive {}",
        rnnlab::fmt::compact(rmse),
        rnnlab::fmt::compact(naive)
    );
    assert!(out.stderr.contains(&want), "{want}\n{}", out.stderr);
    let best = summary["best_valid"]["rmse"].as_f64().unwrap();
    assert!(
        out.stderr.contains(&format!(
            "best valid rmse {} at step",
            rnnlab::fmt::compact(best)
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .trim_end()
            .ends_with(&format!("run directory: {}", run.display()))
    );
}

/// Runs are named as `rnnlab runs` shows them: a name in the runs
/// directory, a unique prefix, or `latest`; `predict --from` picks a checkpoint.
#[test]
fn runs_are_named_by_name_prefix_or_latest() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("myruns");
    let exp = experiment(
        dir.path(),
        "sun",
        &sunspots_experiment("sun", "one-step", 1),
    );
    let first = train(&exp, &runs, "sun-a", &["checkpoint.keep_best=true"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = train(&exp, &runs, "sun-b", &[]);
    let json_names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["compare", "--json", "--runs-dir", s(&runs)];
        all.extend_from_slice(args);
        let out = ok(&all);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(json_names(&["sun-a", "latest"]), ["sun-a", "sun-b"]);
    // A prefix of two runs is refused with both named.
    let out = rnnlab(&["compare", "sun-", "--runs-dir", s(&runs)]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("is the start of 2 runs"),
        "{}",
        out.stderr
    );
    let out = rnnlab(&["replay", "nope", "--runs-dir", s(&runs)]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`rnnlab runs` lists the runs"),
        "{}",
        out.stderr
    );
    // predict by name, from the best checkpoint and from a step.
    let values = sunspots();
    let rows: Vec<Vec<f64>> = (0..3).map(|i| values[i..i + 10].to_vec()).collect();
    let input = dir.path().join("in.csv");
    write_rows(&input, &rows);
    let out_best = dir.path().join("best.csv");
    ok(&[
        "predict",
        "sun-a",
        "--runs-dir",
        s(&runs),
        "--from",
        "best",
        "--input",
        s(&input),
        "--output",
        s(&out_best),
    ]);
    assert_eq!(prediction_rows(&out_best).1.len(), 3);
    let newest = newest_checkpoint(&second);
    let step = newest.file_name().unwrap().to_str().unwrap().to_string();
    let (from_step, from_latest) = (dir.path().join("step.csv"), dir.path().join("latest.csv"));
    ok(&[
        "predict",
        "latest",
        "--runs-dir",
        s(&runs),
        "--from",
        &step,
        "--input",
        s(&input),
        "--output",
        s(&from_step),
    ]);
    ok(&[
        "predict",
        s(&second),
        "--input",
        s(&input),
        "--output",
        s(&from_latest),
    ]);
    assert_eq!(prediction_rows(&from_step), prediction_rows(&from_latest));
    let out = rnnlab(&[
        "predict",
        s(&first),
        "--from",
        "step-999999",
        "--input",
        s(&input),
        "--output",
        s(&from_step),
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--from takes best, step-N or N"),
        "{}",
        out.stderr
    );
}

#[test]
fn subnormals_are_flushed_unless_kept_and_a_bad_setting_exits_2() {
    let run = |value: &str| {
        Command::new(crate::common::BIN)
            .args([
                "bench",
                "--config",
                "rnn-relu",
                "--runs",
                "1",
                "--threads",
                "1",
            ])
            .env("RNNLAB_SUBNORMALS", value)
            .output()
            .unwrap()
    };
    let out = run("keep");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("; subnormals kept (RNNLAB_SUBNORMALS=keep).")
    );
    let out = run("sometimes");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("RNNLAB_SUBNORMALS=sometimes") && err.contains("use flush"),
        "{err}"
    );
}

#[test]
fn bench_deepbench_prints_the_shapes_beside_the_v100_times() {
    let out = ok(&[
        "bench",
        "--deepbench",
        "--config",
        "lstm-512",
        "--runs",
        "1",
        "--threads",
        "1",
    ]);
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("| lstm"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(
        rows[0].starts_with("| lstm-512 | 512 | 16 | 25 |"),
        "{}",
        out.stdout
    );
    assert!(
        rows[0].contains("| 2.20 |") && rows[1].contains("| 3.03 |"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Machine: "), "{}", out.stdout);
    let out = rnnlab(&["bench", "--deepbench", "--compare"]);
    assert_eq!(out.code, 2);
}
