//! Keys → actions. The key map is fixed per [`Feed`]; `?` shows it.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, Feed, Mode};

/// Key hints for the help screen while training: (keys, what they do).
pub const HINTS: [(&str, &str); 12] = [
    ("space", "pause / resume training"),
    ("t", "tune hyperparameters"),
    ("c", "checkpoint now"),
    ("l", "loss: log / linear y"),
    ("g", "gradients: log / linear y"),
    ("s", "smoothing on / off"),
    ("v", "gradients: per layer / through time / per gate"),
    ("←/→ n/p", "previous / next prediction example"),
    ("f", "freeze / unfreeze the view"),
    ("?", "this help"),
    ("q", "quit (asks to stop training)"),
    ("Ctrl-C", "stop training and quit"),
];

/// Key hints for the help screen while attached to a run.
pub const ATTACHED_HINTS: [(&str, &str); 13] = [
    ("space", "pause / resume training"),
    ("t", "tune hyperparameters"),
    ("c", "checkpoint now"),
    ("l", "loss: log / linear y"),
    ("g", "gradients: log / linear y"),
    ("s", "smoothing on / off"),
    ("v", "gradients: per layer / through time / per gate"),
    ("←/→ n/p", "previous / next prediction example"),
    ("f", "freeze / unfreeze the view"),
    ("?", "this help"),
    ("q", "detach (training goes on)"),
    ("Q", "stop training (asks), then quit"),
    ("Ctrl-C", "detach"),
];

/// Key hints for the help screen of a replay.
pub const REPLAY_HINTS: [(&str, &str); 13] = [
    ("space", "play / pause"),
    ("←/→", "one step back / forward"),
    ("PgUp/PgDn", "a tenth of the run back / forward"),
    ("Home/End", "to the start / the end"),
    ("g", "go to a step"),
    ("+/-", "faster / slower"),
    ("n/p", "next / previous prediction example"),
    ("l", "loss: log / linear y"),
    ("G", "gradients: log / linear y"),
    ("s", "smoothing on / off"),
    ("v", "gradients: per layer / through time / per gate"),
    ("?", "this help"),
    ("q", "quit"),
];

/// The help screen's hints for a feed.
pub fn hints(feed: &Feed) -> &'static [(&'static str, &'static str)] {
    match feed {
        Feed::Training => &HINTS,
        Feed::Attached => &ATTACHED_HINTS,
        Feed::Replay(_) => &REPLAY_HINTS,
    }
}

/// The action for a key press in the app's current mode.
pub fn action(key: KeyEvent, app: &App) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::ForceStop);
    }
    match &app.mode {
        Mode::Help => Some(Action::Cancel),
        Mode::ConfirmQuit => Some(match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => Action::Confirm,
            _ => Action::Cancel,
        }),
        Mode::Tune(_) | Mode::GoTo(_) => match key.code {
            KeyCode::Up => Some(Action::Up),
            KeyCode::Down | KeyCode::Tab => Some(Action::Down),
            KeyCode::Enter => Some(Action::Confirm),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Char(c) if c.is_ascii_digit() || ".eE-+".contains(c) => Some(Action::Type(c)),
            _ => None,
        },
        Mode::Normal if matches!(app.feed, Feed::Replay(_)) => replay_action(key.code),
        Mode::Normal => match key.code {
            KeyCode::Char(' ') => Some(Action::TogglePause),
            KeyCode::Char('t') => Some(Action::OpenTune),
            KeyCode::Char('c') => Some(Action::Checkpoint),
            KeyCode::Char('l') => Some(Action::ToggleLossLog),
            KeyCode::Char('g') => Some(Action::ToggleGradLog),
            KeyCode::Char('s') => Some(Action::ToggleSmoothing),
            KeyCode::Char('v') => Some(Action::CycleGrads),
            KeyCode::Right | KeyCode::Char('n') => Some(Action::NextExample),
            KeyCode::Left | KeyCode::Char('p') => Some(Action::PrevExample),
            KeyCode::Char('f') => Some(Action::ToggleFreeze),
            KeyCode::Char('?') | KeyCode::Char('h') => Some(Action::Help),
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            KeyCode::Char('Q') if matches!(app.feed, Feed::Attached) => Some(Action::StopRun),
            _ => None,
        },
    }
}

fn replay_action(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Left => Action::StepBack,
        KeyCode::Right => Action::StepForward,
        KeyCode::PageUp => Action::JumpBack,
        KeyCode::PageDown => Action::JumpForward,
        KeyCode::Home => Action::Start,
        KeyCode::End => Action::End,
        KeyCode::Char('g') => Action::OpenGoTo,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
        KeyCode::Char('-') => Action::Slower,
        KeyCode::Char('n') => Action::NextExample,
        KeyCode::Char('p') => Action::PrevExample,
        KeyCode::Char('l') => Action::ToggleLossLog,
        KeyCode::Char('G') => Action::ToggleGradLog,
        KeyCode::Char('s') => Action::ToggleSmoothing,
        KeyCode::Char('v') => Action::CycleGrads,
        KeyCode::Char('f') => Action::ToggleFreeze,
        KeyCode::Char('t') => Action::OpenTune,
        KeyCode::Char('c') => Action::Checkpoint,
        KeyCode::Char('?') | KeyCode::Char('h') => Action::Help,
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        _ => return None,
    })
}
