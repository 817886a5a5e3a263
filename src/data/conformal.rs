//! Conformalized quantile regression (Romano, Patterson & Candès 2019):
//! the model's central intervals widened or narrowed so that, on forecasts
//! it was not trained on (the validation part), each covers its nominal
//! share of true values.
//!
//! For a central interval `[q_lo, q_hi]` with nominal coverage
//! `1 − α = hi − lo` and each forecast step `j`, every validation forecast
//! gives the conformity score `s = max(q_lo − y, y − q_hi)` (negative when
//! `y` lies inside, by its distance to the nearer bound). The offset is the
//! `⌈(n + 1)(1 − α)⌉`-th smallest of the `n` scores (the largest when that
//! rank exceeds `n`); every later forecast's interval becomes
//! `[q_lo − offset, q_hi + offset]`. With exchangeable forecasts this
//! covers at least `1 − α` of new values (split conformal prediction);
//! a series whose spread changes after the validation part is not
//! exchangeable, so the guarantee is an aim there, not a bound.
//!
//! Offsets are in the model's scaled units (after `data.transform`), so
//! with a log transform they scale the interval in the original units.

use serde::{Deserialize, Serialize};

use super::interval::intervals;

/// The fitted offsets of every central interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conformal {
    /// `"conformal"`.
    pub method: String,
    /// The training step of the model the offsets were fitted for: they
    /// apply to that model's forecasts only.
    pub step: u64,
    /// Validation forecasts the scores came from.
    pub windows: usize,
    /// Per central interval, outermost first.
    pub intervals: Vec<Offsets>,
}

/// One central interval's offsets, one per forecast step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offsets {
    pub lo: f64,
    pub hi: f64,
    /// Scaled units; positive widens the interval.
    pub offsets: Vec<f32>,
}

impl Conformal {
    /// Fits the offsets on `n` forecasts: `q` holds each forecast's
    /// quantiles at `levels` (`n × levels × k`, sorted per value), `truth`
    /// the values (`n × k`). `None` without forecasts.
    pub fn fit(levels: &[f64], q: &[f32], truth: &[f32], k: usize, step: u64) -> Option<Conformal> {
        let n = truth.len() / k.max(1);
        if n == 0 || k == 0 {
            return None;
        }
        let block = levels.len() * k;
        let intervals = intervals(levels)
            .into_iter()
            .map(|(lo, hi)| {
                let nominal = levels[hi] - levels[lo];
                // 1-based rank of the offset among the sorted scores.
                let rank = (((n + 1) as f64 * nominal).ceil() as usize).clamp(1, n);
                let offsets = (0..k)
                    .map(|j| {
                        let mut scores: Vec<f32> = (0..n)
                            .map(|b| {
                                let y = truth[b * k + j];
                                let (ql, qh) =
                                    (q[b * block + lo * k + j], q[b * block + hi * k + j]);
                                (ql - y).max(y - qh)
                            })
                            .collect();
                        scores.sort_by(f32::total_cmp);
                        scores[rank - 1]
                    })
                    .collect();
                Offsets {
                    lo: levels[lo],
                    hi: levels[hi],
                    offsets,
                }
            })
            .collect();
        Some(Conformal {
            method: "conformal".into(),
            step,
            windows: n,
            intervals,
        })
    }

    /// Moves the bounds of each forecast's intervals in `q` (`n × levels ×
    /// k`, sorted per value) by the offsets. A bound moved inwards stops at
    /// the next level inside it, so the quantiles stay sorted and the
    /// median (or the innermost pair) is never moved.
    pub fn apply(&self, levels: &[f64], q: &mut [f32], k: usize) {
        let block = levels.len() * k;
        if block == 0 {
            return;
        }
        let pairs = intervals(levels);
        for row in q.chunks_exact_mut(block) {
            // Innermost interval first, so each bound can stop at the one inside it.
            for (i, &(lo, hi)) in pairs.iter().enumerate().rev() {
                let Some(fit) = self.intervals.get(i) else {
                    continue;
                };
                let inner = (lo + 1 < hi).then_some((lo + 1, hi - 1));
                for j in 0..k {
                    let d = fit.offsets[j];
                    let (mut l, mut h) = (row[lo * k + j] - d, row[hi * k + j] + d);
                    match inner {
                        Some((il, ih)) => {
                            l = l.min(row[il * k + j]);
                            h = h.max(row[ih * k + j]);
                        }
                        None => {
                            // The innermost pair: narrowed at most to its middle.
                            let mid = 0.5 * (row[lo * k + j] + row[hi * k + j]);
                            l = l.min(mid);
                            h = h.max(mid);
                        }
                    }
                    row[lo * k + j] = l;
                    row[hi * k + j] = h;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten forecasts of one value with the interval [−1, 1] around 0 and
    /// truths 0.5, 1.0, …, 5.0: scores y − 1 = −0.5, 0, 0.5, …, 4.0. For
    /// 80 %, rank ⌈11 · 0.8⌉ = 9: the offset is the 9th score, 3.5.
    #[test]
    fn the_offset_is_the_conformal_rank_of_the_scores() {
        let levels = [0.1, 0.5, 0.9];
        let n = 10;
        let q: Vec<f32> = (0..n).flat_map(|_| [-1.0, 0.0, 1.0]).collect();
        let truth: Vec<f32> = (1..=n).map(|i| 0.5 * i as f32).collect();
        let c = Conformal::fit(&levels, &q, &truth, 1, 7).unwrap();
        assert_eq!(c.windows, 10);
        assert_eq!(c.step, 7);
        assert_eq!(c.intervals.len(), 1);
        assert_eq!((c.intervals[0].lo, c.intervals[0].hi), (0.1, 0.9));
        assert_eq!(c.intervals[0].offsets, vec![3.5]);
        // Applied: [−4.5, 4.5], covering 9 of the 10 truths (0.5 … 4.5):
        // at least ⌈(n + 1)·0.8⌉ of n, the split-conformal guarantee.
        let mut q2 = q.clone();
        c.apply(&levels, &mut q2, 1);
        assert_eq!(&q2[..3], &[-4.5, 0.0, 4.5]);
        let inside = truth.iter().filter(|&&y| (-4.5..=4.5).contains(&y)).count();
        assert_eq!(inside, 9);
    }

    /// Too wide an interval is narrowed; a bound never crosses the median,
    /// and nested intervals stay nested.
    #[test]
    fn narrowing_keeps_the_quantiles_sorted() {
        let levels = [0.05, 0.1, 0.5, 0.9, 0.95];
        let c = Conformal {
            method: "conformal".into(),
            step: 1,
            windows: 1,
            intervals: vec![
                Offsets {
                    lo: 0.05,
                    hi: 0.95,
                    offsets: vec![-10.0],
                },
                Offsets {
                    lo: 0.1,
                    hi: 0.9,
                    offsets: vec![-0.5],
                },
            ],
        };
        let mut q = vec![-3.0, -2.0, 0.0, 2.0, 3.0];
        c.apply(&levels, &mut q, 1);
        assert_eq!(q, vec![-1.5, -1.5, 0.0, 1.5, 1.5]);
        let mut q = vec![-3.0, -2.0, 0.0, 2.0, 3.0];
        let wide = Conformal {
            intervals: vec![
                Offsets {
                    lo: 0.05,
                    hi: 0.95,
                    offsets: vec![1.0],
                },
                Offsets {
                    lo: 0.1,
                    hi: 0.9,
                    offsets: vec![-5.0],
                },
            ],
            ..c
        };
        wide.apply(&levels, &mut q, 1);
        assert_eq!(q, vec![-4.0, 0.0, 0.0, 0.0, 4.0]);
    }

    /// Per step: each forecast step has its own offset, and a rank above n
    /// takes the largest score.
    #[test]
    fn each_step_has_its_own_offset() {
        let levels = [0.1, 0.9];
        // Two forecasts of two steps: step 0 inside, step 1 outside by 2 and 4.
        let q = vec![-1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0];
        let truth = vec![0.0, 3.0, 0.5, 5.0];
        let c = Conformal::fit(&levels, &q, &truth, 2, 1).unwrap();
        // n = 2: rank ⌈3 · 0.8⌉ = 3 > 2, so the largest score.
        assert_eq!(c.intervals[0].offsets, vec![-0.5, 4.0]);
        assert!(Conformal::fit(&levels, &[], &[], 2, 1).is_none());
    }
}
