//! What the screen shows of a run, folded from its events: the run's state,
//! bounded curves, the latest evaluation, predictions, the marks of what the
//! user did and the events log.

use std::collections::VecDeque;

use super::history::History;
use crate::events::{
    EvalStats, Event, FlowStats, Note, NoteKind, Outcome, Predictions, RunInfo, Status, StepStats,
    Tunable,
};

/// Points kept per curve (min/max decimated beyond that).
const CURVE_CAPACITY: usize = 2048;
/// Entries kept for the events panel.
const LOG_KEPT: usize = 200;
/// User actions kept for the markers on the step axis (the oldest go first;
/// periodic checkpoints are not marked, so a long run keeps its early ones).
const MARKS_KEPT: usize = 2000;

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

/// Something the user did to the run, marked on the step axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Tune,
    Pause,
    /// Resumed after a pause, or `rnnlab resume` from a checkpoint.
    Resume,
    /// A checkpoint asked for (`c`), not a periodic one.
    Checkpoint,
    Stop,
}

impl MarkKind {
    /// Every kind, in legend order.
    pub const ALL: [MarkKind; 5] = [
        MarkKind::Tune,
        MarkKind::Pause,
        MarkKind::Resume,
        MarkKind::Checkpoint,
        MarkKind::Stop,
    ];

    /// The glyph on the axis and in the events panel, and its ASCII stand-in.
    pub fn glyphs(self) -> (char, char) {
        match self {
            MarkKind::Tune => ('▲', 'T'),
            MarkKind::Pause => ('‖', 'P'),
            MarkKind::Resume => ('▶', 'R'),
            MarkKind::Checkpoint => ('◇', 'C'),
            MarkKind::Stop => ('■', 'S'),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MarkKind::Tune => "tune",
            MarkKind::Pause => "pause",
            MarkKind::Resume => "resume",
            MarkKind::Checkpoint => "checkpoint",
            MarkKind::Stop => "stop",
        }
    }
}

/// One user action on the axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    pub step: u64,
    pub wall_s: f64,
    pub kind: MarkKind,
}

/// What a line of the events panel is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Start,
    /// A user action (also marked on the axis).
    Action(MarkKind),
    /// A refused tune, a plateau of the schedule: worth reading, not an action.
    Warning,
    /// The latest periodic checkpoint, and how many were saved so far (one
    /// line that moves down as they come).
    Saved(u64),
    /// The latest evaluation with a new best validation loss (one line too).
    Best,
    Finish,
    Diverged,
    EarlyStop,
}

/// One line of the events panel: `detail` is the note's text (for `Best`,
/// the validation loss and metrics are in the view).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub step: u64,
    pub wall_s: f64,
    pub kind: EntryKind,
    pub detail: String,
}

/// A reference predictor's validation scores in original units (naive,
/// seasonal naive, mean), as `summary.json` records them.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub name: String,
    pub valid: Vec<(String, f64)>,
}

/// Everything the screen shows; cloned to freeze the view.
#[derive(Clone)]
pub struct View {
    pub info: Option<RunInfo>,
    pub state: RunState,
    pub last: Option<StepStats>,
    /// Training loss per step (smoothed when drawn).
    pub loss: History,
    pub valid: History,
    /// Validation metrics in original units, by name, in first-seen order.
    pub metrics: Vec<(String, History)>,
    /// The learning rate per step.
    pub lr: History,
    /// Wall-clock seconds per step (for a time axis).
    pub clock: History,
    pub last_eval: Option<EvalStats>,
    /// Best validation loss and its step.
    pub best: Option<(u64, f64)>,
    /// The evaluation with the best validation loss.
    pub best_eval: Option<EvalStats>,
    pub grads: Vec<History>,
    /// The latest gradient-flow snapshot.
    pub flow: Option<FlowStats>,
    /// Per-gate gradient norms over the flow snapshots, in the snapshot's gate order.
    pub gates: Vec<History>,
    pub predictions: Option<Predictions>,
    /// User actions, for the axis markers.
    pub marks: VecDeque<Mark>,
    /// The events panel's lines, oldest first.
    pub log: VecDeque<Entry>,
    /// Checkpoints written so far.
    pub checkpoints: u64,
    /// Checkpoints this dashboard asked for and not yet seen.
    pub requested_checkpoints: u32,
    /// Reference scores to draw the curves against (empty when unknown).
    pub baselines: Vec<Baseline>,
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
            valid: History::new(CURVE_CAPACITY),
            metrics: Vec::new(),
            lr: History::new(CURVE_CAPACITY),
            clock: History::new(CURVE_CAPACITY),
            last_eval: None,
            best: None,
            best_eval: None,
            grads: Vec::new(),
            flow: None,
            gates: Vec::new(),
            predictions: None,
            marks: VecDeque::new(),
            log: VecDeque::new(),
            checkpoints: 0,
            requested_checkpoints: 0,
            baselines: Vec::new(),
            learning_rate: 0.0,
            clip: 0.0,
            eval_every: 0,
            temperature: None,
            outcome: None,
        }
    }

    /// The validation metrics a curve can show: every metric of the latest
    /// evaluation except the baselines recorded beside them
    /// (`majority_accuracy`, `unigram_bits_per_char`).
    pub fn metric_names(&self) -> Vec<&str> {
        self.metrics
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| baseline_of(k).is_none())
            .collect()
    }

    /// The history of metric `name`.
    pub fn metric(&self, name: &str) -> Option<&History> {
        self.metrics.iter().find(|(k, _)| k == name).map(|(_, h)| h)
    }

    /// The reference values comparable with metric `name`, in its units:
    /// the baselines of `summary.json` (for `last_…` metrics of seq2seq, the
    /// baseline of the metric without the prefix, since baselines forecast
    /// after the whole window), or the baseline the evaluation reports beside
    /// it (`majority_accuracy` for `accuracy`, …).
    pub fn references(&self, name: &str) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        if let Some(e) = &self.last_eval {
            for (k, v) in &e.metrics {
                if baseline_of(k) == Some(name) {
                    let label = k.split('_').next().unwrap_or(k);
                    out.push((label.to_string(), *v));
                }
            }
        }
        let seq2seq = self.metrics.iter().any(|(k, _)| k.starts_with("last_"));
        let key = match name.strip_prefix("last_") {
            Some(k) => k,
            None if seq2seq => return out,
            None => name,
        };
        for b in &self.baselines {
            if let Some((_, v)) = b.valid.iter().find(|(k, _)| k == key) {
                out.push((b.name.clone(), *v));
            }
        }
        out
    }

    /// The reference values comparable with the validation loss (its units):
    /// the unigram model's bits per character in nats for text generation;
    /// for forecasts, the baselines' MSE scaled like the loss when every
    /// evaluation so far had the same loss / MSE ratio (a linear scaling).
    pub fn loss_references(&self) -> Vec<(String, f64)> {
        let Some(e) = &self.last_eval else {
            return Vec::new();
        };
        let get = |k: &str| e.metrics.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
        if let (Some(bpc), Some(unigram)) = (get("bits_per_char"), get("unigram_bits_per_char")) {
            // The loss is the cross-entropy in nats.
            return if (e.valid_loss - bpc * std::f64::consts::LN_2).abs()
                <= 1e-6 * e.valid_loss.abs().max(1e-12)
            {
                vec![("unigram".into(), unigram * std::f64::consts::LN_2)]
            } else {
                Vec::new()
            };
        }
        let Some(mse) = self.metric("mse").filter(|_| get("last_mse").is_none()) else {
            return Vec::new();
        };
        let ratios: Vec<f64> = self
            .valid
            .points()
            .iter()
            .zip(mse.points())
            .filter(|((_, l), (_, m))| *m > 0.0 && *l > 0.0)
            .map(|((_, l), (_, m))| l / m)
            .collect();
        let Some(&first) = ratios.first() else {
            return Vec::new();
        };
        let linear = ratios.len() >= 2 && ratios.iter().all(|r| (r / first - 1.0).abs() < 1e-4);
        if !linear {
            return Vec::new();
        }
        self.baselines
            .iter()
            .filter_map(|b| {
                let (_, v) = b.valid.iter().find(|(k, _)| k == "mse")?;
                Some((b.name.clone(), v * first))
            })
            .collect()
    }

    /// Notes that this dashboard asked for a checkpoint: the next one is the user's.
    pub(super) fn request_checkpoint(&mut self) {
        self.requested_checkpoints = self.requested_checkpoints.saturating_add(1);
    }

    fn mark(&mut self, n: &Note, kind: MarkKind) {
        if self.marks.len() == MARKS_KEPT {
            self.marks.pop_front();
        }
        self.marks.push_back(Mark {
            step: n.step,
            wall_s: n.wall_s,
            kind,
        });
    }

    /// Adds a line to the events panel; a `Saved` or `Best` line replaces
    /// the previous one of its kind, so they never crowd the others out.
    fn log(&mut self, step: u64, wall_s: f64, kind: EntryKind, detail: String) {
        let same = |e: &Entry| {
            matches!(
                (e.kind, kind),
                (EntryKind::Saved(_), EntryKind::Saved(_)) | (EntryKind::Best, EntryKind::Best)
            )
        };
        if let Some(i) = self.log.iter().rposition(same) {
            self.log.remove(i);
        }
        if self.log.len() == LOG_KEPT {
            self.log.pop_front();
        }
        self.log.push_back(Entry {
            step,
            wall_s,
            kind,
            detail,
        });
    }

    fn on_note(&mut self, n: Note) {
        match n.kind {
            NoteKind::Pause => self.state = RunState::Paused,
            NoteKind::Resume => self.state = RunState::Running,
            _ => {}
        }
        let change = n.tune_change();
        if let Some(change) = change {
            let new = change.new;
            match change.key {
                Tunable::LearningRate => self.learning_rate = new,
                Tunable::ClipGradNorm => self.clip = new,
                Tunable::EvalEvery => self.eval_every = new as u64,
                Tunable::Temperature => self.temperature = Some(new),
            }
        }
        let (step, wall, detail) = (n.step, n.wall_s, n.detail.clone());
        let action = |view: &mut View, kind: MarkKind| {
            view.mark(&n, kind);
            view.log(step, wall, EntryKind::Action(kind), detail.clone());
        };
        match n.kind {
            NoteKind::Start => self.log(step, wall, EntryKind::Start, detail),
            NoteKind::Pause => action(self, MarkKind::Pause),
            NoteKind::Resume if detail.is_empty() => {
                // A pause and its resume take one line: `resumed after 0:12`.
                self.mark(&n, MarkKind::Resume);
                let paused = self
                    .log
                    .back()
                    .filter(|e| e.kind == EntryKind::Action(MarkKind::Pause))
                    .map(|e| e.wall_s);
                let detail = match paused {
                    Some(at) => {
                        self.log.pop_back();
                        format!("after {}", crate::fmt::clock(wall - at))
                    }
                    None => String::new(),
                };
                self.log(step, wall, EntryKind::Action(MarkKind::Resume), detail);
            }
            NoteKind::Resume => action(self, MarkKind::Resume),
            NoteKind::Tune if change.is_some() => action(self, MarkKind::Tune),
            NoteKind::Tune => self.log(step, wall, EntryKind::Warning, detail),
            NoteKind::Checkpoint => {
                self.checkpoints += 1;
                // The trainer marks the user's checkpoints (`c`) "(requested)".
                let asked = detail.contains("(requested)");
                self.requested_checkpoints =
                    self.requested_checkpoints.saturating_sub(u32::from(asked));
                if asked {
                    action(self, MarkKind::Checkpoint);
                } else {
                    self.log(step, wall, EntryKind::Saved(self.checkpoints), detail);
                }
            }
            NoteKind::Stop => action(self, MarkKind::Stop),
            NoteKind::Finish => self.log(step, wall, EntryKind::Finish, detail),
            NoteKind::Diverged => self.log(step, wall, EntryKind::Diverged, detail),
            NoteKind::EarlyStop => self.log(step, wall, EntryKind::EarlyStop, detail),
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
                self.lr.push(x, s.lr);
                self.clock.push(x, s.wall_s);
                for (h, n) in self.grads.iter_mut().zip(&s.group_norms) {
                    h.push(x, *n);
                }
                self.learning_rate = s.lr;
                self.last = Some(s);
            }
            Event::Eval(e) => {
                let x = e.step as f64;
                self.valid.push(x, e.valid_loss);
                for (k, v) in &e.metrics {
                    match self.metrics.iter_mut().find(|(n, _)| n == k) {
                        Some((_, h)) => h.push(x, *v),
                        None => {
                            let mut h = History::new(CURVE_CAPACITY);
                            h.push(x, *v);
                            self.metrics.push((k.clone(), h));
                        }
                    }
                }
                if e.valid_loss.is_finite() && self.best.is_none_or(|(_, b)| e.valid_loss < b) {
                    self.best = Some((e.step, e.valid_loss));
                    self.best_eval = Some(e.clone());
                    self.log(e.step, e.wall_s, EntryKind::Best, String::new());
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
            Event::Note(n) => self.on_note(n),
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

/// The metric a baseline key stands beside: `majority_accuracy` → `accuracy`,
/// `unigram_bits_per_char` → `bits_per_char`.
pub fn baseline_of(key: &str) -> Option<&str> {
    key.strip_prefix("majority_")
        .or_else(|| key.strip_prefix("unigram_"))
}

/// `points` with x mapped from steps to wall-clock seconds through `clock`
/// (step, seconds), interpolated; both ascending in x.
pub fn to_wall(points: &[(f64, f64)], clock: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let Some(&first) = clock.first() else {
        return Vec::new();
    };
    let mut i = 0;
    points
        .iter()
        .map(|&(x, y)| {
            while i + 1 < clock.len() && clock[i + 1].0 <= x {
                i += 1;
            }
            let (x0, t0) = clock[i];
            let t = match clock.get(i + 1) {
                Some(&(x1, t1)) if x1 > x0 && x >= x0 => t0 + (t1 - t0) * (x - x0) / (x1 - x0),
                _ if x < first.0 => first.1 * (x / first.0.max(1.0)).max(0.0),
                _ => t0,
            };
            (t, y)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(step: u64, kind: NoteKind, detail: &str) -> Event {
        Event::Note(Note {
            step,
            wall_s: step as f64,
            kind,
            detail: detail.into(),
        })
    }

    #[test]
    fn periodic_checkpoints_take_one_line_and_no_marker() {
        let mut v = View::new();
        v.on_event(note(0, NoteKind::Start, "gru"));
        for step in 1..=500 {
            v.on_event(note(
                step,
                NoteKind::Checkpoint,
                &format!("step-{step}.safetensors"),
            ));
            if step == 3 {
                v.on_event(note(3, NoteKind::Tune, "learning_rate 0.1 → 0.01"));
            }
        }
        // The trainer marks the user's checkpoint.
        v.request_checkpoint();
        v.on_event(note(
            501,
            NoteKind::Checkpoint,
            "step-501.safetensors (requested)",
        ));
        let kinds: Vec<EntryKind> = v.log.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EntryKind::Start,
                EntryKind::Action(MarkKind::Tune),
                EntryKind::Saved(500),
                EntryKind::Action(MarkKind::Checkpoint),
            ]
        );
        let marks: Vec<(u64, MarkKind)> = v.marks.iter().map(|m| (m.step, m.kind)).collect();
        assert_eq!(marks, [(3, MarkKind::Tune), (501, MarkKind::Checkpoint)]);
        assert_eq!(v.checkpoints, 501);
    }

    #[test]
    fn wall_time_is_interpolated_between_kept_steps() {
        let clock = [(1.0, 0.5), (3.0, 1.5), (4.0, 10.0)];
        let pts = [(0.0, 9.0), (1.0, 1.0), (2.0, 2.0), (4.0, 4.0), (5.0, 5.0)];
        assert_eq!(
            to_wall(&pts, &clock),
            vec![(0.0, 9.0), (0.5, 1.0), (1.0, 2.0), (10.0, 4.0), (10.0, 5.0)]
        );
        assert_eq!(to_wall(&pts, &[]), vec![]);
    }

    fn eval(step: u64, loss: f64, mse: f64) -> Event {
        Event::Eval(EvalStats {
            step,
            epoch: 1,
            wall_s: 1.0,
            valid_loss: loss,
            metrics: vec![("mse".into(), mse), ("rmse".into(), mse.sqrt())],
        })
    }

    #[test]
    fn baselines_are_drawn_where_comparable() {
        let mut v = View::new();
        v.baselines = vec![Baseline {
            name: "naive".into(),
            valid: vec![("mse".into(), 0.02), ("rmse".into(), 0.141)],
        }];
        v.on_event(eval(10, 0.5, 0.05));
        assert_eq!(v.references("rmse"), vec![("naive".to_string(), 0.141)]);
        // One evaluation does not show that the loss is the MSE scaled.
        assert_eq!(v.loss_references(), vec![]);
        v.on_event(eval(20, 0.25, 0.025));
        assert_eq!(v.loss_references(), vec![("naive".to_string(), 0.2)]);
        // A non-linear scaling (a log transform) has no comparable baseline.
        v.on_event(eval(30, 0.2, 0.03));
        assert_eq!(v.loss_references(), vec![]);

        let mut t = View::new();
        t.on_event(Event::Eval(EvalStats {
            step: 5,
            epoch: 1,
            wall_s: 1.0,
            valid_loss: 2.0 * std::f64::consts::LN_2,
            metrics: vec![
                ("bits_per_char".into(), 2.0),
                ("unigram_bits_per_char".into(), 4.0),
            ],
        }));
        assert_eq!(t.metric_names(), ["bits_per_char"]);
        assert_eq!(
            t.references("bits_per_char"),
            vec![("unigram".to_string(), 4.0)]
        );
        let refs = t.loss_references();
        assert!((refs[0].1 - 4.0 * std::f64::consts::LN_2).abs() < 1e-12);
    }
}
