//! Gradient norms, three views (`v` cycles): one line per layer over steps
//! (log y by default) with the clipping threshold and each layer's current
//! norm as a bar, flagged when it vanishes or explodes; ‖∂L/∂h_t‖ through the
//! time steps of the window (the picture of vanishing gradients); and the
//! same lines and bars per LSTM/GRU gate.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::fmt::compact;
use crate::frontend::tui::app::{App, GradView};
use crate::frontend::tui::chart::{Chart, Series};
use crate::frontend::tui::history::History;

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
    let suffix = if log { " (log)" } else { "" };
    match app.toggles.grads {
        GradView::Layers => {
            let groups: Vec<String> = v.info.as_ref().map_or(Vec::new(), |i| i.groups.clone());
            let current = v
                .last
                .as_ref()
                .map_or(Vec::new(), |s| s.group_norms.clone());
            let title = format!(" gradient norms{suffix} ");
            norms(
                f, theme, area, &title, log, v.clip, &groups, &v.grads, &current,
            );
        }
        GradView::Gates => {
            let (names, current): (Vec<String>, Vec<f64>) = v
                .flow
                .as_ref()
                .map_or_else(Default::default, |fl| fl.gates.iter().cloned().unzip());
            let title = format!(" gate gradient norms{suffix} ");
            norms(f, theme, area, &title, log, 0.0, &names, &v.gates, &current);
        }
        GradView::Time => through_time(f, app, theme, area),
    }
}

/// One line per name over the steps, the clip threshold, and the current
/// values as bars on a log scale, flagged when vanishing or exploding.
#[allow(clippy::too_many_arguments)]
fn norms(
    f: &mut Frame,
    theme: &Theme,
    area: Rect,
    title: &str,
    log: bool,
    clip: f64,
    names: &[String],
    histories: &[History],
    current: &[f64],
) {
    let block = theme.block(title.to_string());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let bar_rows = (names.len() as u16).min(inner.height.saturating_sub(3) / 2);
    let [plot, bars] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(bar_rows)]).areas(inner);

    let points: Vec<Vec<(f64, f64)>> = histories.iter().map(|h| h.points()).collect();
    let mut chart = Chart::new(series(theme, &points))
        .mode(theme.chart_mode())
        .log_y(log)
        .x_title("step");
    if clip > 0.0 {
        chart = chart.hline(clip, theme.fg(Color::Red));
    }
    f.render_widget(chart, plot);

    let largest = current
        .iter()
        .copied()
        .filter(|n| n.is_finite())
        .fold(0.0, f64::max);
    let name_w = names.iter().map(|g| g.len()).max().unwrap_or(0);
    let bar_w = (bars.width as usize).saturating_sub(name_w + 22).max(1);
    let full = theme.glyph("█", "#");
    let lines: Vec<Line> = names
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
            if let Some(what) = flag(*n, largest, clip).filter(|_| known) {
                spans.push(warning(theme, what));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), bars);
}

/// ‖∂L/∂h_t‖ against t for each layer at the latest snapshot, and per layer
/// the ratio of the oldest step's gradient to the newest's: how much of the
/// error signal reaches the start of the window.
fn through_time(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let log = app.toggles.grad_log;
    let dh = theme.glyph("‖∂L/∂h_t‖", "|dL/dh_t|");
    let suffix = if log { " (log)" } else { "" };
    let title = match &v.flow {
        Some(fl) => format!(" {dh} at step {}{suffix} ", fl.step),
        None => format!(" {dh} through time{suffix} "),
    };
    let block = theme.block(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(fl) = &v.flow else {
        let why = if v.info.as_ref().is_some_and(|i| i.groups.len() > 1) {
            " waiting for the first snapshot (train.flow_every)"
        } else {
            " no recurrent layers"
        };
        f.render_widget(Paragraph::new(why), inner);
        return;
    };
    let rows = (fl.time.len() as u16).min(inner.height.saturating_sub(3) / 2);
    let [plot, bars] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(rows)]).areas(inner);
    let points: Vec<Vec<(f64, f64)>> = fl
        .time
        .iter()
        .map(|(_, n)| n.iter().enumerate().map(|(t, v)| (t as f64, *v)).collect())
        .collect();
    let chart = Chart::new(series(theme, &points))
        .mode(theme.chart_mode())
        .log_y(log)
        .x_title("time step t (0 = oldest input)");
    f.render_widget(chart, plot);
    let name_w = fl.time.iter().map(|(g, _)| g.len()).max().unwrap_or(0);
    let lines: Vec<Line> = fl
        .time
        .iter()
        .enumerate()
        .take(rows as usize)
        .map(|(i, (g, n))| {
            let (first, last) = (
                n.first().copied().unwrap_or(0.0),
                n.last().copied().unwrap_or(0.0),
            );
            let ratio = if last > 0.0 { first / last } else { f64::NAN };
            let mut spans = vec![
                Span::styled(format!(" {g:<name_w$} "), theme.series(i)),
                Span::raw(format!("t=0 / t=T-1: {}", compact(ratio))),
            ];
            if ratio.is_finite() && ratio < VANISHING {
                spans.push(warning(theme, "vanishing"));
            } else if ratio.is_finite() && ratio > 1.0 / VANISHING {
                spans.push(warning(theme, "exploding"));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), bars);
}

fn series<'a>(theme: &Theme, points: &'a [Vec<(f64, f64)>]) -> Vec<Series<'a>> {
    const ASCII: [char; 6] = ['0', '1', '2', '3', '4', 'h'];
    points
        .iter()
        .enumerate()
        .map(|(i, p)| Series {
            points: p,
            style: theme.series(i),
            ascii: if i + 1 == points.len() && i > 0 {
                'h'
            } else {
                ASCII[i % 5]
            },
        })
        .collect()
}

fn warning(theme: &Theme, what: &str) -> Span<'static> {
    Span::styled(
        format!(" {}{what}", theme.glyph("⚠ ", "! ")),
        theme.fg(Color::Red).add_modifier(Modifier::BOLD),
    )
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
