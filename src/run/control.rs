//! Steering a headless run from another process over `RUN_DIR/control.sock`.
//!
//! Wire format: newline-delimited JSON, one command per line, one
//! acknowledgement line per command (blank lines are ignored):
//!
//! ```text
//! → {"cmd":"pause"}            ← {"ok":true}
//! → {"cmd":"resume"}           ← {"ok":true}
//! → {"cmd":"tune","key":"learning_rate","value":0.001}    ← {"ok":true}
//! → {"cmd":"tune","key":"learning_rate","value":-1}       ← {"ok":false,"error":"learning rate must be > 0"}
//! → {"cmd":"checkpoint"}
//! → {"cmd":"stop"}
//! → {"cmd":"jump"}             ← {"ok":false,"error":"malformed command: …"}
//! ```
//!
//! The socket is created with mode 0600 (only its owner can steer the run):
//! it is bound inside a fresh 0700 directory, made 0600 and then hard-linked
//! into place, so nobody else can connect while the mode is being set.

use std::collections::HashMap;
use std::fs::{self, DirBuilder, Permissions};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::{Deserialize, Serialize};

use crate::events::{Command, Reply, Tunable};
use crate::run::lock;
use crate::run::read::summary::read_summary;

/// The socket's file name in a run directory.
pub const SOCKET: &str = "control.sock";
/// Longest command line a client may send.
const MAX_LINE: usize = 4096;
/// How long a client waits for an acknowledgement.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the server waits for the trainer's decision on a tune (it
/// applies commands between steps, and an evaluation may take a while).
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// Clients served at once; more are refused (each holds a thread and three
/// descriptors, which the run needs for its own files).
pub const MAX_CLIENTS: usize = 32;
/// A client that sends nothing for this long is disconnected (`attach`
/// reconnects on its next command).
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What can go wrong while serving or attaching.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("another rnnlab process is already training in {}", run_dir.display())]
    AlreadyRunning { run_dir: PathBuf },
    #[error("cannot attach to {}: {why}", socket.display())]
    Unreachable { socket: PathBuf, why: String },
    #[error("{what} {}: {err}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    #[error("{} refused the command: {message}", socket.display())]
    Refused { socket: PathBuf, message: String },
    #[error("the connection to {} was lost: the run is over", socket.display())]
    Closed { socket: PathBuf },
}

/// A command on the wire (mirrors [`Command`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
enum Wire {
    Pause,
    Resume,
    Tune { key: String, value: f64 },
    Checkpoint,
    Stop,
}

/// Hands a command to the trainer. A tune waits for the trainer's decision,
/// so that the acknowledgement says whether the value was applied.
fn forward(wire: Wire, commands: &Sender<Command>) -> Result<(), String> {
    let over = || "the run is over; it takes no more commands".to_string();
    let command = match wire {
        Wire::Pause => Command::Pause,
        Wire::Resume => Command::Resume,
        Wire::Checkpoint => Command::Checkpoint,
        Wire::Stop => Command::Stop,
        Wire::Tune { key, value } => {
            let Some(key) = Tunable::from_key(&key) else {
                return Err(format!(
                    "`{key}` is not a tunable hyperparameter; tunable: {}",
                    Tunable::keys()
                ));
            };
            let (tx, rx) = mpsc::channel();
            let reply = Reply(Some(tx));
            commands
                .send(Command::Tune { key, value, reply })
                .map_err(|_| over())?;
            return match rx.recv_timeout(REPLY_TIMEOUT) {
                Ok(answer) => answer,
                Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                    "the trainer did not answer within {} s",
                    REPLY_TIMEOUT.as_secs()
                )),
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(over()),
            };
        }
    };
    commands.send(command).map_err(|_| over())
}

impl From<&Command> for Wire {
    fn from(c: &Command) -> Wire {
        match c {
            Command::Pause => Wire::Pause,
            Command::Resume => Wire::Resume,
            Command::Tune { key, value, .. } => Wire::Tune {
                key: key.key().to_string(),
                value: *value,
            },
            Command::Checkpoint => Wire::Checkpoint,
            Command::Stop => Wire::Stop,
        }
    }
}

/// The answer to one command line.
#[derive(Debug, Serialize, Deserialize)]
struct Ack {
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

type Clients = Arc<Mutex<HashMap<u64, UnixStream>>>;

/// Listens on `RUN_DIR/control.sock` and forwards clients' commands to the
/// trainer. Dropping it (or [`stop`](Self::stop)) closes every connection and
/// removes the socket.
pub struct ControlServer {
    socket: PathBuf,
    /// (device, inode) of the socket file this server created.
    file_id: (u64, u64),
    /// Dropping it wakes the accept thread so that it ends.
    wake: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
    clients: Clients,
}

impl ControlServer {
    /// Binds `run_dir/control.sock` (mode 0600) and serves clients on a
    /// background thread. A stale socket left by a crashed process is replaced;
    /// a live one is an error.
    pub fn start(run_dir: &Path, commands: Sender<Command>) -> Result<ControlServer, ControlError> {
        let socket = run_dir.join(SOCKET);
        clear_stale(run_dir, &socket)?;
        let (listener, file_id) = bind_private(run_dir, &socket)?;
        let io_err = |what, err| ControlError::Io {
            what,
            path: socket.clone(),
            err,
        };
        let setup = listener
            .set_nonblocking(true)
            .and_then(|()| UnixStream::pair());
        let (wake, woken) = match setup {
            Ok(pair) => pair,
            Err(e) => {
                remove_if_ours(&socket, file_id);
                return Err(io_err("cannot listen on", e));
            }
        };
        let clients = Clients::default();
        let shared = Arc::clone(&clients);
        let thread = thread::Builder::new()
            .name("rnnlab-control".into())
            .spawn(move || accept_loop(&listener, &woken, &commands, &shared));
        match thread {
            Ok(thread) => Ok(ControlServer {
                socket,
                file_id,
                wake: Some(wake),
                thread: Some(thread),
                clients,
            }),
            Err(e) => {
                remove_if_ours(&socket, file_id);
                Err(io_err("cannot start a thread to serve", e))
            }
        }
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.socket
    }

    /// Stops serving and removes the socket (the same as dropping the server).
    pub fn stop(self) {}
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        remove_if_ours(&self.socket, self.file_id);
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for (_, client) in lock(&self.clients).drain() {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes a socket file nobody answers on; refuses if someone does.
fn clear_stale(run_dir: &Path, socket: &Path) -> Result<(), ControlError> {
    let io_err = |what, err| ControlError::Io {
        what,
        path: socket.to_path_buf(),
        err,
    };
    match fs::symlink_metadata(socket) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err("cannot inspect", e)),
        Ok(_) => {}
    }
    match UnixStream::connect(socket) {
        Ok(_) => Err(ControlError::AlreadyRunning {
            run_dir: run_dir.to_path_buf(),
        }),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => {
            match fs::remove_file(socket) {
                Err(e) if e.kind() != ErrorKind::NotFound => {
                    Err(io_err("cannot remove the stale socket", e))
                }
                _ => Ok(()),
            }
        }
        Err(e) => Err(io_err("cannot check who listens on", e)),
    }
}

/// Binds the socket in a private directory, sets mode 0600 and links it to
/// `socket` (failing if that exists). Returns the listener and the file's id.
fn bind_private(run_dir: &Path, socket: &Path) -> Result<(UnixListener, (u64, u64)), ControlError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let io_err = |what, path: &Path, err| ControlError::Io {
        what,
        path: path.to_path_buf(),
        err,
    };
    // Short names: socket paths are limited to about 100 bytes.
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = run_dir.join(format!(".ctl-{}-{n}", std::process::id()));
    DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| io_err("cannot create", &dir, e))?;
    let temp = dir.join("s");
    let result = (|| {
        let listener = UnixListener::bind(&temp).map_err(|e| {
            let e = if e.kind() == ErrorKind::InvalidInput {
                io::Error::new(e.kind(), format!("{e} (use a shorter run directory path)"))
            } else {
                e
            };
            io_err("cannot bind", socket, e)
        })?;
        fs::set_permissions(&temp, Permissions::from_mode(0o600))
            .map_err(|e| io_err("cannot set the mode of", socket, e))?;
        match fs::hard_link(&temp, socket) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(if UnixStream::connect(socket).is_ok() {
                    ControlError::AlreadyRunning {
                        run_dir: run_dir.to_path_buf(),
                    }
                } else {
                    io_err("cannot create", socket, e)
                });
            }
            // Filesystems without hard links: a rename (which would replace a
            // socket created in the meantime) is the best there is.
            Err(_) => fs::rename(&temp, socket).map_err(|e| io_err("cannot create", socket, e))?,
        }
        let meta = fs::symlink_metadata(socket).map_err(|e| io_err("cannot inspect", socket, e))?;
        Ok((listener, (meta.dev(), meta.ino())))
    })();
    let _ = fs::remove_file(&temp);
    let _ = fs::remove_dir(&dir);
    result
}

/// Removes `socket` if it is still the file this server created.
fn remove_if_ours(socket: &Path, id: (u64, u64)) {
    if fs::symlink_metadata(socket).is_ok_and(|m| (m.dev(), m.ino()) == id) {
        let _ = fs::remove_file(socket);
    }
}

/// Accepts clients until `woken` becomes readable (the server was dropped).
fn accept_loop(
    listener: &UnixListener,
    woken: &UnixStream,
    commands: &Sender<Command>,
    clients: &Clients,
) {
    let mut next_id = 0u64;
    loop {
        let mut fds = [
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
            PollFd::new(woken.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
        if fds[1].any().unwrap_or(true) {
            return;
        }
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    next_id += 1;
                    spawn_client(next_id, stream, commands.clone(), clients);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    thread::sleep(ACCEPT_BACKOFF);
                    break;
                }
            }
        }
    }
}

/// Serves one client on its own thread, registered in `clients` while it lasts.
fn spawn_client(id: u64, mut stream: UnixStream, commands: Sender<Command>, clients: &Clients) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(IDLE_TIMEOUT)).is_err()
    {
        return;
    }
    if lock(clients).len() >= MAX_CLIENTS {
        let why = format!(
            "too many clients ({MAX_CLIENTS}) are connected to this run; close one and try again"
        );
        let _ = reply(&mut stream, Err(why));
        return;
    }
    if let Ok(clone) = stream.try_clone() {
        lock(clients).insert(id, clone);
    }
    let registry = Arc::clone(clients);
    let spawned = thread::Builder::new()
        .name("rnnlab-control-client".into())
        .spawn(move || {
            let _ = serve(stream, &commands);
            lock(&registry).remove(&id);
        });
    if spawned.is_err() {
        lock(clients).remove(&id);
    }
}

/// Reads command lines, forwards valid ones and acknowledges each line.
fn serve(stream: UnixStream, commands: &Sender<Command>) -> io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if n > MAX_LINE && line.last() != Some(&b'\n') {
            let msg = format!("line longer than {MAX_LINE} bytes; closing");
            return reply(&mut out, Err(msg));
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let result = match serde_json::from_slice::<Wire>(text) {
            Ok(wire) => forward(wire, commands),
            Err(e) => Err(format!(
                "malformed command: {e}; expected e.g. {{\"cmd\":\"pause\"}}"
            )),
        };
        reply(&mut out, result)?;
    }
}

fn reply(out: &mut UnixStream, result: Result<(), String>) -> io::Result<()> {
    let ack = Ack {
        ok: result.is_ok(),
        error: result.err(),
    };
    let mut text = serde_json::to_string(&ack).map_err(io::Error::other)?;
    text.push('\n');
    out.write_all(text.as_bytes())
}

/// A connection to a live run's control socket.
pub struct ControlClient {
    run_dir: PathBuf,
    socket: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl ControlClient {
    /// Connects to `run_dir/control.sock`. The error says why that failed:
    /// no socket (and whether the run is over), a stale socket, permissions.
    pub fn connect(run_dir: &Path) -> Result<ControlClient, ControlError> {
        let socket = run_dir.join(SOCKET);
        let unreachable = |why: String| ControlError::Unreachable {
            socket: socket.clone(),
            why,
        };
        let stream =
            UnixStream::connect(&socket).map_err(|e| unreachable(diagnose(run_dir, &e)))?;
        let writer = stream
            .set_read_timeout(Some(ACK_TIMEOUT))
            .and_then(|()| stream.try_clone())
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(ControlClient {
            run_dir: run_dir.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
            socket,
        })
    }

    /// Sends one command and waits for its acknowledgement.
    pub fn send(&mut self, cmd: &Command) -> Result<(), ControlError> {
        let closed = || ControlError::Closed {
            socket: self.socket.clone(),
        };
        let mut line = serde_json::to_string(&Wire::from(cmd)).map_err(|_| closed())?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|_| closed())?;
        let mut ack = String::new();
        match self.reader.read_line(&mut ack) {
            Ok(0) => return Err(closed()),
            Ok(_) => {}
            Err(err) => {
                return Err(ControlError::Io {
                    what: "no acknowledgement from",
                    path: self.socket.clone(),
                    err,
                });
            }
        }
        match serde_json::from_str::<Ack>(&ack) {
            Ok(Ack { ok: true, .. }) => Ok(()),
            Ok(Ack { error, .. }) => Err(ControlError::Refused {
                socket: self.socket.clone(),
                message: error.unwrap_or_else(|| "no reason given".into()),
            }),
            Err(e) => Err(ControlError::Refused {
                socket: self.socket.clone(),
                message: format!("unreadable acknowledgement {:?}: {e}", ack.trim_end()),
            }),
        }
    }
}

/// Why connecting to a run's socket failed, in words.
fn diagnose(run_dir: &Path, err: &io::Error) -> String {
    if !run_dir.is_dir() {
        return format!("{} is not a directory", run_dir.display());
    }
    let status = read_summary(run_dir).status;
    let summary = match status.as_deref() {
        Some("running") => "summary.json says it is running".to_string(),
        Some(s) => format!("the run is over (status {s})"),
        None => "no readable summary.json".to_string(),
    };
    match err.kind() {
        ErrorKind::NotFound => match status.as_deref() {
            Some("running") => format!(
                "no control socket; {summary}, but it was not started with --headless or its process has died"
            ),
            _ => format!("no control socket; {summary}"),
        },
        ErrorKind::ConnectionRefused => format!(
            "the socket is stale: no process answers (the training process was killed or crashed); {summary}"
        ),
        ErrorKind::PermissionDenied => {
            format!("permission denied: only the user who started the run can steer it ({err})")
        }
        _ => format!("{err}; {summary}"),
    }
}

/// A channel whose commands a background thread sends over `client`. Once the
/// connection fails (e.g. the run is over) the thread ends and sends fail.
pub fn forwarder(mut client: ControlClient) -> Sender<Command> {
    let (tx, rx) = mpsc::channel::<Command>();
    // If the thread cannot start, `rx` is dropped and sends fail, as documented.
    let _ = thread::Builder::new()
        .name("rnnlab-attach".into())
        .spawn(move || {
            for cmd in rx {
                match client.send(&cmd) {
                    Ok(()) | Err(ControlError::Refused { .. }) => {}
                    // The server closes idle connections: connect again once.
                    Err(_) => match ControlClient::connect(&client.run_dir) {
                        Ok(fresh) => {
                            client = fresh;
                            if client.send(&cmd).is_err() {
                                return;
                            }
                        }
                        Err(_) => return,
                    },
                }
            }
        });
    tx
}

/// Whether a process is training the run in `run_dir`: it holds the run's
/// lock, or (a run recorded before locks) answers on its control socket.
pub fn is_live(run_dir: &Path) -> bool {
    lock::is_held(run_dir) || UnixStream::connect(run_dir.join(SOCKET)).is_ok()
}

impl crate::error::Failure for ControlError {
    fn kind(&self) -> crate::error::Kind {
        use crate::error::Kind;
        match self {
            ControlError::AlreadyRunning { .. } | ControlError::Unreachable { .. } => {
                Kind::BadInput
            }
            ControlError::Io { .. }
            | ControlError::Refused { .. }
            | ControlError::Closed { .. } => Kind::Failure,
        }
    }
}
