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

        if let Some((y, style)) = self.hline
            && let Some(r) = row_of(y)
        {
            for cell in &mut layer[r * w..(r + 1) * w] {
                *cell = Some((g.hline, style));
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
        if let Some(((x, y), style)) = self.highlight
            && let (Some(c), Some(r)) = (col_of(x), row_of(y))
        {
            layer[r * w + c] = Some((g.highlight, style));
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

mod scale;

use scale::{Dots, Scale, nice_ticks, place_x_labels, y_ticks};

#[cfg(test)]
mod tests;
