//! The chart's coordinates: axis scales (linear or log), the Braille dot
//! grid, line clipping, and tick positions and labels.

use ratatui::layout::Rect;

use super::{BRAILLE_BITS, FAR, XLabels, project};

/// One resolved axis: bounds in plotting space, `lo < hi`, both finite.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scale {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
}

impl Scale {
    /// Valid `given` bounds, else the (projected) `data` range with optional headroom;
    /// a flat range is widened around its value.
    pub(super) fn resolve(
        given: Option<[f64; 2]>,
        data: (f64, f64),
        log: bool,
        headroom: bool,
    ) -> Scale {
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
    pub(super) fn dot(&self, p: f64, n: usize) -> f64 {
        let frac = ((p - self.lo) / (self.hi - self.lo)).clamp(-FAR, FAR);
        frac * n.saturating_sub(1) as f64
    }

    /// The grid point nearest to a plotting-space value, clamped to the grid.
    pub(super) fn dot_index(&self, p: f64, n: usize) -> usize {
        (self.dot(p, n).round().max(0.0) as usize).min(n.saturating_sub(1))
    }

    /// Grid position of a data value, if plottable.
    pub(super) fn pos(&self, v: f64, n: usize) -> Option<f64> {
        Some(self.dot(project(v, self.log)?, n))
    }

    /// Grid point of a data value that lies inside the bounds.
    pub(super) fn inside(&self, v: f64, n: usize) -> Option<usize> {
        let p = project(v, self.log)?;
        (self.lo <= p && p <= self.hi).then(|| self.dot_index(p, n))
    }
}

/// Dots of one series on the plot's sub-cell grid, kept as per-cell bit masks.
pub(super) struct Dots {
    pub(super) w: usize,
    pub(super) h: usize,
    pub(super) sx: usize,
    pub(super) sy: usize,
    pub(super) braille: bool,
    pub(super) masks: Vec<u8>,
}

impl Dots {
    /// Sets the dot at grid column `x` and grid row `y` (counted from the bottom).
    pub(super) fn set(&mut self, x: usize, y: usize) {
        let (col, row) = (x / self.sx, self.h - 1 - y / self.sy);
        let bit = if self.braille {
            BRAILLE_BITS[self.sy - 1 - y % self.sy][x % self.sx]
        } else {
            1
        };
        self.masks[row * self.w + col] |= bit;
    }

    /// Draws the part of the segment from `a` to `b` (grid coordinates) inside the grid.
    pub(super) fn line(&mut self, a: (f64, f64), b: (f64, f64)) {
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
pub(super) fn clip(
    a: (f64, f64),
    b: (f64, f64),
    x_max: f64,
    y_max: f64,
) -> Option<((f64, f64), (f64, f64))> {
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
/// already taken span, and keeping a blank column before the area's right
/// edge (a label never runs into a border); returns (tick column, label start, label).
pub(super) fn place_x_labels(
    ticks: &[(f64, String)],
    xs: &Scale,
    x_dots: usize,
    sx: usize,
    plot_x: u16,
    area: Rect,
    mut taken: Vec<(u16, u16)>,
) -> Vec<(u16, u16, String)> {
    let mut placed = Vec::new();
    for (v, label) in ticks {
        let col = plot_x + u16::try_from(xs.dot_index(*v, x_dots) / sx).unwrap_or(0);
        let lw = u16::try_from(label.len()).unwrap_or(u16::MAX);
        if lw + 1 > area.width {
            continue;
        }
        let start = col
            .saturating_sub(lw / 2)
            .max(area.x)
            .min(area.right() - lw - 1);
        let end = start + lw;
        if taken
            .iter()
            .any(|&(s, e)| start < e.saturating_add(1) && s < end.saturating_add(1))
        {
            continue;
        }
        taken.push((start, end));
        placed.push((col, start, label.clone()));
    }
    placed
}

/// At most `max` tick positions (in plotting space) and labels for the x
/// axis: nice numbers, powers of ten on a log axis (the bounds when fewer
/// than two are in range), or round clock times.
pub(super) fn x_ticks(xs: &Scale, max: usize, labels: XLabels) -> Vec<(f64, String)> {
    let label = |v: f64| match labels {
        XLabels::Number => compact(v),
        XLabels::Clock => crate::fmt::clock(v),
    };
    if xs.log {
        let decades: Vec<(f64, String)> = nice_ticks(xs.lo, xs.hi, max, 1.0)
            .into_iter()
            .map(|k| (k, label(10f64.powi(k as i32))))
            .collect();
        if decades.len() >= 2 {
            return decades;
        }
        let bound = |p: f64| (p, label(10f64.powf(p)));
        return decades
            .into_iter()
            .chain([bound(xs.lo), bound(xs.hi)])
            .collect();
    }
    let ticks = match labels {
        XLabels::Number => nice_ticks(xs.lo, xs.hi, max, 0.0),
        XLabels::Clock => clock_ticks(xs.lo, xs.hi, max),
    };
    ticks.into_iter().map(|v| (v, label(v))).collect()
}

/// Multiples of a round duration (1, 2, 5, 10, 15, 30 s; 1, 2, 5, 10, 15,
/// 30 min; 1, 2, 3, 6, 12 h; then days) inside [lo, hi], at most `max` of them.
pub(super) fn clock_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    const STEPS: [f64; 18] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0, 86400.0,
    ];
    for step in STEPS {
        let (first, last) = ((lo / step).ceil(), (hi / step).floor());
        let count = last - first + 1.0;
        if count <= max as f64 {
            return (0..count.max(0.0) as usize)
                .map(|i| (first + i as f64) * step)
                .collect();
        }
    }
    nice_ticks(lo, hi, max, 86400.0)
}

/// Tick positions (in plotting space) and labels for the y axis: nice values on a
/// linear axis; on a log axis powers of ten, or the bounds (and the one power of ten
/// inside, if any) when fewer than two powers of ten are in range.
pub(super) fn y_ticks(ys: &Scale) -> Vec<(f64, String)> {
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
pub(super) fn decade_label(k: f64) -> String {
    let k = k as i32;
    if (-2..15).contains(&k) {
        compact(10f64.powi(k))
    } else {
        format!("1e{k}")
    }
}

/// The densest multiples of a nice step (1, 2 or 5 × 10^k, at least `min_step`) inside
/// [lo, hi] with at most `max` of them.
pub(super) fn nice_ticks(lo: f64, hi: f64, max: usize, min_step: f64) -> Vec<f64> {
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
