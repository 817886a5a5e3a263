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
    /// A probabilistic forecast's outermost interval (absent for a point
    /// forecast and in runs recorded before intervals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Band>,
}

/// The bounds of a prediction interval, one per predicted value, in
/// original units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// The quantile levels of the lower and upper bounds, e.g. (0.1, 0.9).
    pub levels: (f64, f64),
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
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

/// A hyperparameter the trainer applies between steps: the one list that
/// the tune form, the trainer, the control socket and the replay reader use,
/// with one validation for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tunable {
    LearningRate,
    ClipGradNorm,
    EvalEvery,
    /// Text generation only: the sampling temperature.
    Temperature,
}

impl Tunable {
    /// Every tunable, in the tune form's order.
    pub const ALL: [Tunable; 4] = [
        Tunable::LearningRate,
        Tunable::ClipGradNorm,
        Tunable::EvalEvery,
        Tunable::Temperature,
    ];

    /// The key, as in the experiment file's `[train]` / `[task]` and on the wire.
    pub fn key(self) -> &'static str {
        match self {
            Tunable::LearningRate => "learning_rate",
            Tunable::ClipGradNorm => "clip_grad_norm",
            Tunable::EvalEvery => "eval_every",
            Tunable::Temperature => "temperature",
        }
    }

    /// A short name for narrow screens: `lr`, `clip`, `eval every`, `temp`.
    pub fn short(self) -> &'static str {
        match self {
            Tunable::LearningRate => "lr",
            Tunable::ClipGradNorm => "clip",
            Tunable::EvalEvery => "eval every",
            Tunable::Temperature => "temp",
        }
    }

    /// The tunable named `key`.
    pub fn from_key(key: &str) -> Option<Tunable> {
        Tunable::ALL.into_iter().find(|t| t.key() == key)
    }

    /// The keys, for messages: `learning_rate, clip_grad_norm, …`.
    pub fn keys() -> String {
        Tunable::ALL.map(Tunable::key).join(", ")
    }

    /// Checks a value: the same rule for the form and the trainer.
    pub fn check(self, v: f64) -> Result<f64, String> {
        match self {
            Tunable::LearningRate if v.is_finite() && v > 0.0 => Ok(v),
            Tunable::LearningRate => Err("learning rate must be > 0".into()),
            Tunable::ClipGradNorm if v.is_finite() && v >= 0.0 => Ok(v),
            Tunable::ClipGradNorm => Err("clip norm must be ≥ 0 (0 = off)".into()),
            // Whole numbers an f64 holds exactly.
            Tunable::EvalEvery if (0.0..=9.0e15).contains(&v) && v.fract() == 0.0 => Ok(v),
            Tunable::EvalEvery => {
                Err("eval interval must be a whole number ≥ 0 (0 = per epoch)".into())
            }
            Tunable::Temperature if v.is_finite() && v >= 0.0 => Ok(v),
            Tunable::Temperature => Err("temperature must be ≥ 0 (0 = likeliest)".into()),
        }
    }

    /// Parses and checks a typed value.
    pub fn parse(self, text: &str) -> Result<f64, String> {
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not a number", text.trim()))?;
        self.check(v)
    }

    /// A value as the form and the header show it (`0 (off)` for no clipping).
    pub fn show(self, v: f64) -> String {
        match self {
            Tunable::ClipGradNorm if v == 0.0 => "0 (off)".into(),
            Tunable::EvalEvery if v == 0.0 => "0 (each epoch)".into(),
            _ => format!("{v}"),
        }
    }
}

impl std::fmt::Display for Tunable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// A tune that took effect: the detail of its note, `learning_rate 0.001 → 0.0003`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TuneChange {
    pub key: Tunable,
    pub old: f64,
    pub new: f64,
}

impl std::fmt::Display for TuneChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} → {}", self.key, self.old, self.new)
    }
}

impl std::str::FromStr for TuneChange {
    type Err = ();

    /// Reads back what [`Display`](std::fmt::Display) wrote, also with a
    /// remark in parentheses after the new value (`… → 0.001 (the schedule
    /// continues from it)`); nothing else: a refused tune's note does not parse.
    fn from_str(detail: &str) -> Result<TuneChange, ()> {
        let (key, rest) = detail.split_once(' ').ok_or(())?;
        let (old, new) = rest.split_once(" → ").ok_or(())?;
        let new = new.split_once(" (").map_or(new, |(value, _)| value);
        Ok(TuneChange {
            key: Tunable::from_key(key).ok_or(())?,
            old: old.trim().parse().map_err(|_| ())?,
            new: new.trim().parse().map_err(|_| ())?,
        })
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
    /// A tune note's change, when the tune took effect.
    pub fn tune_change(&self) -> Option<TuneChange> {
        if self.kind != NoteKind::Tune {
            return None;
        }
        self.detail.parse().ok()
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

/// Where the trainer answers a command: `Ok(())`, or the reason it refused.
/// Equal to every other reply, so that commands compare by what they ask.
#[derive(Debug, Clone, Default)]
pub struct Reply(pub Option<std::sync::mpsc::Sender<Result<(), String>>>);

impl Reply {
    /// Sends the trainer's answer, if someone waits for it.
    pub fn send(&self, answer: Result<(), String>) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(answer);
        }
    }
}

impl PartialEq for Reply {
    fn eq(&self, _: &Reply) -> bool {
        true
    }
}

/// A request to the trainer, applied between steps.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    /// Set a live hyperparameter; the trainer answers on `reply`, if given,
    /// whether it applied the value and why not.
    Tune {
        key: Tunable,
        value: f64,
        reply: Reply,
    },
    Checkpoint,
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunables_check_values_alike_everywhere() {
        for t in Tunable::ALL {
            assert_eq!(Tunable::from_key(t.key()), Some(t));
            assert!(t.check(f64::NAN).is_err());
            assert!(t.check(-1.0).is_err());
        }
        assert!(Tunable::LearningRate.check(0.0).is_err());
        assert_eq!(Tunable::ClipGradNorm.check(0.0), Ok(0.0));
        assert!(Tunable::EvalEvery.check(2.5).is_err());
        assert!(Tunable::EvalEvery.check(1e20).is_err());
        assert_eq!(Tunable::EvalEvery.parse(" 100 "), Ok(100.0));
        assert!(
            Tunable::LearningRate
                .parse("fast")
                .unwrap_err()
                .contains("not a number")
        );
        assert_eq!(Tunable::ClipGradNorm.show(0.0), "0 (off)");
    }

    #[test]
    fn tune_notes_parse_back() {
        let note = |kind, detail: &str| Note {
            step: 3,
            wall_s: 1.0,
            kind,
            detail: detail.into(),
        };
        let n = note(NoteKind::Tune, "learning_rate 0.001 → 0.0003");
        let change = TuneChange {
            key: Tunable::LearningRate,
            old: 0.001,
            new: 0.0003,
        };
        assert_eq!(n.tune_change(), Some(change));
        assert_eq!(change.to_string(), n.detail);
        let remark = note(
            NoteKind::Tune,
            "learning_rate 0.001 → 0.0003 (the schedule continues from it)",
        );
        assert_eq!(remark.tune_change(), Some(change));
        assert_eq!(note(NoteKind::Tune, "momentum 1 → 2").tune_change(), None);
        assert_eq!(note(NoteKind::Tune, "refused x = 3").tune_change(), None);
        assert_eq!(note(NoteKind::Pause, "a 1 → 2").tune_change(), None);
    }
}
