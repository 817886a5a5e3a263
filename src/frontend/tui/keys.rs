//! Keys → actions. One key map for training, attach and replay: a key does
//! the same thing everywhere it does anything (`g` is the gradients' log
//! scale, `n`/`p` the prediction examples, `space` pauses what moves); the
//! timeline keys exist only in a replay and the steering keys only on a
//! live run. `?` shows the map; the footer shows the keys that work now.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{Action, App, Feed, Mode, RunState};

/// Keys shared by every feed: (keys, what they do).
const VIEW_KEYS: [(&str, &str); 11] = [
    ("m", "loss panel: loss / metrics / learning rate"),
    ("l", "loss: log / linear y"),
    ("g", "gradients: log / linear y"),
    ("s", "smoothing on / off"),
    ("[ ]", "less / more smoothing"),
    ("x", "log / linear x axis"),
    ("w", "x axis: steps / wall-clock time"),
    ("v", "gradients: per layer / through time / per gate"),
    ("n/p", "next / previous prediction example"),
    ("f", "freeze / unfreeze the view"),
    ("?", "this help"),
];

/// Key hints for the help screen while training: (keys, what they do).
pub const HINTS: [(&str, &str); 16] = [
    ("space", "pause / resume training"),
    ("t", "tune hyperparameters"),
    ("c", "checkpoint now"),
    VIEW_KEYS[0],
    VIEW_KEYS[1],
    VIEW_KEYS[2],
    VIEW_KEYS[3],
    VIEW_KEYS[4],
    VIEW_KEYS[5],
    VIEW_KEYS[6],
    VIEW_KEYS[7],
    VIEW_KEYS[8],
    VIEW_KEYS[9],
    VIEW_KEYS[10],
    ("q", "quit (asks to stop training)"),
    ("Ctrl-C", "stop training and quit"),
];

/// Key hints for the help screen while attached to a run.
pub const ATTACHED_HINTS: [(&str, &str); 17] = [
    ("space", "pause / resume training"),
    ("t", "tune hyperparameters"),
    ("c", "checkpoint now"),
    VIEW_KEYS[0],
    VIEW_KEYS[1],
    VIEW_KEYS[2],
    VIEW_KEYS[3],
    VIEW_KEYS[4],
    VIEW_KEYS[5],
    VIEW_KEYS[6],
    VIEW_KEYS[7],
    VIEW_KEYS[8],
    VIEW_KEYS[9],
    VIEW_KEYS[10],
    ("q", "detach (training goes on)"),
    ("Q", "stop training (asks), then quit"),
    ("Ctrl-C", "detach"),
];

/// Key hints for the help screen of a replay.
pub const REPLAY_HINTS: [(&str, &str); 18] = [
    ("space", "play / pause"),
    ("←/→", "one step back / forward"),
    ("PgUp/PgDn", "a tenth of the run back / forward"),
    ("Home/End", "to the start / the end"),
    ("j", "jump to a step"),
    ("+/-", "faster / slower"),
    VIEW_KEYS[0],
    VIEW_KEYS[1],
    VIEW_KEYS[2],
    VIEW_KEYS[3],
    VIEW_KEYS[4],
    VIEW_KEYS[5],
    VIEW_KEYS[6],
    VIEW_KEYS[7],
    VIEW_KEYS[8],
    VIEW_KEYS[9],
    VIEW_KEYS[10],
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

/// The footer's hints, most important first, for what the keys can do now:
/// `space resume` while paused, no steering once the run is over, the
/// timeline's verbs in a replay.
pub fn footer(app: &App) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let view_keys = [
        ("?", "help"),
        ("m", "view"),
        ("l/g", "log y"),
        ("s", "smooth"),
        ("n/p", "example"),
        ("f", "freeze"),
        ("v", "grads"),
        ("x", "log x"),
        ("w", "time"),
    ];
    match &app.feed {
        Feed::Replay(p) => {
            out.push(("space", if p.is_playing() { "pause" } else { "play" }));
            out.extend([
                ("←/→", "step"),
                ("+/-", "speed"),
                ("j", "jump"),
                ("q", "quit"),
            ]);
        }
        feed => {
            if app.can_act() {
                let pause = match app.state() {
                    RunState::Paused => "resume",
                    _ => "pause",
                };
                out.extend([("space", pause), ("t", "tune"), ("c", "checkpoint")]);
            }
            let attached = matches!(feed, Feed::Attached);
            let over = app.state().is_over() || app.disconnected;
            out.push(match (attached, over) {
                (true, false) => ("q", "detach"),
                _ => ("q", "quit"),
            });
            if attached && app.can_act() {
                out.push(("Q", "stop"));
            }
        }
    }
    out.extend(view_keys);
    out
}

/// The action for a key press in the app's current mode.
pub fn action(key: KeyEvent, app: &App) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::ForceStop);
    }
    match &app.mode {
        Mode::Help => Some(Action::Cancel),
        Mode::ConfirmQuit => Some(match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => Action::Confirm,
            _ => Action::Cancel,
        }),
        Mode::Tune(_) | Mode::GoTo(_) => match key.code {
            KeyCode::Char('u') if ctrl => Some(Action::ClearField),
            KeyCode::Up | KeyCode::BackTab => Some(Action::Up),
            KeyCode::Down | KeyCode::Tab => Some(Action::Down),
            KeyCode::Enter => Some(Action::Confirm),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Backspace => Some(Action::Backspace),
            // Every other character goes to the form, which says why it refuses one.
            KeyCode::Char(c) if !ctrl => Some(Action::Type(c)),
            _ => None,
        },
        Mode::Normal => {
            let replay = matches!(app.feed, Feed::Replay(_));
            let common = match key.code {
                KeyCode::Char(' ') => Some(Action::TogglePause),
                KeyCode::Char('m') => Some(Action::CycleLossView),
                KeyCode::Char('l') => Some(Action::ToggleLossLog),
                KeyCode::Char('g') => Some(Action::ToggleGradLog),
                KeyCode::Char('s') => Some(Action::ToggleSmoothing),
                KeyCode::Char('[') => Some(Action::SmoothLess),
                KeyCode::Char(']') => Some(Action::SmoothMore),
                KeyCode::Char('x') => Some(Action::ToggleLogX),
                KeyCode::Char('w') => Some(Action::ToggleWallX),
                KeyCode::Char('v') => Some(Action::CycleGrads),
                KeyCode::Char('n') => Some(Action::NextExample),
                KeyCode::Char('p') => Some(Action::PrevExample),
                KeyCode::Char('f') => Some(Action::ToggleFreeze),
                KeyCode::Char('t') => Some(Action::OpenTune),
                KeyCode::Char('c') => Some(Action::Checkpoint),
                KeyCode::Char('?') | KeyCode::Char('h') => Some(Action::Help),
                KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
                _ => None,
            };
            if common.is_some() {
                return common;
            }
            if replay {
                return Some(match key.code {
                    KeyCode::Left => Action::StepBack,
                    KeyCode::Right => Action::StepForward,
                    KeyCode::PageUp => Action::JumpBack,
                    KeyCode::PageDown => Action::JumpForward,
                    KeyCode::Home => Action::Start,
                    KeyCode::End => Action::End,
                    KeyCode::Char('j') => Action::OpenGoTo,
                    KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
                    KeyCode::Char('-') => Action::Slower,
                    _ => return None,
                });
            }
            match key.code {
                KeyCode::Char('Q') if matches!(app.feed, Feed::Attached) => Some(Action::StopRun),
                _ => None,
            }
        }
    }
}
