//! Property tests: no input makes the run-directory reader or the control
//! socket's protocol panic. A recorded run is damaged at random (cut,
//! bytes flipped, lines inserted) and read back every way a command reads
//! it; random lines are sent to a live control socket, which must answer
//! or close and keep serving.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use rnnlab::events::Command as Cmd;
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
