//! Dashboard state: updated from the event stream and from keys; rendered by
//! `ui`. It never touches the trainer: it sends [`Command`]s.
//!
//! One [`App`] serves the three uses; its [`Feed`] says where the events come
//! from — this process's trainer, a followed run directory, or a recording
//! played back — and so what the keys do.

use std::time::Duration;

use super::playback::Playback;
pub use super::tune::TuneForm;
pub use super::view::{Baseline, RunState, View};
use crate::events::{Command, Event, Outcome};
use crate::run::read::Recorded;

/// Smoothing weights `[` and `]` step through (TensorBoard-style EMA).
pub const SMOOTHING: [f64; 6] = [0.5, 0.8, 0.9, 0.95, 0.98, 0.99];
/// The default smoothing, an index into [`SMOOTHING`] (0.9).
const DEFAULT_SMOOTHING: usize = 2;

/// The go-to-step form of a replay: the digits typed, and any error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GoToForm {
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
    GoTo(GoToForm),
}

/// Where the events come from.
pub enum Feed {
    /// This process trains the run: `q` asks to stop it.
    Training,
    /// A run followed from its directory: `q` detaches and leaves it running, `Q` asks to stop it.
    Attached,
    /// A recorded run played back.
    Replay(Box<Playback>),
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
    /// Less / more smoothing of the training loss.
    SmoothLess,
    SmoothMore,
    /// Loss panel: loss → validation metrics → learning rate.
    CycleLossView,
    /// Log-scale x axis.
    ToggleLogX,
    /// Wall-clock time on the x axis instead of steps.
    ToggleWallX,
    /// Gradient panel: layers over steps → through time → gates.
    CycleGrads,
    NextExample,
    PrevExample,
    ToggleFreeze,
    Help,
    Quit,
    /// Ctrl-C: stop without asking (detach when attached).
    ForceStop,
    /// Attached: ask to stop the run (`Q`).
    StopRun,
    /// Replay: speed up / slow down.
    Faster,
    Slower,
    /// Replay: one step back / forward, a tenth of the run back / forward, to the start / end.
    StepBack,
    StepForward,
    JumpBack,
    JumpForward,
    Start,
    End,
    /// Replay: open the go-to-step form.
    OpenGoTo,
    Confirm,
    Cancel,
    Up,
    Down,
    Type(char),
    Backspace,
    /// Ctrl-U in a form: clear the field.
    ClearField,
}

/// Display toggles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Toggles {
    pub loss_log: bool,
    pub grad_log: bool,
    pub smoothing: bool,
    /// The smoothing weight, an index into [`SMOOTHING`].
    pub smooth: usize,
    pub grads: GradView,
    pub loss_view: LossView,
    pub log_x: bool,
    pub wall_x: bool,
}

impl Toggles {
    /// The smoothing weight in use, `None` when smoothing is off.
    pub fn smoothing_weight(&self) -> Option<f64> {
        self.smoothing
            .then(|| SMOOTHING[self.smooth.min(SMOOTHING.len() - 1)])
    }
}

/// What the loss panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossView {
    /// Training and validation loss (the objective's scaled units).
    Loss,
    /// The `i`-th validation metric in original units ([`View::metric_names`]).
    Metric(usize),
    /// The learning rate over the steps.
    Rate,
}

/// What the gradient panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradView {
    /// Each layer's gradient norm over the steps.
    Layers,
    /// ‖∂L/∂h_t‖ over the time steps of the window, per layer, at the latest snapshot.
    Time,
    /// Each LSTM/GRU gate's gradient norm over the steps.
    Gates,
}

impl GradView {
    /// The next view; `Gates` only when the model has gates.
    pub fn next(self, has_gates: bool) -> GradView {
        match self {
            GradView::Layers => GradView::Time,
            GradView::Time if has_gates => GradView::Gates,
            _ => GradView::Layers,
        }
    }
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
    /// The user left an attached run running.
    pub detached: bool,
    /// No more events will come (the trainer's channel closed).
    pub disconnected: bool,
    /// Commands can be sent (false for a recorded run).
    pub can_steer: bool,
    /// The test result once the run is over ([`crate::frontend::test_result`]).
    pub result: Vec<(String, f64)>,
    pub feed: Feed,
}

impl App {
    /// The dashboard of a run this process trains.
    pub fn new(can_steer: bool) -> App {
        App::with_feed(Feed::Training, can_steer)
    }

    /// The dashboard of a run followed from its directory.
    pub fn attached(can_steer: bool) -> App {
        App::with_feed(Feed::Attached, can_steer)
    }

    /// The dashboard of a recorded run, showing its end, paused.
    pub fn replay(recorded: Recorded) -> App {
        let mut live = View::new();
        let mut playback = Playback::new(recorded, &mut live);
        playback.seek(&mut live, usize::MAX);
        let unfinished = playback.recorded().outcome.is_none();
        App {
            live,
            message: unfinished
                .then(|| "the run did not finish (still running, or killed)".to_string()),
            ..App::with_feed(Feed::Replay(Box::new(playback)), false)
        }
    }

    fn with_feed(feed: Feed, can_steer: bool) -> App {
        App {
            live: View::new(),
            frozen: None,
            mode: Mode::Normal,
            toggles: Toggles {
                loss_log: true,
                grad_log: true,
                smoothing: true,
                smooth: DEFAULT_SMOOTHING,
                grads: GradView::Layers,
                loss_view: LossView::Loss,
                log_x: false,
                wall_x: false,
            },
            example: 0,
            message: None,
            quitting: false,
            detached: false,
            disconnected: false,
            can_steer,
            result: Vec::new(),
            feed,
        }
    }

    /// The playback, when replaying.
    pub fn playback(&self) -> Option<&Playback> {
        match &self.feed {
            Feed::Replay(p) => Some(p),
            _ => None,
        }
    }

    /// Moves a playing replay on by `dt`; returns whether the view changed.
    pub fn advance(&mut self, dt: Duration) -> bool {
        match &mut self.feed {
            Feed::Replay(p) => p.tick(&mut self.live, dt),
            _ => false,
        }
    }

    /// Notes that no more events will come.
    pub fn disconnect(&mut self) {
        if !self.disconnected && !self.live.state.is_over() {
            self.message = Some("the event stream ended".into());
        }
        self.disconnected = true;
    }

    /// What to draw: the frozen copy while frozen, else the live view.
    pub fn view(&self) -> &View {
        self.frozen.as_deref().unwrap_or(&self.live)
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// The live view (not the frozen one).
    pub(super) fn live_view(&self) -> &View {
        &self.live
    }

    /// The live run state (not the frozen one).
    pub fn state(&self) -> RunState {
        self.live.state
    }

    /// How the run ended, once it has (live, not frozen).
    pub fn outcome(&self) -> Option<&Outcome> {
        self.live.outcome.as_ref()
    }

    /// Folds one event into the live view. A message about what was asked
    /// gives way to what happened: the checkpoint's name once it is written,
    /// nothing once the run is over.
    pub fn on_event(&mut self, event: Event) {
        let saved = match &event {
            Event::Note(n) if n.kind == crate::events::NoteKind::Checkpoint => {
                Some(n.detail.clone())
            }
            _ => None,
        };
        let over = matches!(event, Event::Finished(_));
        self.live.on_event(event);
        if let Some(name) = saved
            && self.message.as_deref() == Some("checkpoint requested")
        {
            self.message = Some(format!("checkpoint saved: {name}"));
        }
        if over {
            self.message = None;
        }
    }

    /// Sets the reference scores the curves are drawn against (from the
    /// run's `summary.json`; see [`crate::frontend::baselines`]).
    pub fn set_baselines(&mut self, baselines: Vec<Baseline>) {
        self.live.baselines = baselines.clone();
        if let Some(frozen) = &mut self.frozen {
            frozen.baselines = baselines;
        }
    }

    /// Reads the test result from the run's directory (once it is over).
    pub fn load_result(&mut self) {
        if let Some(info) = &self.live.info {
            self.result = crate::frontend::test_result(std::path::Path::new(&info.run_dir));
        }
    }

    /// Whether the keys that steer the run (pause, tune, checkpoint) can do
    /// anything now.
    pub fn can_act(&self) -> bool {
        self.can_steer
            && !matches!(self.feed, Feed::Replay(_))
            && !self.live.state.is_over()
            && self.live.state != RunState::Stopping
            && !self.disconnected
    }

    /// Whether the loop should end now.
    pub fn should_exit(&self) -> bool {
        self.detached
            || self.quitting && (self.live.state.is_over() || !self.can_steer || self.disconnected)
    }

    /// Applies an action; returns the commands to send to the trainer, in
    /// order (several when the tune form applies several fields).
    pub fn apply(&mut self, action: Action) -> Vec<Command> {
        if action == Action::ForceStop && !matches!(self.feed, Feed::Training) {
            // Ctrl-C leaves a replay, and leaves an attached run running.
            self.mode = Mode::Normal;
            return self.apply_normal(Action::Quit).into_iter().collect();
        }
        match self.mode.clone() {
            Mode::Help => {
                self.mode = Mode::Normal;
                Vec::new()
            }
            Mode::ConfirmQuit => match action {
                Action::Confirm | Action::Type('y') | Action::Type('Y') => {
                    self.mode = Mode::Normal;
                    self.stop().into_iter().collect()
                }
                Action::ForceStop => self.stop().into_iter().collect(),
                _ => {
                    self.mode = Mode::Normal;
                    Vec::new()
                }
            },
            Mode::Tune(form) => self.apply_tune(form, action),
            Mode::GoTo(form) => {
                self.apply_go_to(form, action);
                Vec::new()
            }
            Mode::Normal => match self.feed {
                Feed::Replay(_) => {
                    self.apply_replay(action);
                    Vec::new()
                }
                _ => self.apply_normal(action).into_iter().collect(),
            },
        }
    }

    pub(super) fn stop(&mut self) -> Option<Command> {
        self.quitting = true;
        if self.live.state.is_over() || !self.can_steer {
            return None;
        }
        self.live.state = RunState::Stopping;
        self.message = Some("stopping: writing the final checkpoint…".into());
        Some(Command::Stop)
    }

    pub(super) fn steer(&mut self, what: &str) -> bool {
        if matches!(self.feed, Feed::Replay(_)) {
            self.message = Some(format!("{what}: this is a recording"));
            return false;
        }
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
                self.live.request_checkpoint();
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
            Action::CycleGrads => {
                let has_gates = self
                    .view()
                    .flow
                    .as_ref()
                    .is_some_and(|f| !f.gates.is_empty());
                self.toggles.grads = self.toggles.grads.next(has_gates);
                None
            }
            Action::ToggleSmoothing => {
                self.toggles.smoothing = !self.toggles.smoothing;
                None
            }
            Action::SmoothLess | Action::SmoothMore => {
                let t = &mut self.toggles;
                if t.smoothing {
                    t.smooth = match action {
                        Action::SmoothLess => t.smooth.saturating_sub(1),
                        _ => (t.smooth + 1).min(SMOOTHING.len() - 1),
                    };
                }
                t.smoothing = true;
                None
            }
            Action::CycleLossView => {
                let n = self.view().metric_names().len();
                self.toggles.loss_view = match self.toggles.loss_view {
                    LossView::Loss if n > 0 => LossView::Metric(0),
                    LossView::Loss => LossView::Rate,
                    LossView::Metric(i) if i + 1 < n => LossView::Metric(i + 1),
                    LossView::Metric(_) => LossView::Rate,
                    LossView::Rate => LossView::Loss,
                };
                None
            }
            Action::ToggleLogX => {
                self.toggles.log_x = !self.toggles.log_x;
                None
            }
            Action::ToggleWallX => {
                self.toggles.wall_x = !self.toggles.wall_x;
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
            Action::Quit if matches!(self.feed, Feed::Attached) => {
                self.detached = !self.live.state.is_over();
                self.quitting = true;
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
            Action::StopRun => {
                if self.steer("stop") {
                    self.mode = Mode::ConfirmQuit;
                }
                None
            }
            Action::ForceStop => self.stop(),
            _ => None,
        }
    }

    fn apply_replay(&mut self, action: Action) {
        self.message = None;
        let Feed::Replay(p) = &mut self.feed else {
            return;
        };
        let view = &mut self.live;
        let (at, tenth) = (p.position(), p.len().div_ceil(10).max(1));
        match action {
            Action::TogglePause => p.toggle(view),
            Action::Faster => p.faster(),
            Action::Slower => p.slower(),
            Action::StepBack | Action::StepForward => {
                p.pause();
                let to = match action {
                    Action::StepBack => at.saturating_sub(1),
                    _ => at + 1,
                };
                p.seek(view, to);
            }
            Action::JumpBack => p.seek(view, at.saturating_sub(tenth)),
            Action::JumpForward => p.seek(view, at + tenth),
            Action::Start => p.seek(view, 0),
            Action::End => p.seek(view, usize::MAX),
            Action::OpenGoTo => self.mode = Mode::GoTo(GoToForm::default()),
            other => {
                self.apply_normal(other);
            }
        }
    }

    fn apply_go_to(&mut self, mut form: GoToForm, action: Action) {
        match action {
            Action::Cancel => {
                self.mode = Mode::Normal;
                return;
            }
            Action::Backspace => {
                form.input.pop();
                form.error = None;
            }
            Action::Type(c) if c.is_ascii_digit() => {
                form.input.push(c);
                form.error = None;
            }
            Action::Type(c) => form.error = Some(format!("`{c}`: a step is a whole number")),
            Action::ClearField => {
                form.input.clear();
                form.error = None;
            }
            Action::Confirm => match (form.input.parse::<u64>(), &mut self.feed) {
                (Ok(step), Feed::Replay(p)) => {
                    p.pause();
                    let to = p.recorded().rows_through(step);
                    p.seek(&mut self.live, to);
                    self.mode = Mode::Normal;
                    return;
                }
                _ => form.error = Some("type a step number".into()),
            },
            _ => {}
        }
        self.mode = Mode::GoTo(form);
    }
}
