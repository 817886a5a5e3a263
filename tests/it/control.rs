//! The control socket: a server and clients in one process, on a temporary run directory.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use rnnlab::events::{Command, Reply, Tunable};
use rnnlab::run::control::{self, ControlClient, ControlError, ControlServer};

/// A control server whose "trainer" accepts every tune but a negative
/// learning rate, and hands every command on to the returned channel.
fn serve(dir: &Path) -> (ControlServer, Receiver<Command>) {
    let (tx, trainer) = mpsc::channel::<Command>();
    let (seen, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for cmd in trainer {
            if let Command::Tune { key, value, reply } = &cmd {
                reply.send(key.check(*value).map(|_| ()));
            }
            if seen.send(cmd).is_err() {
                return;
            }
        }
    });
    let server = ControlServer::start(dir, tx).expect("server starts");
    (server, rx)
}

fn recv(rx: &Receiver<Command>) -> Command {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("a command arrives")
}

fn tune(key: &str, value: f64) -> Command {
    Command::Tune {
        key: Tunable::from_key(key).expect("a tunable key"),
        value,
        reply: Reply::default(),
    }
}

#[test]
fn commands_from_two_clients_arrive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, rx) = serve(dir.path());
    let mut a = ControlClient::connect(dir.path()).unwrap();
    let mut b = ControlClient::connect(dir.path()).unwrap();
    a.send(&Command::Pause).unwrap();
    assert_eq!(recv(&rx), Command::Pause);
    b.send(&tune("learning_rate", 0.0003)).unwrap();
    assert_eq!(recv(&rx), tune("learning_rate", 0.0003));
    a.send(&Command::Checkpoint).unwrap();
    b.send(&Command::Resume).unwrap();
    a.send(&Command::Stop).unwrap();
    assert_eq!(recv(&rx), Command::Checkpoint);
    assert_eq!(recv(&rx), Command::Resume);
    assert_eq!(recv(&rx), Command::Stop);
    assert!(rx.try_recv().is_err());
}

#[test]
fn wire_format_and_malformed_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, rx) = serve(dir.path());
    let mut stream = UnixStream::connect(dir.path().join("control.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut exchange = |line: &str| {
        stream.write_all(line.as_bytes()).unwrap();
        let mut ack = String::new();
        reader.read_line(&mut ack).unwrap();
        ack
    };
    assert_eq!(exchange("{\"cmd\":\"pause\"}\n"), "{\"ok\":true}\n");
    let bad = exchange("{\"cmd\":\"jump\"}\n");
    assert!(
        bad.starts_with("{\"ok\":false,\"error\":\"malformed command"),
        "{bad}"
    );
    let bad = exchange("not json at all\n");
    assert!(bad.starts_with("{\"ok\":false"), "{bad}");
    // Blank lines get no answer; the connection stays usable.
    let ack = exchange("\n  \n{\"cmd\":\"tune\",\"key\":\"eval_every\",\"value\":50}\n");
    assert_eq!(ack, "{\"ok\":true}\n");
    // A tune is acknowledged once the trainer has decided, with its reason.
    let refused = exchange("{\"cmd\":\"tune\",\"key\":\"learning_rate\",\"value\":-1}\n");
    assert_eq!(
        refused,
        "{\"ok\":false,\"error\":\"learning rate must be > 0\"}\n"
    );
    let unknown = exchange("{\"cmd\":\"tune\",\"key\":\"momentum\",\"value\":0.5}\n");
    assert!(unknown.contains("`momentum` is not a tunable"), "{unknown}");
    assert_eq!(recv(&rx), Command::Pause);
    assert_eq!(recv(&rx), tune("eval_every", 50.0));
    assert_eq!(recv(&rx), tune("learning_rate", -1.0));
    assert!(rx.try_recv().is_err());
}

#[test]
fn an_overlong_line_is_refused_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, _rx) = serve(dir.path());
    let mut stream = UnixStream::connect(dir.path().join("control.sock")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(&vec![b'x'; 10_000]);
    let mut rest = String::new();
    let mut reader = BufReader::new(stream);
    reader.read_line(&mut rest).unwrap();
    assert!(rest.contains("line longer than"), "{rest}");
    rest.clear();
    // Closed: end of file, or a reset since the rest of the line was never read.
    assert!(
        !matches!(reader.read_line(&mut rest), Ok(n) if n > 0),
        "{rest}"
    );
}

#[test]
fn socket_is_private_and_removed_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("control.sock");
    let (server, _rx) = serve(dir.path());
    assert_eq!(server.path(), sock);
    let meta = fs::symlink_metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    // Only the socket is left behind in the run directory, no temporary files.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["control.sock"]);
    assert!(control::is_live(dir.path()));
    let mut client = ControlClient::connect(dir.path()).unwrap();
    drop(server);
    assert!(!sock.exists());
    assert!(!control::is_live(dir.path()));
    // Connections of a stopped server are closed.
    assert!(matches!(
        client.send(&Command::Pause),
        Err(ControlError::Closed { .. })
    ));
}

#[test]
fn a_second_server_is_refused_while_the_first_lives() {
    let dir = tempfile::tempdir().unwrap();
    let (first, rx) = serve(dir.path());
    let (tx, _) = mpsc::channel();
    let err = ControlServer::start(dir.path(), tx).err().expect("refused");
    assert!(matches!(err, ControlError::AlreadyRunning { .. }));
    let text = err.to_string();
    assert!(
        text.contains("another rnnlab process is already training in")
            && text.contains(&dir.path().display().to_string()),
        "{text}"
    );
    // The first server still works.
    ControlClient::connect(dir.path())
        .unwrap()
        .send(&Command::Pause)
        .unwrap();
    assert_eq!(recv(&rx), Command::Pause);
    first.stop();
    let (tx, _) = mpsc::channel();
    assert!(ControlServer::start(dir.path(), tx).is_ok());
}

#[test]
fn stale_sockets_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("control.sock");
    // A socket whose listener is gone without unlinking it (a crash).
    drop(UnixListener::bind(&sock).unwrap());
    assert!(sock.exists() && !control::is_live(dir.path()));
    let err = ControlClient::connect(dir.path()).err().expect("stale");
    assert!(err.to_string().contains("stale"), "{err}");
    let (server, rx) = serve(dir.path());
    ControlClient::connect(dir.path())
        .unwrap()
        .send(&Command::Stop)
        .unwrap();
    assert_eq!(recv(&rx), Command::Stop);
    drop(server);
    // A plain file in the way.
    fs::write(&sock, "junk").unwrap();
    let (_server, _rx) = serve(dir.path());
    assert!(control::is_live(dir.path()));
}

#[test]
fn attach_errors_explain_the_run_state() {
    let dir = tempfile::tempdir().unwrap();
    let err = ControlClient::connect(dir.path()).err().expect("no socket");
    let text = err.to_string();
    assert!(
        text.contains(&dir.path().join("control.sock").display().to_string())
            && text.contains("no control socket"),
        "{text}"
    );
    fs::write(
        dir.path().join("summary.json"),
        r#"{"status":"completed","steps":10}"#,
    )
    .unwrap();
    let err = ControlClient::connect(dir.path()).err().expect("finished");
    assert!(
        err.to_string()
            .contains("the run is over (status completed)"),
        "{err}"
    );
}

#[test]
fn the_forwarder_sends_and_ends_with_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (server, rx) = serve(dir.path());
    let tx = control::forwarder(ControlClient::connect(dir.path()).unwrap());
    tx.send(Command::Checkpoint).unwrap();
    tx.send(tune("clip_grad_norm", 1.0)).unwrap();
    assert_eq!(recv(&rx), Command::Checkpoint);
    assert_eq!(recv(&rx), tune("clip_grad_norm", 1.0));
    drop(server);
    // The forwarding thread notices the closed connection and drops its end.
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(Command::Pause).is_err()
    });
    assert!(gone);
}

#[test]
fn commands_after_the_trainer_ended_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, trainer) = mpsc::channel();
    let _server = ControlServer::start(dir.path(), tx).expect("server starts");
    drop(trainer);
    let err = ControlClient::connect(dir.path())
        .unwrap()
        .send(&Command::Pause)
        .expect_err("refused");
    assert!(err.to_string().contains("the run is over"), "{err}");
}

#[test]
fn clients_beyond_the_cap_are_refused_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, rx) = serve(dir.path());
    let mut idle: Vec<ControlClient> = (0..control::MAX_CLIENTS)
        .map(|_| ControlClient::connect(dir.path()).unwrap())
        .collect();
    // Registration happens on the server's accept thread: let it catch up.
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = UnixStream::connect(dir.path().join("control.sock")).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut said = String::new();
    BufReader::new(&mut extra).read_line(&mut said).unwrap();
    assert!(said.contains("too many clients"), "{said}");
    // The clients already connected still steer the run.
    idle[0].send(&Command::Pause).unwrap();
    assert_eq!(recv(&rx), Command::Pause);
    // Once one leaves, a newcomer is served.
    idle.pop();
    std::thread::sleep(Duration::from_millis(200));
    ControlClient::connect(dir.path())
        .unwrap()
        .send(&Command::Resume)
        .unwrap();
    assert_eq!(recv(&rx), Command::Resume);
}

/// Under a schedule, a tuned learning rate is the rate from the next step
/// on (the schedule continues from it), and the note records the rate that
/// was in effect and says so.
#[test]
fn a_tuned_rate_under_a_cosine_schedule_is_the_rate_from_then_on() {
    use crate::common::{BIN, Child, root, wait_until};
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let child = std::process::Command::new(BIN)
        .args(["train", "experiments/quickstart.toml", "--headless"])
        .args(["--set", "data.count=3000", "--set", "train.epochs=400"])
        .args(["--set", "train.lr_schedule=\"cosine\"", "--run-dir"])
        .arg(&run)
        .current_dir(root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Child(child);
    let metrics = run.join("metrics.csv");
    let rows = || fs::read_to_string(&metrics).unwrap_or_default();
    wait_until("some steps", 60, || rows().lines().count() > 200, rows);
    let mut client = ControlClient::connect(&run).unwrap();
    client.send(&tune("learning_rate", 0.0004)).unwrap();
    let events = run.join("events.csv");
    let note = || {
        fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains(",tune,"))
            .map(String::from)
    };
    wait_until("the tune note", 30, || note().is_some(), rows);
    let note = note().unwrap();
    assert!(
        note.ends_with("→ 0.0004 (the cosine schedule continues from it)"),
        "{note}"
    );
    // The step of the note, and the rates around it in metrics.csv.
    let step: u64 = note.split(',').next().unwrap().parse().unwrap();
    let old: f64 = note
        .split("learning_rate ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    wait_until(
        "more steps",
        30,
        || rows().lines().count() as u64 > step + 50,
        rows,
    );
    let _ = client.send(&Command::Stop);
    let lr_at = |s: u64| -> f64 {
        rows()
            .lines()
            .find(|l| l.split(',').next() == Some(&s.to_string()))
            .unwrap()
            .split(',')
            .nth(5)
            .unwrap()
            .parse()
            .unwrap()
    };
    // The rate in effect before the tune is the note's "old" value…
    let before = lr_at(step);
    assert!((before - old).abs() <= old * 1e-3, "{before} vs {old}");
    // …the next step trains at the rate entered, and the cosine decays on from it.
    assert!(
        (lr_at(step + 1) - 0.0004).abs() < 1e-9,
        "{}",
        lr_at(step + 1)
    );
    assert!(lr_at(step + 50) < 0.0004);
    assert!(lr_at(step + 50) > 0.0004 * 0.9);
    let _ = child.0.wait();
}
