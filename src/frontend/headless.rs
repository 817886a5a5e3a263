//! The headless front end: a progress bar on a terminal, and one log line per
//! evaluation or every few seconds — never one per batch — for pipes and SSH.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{Event, NoteKind, RunInfo, StepStats};
use crate::fmt::clock;

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
}

impl Log {
    fn new() -> Log {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]",
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

    fn status(&self) -> String {
        let (Some(info), Some(s)) = (&self.info, &self.last) else {
            return String::new();
        };
        let eta = if s.step > 0 {
            s.wall_s / s.step as f64 * (info.total_steps.saturating_sub(s.step)) as f64
        } else {
            0.0
        };
        let valid = self
            .valid
            .map_or(String::new(), |v| format!("  valid {v:.5}"));
        format!(
            "epoch {}/{}  step {}/{}  loss {:.5}{valid}  lr {:.2e}  {:.0} samples/s  {} < {}",
            s.epoch,
            info.epochs,
            s.step,
            info.total_steps,
            s.loss,
            s.lr,
            s.samples_per_s,
            clock(s.wall_s),
            clock(eta),
        )
    }

    fn on(&mut self, event: &Event) {
        match event {
            Event::Started(info) => {
                self.line(format!(
                    "training {}: {}, {} parameters, {} steps ({} per epoch)",
                    info.name, info.model, info.parameters, info.total_steps, info.steps_per_epoch
                ));
                self.bar.set_length(info.total_steps);
                self.info = Some(info.clone());
            }
            Event::Step(s) => {
                self.bar.set_position(s.step);
                self.bar.set_message(format!("loss {:.5}", s.loss));
                self.last = Some(s.clone());
                if self.bar.is_hidden() && self.last_line.elapsed() >= LOG_EVERY {
                    self.line(self.status());
                    self.last_line = Instant::now();
                }
            }
            Event::Eval(e) => {
                self.valid = Some(e.valid_loss);
                let metrics: Vec<String> = e
                    .metrics
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.5}"))
                    .collect();
                self.line(format!("{}  [{}]", self.status(), metrics.join(", ")));
                self.last_line = Instant::now();
            }
            Event::Note(n) => {
                let quiet = matches!(
                    n.kind,
                    NoteKind::Start | NoteKind::Checkpoint | NoteKind::Finish
                );
                if !quiet {
                    self.line(format!("step {}: {} {}", n.step, n.kind.as_str(), n.detail));
                }
            }
            Event::Predictions(_) | Event::Flow(_) => {}
            Event::Finished(o) => {
                let message = o
                    .message
                    .as_deref()
                    .map_or(String::new(), |m| format!(": {m}"));
                let status = format!("{:?}", o.status).to_lowercase();
                self.line(format!("{status} after {} steps{message}", o.steps));
            }
        }
    }
}
