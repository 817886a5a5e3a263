//! The loss panel (`m` switches what it shows): the training loss smoothed
//! over its min–max envelope (or raw), the validation loss, the best
//! evaluation and the baselines where comparable; or a validation metric in
//! original units against the baselines; or the learning rate. User actions
//! (tune, pause, resume, asked-for checkpoint, stop) are marked on the x axis.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Part, Theme, fit_line};
use crate::fmt::{compact, fit};
use crate::frontend::tui::app::{App, LossView, Toggles, View};
use crate::frontend::tui::chart::{Chart, Kind, Marker, Series, XLabels};
use crate::frontend::tui::view::{MarkKind, to_wall};

/// The colour of a mark.
fn mark_color(kind: MarkKind) -> Color {
    match kind {
        MarkKind::Tune => Color::Yellow,
        MarkKind::Pause | MarkKind::Resume => Color::Blue,
        MarkKind::Checkpoint => Color::Green,
        MarkKind::Stop => Color::Magenta,
    }
}

/// Markers at the steps (or times) where the user did something to the run.
pub fn markers(v: &View, theme: &Theme, wall: bool) -> Vec<Marker> {
    v.marks
        .iter()
        .map(|m| {
            let (glyph, ascii) = m.kind.glyphs();
            Marker {
                x: if wall { m.wall_s } else { m.step as f64 },
                glyph,
                ascii,
                style: theme.fg(mark_color(m.kind)),
            }
        })
        .collect()
}

/// The legend of the marks shown, as it fits in `max` columns: `▲ tune ‖
/// pause`; the later ones give up their names first (`▲ tune ‖ ▶ ◇`), then
/// their glyphs.
pub fn marks_legend<'a>(v: &View, theme: &Theme, max: usize) -> Line<'a> {
    let kinds: Vec<MarkKind> = MarkKind::ALL
        .into_iter()
        .filter(|k| v.marks.iter().any(|m| m.kind == *k))
        .collect();
    let item = |k: MarkKind, named: bool| {
        let (g, a) = k.glyphs();
        let glyph = theme.chart_glyph(g, a);
        let text = if named {
            format!("{glyph} {}", k.label())
        } else {
            glyph.to_string()
        };
        Span::styled(text, theme.fg(mark_color(k)))
    };
    for shown in (0..=kinds.len()).rev() {
        for named in (0..=shown).rev() {
            let spans: Vec<Span> = kinds[..shown]
                .iter()
                .enumerate()
                .flat_map(|(i, k)| {
                    let sep = (i > 0).then(|| Span::raw(" "));
                    sep.into_iter().chain([item(*k, i < named)])
                })
                .collect();
            let line = Line::from(spans);
            if line.width() <= max {
                return line;
            }
        }
    }
    Line::default()
}

/// A curve to draw: its points, style, glyph, ASCII glyph and kind.
type Curve = (Vec<(f64, f64)>, Style, char, char, Kind);

/// The training loss colour.
const TRAIN: Color = Color::Cyan;
/// The validation colour.
const VALID: Color = Color::Yellow;
/// The best evaluation's colour.
const BEST: Color = Color::LightRed;
/// Reference lines (baselines).
const REFERENCE: Color = Color::Red;

/// A label with its chart glyph in front when glyphs tell series apart.
fn label<'a>(theme: &Theme, glyph: char, ascii: char, text: &str, style: Style) -> Span<'a> {
    if theme.glyph_legend() {
        Span::styled(format!("{} {text}", theme.chart_glyph(glyph, ascii)), style)
    } else {
        Span::styled(text.to_string(), style)
    }
}

/// A value part: `label value`, or just the value when short of room.
fn value_part<'a>(rank: u8, label: Span<'a>, value: f64) -> Part<'a> {
    Part::new(
        rank,
        vec![vec![label, Span::raw(format!(" {}", compact(value)))]],
    )
}

/// The title: what is shown and how, in the forms that fit `max` columns.
fn title(what: &str, t: &Toggles, view: LossView, max: usize) -> String {
    let mut quals = Vec::new();
    if t.loss_log {
        quals.push("log".to_string());
    }
    if view == LossView::Loss
        && let Some(w) = t.smoothing_weight()
    {
        quals.push(format!("ema {w}"));
    }
    if t.log_x {
        quals.push("log x".into());
    }
    if t.wall_x {
        quals.push("time".into());
    }
    let mut forms = Vec::new();
    for n in (0..=quals.len()).rev() {
        forms.push(if n == 0 {
            format!(" {what} ")
        } else {
            format!(" {what} ({}) ", quals[..n].join(", "))
        });
    }
    fit(forms, max).unwrap_or_default()
}

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let mut t = app.toggles;
    let names = v.metric_names();
    let view = match t.loss_view {
        LossView::Metric(i) if i >= names.len() => LossView::Loss,
        other => other,
    };
    // A log axis would drop values at or below 0 (a Gaussian's negative
    // log-likelihood, a coverage of 0): such a series is drawn linear.
    let nonpositive = |pts: Vec<(f64, f64)>| pts.iter().any(|p| p.1 <= 0.0);
    let below_zero = match view {
        LossView::Loss => nonpositive(v.loss.points()) || nonpositive(v.valid.points()),
        LossView::Metric(i) => v.metric(names[i]).is_some_and(|h| nonpositive(h.points())),
        LossView::Rate => false,
    };
    if below_zero {
        t.loss_log = false;
    }
    let what = match view {
        LossView::Loss => "loss".to_string(),
        LossView::Metric(i) => format!("valid {}", names[i]),
        LossView::Rate => "learning rate".into(),
    };
    let max_title = usize::from(area.width.saturating_sub(3));
    let mut block = theme.block(title(&what, &t, view, max_title));
    let inner = block.inner(area);
    let [plot, legend_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let room = usize::from(inner.width.saturating_sub(1));

    // Every x through one mapping: steps, or wall-clock seconds.
    let clock = v.clock.points();
    let xs = |pts: Vec<(f64, f64)>| {
        if t.wall_x { to_wall(&pts, &clock) } else { pts }
    };
    let x_of = |step: u64, wall_s: f64| if t.wall_x { wall_s } else { step as f64 };
    let dim = theme.dim();
    let (train, valid, best_style, reference) = (
        theme.fg(TRAIN),
        theme.fg(VALID),
        theme.fg(BEST),
        theme.fg(REFERENCE),
    );

    let mut curves: Vec<Curve> = Vec::new();
    let mut legend: Vec<Part> = Vec::new();
    let mut refs: Vec<(String, f64)> = Vec::new();
    let mut best: Option<(f64, f64, u64)> = None;
    let mut log_y = t.loss_log;
    match view {
        LossView::Loss => {
            let raw = xs(v.loss.points());
            match t.smoothing_weight() {
                Some(w) => {
                    curves.push((raw, dim, '·', ':', Kind::Band));
                    curves.push((xs(v.loss.smoothed(w)), train, '•', '*', Kind::Line));
                }
                None => curves.push((raw, train, '•', '*', Kind::Line)),
            }
            curves.push((xs(v.valid.points()), valid, '○', 'v', Kind::Line));
            let shown = match t.smoothing_weight() {
                Some(w) => v.loss.smoothed(w).last().map(|p| p.1),
                None => v.loss.last().map(|p| p.1),
            };
            if let Some(y) = shown {
                legend.push(value_part(0, label(theme, '•', '*', "train", train), y));
            }
            if let Some(e) = &v.last_eval {
                legend.push(value_part(
                    0,
                    label(theme, '○', 'v', "valid", valid),
                    e.valid_loss,
                ));
            }
            if t.smoothing_weight().is_some() && theme.glyph_legend() {
                let g = theme.chart_glyph('·', ':');
                legend.push(Part::one(3, vec![Span::styled(format!("{g} raw"), dim)]));
            }
            refs = v.loss_references();
            if let Some(e) = &v.best_eval {
                best = Some((x_of(e.step, e.wall_s), e.valid_loss, e.step));
            }
        }
        LossView::Metric(i) => {
            let name = names[i];
            let h = v.metric(name);
            let pts = h.map(|h| h.points()).unwrap_or_default();
            curves.push((xs(pts), valid, '○', 'v', Kind::Line));
            if let Some((_, y)) = h.and_then(|h| h.last()) {
                legend.push(value_part(0, label(theme, '○', 'v', name, valid), y));
            }
            refs = v.references(name);
            if let Some(e) = &v.best_eval
                && let Some((_, y)) = e.metrics.iter().find(|(k, _)| k == name)
            {
                best = Some((x_of(e.step, e.wall_s), *y, e.step));
            }
        }
        LossView::Rate => {
            curves.push((xs(v.lr.points()), train, '•', '*', Kind::Line));
            if let Some((_, y)) = v.lr.last() {
                legend.push(value_part(0, label(theme, '•', '*', "lr", train), y));
            }
            log_y = t.loss_log;
        }
    }
    for (name, value) in &refs {
        legend.push(value_part(
            2,
            label(theme, '╌', '=', name, reference),
            *value,
        ));
    }

    let series: Vec<Series> = curves
        .iter()
        .map(|(pts, style, glyph, ascii, kind)| {
            Series::line(pts, *style, *ascii).glyph(*glyph).kind(*kind)
        })
        .collect();
    let marks = markers(v, theme, t.wall_x);
    let x_title = if t.wall_x { "time" } else { "step" };
    let mut chart = Chart::new(series)
        .mode(theme.chart_mode())
        .log_y(log_y)
        .log_x(t.log_x)
        .markers(&marks)
        .x_title(x_title)
        .x_labels(if t.wall_x {
            XLabels::Clock
        } else {
            XLabels::Number
        });
    for (name, value) in &refs {
        chart = chart.hline_with(*value, reference, ('╌', '='), Some(name.as_str()));
    }
    if let Some((x, y, _)) = best {
        chart = chart.highlight((x, y), best_style);
    }

    // The bottom border: the best evaluation on the left, the marks' legend on the right.
    let border_room = usize::from(area.width.saturating_sub(4));
    let best_line = match best {
        Some((_, y, step)) => {
            let g = theme.chart_glyph('◆', '@');
            let (y, at) = (compact(y), crate::fmt::step(step));
            // Room for the marks' legend too, when it is wide enough for both.
            let forms = [
                format!(" {g} best {y} @{at} "),
                format!(" {g} {y} @{at} "),
                format!(" {g} {y} "),
            ];
            // The marks' glyphs alone, at least; their names only if room is left.
            let kinds = MarkKind::ALL
                .iter()
                .filter(|k| v.marks.iter().any(|m| m.kind == **k))
                .count();
            let legend_w = if kinds > 0 { 2 * kinds + 2 } else { 0 };
            fit(forms.clone(), border_room.saturating_sub(legend_w))
                .or_else(|| fit(forms, border_room))
                .map(|s| Line::styled(s, best_style))
        }
        None => None,
    };
    let used = best_line.as_ref().map_or(0, Line::width);
    let legend_room = border_room.saturating_sub(used + 1);
    let mut marks_line = marks_legend(v, theme, legend_room.saturating_sub(2));
    if marks_line.width() > 0 {
        marks_line.spans.insert(0, Span::raw(" "));
        marks_line.spans.push(Span::raw(" "));
        block = block.title_bottom(marks_line.right_aligned());
    }
    if let Some(l) = best_line {
        block = block.title_bottom(l.left_aligned());
    }
    f.render_widget(block, area);
    f.render_widget(chart, plot);
    let mut line = fit_line(legend, "  ", room.saturating_sub(1));
    line.spans.insert(0, Span::raw(" "));
    f.render_widget(Paragraph::new(line), legend_area);
}
