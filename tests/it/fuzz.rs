//! Property tests: no input makes the run-directory reader, the control
//! socket's protocol or the experiment parser panic. A recorded run is
//! damaged at random (cut, bytes flipped, lines inserted) and read back
//! every way a command reads it; random lines are sent to a live control
//! socket, which must answer or close and keep serving; random TOML-ish
//! text, and the bundled experiments edited at random (numbers replaced by
//! extreme values, lines dropped, doubled or inserted, `--set` overrides),
//! are parsed and validated, which must give an experiment or a typed error.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use rnnlab::events::Command as Cmd;
use rnnlab::experiment::Experiment;
use rnnlab::run::control::{ControlClient, ControlServer};
use rnnlab::run::read::{self, Follower};

use crate::common::{BIN, root};

/// The files of a small finished run, trained once per test binary.
fn recorded() -> &'static Vec<(String, Vec<u8>)> {
    static FILES: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let out = Command::new(BIN)
            .args(["train", "experiments/quickstart.toml", "--headless"])
            .args(["--set", "data.count=300", "--set", "train.epochs=3"])
            .args([
                "--set",
                "train.flow_every=2",
                "--run-dir",
                run.to_str().unwrap(),
            ])
            .current_dir(root())
            .output()
            .unwrap();
        assert!(out.status.success());
        [
            "metrics.csv",
            "eval.csv",
            "events.csv",
            "flow.csv",
            "predictions.jsonl",
            "info.json",
            "summary.json",
            "experiment.toml",
        ]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(run.join(n)).unwrap()))
        .collect()
    })
}

/// One way to damage a file.
#[derive(Debug, Clone)]
enum Damage {
    Cut(f64),
    Flip(f64, u8),
    Insert(f64, Vec<u8>),
    Remove,
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Damage::Cut),
        (0.0..1.0f64, any::<u8>()).prop_map(|(at, b)| Damage::Flip(at, b)),
        (
            0.0..1.0f64,
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                "[0-9,.eE+\\-\"\n a-z]{0,60}".prop_map(String::into_bytes),
            ]
        )
            .prop_map(|(at, bytes)| Damage::Insert(at, bytes)),
        Just(Damage::Remove),
    ]
}

fn apply(bytes: &[u8], d: &Damage) -> Option<Vec<u8>> {
    let at = |f: f64| ((bytes.len() as f64) * f) as usize;
    Some(match d {
        Damage::Cut(f) => bytes[..at(*f)].to_vec(),
        Damage::Flip(f, b) => {
            let mut v = bytes.to_vec();
            if let Some(x) = v.get_mut(at(*f)) {
                *x = *b;
            }
            v
        }
        Damage::Insert(f, ins) => {
            let mut v = bytes.to_vec();
            let i = at(*f).min(v.len());
            v.splice(i..i, ins.iter().copied());
            v
        }
        Damage::Remove => return None,
    })
}

/// Every way the commands read a run directory.
fn read_every_way(dir: &Path) {
    if let Ok(recorded) = read::load(dir) {
        let _ = recorded.events().count();
    }
    if let Ok(mut f) = Follower::open(dir) {
        for _ in 0..3 {
            if f.poll().is_err() {
                break;
            }
        }
    }
    let _ = read::named_runs(&[dir.to_path_buf()]);
    let _ = read::outcome(dir);
    let _ = read::summary::read_summary(dir);
    let _ = read::summary::load_summary(dir);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_run_directory_never_panics_the_reader(
        damages in proptest::collection::vec((0usize..8, damage()), 1..4)
    ) {
        let files = recorded();
        let dir = tempfile::tempdir().unwrap();
        let mut contents: Vec<Option<Vec<u8>>> = files.iter().map(|(_, b)| Some(b.clone())).collect();
        for (which, d) in &damages {
            if let Some(bytes) = &contents[*which] {
                contents[*which] = apply(bytes, d);
            }
        }
        for ((name, _), bytes) in files.iter().zip(&contents) {
            if let Some(bytes) = bytes {
                std::fs::write(dir.path().join(name), bytes).unwrap();
            }
        }
        read_every_way(dir.path());
    }
}

/// A live server whose trainer accepts every command.
fn server(dir: &Path) -> ControlServer {
    let (tx, rx) = std::sync::mpsc::channel::<Cmd>();
    std::thread::spawn(move || {
        for cmd in rx {
            if let Cmd::Tune { reply, .. } = cmd {
                reply.send(Ok(()));
            }
        }
    });
    ControlServer::start(dir, tx).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_lines_on_the_control_socket_are_answered_or_closed(
        lines in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                "\\{\"cmd\":\"[a-z_]{0,12}\"(,\"key\":\"[a-z_]{0,16}\")?(,\"value\":-?[0-9.eE+]{0,12})?\\}"
                    .prop_map(String::into_bytes),
            ],
            1..6,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let _server = server(dir.path());
        let mut stream = UnixStream::connect(dir.path().join("control.sock")).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        for mut line in lines {
            line.retain(|&b| b != b'\n');
            line.push(b'\n');
            if stream.write_all(&line).is_err() {
                break;
            }
            let blank = line.iter().all(u8::is_ascii_whitespace);
            if blank {
                continue;
            }
            let mut ack = String::new();
            match reader.read_line(&mut ack) {
                Ok(0) | Err(_) => break,
                Ok(_) => prop_assert!(ack.starts_with("{\"ok\":"), "{ack}"),
            }
        }
        // The server still serves.
        ControlClient::connect(dir.path()).unwrap().send(&Cmd::Pause).unwrap();
    }
}

/// The bundled experiments (sweep files aside): path and text.
fn bundled() -> &'static Vec<(PathBuf, String)> {
    static FILES: OnceLock<Vec<(PathBuf, String)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut out = Vec::new();
        let mut dirs = vec![root().join("experiments")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() && !path.ends_with("sweeps") {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "toml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path, text));
                }
            }
        }
        out.sort();
        assert!(out.len() > 10, "experiments/ holds the bundled experiments");
        out
    })
}

/// Extreme and wrong values for a key.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("9223372036854775807".to_string()),
        Just("4294967297".to_string()),
        Just("1e300".to_string()),
        Just("-1e-300".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        (0u64..100_000_000_000).prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        "\"[a-z0-9./_ -]{0,300}\"",
    ]
}

/// One edit of an experiment's text.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the n-th number (as a fraction of all) with a value.
    Number(f64, String),
    DropLine(f64),
    DoubleLine(f64),
    InsertLine(f64, String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (0.0..1.0f64, value()).prop_map(|(at, v)| Edit::Number(at, v)),
        1 => (0.0..1.0f64).prop_map(Edit::DropLine),
        1 => (0.0..1.0f64).prop_map(Edit::DoubleLine),
        2 => (0.0..1.0f64, toml_line()).prop_map(|(at, l)| Edit::InsertLine(at, l)),
    ]
}

/// A line of TOML-ish text: a table header, a key and value, or noise.
fn toml_line() -> impl Strategy<Value = String> {
    let key = "(name|seed|source|generator|path|layout|window|horizon|stride|count|length|features|season|units|cell|layers|embedding|batch_size|epochs|threads|sample_length|vocab_size|split|kind|strategy|[a-z_]{1,10})";
    prop_oneof![
        "\\[{1,2}(data|task|model|model\\.layers|train|checkpoint|reference|[a-z.]{0,10})\\]{1,2}",
        (proptest::string::string_regex(key).unwrap(), value())
            .prop_map(|(k, v)| format!("{k} = {v}")),
        "[ -~]{0,40}",
    ]
}

fn apply_edit(text: &str, e: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let at = |f: f64, n: usize| ((n as f64 * f) as usize).min(n.saturating_sub(1));
    match e {
        Edit::Number(f, v) => {
            // Byte ranges of the digit runs outside comments.
            let mut runs = Vec::new();
            let mut start = None;
            for (i, c) in text.char_indices() {
                match (c.is_ascii_digit(), start) {
                    (true, None) => start = Some(i),
                    (false, Some(s)) => {
                        runs.push((s, i));
                        start = None;
                    }
                    _ => {}
                }
            }
            if runs.is_empty() {
                return text.to_string();
            }
            let (s, end) = runs[at(*f, runs.len())];
            return format!("{}{v}{}", &text[..s], &text[end..]);
        }
        Edit::DropLine(f) if !lines.is_empty() => {
            lines.remove(at(*f, lines.len()));
        }
        Edit::DoubleLine(f) if !lines.is_empty() => {
            let i = at(*f, lines.len());
            lines.insert(i, lines[i].clone());
        }
        Edit::InsertLine(f, l) => {
            let i = at(*f, lines.len() + 1);
            lines.insert(i.min(lines.len()), l.clone());
        }
        _ => {}
    }
    lines.join("\n") + "\n"
}

/// An override `section.key=value` of a size or name key.
fn set() -> impl Strategy<Value = String> {
    let keys = prop_oneof![
        Just("name"),
        Just("data.window"),
        Just("data.horizon"),
        Just("data.count"),
        Just("data.length"),
        Just("data.stride"),
        Just("data.features"),
        Just("data.season"),
        Just("data.vocab_size"),
        Just("data.split"),
        Just("model.embedding"),
        Just("model.layers[0].units"),
        Just("model.layers.*.units"),
        Just("task.sample_length"),
        Just("train.batch_size"),
        Just("train.epochs"),
        Just("train.threads"),
        Just("train.learning_rate"),
        Just("checkpoint.keep_last"),
    ];
    (keys, value()).prop_map(|(k, v)| format!("{k}={v}"))
}

/// Parses and validates; an experiment that validates is also estimated and
/// serialised, as `check` and `train` do.
fn parse(text: &str, file: &Path, sets: &[String]) {
    let base = file.parent().unwrap();
    if let Ok(exp) = Experiment::from_str_at(text, file, base, sets) {
        let _ = rnnlab::experiment::limits::estimate(&exp).total();
        let _ = exp.to_toml();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn edited_experiments_never_panic_the_parser(
        which in 0usize..1000,
        edits in proptest::collection::vec(edit(), 1..4),
        sets in proptest::collection::vec(set(), 0..3),
    ) {
        let files = bundled();
        let (path, text) = &files[which % files.len()];
        let mut text = text.clone();
        for e in &edits {
            text = apply_edit(&text, e);
        }
        parse(&text, path, &sets);
    }

    #[test]
    fn toml_ish_text_never_panics_the_parser(
        lines in proptest::collection::vec(toml_line(), 0..25),
        sets in proptest::collection::vec(set(), 0..2),
    ) {
        let file = root().join("experiments/fuzz.toml");
        parse(&lines.join("\n"), &file, &sets);
    }
}
