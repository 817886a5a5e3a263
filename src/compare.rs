//! `rnnlab compare RUN…`: several runs side by side, as long-format CSV, as
//! JSON, or on a terminal screen with their curves overlaid.
//!
//! Files are read as they are on disk, so a run still being written can be
//! compared: a last line without its newline (being written) is ignored.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use serde::Serialize;

use crate::dashboard::chart::{Chart, Series};
use crate::dashboard::history::{Ema, History};
use crate::dashboard::terminal::Tui;
use crate::dashboard::ui::{compact, Theme, MIN_SIZE};
use crate::runs::{self, SummaryFields};

/// EMA weight of the smoothed curves (as in the dashboard).
const SMOOTHING: f64 = 0.9;
/// Points kept per curve for drawing.
const CURVE_CAPACITY: usize = 2048;
/// A run's curve character in ASCII mode, by run index.
const ASCII_GLYPHS: [char; 8] = ['*', '+', 'x', '#', '%', '@', '&', '='];
/// Legend lines shown at most (further runs are still drawn).
const LEGEND_MAX: usize = 8;

/// One training step of a run.
struct Step {
    step: u64,
    loss: f64,
    grad_norm: f64,
}

/// One run as recorded on disk.
struct Run {
    name: String,
    status: String,
    summary: SummaryFields,
    steps: Vec<Step>,
    /// (step, validation loss), in file order.
    evals: Vec<(u64, f64)>,
}

impl Run {
    /// The best validation loss and its step: the summary's, else the lowest in eval.csv.
    fn best(&self) -> Option<(u64, f64)> {
        match (self.summary.best_step, self.summary.best_valid_loss) {
            (Some(step), Some(loss)) => Some((step, loss)),
            _ => self
                .evals
                .iter()
                .copied()
                .filter(|(_, v)| v.is_finite())
                .min_by(|a, b| a.1.total_cmp(&b.1)),
        }
    }

    fn step_count(&self) -> Option<u64> {
        self.summary
            .steps
            .or_else(|| self.steps.last().map(|s| s.step))
    }
}

/// Loads the runs, naming each by its directory (by its path when names repeat).
fn load_runs(paths: &[PathBuf]) -> Result<Vec<Run>> {
    let names: Vec<String> = paths.iter().map(|p| dir_name(p)).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for n in &names {
        *counts.entry(n).or_default() += 1;
    }
    paths
        .iter()
        .zip(&names)
        .map(|(path, name)| {
            let name = if counts[name.as_str()] > 1 {
                path.display().to_string()
            } else {
                name.clone()
            };
            load_run(path, name)
        })
        .collect()
}

fn dir_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            let full = path.canonicalize().ok()?;
            Some(full.file_name()?.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| path.display().to_string())
}

fn load_run(path: &Path, name: String) -> Result<Run> {
    if !path.is_dir() {
        bail!("{}: no such run directory", path.display());
    }
    if !runs::is_run_dir(path) {
        bail!(
            "{}: not a run directory (it has no experiment.toml or summary.json)",
            path.display()
        );
    }
    let steps = read_table(&path.join("metrics.csv"), &["step", "loss", "grad_norm"])?
        .into_iter()
        .map(|(step, v)| Step {
            step,
            loss: v[0],
            grad_norm: v[1],
        })
        .collect();
    let evals = read_table(&path.join("eval.csv"), &["step", "valid_loss"])?
        .into_iter()
        .map(|(step, v)| (step, v[0]))
        .collect();
    let summary = runs::read_summary(path);
    Ok(Run {
        name,
        status: runs::status_label(path, &summary),
        summary,
        steps,
        evals,
    })
}

/// Reads the `step` column and the other named `columns` of a CSV file, one
/// row per complete line. A missing or empty file has no rows.
fn read_table(path: &Path, columns: &[&str]) -> Result<Vec<(u64, Vec<f64>)>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let complete = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(&bytes[..0], |end| &bytes[..=end]);
    if complete.is_empty() {
        return Ok(Vec::new());
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(complete);
    let headers = reader
        .headers()
        .with_context(|| format!("cannot read the header of {}", path.display()))?
        .clone();
    let index = |col: &str| {
        headers
            .iter()
            .position(|h| h == col)
            .with_context(|| format!("{}: no `{col}` column", path.display()))
    };
    let step_at = index("step")?;
    let at: Vec<usize> = columns[1..]
        .iter()
        .map(|c| index(c))
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record =
            record.with_context(|| format!("{}:{line}: unreadable row", path.display()))?;
        let field = |k: usize, col: &str| {
            record
                .get(k)
                .map(str::trim)
                .with_context(|| format!("{}:{line}: the row has no `{col}` value", path.display()))
        };
        let step = field(step_at, "step")?;
        let step: u64 = step.parse().with_context(|| {
            format!(
                "{}:{line}: `step` is not a whole number: {step:?}",
                path.display()
            )
        })?;
        let mut values = Vec::with_capacity(at.len());
        for (&k, col) in at.iter().zip(&columns[1..]) {
            let v = field(k, col)?;
            values.push(v.parse::<f64>().with_context(|| {
                format!("{}:{line}: `{col}` is not a number: {v:?}", path.display())
            })?);
        }
        rows.push((step, values));
    }
    Ok(rows)
}

/// Long-format CSV of the runs' curves: `run,step,loss,valid_loss,grad_norm`,
/// one row per recorded step (fields empty where a file has no value there).
pub fn compare_csv(runs: &[PathBuf]) -> Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["run", "step", "loss", "valid_loss", "grad_norm"])?;
    for run in load_runs(runs)? {
        type Row = (Option<f64>, Option<f64>, Option<f64>);
        let mut rows: BTreeMap<u64, Row> = BTreeMap::new();
        for s in &run.steps {
            let row = rows.entry(s.step).or_default();
            row.0 = Some(s.loss);
            row.2 = Some(s.grad_norm);
        }
        for &(step, valid) in &run.evals {
            rows.entry(step).or_default().1 = Some(valid);
        }
        let text = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for (step, (loss, valid, grad)) in rows {
            out.write_record([
                run.name.clone(),
                step.to_string(),
                text(loss),
                text(valid),
                text(grad),
            ])?;
        }
    }
    let bytes = out.into_inner().context("cannot write the CSV")?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One run in [`compare_json`].
#[derive(Serialize)]
struct RunJson<'a> {
    name: &'a str,
    status: &'a str,
    steps: Option<u64>,
    wall_s: Option<f64>,
    best_valid_loss: Option<f64>,
    best_step: Option<u64>,
    final_loss: Option<f64>,
    test: &'a BTreeMap<String, f64>,
}

/// The runs' figures as a JSON array: name, status, steps, wall time, best
/// validation loss and its step, final training loss, test metrics.
pub fn compare_json(runs: &[PathBuf]) -> Result<String> {
    let runs = load_runs(runs)?;
    let out: Vec<RunJson> = runs
        .iter()
        .map(|r| {
            let best = r.best();
            RunJson {
                name: &r.name,
                status: &r.status,
                steps: r.step_count(),
                wall_s: r.summary.wall_s,
                best_valid_loss: best.map(|b| b.1),
                best_step: best.map(|b| b.0),
                final_loss: r.steps.last().map(|s| s.loss),
                test: &r.summary.test,
            }
        })
        .collect();
    Ok(serde_json::to_string_pretty(&out)? + "\n")
}

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
}

/// Runs prepared for [`render`].
pub struct Comparison {
    runs: Vec<Curves>,
}

impl Comparison {
    /// Reads the runs' directories; the error names a missing or unreadable one.
    pub fn load(runs: &[PathBuf]) -> Result<Comparison> {
        let runs = load_runs(runs)?
            .into_iter()
            .map(|r| {
                let smooth = |value: fn(&Step) -> f64| {
                    let (mut ema, mut h) = (Ema::new(SMOOTHING), History::new(CURVE_CAPACITY));
                    for s in &r.steps {
                        h.push(s.step as f64, ema.update(value(s)));
                    }
                    h.points()
                };
                Curves {
                    loss: smooth(|s| s.loss),
                    grad: smooth(|s| s.grad_norm),
                    valid: r.evals.iter().map(|&(s, v)| (s as f64, v)).collect(),
                    steps: r.step_count(),
                    wall_s: r.summary.wall_s,
                    best: r.best(),
                    final_loss: r.steps.last().map(|s| s.loss),
                    name: r.name,
                    status: r.status,
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
    let mut series: Vec<Series<'a>> = data
        .runs
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            points: curve(c),
            style: theme.series(i),
            ascii: ASCII_GLYPHS[i % ASCII_GLYPHS.len()],
        })
        .collect();
    let mut chart_best: Option<((f64, f64), Style)> = None;
    if valid {
        for (i, c) in data.runs.iter().enumerate() {
            // One series per point: the chart joins consecutive points of a series.
            series.extend(c.valid.chunks(1).map(|p| Series {
                points: p,
                style: theme.series(i),
                ascii: 'o',
            }));
            if let Some((step, loss)) = c.best {
                if chart_best.is_none_or(|((_, b), _)| loss < b) {
                    chart_best = Some(((step as f64, loss), theme.series(i)));
                }
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
            c.wall_s.map_or_else(unknown, runs::hms),
        )),
    ])
}

/// Shows the comparison full-screen until `q`, `Esc` or Ctrl-C; `l` toggles
/// a log or linear y axis. The terminal is restored on exit and on panic.
pub fn show(runs: &[PathBuf], theme: Theme) -> Result<()> {
    let data = Comparison::load(runs)?;
    let mut tui = Tui::enter(None).context("cannot take over the terminal")?;
    let mut log_y = true;
    let mut dirty = true;
    loop {
        if dirty {
            tui.terminal
                .draw(|f| render(f, &data, &theme, log_y))
                .context("cannot draw")?;
            dirty = false;
        }
        if !event::poll(Duration::from_millis(250))? {
            continue;
        }
        match event::read()? {
            TermEvent::Key(key) if key.kind != KeyEventKind::Release => match key.code {
                KeyCode::Char('q') | KeyCode::Esc => break,
                KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => break,
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
    tui.leave();
    Ok(())
}
