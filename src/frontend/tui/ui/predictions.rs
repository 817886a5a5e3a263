//! Predictions for one of a few fixed validation examples: the input window,
//! the true future and the model's forecast, refreshed at each evaluation.
//! Text tasks show classified sentences (validation and probes) or text
//! sampled from the model.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::events::{Predictions, TextKind};
use crate::fmt::compact;
use crate::frontend::tui::app::App;
use crate::frontend::tui::chart::{Chart, Series};

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
    let block = theme.block(format!(
        " predictions {target}{sep}example {}/{} (valid #{}){sep}step {} ",
        i + 1,
        p.examples.len(),
        ex.index,
        p.step
    ));
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
    let series = vec![
        Series {
            points: &input,
            style: theme.dim(),
            ascii: '.',
        },
        Series {
            points: &truth,
            style: theme.fg(Color::Green),
            ascii: 'o',
        },
        Series {
            points: &pred,
            style: theme.fg(Color::Magenta),
            ascii: 'x',
        },
    ];
    f.render_widget(
        Chart::new(series).mode(theme.chart_mode()).x_title("t"),
        plot,
    );

    let n = ex.truth.len().min(ex.prediction.len()).max(1);
    let mse = ex
        .truth
        .iter()
        .zip(&ex.prediction)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / n as f64;
    let mut spans = vec![
        Span::styled(" truth", theme.fg(Color::Green)),
        Span::styled("  prediction", theme.fg(Color::Magenta)),
        Span::raw(format!("  mse {}", compact(mse))),
    ];
    if ex.truth.len() == 1 && ex.prediction.len() == 1 {
        spans.push(Span::raw(format!(
            "  ({} vs {})",
            compact(ex.truth[0]),
            compact(ex.prediction[0])
        )));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), legend);
}

/// Classified sentences, one a line, or the latest generated text, wrapped.
fn texts(f: &mut Frame, p: &Predictions, theme: &Theme, area: Rect) {
    let sep = theme.glyph(" · ", " | ");
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '\n' => '\n',
                c if c.is_control() => ' ',
                c if theme.ascii && !c.is_ascii() => '?',
                c => c,
            })
            .collect()
    };
    if let Some(sample) = p.texts.iter().find(|t| t.kind == TextKind::Sample) {
        let title = format!(
            " sample at step {}{sep}temperature {} ",
            p.step,
            compact(sample.temperature.unwrap_or(0.0))
        );
        let block = theme.block(title);
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
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        return;
    }
    let block = theme.block(format!(" predictions{sep}step {} ", p.step));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let class_w = p
        .texts
        .iter()
        .map(|t| t.predicted.chars().count())
        .max()
        .unwrap_or(0);
    let (yes, no) = (theme.glyph("✓", "+"), theme.glyph("✗", "x"));
    let lines: Vec<Line> = p
        .texts
        .iter()
        .map(|t| {
            let (mark, style) = match (&t.truth, t.kind) {
                (Some(truth), _) if *truth == t.predicted => (yes, theme.fg(Color::Green)),
                (Some(_), _) => (no, theme.fg(Color::Red)),
                _ => (" ", theme.dim()),
            };
            let kind = if t.kind == TextKind::Probe {
                "probe"
            } else {
                "valid"
            };
            Line::from(vec![
                Span::styled(format!(" {kind} "), theme.dim()),
                Span::styled(format!("{mark} "), style),
                Span::styled(format!("{:<class_w$} ", t.predicted), theme.series(0)),
                Span::raw(format!("{:.2}  ", t.probability.unwrap_or(0.0))),
                Span::raw(clean(&t.text).replace('\n', " ")),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}
