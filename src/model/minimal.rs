//! The minimal cells of Feng et al. (2024), "Were RNNs All We Needed?", as
//! one dfdx op per layer with a hand-written backward pass.
//!
//! Their gates read only `x_t`, so the whole input projection
//! `[k_1; …; k_G] = X·W_ihᵀ + b_ih` is one product over all steps, and what
//! is left is the linear recurrence `h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t`,
//! a scan over time ([`crate::kernels::scan`]):
//! - minGRU, rows z, h: `z_t = σ(k_z)`, `h̃_t = g(k_h)`;
//! - minLSTM, rows f, i, h: `f = σ(k_f)`, `i = σ(k_i)`, `h̃ = g(k_h)` and
//!   `h_t = f' ⊙ h_{t-1} + i' ⊙ h̃` with `f' = f/(f+i)`, `i' = i/(f+i)`. Then
//!   `i' = σ(d)` with `d = log i − log f = softplus(−k_f) − softplus(−k_i)`
//!   (the paper's log-space form), so `z = σ(d)` and `1 − z = f'`.
//!
//! `g(x) = x + ½` for x ≥ 0 and `σ(x)` below, the paper's positive candidate
//! (its appendix's formulation, whose log-space scan needs `h̃ > 0`).
//!
//! Backward, with `dh_t = ∂L/∂h_t` from the adjoint scan
//! `dh_t = g_t + (1 − z_{t+1}) ⊙ dh_{t+1}`: `∂L/∂z = dh ⊙ (h̃ − h_{t-1})`,
//! `∂L/∂h̃ = dh ⊙ z`, then through σ, g and, for the minLSTM, `d`.

use dfdx::prelude::*;

use super::recurrent::{FlowSink, LayerState, Mat, Recurrence, Vector, add_into, values};
use crate::experiment::Cell;
use crate::kernels::gemm::gemm;
use crate::kernels::math::{
    Lanes, blocks, exp, lanes, load, sigmoid, split_gates, split_gates_mut, store, vectorized,
};
use crate::kernels::par;
use crate::kernels::scan::{scan, scan_adjoint};

/// The paper's positive candidate: `x + ½` for x ≥ 0, `σ(x)` below.
#[inline(always)]
fn g(x: f32) -> f32 {
    if x >= 0.0 { x + 0.5 } else { sigmoid(x) }
}

/// `g'(x)`.
#[inline(always)]
fn g_prime(x: f32) -> f32 {
    if x >= 0.0 {
        1.0
    } else {
        let s = sigmoid(x);
        s * (1.0 - s)
    }
}

/// `ln(1 + e^x)`, without overflow: `max(x, 0) + ln(1 + e^{−|x|})`.
#[inline(always)]
fn softplus(x: f32) -> f32 {
    x.max(0.0) + ln_1p(exp(-x.abs()))
}

/// `ln(1 + y)` for y in [0, 1]: within a few ulp, without a call (so the
/// loops around it vectorise): `2·atanh(u)` with `u = y / (2 + y)` ≤ ⅓.
#[inline(always)]
fn ln_1p(y: f32) -> f32 {
    let u = y / (2.0 + y);
    let u2 = u * u;
    // atanh(u)/u = Σ u^{2k}/(2k+1); u² ≤ 1/9, 9 terms reach 1e-9.
    let mut p = 1.0 / 17.0;
    for k in (0..8).rev() {
        p = p * u2 + 1.0 / (2 * k + 1) as f32;
    }
    2.0 * u * p
}

/// `z` (the update gate, or `i'`) from a row's first gate pre-activations.
#[inline(always)]
fn update(cell: Cell, k: &Lanes, k2: &Lanes) -> Lanes {
    match cell {
        Cell::MinLstm => lanes(|l| sigmoid(softplus(-k[l]) - softplus(-k2[l]))),
        _ => lanes(|l| sigmoid(k[l])),
    }
}

/// From the pre-activations `pre` (`rows × G·H`): `a = 1 − z` and
/// `b = z ⊙ h̃`, `rows × H` each.
fn coefficients(cell: Cell, units: usize, pre: &[f32], a: &mut [f32], b: &mut [f32]) {
    let gs = cell.gates() * units;
    vectorized(
        #[inline(always)]
        || {
            for ((row, a), b) in pre
                .chunks_exact(gs)
                .zip(a.chunks_exact_mut(units))
                .zip(b.chunks_exact_mut(units))
            {
                let (k1, k2, kh) = gates(cell, row, units);
                for at in blocks(units) {
                    let (x1, x2, xh) = (load(k1, at), load(k2, at), load(kh, at));
                    let z = update(cell, &x1, &x2);
                    store(a, at, &lanes(|l| 1.0 - z[l]));
                    store(b, at, &lanes(|l| z[l] * g(xh[l])));
                }
            }
        },
    )
}

/// A row's gate blocks: (z or f, i or unused, h).
fn gates(cell: Cell, row: &[f32], units: usize) -> (&[f32], &[f32], &[f32]) {
    match cell {
        Cell::MinLstm => {
            let [f, i, h] = split_gates(row, units);
            (f, i, h)
        }
        _ => {
            let [z, h] = split_gates(row, units);
            (z, z, h)
        }
    }
}

/// Turns the pre-activations in `pre` into ∂L/∂pre, from `dh` (∂L/∂h_t) and
/// `h_prev` (h_{t-1}), `rows × H` each.
fn gate_grads(cell: Cell, units: usize, pre: &mut [f32], dh: &[f32], h_prev: &[f32]) {
    let gs = cell.gates() * units;
    vectorized(
        #[inline(always)]
        || {
            for ((row, dh), hp) in pre
                .chunks_exact_mut(gs)
                .zip(dh.chunks_exact(units))
                .zip(h_prev.chunks_exact(units))
            {
                for at in blocks(units) {
                    let (dh, hp) = (load(dh, at), load(hp, at));
                    match cell {
                        Cell::MinLstm => {
                            let [kf, ki, kh] = split_gates_mut(row, units);
                            let (xf, xi, xh) = (load(kf, at), load(ki, at), load(kh, at));
                            let z = update(cell, &xf, &xi);
                            // ∂L/∂d = dh ⊙ (h̃ − h_prev) ⊙ z(1 − z)
                            let dd = lanes(|l| dh[l] * (g(xh[l]) - hp[l]) * z[l] * (1.0 - z[l]));
                            store(kf, at, &lanes(|l| -dd[l] * sigmoid(-xf[l])));
                            store(ki, at, &lanes(|l| dd[l] * sigmoid(-xi[l])));
                            store(kh, at, &lanes(|l| dh[l] * z[l] * g_prime(xh[l])));
                        }
                        _ => {
                            let [kz, kh] = split_gates_mut(row, units);
                            let (xz, xh) = (load(kz, at), load(kh, at));
                            let z = lanes(|l| sigmoid(xz[l]));
                            store(
                                kz,
                                at,
                                &lanes(|l| dh[l] * (g(xh[l]) - hp[l]) * z[l] * (1.0 - z[l])),
                            );
                            store(kh, at, &lanes(|l| dh[l] * z[l] * g_prime(xh[l])));
                        }
                    }
                }
            }
        },
    )
}

/// Calls `f(top)` with the row at which an element-wise pass over `rows`
/// rows is cut in two halves for `rayon::join`, so that the passes between
/// the products use both cores like the products do: half of them, or all
/// of them (the second half empty) for a small pass. The cut depends on the
/// size only, never on the threads, so the results (the bias gradient's
/// two partial sums included) are the same with any number of threads.
fn in_halves(rows: usize, f: impl FnOnce(usize)) {
    const PARALLEL_ROWS: usize = 512;
    f(if rows >= PARALLEL_ROWS {
        rows / 2
    } else {
        rows
    })
}

/// Runs a minimal-cell layer over the sequence `x` (`(T·B) × in`,
/// time-major); records its backward pass on the tape `x` carries. `flow`
/// and `state` as for [`super::recurrent::recurrence`].
pub fn minimal<T: Tape<f32, Cpu>>(
    x: Mat<T>,
    w_ih: &Mat,
    b_ih: &Vector,
    r: Recurrence,
    flow: Option<FlowSink>,
    state: Option<&mut LayerState>,
) -> Mat<T> {
    let (x, mut tape) = x.split_tape();
    let (h, b, steps) = (r.units, r.batch, r.steps);
    let gh = r.cell.gates() * h;
    let (rows, input) = *x.shape();
    assert_eq!(rows, steps * b, "x rows must be steps × batch");
    assert_eq!(
        w_ih.shape(),
        &(gh, input),
        "W_ih must be (gates × units) × input"
    );
    let xv = values(&x);
    let w = values(w_ih);
    let mut pre = par::repeat_rows(&values(b_ih), rows);
    gemm(
        rows,
        input,
        gh,
        &xv,
        (input, 1),
        &w,
        (1, input),
        1.0,
        &mut pre,
    );
    let bh = b * h;
    let mut a = par::zeros(rows * h);
    // h_{-1}, then b_t = z_t ⊙ h̃_t, which the scan turns into h_t in place.
    let mut hs = par::zeros((steps + 1) * bh);
    {
        let (cell, gs) = (r.cell, gh);
        in_halves(rows, |top| {
            let (pre0, pre1) = pre.split_at(top * gs);
            let (a0, a1) = a.split_at_mut(top * h);
            let (b0, b1) = hs[bh..].split_at_mut(top * h);
            rayon::join(
                || coefficients(cell, h, pre0, a0, b0),
                || coefficients(cell, h, pre1, a1, b1),
            );
        });
    }
    if let Some(init) = state.as_deref()
        && init.h.len() == bh
    {
        hs[..bh].copy_from_slice(&init.h);
    }
    scan(&a, &mut hs, bh);
    let dev = x.device().clone();
    let out = if r.last_only {
        dev.tensor_from_vec(hs[steps * bh..].to_vec(), (b, h))
    } else {
        dev.tensor_from_vec(par::copy(&hs[bh..]), (rows, h))
    };
    if let Some(state) = state {
        *state = LayerState {
            h: hs[steps * bh..].to_vec(),
            c: Vec::new(),
        };
    }
    if T::OWNS_TAPE {
        let (out_g, x_g, w_g, b_g) = (out.ghost(), x.ghost(), w_ih.ghost(), b_ih.ghost());
        tape.add_backward_op(move |grads| {
            let g_out = grads.get_or_alloc_mut(&out_g)?;
            // ∂L/∂h_t's direct part at every step, which the adjoint scan
            // turns into ∂L/∂h_t in place; a zero row after the last step.
            let mut dh = par::zeros((steps + 1) * bh);
            if r.last_only {
                dh[(steps - 1) * bh..steps * bh].copy_from_slice(g_out);
            } else {
                dh[..rows * h].copy_from_slice(g_out);
            }
            scan_adjoint(&a, &mut dh, bh);
            if let Some(sink) = &flow
                && let Ok(mut v) = sink.lock()
            {
                *v = dh[..rows * h]
                    .chunks_exact(bh)
                    .map(|d| d.iter().map(|v| v * v).sum::<f32>().sqrt())
                    .collect();
            }
            let mut pre = pre;
            in_halves(rows, |top| {
                let (p0, p1) = pre.split_at_mut(top * gh);
                let (d0, d1) = dh[..rows * h].split_at(top * h);
                let (h0, h1) = hs[..rows * h].split_at(top * h);
                rayon::join(
                    || gate_grads(r.cell, h, p0, d0, h0),
                    || gate_grads(r.cell, h, p1, d1, h1),
                );
            });
            let dpre = pre;
            // ∂W_ih = ∂preᵀ·X, ∂b_ih = Σ rows, ∂X = ∂pre·W_ih.
            gemm(
                gh,
                rows,
                input,
                &dpre,
                (1, gh),
                &xv,
                (input, 1),
                1.0,
                grads.get_or_alloc_mut(&w_g)?,
            );
            // Column sums of each half, added in order.
            let column_sums = |rows: &[f32]| {
                let mut db = vec![0.0; gh];
                for row in rows.chunks_exact(gh) {
                    add_into(&mut db, row);
                }
                db
            };
            let mut db = vec![0.0; gh];
            in_halves(rows, |top| {
                let (r0, r1) = dpre.split_at(top * gh);
                let (s0, s1) = rayon::join(|| column_sums(r0), || column_sums(r1));
                add_into(&mut db, &s0);
                add_into(&mut db, &s1);
            });
            add_into(grads.get_or_alloc_mut(&b_g)?, &db);
            if r.input_grad {
                gemm(
                    rows,
                    gh,
                    input,
                    &dpre,
                    (gh, 1),
                    &w,
                    (input, 1),
                    1.0,
                    grads.get_or_alloc_mut(&x_g)?,
                );
            }
            Ok(())
        });
    }
    out.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_and_g_match_libm() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            let want = (1.0 + (x as f64).exp()).ln();
            worst = worst.max((softplus(x) as f64 - want).abs() / want.max(1e-30));
        }
        assert!(
            worst < 4.0 * f32::EPSILON as f64,
            "softplus: worst relative error {worst}"
        );
        assert_eq!((g(0.0), g(2.0), g_prime(3.0)), (0.5, 2.5, 1.0));
        assert!((g(-1.0) - 1.0 / (1.0 + 1f32.exp())).abs() < 1e-7);
        assert!(softplus(100.0) == 100.0 && softplus(-100.0) < 1e-37);
    }
}
