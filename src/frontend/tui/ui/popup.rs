//! Overlays: help, the tune form, the go-to-step form, the quit confirmation,
//! the end of a failed run.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::Theme;
use super::thousands;
use crate::events::Tunable;
use crate::fmt::{fit, words};
use crate::frontend::tui::app::{App, GoToForm, TuneForm};
use crate::frontend::tui::keys;

/// A centred rectangle of at most `w × h` inside `area`.
fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(r);
    r
}

pub fn help(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let hints = keys::hints(&app.feed);
    let r = centred(area, 62, hints.len() as u16 + 5);
    let mut lines: Vec<Line> = hints
        .iter()
        .map(|(k, what)| {
            let k = if theme.ascii {
                k.replace("←/→", "<-/->")
            } else {
                k.to_string()
            };
            Line::from(vec![
                Span::styled(format!(" {k:>9} "), Modifier::BOLD),
                Span::raw(format!(" {what}")),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    let axis: Vec<String> = crate::frontend::tui::view::MarkKind::ALL
        .iter()
        .map(|k| {
            let (g, a) = k.glyphs();
            format!("{} {}", if theme.ascii { a } else { g }, k.label())
        })
        .collect();
    lines.push(Line::styled(
        format!(" axis: {}", axis.join(" ")),
        theme.dim(),
    ));
    lines.push(Line::styled(" any key closes this help", theme.dim()));
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(theme.block(" keys ")), r);
}

/// What a value entered for a field means.
fn meaning(field: Tunable) -> &'static str {
    match field {
        Tunable::LearningRate => "the rate from now on; a schedule continues from it",
        Tunable::ClipGradNorm => "the largest global gradient norm; 0 = no clipping",
        Tunable::EvalEvery => "steps between evaluations; 0 = once per epoch",
        Tunable::Temperature => "the sampling temperature; 0 = the likeliest character",
    }
}

pub fn tune(f: &mut Frame, app: &App, form: &TuneForm, theme: &Theme, area: Rect) {
    let fields = app.tune_fields();
    let r = centred(area, 58, fields.len() as u16 + 9);
    let room = usize::from(r.width.saturating_sub(3));
    let (up_down, enter) = (theme.glyph("↑/↓", "up/down"), theme.glyph("↵", "Enter"));
    let sep = theme.glyph(" · ", " | ");
    let help = fit(
        [
            format!("{up_down} field{sep}type a value{sep}{enter} apply{sep}Esc cancel"),
            format!("{up_down} field{sep}{enter} apply{sep}Esc cancel"),
            format!("{enter} apply{sep}Esc cancel"),
        ],
        room,
    )
    .unwrap_or_default();
    let mut lines = vec![
        Line::styled(format!(" {help}"), theme.dim()),
        Line::from(""),
    ];
    let pending = form.edits.iter().filter(|e| e.is_some()).count();
    for (i, field) in fields.iter().enumerate() {
        let selected = i == form.field;
        let marker = if selected {
            theme.glyph("▶", ">")
        } else {
            " "
        };
        let edit = form.edits.get(i).and_then(Option::as_deref);
        let (value, style) = match (selected, edit) {
            (true, Some(text)) => (format!("{text}_"), Modifier::BOLD.into()),
            (true, None) => (
                format!("{}_", app.tune_input(*field)),
                Modifier::BOLD.into(),
            ),
            (false, Some(text)) => (
                format!("{text} {}", theme.glyph("✎", "*")),
                theme.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            (false, None) => (app.tune_value(*field), theme.dim()),
        };
        let key_style = if selected {
            Modifier::BOLD.into()
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {marker} {:<16}", field.key()), key_style),
            Span::styled(value, style),
        ]));
    }
    lines.push(Line::from(""));
    let field = fields[form.field];
    let error_style = theme.fg(Color::Red).add_modifier(Modifier::BOLD);
    let ellipsis = theme.glyph("…", "...");
    match &form.error {
        Some(e) => {
            // Two lines at most, cut between words.
            let first = words(e, room, "");
            let rest = e[first.len()..].trim_start();
            lines.push(Line::styled(format!(" {first}"), error_style));
            if !rest.is_empty() {
                lines.push(Line::styled(
                    format!(" {}", words(rest, room, ellipsis)),
                    error_style,
                ));
            }
        }
        None => {
            lines.push(Line::styled(
                format!(" {}", words(meaning(field), room, ellipsis)),
                theme.dim(),
            ));
            let now = format!("now {}", app.tune_value(field));
            let apply = match pending {
                0 | 1 => String::new(),
                n => format!("{sep}{enter} applies {n} changes"),
            };
            let clear = format!("{sep}Ctrl-U clears");
            let info = fit(
                [
                    format!("{now}{apply}{clear}"),
                    format!("{now}{apply}"),
                    now.clone(),
                ],
                room,
            )
            .unwrap_or_default();
            lines.push(Line::styled(format!(" {info}"), theme.dim()));
        }
    }
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(theme.block(" tune ")), r);
}

pub fn go_to(f: &mut Frame, app: &App, form: &GoToForm, theme: &Theme, area: Rect) {
    let r = centred(area, 40, 6);
    let last = app.playback().map_or(0, |p| p.last_step());
    let enter = theme.glyph("↵", "Enter");
    let sep = theme.glyph(" · ", " | ");
    let room = usize::from(r.width.saturating_sub(3));
    let note = match &form.error {
        Some(e) => Line::styled(
            format!(" {}", words(e, room, theme.glyph("…", "..."))),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        None => {
            let range = format!("0{}{}", theme.glyph("–", "-"), thousands(last));
            let text = fit(
                [
                    format!("{range}{sep}{enter} go{sep}Esc cancel"),
                    format!("{range}{sep}{enter} go"),
                    range.clone(),
                ],
                room,
            )
            .unwrap_or_default();
            Line::styled(format!(" {text}"), theme.dim())
        }
    };
    let lines = vec![
        Line::from(""),
        Line::from(vec![
            Span::raw(" step "),
            Span::styled(format!("{}_", form.input), Modifier::BOLD),
        ]),
        Line::from(""),
        note,
    ];
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(theme.block(" jump to step ")),
        r,
    );
}

pub fn confirm_quit(f: &mut Frame, theme: &Theme, area: Rect) {
    let r = centred(area, 34, 3);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" stop training? ", Modifier::BOLD),
            Span::raw("(y/n)"),
        ]))
        .block(theme.block("")),
        r,
    );
}

pub fn outcome(f: &mut Frame, app: &App, theme: &Theme, area: Rect) {
    let v = app.view();
    let message = v
        .outcome
        .as_ref()
        .and_then(|o| o.message.clone())
        .unwrap_or_else(|| "the run ended with an error".into());
    let title = format!(" {} ", v.state.label().to_lowercase());
    let r = centred(area, 64, 7);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(vec![
            Line::styled(format!(" {message}"), theme.fg(Color::Red)),
            Line::from(""),
            Line::styled(" the curves stay browsable; q quits", theme.dim()),
        ])
        .wrap(Wrap { trim: false })
        .block(theme.block(title).border_style(theme.fg(Color::Red))),
        r,
    );
}
