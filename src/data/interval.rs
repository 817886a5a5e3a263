//! The metrics of quantile forecasts (`task.quantiles`, or a Gaussian's
//! quantiles), in the data's original units:
//!
//! - `pinball_q{level}`: the mean pinball (quantile) loss of that level,
//!   `ρ_q(u) = q·u` for `u = y − ŷ ≥ 0`, `(q − 1)·u` below; `pinball`: their
//!   mean over levels (half the MAE of the median for a median alone).
//! - `coverage_q{lo}_q{hi}`: for each central interval, the outermost first
//!   (the first level with the last, the second with the one before it, …),
//!   the fraction of true values inside it, bounds included; nominally
//!   `hi − lo` (0.8 for `q0.1` to `q0.9`).
//! - `width_q{lo}_q{hi}`: the interval's mean width.
//!
//! Quantiles are sorted per forecast value before they are scored or
//! reported ([`sort_each`]): separately trained quantile heads can cross,
//! and a reported 0.1 quantile above the 0.9 one would be no interval.

use crate::experiment::level_name;

/// The pinball loss of quantile level `q` for the error `u = y − ŷ`:
/// `q·u` when the truth is at or above the prediction, `(q − 1)·u` below.
pub fn pinball(q: f64, u: f64) -> f64 {
    if u >= 0.0 { q * u } else { (q - 1.0) * u }
}

/// The central intervals of ascending `levels`, outermost first: the index
/// pairs (0, n − 1), (1, n − 2), … (a middle level alone pairs with nothing).
pub fn intervals(levels: &[f64]) -> Vec<(usize, usize)> {
    let n = levels.len();
    (0..n / 2).map(|i| (i, n - 1 - i)).collect()
}

/// The name of the interval between levels `lo` and `hi`: `q0.1_q0.9`.
pub fn interval_name(lo: f64, hi: f64) -> String {
    format!("{}_{}", level_name(lo), level_name(hi))
}

/// The metric names [`metrics`] returns for `levels` (at least one), in its order.
pub fn metric_names(levels: &[f64]) -> Vec<String> {
    let mut out = vec!["pinball".to_string()];
    out.extend(levels.iter().map(|&q| format!("pinball_{}", level_name(q))));
    for (lo, hi) in intervals(levels) {
        let name = interval_name(levels[lo], levels[hi]);
        out.push(format!("coverage_{name}"));
        out.push(format!("width_{name}"));
    }
    out
}

/// Sorts the quantiles of every forecast value in place: `q` holds, per
/// prediction, `heads` blocks of `k` values (quantile-major), and each
/// value's `heads` quantiles end up ascending.
pub fn sort_each(q: &mut [f32], heads: usize, k: usize) {
    let block = heads * k;
    let mut column = Vec::with_capacity(heads);
    for pred in q.chunks_exact_mut(block.max(1)) {
        for j in 0..k {
            column.clear();
            column.extend((0..heads).map(|h| pred[h * k + j]));
            column.sort_by(f32::total_cmp);
            for (h, v) in column.iter().enumerate() {
                pred[h * k + j] = *v;
            }
        }
    }
}

/// Every metric of [`metric_names`] for the quantiles `q` (per prediction,
/// `levels.len()` blocks of `k` values, sorted) against `truth` (`k` values
/// per prediction), in original units.
pub fn metrics(levels: &[f64], q: &[f32], truth: &[f32], k: usize) -> Vec<(String, f64)> {
    let heads = levels.len();
    assert_eq!(
        q.len(),
        truth.len() * heads,
        "one quantile per value and level"
    );
    let n = truth.len().max(1) as f64;
    let at = |r: usize, h: usize, j: usize| q[(r * heads + h) * k + j] as f64;
    let rows = truth.len() / k.max(1);
    let each = |f: &dyn Fn(usize, usize, f64) -> f64| -> f64 {
        let mut sum = 0.0;
        for r in 0..rows {
            for j in 0..k {
                sum += f(r, j, truth[r * k + j] as f64);
            }
        }
        sum / n
    };
    let per_level: Vec<f64> = levels
        .iter()
        .enumerate()
        .map(|(h, &level)| each(&|r, j, y| pinball(level, y - at(r, h, j))))
        .collect();
    let mut out = vec![(
        "pinball".to_string(),
        per_level.iter().sum::<f64>() / heads.max(1) as f64,
    )];
    for (&level, v) in levels.iter().zip(&per_level) {
        out.push((format!("pinball_{}", level_name(level)), *v));
    }
    for (lo, hi) in intervals(levels) {
        let name = interval_name(levels[lo], levels[hi]);
        let inside = each(&|r, j, y| f64::from(at(r, lo, j) <= y && y <= at(r, hi, j)));
        let width = each(&|r, j, _| at(r, hi, j) - at(r, lo, j));
        out.push((format!("coverage_{name}"), inside));
        out.push((format!("width_{name}"), width));
    }
    out
}

/// The standard normal distribution's quantile function Φ⁻¹(p), 0 < p < 1
/// (Acklam's rational approximation, relative error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn names_pair_the_levels_outermost_first() {
        let levels = [0.05, 0.1, 0.5, 0.9, 0.95];
        assert_eq!(intervals(&levels), [(0, 4), (1, 3)]);
        assert_eq!(
            metric_names(&levels[1..4]),
            [
                "pinball",
                "pinball_q0.1",
                "pinball_q0.5",
                "pinball_q0.9",
                "coverage_q0.1_q0.9",
                "width_q0.1_q0.9"
            ]
        );
        // A median alone has no interval.
        assert_eq!(metric_names(&[0.5]), ["pinball", "pinball_q0.5"]);
    }

    /// Crossed quantiles are reported sorted, value by value.
    #[test]
    fn crossing_quantiles_are_sorted_per_value() {
        // Two predictions of 2 values, 3 levels: [q1 × 2][q2 × 2][q3 × 2].
        let mut q = [5.0, 1.0, 3.0, 2.0, 4.0, 3.0, 0.0, 1.0, 2.0, 1.0, -1.0, 7.0];
        sort_each(&mut q, 3, 2);
        assert_eq!(
            q,
            [3.0, 1.0, 4.0, 2.0, 5.0, 3.0, -1.0, 1.0, 0.0, 1.0, 2.0, 7.0]
        );
    }

    #[test]
    fn metrics_by_hand() {
        let levels = [0.1, 0.5, 0.9];
        // One prediction of 2 values: truths 1 and 10.
        // q0.1: 0, 4; q0.5: 1, 6; q0.9: 3, 8.
        let q = [0.0, 4.0, 1.0, 6.0, 3.0, 8.0];
        let m = metrics(&levels, &q, &[1.0, 10.0], 2);
        let get = |k: &str| m.iter().find(|(n, _)| n == k).unwrap().1;
        // q0.1: u = 1, 6 → 0.1, 0.6: mean 0.35.
        assert!(close(get("pinball_q0.1"), 0.35));
        // q0.5: u = 0, 4 → 0, 2: mean 1.
        assert!(close(get("pinball_q0.5"), 1.0));
        // q0.9: u = −2, 2 → 0.2, 1.8: mean 1.
        assert!(close(get("pinball_q0.9"), 1.0));
        assert!(close(get("pinball"), 2.35 / 3.0));
        // 1 lies in [0, 3]; 10 is above [4, 8]: coverage ½; widths 3, 4.
        assert!(close(get("coverage_q0.1_q0.9"), 0.5));
        assert!(close(get("width_q0.1_q0.9"), 3.5));
        let names: Vec<String> = m.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, metric_names(&levels));
        // Bounds count as inside.
        let edge = metrics(&[0.1, 0.9], &[1.0, 2.0], &[2.0], 1);
        assert!(close(edge[3].1, 1.0));
    }

    #[test]
    fn normal_quantiles_by_table() {
        for (p, z) in [
            (0.5, 0.0),
            (0.9, 1.281_551_565_544_600_5),
            (0.975, 1.959_963_984_540_054),
            (0.01, -2.326_347_874_040_841),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-8, "Φ⁻¹({p})");
        }
        assert!(close(normal_quantile(0.1), -normal_quantile(0.9)));
    }
}
