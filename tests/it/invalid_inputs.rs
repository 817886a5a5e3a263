//! Hostile inputs (issue 15): files that are not regular files or are too
//! large, sizes that cannot fit, names that cannot name a directory,
//! paths that are not runs, outputs that cannot be written (damaged
//! trainer states are in `resume`). Each case must end at once with its exit code and a message
//! that names the file or key and the fix: never a panic (101), an abort
//! (134) or a hang.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{BIN, root};

/// What a command did.
struct Out {
    code: i32,
    stderr: String,
}

/// Runs `rnnlab args…` in the package root, killing it after `secs`
/// seconds (a FIFO that blocks the reader must fail the test, not hang it).
fn run(args: &[&str], secs: u64) -> Out {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running rnnlab");
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rnnlab {args:?} did not end within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("rnnlab {args:?} was killed by a signal:\n{stderr}"));
    Out { code, stderr }
}

/// Checks one case: the exit code, no panic, and every word in the message.
fn expect(failures: &mut Vec<String>, args: &[&str], code: i32, words: &[&str]) {
    let out = run(args, 60);
    if out.code != code {
        failures.push(format!(
            "rnnlab {args:?}: exit {} (want {code})\n{}",
            out.code, out.stderr
        ));
    }
    if out.stderr.contains("panicked") || !out.stderr.starts_with("error: ") {
        failures.push(format!(
            "rnnlab {args:?}: not a clean error:\n{}",
            out.stderr
        ));
    }
    for w in words {
        if !out.stderr.contains(w) {
            failures.push(format!("rnnlab {args:?}: lacks {w:?}:\n{}", out.stderr));
        }
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// A small finished run in `dir/run` (a second or two of training).
fn small_run(dir: &Path) -> PathBuf {
    let run = dir.join("run");
    let out = Command::new(BIN)
        .args(["train", "experiments/quickstart.toml", "--headless"])
        .args(["--set", "data.count=300", "--set", "train.epochs=2"])
        .args(["--run-dir", s(&run)])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run
}

/// `tests/invalid/sizes/*.toml`: the words of each error; `check` and
/// `train` refuse each with exit 2 (and `train` makes no run directory).
const SIZES: &[(&str, &[&str])] = &[
    (
        "huge_units.toml",
        &[
            "huge_units.toml:11:9: ",
            "`model.layers[0].units`: 100000000 is more than rnnlab allows (1048576)",
        ],
    ),
    (
        "wide_units.toml",
        &[
            "wide_units.toml:11:9: ",
            "`model.layers[0].units`: the experiment needs about ",
            " of memory, more than the ",
            "parameters with gradients and optimizer state",
            "hint: lower `model.layers[0].units`",
        ],
    ),
    (
        "long_window.toml",
        &[
            "long_window.toml:7:10: ",
            "`data.window`: 1000000000 is more than rnnlab allows",
        ],
    ),
    (
        "window_overflow.toml",
        &["`data.window`: 9223372036854775807 is more than rnnlab allows (16777216)"],
    ),
    (
        "huge_count.toml",
        &["`data.count`: 100000000000 is more than rnnlab allows"],
    ),
    (
        "big_data.toml",
        &[
            "big_data.toml:6:9: ",
            "`data.count`: the experiment needs about ",
            "data ",
            "hint: lower `data.count`",
        ],
    ),
    (
        "too_many_threads.toml",
        &[
            "`train.threads`: 100000 is more than rnnlab allows (1024)",
            "0 = one per CPU",
        ],
    ),
    (
        "long_name.toml",
        &[
            "long_name.toml:1:8: ",
            "`name`: ",
            "(300 bytes)` is not a usable run name",
            "up to 200 letters",
        ],
    ),
    (
        "long_sample.toml",
        &["`task.sample_length`: 1000000000 is more than rnnlab allows (100000)"],
    ),
];

#[test]
fn sizes_that_cannot_fit_are_refused_by_check_and_train() {
    let mut failures = Vec::new();
    let never = "/nonexistent/never-created";
    for (file, words) in SIZES {
        let path = format!("tests/invalid/sizes/{file}");
        expect(&mut failures, &["check", &path], 2, words);
        expect(
            &mut failures,
            &["train", &path, "--run-dir", never],
            2,
            words,
        );
    }
    // The same bounds reached through `--set`, where the value never
    // passed through a TOML file (and so has no line to point at).
    let small = "experiments/quickstart.toml";
    let sets: &[(&str, &str)] = &[
        ("data.window=18446744073709551616", "`data.window`"),
        (
            "train.batch_size=10000000000",
            "`train.batch_size`: 10000000000 is more than rnnlab allows",
        ),
        (
            "train.epochs=10000000000000",
            "`train.epochs`: 10000000000000 is more than rnnlab allows",
        ),
        (
            "data.count=100000000000",
            "`data.count`: 100000000000 is more than rnnlab allows",
        ),
    ];
    for (set, words) in sets {
        expect(&mut failures, &["check", small, "--set", set], 2, &[words]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(!Path::new(never).exists());
}

/// Every case file in tests/invalid/sizes is covered by the table.
#[test]
fn every_size_case_is_in_the_table() {
    for entry in std::fs::read_dir(root().join("tests/invalid/sizes")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            SIZES.iter().any(|(f, _)| *f == name),
            "tests/invalid/sizes/{name} has no row in SIZES"
        );
    }
}

#[test]
fn only_regular_files_of_a_sensible_size_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let have_fifo = mkfifo(&fifo);
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let blob = dir.path().join("blob.safetensors");
    std::fs::write(&blob, vec![0u8; 70 << 20]).unwrap();
    let exp = "experiments/quickstart.toml";
    let series = "experiments/series/sunspots-lstm.toml";
    let text = "experiments/text/chars-lstm.toml";
    let (fifo_set, dir_set) = (
        format!("data.path={}", s(&fifo)),
        format!("data.path={}", s(dir.path())),
    );
    fn pred<'a>(exp: &'a str, w: &'a str) -> Vec<&'a str> {
        vec!["predict", "--experiment", exp, "--weights", w]
    }
    let mut cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["check", "/dev/zero"],
            vec!["/dev/zero: the experiment file is a character device, not a regular file"],
        ),
        (
            vec!["check", s(dir.path())],
            vec!["the experiment file is a directory, not a regular file"],
        ),
        (
            vec!["check", s(&big)],
            vec!["the experiment file is 2.0 MiB, over the 1.0 MiB limit for experiment files"],
        ),
        (
            vec!["sweep", "/dev/zero", "--headless"],
            vec!["the sweep file is a character device"],
        ),
        (
            vec!["check", series, "--set", "data.path=/dev/zero"],
            vec!["`data.path`", "the data file is a character device"],
        ),
        (
            vec!["check", text, "--set", &dir_set],
            vec!["`data.path`", "the data file is a directory"],
        ),
        (
            [
                pred(exp, "/dev/zero"),
                vec!["--input", "x.csv", "--output", "y.csv"],
            ]
            .concat(),
            vec!["/dev/zero: the weights file is a character device"],
        ),
        (
            [
                pred(exp, s(&blob)),
                vec!["--input", "x.csv", "--output", "y.csv"],
            ]
            .concat(),
            vec![
                "the weights file is 70.0 MiB, over the",
                "this model's weights take",
            ],
        ),
    ];
    if have_fifo {
        cases.extend([
            (
                vec!["check", s(&fifo)],
                vec!["the experiment file is a FIFO (named pipe), not a regular file"],
            ),
            (
                vec!["check", series, "--set", &fifo_set],
                vec!["`data.path`", "the data file is a FIFO (named pipe)"],
            ),
            (
                [
                    pred(exp, s(&fifo)),
                    vec!["--input", "x.csv", "--output", "y.csv"],
                ]
                .concat(),
                vec!["the weights file is a FIFO"],
            ),
        ]);
    }
    let mut failures = Vec::new();
    for (args, words) in &cases {
        expect(&mut failures, args, 2, words);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A run's files given to commands: predict's input, attach and replay of
/// non-runs, and outputs that cannot be written (a full disk is real here:
/// `/dev/full`; a read-only directory is not tested, as the tests may run
/// as root, for whom permissions do not stop a write).
#[test]
fn run_paths_and_outputs_fail_at_once_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let run = small_run(dir.path());
    let input = dir.path().join("in.csv");
    let row: Vec<String> = (0..50).map(|i| format!("{}", i as f64 / 100.0)).collect();
    std::fs::write(&input, row.join(",") + "\n").unwrap();
    let not_run = dir.path().join("not-a-run");
    std::fs::create_dir(&not_run).unwrap();
    std::fs::write(not_run.join("experiment.toml"), "name = \"x\"\n").unwrap();
    let fifo = dir.path().join("fifo.csv");
    let have_fifo = mkfifo(&fifo);
    let missing_dir = dir.path().join("no/such/dir/y.csv");
    let predict = |input: &Path, output: &Path| -> Vec<String> {
        [
            "predict",
            s(&run),
            "--input",
            s(input),
            "--output",
            s(output),
        ]
        .map(String::from)
        .to_vec()
    };
    let args = |a: &[&str]| a.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut cases: Vec<(Vec<String>, i32, String)> = vec![
        (
            predict(Path::new("/dev/zero"), &dir.path().join("y.csv")),
            2,
            "/dev/zero: the input file is a character device".into(),
        ),
        (
            predict(&input, &missing_dir),
            2,
            format!(
                "cannot write {}: No such file or directory",
                s(&missing_dir)
            ),
        ),
        (
            predict(&input, Path::new("/dev/full")),
            1,
            "cannot write /dev/full: No space left on device".into(),
        ),
        (
            args(&["attach", s(&not_run)]),
            2,
            "has no metrics.csv and no process is training it".into(),
        ),
        (
            args(&["replay", s(&input)]),
            2,
            format!("{} is a file, not a run directory", s(&input)),
        ),
        (
            args(&["export", s(&run), "--tensorboard", "/dev/full/tb"]),
            2,
            "cannot write TensorBoard events to /dev/full/tb/run: Not a directory".into(),
        ),
    ];
    if have_fifo {
        cases.push((
            predict(&fifo, &dir.path().join("y.csv")),
            2,
            "the input file is a FIFO".into(),
        ));
    }
    let mut failures = Vec::new();
    for (args, code, words) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect(&mut failures, &args, *code, &[words]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
