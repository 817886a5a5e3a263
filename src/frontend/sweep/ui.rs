//! Drawing the sweep board: a header, the table of trials, the overlay of
//! the configurations' validation curves, and the keys.
//!
//! ```text
//!  rnnlab sweep · quickstart-lr · 12 trials: 4 completed 2 running 6 planned   RUNNING
//!  trial 007 completed at step 132: valid_loss 0.00657
//! ┌ trials · sorted by best ───────────────────────────────────────────────────┐
//! │    #  status     step  learning_rate  units  loss          best      rank  │
//! │ ▶ 006 completed   132          0.003     20  ▇▅▃▂▂▁▁▁   0.0052        1  │
//! └────────────────────────────────────────────────────────────────────────────┘
//! ┌ valid_loss by configuration (log) · colour: rank ─────────────────────────┐
//! │ mean of each configuration's seeds, min–max band                          │
//! └────────────────────────────────────────────────────────────────────────────┘
//!  ↑/↓ select  ↵ open  s sort  r reverse  c colour  space pause  x stop  q quit
//! ```

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::board::{Board, ColorBy, Column};
use crate::fmt::{compact, short_key, short_value};
use crate::frontend::tui::chart::{Chart, Series};
use crate::frontend::tui::ui::{MIN_SIZE, Theme};

/// Whether the board is asking to quit, and what the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    ConfirmQuit,
}

/// Draws the board.
pub fn render(f: &mut Frame, b: &Board, theme: &Theme, overlay: Overlay) {
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!("terminal too small: need {}x{}", MIN_SIZE.0, MIN_SIZE.1);
        f.render_widget(Paragraph::new(msg), area);
        return;
    }
    let rows_wanted = b.rows.len() as u16 + 3;
    // The table takes what the chart (at least 8 rows) leaves.
    let table_h = rows_wanted.min(area.height.saturating_sub(3 + 8)).max(5);
    let [head, activity, table, chart, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(table_h),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    header(f, head, activity, b, theme);
    trials(f, table, b, theme);
    overlay_chart(f, chart, b, theme);
    footer(f, foot, b, theme);
    match overlay {
        Overlay::None => {}
        Overlay::Help => {
            let mut help = HELP.to_vec();
            if b.detaches {
                let last = help.len() - 2;
                help[last] = ("q", "leave the board (the sweep goes on)");
                help.pop();
            }
            popup(f, area, theme, "keys", &help)
        }
        Overlay::ConfirmQuit => popup(
            f,
            area,
            theme,
            "quit",
            &[(
                "",
                "stop the sweep? every running trial writes its final checkpoint (y/n)",
            )],
        ),
    }
}

/// The board's keys, for the help screen.
pub const HELP: [(&str, &str); 10] = [
    ("↑/↓ k/j", "select a trial"),
    ("Enter", "open the trial's dashboard (Esc comes back)"),
    ("s", "sort by the next column"),
    ("r", "reverse the sort"),
    ("c", "colour the curves by rank or by a swept key"),
    ("space", "pause / resume every running trial"),
    ("x", "stop the selected trial (resumable)"),
    ("?", "this help"),
    ("q", "quit (asks to stop the sweep)"),
    ("Ctrl-C", "stop the sweep and quit"),
];

fn header(f: &mut Frame, head: Rect, activity: Rect, b: &Board, theme: &Theme) {
    let sweep = &b.dir.resolved.sweep;
    let counts = b.counts();
    let mut parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let state = if b.finished {
        ("FINISHED", Color::Cyan)
    } else if b.paused {
        ("PAUSED", Color::Yellow)
    } else {
        ("RUNNING", Color::Green)
    };
    let dot = theme.glyph("·", "-");
    let fits = |prefix: &str| {
        let room = (head.width as usize).saturating_sub(prefix.chars().count() + state.0.len() + 2);
        parts.join(" ").chars().count() <= room
    };
    let mut prefix = format!(
        " rnnlab sweep {dot} {} {dot} {} trials: ",
        sweep.name,
        b.rows.len()
    );
    if !fits(&prefix) {
        prefix = format!(" {} {dot} {} trials: ", sweep.name, b.rows.len());
    }
    let room = (head.width as usize).saturating_sub(prefix.chars().count() + state.0.len() + 2);
    while parts.join(" ").chars().count() > room && parts.len() > 1 {
        parts.pop();
    }
    let text = parts.join(" ");
    let pad = room.saturating_sub(text.chars().count());
    let line = Line::from(vec![
        Span::styled(prefix, theme.fg(Color::Cyan)),
        Span::raw(text),
        Span::raw(" ".repeat(pad + 1)),
        Span::styled(
            state.0,
            theme
                .fg(state.1)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
    ]);
    f.render_widget(Paragraph::new(line), head);
    let latest = b
        .message
        .clone()
        .or_else(|| b.log.last().cloned())
        .or_else(|| best_line(b))
        .unwrap_or_default();
    f.render_widget(
        Paragraph::new(Span::styled(format!(" {latest}"), theme.dim())),
        activity,
    );
}

/// The best trial so far, as `best: trial 004 (learning_rate=0.01 units=10) valid_loss 0.02972`.
fn best_line(b: &Board) -> Option<String> {
    let t = b.ranks.iter().position(|r| *r == Some(1))?;
    let params: Vec<String> = b.rows[t]
        .params
        .iter()
        .map(|(k, v)| format!("{}={}", short_key(k), short_value(v)))
        .collect();
    Some(format!(
        "best: trial {t:03} ({}) {} {}",
        params.join(" "),
        b.dir.resolved.sweep.metric,
        compact(b.best(t)?)
    ))
}

/// A sparkline of values, `width` characters (ASCII: a few levels of digits).
fn spark(values: &[f64], width: usize, theme: &Theme) -> String {
    const BARS: [&str; 8] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
    const ASCII: [&str; 8] = ["_", ".", "-", "~", "=", "+", "*", "#"];
    let v: Vec<f64> = values
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .map(f64::ln)
        .collect();
    if v.is_empty() {
        return " ".repeat(width);
    }
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let n = v.len();
    (0..width)
        .map(|i| {
            let x = v[(i * n / width).min(n - 1)];
            let k = if hi > lo {
                ((x - lo) / (hi - lo) * 7.0).round() as usize
            } else {
                3
            };
            if theme.ascii {
                ASCII[k.min(7)]
            } else {
                BARS[k.min(7)]
            }
        })
        .collect()
}

fn trials(f: &mut Frame, area: Rect, b: &Board, theme: &Theme) {
    let sweep = &b.dir.resolved.sweep;
    let sort_name = match b.sort.0 {
        Column::Trial => "trial".to_string(),
        Column::Status => "status".into(),
        Column::Step => "step".into(),
        Column::Param(k) => short_key(&sweep.params[k].0).to_string(),
        Column::Best => "best".into(),
    };
    let arrow = if b.sort.1 {
        theme.glyph("▼", "v")
    } else {
        theme.glyph("▲", "^")
    };
    let block = theme.block(format!(
        " trials {} sorted by {sort_name} {arrow} ",
        theme.glyph("·", "-")
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    // Columns: (header, right-aligned, width, cell of a trial).
    type Cell<'a> = Box<dyn Fn(usize) -> String + 'a>;
    let mut cols: Vec<(String, bool, usize, Cell)> = vec![
        ("#".into(), true, 3, Box::new(|t| format!("{t:03}"))),
        (
            "status".into(),
            false,
            10,
            Box::new(|t| b.rows[t].status.clone()),
        ),
        (
            "step".into(),
            true,
            6,
            Box::new(|t| b.rows[t].steps.map_or("–".into(), |s| s.to_string())),
        ),
    ];
    let fixed_tail: Vec<(String, bool, usize, Cell)> = vec![
        (
            "best".into(),
            true,
            8,
            Box::new(|t| b.best(t).map_or("–".into(), compact)),
        ),
        (
            "rank".into(),
            true,
            4,
            Box::new(|t| b.ranks[t].map_or("–".into(), |r| r.to_string())),
        ),
    ];
    let mut used: usize = cols
        .iter()
        .chain(&fixed_tail)
        .map(|c| c.2 + 1)
        .sum::<usize>()
        + 2;
    let width = inner.width as usize;
    for (k, (key, _)) in sweep.params.iter().enumerate() {
        let name = short_key(key).to_string();
        let w = b
            .rows
            .iter()
            .map(|r| {
                r.params
                    .get(k)
                    .map_or(1, |p| short_value(&p.1).chars().count())
            })
            .max()
            .unwrap_or(1)
            .max(name.chars().count())
            .min(16);
        if used + w + 1 > width {
            break;
        }
        used += w + 1;
        cols.push((
            name,
            true,
            w,
            Box::new(move |t| {
                let v = b.rows[t]
                    .params
                    .get(k)
                    .map_or("?".into(), |p| short_value(&p.1));
                if v.chars().count() > w {
                    v.chars().take(w).collect()
                } else {
                    v
                }
            }),
        ));
    }
    if used + SPARK_W < width {
        cols.push((
            "loss".into(),
            false,
            SPARK_W,
            Box::new(|t| spark(&b.curves[t].spark, SPARK_W, theme)),
        ));
    }
    cols.extend(fixed_tail);
    let cell = |s: &str, w: usize, right: bool| {
        let n = s.chars().count();
        let pad = " ".repeat(w.saturating_sub(n));
        if right {
            format!("{pad}{s}")
        } else {
            format!("{s}{pad}")
        }
    };
    let mut lines = vec![Line::styled(
        format!(
            "  {}",
            cols.iter()
                .map(|(h, r, w, _)| cell(h, *w, *r))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        theme.dim(),
    )];
    let visible = (inner.height as usize).saturating_sub(1);
    let first = b.selected.saturating_sub(visible.saturating_sub(1));
    for (pos, &t) in b.order.iter().enumerate().skip(first).take(visible) {
        let selected = pos == b.selected;
        let marker = if selected {
            theme.glyph("▶ ", "> ")
        } else {
            "  "
        };
        let text = cols
            .iter()
            .map(|(_, r, w, f)| cell(&f(t), *w, *r))
            .collect::<Vec<_>>()
            .join(" ");
        let mut style = status_style(&b.rows[t].status, theme);
        if selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        lines.push(Line::from(vec![
            Span::raw(marker),
            Span::styled(text, style),
        ]));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

const SPARK_W: usize = 12;

fn status_style(status: &str, theme: &Theme) -> Style {
    match status {
        "running" => theme.fg(Color::Green),
        "completed" => Style::new(),
        "pruned" | "planned" | "paused" => theme.dim(),
        "failed" | "diverged" | "interrupted" => theme.fg(Color::Red),
        _ => theme.fg(Color::Yellow),
    }
}

/// The style and ASCII glyph of a rank.
fn rank_style(rank: Option<usize>, theme: &Theme) -> (Style, char) {
    match rank {
        Some(1) => (theme.fg(Color::Green).add_modifier(Modifier::BOLD), '*'),
        Some(2) => (theme.fg(Color::Cyan), '+'),
        Some(3) => (theme.fg(Color::Yellow), 'x'),
        _ => (theme.dim(), '.'),
    }
}

fn overlay_chart(f: &mut Frame, area: Rect, b: &Board, theme: &Theme) {
    let sweep = &b.dir.resolved.sweep;
    let groups = b.groups();
    // Minimised metrics on a log axis, unless one is at or below 0 (a
    // Gaussian head's negative log-likelihood), which it would drop.
    let log = !sweep.maximize && !groups.iter().any(|g| g.mean.iter().any(|p| p.1 <= 0.0));
    let by = match b.color_by {
        ColorBy::Rank => "rank".to_string(),
        ColorBy::Param(k) => short_key(&sweep.params[k].0).to_string(),
    };
    let dot = theme.glyph("·", "-");
    let seeds = sweep.seeds.len();
    let scale = if log { " (log)" } else { "" };
    let metric = &sweep.metric;
    let titles = if seeds > 1 {
        vec![
            format!(
                " {metric} by configuration{scale} {dot} colour: {by} {dot} mean of {seeds} seeds, min–max band "
            ),
            format!(" {metric}{scale} {dot} colour: {by} {dot} {seeds} seeds: mean, band "),
            format!(" {metric} {dot} colour: {by} "),
        ]
    } else {
        vec![
            format!(" {metric} by configuration{scale} {dot} colour: {by} "),
            format!(" {metric} {dot} colour: {by} "),
        ]
    };
    let title = titles
        .iter()
        .find(|t| t.chars().count() + 2 <= area.width as usize)
        .unwrap_or(&titles[titles.len() - 1])
        .clone();
    let block = theme.block(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    // The values of the key colouring the curves, in order of appearance.
    let mut values: Vec<String> = Vec::new();
    let style_of = |g: &super::board::Group, values: &mut Vec<String>| -> (Style, char) {
        match b.color_by {
            ColorBy::Rank => rank_style(g.rank, theme),
            ColorBy::Param(k) => {
                let v = b.rows[g.first]
                    .params
                    .get(k)
                    .map(|p| p.1.clone())
                    .unwrap_or_default();
                let i = values.iter().position(|x| *x == v).unwrap_or_else(|| {
                    values.push(v);
                    values.len() - 1
                });
                (theme.series(i), ['*', '+', 'x', '#', '%', '@'][i % 6])
            }
        }
    };
    let styles: Vec<(Style, char)> = groups.iter().map(|g| style_of(g, &mut values)).collect();
    let mut series = Vec::new();
    for (g, (style, _)) in groups.iter().zip(&styles) {
        if let Some((lo, hi)) = &g.band {
            for edge in [lo, hi] {
                series.push(Series::line(edge, style.add_modifier(Modifier::DIM), '.'));
            }
        }
    }
    // The best last, so they draw on top.
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(groups[i].rank.unwrap_or(usize::MAX)));
    for i in order {
        series.push(Series::line(&groups[i].mean, styles[i].0, styles[i].1));
    }
    let chart = Chart::new(series)
        .mode(theme.chart_mode())
        .log_y(log)
        .x_title("step");
    f.render_widget(chart, inner);
}

fn footer(f: &mut Frame, area: Rect, b: &Board, theme: &Theme) {
    let pause = if b.paused {
        "space resume"
    } else {
        "space pause"
    };
    let mut hints = vec!["↑/↓ select", "↵ open", "s sort", "r reverse", "c colour"];
    if !b.finished {
        hints.extend([pause, "x stop"]);
    }
    hints.extend([if b.detaches { "q leave" } else { "q quit" }, "? help"]);
    let mut text = String::new();
    for h in hints {
        let h = if theme.ascii {
            h.replace('↑', "^").replace('↓', "v").replace('↵', "Enter")
        } else {
            h.to_string()
        };
        if text.chars().count() + h.chars().count() + 2 > area.width as usize {
            break;
        }
        text.push(' ');
        text.push_str(&h);
        text.push(' ');
    }
    f.render_widget(Paragraph::new(Span::styled(text, theme.dim())), area);
}

fn popup(f: &mut Frame, area: Rect, theme: &Theme, title: &str, lines: &[(&str, &str)]) {
    let w = (area.width.saturating_sub(4)).min(72);
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    f.render_widget(Clear, rect);
    let block = theme.block(format!(" {title} "));
    let text: Vec<Line> = lines
        .iter()
        .map(|(k, v)| {
            Line::from(vec![
                Span::styled(format!(" {k:<8}"), theme.fg(Color::Cyan)),
                Span::raw(*v),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: true }),
        block.inner(rect),
    );
    f.render_widget(block, rect);
}
