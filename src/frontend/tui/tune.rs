//! The tune form: fields pre-filled with the live values in a short form,
//! edits kept per field until applied, refusals explained, and Enter
//! applying every edited field (one [`Command::Tune`] each, in order).

use super::app::{Action, App, Mode};
use crate::events::{Command, Reply, Tunable};
use crate::fmt::compact_sig;

/// The tune form: the selected field, what was typed in each field (`None`
/// for a field left as it was, showing its current value), and any error.
#[derive(Debug, Clone, PartialEq)]
pub struct TuneForm {
    pub field: usize,
    pub edits: Vec<Option<String>>,
    pub error: Option<String>,
}

impl TuneForm {
    /// What the selected field was edited to, if it was.
    pub fn input(&self) -> Option<&str> {
        self.edits.get(self.field)?.as_deref()
    }
}

impl App {
    /// The tune form's fields for this run (the temperature only when it generates text).
    pub fn tune_fields(&self) -> Vec<Tunable> {
        Tunable::ALL
            .into_iter()
            .filter(|&t| t != Tunable::Temperature || self.live_view().temperature.is_some())
            .collect()
    }

    pub(super) fn tune_form(&self, field: usize) -> TuneForm {
        TuneForm {
            field,
            edits: vec![None; self.tune_fields().len()],
            error: None,
        }
    }

    /// A tunable's current value in the live view.
    fn current(&self, key: Tunable) -> f64 {
        let v = self.live_view();
        match key {
            Tunable::LearningRate => v.learning_rate,
            Tunable::ClipGradNorm => v.clip,
            Tunable::EvalEvery => v.eval_every as f64,
            Tunable::Temperature => v.temperature.unwrap_or(0.0),
        }
    }

    /// The current value of a tunable, short, as the form fills it in:
    /// `0.00166` for a scheduled rate of 0.0016573…
    pub fn tune_input(&self, field: Tunable) -> String {
        let v = self.current(field);
        match field {
            Tunable::EvalEvery => format!("{v}"),
            _ => compact_sig(v, 3),
        }
    }

    /// The current value of a tunable field as the form shows it (`0 (off)`).
    pub fn tune_value(&self, field: Tunable) -> String {
        let v = self.current(field);
        match field {
            Tunable::ClipGradNorm | Tunable::EvalEvery if v == 0.0 => field.show(v),
            _ => self.tune_input(field),
        }
    }

    pub(super) fn apply_tune(&mut self, mut form: TuneForm, action: Action) -> Vec<Command> {
        let fields = self.tune_fields();
        let n = fields.len();
        match action {
            Action::Cancel | Action::ForceStop => {
                self.mode = Mode::Normal;
                if action == Action::ForceStop {
                    return self.stop().into_iter().collect();
                }
                return Vec::new();
            }
            Action::Up | Action::Down => {
                form.field = match action {
                    Action::Up => (form.field + n - 1) % n,
                    _ => (form.field + 1) % n,
                };
                form.error = None;
            }
            Action::Backspace => {
                let shown = self.tune_input(fields[form.field]);
                let edit = form.edits[form.field].get_or_insert(shown);
                edit.pop();
                form.error = None;
            }
            Action::ClearField => {
                form.edits[form.field] = Some(String::new());
                form.error = None;
            }
            Action::Type(c) if c.is_ascii_digit() || ".eE-+".contains(c) => {
                // Typing replaces the shown value, like a selected field.
                form.edits[form.field].get_or_insert_default().push(c);
                form.error = None;
            }
            Action::Type(c) => {
                form.error = Some(format!(
                    "`{c}` is not part of a number: type digits, `.`, `e` or `-`"
                ));
            }
            Action::Confirm => return self.confirm_tune(form),
            _ => {}
        }
        self.mode = Mode::Tune(form);
        Vec::new()
    }

    /// Checks every edited field and, if all are valid, returns one tune per
    /// field in the form's order; otherwise keeps the form open at the first
    /// invalid field, saying why.
    fn confirm_tune(&mut self, mut form: TuneForm) -> Vec<Command> {
        let fields = self.tune_fields();
        let mut changes = Vec::new();
        for (i, (&field, edit)) in fields.iter().zip(&form.edits).enumerate() {
            let Some(text) = edit else { continue };
            if text.trim().is_empty() {
                form.field = i;
                form.error = Some(format!("{field}: type a value (Esc cancels)"));
                self.mode = Mode::Tune(form);
                return Vec::new();
            }
            match field.parse(text) {
                Ok(value) => changes.push((field, value)),
                Err(e) => {
                    form.field = i;
                    form.error = Some(format!("{field}: {e}"));
                    self.mode = Mode::Tune(form);
                    return Vec::new();
                }
            }
        }
        self.mode = Mode::Normal;
        if changes.is_empty() || !self.steer("tune") {
            return Vec::new();
        }
        let said: Vec<String> = changes
            .iter()
            .map(|(k, v)| format!("{} → {}", k.short(), compact_sig(*v, 4)))
            .collect();
        self.message = Some(format!("tune {}", said.join(", ")));
        changes
            .into_iter()
            .map(|(key, value)| Command::Tune {
                key,
                value,
                reply: Reply::default(),
            })
            .collect()
    }
}
