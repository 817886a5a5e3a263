//! The footer: the last message, then key hints that fit.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Theme;
use crate::dashboard::app::App;

/// Short hints, most important first; as many as fit are shown.
const SHORT: [(&str, &str); 9] = [
    ("space", "pause"),
    ("t", "tune"),
    ("c", "checkpoint"),
    ("q", "quit"),
    ("?", "help"),
    ("l/g", "log y"),
    ("s", "smooth"),
    ("←/→", "example"),
    ("f", "freeze"),
];

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect, full: bool) {
    let mut spans = Vec::new();
    let mut used = 1;
    if let Some(m) = &app.message {
        let text = format!(" {m} ");
        used += text.chars().count() + 1;
        spans.push(Span::styled(
            text,
            theme
                .fg(ratatui::style::Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(" "));
    } else {
        spans.push(Span::raw(" "));
    }
    for (key, what) in SHORT {
        if !full && key == "←/→" {
            continue;
        }
        let key = if theme.ascii && key == "←/→" {
            "n/p"
        } else {
            key
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
