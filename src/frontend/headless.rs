//! The headless front end: a progress bar on a terminal, and one log line per
//! evaluation or every few seconds — never one per batch — for pipes and SSH.
//! Lines fit the terminal's width (80 columns when stderr is not a
//! terminal): the least important figures give way, notes wrap.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{Event, NoteKind, RunInfo, StepStats};
use crate::fmt::{clock, compact, fit_parts, fit_parts_kept, join_kept, thousands, words, wrap};

/// Seconds between log lines when no evaluation happens.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Shortest time between two wake-ups. The trainer sends an event per step;
/// a reader blocked on each would cost the trainer a wake-up call per step.
const WAKE_EVERY: Duration = Duration::from_millis(100);

/// Consumes the event stream until the run finishes, writing to stderr:
/// everything queued at once, then a pause of [`WAKE_EVERY`].
pub fn log(events: &Receiver<Event>) {
    let mut log = Log::new();
    'run: while let Ok(first) = events.recv() {
        for event in std::iter::once(first).chain(events.try_iter()) {
            let done = matches!(event, Event::Finished(_));
            log.on(&event);
            if done {
                break 'run;
            }
        }
        std::thread::sleep(WAKE_EVERY);
    }
    log.bar.finish_and_clear();
}

struct Log {
    bar: ProgressBar,
    info: Option<RunInfo>,
    last: Option<StepStats>,
    last_line: Instant,
    valid: Option<f64>,
    /// Columns a line may take.
    width: usize,
}

impl Log {
    fn new() -> Log {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                // The bar takes what the figures leave of the terminal's width.
                ProgressStyle::with_template(
                    "{wide_bar:.cyan/blue} {pos}/{len}  {msg}  {elapsed} < {eta}",
                )
                .expect("a valid template")
                .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        Log {
            bar,
            info: None,
            last: None,
            last_line: Instant::now(),
            valid: None,
            width: crate::frontend::stderr_width(),
        }
    }

    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
            let _ = std::io::stderr().flush();
        } else {
            self.bar.println(text);
        }
    }

    /// Where the run stands, with `metrics` (name, value) after the
    /// validation loss, in the forms that fit: the least important figures
    /// (samples/s, the learning rate, further metrics) give way first.
    fn status(&self, metrics: &[(String, f64)]) -> String {
        let (Some(info), Some(s)) = (&self.info, &self.last) else {
            return String::new();
        };
        let eta = if s.step > 0 {
            s.wall_s / s.step as f64 * (info.total_steps.saturating_sub(s.step)) as f64
        } else {
            0.0
        };
        let parts = |epoch: &str, step: &str, time: &str, value: &dyn Fn(f64) -> String| {
            let mut parts = vec![
                (3, format!("epoch {epoch}/{}", info.epochs)),
                (0, format!("step {step}/{}", info.total_steps)),
                (0, format!("loss {}", value(s.loss))),
            ];
            if let Some(v) = self.valid {
                parts.push((0, format!("valid {}", value(v))));
            }
            // The headline metric first (RMSE in original units, accuracy, bits per character).
            let headline = ["rmse", "accuracy", "bits_per_char"]
                .iter()
                .find_map(|k| metrics.iter().position(|(n, _)| n == k));
            for (i, (k, v)) in metrics.iter().enumerate() {
                let rank = if Some(i) == headline { 2 } else { 3 };
                parts.push((rank, format!("{k} {}", value(*v))));
            }
            parts.push((4, format!("lr {}", value(s.lr))));
            parts.push((
                5,
                format!("{} samples/s", thousands(s.samples_per_s.round() as u64)),
            ));
            parts.push((1, time.to_string()));
            parts
        };
        // The same figures on every line: those that fit at their widest.
        let widest = parts(
            &info.epochs.to_string(),
            &info.total_steps.to_string(),
            &format!("{0} < {0}", clock(s.wall_s.max(eta) * 10.0)),
            &|_| "-0.0000".into(),
        );
        let kept = fit_parts_kept(&widest, "  ", self.width);
        let time = format!("{} < {}", clock(s.wall_s), clock(eta));
        let actual = parts(&s.epoch.to_string(), &s.step.to_string(), &time, &compact);
        join_kept(&actual, &kept, "  ")
    }

    /// A note, wrapped to the width under its head.
    fn note(&self, head: &str, detail: &str) {
        let indent = " ".repeat(4);
        let first = self.width.saturating_sub(crate::fmt::width(head) + 1);
        let text = if detail.is_empty() {
            head.to_string()
        } else if crate::fmt::width(detail) <= first {
            format!("{head} {detail}")
        } else {
            let lines = wrap(detail, self.width.saturating_sub(indent.len()));
            let mut out = head.to_string();
            for l in lines {
                out.push('\n');
                out.push_str(&indent);
                out.push_str(&l);
            }
            out
        };
        self.line(text);
    }

    fn on(&mut self, event: &Event) {
        match event {
            Event::Started(info) => {
                let head = format!("training {}", info.name);
                let model = words(&info.model, self.width.saturating_sub(head.len() + 2), "…");
                let parts = [
                    (0, format!("{head}: {model}")),
                    (
                        2,
                        format!("{} parameters", thousands(info.parameters as u64)),
                    ),
                    (1, format!("{} steps", thousands(info.total_steps))),
                    (
                        3,
                        format!("({} per epoch)", thousands(info.steps_per_epoch)),
                    ),
                ];
                self.line(fit_parts(&parts, ", ", self.width).replace(", (", " ("));
                self.bar.set_length(info.total_steps);
                self.info = Some(info.clone());
            }
            Event::Step(s) => {
                self.bar.set_position(s.step);
                self.bar.set_message(format!("loss {:.5}", s.loss));
                self.last = Some(s.clone());
                if self.bar.is_hidden() && self.last_line.elapsed() >= LOG_EVERY {
                    self.line(self.status(&[]));
                    self.last_line = Instant::now();
                }
            }
            Event::Eval(e) => {
                self.valid = Some(e.valid_loss);
                self.line(self.status(&e.metrics));
                self.last_line = Instant::now();
            }
            Event::Note(n) => {
                let quiet = matches!(
                    n.kind,
                    NoteKind::Start | NoteKind::Checkpoint | NoteKind::Finish
                );
                if !quiet {
                    self.note(&format!("step {}: {}", n.step, n.kind.as_str()), &n.detail);
                }
            }
            Event::Predictions(_) | Event::Flow(_) => {}
            Event::Finished(o) => {
                let message = o.message.clone().unwrap_or_default();
                let status = format!("{:?}", o.status).to_lowercase();
                let colon = if message.is_empty() { "" } else { ":" };
                let head = format!("{status} after {} steps{colon}", o.steps);
                self.note(&head, &message);
            }
        }
    }
}
