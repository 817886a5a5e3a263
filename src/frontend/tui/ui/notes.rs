//! The events panel: the latest notes, newest at the bottom.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::events::NoteKind;
use crate::fmt::clock;
use crate::frontend::tui::app::App;

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let block = theme.block(" events ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let rows = inner.height as usize;
    let skip = v.notes.len().saturating_sub(rows);
    let arrow = theme.glyph("→", "->");
    let lines: Vec<Line> = v
        .notes
        .iter()
        .skip(skip)
        .map(|n| {
            let color = match n.kind {
                NoteKind::Tune => Color::Yellow,
                NoteKind::Pause | NoteKind::Resume => Color::Blue,
                NoteKind::Checkpoint => Color::Green,
                NoteKind::Diverged => Color::Red,
                NoteKind::Stop | NoteKind::EarlyStop => Color::Magenta,
                NoteKind::Start | NoteKind::Finish => Color::Cyan,
            };
            Line::from(vec![
                Span::styled(format!("{:>7} ", n.step), theme.dim()),
                Span::styled(format!("{:>5} ", clock(n.wall_s)), theme.dim()),
                Span::styled(format!("{:<10} ", n.kind.as_str()), theme.fg(color)),
                Span::raw(n.detail.replace('→', arrow)),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
