//! Gradient norms: one line per layer over steps (log y by default), the
//! clipping threshold, and each layer's current norm as a bar, flagged when it
//! vanishes or explodes.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{compact, Theme};
use crate::dashboard::app::App;
use crate::dashboard::chart::{Chart, Series};

/// Below this fraction of the largest layer's norm a layer's gradient counts as vanishing.
const VANISHING: f64 = 1e-3;
/// Above this norm (or 10× the clip norm) a gradient counts as exploding.
const EXPLODING: f64 = 1e3;

/// `Some("vanishing")`/`Some("exploding")` for a layer's current norm.
pub fn flag(norm: f64, largest: f64, clip: f64) -> Option<&'static str> {
    if !norm.is_finite() || norm > EXPLODING || (clip > 0.0 && norm > 10.0 * clip) {
        Some("exploding")
    } else if norm < 1e-8 || norm < VANISHING * largest {
        Some("vanishing")
    } else {
        None
    }
}

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let log = app.toggles.grad_log;
    let block = theme.block(format!(
        " gradient norms{} ",
        if log { " (log)" } else { "" }
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let groups: Vec<String> = v.info.as_ref().map_or(Vec::new(), |i| i.groups.clone());
    let bar_rows = (groups.len() as u16).min(inner.height.saturating_sub(3) / 2);
    let [plot, bars] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(bar_rows)]).areas(inner);

    let points: Vec<Vec<(f64, f64)>> = v.grads.iter().map(|h| h.points()).collect();
    const ASCII: [char; 6] = ['0', '1', '2', '3', '4', 'h'];
    let series: Vec<Series> = points
        .iter()
        .enumerate()
        .map(|(i, p)| Series {
            points: p,
            style: theme.series(i),
            ascii: if i + 1 == points.len() {
                'h'
            } else {
                ASCII[i % 5]
            },
        })
        .collect();
    let mut chart = Chart::new(series)
        .mode(theme.chart_mode())
        .log_y(log)
        .x_title("step");
    if v.clip > 0.0 {
        chart = chart.hline(v.clip, theme.fg(Color::Red));
    }
    f.render_widget(chart, plot);

    let current: Vec<f64> = v
        .last
        .as_ref()
        .map_or(Vec::new(), |s| s.group_norms.clone());
    let largest = current
        .iter()
        .copied()
        .filter(|n| n.is_finite())
        .fold(0.0, f64::max);
    let name_w = groups.iter().map(|g| g.len()).max().unwrap_or(0);
    let bar_w = (bars.width as usize).saturating_sub(name_w + 22).max(1);
    let full = theme.glyph("█", "#");
    let lines: Vec<Line> = groups
        .iter()
        .zip(current.iter().chain(std::iter::repeat(&f64::NAN)))
        .enumerate()
        .take(bar_rows as usize)
        .map(|(i, (g, n))| {
            // Bar length on a log scale over 8 decades below the largest norm.
            let frac = if *n > 0.0 && largest > 0.0 {
                (1.0 + (n / largest).log10() / 8.0).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let len = (frac * bar_w as f64).round() as usize;
            let mut spans = vec![
                Span::styled(format!(" {g:<name_w$} "), theme.series(i)),
                Span::styled(full.repeat(len), theme.series(i)),
                Span::raw(" ".repeat(bar_w - len.min(bar_w))),
                Span::raw(format!(
                    " {:>9}",
                    if n.is_nan() { "-".into() } else { compact(*n) }
                )),
            ];
            // Before the first step there is nothing to flag.
            let known = i < current.len();
            if let Some(what) = flag(*n, largest, v.clip).filter(|_| known) {
                spans.push(Span::styled(
                    format!(" {}{what}", theme.glyph("⚠ ", "! ")),
                    theme.fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), bars);
}

#[cfg(test)]
mod tests {
    use super::flag;

    #[test]
    fn flags_vanishing_and_exploding_layers() {
        assert_eq!(flag(1e-2, 1e-1, 0.0), None);
        assert_eq!(flag(1e-6, 1e-1, 0.0), Some("vanishing"));
        assert_eq!(flag(0.0, 0.0, 0.0), Some("vanishing"));
        assert_eq!(flag(5e3, 5e3, 0.0), Some("exploding"));
        assert_eq!(flag(20.0, 20.0, 1.0), Some("exploding"));
        assert_eq!(flag(f64::NAN, 1.0, 0.0), Some("exploding"));
    }
}
