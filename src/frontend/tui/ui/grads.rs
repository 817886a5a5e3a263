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
use crate::fmt::{compact, fit, words};
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
    let max_title = usize::from(area.width.saturating_sub(3));
    match app.toggles.grads {
        GradView::Layers => {
            let groups: Vec<String> = v.info.as_ref().map_or(Vec::new(), |i| i.groups.clone());
            let current = v
                .last
                .as_ref()
                .map_or(Vec::new(), |s| s.group_norms.clone());
            let title = fit(
                [
                    format!(" gradient norms{suffix} "),
                    format!(" gradients{suffix} "),
                ],
                max_title,
            )
            .unwrap_or_default();
            let block = theme.block(title);
            let inner = block.inner(area);
            f.render_widget(block, area);
            let rows = (groups.len() as u16).min(inner.height.saturating_sub(5));
            let [plot, bars] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(rows)]).areas(inner);
            let points: Vec<Vec<(f64, f64)>> = v.grads.iter().map(History::points).collect();
            let glyphs: Vec<(char, char)> = (0..points.len()).map(series_glyph).collect();
            let mut chart = chart(theme, &points, &glyphs, log);
            if v.clip > 0.0 {
                chart = chart.hline(v.clip, theme.fg(Color::Red));
            }
            f.render_widget(chart, plot);
            let lines = norm_bars(theme, &groups, &current, &glyphs, v.clip, bars.width);
            f.render_widget(Paragraph::new(lines), bars);
        }
        GradView::Gates => gates(f, app, theme, area, max_title),
        GradView::Time => through_time(f, app, theme, area),
    }
}

/// A series' glyph (and ASCII stand-in) by index: never a digit, so a glyph
/// at a border cannot pass for a number.
fn series_glyph(i: usize) -> (char, char) {
    const GLYPHS: [(char, char); 8] = [
        ('•', '*'),
        ('○', 'o'),
        ('×', 'x'),
        ('◆', '%'),
        ('▪', '&'),
        ('△', '~'),
        ('□', '$'),
        ('◇', '='),
    ];
    GLYPHS[i % GLYPHS.len()]
}

fn chart<'a>(
    theme: &Theme,
    points: &'a [Vec<(f64, f64)>],
    glyphs: &[(char, char)],
    log: bool,
) -> Chart<'a> {
    let series = points
        .iter()
        .zip(glyphs)
        .enumerate()
        .map(|(i, (p, &(g, a)))| Series::line(p, theme.series(i), a).glyph(g))
        .collect();
    Chart::new(series)
        .mode(theme.chart_mode())
        .log_y(log)
        .x_title("step")
}

/// The name of a series, with its glyph in front when glyphs tell series apart.
fn named(theme: &Theme, glyph: (char, char), name: &str) -> String {
    if theme.glyph_legend() {
        format!("{} {name}", theme.chart_glyph(glyph.0, glyph.1))
    } else {
        name.to_string()
    }
}

/// A warning's forms, longest first: `⚠ vanishing`, `⚠ vanish`, `⚠`.
fn warning_forms(theme: &Theme, what: &str) -> [String; 3] {
    let sign = theme.glyph("⚠", "!");
    [
        format!("{sign} {what}"),
        format!("{sign} {}", &what[..what.len().min(6)]),
        sign.to_string(),
    ]
}

fn warning_style(theme: &Theme) -> ratatui::style::Style {
    theme.fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// Each name's current norm as a bar on a log scale over 8 decades below the
/// largest, its value, and a flag when it vanishes or explodes; the bar
/// gives way to the flag in narrow panels.
fn norm_bars<'a>(
    theme: &Theme,
    names: &[String],
    current: &[f64],
    glyphs: &[(char, char)],
    clip: f64,
    width: u16,
) -> Vec<Line<'a>> {
    let largest = current
        .iter()
        .copied()
        .filter(|n| n.is_finite())
        .fold(0.0, f64::max);
    let labels: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, g)| named(theme, glyphs.get(i).copied().unwrap_or(('•', '*')), g))
        .collect();
    let name_w = labels.iter().map(|g| g.chars().count()).max().unwrap_or(0);
    // One blank column before the border.
    let room = usize::from(width).saturating_sub(1);
    let full = theme.glyph("█", "#");
    labels
        .iter()
        .zip(current.iter().chain(std::iter::repeat(&f64::NAN)))
        .enumerate()
        .map(|(i, (g, n))| {
            let value = if n.is_nan() { "-".into() } else { compact(*n) };
            // Before the first step there is nothing to flag.
            let flag = flag(*n, largest, clip).filter(|_| i < current.len());
            let fixed = 1 + name_w + 1 + 1 + 7;
            let flag_text = flag.and_then(|what| {
                let forms = warning_forms(theme, what).map(|w| format!(" {w}"));
                fit(forms.clone(), room.saturating_sub(fixed + 4))
                    .or_else(|| fit(forms, room.saturating_sub(fixed)))
            });
            let bar_w =
                room.saturating_sub(fixed + flag_text.as_ref().map_or(0, |t| t.chars().count()));
            // Bar length on a log scale over 8 decades below the largest norm.
            let frac = if *n > 0.0 && largest > 0.0 {
                (1.0 + (n / largest).log10() / 8.0).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let len = (frac * bar_w as f64).round() as usize;
            let mut spans = vec![
                Span::styled(format!(" {g:<name_w$} "), theme.series(i)),
                Span::styled(full.repeat(len.min(bar_w)), theme.series(i)),
                Span::raw(" ".repeat(bar_w - len.min(bar_w))),
                Span::raw(format!(" {value:>7}")),
            ];
            if let Some(t) = flag_text {
                spans.push(Span::styled(t, warning_style(theme)));
            }
            Line::from(spans)
        })
        .collect()
}

/// Per-gate gradient norms over the steps, and one line per layer with each
/// gate's current norm (`r 0.012  z 3.4e-3  n 0.1`), every layer listed.
fn gates(f: &mut Frame, app: &App, theme: &Theme, area: Rect, max_title: usize) {
    let v = app.view();
    let log = app.toggles.grad_log;
    let suffix = if log { " (log)" } else { "" };
    let title = fit(
        [
            format!(" gate gradient norms{suffix} "),
            format!(" gate gradients{suffix} "),
            format!(" gates{suffix} "),
        ],
        max_title,
    )
    .unwrap_or_default();
    let block = theme.block(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let (names, current): (Vec<String>, Vec<f64>) = v
        .flow
        .as_ref()
        .map_or_else(Default::default, |fl| fl.gates.iter().cloned().unzip());
    // Layers in order of appearance, each with its gates' indices.
    let mut layers: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let layer = name.rsplit_once('.').map_or(name.as_str(), |(l, _)| l);
        match layers.iter_mut().find(|(l, _)| l == layer) {
            Some((_, idx)) => idx.push(i),
            None => layers.push((layer.to_string(), vec![i])),
        }
    }
    // The gate's letter is its glyph: lower case in the first layer, upper case in the second.
    let glyph = |i: usize| -> (char, char) {
        let letter = names[i].rsplit('.').next().and_then(|g| g.chars().next());
        let layer = layers
            .iter()
            .position(|(_, idx)| idx.contains(&i))
            .unwrap_or(0);
        match (letter, layer) {
            (Some(c), 0) => (c, c),
            (Some(c), 1) => (c.to_ascii_uppercase(), c.to_ascii_uppercase()),
            _ => series_glyph(i),
        }
    };
    let glyphs: Vec<(char, char)> = (0..names.len()).map(glyph).collect();
    let rows = (layers.len() as u16).min(inner.height.saturating_sub(5));
    let [plot, table] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(rows)]).areas(inner);
    let points: Vec<Vec<(f64, f64)>> = v.gates.iter().map(History::points).collect();
    f.render_widget(chart(theme, &points, &glyphs, log), plot);

    let largest = current
        .iter()
        .copied()
        .filter(|n| n.is_finite())
        .fold(0.0, f64::max);
    let room = usize::from(table.width.saturating_sub(1));
    let lines: Vec<Line> = layers
        .iter()
        .map(|(layer, idx)| {
            let short = layer
                .rsplit('.')
                .next()
                .map_or(layer.clone(), |k| format!("l{k}"));
            let row = |name: &str, sig: usize| -> Vec<Span> {
                let mut spans = vec![Span::raw(format!(" {name}"))];
                for &i in idx {
                    let gate = names[i].rsplit('.').next().unwrap_or("");
                    let (g, a) = glyphs[i];
                    let letter = if theme.glyph_legend() {
                        theme.chart_glyph(g, a).to_string()
                    } else {
                        gate.to_string()
                    };
                    let n = current[i];
                    let bad = flag(n, largest, 0.0).is_some();
                    let mark = if bad { theme.glyph("⚠", "!") } else { "" };
                    let style = if bad {
                        warning_style(theme)
                    } else {
                        theme.series(i)
                    };
                    spans.push(Span::styled(format!("  {letter} "), theme.series(i)));
                    spans.push(Span::styled(
                        format!("{}{mark}", crate::fmt::compact_sig(n, sig)),
                        style,
                    ));
                }
                spans
            };
            let forms = [
                row(layer, 4),
                row(&short, 4),
                row(&short, 3),
                row(&short, 2),
                row(&short, 1),
            ];
            let last = forms[4].clone();
            forms
                .into_iter()
                .find(|s| s.iter().map(Span::width).sum::<usize>() <= room)
                .map_or_else(|| Line::from(last), Line::from)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), table);
}

/// ‖∂L/∂h_t‖ against t for each layer at the latest snapshot, and per layer
/// the ratio of the oldest step's gradient to the newest's: how much of the
/// error signal reaches the start of the window.
fn through_time(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let log = app.toggles.grad_log;
    let dh = theme.glyph("‖∂L/∂h_t‖", "|dL/dh_t|");
    let suffix = if log { " (log)" } else { "" };
    let titles = match &v.flow {
        Some(fl) => vec![
            format!(" {dh} at step {}{suffix} ", fl.step),
            format!(" {dh} at step {} ", fl.step),
            format!(" {dh} ",),
        ],
        None => vec![format!(" {dh} through time{suffix} "), format!(" {dh} ")],
    };
    let block =
        theme.block(fit(titles, usize::from(area.width.saturating_sub(3))).unwrap_or_default());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(fl) = &v.flow else {
        let why = if v.info.as_ref().is_some_and(|i| i.groups.len() > 1) {
            "waiting for the first snapshot (train.flow_every)"
        } else {
            "no recurrent layers"
        };
        let room = usize::from(inner.width.saturating_sub(2));
        f.render_widget(
            Paragraph::new(format!(" {}", words(why, room, theme.glyph("…", "...")))),
            inner,
        );
        return;
    };
    let rows = (fl.time.len() as u16).min(inner.height.saturating_sub(5));
    let [plot, bars] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(rows)]).areas(inner);
    let points: Vec<Vec<(f64, f64)>> = fl
        .time
        .iter()
        .map(|(_, n)| n.iter().enumerate().map(|(t, v)| (t as f64, *v)).collect())
        .collect();
    let glyphs: Vec<(char, char)> = (0..points.len()).map(series_glyph).collect();
    let x_title = fit(
        ["time step t (0 = oldest input)", "t (0 = oldest)", "t"],
        usize::from(plot.width.saturating_sub(12)),
    )
    .unwrap_or("t");
    let chart = chart(theme, &points, &glyphs, log).x_title(x_title);
    f.render_widget(chart, plot);
    let room = usize::from(bars.width.saturating_sub(1));
    let lines: Vec<Line> = fl
        .time
        .iter()
        .enumerate()
        .map(|(i, (g, n))| {
            // The backward direction of a bidirectional layer reads from
            // t = T-1 to 0: its oldest input is at t = T-1.
            let reverse = g.ends_with(".reverse");
            let (mut first, mut last) = (
                n.first().copied().unwrap_or(0.0),
                n.last().copied().unwrap_or(0.0),
            );
            if reverse {
                std::mem::swap(&mut first, &mut last);
            }
            let ratio = if last > 0.0 { first / last } else { f64::NAN };
            let what = if ratio.is_finite() && ratio < VANISHING {
                Some("vanishing")
            } else if ratio.is_finite() && ratio > 1.0 / VANISHING {
                Some("exploding")
            } else {
                None
            };
            let name = named(theme, glyphs[i], g);
            let r = compact(ratio);
            let flags: Vec<String> = match what {
                Some(w) => warning_forms(theme, w).map(|f| format!(" {f}")).to_vec(),
                None => vec![String::new()],
            };
            let mut forms = Vec::new();
            for flag in &flags {
                for text in [
                    if reverse {
                        format!(" {name} t=T-1 / t=0: {r}")
                    } else {
                        format!(" {name} t=0 / t=T-1: {r}")
                    },
                    format!(" {name} first/last {r}"),
                    format!(" {name} {r}"),
                ] {
                    forms.push((text, flag.clone()));
                }
            }
            let (text, flag) = forms
                .iter()
                .find(|(t, fl)| t.chars().count() + fl.chars().count() <= room)
                .cloned()
                .unwrap_or_default();
            Line::from(vec![
                Span::styled(text, theme.series(i)),
                Span::styled(flag, warning_style(theme)),
            ])
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
