//! The loss panel: raw and smoothed training loss, validation loss, the best
//! evaluation, and markers where a tune, pause or checkpoint happened.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::events::NoteKind;
use crate::fmt::compact;
use crate::frontend::tui::app::{App, View};
use crate::frontend::tui::chart::{Chart, Series};

/// Markers at steps where something was done to the run.
pub fn markers(v: &View, theme: &Theme) -> Vec<(f64, Style)> {
    v.notes
        .iter()
        .filter_map(|n| {
            let c = match n.kind {
                NoteKind::Tune => Color::Yellow,
                NoteKind::Pause | NoteKind::Resume => Color::Blue,
                NoteKind::Checkpoint => Color::Green,
                _ => return None,
            };
            Some((n.step as f64, theme.fg(c)))
        })
        .collect()
}

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let log = app.toggles.loss_log;
    let title = format!(
        " loss{}{} ",
        if log { " (log)" } else { "" },
        if app.toggles.smoothing {
            " smoothed"
        } else {
            ""
        }
    );
    let block = theme.block(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [plot, legend] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);

    let raw = v.loss.points();
    let smooth = v.loss_smooth.points();
    let valid = v.valid.points();
    let train_style = theme.fg(Color::Cyan);
    let mut series = Vec::new();
    if app.toggles.smoothing {
        series.push(Series {
            points: &raw,
            style: theme.dim(),
            ascii: '.',
        });
        series.push(Series {
            points: &smooth,
            style: train_style,
            ascii: '*',
        });
    } else {
        series.push(Series {
            points: &raw,
            style: train_style,
            ascii: '*',
        });
    }
    series.push(Series {
        points: &valid,
        style: theme.fg(Color::Yellow),
        ascii: 'v',
    });
    let marks = markers(v, theme);
    let mut chart = Chart::new(series)
        .mode(theme.chart_mode())
        .log_y(log)
        .markers(&marks)
        .x_title("step");
    if let Some((step, best)) = v.best {
        chart = chart.highlight((step as f64, best), theme.fg(Color::LightRed));
    }
    f.render_widget(chart, plot);

    let mut spans = Vec::new();
    if let Some(s) = &v.last {
        spans.push(Span::styled(" train ", train_style));
        spans.push(Span::raw(compact(s.loss)));
        if app.toggles.smoothing
            && let Some((_, y)) = v.loss_smooth.last()
        {
            spans.push(Span::styled("  ema ", train_style));
            spans.push(Span::raw(compact(y)));
        }
    }
    if let Some(e) = &v.last_eval {
        spans.push(Span::styled("  valid ", theme.fg(Color::Yellow)));
        spans.push(Span::raw(compact(e.valid_loss)));
    }
    if let Some((step, best)) = v.best {
        spans.push(Span::styled(
            format!("  best{} ", theme.glyph("◆", "o")),
            theme.fg(Color::LightRed),
        ));
        spans.push(Span::raw(format!("{} @{step}", compact(best))));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), legend);
}
