//! What the screen shows of a run, folded from its events: the run's state,
//! bounded curves, the latest evaluation, predictions and notes.

use std::collections::VecDeque;

use super::history::{Ema, History};
use crate::events::{
    EvalStats, Event, FlowStats, Note, NoteKind, Outcome, Predictions, RunInfo, Status, StepStats,
    Tunable,
};

/// Points kept per curve (min/max decimated beyond that).
const CURVE_CAPACITY: usize = 2048;
/// Notes kept for the events panel and the curve markers.
const NOTES_KEPT: usize = 200;
/// TensorBoard-style smoothing weight of the loss EMA.
const SMOOTHING: f64 = 0.9;

/// What the run is doing, as the header shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Starting,
    Running,
    Paused,
    /// Stop requested, waiting for the final checkpoint.
    Stopping,
    Finished,
    Stopped,
    Diverged,
    Failed,
}

impl RunState {
    pub fn label(self) -> &'static str {
        match self {
            RunState::Starting => "STARTING",
            RunState::Running => "RUNNING",
            RunState::Paused => "PAUSED",
            RunState::Stopping => "STOPPING",
            RunState::Finished => "FINISHED",
            RunState::Stopped => "STOPPED",
            RunState::Diverged => "DIVERGED",
            RunState::Failed => "FAILED",
        }
    }

    /// The run is over: no more events will come.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            RunState::Finished | RunState::Stopped | RunState::Diverged | RunState::Failed
        )
    }
}

/// Everything the screen shows; cloned to freeze the view.
#[derive(Clone)]
pub struct View {
    pub info: Option<RunInfo>,
    pub state: RunState,
    pub last: Option<StepStats>,
    pub loss: History,
    pub loss_smooth: History,
    ema: Ema,
    pub valid: History,
    pub last_eval: Option<EvalStats>,
    /// Best validation loss and its step.
    pub best: Option<(u64, f64)>,
    pub grads: Vec<History>,
    /// The latest gradient-flow snapshot.
    pub flow: Option<FlowStats>,
    /// Per-gate gradient norms over the flow snapshots, in the snapshot's gate order.
    pub gates: Vec<History>,
    pub predictions: Option<Predictions>,
    pub notes: VecDeque<Note>,
    pub learning_rate: f64,
    pub clip: f64,
    pub eval_every: u64,
    /// Text generation: the sampling temperature.
    pub temperature: Option<f64>,
    /// How the run ended, once it has.
    pub outcome: Option<Outcome>,
}

impl View {
    pub(super) fn new() -> View {
        View {
            info: None,
            state: RunState::Starting,
            last: None,
            loss: History::new(CURVE_CAPACITY),
            loss_smooth: History::new(CURVE_CAPACITY),
            ema: Ema::new(SMOOTHING),
            valid: History::new(CURVE_CAPACITY),
            last_eval: None,
            best: None,
            grads: Vec::new(),
            flow: None,
            gates: Vec::new(),
            predictions: None,
            notes: VecDeque::new(),
            learning_rate: 0.0,
            clip: 0.0,
            eval_every: 0,
            temperature: None,
            outcome: None,
        }
    }

    pub(super) fn on_event(&mut self, event: Event) {
        match event {
            Event::Started(info) => {
                self.grads = info
                    .groups
                    .iter()
                    .map(|_| History::new(CURVE_CAPACITY))
                    .collect();
                self.learning_rate = info.learning_rate;
                self.clip = info.clip_grad_norm;
                self.eval_every = info.eval_every;
                self.temperature = info.temperature;
                self.info = Some(info);
                if self.state == RunState::Starting {
                    self.state = RunState::Running;
                }
            }
            Event::Step(s) => {
                let x = s.step as f64;
                self.loss.push(x, s.loss);
                let smooth = self.ema.update(s.loss);
                self.loss_smooth.push(x, smooth);
                for (h, n) in self.grads.iter_mut().zip(&s.group_norms) {
                    h.push(x, *n);
                }
                self.learning_rate = s.lr;
                self.last = Some(s);
            }
            Event::Eval(e) => {
                self.valid.push(e.step as f64, e.valid_loss);
                if e.valid_loss.is_finite() && self.best.is_none_or(|(_, b)| e.valid_loss < b) {
                    self.best = Some((e.step, e.valid_loss));
                }
                self.last_eval = Some(e);
            }
            Event::Predictions(p) => self.predictions = Some(p),
            Event::Flow(fl) => {
                if self.gates.len() != fl.gates.len() {
                    self.gates = fl
                        .gates
                        .iter()
                        .map(|_| History::new(CURVE_CAPACITY))
                        .collect();
                }
                for (h, (_, n)) in self.gates.iter_mut().zip(&fl.gates) {
                    h.push(fl.step as f64, *n);
                }
                self.flow = Some(fl);
            }
            Event::Note(n) => {
                match n.kind {
                    NoteKind::Pause => self.state = RunState::Paused,
                    NoteKind::Resume => self.state = RunState::Running,
                    _ => {}
                }
                if let Some(change) = n.tune_change() {
                    let new = change.new;
                    match change.key {
                        Tunable::LearningRate => self.learning_rate = new,
                        Tunable::ClipGradNorm => self.clip = new,
                        Tunable::EvalEvery => self.eval_every = new as u64,
                        Tunable::Temperature => self.temperature = Some(new),
                    }
                }
                if self.notes.len() == NOTES_KEPT {
                    self.notes.pop_front();
                }
                self.notes.push_back(n);
            }
            Event::Finished(o) => {
                self.state = match o.status {
                    Status::Completed | Status::Running => RunState::Finished,
                    Status::Stopped => RunState::Stopped,
                    Status::Diverged => RunState::Diverged,
                    Status::Failed => RunState::Failed,
                };
                self.outcome = Some(o);
            }
        }
    }
}
