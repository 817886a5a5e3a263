//! `rnnlab compare RUN…` on a terminal: several runs' curves overlaid.
//! Runs are read through [`crate::run::read::named_runs`], so a run still
//! being written can be compared.

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::fmt::{compact, fit, hms};
use crate::frontend::FrontendError;
use crate::frontend::tui::chart::{Chart, Kind, Series};
use crate::frontend::tui::history::{Ema, History};
use crate::frontend::tui::terminal::Tui;
use crate::frontend::tui::ui::{MIN_SIZE, Theme};
use crate::run::read;

type Result<T> = std::result::Result<T, FrontendError>;

/// EMA weight of the smoothed curves (as in the dashboard).
const SMOOTHING: f64 = 0.9;
/// Points kept per curve for drawing.
const CURVE_CAPACITY: usize = 2048;
/// A run's curve character in ASCII mode, by run index.
const ASCII_GLYPHS: [char; 8] = ['*', 'o', 'x', '#', '%', '@', '&', '='];
/// A run's curve glyph without colour (`NO_COLOR`), by run index.
const GLYPHS: [char; 8] = ['•', '○', '×', '◆', '▪', '△', '□', '◇'];
/// Legend lines shown at most (further runs are still drawn).
const LEGEND_MAX: usize = 8;

/// One run ready to draw.
struct Curves {
    name: String,
    status: String,
    steps: Option<u64>,
    wall_s: Option<f64>,
    best: Option<(u64, f64)>,
    final_loss: Option<f64>,
    /// EMA-smoothed training loss, decimated.
    loss: Vec<(f64, f64)>,
    valid: Vec<(f64, f64)>,
    /// EMA-smoothed global gradient norm, decimated.
    grad: Vec<(f64, f64)>,
    /// Runs grouped by seed: the smoothed curves' minimum and maximum over
    /// the group (the band behind the mean).
    loss_band: Option<Band>,
    grad_band: Option<Band>,
}

/// A band's lower and upper edge.
type Band = (Vec<(f64, f64)>, Vec<(f64, f64)>);

/// The EMA-smoothed values of `value` at each step of a run.
fn smoothed(steps: &[(u64, f32, f32)], value: fn(&(u64, f32, f32)) -> f32) -> Vec<(u64, f64)> {
    let mut ema = Ema::new(SMOOTHING);
    steps
        .iter()
        .map(|s| (s.0, ema.update(f64::from(value(s)))))
        .collect()
}

/// Points decimated to what a chart needs.
fn decimated(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut h = History::new(CURVE_CAPACITY);
    for (x, y) in points {
        h.push(x, y);
    }
    h.points()
}

/// Runs prepared for [`render`].
pub struct Comparison {
    runs: Vec<Curves>,
}

impl Comparison {
    /// Reads the runs' directories; the error names a missing or unreadable one.
    pub fn load(runs: &[PathBuf]) -> Result<Comparison> {
        let runs = read::named_runs(runs)?
            .into_iter()
            .map(|r| {
                let smooth = |value: fn(&(u64, f32, f32)) -> f32| {
                    let (mut ema, mut h) = (Ema::new(SMOOTHING), History::new(CURVE_CAPACITY));
                    for s in &r.curves.steps {
                        h.push(s.0 as f64, ema.update(f64::from(value(s))));
                    }
                    h.points()
                };
                Curves {
                    loss: smooth(|s| s.1),
                    grad: smooth(|s| s.2),
                    loss_band: None,
                    grad_band: None,
                    valid: r
                        .curves
                        .evals
                        .iter()
                        .map(|e| (e.step as f64, e.valid_loss))
                        .collect(),
                    steps: r.step_count(),
                    wall_s: r.summary.wall_s,
                    best: r.best(),
                    final_loss: r.final_loss(),
                    name: r.name,
                    status: r.status,
                }
            })
            .collect();
        Ok(Comparison { runs })
    }
}

impl Comparison {
    /// Runs grouped by seed: each group's mean curves with a min–max band,
    /// its validation losses averaged at each evaluation step.
    pub fn load_groups(runs: &[PathBuf]) -> Result<Comparison> {
        let groups = read::by_seed(read::named_runs(runs)?);
        let runs = groups
            .into_iter()
            .map(|g| {
                // The mean, minimum and maximum of the members' smoothed curves, step by step.
                let stats = |value: fn(&(u64, f32, f32)) -> f32| {
                    let mut at: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
                    for r in &g.runs {
                        for (step, v) in smoothed(&r.curves.steps, value) {
                            at.entry(step).or_default().push(v);
                        }
                    }
                    let spread: Vec<(f64, read::Spread)> = at
                        .into_iter()
                        .filter_map(|(s, v)| Some((s as f64, read::Spread::of(v)?)))
                        .collect();
                    (
                        decimated(spread.iter().map(|(x, s)| (*x, s.mean))),
                        decimated(spread.iter().map(|(x, s)| (*x, s.min))),
                        decimated(spread.iter().map(|(x, s)| (*x, s.max))),
                    )
                };
                let (loss, loss_min, loss_max) = stats(|s| s.1);
                let (grad, grad_min, grad_max) = stats(|s| s.2);
                let mut valid: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
                for r in &g.runs {
                    for e in &r.curves.evals {
                        valid.entry(e.step).or_default().push(e.valid_loss);
                    }
                }
                let valid: Vec<(f64, f64)> = valid
                    .into_iter()
                    .filter_map(|(s, v)| Some((s as f64, read::Spread::of(v)?.mean)))
                    .collect();
                let best = valid
                    .iter()
                    .copied()
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(s, v)| (s as u64, v));
                let mean = |f: &dyn Fn(&read::NamedRun) -> Option<f64>| {
                    read::Spread::of(g.runs.iter().filter_map(f)).map(|s| s.mean)
                };
                Curves {
                    name: format!("{} ×{}", g.label, g.runs.len()),
                    status: format!("seeds {}", g.seeds.join(",")),
                    steps: g.runs.iter().filter_map(|r| r.step_count()).max(),
                    wall_s: mean(&|r| r.summary.wall_s),
                    best,
                    final_loss: mean(&|r| r.final_loss()),
                    loss,
                    valid,
                    grad,
                    loss_band: Some((loss_min, loss_max)),
                    grad_band: Some((grad_min, grad_max)),
                }
            })
            .collect();
        Ok(Comparison { runs })
    }
}

/// Draws the comparison: loss curves with validation points, gradient norms, a legend.
pub fn render(f: &mut Frame, data: &Comparison, theme: &Theme, log_y: bool) {
    // A log axis would drop losses at or below 0 (a Gaussian head's negative
    // log-likelihood): then both charts are linear, as the header says.
    let log_y = log_y
        && !data
            .runs
            .iter()
            .any(|c| c.loss.iter().chain(&c.valid).any(|p| p.1 <= 0.0));
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!("terminal too small: need {}x{}", MIN_SIZE.0, MIN_SIZE.1);
        f.render_widget(Paragraph::new(msg), area);
        return;
    }
    let legend_rows = data.runs.len().clamp(1, LEGEND_MAX) as u16;
    let [head, loss_area, grad_area, legend_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(60),
        Constraint::Percentage(40),
        Constraint::Length(legend_rows + 2),
    ])
    .areas(area);

    let scale = if log_y { "log" } else { "linear" };
    let dot = theme.glyph("·", "-");
    let room = usize::from(area.width.saturating_sub(1));
    let runs = format!(" rnnlab compare {dot} {} runs", data.runs.len());
    let keys = fit(
        ["   l log/linear  q quit", "  l log  q quit", "  q quit"],
        room.saturating_sub(runs.chars().count()),
    )
    .unwrap_or("");
    let head_line = Line::from(vec![
        Span::styled(runs, theme.fg(ratatui::style::Color::Cyan)),
        Span::styled(keys, theme.dim()),
    ]);
    f.render_widget(Paragraph::new(head_line), head);

    let max_title = usize::from(area.width.saturating_sub(3));
    let title = fit(
        [
            format!(" training loss ({scale}, EMA {SMOOTHING}) {dot} validation points "),
            format!(" training loss ({scale}, EMA {SMOOTHING}) "),
            format!(" loss ({scale}) "),
            " loss ".to_string(),
        ],
        max_title,
    )
    .unwrap_or_default();
    let block = theme.block(title);
    f.render_widget(
        chart(data, theme, log_y, |c| &c.loss, true),
        block.inner(loss_area),
    );
    f.render_widget(block, loss_area);

    let title = fit(
        [
            format!(" gradient norm ({scale}, EMA {SMOOTHING}) "),
            format!(" gradient norm ({scale}) "),
            " gradients ".to_string(),
        ],
        max_title,
    )
    .unwrap_or_default();
    let block = theme.block(title);
    f.render_widget(
        chart(data, theme, log_y, |c| &c.grad, false),
        block.inner(grad_area),
    );
    f.render_widget(block, grad_area);

    let block = theme.block(" runs ");
    let inner = block.inner(legend_area);
    let shown = if data.runs.len() > LEGEND_MAX {
        LEGEND_MAX - 1
    } else {
        LEGEND_MAX
    };
    let rows: Vec<&Curves> = data.runs.iter().take(shown).collect();
    let mut lines = legend(&rows, theme, usize::from(inner.width.saturating_sub(1)));
    if data.runs.len() > shown {
        let more = format!(
            " {} {} more runs",
            theme.glyph("…", "..."),
            data.runs.len() - shown
        );
        lines.push(Line::styled(more, theme.dim()));
    }
    f.render_widget(Paragraph::new(lines), inner);
    f.render_widget(block, legend_area);
}

/// One chart of every run's `curve`; with `valid`, the validation losses as
/// points and the best one overall highlighted.
fn chart<'a>(
    data: &'a Comparison,
    theme: &Theme,
    log_y: bool,
    curve: fn(&Curves) -> &Vec<(f64, f64)>,
    valid: bool,
) -> Chart<'a> {
    // Bands first (dim, behind), then the lines.
    let mut series: Vec<Series<'a>> = Vec::new();
    for (i, c) in data.runs.iter().enumerate() {
        let band = if valid { &c.loss_band } else { &c.grad_band };
        if let Some((lo, hi)) = band {
            for edge in [lo, hi] {
                series.push(Series::line(
                    edge,
                    theme.series(i).add_modifier(ratatui::style::Modifier::DIM),
                    '.',
                ));
            }
        }
    }
    series.extend(data.runs.iter().enumerate().map(|(i, c)| {
        Series::line(
            curve(c),
            theme.series(i),
            ASCII_GLYPHS[i % ASCII_GLYPHS.len()],
        )
        .glyph(GLYPHS[i % GLYPHS.len()])
    }));
    let mut chart_best: Option<((f64, f64), Style)> = None;
    if valid {
        for (i, c) in data.runs.iter().enumerate() {
            series.push(
                Series::line(
                    &c.valid,
                    theme.series(i),
                    ASCII_GLYPHS[i % ASCII_GLYPHS.len()],
                )
                .glyph(GLYPHS[i % GLYPHS.len()])
                .kind(Kind::Points),
            );
            if let Some((step, loss)) = c.best
                && chart_best.is_none_or(|((_, b), _)| loss < b)
            {
                chart_best = Some(((step as f64, loss), theme.series(i)));
            }
        }
    }
    let mut chart = Chart::new(series)
        .mode(theme.chart_mode())
        .log_y(log_y)
        .x_title("step");
    if let Some((point, style)) = chart_best {
        chart = chart.highlight(point, style);
    }
    chart
}

/// The legend, one line per run, as a table in at most `max` columns: the
/// least important columns take shorter forms, then go (wall time, final
/// loss, status, steps), so every line keeps the run's name and best.
fn legend<'a>(runs: &[&Curves], theme: &Theme, max: usize) -> Vec<Line<'a>> {
    let unknown = || "?".to_string();
    // Per column: its rank and, per form, each run's cell.
    let mut columns: Vec<(u8, Vec<Vec<String>>)> = Vec::new();
    let cells = |f: &dyn Fn(&Curves) -> String| runs.iter().map(|c| f(c)).collect::<Vec<_>>();
    columns.push((2, vec![cells(&|c| c.status.clone())]));
    columns.push((
        1,
        vec![
            cells(&|c| format!("steps {}", c.steps.map_or_else(unknown, |s| s.to_string()))),
            cells(&|c| c.steps.map_or_else(unknown, |s| s.to_string())),
        ],
    ));
    columns.push((
        0,
        vec![
            cells(&|c| {
                format!(
                    "best valid {}",
                    c.best
                        .map_or_else(unknown, |(s, l)| format!("{} @{s}", compact(l)))
                )
            }),
            cells(&|c| {
                format!(
                    "best {}",
                    c.best
                        .map_or_else(unknown, |(s, l)| format!("{} @{s}", compact(l)))
                )
            }),
            cells(&|c| format!("best {}", c.best.map_or_else(unknown, |(_, l)| compact(l)))),
        ],
    ));
    columns.push((
        3,
        vec![
            cells(&|c| format!("final loss {}", c.final_loss.map_or_else(unknown, compact))),
            cells(&|c| format!("final {}", c.final_loss.map_or_else(unknown, compact))),
        ],
    ));
    columns.push((
        4,
        vec![cells(&|c| {
            format!("wall {}", c.wall_s.map_or_else(unknown, hms))
        })],
    ));
    let width = |cells: &[String]| cells.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let name_w = runs
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    let swatch_w = 4;
    let mut form: Vec<Option<usize>> = vec![Some(0); columns.len()];
    loop {
        let total = swatch_w
            + name_w
            + columns
                .iter()
                .zip(&form)
                .filter_map(|((_, forms), f)| f.map(|f| 2 + width(&forms[f])))
                .sum::<usize>();
        if total <= max {
            break;
        }
        let least = (0..columns.len())
            .filter(|&i| form[i].is_some())
            .max_by_key(|&i| columns[i].0);
        match least {
            Some(i) if form[i].is_some_and(|f| f + 1 < columns[i].1.len()) => {
                form[i] = form[i].map(|f| f + 1)
            }
            Some(i) => form[i] = None,
            None => break,
        }
    }
    runs.iter()
        .enumerate()
        .map(|(i, c)| {
            let swatch = if theme.glyph_legend() {
                let g = if theme.ascii {
                    ASCII_GLYPHS[i % ASCII_GLYPHS.len()]
                } else {
                    GLYPHS[i % GLYPHS.len()]
                };
                format!(" {g}{g} ")
            } else {
                " ━━ ".to_string()
            };
            let mut spans = vec![
                Span::styled(swatch, theme.series(i)),
                Span::styled(format!("{:name_w$}", c.name), theme.series(i)),
            ];
            let mut rest = String::new();
            for ((_, forms), f) in columns.iter().zip(&form) {
                if let Some(f) = f {
                    let w = width(&forms[*f]);
                    rest.push_str(&format!("  {:<w$}", forms[*f][i]));
                }
            }
            spans.push(Span::raw(rest.trim_end().to_string()));
            Line::from(spans)
        })
        .collect()
}

/// The comparison of runs grouped by seed, full-screen (see [`show`]).
pub fn show_groups(runs: &[PathBuf], theme: Theme) -> Result<()> {
    view(Comparison::load_groups(runs)?, theme)
}

/// Shows the comparison full-screen until `q`, `Esc` or Ctrl-C; `l` toggles
/// a log or linear y axis. The terminal is restored on exit and on panic.
pub fn show(runs: &[PathBuf], theme: Theme) -> Result<()> {
    view(Comparison::load(runs)?, theme)
}

fn view(data: Comparison, theme: Theme) -> Result<()> {
    let mut tui = Tui::enter(None)?;
    let mut log_y = true;
    let mut dirty = true;
    loop {
        if dirty {
            tui.draw(|f| render(f, &data, &theme, log_y))?;
            dirty = false;
        }
        if !tui.input_ready(Duration::from_millis(250))? {
            continue;
        }
        // The terminal library may hold several events from one read.
        while event::poll(Duration::ZERO)? {
            match event::read()? {
                TermEvent::Key(key) if key.kind != KeyEventKind::Release => match key.code {
                    KeyCode::Char('q') | KeyCode::Esc => {
                        tui.leave();
                        return Ok(());
                    }
                    KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                        tui.leave();
                        return Ok(());
                    }
                    KeyCode::Char('l') => {
                        log_y = !log_y;
                        dirty = true;
                    }
                    _ => {}
                },
                TermEvent::Resize(..) => dirty = true,
                _ => {}
            }
        }
    }
}
