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

use crate::fmt::{compact, hms};
use crate::frontend::FrontendError;
use crate::frontend::tui::chart::{Chart, Series};
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
const ASCII_GLYPHS: [char; 8] = ['*', '+', 'x', '#', '%', '@', '&', '='];
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
    let head_line = Line::from(vec![
        Span::styled(" rnnlab compare", theme.fg(ratatui::style::Color::Cyan)),
        Span::raw(format!(
            " {} {} runs",
            theme.glyph("·", "-"),
            data.runs.len()
        )),
        Span::styled("   l log/linear  q quit", theme.dim()),
    ]);
    f.render_widget(Paragraph::new(head_line), head);

    let dot = theme.glyph("·", ".");
    let title = format!(" training loss ({scale}, EMA {SMOOTHING}) {dot} validation points ");
    let block = theme.block(title);
    f.render_widget(
        chart(data, theme, log_y, |c| &c.loss, true),
        block.inner(loss_area),
    );
    f.render_widget(block, loss_area);

    let block = theme.block(format!(" gradient norm ({scale}, EMA {SMOOTHING}) "));
    f.render_widget(
        chart(data, theme, log_y, |c| &c.grad, false),
        block.inner(grad_area),
    );
    f.render_widget(block, grad_area);

    let block = theme.block(" runs ");
    let width = |f: fn(&Curves) -> &str| data.runs.iter().map(|c| f(c).chars().count()).max();
    let widths = (
        width(|c| &c.name).unwrap_or(0),
        width(|c| &c.status).unwrap_or(0),
    );
    let shown = if data.runs.len() > LEGEND_MAX {
        LEGEND_MAX - 1
    } else {
        LEGEND_MAX
    };
    let mut lines: Vec<Line> = data
        .runs
        .iter()
        .enumerate()
        .take(shown)
        .map(|(i, c)| legend_line(i, c, theme, widths))
        .collect();
    if data.runs.len() > shown {
        let more = format!(
            " {} {} more runs",
            theme.glyph("…", "..."),
            data.runs.len() - shown
        );
        lines.push(Line::styled(more, theme.dim()));
    }
    f.render_widget(Paragraph::new(lines), block.inner(legend_area));
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
                series.push(Series {
                    points: edge,
                    style: theme.series(i).add_modifier(ratatui::style::Modifier::DIM),
                    ascii: '.',
                });
            }
        }
    }
    series.extend(data.runs.iter().enumerate().map(|(i, c)| Series {
        points: curve(c),
        style: theme.series(i),
        ascii: ASCII_GLYPHS[i % ASCII_GLYPHS.len()],
    }));
    let mut chart_best: Option<((f64, f64), Style)> = None;
    if valid {
        for (i, c) in data.runs.iter().enumerate() {
            // One series per point: the chart joins consecutive points of a series.
            series.extend(c.valid.chunks(1).map(|p| Series {
                points: p,
                style: theme.series(i),
                ascii: 'o',
            }));
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

/// A run's legend line; `widths` of the name and status columns.
fn legend_line<'a>(i: usize, c: &Curves, theme: &Theme, widths: (usize, usize)) -> Line<'a> {
    let swatch = if theme.ascii {
        format!(" {} ", ASCII_GLYPHS[i % ASCII_GLYPHS.len()])
    } else {
        " ━━ ".to_string()
    };
    let unknown = || "?".to_string();
    let best = c
        .best
        .map_or_else(unknown, |(s, l)| format!("{} @{s}", compact(l)));
    let (name_w, status_w) = widths;
    Line::from(vec![
        Span::styled(swatch, theme.series(i)),
        Span::styled(format!("{:name_w$}", c.name), theme.series(i)),
        Span::raw(format!(
            "  {:status_w$}  steps {:>6}  best valid {best:<14}  final loss {:<7}  wall {}",
            c.status,
            c.steps.map_or_else(unknown, |s| s.to_string()),
            c.final_loss.map_or_else(unknown, compact),
            c.wall_s.map_or_else(unknown, hms),
        )),
    ])
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
