//! Keys → actions. The key map is fixed; `?` shows it.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, Mode};

/// Key hints for the footer and the help screen: (keys, what they do).
pub const HINTS: [(&str, &str); 11] = [
    ("space", "pause / resume training"),
    ("t", "tune hyperparameters"),
    ("c", "checkpoint now"),
    ("l", "loss: log / linear y"),
    ("g", "gradients: log / linear y"),
    ("s", "smoothing on / off"),
    ("←/→ n/p", "previous / next prediction example"),
    ("f", "freeze / unfreeze the view"),
    ("?", "this help"),
    ("q", "quit (asks to stop training)"),
    ("Ctrl-C", "stop training and quit"),
];

/// The action for a key press in the current mode.
pub fn action(key: KeyEvent, mode: &Mode) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::ForceStop);
    }
    match mode {
        Mode::Help => Some(Action::Cancel),
        Mode::ConfirmQuit => Some(match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => Action::Confirm,
            _ => Action::Cancel,
        }),
        Mode::Tune(_) => match key.code {
            KeyCode::Up => Some(Action::Up),
            KeyCode::Down | KeyCode::Tab => Some(Action::Down),
            KeyCode::Enter => Some(Action::Confirm),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Char(c) if c.is_ascii_digit() || ".eE-+".contains(c) => Some(Action::Type(c)),
            _ => None,
        },
        Mode::Normal => match key.code {
            KeyCode::Char(' ') => Some(Action::TogglePause),
            KeyCode::Char('t') => Some(Action::OpenTune),
            KeyCode::Char('c') => Some(Action::Checkpoint),
            KeyCode::Char('l') => Some(Action::ToggleLossLog),
            KeyCode::Char('g') => Some(Action::ToggleGradLog),
            KeyCode::Char('s') => Some(Action::ToggleSmoothing),
            KeyCode::Right | KeyCode::Char('n') => Some(Action::NextExample),
            KeyCode::Left | KeyCode::Char('p') => Some(Action::PrevExample),
            KeyCode::Char('f') => Some(Action::ToggleFreeze),
            KeyCode::Char('?') | KeyCode::Char('h') => Some(Action::Help),
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            _ => None,
        },
    }
}
