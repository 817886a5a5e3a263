//! Predictions for one of a few fixed validation examples: the input window,
//! the true future and the model's forecast (with a probabilistic forecast's
//! outermost interval as a shaded band around it), refreshed at each
//! evaluation.
//! Text tasks show classified sentences (validation and probes) or text
//! sampled from the model.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Part, Theme, fit_line};
use crate::events::Band;
use crate::events::{Predictions, TextKind};
use crate::fmt::{compact, fit};
use crate::frontend::tui::app::App;
use crate::frontend::tui::chart::{Chart, Kind, Series};

/// Points per forecast step along a band's edges: enough that every dot
/// column between two steps gets its lower and upper bound.
const BAND_SUBSTEPS: usize = 16;

/// The interval `band` as points for a [`Kind::Band`] series: from the last
/// observed point `join` (the band fans out from it) through each step's
/// bounds, with the edges interpolated between steps, lower and upper
/// alternately, so each dot column's lowest and highest points are its
/// bounds.
fn band_points(join: Option<(f64, f64)>, band: &Band) -> Vec<(f64, f64)> {
    let edges: Vec<(f64, f64, f64)> = join
        .map(|(x, y)| (x, y, y))
        .into_iter()
        .chain(
            band.lower
                .iter()
                .zip(&band.upper)
                .enumerate()
                .map(|(k, (lo, hi))| (k as f64 + 1.0, *lo, *hi)),
        )
        .collect();
    let mut out = Vec::new();
    for pair in edges.windows(2) {
        let ((x0, lo0, hi0), (x1, lo1, hi1)) = (pair[0], pair[1]);
        for i in 0..BAND_SUBSTEPS {
            let t = i as f64 / BAND_SUBSTEPS as f64;
            let x = x0 + t * (x1 - x0);
            out.push((x, lo0 + t * (lo1 - lo0)));
            out.push((x, hi0 + t * (hi1 - hi0)));
        }
    }
    if let Some(&(x, lo, hi)) = edges.last() {
        out.push((x, lo));
        out.push((x, hi));
    }
    out
}

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    if let Some(p) = v.predictions.as_ref().filter(|p| !p.texts.is_empty()) {
        return texts(f, p, theme, area);
    }
    let Some(p) = v.predictions.as_ref().filter(|p| !p.examples.is_empty()) else {
        let block = theme.block(" predictions ");
        let inner = block.inner(area);
        f.render_widget(block, area);
        f.render_widget(
            Paragraph::new(" shown after the first evaluation").style(theme.dim()),
            inner,
        );
        return;
    };
    let i = app.example.min(p.examples.len() - 1);
    let ex = &p.examples[i];
    let target = v.info.as_ref().map_or("", |i| i.target.as_str());
    let sep = theme.glyph(" · ", " | ");
    let (k, n, idx, step) = (i + 1, p.examples.len(), ex.index, crate::fmt::step(p.step));
    let titles = [
        format!(" predictions {target}{sep}example {k}/{n} (valid #{idx}){sep}step {step} "),
        format!(" {target}{sep}example {k}/{n} (valid #{idx}){sep}step {step} "),
        format!(" {target}{sep}example {k}/{n}{sep}step {step} "),
        format!(" example {k}/{n}{sep}step {step} "),
        format!(" example {k}/{n} "),
        format!(" {k}/{n} "),
    ];
    let block =
        theme.block(fit(titles, usize::from(area.width.saturating_sub(3))).unwrap_or_default());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [plot, legend] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);

    let w = ex.input.len() as f64;
    let input: Vec<(f64, f64)> = ex
        .input
        .iter()
        .enumerate()
        .map(|(t, y)| (t as f64 - w + 1.0, *y))
        .collect();
    // The future starts from the last observed point so the lines join up.
    let join = input.last().copied();
    let future = |vals: &[f64]| -> Vec<(f64, f64)> {
        join.into_iter()
            .chain(vals.iter().enumerate().map(|(k, y)| (k as f64 + 1.0, *y)))
            .collect()
    };
    let truth = future(&ex.truth);
    let pred = future(&ex.prediction);
    let band = ex.interval.as_ref().map(|b| band_points(join, b));
    let (truth_style, pred_style) = (theme.fg(Color::Green), theme.fg(Color::Magenta));
    let band_style = theme.fg(Color::DarkGray);
    let mut series = Vec::new();
    // Under the lines: the band first, so truth and prediction show on it.
    if let Some(points) = &band {
        series.push(
            Series::line(points, band_style, ':')
                .glyph('░')
                .kind(Kind::Band),
        );
    }
    series.extend([
        Series::line(&input, theme.dim(), '.').glyph('·'),
        Series::line(&truth, truth_style, 'o').glyph('○'),
        Series::line(&pred, pred_style, 'x').glyph('×'),
    ]);
    f.render_widget(
        Chart::new(series).mode(theme.chart_mode()).x_title("t"),
        plot,
    );

    let count = ex.truth.len().min(ex.prediction.len()).max(1);
    let mse = ex
        .truth
        .iter()
        .zip(&ex.prediction)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / count as f64;
    let glyphs = theme.glyph_legend();
    let name = |glyph: char, ascii: char, text: &str| -> String {
        if glyphs {
            format!("{} {text}", theme.chart_glyph(glyph, ascii))
        } else {
            text.to_string()
        }
    };
    let single = (ex.truth.len() == 1 && ex.prediction.len() == 1)
        .then(|| (compact(ex.truth[0]), compact(ex.prediction[0])));
    let mut parts = Vec::new();
    let (truth_name, pred_name, short_pred) = (
        name('○', 'o', "truth"),
        name('×', 'x', "prediction"),
        name('×', 'x', "pred"),
    );
    match &single {
        Some((t, p)) => {
            parts.push(Part::lossy(
                0,
                vec![
                    vec![
                        Span::styled(truth_name.clone(), truth_style),
                        Span::raw(format!(" {t}")),
                    ],
                    vec![Span::styled(truth_name.clone(), truth_style)],
                ],
                1,
            ));
            parts.push(Part::lossy(
                0,
                vec![
                    vec![
                        Span::styled(pred_name.clone(), pred_style),
                        Span::raw(format!(" {p}")),
                    ],
                    vec![
                        Span::styled(short_pred.clone(), pred_style),
                        Span::raw(format!(" {p}")),
                    ],
                    vec![Span::styled(short_pred.clone(), pred_style)],
                ],
                2,
            ));
        }
        None => {
            parts.push(Part::one(0, vec![Span::styled(truth_name, truth_style)]));
            parts.push(Part::new(
                0,
                vec![
                    vec![Span::styled(pred_name, pred_style)],
                    vec![Span::styled(short_pred, pred_style)],
                ],
            ));
        }
    }
    parts.push(Part::one(
        1,
        vec![Span::raw(format!("mse {}", compact(mse)))],
    ));
    if let Some(b) = &ex.interval {
        let level = compact((b.levels.1 - b.levels.0) * 100.0);
        let g = theme.chart_glyph('░', ':');
        let mark = if glyphs {
            format!("{g} ")
        } else {
            String::new()
        };
        parts.push(Part::new(
            1,
            vec![
                vec![Span::styled(format!("{mark}{level}% interval"), band_style)],
                vec![Span::styled(format!("{mark}{level}%"), band_style)],
            ],
        ));
    }
    if glyphs {
        let g = theme.chart_glyph('·', '.');
        parts.push(Part::one(
            2,
            vec![Span::styled(format!("{g} input"), theme.dim())],
        ));
    }
    let room = usize::from(legend.width.saturating_sub(2));
    let mut line = fit_line(parts, "  ", room);
    line.spans.insert(0, Span::raw(" "));
    f.render_widget(Paragraph::new(line), legend);
}

/// Classified sentences, one a line, or the latest generated text, wrapped.
fn texts(f: &mut Frame, p: &Predictions, theme: &Theme, area: Rect) {
    let sep = theme.glyph(" · ", " | ");
    let clean = |s: &str| theme.clean(s);
    let max_title = usize::from(area.width.saturating_sub(3));
    if let Some(sample) = p.texts.iter().find(|t| t.kind == TextKind::Sample) {
        let (step, temp) = (
            crate::fmt::step(p.step),
            compact(sample.temperature.unwrap_or(0.0)),
        );
        let titles = [
            format!(" sample at step {step}{sep}temperature {temp} "),
            format!(" sample{sep}step {step}{sep}temp {temp} "),
            format!(" step {step}{sep}temp {temp} "),
            format!(" temp {temp} "),
        ];
        let block = theme.block(fit(titles, max_title).unwrap_or_default());
        let inner = block.inner(area);
        f.render_widget(block, area);
        // The prime (dim) runs straight into the generated text.
        let prime = clean(&sample.text);
        let mut dim_left = prime.len();
        let lines: Vec<Line> = format!("{prime}{}", clean(&sample.predicted))
            .split('\n')
            .map(|part| {
                let cut = dim_left.min(part.len());
                dim_left = dim_left.saturating_sub(part.len() + 1);
                Line::from(vec![
                    Span::styled(part[..cut].to_string(), theme.dim()),
                    Span::raw(part[cut..].to_string()),
                ])
            })
            .collect();
        // One blank column before the border, so no number ends at it.
        let text_area = Rect {
            width: inner.width.saturating_sub(1),
            ..inner
        };
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text_area);
        return;
    }
    let (yes, no, probe) = (
        theme.glyph("✓", "+"),
        theme.glyph("✗", "x"),
        theme.glyph("?", "?"),
    );
    let titles = [
        format!(
            " probes {probe} and validation {yes} {no}{sep}step {} ",
            p.step
        ),
        format!(" predictions{sep}step {} ", p.step),
        format!(" step {} ", p.step),
    ];
    let block = theme.block(fit(titles, max_title).unwrap_or_default());
    let inner = block.inner(area);
    f.render_widget(block, area);
    let class_w = p
        .texts
        .iter()
        .map(|t| t.predicted.chars().count())
        .max()
        .unwrap_or(0);
    // The probes first (the sentences the experiment asks about), then
    // validation sentences; each whole, wrapped under itself, as many as fit.
    let room = usize::from(inner.width.saturating_sub(1));
    let mut order: Vec<&crate::events::TextSample> = p
        .texts
        .iter()
        .filter(|t| t.kind == TextKind::Probe)
        .collect();
    order.extend(p.texts.iter().filter(|t| t.kind != TextKind::Probe));
    let mut lines: Vec<Line> = Vec::new();
    for t in order {
        let (mark, style) = match &t.truth {
            Some(truth) if *truth == t.predicted => (yes, theme.fg(Color::Green)),
            Some(_) => (no, theme.fg(Color::Red)),
            None => (probe, theme.dim()),
        };
        let prob = format!("{:.2}", t.probability.unwrap_or(0.0));
        let class = format!("{:<class_w$}", clean(&t.predicted));
        let indent = 1 + 2 + class_w + 1 + prob.len() + 2;
        let text = clean(&t.text).replace('\n', " ");
        let wrapped = crate::fmt::wrap(&text, room.saturating_sub(indent).max(8));
        if lines.len() + wrapped.len() > usize::from(inner.height) {
            continue;
        }
        for (k, part) in wrapped.into_iter().enumerate() {
            lines.push(if k == 0 {
                Line::from(vec![
                    Span::raw(" "),
                    Span::styled(format!("{mark} "), style),
                    Span::styled(format!("{class} "), theme.series(0)),
                    Span::raw(format!("{prob}  ")),
                    Span::raw(part),
                ])
            } else {
                Line::from(vec![Span::raw(" ".repeat(indent)), Span::raw(part)])
            });
        }
    }
    f.render_widget(Paragraph::new(lines), inner);
}
