//! A line-chart widget for the dashboard: Braille, ASCII or one-glyph-per-cell plotting,
//! linear or log axes labelled at nice values (steps, or clock times), min–max bands,
//! event markers with their own glyphs, reference lines and a highlighted point.
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
    /// One glyph per cell, each series its own ([`Series::glyph`]), box-drawing
    /// axes: series stay apart without colour (`NO_COLOR`).
    Glyph,
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
                hline: '─',
                highlight: '◆',
            },
            Mode::Glyph => Glyphs {
                sub: (1, 1),
                braille: false,
                ..Mode::Braille.glyphs()
            },
            Mode::Ascii => Glyphs {
                sub: (1, 1),
                braille: false,
                v_axis: '|',
                y_tick: '+',
                corner: '+',
                h_axis: '-',
                x_tick: '+',
                hline: '-',
                highlight: '@',
            },
        }
    }
}

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Consecutive points joined by lines.
    Line,
    /// Each point alone.
    Points,
    /// The points joined, and filled between the lowest and the highest value
    /// in each dot column: the min–max envelope of a noisy series.
    Band,
}

/// One line of a [`Chart`].
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The points; consecutive plottable ones are joined (non-finite ones, and
    /// non-positive values on a log axis, are skipped).
    pub points: &'a [(f64, f64)],
    /// Style of the line's cells.
    pub style: Style,
    /// The character used in [`Mode::Ascii`] (a non-printable or non-ASCII one becomes `*`).
    pub ascii: char,
    /// The character used in [`Mode::Glyph`].
    pub glyph: char,
    pub kind: Kind,
}

impl<'a> Series<'a> {
    /// A line of `points`, drawn with `ascii` in ASCII mode (and in glyph mode).
    pub fn line(points: &'a [(f64, f64)], style: Style, ascii: char) -> Series<'a> {
        Series {
            points,
            style,
            ascii,
            glyph: ascii,
            kind: Kind::Line,
        }
    }

    /// The character in glyph mode.
    #[must_use]
    pub fn glyph(mut self, glyph: char) -> Series<'a> {
        self.glyph = glyph;
        self
    }

    /// Drawn as [`Kind`].
    #[must_use]
    pub fn kind(mut self, kind: Kind) -> Series<'a> {
        self.kind = kind;
        self
    }
}

/// An event on the x axis: a glyph below the plot at `x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marker {
    pub x: f64,
    /// The glyph in Braille and glyph mode.
    pub glyph: char,
    /// The glyph in ASCII mode.
    pub ascii: char,
    pub style: Style,
}

/// How x values are labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XLabels {
    /// Compact numbers (`500`, `1.5k`).
    #[default]
    Number,
    /// Seconds as clock times (`0:30`, `1:02:00`) at round intervals.
    Clock,
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
    log_x: bool,
    log_y: bool,
    x_bounds: Option<[f64; 2]>,
    y_bounds: Option<[f64; 2]>,
    markers: &'a [Marker],
    hlines: Vec<HLine<'a>>,
    highlight: Option<((f64, f64), Style)>,
    x_title: Option<&'a str>,
    x_labels: XLabels,
}

/// A horizontal reference line, with a label at its right end.
#[derive(Debug, Clone, Copy)]
struct HLine<'a> {
    y: f64,
    style: Style,
    glyph: char,
    ascii: char,
    label: Option<&'a str>,
}

impl<'a> Chart<'a> {
    /// A Braille chart of `series` with a linear y axis and automatic bounds.
    pub fn new(series: Vec<Series<'a>>) -> Chart<'a> {
        Chart {
            series,
            mode: Mode::Braille,
            log_x: false,
            log_y: false,
            x_bounds: None,
            y_bounds: None,
            markers: &[],
            hlines: Vec::new(),
            highlight: None,
            x_title: None,
            x_labels: XLabels::Number,
        }
    }

    /// Sets the drawing mode.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Chart<'a> {
        self.mode = mode;
        self
    }

    /// Uses a base-10 logarithmic x axis (non-positive values are skipped).
    #[must_use]
    pub fn log_x(mut self, log_x: bool) -> Chart<'a> {
        self.log_x = log_x;
        self
    }

    /// Labels the x axis with clock times (x in seconds) instead of numbers.
    #[must_use]
    pub fn x_labels(mut self, labels: XLabels) -> Chart<'a> {
        self.x_labels = labels;
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

    /// Event glyphs on the x axis at the given x values, drawn where inside
    /// the x bounds (a later one over an earlier one in the same column).
    #[must_use]
    pub fn markers(mut self, markers: &'a [Marker]) -> Chart<'a> {
        self.markers = markers;
        self
    }

    /// A horizontal threshold line at `y`, drawn if inside the y bounds.
    #[must_use]
    pub fn hline(self, y: f64, style: Style) -> Chart<'a> {
        self.hline_with(y, style, ('─', '-'), None)
    }

    /// A horizontal reference line at `y` drawn with `glyphs` (Unicode, ASCII),
    /// `label` at its right end (where it fits); several may be drawn, later
    /// ones over earlier ones, all behind the series.
    #[must_use]
    pub fn hline_with(
        mut self,
        y: f64,
        style: Style,
        glyphs: (char, char),
        label: Option<&'a str>,
    ) -> Chart<'a> {
        self.hlines.push(HLine {
            y,
            style,
            glyph: glyphs.0,
            ascii: glyphs.1,
            label,
        });
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
                if let (Some(px), Some(py)) = (project(x, self.log_x), project(y, self.log_y)) {
                    xr = Some(xr.map_or((px, px), |(lo, hi)| (lo.min(px), hi.max(px))));
                    yr = Some(yr.map_or((py, py), |(lo, hi)| (lo.min(py), hi.max(py))));
                }
            }
        }
        Some((
            Scale::resolve(self.x_bounds, xr?, self.log_x, false),
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
            let ticks = x_ticks(xs, max, self.x_labels);
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
        for m in self.markers {
            if let Some(c) = xs.inside(m.x, nx).map(|d| d / g.sub.0) {
                let ch = match self.mode {
                    Mode::Ascii if m.ascii.is_ascii_graphic() => m.ascii,
                    Mode::Ascii => '^',
                    _ => m.glyph,
                };
                // c < plot.width, so it fits in u16.
                put(buf, plot.x + c as u16, plot.bottom(), ch, m.style);
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

        for line in &self.hlines {
            if let Some(r) = row_of(line.y) {
                let ch = match self.mode {
                    Mode::Ascii if line.ascii.is_ascii_graphic() => line.ascii,
                    Mode::Ascii => g.hline,
                    _ => line.glyph,
                };
                for cell in &mut layer[r * w..(r + 1) * w] {
                    *cell = Some((ch, line.style));
                }
                if let Some(label) = line.label.map(|l| sanitize(l, self.mode)) {
                    let n = label.chars().count();
                    if n + 2 <= w {
                        for (k, c) in label.chars().enumerate() {
                            layer[r * w + w - n + k] = Some((c, line.style));
                        }
                    }
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
            // Band: the lowest and highest grid row in each dot column.
            let mut range: Vec<Option<(f64, f64)>> = match s.kind {
                Kind::Band => vec![None; nx],
                _ => Vec::new(),
            };
            for &(x, y) in s.points {
                if let (Some(px), Some(py)) = (xs.pos(x, nx), ys.pos(y, ny)) {
                    match s.kind {
                        Kind::Points => dots.line((px, py), (px, py)),
                        _ => dots.line(prev.unwrap_or((px, py)), (px, py)),
                    }
                    prev = Some((px, py));
                    let col = px.round();
                    if (0.0..nx as f64).contains(&col)
                        && let Some(r) = range.get_mut(col as usize)
                    {
                        *r = Some(r.map_or((py, py), |(lo, hi)| (lo.min(py), hi.max(py))));
                    }
                }
            }
            for (col, r) in range.iter().enumerate() {
                if let Some((lo, hi)) = *r {
                    dots.line((col as f64, lo), (col as f64, hi));
                }
            }
            let plain = match self.mode {
                Mode::Ascii if s.ascii.is_ascii_graphic() => s.ascii,
                Mode::Ascii => '*',
                _ => s.glyph,
            };
            for (cell, &mask) in layer.iter_mut().zip(&dots.masks) {
                if mask != 0 {
                    let ch = if g.braille {
                        char::from_u32(0x2800 + u32::from(mask)).unwrap_or('⣿')
                    } else {
                        plain
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

use scale::{Dots, Scale, place_x_labels, x_ticks, y_ticks};

#[cfg(test)]
mod tests;
