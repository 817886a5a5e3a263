//! The footer: the playback position when replaying, the last message, then
//! key hints that fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, thousands};
use crate::frontend::tui::app::{App, Feed};

/// Short hints, most important first; as many as fit are shown.
const SHORT: [(&str, &str); 10] = [
    ("space", "pause"),
    ("t", "tune"),
    ("c", "checkpoint"),
    ("q", "quit"),
    ("?", "help"),
    ("l/g", "log y"),
    ("s", "smooth"),
    ("←/→", "example"),
    ("f", "freeze"),
    ("v", "grads view"),
];

const ATTACHED: [(&str, &str); 11] = [
    ("space", "pause"),
    ("t", "tune"),
    ("c", "checkpoint"),
    ("q", "detach"),
    ("Q", "stop"),
    ("?", "help"),
    ("l/g", "log y"),
    ("s", "smooth"),
    ("←/→", "example"),
    ("f", "freeze"),
    ("v", "grads view"),
];

const REPLAY: [(&str, &str); 10] = [
    ("space", "play"),
    ("←/→", "step"),
    ("+/-", "speed"),
    ("g", "go to"),
    ("q", "quit"),
    ("?", "help"),
    ("n/p", "example"),
    ("l/G", "log y"),
    ("s", "smooth"),
    ("v", "grads view"),
];

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect, full: bool) {
    let mut spans = Vec::new();
    let mut used = 1;
    if let Some(p) = app.playback() {
        let shown = app.view().last.as_ref().map_or(0, |s| s.step);
        let state = match p.is_playing() {
            true => theme.glyph("▶", ">"),
            false => theme.glyph("‖", "||"),
        };
        let text = format!(
            " REPLAY {}/{} {} {state} ",
            thousands(shown),
            thousands(p.last_step()),
            p.speed_label(theme.glyph("×", "x")),
        );
        used += text.chars().count();
        spans.push(Span::styled(text, Modifier::BOLD | Modifier::REVERSED));
    }
    if let Some(m) = &app.message {
        let text = format!(" {m} ");
        used += text.chars().count() + 1;
        spans.push(Span::styled(
            text,
            theme
                .fg(ratatui::style::Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::raw(" "));
    let hints: &[(&str, &str)] = match app.feed {
        Feed::Training => &SHORT,
        Feed::Attached => &ATTACHED,
        Feed::Replay(_) => &REPLAY,
    };
    for &(key, what) in hints {
        if !full && what == "example" {
            continue;
        }
        let key = match (theme.ascii, key, what) {
            (true, "←/→", "example") => "n/p",
            (true, "←/→", _) => "<-/->",
            _ => key,
        };
        let width = key.chars().count() + what.len() + 3;
        if used + width > area.width as usize {
            break;
        }
        used += width;
        spans.push(Span::styled(key, Modifier::BOLD | Modifier::REVERSED));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
