//! Hostile inputs, table-driven: files that are not regular files (FIFOs,
//! devices, directories) and absurd sizes. Each case must end within a
//! deadline (a FIFO once blocked for ever, `/dev/zero` was read until memory
//! ran out, `units = 1e8` aborted on allocation) with exit 2, no panic, and
//! a message naming the file or key and what it is. A property test feeds
//! mutated experiment files to the parser: it never panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::common::{BIN, root};

/// Runs rnnlab with a deadline; returns (exit code, stderr).
fn run(dir: &Path, args: &[String]) -> (i32, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            let code = status
                .code()
                .unwrap_or_else(|| panic!("{args:?} was killed by a signal: {err}"));
            return (code, err);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{args:?} did not answer within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SMALL: &str = "name = \"s\"\nseed = 1\n[data]\nsource = \"synthetic\"\n\
    generator = \"two_sines\"\ncount = 200\nwindow = 20\n[[model.layers]]\n\
    cell = \"gru\"\nunits = 8\n[train]\nepochs = 1\n";

fn csv_experiment(dir: &Path, name: &str, data: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "name = \"c\"\n[data]\nsource = \"csv\"\npath = \"{data}\"\nwindow = 4\n\
             [[model.layers]]\ncell = \"gru\"\nunits = 4\n"
        ),
    )
    .unwrap();
    path
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn hostile_files_and_absurd_sizes_exit_2_at_once_naming_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    mkfifo(&d.join("fifo.toml"));
    mkfifo(&d.join("data.fifo"));
    mkfifo(&d.join("input.fifo"));
    std::fs::create_dir(d.join("dir.toml")).unwrap();
    std::fs::create_dir(d.join("data.dir")).unwrap();
    std::fs::write(d.join("small.toml"), SMALL).unwrap();
    let small = s(&d.join("small.toml"));
    let fifo_data = s(&csv_experiment(d, "f.toml", &s(&d.join("data.fifo"))));
    let dir_data = s(&csv_experiment(d, "dd.toml", &s(&d.join("data.dir"))));
    let zero_data = s(&csv_experiment(d, "z.toml", "/dev/zero"));
    let text = s(&root().join("experiments/text/chars-lstm.toml"));
    let long_name = format!("name=\"{}\"", "x".repeat(300));
    let args = |a: &[&str]| -> Vec<String> { a.iter().map(|x| x.to_string()).collect() };
    let set = |exp: &str, kv: &str| args(&["check", exp, "--set", kv]);
    let cases: Vec<(&str, Vec<String>, Vec<&str>)> = vec![
        (
            "a FIFO as the experiment",
            args(&["check", &s(&d.join("fifo.toml"))]),
            vec!["fifo.toml", "FIFO"],
        ),
        (
            "a device as the experiment",
            args(&["check", "/dev/zero"]),
            vec!["/dev/zero", "character device"],
        ),
        (
            "a directory as the experiment",
            args(&["check", &s(&d.join("dir.toml"))]),
            vec!["dir.toml", "directory"],
        ),
        (
            "a FIFO as the data",
            args(&["check", &fifo_data]),
            vec!["data.fifo", "FIFO", "data.path"],
        ),
        (
            "a directory as the data",
            args(&["check", &dir_data]),
            vec!["data.dir", "directory"],
        ),
        (
            "a device as the data",
            args(&["check", &zero_data]),
            vec!["/dev/zero", "character device"],
        ),
        (
            "1e8 units",
            set(&small, "model.layers.0.units=100000000"),
            vec!["`model.layers[0].units`", "more than rnnlab allows"],
        ),
        (
            "a window of 1e9",
            set(&small, "data.window=1000000000"),
            vec!["`data.window`", "more than rnnlab allows"],
        ),
        (
            "1e11 series",
            set(&small, "data.count=100000000000"),
            vec!["`data.count`", "more than rnnlab allows"],
        ),
        (
            "a window past u64",
            set(&small, "data.window=18446744073709551616"),
            vec!["`data.window`"],
        ),
        (
            "1e10 per batch",
            set(&small, "train.batch_size=10000000000"),
            vec!["`train.batch_size`"],
        ),
        (
            "1e13 epochs",
            set(&small, "train.epochs=10000000000000"),
            vec!["`train.epochs`"],
        ),
        (
            "1e5 threads",
            set(&small, "train.threads=100000"),
            vec!["`train.threads`", "1024"],
        ),
        (
            "a sample of 1e9 characters",
            set(&text, "task.sample_length=1000000000"),
            vec!["`task.sample_length`"],
        ),
        (
            "a 300-byte name",
            set(&small, &long_name),
            vec!["`name`", "300 bytes"],
        ),
        (
            "a device as the weights",
            args(&[
                "predict",
                "--experiment",
                &small,
                "--weights",
                "/dev/zero",
                "--input",
                &small,
                "--output",
                &s(&d.join("p.csv")),
            ]),
            vec!["/dev/zero", "weights file", "character device"],
        ),
        (
            "a FIFO as predict's input",
            args(&[
                "predict",
                &s(&d.join("run")),
                "--input",
                &s(&d.join("input.fifo")),
                "--output",
                &s(&d.join("p.csv")),
            ]),
            vec!["input.fifo", "FIFO"],
        ),
    ];
    let (code, err) = run(
        d,
        &args(&[
            "train",
            &small,
            "--headless",
            "--run-dir",
            &s(&d.join("run")),
        ]),
    );
    assert_eq!(code, 0, "{err}");
    for (what, args, words) in cases {
        let (code, err) = run(d, &args);
        assert_eq!(code, 2, "{what}: exit {code}\n{err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        for w in words {
            assert!(err.contains(w), "{what}: no `{w}` in\n{err}");
        }
    }
}

/// The bundled experiments, each cut, spliced or with a value replaced at
/// random: the parser and validator answer Ok or an error, never a panic.
fn mutate(text: &str, at: usize, cut: usize, insert: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + cut).min(chars.len());
    chars.splice(at..end, insert.chars());
    chars.into_iter().collect()
}

fn bundled() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dir in ["", "homl", "adding", "series", "text"] {
        let Ok(entries) = std::fs::read_dir(root().join("experiments").join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "toml") {
                out.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_experiment_never_panics_the_parser(
        file in 0usize..1000,
        at in any::<usize>(),
        cut in 0usize..40,
        insert in prop_oneof![
            Just(String::new()),
            Just("= 1e999".to_string()),
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("[[model.layers]]\ncell = \"lstm\"\nunits = 0\n".to_string()),
            Just("\"\\u{0}\"".to_string()),
            Just("nan".to_string()),
            "[ -~\n]{0,30}",
        ],
    ) {
        let files = bundled();
        let (path, text) = &files[file % files.len()];
        let text = mutate(text, at, cut, &insert);
        // In a directory of its own (relative data paths then fail to
        // resolve, which is one more error path to take).
        let tmp = tempfile::tempdir().unwrap();
        let copy = tmp.path().join(path.file_name().unwrap());
        std::fs::write(&copy, &text).unwrap();
        let result = std::panic::catch_unwind(|| rnnlab::experiment::Experiment::load(&copy, &[]).is_ok());
        prop_assert!(result.is_ok(), "the parser panicked on:\n{}", text);
    }
}
