//! Layer normalisation (Ba et al. 2016) of the rows of a matrix, as the
//! recurrent cells use it: `x̂ = (x − μ)/√(σ² + ε)` per row (biased
//! variance, PyTorch's `LayerNorm`), then `y = γ ⊙ x̂ + β`.
//!
//! The forward pass keeps `x̂` and `1/√(σ² + ε)` per row; the backward pass
//! needs nothing else.

use crate::kernels::math::vectorized;

/// `ε` of the layer normalisation, PyTorch's default.
pub const EPS: f32 = 1e-5;

/// Normalises one row in place; returns `1/√(σ² + ε)`.
#[inline(always)]
fn normalize_row(x: &mut [f32]) -> f32 {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let r = 1.0 / (var + EPS).sqrt();
    for v in x.iter_mut() {
        *v = (*v - mean) * r;
    }
    r
}

/// Normalises each row (of `width` values) of `x` in place, `x` → `x̂`, and
/// writes `1/√(σ² + ε)` per row to `rstd`.
pub fn normalize(x: &mut [f32], width: usize, rstd: &mut [f32]) {
    vectorized(
        #[inline(always)]
        || {
            for (row, r) in x.chunks_exact_mut(width).zip(rstd.iter_mut()) {
                *r = normalize_row(row);
            }
        },
    )
}

/// Adds `γ ⊙ x̂ + β` to each row of `out` (rows of `γ.len()` values).
pub fn add_affine(xhat: &[f32], gamma: &[f32], beta: &[f32], out: &mut [f32]) {
    let width = gamma.len();
    vectorized(
        #[inline(always)]
        || {
            for (o, x) in out.chunks_exact_mut(width).zip(xhat.chunks_exact(width)) {
                for (((o, x), g), b) in o.iter_mut().zip(x).zip(gamma).zip(beta) {
                    *o += g * x + b;
                }
            }
        },
    )
}

/// Backward through `y = γ ⊙ x̂ + β`, `x̂ = LN(x)`: `d` holds ∂L/∂y on entry
/// and ∂L/∂x on exit; adds ∂L/∂γ and ∂L/∂β to `dgamma` and `dbeta`.
pub fn backward(
    d: &mut [f32],
    xhat: &[f32],
    rstd: &[f32],
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let width = gamma.len();
    vectorized(
        #[inline(always)]
        || {
            for ((d, x), r) in d
                .chunks_exact_mut(width)
                .zip(xhat.chunks_exact(width))
                .zip(rstd)
            {
                row_backward(d, x, *r, gamma, dgamma, dbeta);
            }
        },
    )
}

/// [`backward`] for one row.
#[inline(always)]
pub fn row_backward(
    d: &mut [f32],
    xhat: &[f32],
    rstd: f32,
    gamma: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let n = d.len() as f32;
    let (mut sum_d, mut sum_dx) = (0.0f32, 0.0f32);
    for ((((d, x), g), dg), db) in d
        .iter_mut()
        .zip(xhat)
        .zip(gamma)
        .zip(dgamma.iter_mut())
        .zip(dbeta.iter_mut())
    {
        *dg += *d * x;
        *db += *d;
        // ∂L/∂x̂
        *d *= g;
        sum_d += *d;
        sum_dx += *d * x;
    }
    let (mean_d, mean_dx) = (sum_d / n, sum_dx / n);
    for (d, x) in d.iter_mut().zip(xhat) {
        *d = rstd * (*d - mean_d - x * mean_dx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The normalisation and its backward pass against central differences
    /// in f64 of `L = Σ w ⊙ (γ ⊙ x̂ + β)`.
    #[test]
    fn backward_matches_differences() {
        let width = 5;
        let x: Vec<f32> = (0..10)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.37)
            .collect();
        let gamma = [1.2f32, 0.7, -0.4, 1.0, 0.3];
        let beta = [0.1f32, -0.2, 0.0, 0.5, 0.3];
        let w: Vec<f32> = (0..10).map(|i| ((i * 3 % 7) as f32 - 3.0) * 0.5).collect();
        let loss = |x: &[f32]| -> f64 {
            let mut xh = x.to_vec();
            let mut r = vec![0.0; 2];
            normalize(&mut xh, width, &mut r);
            let mut y = vec![0.0; 10];
            add_affine(&xh, &gamma, &beta, &mut y);
            y.iter()
                .zip(&w)
                .map(|(y, w)| (*y as f64) * (*w as f64))
                .sum()
        };
        let mut xhat = x.clone();
        let mut rstd = vec![0.0; 2];
        normalize(&mut xhat, width, &mut rstd);
        let mut d = w.clone();
        let (mut dg, mut db) = (vec![0.0; width], vec![0.0; width]);
        backward(&mut d, &xhat, &rstd, &gamma, &mut dg, &mut db);
        for i in 0..x.len() {
            let eps = 1e-3;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += eps;
            down[i] -= eps;
            let numeric = (loss(&up) - loss(&down)) / (2.0 * eps as f64);
            assert!(
                (numeric - d[i] as f64).abs() < 2e-3,
                "x[{i}]: {numeric} vs {}",
                d[i]
            );
        }
        for j in 0..width {
            let expect_db: f32 = w[j] + w[width + j];
            assert!((db[j] - expect_db).abs() < 1e-6);
            let expect_dg: f32 = w[j] * xhat[j] + w[width + j] * xhat[width + j];
            assert!((dg[j] - expect_dg).abs() < 1e-6);
        }
        // Every row of x̂ has mean 0 and variance ≈ 1.
        for row in xhat.chunks_exact(width) {
            let mean: f32 = row.iter().sum::<f32>() / width as f32;
            let var: f32 = row.iter().map(|v| v * v).sum::<f32>() / width as f32;
            assert!(
                mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-3,
                "{mean} {var}"
            );
        }
    }
}
