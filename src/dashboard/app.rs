//! Dashboard state: updated from the event stream and from keys; rendered by
//! `ui`. It never touches the trainer: it sends [`Command`]s.

use std::collections::VecDeque;

use super::history::{Ema, History};
use crate::events::{
    Command, EvalStats, Event, Note, NoteKind, Predictions, RunInfo, Status, StepStats,
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
    pub predictions: Option<Predictions>,
    pub notes: VecDeque<Note>,
    pub learning_rate: f64,
    pub clip: f64,
    pub eval_every: u64,
    /// The message the run ended with (divergence advice, error).
    pub outcome: Option<String>,
}

impl View {
    fn new() -> View {
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
            predictions: None,
            notes: VecDeque::new(),
            learning_rate: 0.0,
            clip: 0.0,
            eval_every: 0,
            outcome: None,
        }
    }

    fn on_event(&mut self, event: Event) {
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
            Event::Note(n) => {
                match n.kind {
                    NoteKind::Pause => self.state = RunState::Paused,
                    NoteKind::Resume => self.state = RunState::Running,
                    _ => {}
                }
                if let Some((key, _, new)) = n.tune_change() {
                    match key {
                        "learning_rate" => self.learning_rate = new,
                        "clip_grad_norm" => self.clip = new,
                        "eval_every" => self.eval_every = new as u64,
                        _ => {}
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
                self.outcome = o.message;
            }
        }
    }
}

/// A field of the tune form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuneField {
    LearningRate,
    ClipGradNorm,
    EvalEvery,
}

impl TuneField {
    pub const ALL: [TuneField; 3] = [
        TuneField::LearningRate,
        TuneField::ClipGradNorm,
        TuneField::EvalEvery,
    ];

    /// The hyperparameter's key, as in the experiment file.
    pub fn key(self) -> &'static str {
        match self {
            TuneField::LearningRate => "learning_rate",
            TuneField::ClipGradNorm => "clip_grad_norm",
            TuneField::EvalEvery => "eval_every",
        }
    }

    /// Parses and checks a typed value.
    pub fn parse(self, text: &str) -> Result<f64, String> {
        let v: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not a number", text.trim()))?;
        match self {
            TuneField::LearningRate if v.is_finite() && v > 0.0 => Ok(v),
            TuneField::LearningRate => Err("learning rate must be > 0".into()),
            TuneField::ClipGradNorm if v.is_finite() && v >= 0.0 => Ok(v),
            TuneField::ClipGradNorm => Err("clip norm must be ≥ 0 (0 = off)".into()),
            TuneField::EvalEvery if v >= 0.0 && v.fract() == 0.0 && v < 1e15 => Ok(v),
            TuneField::EvalEvery => {
                Err("eval interval must be a whole number ≥ 0 (0 = per epoch)".into())
            }
        }
    }
}

/// The tune form: the selected field, the text being typed, and any error.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneForm {
    pub field: usize,
    pub input: String,
    pub error: Option<String>,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Tune(TuneForm),
    ConfirmQuit,
}

/// Everything a key can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    TogglePause,
    OpenTune,
    Checkpoint,
    ToggleLossLog,
    ToggleGradLog,
    ToggleSmoothing,
    NextExample,
    PrevExample,
    ToggleFreeze,
    Help,
    Quit,
    /// Ctrl-C: stop without asking.
    ForceStop,
    Confirm,
    Cancel,
    Up,
    Down,
    Type(char),
    Backspace,
}

/// Display toggles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toggles {
    pub loss_log: bool,
    pub grad_log: bool,
    pub smoothing: bool,
}

/// The dashboard: live view, optional frozen copy, and UI state.
pub struct App {
    live: View,
    frozen: Option<Box<View>>,
    pub mode: Mode,
    pub toggles: Toggles,
    pub example: usize,
    /// A one-line message in the footer (e.g. "checkpoint requested").
    pub message: Option<String>,
    /// The user asked to leave; the loop exits once the run is over.
    pub quitting: bool,
    /// Commands can be sent (false for a recorded run).
    pub can_steer: bool,
}

impl App {
    pub fn new(can_steer: bool) -> App {
        App {
            live: View::new(),
            frozen: None,
            mode: Mode::Normal,
            toggles: Toggles {
                loss_log: true,
                grad_log: true,
                smoothing: true,
            },
            example: 0,
            message: None,
            quitting: false,
            can_steer,
        }
    }

    /// What to draw: the frozen copy while frozen, else the live view.
    pub fn view(&self) -> &View {
        self.frozen.as_deref().unwrap_or(&self.live)
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// The live run state (not the frozen one).
    pub fn state(&self) -> RunState {
        self.live.state
    }

    /// Folds one event into the live view.
    pub fn on_event(&mut self, event: Event) {
        self.live.on_event(event);
    }

    /// Whether the loop should end now.
    pub fn should_exit(&self) -> bool {
        self.quitting && (self.live.state.is_over() || !self.can_steer)
    }

    /// Applies an action; returns the command to send to the trainer, if any.
    pub fn apply(&mut self, action: Action) -> Option<Command> {
        match self.mode.clone() {
            Mode::Help => {
                self.mode = Mode::Normal;
                None
            }
            Mode::ConfirmQuit => match action {
                Action::Confirm | Action::Type('y') | Action::Type('Y') => {
                    self.mode = Mode::Normal;
                    self.stop()
                }
                Action::ForceStop => self.stop(),
                _ => {
                    self.mode = Mode::Normal;
                    None
                }
            },
            Mode::Tune(form) => self.apply_tune(form, action),
            Mode::Normal => self.apply_normal(action),
        }
    }

    fn stop(&mut self) -> Option<Command> {
        self.quitting = true;
        if self.live.state.is_over() || !self.can_steer {
            return None;
        }
        self.live.state = RunState::Stopping;
        self.message = Some("stopping: writing the final checkpoint…".into());
        Some(Command::Stop)
    }

    fn steer(&mut self, what: &str) -> bool {
        if !self.can_steer {
            self.message = Some(format!("{what}: this run cannot be steered from here"));
            return false;
        }
        if self.live.state.is_over() || self.live.state == RunState::Stopping {
            self.message = Some(format!("{what}: the run is over"));
            return false;
        }
        true
    }

    fn apply_normal(&mut self, action: Action) -> Option<Command> {
        self.message = None;
        match action {
            Action::TogglePause => {
                if !self.steer("pause") {
                    return None;
                }
                Some(if self.live.state == RunState::Paused {
                    Command::Resume
                } else {
                    Command::Pause
                })
            }
            Action::OpenTune => {
                if self.steer("tune") {
                    self.mode = Mode::Tune(self.tune_form(0));
                }
                None
            }
            Action::Checkpoint => {
                if !self.steer("checkpoint") {
                    return None;
                }
                self.message = Some("checkpoint requested".into());
                Some(Command::Checkpoint)
            }
            Action::ToggleLossLog => {
                self.toggles.loss_log = !self.toggles.loss_log;
                None
            }
            Action::ToggleGradLog => {
                self.toggles.grad_log = !self.toggles.grad_log;
                None
            }
            Action::ToggleSmoothing => {
                self.toggles.smoothing = !self.toggles.smoothing;
                None
            }
            Action::NextExample | Action::PrevExample => {
                let n = self
                    .view()
                    .predictions
                    .as_ref()
                    .map_or(0, |p| p.examples.len());
                if n > 0 {
                    self.example = if action == Action::NextExample {
                        (self.example + 1) % n
                    } else {
                        (self.example + n - 1) % n
                    };
                }
                None
            }
            Action::ToggleFreeze => {
                self.frozen = match self.frozen.take() {
                    Some(_) => None,
                    None => Some(Box::new(self.live.clone())),
                };
                None
            }
            Action::Help => {
                self.mode = Mode::Help;
                None
            }
            Action::Quit => {
                if self.live.state.is_over() || !self.can_steer {
                    self.quitting = true;
                } else {
                    self.mode = Mode::ConfirmQuit;
                }
                None
            }
            Action::ForceStop => self.stop(),
            _ => None,
        }
    }

    fn tune_form(&self, field: usize) -> TuneForm {
        let v = &self.live;
        let input = match TuneField::ALL[field] {
            TuneField::LearningRate => v.learning_rate.to_string(),
            TuneField::ClipGradNorm => v.clip.to_string(),
            TuneField::EvalEvery => v.eval_every.to_string(),
        };
        TuneForm {
            field,
            input,
            error: None,
        }
    }

    /// The current value of a tunable field, for the form.
    pub fn tune_value(&self, field: TuneField) -> String {
        let v = &self.live;
        match field {
            TuneField::LearningRate => format!("{}", v.learning_rate),
            TuneField::ClipGradNorm if v.clip == 0.0 => "0 (off)".into(),
            TuneField::ClipGradNorm => format!("{}", v.clip),
            TuneField::EvalEvery if v.eval_every == 0 => "0 (each epoch)".into(),
            TuneField::EvalEvery => format!("{}", v.eval_every),
        }
    }

    fn apply_tune(&mut self, mut form: TuneForm, action: Action) -> Option<Command> {
        let n = TuneField::ALL.len();
        match action {
            Action::Cancel | Action::ForceStop => {
                self.mode = Mode::Normal;
                if action == Action::ForceStop {
                    return self.stop();
                }
                return None;
            }
            Action::Up => form = self.tune_form((form.field + n - 1) % n),
            Action::Down => form = self.tune_form((form.field + 1) % n),
            Action::Backspace => {
                form.input.pop();
                form.error = None;
            }
            Action::Type(c) => {
                if form.input == self.tune_form(form.field).input && form.error.is_none() {
                    // Typing replaces the shown value, like a selected field.
                    form.input.clear();
                }
                form.input.push(c);
                form.error = None;
            }
            Action::Confirm => {
                let field = TuneField::ALL[form.field];
                match field.parse(&form.input) {
                    Ok(value) => {
                        self.mode = Mode::Normal;
                        if !self.steer("tune") {
                            return None;
                        }
                        self.message = Some(format!("{} → {value}", field.key()));
                        return Some(Command::Tune {
                            key: field.key().to_string(),
                            value,
                        });
                    }
                    Err(e) => form.error = Some(e),
                }
            }
            _ => {}
        }
        self.mode = Mode::Tune(form);
        None
    }
}
