//! The vocabulary between the trainer and its sinks: plain-data events out,
//! commands in. No tensors cross this boundary.

use serde::{Deserialize, Serialize};

/// Something that happened in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Training is about to begin.
    Started(RunInfo),
    /// One optimisation step finished.
    Step(StepStats),
    /// An evaluation on the validation part finished.
    Eval(EvalStats),
    /// A discrete happening: pause, resume, tune, checkpoint, stop, finish, diverged.
    Note(Note),
    /// The run is over; no more events follow.
    Finished(Outcome),
}

/// Static facts about a run, sent once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub name: String,
    pub run_dir: String,
    /// The stack in one line, e.g. `lstm(64) → gru(32) → dense(1)`.
    pub model: String,
    pub parameters: usize,
    pub steps_per_epoch: u64,
    pub total_steps: u64,
    pub epochs: usize,
    /// Gradient-norm groups: `layers.0`, …, `head`.
    pub groups: Vec<String>,
}

/// Per-step figures (one row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    pub step: u64,
    pub epoch: usize,
    pub wall_s: f64,
    pub loss: f64,
    /// Global L2 norm of all gradients, before clipping.
    pub grad_norm: f64,
    pub lr: f64,
    pub samples_per_s: f64,
    /// L2 norm per group, in [`RunInfo::groups`] order.
    pub group_norms: Vec<f64>,
}

/// One evaluation (one row of `eval.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    pub step: u64,
    pub epoch: usize,
    pub wall_s: f64,
    /// Validation loss in the training objective's (scaled) units.
    pub valid_loss: f64,
    /// Task metrics in original units, e.g. `("mse", 0.002)`.
    pub metrics: Vec<(String, f64)>,
}

/// What kind of [`Note`] this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    Start,
    Pause,
    Resume,
    Tune,
    Checkpoint,
    Stop,
    Finish,
    Diverged,
    EarlyStop,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Start => "start",
            NoteKind::Pause => "pause",
            NoteKind::Resume => "resume",
            NoteKind::Tune => "tune",
            NoteKind::Checkpoint => "checkpoint",
            NoteKind::Stop => "stop",
            NoteKind::Finish => "finish",
            NoteKind::Diverged => "diverged",
            NoteKind::EarlyStop => "early_stop",
        }
    }
}

/// A discrete happening (one row of `events.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub step: u64,
    pub wall_s: f64,
    pub kind: NoteKind,
    pub detail: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Completed,
    Stopped,
    Diverged,
    Failed,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub steps: u64,
    pub message: Option<String>,
}

/// A request to the trainer, applied between steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    /// Set a live hyperparameter (`learning_rate`, `clip_grad_norm`, `eval_every`).
    Tune {
        key: String,
        value: f64,
    },
    Checkpoint,
    Stop,
}
