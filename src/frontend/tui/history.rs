//! Bounded, shape-preserving histories of metric series and their smoothing.

/// One kept raw point and its occurrence index among the finite points.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Kept {
    seq: u64,
    x: f64,
    y: f64,
}

/// A run of consecutive raw points summarised by its x range and its extremes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    x_start: f64,
    x_end: f64,
    count: u64,
    /// The sum of the bucket's y values (for its mean).
    sum: f64,
    /// The lowest y; on ties the earliest.
    min: Kept,
    /// The highest y; on ties the latest, so a flat bucket keeps both of its ends.
    max: Kept,
}

impl Bucket {
    fn new(p: Kept) -> Bucket {
        Bucket {
            x_start: p.x,
            x_end: p.x,
            count: 1,
            sum: p.y,
            min: p,
            max: p,
        }
    }

    fn add(&mut self, p: Kept) {
        self.x_end = p.x;
        self.count = self.count.saturating_add(1);
        self.sum += p.y;
        if p.y < self.min.y {
            self.min = p;
        }
        if p.y >= self.max.y {
            self.max = p;
        }
    }

    /// Merges `self` with the bucket that directly follows it.
    fn merge(self, later: Bucket) -> Bucket {
        Bucket {
            x_start: self.x_start,
            x_end: later.x_end,
            count: self.count.saturating_add(later.count),
            sum: self.sum + later.sum,
            min: if later.min.y < self.min.y {
                later.min
            } else {
                self.min
            },
            max: if later.max.y >= self.max.y {
                later.max
            } else {
                self.max
            },
        }
    }

    /// The bucket's extremes in order of occurrence (one point if they coincide).
    fn extremes(&self) -> impl Iterator<Item = Kept> + use<> {
        let (first, second) = if self.min.seq <= self.max.seq {
            (self.min, self.max)
        } else {
            (self.max, self.min)
        };
        std::iter::once(first).chain((second.seq != first.seq).then_some(second))
    }
}

/// A series of (x, y) points that keeps memory bounded over millions of points by
/// min/max decimation: raw points are grouped into buckets of `stride` consecutive
/// points; each bucket keeps its x range and its min and max y (in order of occurrence),
/// so peaks and dips survive. When the bucket count reaches `capacity`, adjacent
/// buckets merge pairwise and `stride` doubles.
#[derive(Debug, Clone)]
pub struct History {
    buckets: Vec<Bucket>,
    capacity: usize,
    stride: u64,
    len_raw: u64,
    finite: u64,
    last: Option<(f64, f64)>,
}

impl History {
    /// An empty history keeping at most `capacity` buckets (at least 2).
    pub fn new(capacity: usize) -> History {
        History {
            buckets: Vec::new(),
            capacity: capacity.max(2),
            stride: 1,
            len_raw: 0,
            finite: 0,
            last: None,
        }
    }

    /// Appends a point. Points with a non-finite x or y are skipped but counted in
    /// [`len_raw`](Self::len_raw); an x below the previous one is raised to it so the
    /// history stays x-ascending.
    pub fn push(&mut self, x: f64, y: f64) {
        self.len_raw = self.len_raw.saturating_add(1);
        if !x.is_finite() || !y.is_finite() {
            return;
        }
        let x = self.last.map_or(x, |(last_x, _)| x.max(last_x));
        let p = Kept {
            seq: self.finite,
            x,
            y,
        };
        self.finite = self.finite.saturating_add(1);
        self.last = Some((x, y));
        let open = self.buckets.last().is_some_and(|b| b.count < self.stride);
        if !open && self.buckets.len() >= self.capacity {
            self.decimate();
        }
        match self.buckets.last_mut() {
            Some(b) if b.count < self.stride => b.add(p),
            _ => self.buckets.push(Bucket::new(p)),
        }
    }

    /// Merges adjacent buckets pairwise in place and doubles the stride.
    fn decimate(&mut self) {
        let n = self.buckets.len();
        for i in 0..n / 2 {
            self.buckets[i] = self.buckets[2 * i].merge(self.buckets[2 * i + 1]);
        }
        if n % 2 == 1 {
            self.buckets[n / 2] = self.buckets[n - 1];
        }
        self.buckets.truncate(n.div_ceil(2));
        self.stride = self.stride.saturating_mul(2);
    }

    /// The kept points: at most two per bucket (its min and max y in order of
    /// occurrence), x ascending; exactly the finite raw points while no decimation happened.
    pub fn points(&self) -> Vec<(f64, f64)> {
        self.buckets
            .iter()
            .flat_map(Bucket::extremes)
            .map(|p| (p.x, p.y))
            .collect()
    }

    /// The series smoothed by a debiased exponential moving average of
    /// weight `weight` (TensorBoard's smoothing), one point per bucket at its
    /// last x: exact while no decimation happened; after, each bucket counts
    /// as `count` points at its mean.
    pub fn smoothed(&self, weight: f64) -> Vec<(f64, f64)> {
        let weight = if weight.is_finite() {
            weight.clamp(0.0, 1.0 - 1e-9)
        } else {
            0.0
        };
        let (mut biased, mut weight_pow) = (0.0f64, 1.0f64);
        self.buckets
            .iter()
            .map(|b| {
                let n = b.count.max(1);
                let w = weight.powf(n as f64);
                biased = biased * w + (1.0 - w) * (b.sum / n as f64);
                weight_pow *= w;
                (b.x_end, biased / (1.0 - weight_pow))
            })
            .collect()
    }

    /// The last finite raw point.
    pub fn last(&self) -> Option<(f64, f64)> {
        self.last
    }

    /// How many points were pushed, including skipped non-finite ones.
    pub fn len_raw(&self) -> u64 {
        self.len_raw
    }

    /// The x extent of all finite points pushed.
    pub fn x_range(&self) -> Option<(f64, f64)> {
        Some((self.buckets.first()?.x_start, self.buckets.last()?.x_end))
    }

    /// The y extent of the kept values.
    pub fn y_range(&self) -> Option<(f64, f64)> {
        self.buckets.iter().fold(None, |acc, b| {
            Some(acc.map_or((b.min.y, b.max.y), |(lo, hi): (f64, f64)| {
                (lo.min(b.min.y), hi.max(b.max.y))
            }))
        })
    }

    /// The y extent of the kept values that are > 0 (for log axes).
    pub fn y_range_positive(&self) -> Option<(f64, f64)> {
        self.buckets
            .iter()
            .flat_map(|b| [b.min.y, b.max.y])
            .filter(|&y| y > 0.0)
            .fold(None, |acc, y| {
                Some(acc.map_or((y, y), |(lo, hi): (f64, f64)| (lo.min(y), hi.max(y))))
            })
    }

    /// Forgets all points (the capacity is kept).
    pub fn clear(&mut self) {
        *self = History::new(self.capacity);
    }
}

/// Exponential moving average with debiasing like TensorBoard's smoothing: returns the smoothed value after each update.
#[derive(Debug, Clone)]
pub struct Ema {
    weight: f64,
    biased: f64,
    weight_pow: f64,
    count: u64,
    value: f64,
}

impl Ema {
    /// A fresh average; `weight` (the smoothing, 0 = none) is clamped to [0, 1], and a
    /// non-finite weight means 0. At exactly 1 the debiased limit, the running mean, is used.
    pub fn new(weight: f64) -> Ema {
        Ema {
            weight: if weight.is_finite() {
                weight.clamp(0.0, 1.0)
            } else {
                0.0
            },
            biased: 0.0,
            weight_pow: 1.0,
            count: 0,
            value: f64::NAN,
        }
    }

    /// Feeds `y` and returns the smoothed value. A non-finite `y` is ignored and the
    /// previous value returned unchanged (NaN before the first finite value).
    pub fn update(&mut self, y: f64) -> f64 {
        if !y.is_finite() {
            return self.value;
        }
        self.count = self.count.saturating_add(1);
        if self.weight >= 1.0 {
            self.biased += (y - self.biased) / self.count as f64;
            self.value = self.biased;
        } else {
            self.biased = self.biased * self.weight + (1.0 - self.weight) * y;
            self.weight_pow *= self.weight;
            self.value = self.biased / (1.0 - self.weight_pow);
        }
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_below_capacity() {
        let mut h = History::new(8);
        let raw: Vec<(f64, f64)> = (0..8).map(|i| (i as f64, (i * i % 5) as f64)).collect();
        for &(x, y) in &raw {
            h.push(x, y);
        }
        assert_eq!(h.points(), raw);
        assert_eq!(h.len_raw(), 8);
        assert_eq!(h.last(), Some((7.0, 4.0)));
        assert_eq!(h.x_range(), Some((0.0, 7.0)));
        assert_eq!(h.y_range(), Some((0.0, 4.0)));
        assert_eq!(h.y_range_positive(), Some((1.0, 4.0)));
    }

    #[test]
    fn million_points_stay_bounded_and_keep_a_spike() {
        let capacity = 256;
        let mut h = History::new(capacity);
        for i in 0..1_000_000u64 {
            let y = if i == 654_321 { 100.0 } else { 1.0 };
            h.push(i as f64, y);
            assert!(h.buckets.len() <= capacity);
        }
        assert!(h.buckets.capacity() <= 2 * capacity);
        let pts = h.points();
        assert!(pts.len() <= 2 * capacity, "{} points", pts.len());
        assert!(pts.contains(&(654_321.0, 100.0)));
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(h.len_raw(), 1_000_000);
        assert_eq!(h.x_range(), Some((0.0, 999_999.0)));
        assert_eq!(h.y_range(), Some((1.0, 100.0)));
        assert_eq!(h.last(), Some((999_999.0, 1.0)));
    }

    #[test]
    fn min_max_in_order_of_occurrence() {
        let mut h = History::new(2);
        // Dip before peak in the first bucket, peak before dip in the second.
        for (x, y) in [(0.0, 5.0), (1.0, -3.0), (2.0, 9.0), (3.0, 4.0)] {
            h.push(x, y);
        }
        for (x, y) in [(4.0, 4.0), (5.0, 8.0), (6.0, -1.0), (7.0, 4.0)] {
            h.push(x, y);
        }
        assert_eq!(h.stride, 4);
        assert_eq!(
            h.points(),
            vec![(1.0, -3.0), (2.0, 9.0), (5.0, 8.0), (6.0, -1.0)]
        );
    }

    #[test]
    fn odd_capacity_and_flat_buckets() {
        let mut h = History::new(3);
        for i in 0..10 {
            h.push(i as f64, 2.0);
        }
        let pts = h.points();
        assert!(pts.len() <= 6);
        assert_eq!(pts.first(), Some(&(0.0, 2.0)));
        assert_eq!(pts.last(), Some(&(9.0, 2.0)));
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn non_finite_and_decreasing_input() {
        let mut h = History::new(1);
        assert_eq!(h.capacity, 2);
        assert_eq!(h.points(), vec![]);
        assert_eq!((h.last(), h.x_range(), h.y_range()), (None, None, None));
        h.push(0.0, f64::NAN);
        h.push(f64::INFINITY, 1.0);
        h.push(1.0, -2.0);
        h.push(0.5, f64::NEG_INFINITY);
        h.push(0.5, -1.0);
        assert_eq!(h.len_raw(), 5);
        assert_eq!(h.points(), vec![(1.0, -2.0), (1.0, -1.0)]);
        assert_eq!(h.y_range_positive(), None);
        h.clear();
        assert_eq!((h.len_raw(), h.points()), (0, vec![]));
        assert_eq!(h.stride, 1);
    }

    #[test]
    fn smoothing_at_render_time_equals_the_running_ema() {
        let ys: Vec<f64> = (0..500).map(|i| ((i * 7919) % 13) as f64).collect();
        for weight in [0.0, 0.6, 0.9, 0.99] {
            let mut h = History::new(1024);
            let mut ema = Ema::new(weight);
            let mut expected = Vec::new();
            for (i, &y) in ys.iter().enumerate() {
                h.push(i as f64, y);
                expected.push((i as f64, ema.update(y)));
            }
            let got = h.smoothed(weight);
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g.0, e.0);
                assert!((g.1 - e.1).abs() < 1e-9, "{weight}: {g:?} vs {e:?}");
            }
        }
        // Decimated: still close to the running average of a flat series.
        let mut h = History::new(8);
        for i in 0..1000 {
            h.push(i as f64, 2.0 + (i % 2) as f64);
        }
        let last = h.smoothed(0.99).last().copied().unwrap();
        assert_eq!(last.0, 999.0);
        assert!((last.1 - 2.5).abs() < 0.05, "{last:?}");
    }

    #[test]
    fn ema_of_constant_is_constant() {
        for weight in [0.0, 0.6, 0.99, 0.999_999, 1.0] {
            let mut ema = Ema::new(weight);
            for _ in 0..100 {
                let v = ema.update(3.25);
                assert!((v - 3.25).abs() < 1e-9, "weight {weight}: {v}");
            }
        }
    }

    #[test]
    fn ema_smooths_and_skips_non_finite() {
        let mut ema = Ema::new(0.5);
        assert!(ema.update(f64::NAN).is_nan());
        assert_eq!(ema.update(2.0), 2.0);
        // biased = 0.5·1 + 0.5·4 = 2.5, debiased by 1 − 0.5².
        let v = ema.update(4.0);
        assert!((v - 2.5 / 0.75).abs() < 1e-12, "{v}");
        assert_eq!(ema.update(f64::INFINITY), v);
        assert_eq!(Ema::new(f64::NAN).update(7.0), 7.0);
        assert_eq!(Ema::new(-3.0).update(7.0), 7.0);
    }
}
