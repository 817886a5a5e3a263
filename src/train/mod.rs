//! Training: the worker thread that owns the model, its loop, and the handle
//! the front ends use to read events and send commands.

mod advice;
mod backtest;
mod eval;
mod optim;
mod schedule;
mod series;
pub mod state;
pub mod text;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use backtest::{Retrained, backtest, backtest_retrained};
pub use eval::{Evaluation, Forecast, evaluate, examples, fit_conformal, forecast, forecast_full};
pub use optim::Optimizer;
pub use schedule::Schedule;
pub use series::per_series;
pub use worker::{Options, Resume};

use crate::data::Dataset;
use crate::events::{Command, Event, Outcome};
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::{RunDir, RunError};

/// Events buffered between the worker and a front end before step events are dropped.
const CHANNEL_CAPACITY: usize = 4096;
/// How long a finished run waits for a front end to take its last events.
const FINISH_WAIT: Duration = Duration::from_secs(10);

/// A running trainer: its event stream, its command channel, its thread.
pub struct Handle {
    pub events: Receiver<Event>,
    pub commands: Sender<Command>,
    /// Set once the run is over and everything is on disk (before the last
    /// events are delivered): a process whose front end is stuck may exit then.
    pub done: Arc<AtomicBool>,
    thread: JoinHandle<Result<Outcome, RunError>>,
}

/// Why training ended without an outcome.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The run directory could not be written.
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("the training thread panicked: {0}")]
    Panicked(String),
    #[error("cannot start the training thread: {0}")]
    Thread(std::io::Error),
    /// The system refused the worker threads `train.threads` asks for.
    #[error(
        "`train.threads` = {threads}: this system cannot start that many threads ({reason}); use fewer (0 = one per CPU)"
    )]
    Threads { threads: usize, reason: String },
}

/// Checks, before a run directory is made, that the system lets the run
/// start its `threads` worker threads (0 = one per CPU): a limit on
/// processes or memory refuses them, and the run could not even start.
pub fn check_threads(threads: usize) -> Result<(), TrainError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map(drop)
        .map_err(|e| TrainError::Threads {
            threads,
            reason: e.to_string(),
        })
}

impl crate::error::Failure for TrainError {
    fn kind(&self) -> crate::error::Kind {
        match self {
            TrainError::Run(e) => e.kind(),
            TrainError::Panicked(_) | TrainError::Thread(_) => crate::error::Kind::Failure,
            TrainError::Threads { .. } => crate::error::Kind::BadInput,
        }
    }
}

impl Handle {
    /// Waits for the worker and returns how the run ended.
    pub fn join(self) -> Result<Outcome, TrainError> {
        match self.thread.join() {
            Ok(result) => Ok(result?),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                Err(TrainError::Panicked(why))
            }
        }
    }
}

/// Starts training on its own thread (from `resume`'s checkpoint when given).
/// The worker records everything to `run` and forwards events to the returned
/// handle without ever waiting for it.
pub fn spawn(
    exp: Experiment,
    data: Dataset,
    model: Model,
    run: RunDir,
    resume: Option<Resume>,
    options: Options,
) -> Result<Handle, TrainError> {
    let (tx, events) = mpsc::sync_channel(CHANNEL_CAPACITY);
    let (commands, rx) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let out = Outbox::new(tx, done.clone());
    let thread = std::thread::Builder::new()
        .name("rnnlab-trainer".into())
        .spawn(move || worker::Worker::new(exp, data, model, run, (out, rx), resume, options).run())
        .map_err(TrainError::Thread)?;
    Ok(Handle {
        events,
        commands,
        done,
        thread,
    })
}

/// Progress that only matters as the latest value: dropped when the front end lags.
fn droppable(event: &Event) -> bool {
    matches!(event, Event::Step(_) | Event::Flow(_))
}

/// The worker's side of the event channel: never blocks. When the front end
/// lags, step events are dropped (the run directory still has them); other
/// events wait in a local queue so none is lost.
struct Outbox {
    tx: SyncSender<Event>,
    backlog: std::collections::VecDeque<Event>,
    connected: bool,
    done: Arc<AtomicBool>,
}

impl Outbox {
    fn new(tx: SyncSender<Event>, done: Arc<AtomicBool>) -> Outbox {
        Outbox {
            tx,
            backlog: Default::default(),
            connected: true,
            done,
        }
    }

    fn send(&mut self, event: Event) {
        if !self.connected {
            return;
        }
        self.drain();
        if !self.backlog.is_empty() {
            if !droppable(&event) {
                self.backlog.push_back(event);
            }
            return;
        }
        match self.tx.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(e)) => {
                if !droppable(&e) {
                    self.backlog.push_back(e);
                }
            }
            Err(TrySendError::Disconnected(_)) => self.connected = false,
        }
    }

    fn drain(&mut self) {
        while let Some(e) = self.backlog.pop_front() {
            match self.tx.try_send(e) {
                Ok(()) => {}
                Err(TrySendError::Full(e)) => {
                    self.backlog.push_front(e);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.connected = false;
                    self.backlog.clear();
                    return;
                }
            }
        }
    }

    /// At the end of a run (everything on disk): delivers the backlog,
    /// waiting for the front end if it must, but not forever — a front end
    /// that stopped reading (its terminal gone) must not hold the run.
    fn finish(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + FINISH_WAIT;
        while let Some(mut e) = self.backlog.pop_front() {
            loop {
                match self.tx.try_send(e) {
                    Ok(()) => break,
                    Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                        e = back;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Note, NoteKind, StepStats};

    fn step(n: u64) -> Event {
        Event::Step(StepStats {
            step: n,
            epoch: 1,
            wall_s: 0.0,
            loss: 0.0,
            grad_norm: 0.0,
            lr: 0.0,
            samples_per_s: 0.0,
            group_norms: vec![],
        })
    }

    fn note(n: u64) -> Event {
        Event::Note(Note {
            step: n,
            wall_s: 0.0,
            kind: NoteKind::Tune,
            detail: String::new(),
        })
    }

    /// A full channel never blocks the worker: steps are dropped, notes wait.
    #[test]
    fn outbox_never_blocks_and_keeps_notes() {
        let (tx, rx) = mpsc::sync_channel(2);
        let mut out = Outbox::new(tx, Arc::new(AtomicBool::new(false)));
        for i in 0..10 {
            out.send(step(i));
        }
        out.send(note(100));
        out.send(step(11));
        out.send(note(101));
        let got: Vec<Event> = rx.try_iter().collect();
        assert_eq!(got, vec![step(0), step(1)]);
        out.send(step(12));
        out.finish();
        drop(out);
        let rest: Vec<Event> = rx.iter().collect();
        assert_eq!(rest, vec![note(100), note(101)]);
    }
}
