//! A line-chart widget for the dashboard: Braille or ASCII plotting, a linear or log y
//! axis labelled at nice values, event markers, a threshold line and a highlighted point.
//!
//! ratatui's own `Chart` has no log axes, labels only its bounds and has no ASCII-only
//! marker, hence this widget.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::Widget;

/// Plotted values are clamped to ±this so that differences of bounds stay finite.
const LIMIT: f64 = f64::MAX / 4.0;
/// Positions are clamped to ±this many axis spans, keeping grid coordinates finite.
const FAR: f64 = 1e12;
/// Narrower areas get just the plot, without axes or labels.
const MIN_AXES_WIDTH: u16 = 12;
/// Lower areas get just the plot, without axes or labels.
const MIN_AXES_HEIGHT: u16 = 4;
/// Shown when no series has a plottable point.
const NO_DATA: &str = "no data yet";
/// Braille dot bits by [row][column] within a cell.
const BRAILLE_BITS: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];

/// How the chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// 2×4 dots per cell (U+2800 block) and box-drawing axes.
    #[default]
    Braille,
    /// One character per cell; only ASCII characters anywhere (plot, axes, labels).
    Ascii,
}

/// The characters of one [`Mode`].
struct Glyphs {
    /// Plot dots per cell, horizontally and vertically.
    sub: (usize, usize),
    braille: bool,
    v_axis: char,
    y_tick: char,
    corner: char,
    h_axis: char,
    x_tick: char,
    marker: char,
    hline: char,
    highlight: char,
}

impl Mode {
    fn glyphs(self) -> Glyphs {
        match self {
            Mode::Braille => Glyphs {
                sub: (2, 4),
                braille: true,
                v_axis: '│',
                y_tick: '┤',
                corner: '└',
                h_axis: '─',
                x_tick: '┬',
                marker: '▲',
                hline: '─',
                highlight: '◆',
            },
            Mode::Ascii => Glyphs {
                sub: (1, 1),
                braille: false,
                v_axis: '|',
                y_tick: '+',
                corner: '+',
                h_axis: '-',
                x_tick: '+',
                marker: '^',
                hline: '-',
                highlight: 'o',
            },
        }
    }
}

/// One line of a [`Chart`].
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The points; consecutive plottable ones are joined (non-finite ones, and
    /// non-positive y on a log axis, are skipped).
    pub points: &'a [(f64, f64)],
    /// Style of the line's cells.
    pub style: Style,
    /// The character used in [`Mode::Ascii`] (a non-printable or non-ASCII one becomes `*`).
    pub ascii: char,
}

/// A line chart with y labels on the left, x labels at the bottom and no border.
///
/// Bounds default to the data (with a little headroom for y); later series draw over
/// earlier ones; markers and the threshold line lie behind the series, the highlight
/// on top. Colour comes only from the given styles.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    series: Vec<Series<'a>>,
    mode: Mode,
    log_y: bool,
    x_bounds: Option<[f64; 2]>,
    y_bounds: Option<[f64; 2]>,
    markers: &'a [(f64, Style)],
    hline: Option<(f64, Style)>,
    highlight: Option<((f64, f64), Style)>,
    x_title: Option<&'a str>,
}

impl<'a> Chart<'a> {
    /// A Braille chart of `series` with a linear y axis and automatic bounds.
    pub fn new(series: Vec<Series<'a>>) -> Chart<'a> {
        Chart {
            series,
            mode: Mode::Braille,
            log_y: false,
            x_bounds: None,
            y_bounds: None,
            markers: &[],
            hline: None,
            highlight: None,
            x_title: None,
        }
    }

    /// Sets the drawing mode.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Chart<'a> {
        self.mode = mode;
        self
    }

    /// Uses a base-10 logarithmic y axis (non-positive values are skipped).
    #[must_use]
    pub fn log_y(mut self, log_y: bool) -> Chart<'a> {
        self.log_y = log_y;
        self
    }

    /// Fixes the x bounds (ignored unless both are finite).
    #[must_use]
    pub fn x_bounds(mut self, bounds: [f64; 2]) -> Chart<'a> {
        self.x_bounds = Some(bounds);
        self
    }

    /// Fixes the y bounds (ignored unless both are finite, and positive on a log axis).
    #[must_use]
    pub fn y_bounds(mut self, bounds: [f64; 2]) -> Chart<'a> {
        self.y_bounds = Some(bounds);
        self
    }

    /// Vertical event lines at the given x values, drawn where inside the x bounds.
    #[must_use]
    pub fn markers(mut self, markers: &'a [(f64, Style)]) -> Chart<'a> {
        self.markers = markers;
        self
    }

    /// A horizontal threshold line at `y`, drawn if inside the y bounds.
    #[must_use]
    pub fn hline(mut self, y: f64, style: Style) -> Chart<'a> {
        self.hline = Some((y, style));
        self
    }

    /// One emphasised point, drawn if inside the bounds.
    #[must_use]
    pub fn highlight(mut self, point: (f64, f64), style: Style) -> Chart<'a> {
        self.highlight = Some((point, style));
        self
    }

    /// A title for the x axis, such as `"step"`.
    #[must_use]
    pub fn x_title(mut self, title: &'a str) -> Chart<'a> {
        self.x_title = Some(title);
        self
    }

    /// The x and y scales, or `None` when no series has a plottable point.
    fn scales(&self) -> Option<(Scale, Scale)> {
        let mut xr: Option<(f64, f64)> = None;
        let mut yr: Option<(f64, f64)> = None;
        for s in &self.series {
            for &(x, y) in s.points {
                if let (Some(px), Some(py)) = (project(x, false), project(y, self.log_y)) {
                    xr = Some(xr.map_or((px, px), |(lo, hi)| (lo.min(px), hi.max(px))));
                    yr = Some(yr.map_or((py, py), |(lo, hi)| (lo.min(py), hi.max(py))));
                }
            }
        }
        Some((
            Scale::resolve(self.x_bounds, xr?, false, false),
            Scale::resolve(self.y_bounds, yr?, self.log_y, true),
        ))
    }

    /// Draws the axes and labels around the plot and returns the plot's area.
    fn draw_axes(&self, area: Rect, buf: &mut Buffer, xs: &Scale, ys: &Scale, g: &Glyphs) -> Rect {
        let (sx, sy) = g.sub;
        let plot_h = area.height.saturating_sub(2);
        let y_dots = usize::from(plot_h) * sy;
        let mut y_labels: Vec<(u16, String)> = Vec::new();
        for (p, label) in y_ticks(ys) {
            let row = plot_h
                .saturating_sub(1)
                .saturating_sub(u16::try_from(ys.dot_index(p, y_dots) / sy).unwrap_or(u16::MAX));
            if y_labels.iter().all(|(r, l)| *r != row && *l != label) {
                y_labels.push((row, label));
            }
        }
        let label_w = y_labels.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
        let label_w = u16::try_from(label_w)
            .unwrap_or(u16::MAX)
            .min(area.width.saturating_sub(2));
        let axis_x = area.x + label_w;
        let axis_y = area.y + plot_h;
        let plot = Rect {
            x: axis_x + 1,
            y: area.y,
            width: area.width - label_w - 1,
            height: plot_h,
        };

        let style = Style::default();
        for y in area.y..axis_y {
            put(buf, axis_x, y, g.v_axis, style);
        }
        for (row, label) in &y_labels {
            let x = axis_x.saturating_sub(u16::try_from(label.len()).unwrap_or(u16::MAX));
            buf.set_stringn(x, area.y + row, label, usize::from(label_w), style);
            put(buf, axis_x, area.y + row, g.y_tick, style);
        }
        put(buf, axis_x, axis_y, g.corner, style);
        for x in plot.x..plot.right() {
            put(buf, x, axis_y, g.h_axis, style);
        }

        let label_y = axis_y + 1;
        let mut taken = Vec::new();
        if let Some(title) = self.x_title.map(|t| sanitize(t, self.mode)) {
            let tw = u16::try_from(Span::raw(title.as_str()).width()).unwrap_or(u16::MAX);
            let start = if tw <= label_w {
                Some(axis_x - tw)
            } else if tw <= plot.width {
                Some(area.right() - tw)
            } else {
                None
            };
            if let Some(start) = start.filter(|_| tw > 0) {
                buf.set_string(start, label_y, &title, style);
                taken.push((start, start + tw));
            }
        }
        let x_dots = usize::from(plot.width) * sx;
        // The tick density that gets the most labels placed; the densest on ties.
        let mut x_labels = Vec::new();
        for max in (2..=5).rev() {
            let ticks = nice_ticks(xs.lo, xs.hi, max, 0.0);
            let placed = place_x_labels(&ticks, xs, x_dots, sx, plot.x, area, taken.clone());
            if placed.len() > x_labels.len() {
                x_labels = placed;
            }
        }
        for (col, start, label) in &x_labels {
            buf.set_string(*start, label_y, label, style);
            put(buf, *col, axis_y, g.x_tick, style);
        }
        plot
    }

    /// Draws the markers on the x axis, just below `plot`.
    fn draw_markers(&self, plot: Rect, buf: &mut Buffer, xs: &Scale, g: &Glyphs) {
        let nx = usize::from(plot.width) * g.sub.0;
        for &(x, style) in self.markers {
            if let Some(c) = xs.inside(x, nx).map(|d| d / g.sub.0) {
                // c < plot.width, so it fits in u16.
                put(buf, plot.x + c as u16, plot.bottom(), g.marker, style);
            }
        }
    }

    /// Draws the threshold, series and highlight into `plot`.
    fn draw_plot(&self, plot: Rect, buf: &mut Buffer, xs: &Scale, ys: &Scale, g: &Glyphs) {
        let (w, h) = (usize::from(plot.width), usize::from(plot.height));
        if w == 0 || h == 0 {
            return;
        }
        let (sx, sy) = g.sub;
        let (nx, ny) = (w * sx, h * sy);
        let col_of = |x: f64| xs.inside(x, nx).map(|d| d / sx);
        let row_of = |y: f64| ys.inside(y, ny).map(|d| h - 1 - d / sy);
        let mut layer: Vec<Option<(char, Style)>> = vec![None; w * h];

        if let Some((y, style)) = self.hline {
            if let Some(r) = row_of(y) {
                for cell in &mut layer[r * w..(r + 1) * w] {
                    *cell = Some((g.hline, style));
                }
            }
        }
        for s in &self.series {
            let mut dots = Dots {
                w,
                h,
                sx,
                sy,
                braille: g.braille,
                masks: vec![0; w * h],
            };
            let mut prev = None;
            for &(x, y) in s.points {
                if let (Some(px), Some(py)) = (xs.pos(x, nx), ys.pos(y, ny)) {
                    dots.line(prev.unwrap_or((px, py)), (px, py));
                    prev = Some((px, py));
                }
            }
            let ascii = if s.ascii.is_ascii_graphic() {
                s.ascii
            } else {
                '*'
            };
            for (cell, &mask) in layer.iter_mut().zip(&dots.masks) {
                if mask != 0 {
                    let ch = if g.braille {
                        char::from_u32(0x2800 + u32::from(mask)).unwrap_or('⣿')
                    } else {
                        ascii
                    };
                    *cell = Some((ch, s.style));
                }
            }
        }
        if let Some(((x, y), style)) = self.highlight {
            if let (Some(c), Some(r)) = (col_of(x), row_of(y)) {
                layer[r * w + c] = Some((g.highlight, style));
            }
        }

        for (i, cell) in layer.into_iter().enumerate() {
            if let Some((ch, style)) = cell {
                // i < w·h, and plot lies inside the buffer, so these fit in u16.
                let (c, r) = ((i % w) as u16, (i / w) as u16);
                put(buf, plot.x + c, plot.y + r, ch, style);
            }
        }
    }
}

impl Widget for Chart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(*buf.area());
        if area.is_empty() {
            return;
        }
        let Some((xs, ys)) = self.scales() else {
            let text: String = NO_DATA.chars().take(usize::from(area.width)).collect();
            let x = area.x + (area.width - text.len() as u16) / 2;
            buf.set_string(x, area.y + area.height / 2, text, Style::default());
            return;
        };
        let g = self.mode.glyphs();
        let axes = area.width >= MIN_AXES_WIDTH && area.height >= MIN_AXES_HEIGHT;
        let plot = if axes {
            self.draw_axes(area, buf, &xs, &ys, &g)
        } else {
            area
        };
        self.draw_plot(plot, buf, &xs, &ys, &g);
        if axes {
            self.draw_markers(plot, buf, &xs, &g);
        }
    }
}

/// Sets one cell, if it exists, patching `style` onto it.
fn put(buf: &mut Buffer, x: u16, y: u16, ch: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(ch).set_style(style);
    }
}

/// `s` with control characters (and in ASCII mode non-ASCII ones) replaced by `?`.
fn sanitize(s: &str, mode: Mode) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || (mode == Mode::Ascii && !c.is_ascii()) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// A value in plotting space (log10 on a log axis), if it can be plotted at all.
fn project(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() || (log && v <= 0.0) {
        return None;
    }
    Some(if log {
        v.log10()
    } else {
        v.clamp(-LIMIT, LIMIT)
    })
}

/// One resolved axis: bounds in plotting space, `lo < hi`, both finite.
#[derive(Debug, Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Scale {
    /// Valid `given` bounds, else the (projected) `data` range with optional headroom;
    /// a flat range is widened around its value.
    fn resolve(given: Option<[f64; 2]>, data: (f64, f64), log: bool, headroom: bool) -> Scale {
        let given = given.and_then(|[a, b]| Some((project(a, log)?, project(b, log)?)));
        let (lo, hi) = given.map_or(data, |(a, b)| (a.min(b), a.max(b)));
        let (lo, hi) = if hi - lo <= lo.abs().max(hi.abs()) * 1e-12 {
            let mid = lo / 2.0 + hi / 2.0;
            let pad = if log {
                0.5
            } else if mid == 0.0 {
                1.0
            } else {
                (mid.abs() * 0.1).max(1e-300)
            };
            (mid - pad, mid + pad)
        } else if headroom && given.is_none() {
            let pad = (hi - lo) * 0.05;
            let floor = if !log && lo >= 0.0 {
                0.0
            } else {
                f64::NEG_INFINITY
            };
            ((lo - pad).max(floor), hi + pad)
        } else {
            (lo, hi)
        };
        Scale { lo, hi, log }
    }

    /// Position of a plotting-space value on a grid of `n` points (0 at `lo`, `n - 1`
    /// at `hi`), unclamped but finite.
    fn dot(&self, p: f64, n: usize) -> f64 {
        let frac = ((p - self.lo) / (self.hi - self.lo)).clamp(-FAR, FAR);
        frac * n.saturating_sub(1) as f64
    }

    /// The grid point nearest to a plotting-space value, clamped to the grid.
    fn dot_index(&self, p: f64, n: usize) -> usize {
        (self.dot(p, n).round().max(0.0) as usize).min(n.saturating_sub(1))
    }

    /// Grid position of a data value, if plottable.
    fn pos(&self, v: f64, n: usize) -> Option<f64> {
        Some(self.dot(project(v, self.log)?, n))
    }

    /// Grid point of a data value that lies inside the bounds.
    fn inside(&self, v: f64, n: usize) -> Option<usize> {
        let p = project(v, self.log)?;
        (self.lo <= p && p <= self.hi).then(|| self.dot_index(p, n))
    }
}

/// Dots of one series on the plot's sub-cell grid, kept as per-cell bit masks.
struct Dots {
    w: usize,
    h: usize,
    sx: usize,
    sy: usize,
    braille: bool,
    masks: Vec<u8>,
}

impl Dots {
    /// Sets the dot at grid column `x` and grid row `y` (counted from the bottom).
    fn set(&mut self, x: usize, y: usize) {
        let (col, row) = (x / self.sx, self.h - 1 - y / self.sy);
        let bit = if self.braille {
            BRAILLE_BITS[self.sy - 1 - y % self.sy][x % self.sx]
        } else {
            1
        };
        self.masks[row * self.w + col] |= bit;
    }

    /// Draws the part of the segment from `a` to `b` (grid coordinates) inside the grid.
    fn line(&mut self, a: (f64, f64), b: (f64, f64)) {
        let (nx, ny) = (self.w * self.sx, self.h * self.sy);
        let Some((a, b)) = clip(a, b, nx as f64 - 0.5, ny as f64 - 0.5) else {
            return;
        };
        let fit = |v: f64, n: usize| (v.round().max(0.0) as i64).min(n as i64 - 1);
        let (mut x, mut y) = (fit(a.0, nx), fit(a.1, ny));
        let (x1, y1) = (fit(b.0, nx), fit(b.1, ny));
        let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
        let (step_x, step_y) = ((x1 - x).signum(), (y1 - y).signum());
        let mut err = dx + dy;
        loop {
            // Both stay within [0, n - 1]: they only move towards x1, y1.
            self.set(x as usize, y as usize);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += step_x;
            }
            if e2 <= dx {
                err += dx;
                y += step_y;
            }
        }
    }
}

/// Liang–Barsky: the part of segment `a`–`b` inside [-0.5, x_max] × [-0.5, y_max].
fn clip(a: (f64, f64), b: (f64, f64), x_max: f64, y_max: f64) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 + 0.5),
        (dx, x_max - a.0),
        (-dy, a.1 + 0.5),
        (dy, y_max - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1).then_some({
        (
            (a.0 + t0 * dx, a.1 + t0 * dy),
            (a.0 + t1 * dx, a.1 + t1 * dy),
        )
    })
}

/// Places x labels centred under their ticks, skipping any that would touch an
/// already taken span; returns (tick column, label start, label).
fn place_x_labels(
    ticks: &[f64],
    xs: &Scale,
    x_dots: usize,
    sx: usize,
    plot_x: u16,
    area: Rect,
    mut taken: Vec<(u16, u16)>,
) -> Vec<(u16, u16, String)> {
    let mut placed = Vec::new();
    for &v in ticks {
        let col = plot_x + u16::try_from(xs.dot_index(v, x_dots) / sx).unwrap_or(0);
        let label = compact(v);
        let lw = u16::try_from(label.len()).unwrap_or(u16::MAX);
        if lw > area.width {
            continue;
        }
        let start = col
            .saturating_sub(lw / 2)
            .max(area.x)
            .min(area.right() - lw);
        let end = start + lw;
        if taken
            .iter()
            .any(|&(s, e)| start < e.saturating_add(1) && s < end.saturating_add(1))
        {
            continue;
        }
        taken.push((start, end));
        placed.push((col, start, label));
    }
    placed
}

/// Tick positions (in plotting space) and labels for the y axis: nice values on a
/// linear axis; on a log axis powers of ten, or the bounds (and the one power of ten
/// inside, if any) when fewer than two powers of ten are in range.
fn y_ticks(ys: &Scale) -> Vec<(f64, String)> {
    if !ys.log {
        return nice_ticks(ys.lo, ys.hi, 5, 0.0)
            .into_iter()
            .map(|v| (v, compact(v)))
            .collect();
    }
    let decades: Vec<(f64, String)> = nice_ticks(ys.lo, ys.hi, 5, 1.0)
        .into_iter()
        .map(|k| (k, decade_label(k)))
        .collect();
    if decades.len() >= 2 {
        return decades;
    }
    let bound = |p: f64| (p, compact(10f64.powf(p)));
    decades
        .into_iter()
        .chain([bound(ys.lo), bound(ys.hi)])
        .collect()
}

/// Label of 10^k: [`compact`] from 0.01 to 1e14, else `1e{k}`.
fn decade_label(k: f64) -> String {
    let k = k as i32;
    if (-2..15).contains(&k) {
        compact(10f64.powi(k))
    } else {
        format!("1e{k}")
    }
}

/// The densest multiples of a nice step (1, 2 or 5 × 10^k, at least `min_step`) inside
/// [lo, hi] with at most `max` of them.
fn nice_ticks(lo: f64, hi: f64, max: usize, min_step: f64) -> Vec<f64> {
    let mut start = ((hi - lo) / max as f64).log10().floor() - 1.0;
    if min_step > 0.0 {
        start = start.max(min_step.log10().floor());
    }
    if !start.is_finite() {
        return Vec::new();
    }
    // From `start`, a step with few enough ticks is at most three decades up.
    for k in 0..4 {
        let magnitude = 10f64.powi(start as i32 + k);
        for m in [1.0, 2.0, 5.0] {
            let step = m * magnitude;
            if step < min_step || step <= 0.0 || !step.is_finite() {
                continue;
            }
            let (first, last) = ((lo / step).ceil(), (hi / step).floor());
            let count = last - first + 1.0;
            if count <= max as f64 {
                return (0..count.max(0.0) as usize)
                    .map(|i| (first + i as f64) * step)
                    .collect();
            }
        }
    }
    Vec::new()
}

pub use crate::fmt::compact;

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;
    use ratatui::widgets::Block;
    use ratatui::Terminal;

    fn render(chart: Chart<'_>, w: u16, h: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        chart.render(buf.area, &mut buf);
        buf
    }

    fn lines(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
            .collect()
    }

    fn series(points: &[(f64, f64)]) -> Series<'_> {
        Series {
            points,
            style: Style::default(),
            ascii: '*',
        }
    }

    fn is_braille(s: &str) -> bool {
        s.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c))
    }

    /// The y labels: (row, text) of the text left of the y axis.
    fn y_labels(buf: &Buffer, axis: char) -> Vec<(usize, String)> {
        lines(buf)
            .iter()
            .enumerate()
            .filter_map(|(row, line)| {
                let (label, _) = line.split_once(axis)?;
                let label = label.trim();
                (!label.is_empty()).then(|| (row, label.to_string()))
            })
            .collect()
    }

    #[test]
    fn rising_line_is_higher_on_the_right() {
        let pts: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, i as f64 * 0.5)).collect();
        let buf = render(Chart::new(vec![series(&pts)]), 40, 12);
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for y in 0..12u16 {
            for x in 0..40u16 {
                if is_braille(buf[(x, y)].symbol()) {
                    let half = if x < 20 { &mut left } else { &mut right };
                    half.push(f64::from(y));
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(!left.is_empty() && !right.is_empty());
        assert!(mean(&right) < mean(&left), "{:#?}", lines(&buf));
    }

    #[test]
    fn ascii_mode_is_ascii_everywhere() {
        let pts: Vec<(f64, f64)> = (0..200)
            .map(|i| (i as f64 * 10.0, 1.0 / (1.0 + i as f64)))
            .collect();
        let markers = [(500.0, Style::default().fg(Color::Red))];
        for log in [false, true] {
            let chart = Chart::new(vec![series(&pts)])
                .mode(Mode::Ascii)
                .log_y(log)
                .markers(&markers)
                .hline(0.5, Style::default())
                .highlight((1990.0, 1.0 / 200.0), Style::default())
                .x_title("stép");
            let buf = render(chart, 50, 14);
            let text = lines(&buf).concat();
            assert!(text.is_ascii(), "{:#?}", lines(&buf));
            assert!(text.contains('*') && text.contains('o') && text.contains('|'));
            assert!(text.contains("st?p"), "{:#?}", lines(&buf));
        }
    }

    #[test]
    fn log_axis_has_decades_in_order() {
        let pts: Vec<(f64, f64)> = (0..=50)
            .map(|i| (i as f64, 10f64.powf(-3.0 + i as f64 / 25.0)))
            .collect();
        let buf = render(Chart::new(vec![series(&pts)]).log_y(true), 40, 14);
        let labels = y_labels(&buf, '┤');
        let row = |l: &str| labels.iter().find(|(_, t)| t == l).map(|(r, _)| *r);
        let (top, mid, bottom) = (row("0.1"), row("0.01"), row("1e-3"));
        assert!(
            top.is_some() && mid.is_some() && bottom.is_some(),
            "{labels:?}"
        );
        assert!(top < mid && mid < bottom, "{labels:?}");
        // Linear would put 1e-2 near the bottom; log puts it halfway.
        let (t, m, b) = (top.unwrap_or(0), mid.unwrap_or(0), bottom.unwrap_or(0));
        assert!((m as i64 - (t + b) as i64 / 2).abs() <= 1, "{labels:?}");
    }

    #[test]
    fn log_axis_within_one_decade_labels_bounds() {
        let pts = [(0.0, 2.0), (1.0, 3.0), (2.0, 2.5)];
        let buf = render(Chart::new(vec![series(&pts)]).log_y(true), 30, 10);
        assert_eq!(y_labels(&buf, '┤').len(), 2, "{:#?}", lines(&buf));
    }

    #[test]
    fn normal_series_gets_several_y_labels_and_x_labels() {
        let pts: Vec<(f64, f64)> = (0..1500)
            .map(|i| (i as f64, 2.0 + (i as f64 / 100.0).sin()))
            .collect();
        let buf = render(Chart::new(vec![series(&pts)]).x_title("step"), 60, 16);
        let labels = y_labels(&buf, '┤');
        assert!(labels.len() >= 3, "{:#?}", lines(&buf));
        assert!(labels.windows(2).all(|w| w[0].1 != w[1].1));
        let bottom = &lines(&buf)[15];
        assert!(
            bottom.contains("step") && bottom.contains("500") && bottom.contains("1k"),
            "{bottom}"
        );
    }

    #[test]
    fn markers_hline_and_highlight_appear() {
        let pts: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, 0.0)).collect();
        let markers = [(50.0, Style::default()), (500.0, Style::default())];
        let chart = Chart::new(vec![series(&pts)])
            .y_bounds([-1.0, 3.0])
            .markers(&markers)
            .hline(2.0, Style::default().fg(Color::Yellow))
            .highlight((100.0, 0.0), Style::default());
        let buf = render(chart, 40, 12);
        let text = lines(&buf);
        // The marker inside the bounds sits on the x axis; the one outside is not drawn.
        assert_eq!(text[10].matches('▲').count(), 1, "{text:#?}");
        let axis = text[10].chars().position(|c| c == '└').unwrap_or(0);
        let marker = text[10].chars().position(|c| c == '▲').unwrap_or(0);
        assert!(marker > axis + 10 && marker < 35, "{text:#?}");
        assert!(text.iter().any(|l| l.contains("─────")), "{text:#?}");
        assert!(text.concat().contains('◆'));
        let hline_cell = text
            .iter()
            .position(|l| l.contains("─────") && !l.contains('└'))
            .map(|y| &buf[(39, y as u16)]);
        assert_eq!(hline_cell.map(|c| c.fg), Some(Color::Yellow));
    }

    #[test]
    fn later_series_draw_over_earlier_and_colour_comes_from_styles() {
        let a = [(0.0, 0.0), (1.0, 1.0)];
        let b = [(0.0, 0.0), (1.0, 1.0)];
        let red = Style::default().fg(Color::Red);
        let chart = Chart::new(vec![
            series(&a),
            Series {
                points: &b,
                style: red,
                ascii: '+',
            },
        ]);
        let buf = render(chart.clone().mode(Mode::Ascii), 20, 8);
        assert!(!lines(&buf).concat().contains('*'));
        let buf = render(Chart::new(vec![series(&a)]), 20, 8);
        assert!(buf
            .content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    }

    #[test]
    fn flat_single_and_empty_series() {
        let flat: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 0.25)).collect();
        let buf = render(Chart::new(vec![series(&flat)]), 30, 10);
        assert!(lines(&buf)
            .concat()
            .chars()
            .any(|c| is_braille(&c.to_string())));
        assert!(
            y_labels(&buf, '┤').iter().any(|(_, l)| l == "0.25"),
            "{:#?}",
            lines(&buf)
        );

        let single = [(5.0, 5.0)];
        let buf = render(Chart::new(vec![series(&single)]).mode(Mode::Ascii), 30, 10);
        assert_eq!(
            lines(&buf).concat().matches('*').count(),
            1,
            "{:#?}",
            lines(&buf)
        );

        let nan = [(f64::NAN, 1.0), (1.0, f64::NAN)];
        for chart in [
            Chart::new(vec![]),
            Chart::new(vec![series(&[])]),
            Chart::new(vec![series(&nan)]),
            Chart::new(vec![series(&[(1.0, -1.0)])]).log_y(true),
        ] {
            let buf = render(chart, 21, 5);
            assert_eq!(lines(&buf)[2], "     no data yet     ");
        }
    }

    #[test]
    fn no_panic_for_odd_inputs_and_sizes() {
        let rising: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, i as f64)).collect();
        let datasets: Vec<Vec<(f64, f64)>> = vec![
            vec![],
            vec![(0.0, 0.0)],
            vec![(3.0, -2.0)],
            vec![
                (f64::NAN, f64::NAN),
                (f64::INFINITY, 1.0),
                (1.0, f64::NEG_INFINITY),
            ],
            vec![(0.0, 1.0), (0.0, 1.0), (0.0, 1.0)],
            vec![
                (0.0, -5.0),
                (1.0, 0.0),
                (2.0, 5.0),
                (3.0, f64::NAN),
                (4.0, 1e-9),
            ],
            vec![(-f64::MAX, -f64::MAX), (f64::MAX, f64::MAX), (0.0, 0.0)],
            vec![(0.0, 5e-324), (1.0, 1e-320), (2.0, f64::MIN_POSITIVE)],
            vec![(1e15, 1.0), (1e15 + 1.0, 1.0 + 1e-15)],
            vec![(5.0, 1.0), (1.0, 3.0), (3.0, -1.0)],
            rising.clone(),
        ];
        let bounds: [Option<[f64; 2]>; 5] = [
            None,
            Some([10.0, -10.0]),
            Some([2.0, 2.0]),
            Some([f64::NAN, 1.0]),
            Some([-1e300, 1e300]),
        ];
        let areas = [
            (0, 0),
            (1, 1),
            (2, 2),
            (5, 3),
            (11, 3),
            (12, 4),
            (13, 40),
            (80, 24),
        ];
        let markers = [
            (0.0, Style::default()),
            (f64::NAN, Style::default()),
            (1e300, Style::default()),
        ];
        for data in &datasets {
            for mode in [Mode::Braille, Mode::Ascii] {
                for log in [false, true] {
                    for b in bounds {
                        for (w, h) in areas {
                            let mut chart = Chart::new(vec![series(data), series(&rising)])
                                .mode(mode)
                                .log_y(log)
                                .markers(&markers)
                                .hline(f64::NAN, Style::default())
                                .highlight((f64::INFINITY, 0.0), Style::default())
                                .x_title("a very long x axis title indeed");
                            if let Some(b) = b {
                                chart = chart.x_bounds(b).y_bounds(b);
                            }
                            render(chart.clone(), w, h);
                            // An area partly outside the buffer.
                            let mut buf = Buffer::empty(Rect::new(0, 0, 10, 10));
                            chart.render(Rect::new(5, 5, w, h), &mut buf);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tiny_areas_draw_only_the_plot() {
        let pts: Vec<(f64, f64)> = (0..50).map(|i| (i as f64, i as f64)).collect();
        let buf = render(Chart::new(vec![series(&pts)]), 11, 3);
        let text = lines(&buf).concat();
        assert!(!text.contains('│') && !text.contains('─'), "{text}");
        assert!(is_braille(&text));
        let buf = render(Chart::new(vec![series(&pts)]).mode(Mode::Ascii), 1, 1);
        assert_eq!(lines(&buf), vec!["*"]);
    }

    #[test]
    fn ascii_chart_in_a_block() {
        let loss: Vec<(f64, f64)> = (0..=2000)
            .map(|i| (i as f64, 2.0 * (-(i as f64) / 500.0).exp() + 0.1))
            .collect();
        let markers = [(1000.0, Style::default())];
        let chart = Chart::new(vec![Series {
            points: &loss,
            style: Style::default(),
            ascii: '*',
        }])
        .mode(Mode::Ascii)
        .markers(&markers)
        .hline(1.0, Style::default())
        .highlight((2000.0, loss[2000].1), Style::default())
        .x_title("step");
        let mut terminal = Terminal::new(TestBackend::new(44, 14)).expect("test backend");
        let drawn = terminal.draw(|f| {
            let block = Block::bordered().title("loss");
            let inner = block.inner(f.area());
            f.render_widget(block, f.area());
            f.render_widget(chart, inner);
        });
        assert!(drawn.is_ok());
        insta::assert_snapshot!(lines(terminal.backend().buffer()).join("\n"), @r"
        ┌loss──────────────────────────────────────┐
        │   |*                                     │
        │  2+**                                    │
        │   | ***                                  │
        │1.5+   **                                 │
        │   |    ***                               │
        │  1+------****----------------------------│
        │   |         ****                         │
        │0.5+            *******                   │
        │   |                  ****************    │
        │   |                                 ****o│
        │   ++--------+---------^--------+---------│
        │    0       500       1k      1.5k    step│
        └──────────────────────────────────────────┘
        ");
    }
}
