//! The footer: the playback position when replaying, the last message, then
//! the keys that work now (see [`keys::footer`]), as many as fit.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, thousands};
use crate::fmt::words;
use crate::frontend::tui::app::App;
use crate::frontend::tui::keys;

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect, full: bool) {
    let mut spans = Vec::new();
    // One blank column at the right edge.
    let room = usize::from(area.width).saturating_sub(1);
    let mut used = 0;
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
        let text = format!(
            " {} ",
            words(m, room.saturating_sub(used + 3), theme.glyph("…", "..."))
        );
        used += text.chars().count() + 1;
        spans.push(Span::raw(" "));
        spans.push(Span::styled(
            text,
            theme
                .fg(ratatui::style::Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    spans.push(Span::raw(" "));
    used += 1;
    for (key, what) in keys::footer(app) {
        if !full && what == "example" {
            continue;
        }
        let key = match (theme.ascii, key) {
            (true, "←/→") => "<-/->",
            _ => key,
        };
        let width = key.chars().count() + what.len() + 3;
        if used + width - 2 > room {
            break;
        }
        used += width;
        spans.push(Span::styled(key, Modifier::BOLD | Modifier::REVERSED));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
