//! The events panel, newest at the bottom: what the user did (tune, pause,
//! resume, checkpoint, stop) and warnings stay; periodic checkpoints and new
//! best evaluations take one line each, the latest.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::Theme;
use crate::events::TuneChange;
use crate::fmt::{clock, compact, fit, words};
use crate::frontend::tui::app::{App, View};
use crate::frontend::tui::view::{Entry, EntryKind, MarkKind};

/// The glyph (and ASCII stand-in) and colour of an entry.
fn look(kind: EntryKind) -> ((char, char), Color) {
    match kind {
        EntryKind::Start => (('●', '*'), Color::Cyan),
        EntryKind::Action(k) => (
            k.glyphs(),
            match k {
                MarkKind::Tune => Color::Yellow,
                MarkKind::Pause | MarkKind::Resume => Color::Blue,
                MarkKind::Checkpoint => Color::Green,
                MarkKind::Stop => Color::Magenta,
            },
        ),
        EntryKind::Warning | EntryKind::EarlyStop => (('⚠', '!'), Color::Magenta),
        EntryKind::Diverged => (('⚠', '!'), Color::Red),
        EntryKind::Saved(_) => (('·', '.'), Color::Green),
        EntryKind::Best => (('◆', '@'), Color::LightRed),
        EntryKind::Finish => (('✓', '+'), Color::Cyan),
    }
}

/// `step-528.safetensors (requested)` → `step-528`.
fn stem(name: &str) -> &str {
    let name = name.split(' ').next().unwrap_or(name);
    name.strip_suffix(".safetensors").unwrap_or(name)
}

/// An entry's text in forms that fit `max` columns (the longest that does).
fn text(e: &Entry, v: &View, theme: &Theme, max: usize) -> String {
    let arrow = theme.glyph("→", "->");
    let ellipsis = theme.glyph("…", "...");
    let prose = |head: &str, detail: &str| -> String {
        let head_w = crate::fmt::width(head);
        let detail = theme.clean(detail).replace('\n', " ");
        match words(&detail, max.saturating_sub(head_w), ellipsis) {
            rest if rest.is_empty() || rest == ellipsis => {
                fit([head.trim_end_matches([':', ' '])], max)
                    .unwrap_or_default()
                    .to_string()
            }
            rest => format!("{head}{rest}"),
        }
    };
    let forms: Vec<String> = match e.kind {
        EntryKind::Start => return prose("start ", &e.detail),
        EntryKind::Action(MarkKind::Tune) => match e.detail.parse::<TuneChange>() {
            Ok(c) => {
                let (old, new) = (compact(c.old), compact(c.new));
                vec![
                    format!("tune {} {old} {arrow} {new}", c.key),
                    format!("{} {old} {arrow} {new}", c.key),
                    format!("{} {old} {arrow} {new}", c.key.short()),
                    format!("{} {arrow} {new}", c.key.short()),
                    "tune".into(),
                ]
            }
            Err(()) => return prose("tune ", &e.detail),
        },
        EntryKind::Action(MarkKind::Pause) => vec!["paused".into()],
        EntryKind::Action(MarkKind::Resume) if e.detail.is_empty() => vec!["resumed".into()],
        EntryKind::Action(MarkKind::Resume) if e.detail.starts_with("after ") => {
            vec![format!("resumed {} paused", e.detail), "resumed".into()]
        }
        EntryKind::Action(MarkKind::Resume) => {
            let from = theme.clean(e.detail.trim_start_matches("run resumed from "));
            let from = from.as_str();
            vec![
                format!("resumed from {from}"),
                format!("resumed {}", stem(from)),
                "resumed".into(),
            ]
        }
        EntryKind::Action(MarkKind::Checkpoint) => {
            let name = theme.clean(e.detail.split(' ').next().unwrap_or(""));
            let name = name.as_str();
            vec![
                format!("checkpoint {name}"),
                format!("checkpoint {}", stem(name)),
                stem(name).to_string(),
                "checkpoint".into(),
            ]
        }
        EntryKind::Action(MarkKind::Stop) => match e.detail.as_str() {
            "" | "stopped" => vec!["stopped".into()],
            detail => return prose("stopped: ", detail),
        },
        EntryKind::Warning => {
            if let Some(lr) = e.detail.strip_prefix("plateau: learning rate now ") {
                let lr = lr.parse().map_or(lr.to_string(), compact);
                vec![
                    format!("plateau: learning rate now {lr}"),
                    format!("plateau: lr {lr}"),
                    "plateau".into(),
                ]
            } else {
                return prose("", &e.detail);
            }
        }
        EntryKind::Saved(n) => {
            let name = theme.clean(&e.detail);
            let name = stem(&name);
            vec![
                format!("checkpoint {name} ({n} so far)"),
                format!("saved {name} ({n} so far)"),
                format!("saved {name} ({n})"),
                format!("saved {name}"),
                "saved".into(),
            ]
        }
        EntryKind::Best => match &v.best_eval {
            Some(b) if b.step == e.step => {
                let loss = compact(b.valid_loss);
                let metrics: Vec<String> = b
                    .metrics
                    .iter()
                    .filter(|(k, _)| crate::frontend::tui::view::baseline_of(k).is_none())
                    .map(|(k, v)| format!("{k} {}", compact(*v)))
                    .collect();
                let mut forms = Vec::new();
                for n in (1..=metrics.len()).rev() {
                    forms.push(format!("best valid {loss} ({})", metrics[..n].join(", ")));
                }
                forms.extend([format!("best valid {loss}"), format!("best {loss}")]);
                forms
            }
            // An earlier best, overtaken (the line moved on): say no more.
            _ => vec!["best".into()],
        },
        EntryKind::Finish => match e.detail.as_str() {
            "" => vec!["finished".into()],
            detail => vec![
                format!("finished ({})", theme.clean(detail)),
                "finished".into(),
            ],
        },
        EntryKind::Diverged => return prose("diverged: ", &e.detail),
        EntryKind::EarlyStop => return prose("early stop: ", &e.detail),
    };
    fit(forms, max).unwrap_or_default()
}

/// The entries shown in `rows` lines, oldest first: how the run ended, the
/// latest new best and periodic checkpoint, then the latest user actions
/// and warnings, then the start, as many as fit.
fn select(log: &std::collections::VecDeque<Entry>, rows: usize) -> Vec<&Entry> {
    if log.len() <= rows {
        return log.iter().collect();
    }
    let tier = |e: &Entry| match e.kind {
        EntryKind::Finish | EntryKind::Diverged | EntryKind::EarlyStop => 0,
        EntryKind::Best | EntryKind::Saved(_) => 1,
        EntryKind::Action(_) | EntryKind::Warning => 2,
        EntryKind::Start => 3,
    };
    let mut picked: Vec<usize> = Vec::new();
    for t in 0..=3 {
        for i in (0..log.len()).rev() {
            if picked.len() < rows && tier(&log[i]) == t {
                picked.push(i);
            }
        }
    }
    picked.sort_unstable();
    picked.into_iter().map(|i| &log[i]).collect()
}

pub fn render(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let block = theme.block(" events ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    // Once the run is over, its test result takes the last line.
    let result = result_line(app, theme, usize::from(inner.width.saturating_sub(1)));
    let rows = usize::from(inner.height).saturating_sub(usize::from(result.is_some()));
    // The result says the run finished (as does the header): no line for both.
    let log: std::collections::VecDeque<Entry> = v
        .log
        .iter()
        .filter(|e| result.is_none() || e.kind != EntryKind::Finish)
        .cloned()
        .collect();
    let shown = select(&log, rows);
    // One blank column before the border.
    let room = usize::from(inner.width.saturating_sub(1));
    let step_w = shown
        .iter()
        .map(|e| e.step.to_string().len())
        .max()
        .unwrap_or(1);
    // The time column when there is room for it and a useful text beside it.
    let with_time = room >= step_w + 7 + 2 + 34;
    let lines: Vec<Line> = shown
        .iter()
        .map(|e| {
            let ((g, a), color) = look(e.kind);
            let mut spans = vec![Span::styled(format!("{:>step_w$} ", e.step), theme.dim())];
            if with_time {
                spans.push(Span::styled(
                    format!("{:>6} ", clock(e.wall_s)),
                    theme.dim(),
                ));
            }
            let glyph = if theme.ascii { a } else { g };
            spans.push(Span::styled(format!("{glyph} "), theme.fg(color)));
            let used: usize = spans.iter().map(Span::width).sum();
            let body = text(e, v, theme, room.saturating_sub(used));
            spans.push(Span::raw(body));
            Line::from(spans)
        })
        .collect();
    let mut lines = lines;
    lines.extend(result);
    f.render_widget(Paragraph::new(lines), inner);
}

/// `test rmse 0.0359 · naive 0.1438`, once the run is over and its test
/// figures are known, in the forms that fit `max` columns.
fn result_line<'a>(app: &App, theme: &Theme, max: usize) -> Option<Line<'a>> {
    let (head, refs) = app.result.split_first()?;
    if !app.view().state.is_over() {
        return None;
    }
    let sep = theme.glyph(" · ", " | ");
    let value = |(k, v): &(String, f64)| format!("{k} {}", compact(*v));
    let mut forms = Vec::new();
    for n in (0..=refs.len()).rev() {
        let mut parts = vec![value(head)];
        parts.extend(refs[..n].iter().map(value));
        forms.push(format!(" {}", parts.join(sep)));
    }
    let text = fit(forms, max)?;
    Some(Line::styled(
        text,
        theme
            .fg(Color::Cyan)
            .add_modifier(ratatui::style::Modifier::BOLD),
    ))
}
