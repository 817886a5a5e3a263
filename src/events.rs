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
    /// The model's predictions for a few fixed validation examples, after each evaluation.
    Predictions(Predictions),
    /// Gradients inside the recurrent layers, every `train.flow_every` steps.
    Flow(FlowStats),
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
    /// Live hyperparameters at the start (changed later by `tune` notes).
    pub learning_rate: f64,
    pub clip_grad_norm: f64,
    pub eval_every: u64,
    /// Forecast steps per prediction (1 for one-step and regression).
    pub horizon: usize,
    /// What a prediction is of, e.g. `sunspots`.
    pub target: String,
    /// Text generation: the sampling temperature at the start (tunable live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// Per-step figures (one row of `metrics.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    pub step: u64,
    pub epoch: usize,
    pub wall_s: f64,
    /// The loss and the norms are f32 values (the model's precision).
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

/// Where the gradient goes inside the recurrent layers at one step (one row
/// of `flow.csv`): the picture of vanishing gradients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowStats {
    pub step: u64,
    /// Per recurrent layer (`layers.0`, …): ‖∂L/∂h_t‖ for t = 0 … T-1 over the batch.
    pub time: Vec<(String, Vec<f64>)>,
    /// Per gate of each LSTM/GRU layer, e.g. `("layers.0.f", 0.02)`: the
    /// gradient norm of the gate's weights and biases, before clipping.
    pub gates: Vec<(String, f64)>,
}

/// Predictions at one evaluation, in original units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictions {
    pub step: u64,
    pub examples: Vec<Example>,
    /// Text tasks: classified sentences, or text sampled from the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<TextSample>,
}

/// Where a [`TextSample`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextKind {
    /// A validation sentence, with its true class.
    Valid,
    /// A probe sentence from the experiment (`task.probes`).
    Probe,
    /// Text generated from `task.prime`.
    Sample,
}

/// One sentence and the model's class for it, or one generated text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSample {
    pub kind: TextKind,
    /// The sentence; for a sample, the prime.
    pub text: String,
    /// The true class (validation sentences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<String>,
    /// The predicted class, or the generated continuation.
    pub predicted: String,
    /// The predicted class's probability (sentences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// The sampling temperature (samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// One validation example: the input window of the target series (empty when
/// the target is not an input), the true future and the model's prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Index in the validation part.
    pub index: usize,
    pub input: Vec<f64>,
    pub truth: Vec<f64>,
    pub prediction: Vec<f64>,
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

impl Note {
    /// A tune note's change: `("learning_rate", 0.001, 0.0003)` from `learning_rate 0.001 → 0.0003`.
    pub fn tune_change(&self) -> Option<(&str, f64, f64)> {
        if self.kind != NoteKind::Tune {
            return None;
        }
        let (key, rest) = self.detail.split_once(' ')?;
        let (old, new) = rest.split_once(" → ")?;
        Some((key, old.trim().parse().ok()?, new.trim().parse().ok()?))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tune_notes_parse_back() {
        let note = |kind, detail: &str| Note {
            step: 3,
            wall_s: 1.0,
            kind,
            detail: detail.into(),
        };
        let n = note(NoteKind::Tune, "learning_rate 0.001 → 0.0003");
        assert_eq!(n.tune_change(), Some(("learning_rate", 0.001, 0.0003)));
        assert_eq!(note(NoteKind::Tune, "refused x = 3").tune_change(), None);
        assert_eq!(note(NoteKind::Pause, "a 1 → 2").tune_change(), None);
    }
}
