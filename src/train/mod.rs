//! Training: the worker thread that owns the model, its loop, and the handle
//! the front ends use to read events and send commands.

mod eval;
mod optim;
mod schedule;
pub mod state;
pub mod text;
mod worker;

use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::thread::JoinHandle;

pub use eval::{Evaluation, evaluate, examples, forecast};
pub use optim::Optimizer;
pub use schedule::Schedule;
pub use worker::Resume;

use crate::data::Dataset;
use crate::events::{Command, Event, Outcome};
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::{RunDir, RunError};

/// Events buffered between the worker and a front end before step events are dropped.
const CHANNEL_CAPACITY: usize = 4096;

/// A running trainer: its event stream, its command channel, its thread.
pub struct Handle {
    pub events: Receiver<Event>,
    pub commands: Sender<Command>,
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
}

impl crate::error::Failure for TrainError {
    fn kind(&self) -> crate::error::Kind {
        match self {
            TrainError::Run(e) => e.kind(),
            TrainError::Panicked(_) => crate::error::Kind::Failure,
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
) -> Handle {
    let (tx, events) = mpsc::sync_channel(CHANNEL_CAPACITY);
    let (commands, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("rnnlab-trainer".into())
        .spawn(move || {
            worker::Worker::new(exp, data, model, run, Outbox::new(tx), rx, resume).run()
        })
        .expect("spawning the trainer thread");
    Handle {
        events,
        commands,
        thread,
    }
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
}

impl Outbox {
    fn new(tx: SyncSender<Event>) -> Outbox {
        Outbox {
            tx,
            backlog: Default::default(),
            connected: true,
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

    /// At the end of a run: delivers the backlog, waiting for the front end if it must.
    fn finish(&mut self) {
        while let Some(e) = self.backlog.pop_front() {
            if self.tx.send(e).is_err() {
                break;
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
        let mut out = Outbox::new(tx);
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
