//! Data that used to give silently wrong results is refused with a located
//! error (issue 15): CSV headers and columns judged on every row, missing
//! values named, `predict`'s header rule and `--header`/`--no-header`,
//! non-finite weights, degenerate parts and columns, the scaler file, the
//! divergence advice; and random CSV bytes never make a reader panic.
//!
//! Every refusal is exit code 2 (not 101, a panic) with the file, the place
//! and the fix in the message. The experiments and CSVs are in
//! `tests/invalid/data/`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use rnnlab::experiment::{Experiment, Transform};

use crate::common::{Out, rnnlab, root};

/// (experiment under tests/invalid/data, words stderr must contain).
const EXPERIMENTS: &[(&str, &[&str])] = &[
    (
        "duplicate_header.toml",
        &[
            "tests/invalid/data/duplicate_header.csv:1: ",
            "the header names column `x` twice (columns 1 and 2)",
            "give every column a distinct name",
        ],
    ),
    (
        "duplicate_header_auto.toml",
        &[
            "`data.path`",
            "tests/invalid/data/duplicate_header.csv:1: ",
            "names column `x` twice",
        ],
    ),
    (
        "duplicate_columns.toml",
        &[
            "tests/invalid/data/duplicate_columns.toml:7:11: ",
            "`data.columns`",
            "names column `a` twice",
        ],
    ),
    (
        "no_header.toml",
        &[
            "tests/invalid/data/no_header.csv:1: ",
            "the first row (0,0) is numbers",
            "add a header row",
        ],
    ),
    (
        "na_first_row.toml",
        &[
            "tests/invalid/data/na_first_row.csv:2: ",
            "column `value`",
            "missing value `NA`",
            "data.missing = \"interpolate\" or \"drop\"",
        ],
    ),
    (
        "mixed_column.toml",
        &[
            "tests/invalid/data/mixed_column.csv:9: ",
            "column `value`",
            "mixes numbers (`0` on line 2) and text (`l2`)",
            "write a missing marker",
            "data.columns",
        ],
    ),
    (
        "empty_column.toml",
        &[
            "tests/invalid/data/empty_column.csv: ",
            "column `note`",
            "every value is missing",
            "remove the column, or name the input columns in data.columns",
        ],
    ),
    (
        "constant_column.toml",
        &[
            "tests/invalid/data/constant.csv: ",
            "column `b`",
            "constant in the training part (every value is 5)",
            "normalize = \"zscore\" divides by the standard deviation",
            "normalize = \"none\"",
        ],
    ),
    (
        "constant_minmax.toml",
        &[
            "tests/invalid/data/constant.csv: ",
            "column `b`",
            "constant in the training part",
            "normalize = \"minmax\" divides by the range",
        ],
    ),
    (
        "huge_values.toml",
        &[
            "tests/invalid/data/huge.csv: ",
            "column `v`",
            "the valid part's value -3e38 is not finite once normalised",
            "3.4e38",
        ],
    ),
    (
        "huge_range.toml",
        &[
            "tests/invalid/data/huge_range.csv: ",
            "column `v`",
            "its range in the training part (6.000e38) does not fit in f32",
            "larger units",
        ],
    ),
    (
        "sentences_no_valid.toml",
        &[
            "tests/invalid/data/few_sentences.csv: ",
            "the valid part has no sentences",
            "0.04 of 10 sentences",
            "data.split",
        ],
    ),
];

/// Asserts a refusal: exit 2, one `error: ` message with every word of `want`.
fn refused(what: &str, out: &Out, want: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    if out.code != 2 {
        failures.push(format!(
            "{what}: exit code {} (want 2)\n{}",
            out.code, out.stderr
        ));
    }
    if !out.stdout.is_empty() {
        failures.push(format!("{what}: printed to stdout: {}", out.stdout));
    }
    if !out.stderr.starts_with("error: ") {
        failures.push(format!("{what}: stderr is not an error:\n{}", out.stderr));
    }
    for word in want {
        if !out.stderr.contains(word) {
            failures.push(format!("{what}: stderr lacks {word:?}:\n{}", out.stderr));
        }
    }
    failures
}

#[test]
fn bad_data_files_exit_2_naming_the_place_and_the_fix() {
    let mut failures = Vec::new();
    for (file, want) in EXPERIMENTS {
        let path = format!("tests/invalid/data/{file}");
        assert!(root().join(&path).is_file(), "{path} is missing");
        let check = rnnlab(&root(), &["check", &path]);
        failures.extend(refused(&format!("check {path}"), &check, want));
        let train = rnnlab(
            &root(),
            &[
                "train",
                &path,
                "--headless",
                "--run-dir",
                "/nonexistent/never",
            ],
        );
        failures.extend(refused(&format!("train {path}"), &train, want));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(!Path::new("/nonexistent/never").exists());
}

/// Every experiment in tests/invalid/data has a row in the table.
#[test]
fn every_invalid_data_case_is_in_the_table() {
    for entry in std::fs::read_dir(root().join("tests/invalid/data")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".toml") {
            assert!(
                EXPERIMENTS.iter().any(|(f, _)| *f == name),
                "tests/invalid/data/{name} has no row in EXPERIMENTS"
            );
        }
    }
}

/// A numeric column whose first value is missing is an input, judged on
/// every row; with a missing-value policy it trains.
#[test]
fn a_missing_first_value_does_not_hide_the_column() {
    let path = root().join("tests/invalid/data/na_first_row.toml");
    let exp = Experiment::load(&path, &["data.missing=interpolate".into()]).unwrap();
    assert_eq!(
        exp.data.columns,
        ["value"],
        "`month` is text, `value` numbers"
    );
    let out = rnnlab(
        &root(),
        &[
            "check",
            path.to_str().unwrap(),
            "--set",
            "data.missing=interpolate",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// A tiny synthetic forecasting experiment (window 20, one feature).
const TINY: &str = r#"name = "tiny"
seed = 7

[data]
source = "synthetic"
generator = "sine"
count = 100
window = 20

[[model.layers]]
cell = "gru"
units = 3

[train]
batch_size = 32
epochs = 1
"#;

/// Trains TINY into `dir/run` and returns (experiment, run directory).
fn tiny_run(dir: &Path) -> (PathBuf, PathBuf) {
    let exp = dir.join("tiny.toml");
    std::fs::write(&exp, TINY).unwrap();
    let run = dir.join("run");
    let out = rnnlab(
        dir,
        &[
            "train",
            exp.to_str().unwrap(),
            "--headless",
            "--run-dir",
            run.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    (exp, run)
}

/// `n` comma-separated values, the first `first`.
fn row(first: &str, n: usize) -> String {
    let mut cells = vec![first.to_string()];
    cells.extend((1..n).map(|i| format!("{:.2}", (i as f64 * 0.3).sin() * 0.5)));
    cells.join(",") + "\n"
}

/// The rows written to `out` (not counting its header).
fn predictions(out: &Path) -> usize {
    std::fs::read_to_string(out).unwrap().lines().count() - 1
}

/// (case, input text, flags, rows predicted or the words of the refusal).
type PredictCase<'a> = (&'a str, String, &'a [&'a str], Result<usize, &'a [&'a str]>);

#[test]
fn predict_tells_a_header_from_data_and_refuses_bad_weights_and_scalers() {
    let tmp = tempfile::tempdir().unwrap();
    let (exp, run) = tiny_run(tmp.path());
    let names: String = (0..20)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    let data = row("0.10", 20) + &row("0.20", 20);
    let cases: &[PredictCase] = &[
        ("numbers only", data.clone(), &[], Ok(2)),
        ("a header of names", names.clone() + &data, &[], Ok(2)),
        ("--header", names.clone() + &data, &["--header"], Ok(2)),
        ("--no-header", data.clone(), &["--no-header"], Ok(2)),
        (
            "a missing first cell is data, not a header",
            row("NA", 20) + &data,
            &[],
            Err(&[":1: ", "column `1`", "missing value", "every step"]),
        ),
        (
            "a mistyped first cell is ambiguous",
            row("O.3", 20) + &data,
            &[],
            Err(&[
                ":1: ",
                "mixes text (`O.3` in column 1) and numbers",
                "--header",
                "--no-header",
            ]),
        ),
        (
            "--no-header reads the mistyped cell as a value",
            row("O.3", 20) + &data,
            &["--no-header"],
            Err(&[":1: ", "column `1`", "`O.3` is not a number"]),
        ),
        (
            "--no-header on a header",
            names.clone() + &data,
            &["--no-header"],
            Err(&[":1: ", "`t0` is not a number"]),
        ),
        (
            "--header and nothing else",
            names.clone(),
            &["--header"],
            Err(&["no sequences"]),
        ),
        (
            "--header with --no-header",
            data.clone(),
            &["--header", "--no-header"],
            Err(&["cannot be used with"]),
        ),
    ];
    let mut failures = Vec::new();
    for (i, (case, text, flags, want)) in cases.iter().enumerate() {
        let input = tmp.path().join(format!("in{i}.csv"));
        let output = tmp.path().join(format!("out{i}.csv"));
        std::fs::write(&input, text).unwrap();
        let mut args = vec![
            "predict",
            run.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let out = rnnlab(tmp.path(), &args);
        match want {
            Ok(_) if out.code != 0 => {
                failures.push(format!("{case}: exit {}\n{}", out.code, out.stderr))
            }
            Ok(n) if predictions(&output) != *n => failures.push(format!(
                "{case}: {} predictions, want {n}",
                predictions(&output)
            )),
            Ok(_) => {}
            Err(words) => {
                failures.extend(refused(case, &out, words));
                if !words.contains(&"cannot be used with")
                    && !out.stderr.contains(input.to_str().unwrap())
                {
                    failures.push(format!(
                        "{case}: the input file is not named:\n{}",
                        out.stderr
                    ));
                }
                if output.exists() {
                    failures.push(format!("{case}: wrote {}", output.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // Weights with a NaN are refused at load, naming the file and the tensor.
    let input = tmp.path().join("in0.csv");
    let output = tmp.path().join("never.csv");
    let checkpoint = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .expect("a checkpoint");
    let (poisoned, tensor) = poison(&checkpoint, &tmp.path().join("nan.safetensors"));
    let out = rnnlab(
        tmp.path(),
        &[
            "predict",
            "--experiment",
            exp.to_str().unwrap(),
            "--weights",
            poisoned.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    let want = [
        poisoned.to_str().unwrap(),
        &format!("tensor `{tensor}` has 1 non-finite value(s)"),
        "NaN",
        "earlier checkpoint",
    ];
    let failures = refused("NaN weights", &out, &want);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(!output.exists());

    // A damaged scaler.json is named.
    let scaler = run.join("scaler.json");
    for (text, words) in [
        ("{}", &["not a scaler", "missing field"][..]),
        (
            r#"{"columns":["x"],"offset":[0.0],"scale":[0.0],"target":"x","target_offset":0.0,"target_scale":1.0}"#,
            &["zero or non-finite scale"][..],
        ),
    ] {
        std::fs::write(&scaler, text).unwrap();
        let out = rnnlab(
            tmp.path(),
            &[
                "predict",
                run.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
                "--output",
                output.to_str().unwrap(),
            ],
        );
        let mut want = vec![scaler.to_str().unwrap()];
        want.extend_from_slice(words);
        let failures = refused("damaged scaler.json", &out, &want);
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }
}

/// Copies a safetensors file with its last value set to NaN; returns the
/// copy and the name of the tensor holding that value.
fn poison(from: &Path, to: &Path) -> (PathBuf, String) {
    let mut bytes = std::fs::read(from).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let data_len = bytes.len() - 8 - header_len;
    let tensor = header
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, v)| v["data_offsets"][1].as_u64() == Some(data_len as u64))
        .map(|(name, _)| name.clone())
        .expect("the tensor stored last");
    let end = bytes.len();
    bytes[end - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(to, bytes).unwrap();
    (to.to_path_buf(), tensor)
}

/// The divergence advice offers only what the experiment has not applied.
#[test]
fn divergence_advice_follows_the_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = root().join("assets/sunspots_yearly.csv");
    let diverge = |name: &str, data: &str, clip: &str| -> String {
        let exp = tmp.path().join(format!("{name}.toml"));
        std::fs::write(
            &exp,
            format!(
                "name = \"{name}\"\nseed = 1\n\n[data]\n{data}\nwindow = 10\n\n\
                 [[model.layers]]\ncell = \"rnn\"\nunits = 8\nactivation = \"relu\"\ninit = \"identity\"\n\n\
                 [train]\noptimizer = \"sgd\"\nlearning_rate = 1e6\nmomentum = 0.0\nbatch_size = 32\nepochs = 2\n{clip}\n"
            ),
        )
        .unwrap();
        let run = tmp.path().join(name);
        let out = rnnlab(
            tmp.path(),
            &[
                "train",
                exp.to_str().unwrap(),
                "--headless",
                "--run-dir",
                run.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 1, "{name}: {}", out.stderr);
        out.stderr
    };
    let csv_data = format!(
        "source = \"csv\"\npath = '{}'\ncolumns = [\"sunspots\"]",
        csv.display()
    );
    let raw = diverge("raw", &format!("{csv_data}\nnormalize = \"none\""), "");
    for want in [
        "lower learning_rate (now 1000000)",
        "clip_grad_norm = 1.0 (now off)",
        "normalize = \"zscore\"",
    ] {
        assert!(raw.contains(want), "lacks {want:?}: {raw}");
    }
    let scaled = diverge(
        "scaled",
        &format!("{csv_data}\nnormalize = \"zscore\""),
        "clip_grad_norm = 1.0",
    );
    assert!(
        scaled.contains("lower learning_rate (now 1000000)"),
        "{scaled}"
    );
    assert!(!scaled.contains("zscore"), "zscore is on already: {scaled}");
    assert!(
        !scaled.contains("clip_grad_norm = 1.0"),
        "clipping is on already: {scaled}"
    );
    let synthetic = diverge(
        "synthetic",
        "source = \"synthetic\"\ngenerator = \"two_sines\"\ncount = 200",
        "",
    );
    assert!(!synthetic.contains("zscore"), "synthetic data: {synthetic}");
}

/// CSV-like text: cells of numbers, missing markers, words, quotes and
/// separators, a few lines of a few cells.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        "-?[0-9]{1,3}(\\.[0-9]{1,2})?(e[+-]?[0-9]{1,2})?",
        Just(String::new()),
        prop::sample::select(vec![
            "NA", "n/a", "NaN", "null", "None", "-", "?", "inf", "-3.4e38", "3e38", "1e39", "x",
            "x", "\"a,b\"", "\"", " 1 ", "\u{feff}", "é",
        ])
        .prop_map(str::to_string),
        "[a-z]{1,4}",
    ];
    let line = prop::collection::vec(cell.clone(), 0..5).prop_map(|cells| cells.join(","));
    let pair = (cell.clone(), cell).prop_map(|(a, b)| format!("{a},{b}"));
    prop_oneof![
        prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n").into_bytes()),
        // A header, then rows of two cells: most of these reach the scaler.
        prop::collection::vec(pair, 0..12)
            .prop_map(|lines| format!("x,y\n{}", lines.join("\n")).into_bytes()),
        prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Experiments that read `data.csv` every way a numeric CSV is read.
const READERS: &[&str] = &[
    "layout = \"series\"",
    "layout = \"series\"\ncolumns = [\"x\"]\nmissing = \"interpolate\"\nnormalize = \"minmax\"",
    "layout = \"series\"\nmissing = \"drop\"\ntransform = \"log1p\"",
    "layout = \"rows\"\nmissing = \"interpolate\"",
    "layout = \"rows\"\nfeatures = 2",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Any bytes read as data or as sequences to predict give a value or an
    /// error, never a panic.
    #[test]
    fn csv_readers_never_panic(bytes in csv_like()) {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("data.csv");
        std::fs::write(&csv, &bytes).unwrap();
        for header in [None, Some(true), Some(false)] {
            for transform in [Transform::None, Transform::Log] {
                let _ = rnnlab::data::read_sequences(&csv, 2, 1, transform, header);
            }
        }
        for layout in READERS {
            let text = format!(
                "name = \"fuzz\"\n[data]\nsource = \"csv\"\npath = \"data.csv\"\n{layout}\nwindow = 1\nsplit = [0.34, 0.33, 0.33]\n[[model.layers]]\ncell = \"gru\"\nunits = 1\n"
            );
            let exp = dir.path().join("e.toml");
            if let Ok(exp) = Experiment::from_str_at(&text, &exp, dir.path(), &[]) {
                let _ = rnnlab::data::load(&exp);
            }
        }
    }
}
