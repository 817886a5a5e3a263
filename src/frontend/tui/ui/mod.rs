//! Rendering: one pure function per panel, no I/O, no state changes.
//!
//! Full layout (80×24 and larger):
//! ```text
//! ┌ header: name · stack · status ──────────────────────────────────────────┐
//! │ step / total · epoch · samples/s · elapsed < ETA · lr · clip · eval      │
//! ├ loss ──────────────────────────────┬ gradient norms ─────────────────────┤
//! │ raw (dim) + smoothed, valid, best  │ one line per layer, clip threshold, │
//! │ markers at tune/pause/checkpoint   │ current value per layer as a bar    │
//! ├ predictions ───────────────────────┼ events ─────────────────────────────┤
//! │ input window, truth, prediction    │ start, pause, tune a → b, ...       │
//! └────────────────────────────────────┴─────────────────────────────────────┘
//!  key hints / message
//! ```
//! The full layout needs 78×22, so an 80×24 terminal in tmux or screen (an
//! 80×23 pane) and a 79-column one get it; smaller terminals show the
//! header, the loss and the footer; below 40×12 a "terminal too small"
//! screen. Every text that can be too long has shorter forms chosen by
//! width ([`crate::fmt::fit`], [`fit_line`]), and keeps a blank column
//! before a panel's border: a number is never cut.

mod footer;
mod grads;
mod header;
mod loss;
mod notes;
mod popup;
mod predictions;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::app::{App, Mode, RunState};
use super::chart;

/// Smallest terminal the dashboard draws in at all.
pub const MIN_SIZE: (u16, u16) = (40, 12);
/// Size of the full layout.
pub const FULL_SIZE: (u16, u16) = (78, 22);

/// How to draw: glyphs and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// ASCII only (no Braille, box drawing or symbols).
    pub ascii: bool,
    /// Colours allowed (false with `NO_COLOR`).
    pub color: bool,
}

impl Theme {
    /// ASCII when asked or when the locale is not UTF-8; colour unless `NO_COLOR`.
    pub fn detect(force_ascii: bool) -> Theme {
        Theme {
            ascii: force_ascii || !crate::frontend::tui::terminal::locale_is_utf8(),
            color: crate::frontend::tui::terminal::colour_wanted(),
        }
    }
}

const ASCII_BORDER: border::Set = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

impl Theme {
    /// A foreground colour, or plain text without colour.
    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    /// De-emphasised text (the raw loss under the smoothed one).
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    /// A bordered panel with a title.
    pub fn block<'a>(&self, title: impl Into<Line<'a>>) -> Block<'a> {
        let block = Block::bordered().title(title);
        if self.ascii {
            block.border_set(ASCII_BORDER)
        } else {
            block
        }
    }

    /// ASCII; one glyph per cell without colour (so series stay apart);
    /// else Braille.
    pub fn chart_mode(&self) -> chart::Mode {
        if self.ascii {
            chart::Mode::Ascii
        } else if !self.color {
            chart::Mode::Glyph
        } else {
            chart::Mode::Braille
        }
    }

    /// Whether series are told apart by glyph (ASCII, or no colour): then
    /// legends name the glyphs.
    pub fn glyph_legend(&self) -> bool {
        self.ascii || !self.color
    }

    /// A chart glyph as drawn in this theme: `ascii` in ASCII mode.
    pub fn chart_glyph(&self, glyph: char, ascii: char) -> char {
        if self.ascii { ascii } else { glyph }
    }

    /// The style of a run state in the header.
    pub fn state(&self, s: RunState) -> Style {
        let c = match s {
            RunState::Starting | RunState::Stopping => Color::Gray,
            RunState::Running => Color::Green,
            RunState::Paused => Color::Yellow,
            RunState::Finished => Color::Cyan,
            RunState::Stopped => Color::Magenta,
            RunState::Diverged | RunState::Failed => Color::Red,
        };
        self.fg(c).add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    /// Colours for series in order (layers, then head).
    pub fn series(&self, i: usize) -> Style {
        const COLORS: [Color; 6] = [
            Color::Cyan,
            Color::Magenta,
            Color::Green,
            Color::Yellow,
            Color::Blue,
            Color::Red,
        ];
        self.fg(COLORS[i % COLORS.len()])
    }

    /// Text from the run (names, the stack, notes) as this theme can show
    /// it: control characters blanked; in ASCII mode `→` as `->`, `×` as
    /// `x`, `·` as `-`, and any other non-ASCII character as `?`.
    pub fn clean(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\n' => out.push('\n'),
                c if c.is_control() => out.push(' '),
                c if !self.ascii || c.is_ascii() => out.push(c),
                '→' => out.push_str("->"),
                '×' => out.push('x'),
                '·' => out.push('-'),
                _ => out.push('?'),
            }
        }
        out
    }

    /// A glyph, or its ASCII stand-in.
    pub fn glyph(&self, unicode: &'static str, ascii: &'static str) -> &'static str {
        if self.ascii { ascii } else { unicode }
    }
}

/// Draws the whole screen.
pub fn render(f: &mut Frame, app: &App, theme: &Theme) {
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        too_small(f, area);
        return;
    }
    let full = is_full(area);
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(f, app, theme, head);
    footer::render(f, app, theme, foot, full);
    if full {
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(body);
        let [loss_area, grad_area] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        let [pred_area, notes_area] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(bottom);
        loss::render(f, app, theme, loss_area);
        grads::render(f, app, theme, grad_area);
        predictions::render(f, app, theme, pred_area);
        notes::render(f, app, theme, notes_area);
    } else {
        loss::render(f, app, theme, body);
    }
    let view = app.view();
    if matches!(view.state, RunState::Diverged | RunState::Failed) && app.mode == Mode::Normal {
        popup::outcome(f, app, theme, body);
    }
    match &app.mode {
        Mode::Normal => {}
        Mode::Help => popup::help(f, app, theme, area),
        Mode::Tune(form) => popup::tune(f, app, form, theme, area),
        Mode::GoTo(form) => popup::go_to(f, app, form, theme, area),
        Mode::ConfirmQuit => popup::confirm_quit(f, theme, area),
    }
}

/// Whether `area` gets the full layout.
pub fn is_full(area: Rect) -> bool {
    area.width >= FULL_SIZE.0 && area.height >= FULL_SIZE.1
}

/// One part of a line: its forms, longest first, each a list of spans; how
/// many of them say everything (the rest say less, e.g. a label without its
/// value); and its rank (0 kept longest; higher ranks give way first).
pub struct Part<'a> {
    pub rank: u8,
    pub forms: Vec<Vec<Span<'a>>>,
    pub lossless: usize,
}

impl<'a> Part<'a> {
    /// A part whose forms all say the same, in fewer columns.
    pub fn new(rank: u8, forms: Vec<Vec<Span<'a>>>) -> Part<'a> {
        let lossless = forms.len();
        Part {
            rank,
            forms,
            lossless,
        }
    }

    /// A part with one form.
    pub fn one(rank: u8, spans: Vec<Span<'a>>) -> Part<'a> {
        Part::new(rank, vec![spans])
    }

    /// A part whose forms after the first `lossless` say less.
    pub fn lossy(rank: u8, forms: Vec<Vec<Span<'a>>>, lossless: usize) -> Part<'a> {
        Part {
            rank,
            lossless: lossless.clamp(1, forms.len().max(1)),
            forms,
        }
    }
}

fn spans_width(spans: &[Span]) -> usize {
    spans.iter().map(Span::width).sum()
}

/// The parts joined by `sep` in at most `max` columns. While too wide: first
/// the least important part that has a shorter form saying as much takes it;
/// then the least important part takes a form saying less, or is left out
/// when it has none. Parts keep their order.
pub fn fit_line<'a>(parts: Vec<Part<'a>>, sep: &str, max: usize) -> Line<'a> {
    let mut form: Vec<Option<usize>> = parts
        .iter()
        .map(|p| (!p.forms.is_empty()).then_some(0))
        .collect();
    let sep_w = crate::fmt::width(sep);
    loop {
        let shown: Vec<(usize, usize)> = form
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.map(|f| (i, f)))
            .collect();
        let width: usize = shown
            .iter()
            .map(|&(i, f)| spans_width(&parts[i].forms[f]))
            .sum::<usize>()
            + sep_w * shown.len().saturating_sub(1);
        if width <= max {
            let mut spans = Vec::new();
            for (k, &(i, f)) in shown.iter().enumerate() {
                if k > 0 {
                    spans.push(Span::raw(sep.to_string()));
                }
                spans.extend(parts[i].forms[f].iter().cloned());
            }
            return Line::from(spans);
        }
        let rank = |&&(i, _): &&(usize, usize)| (parts[i].rank, i);
        let shorter = shown
            .iter()
            .filter(|&&(i, f)| f + 1 < parts[i].lossless)
            .max_by_key(rank);
        let least = shown.iter().max_by_key(rank);
        match (shorter, least) {
            (Some(&(i, f)), _) => form[i] = Some(f + 1),
            (None, Some(&(i, f))) if f + 1 < parts[i].forms.len() => form[i] = Some(f + 1),
            (None, Some(&(i, _))) => form[i] = None,
            (None, None) => return Line::default(),
        }
    }
}

fn too_small(f: &mut Frame, area: Rect) {
    let text = vec![
        Line::from("terminal too small"),
        Line::from(format!("{}x{}", area.width, area.height)),
        Line::from(format!("need {}x{}", MIN_SIZE.0, MIN_SIZE.1)),
        Line::from(format!("(full: {}x{})", FULL_SIZE.0, FULL_SIZE.1)),
    ];
    let top = area.height.saturating_sub(text.len() as u16) / 2;
    let inner = Rect {
        y: area.y + top,
        height: area.height.saturating_sub(top),
        ..area
    };
    f.render_widget(
        Paragraph::new(text)
            .alignment(ratatui::layout::Alignment::Center)
            .wrap(Wrap { trim: true }),
        inner,
    );
}

pub use crate::fmt::thousands;
