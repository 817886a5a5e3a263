//! Overlays: help, the tune form, the go-to-step form, the quit confirmation,
//! the end of a failed run.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::Theme;
use super::thousands;
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
    let r = centred(area, 52, hints.len() as u16 + 4);
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
    lines.push(Line::styled(" any key closes this help", theme.dim()));
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(theme.block(" keys ")), r);
}

pub fn tune(f: &mut Frame, app: &App, form: &TuneForm, theme: &Theme, area: Rect) {
    let fields = app.tune_fields();
    let r = centred(area, 56, fields.len() as u16 + 7);
    let (up_down, enter) = (theme.glyph("↑/↓", "up/down"), theme.glyph("↵", "Enter"));
    let mut lines = vec![Line::styled(
        format!(" {up_down} field · type a value · {enter} apply · Esc cancel"),
        theme.dim(),
    )];
    lines.push(Line::from(""));
    for (i, field) in fields.iter().enumerate() {
        let selected = i == form.field;
        let marker = if selected {
            theme.glyph("▶", ">")
        } else {
            " "
        };
        let value = if selected {
            format!("{}_", form.input)
        } else {
            app.tune_value(*field)
        };
        let style = if selected {
            Modifier::BOLD.into()
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {marker} {:<16}", field.key()), style),
            Span::styled(value, style),
        ]));
    }
    lines.push(Line::from(""));
    if let Some(e) = &form.error {
        lines.push(Line::styled(
            format!(" {e}"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    } else {
        let field = fields[form.field];
        lines.push(Line::styled(
            format!(" now: {}", app.tune_value(field)),
            theme.dim(),
        ));
    }
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(theme.block(" tune ")), r);
}

pub fn go_to(f: &mut Frame, app: &App, form: &GoToForm, theme: &Theme, area: Rect) {
    let r = centred(area, 40, 6);
    let last = app.playback().map_or(0, |p| p.last_step());
    let enter = theme.glyph("↵", "Enter");
    let note = match &form.error {
        Some(e) => Line::styled(
            format!(" {e}"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        None => Line::styled(
            format!(
                " 0{}{} · {enter} go · Esc cancel",
                theme.glyph("–", "-"),
                thousands(last)
            ),
            theme.dim(),
        ),
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
    f.render_widget(Paragraph::new(lines).block(theme.block(" go to ")), r);
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
