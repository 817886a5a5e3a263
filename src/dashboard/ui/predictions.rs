//! Predictions for one of a few fixed validation examples: the input window,
//! the true future and the model's forecast, refreshed at each evaluation.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{compact, Theme};
use crate::dashboard::app::App;
use crate::dashboard::chart::{Chart, Series};

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
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
