//! LSTM cell in PyTorch's formulation, gate order i, f, g, o:
//! `c_t = f ⊙ c_{t-1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
//!
//! Rows are batch items; each row of the gates holds the four gates
//! side by side (4 × H), as in PyTorch's fused weight matrices. The loops
//! run over blocks of 16 units ([`Lanes`]) so that they vectorise.

use super::norm;
use crate::kernels::math::{
    blocks, lanes, load, lstm_cell, split_gates_mut, store, tanh, vectorized,
};

/// One step forward. `a` holds the pre-activation gates (B × 4H, both
/// projections and both biases) on entry and the activated gates on exit,
/// which the backward pass needs; writes the cell state and the output.
pub fn forward(units: usize, a: &mut [f32], c_prev: &[f32], c: &mut [f32], h: &mut [f32]) {
    let (hs, gs) = (units, 4 * units);
    vectorized(
        #[inline(always)]
        || {
            for (row, ((a, c), h)) in a
                .chunks_exact_mut(gs)
                .zip(c.chunks_exact_mut(hs))
                .zip(h.chunks_exact_mut(hs))
                .enumerate()
            {
                let c_prev = &c_prev[row * hs..];
                let [gi, gf, gg, go] = split_gates_mut(a, hs);
                for b in blocks(hs) {
                    let z = [load(gi, b), load(gf, b), load(gg, b), load(go, b)];
                    let ([i, f, g, o], cv, hv) =
                        lstm_cell([&z[0], &z[1], &z[2], &z[3]], &load(c_prev, b));
                    store(gi, b, &i);
                    store(gf, b, &f);
                    store(gg, b, &g);
                    store(go, b, &o);
                    store(c, b, &cv);
                    store(h, b, &hv);
                }
            }
        },
    )
}

/// One step backward. `dh` is ∂L/∂h_t; `dc` holds ∂L/∂c_t from the later step
/// on entry and ∂L/∂c_{t-1} on exit. `a` holds the activated gates on entry
/// and ∂L/∂(pre-activation gates) on exit, which is both ∂L/∂xp and ∂L/∂hp.
pub fn backward(
    units: usize,
    dh: &[f32],
    a: &mut [f32],
    c_prev: &[f32],
    c: &[f32],
    dc: &mut [f32],
) {
    let (hs, gs) = (units, 4 * units);
    vectorized(
        #[inline(always)]
        || {
            for (row, (a, dc)) in a
                .chunks_exact_mut(gs)
                .zip(dc.chunks_exact_mut(hs))
                .enumerate()
            {
                let at = row * hs..(row + 1) * hs;
                let (dh, c_prev, c) = (&dh[at.clone()], &c_prev[at.clone()], &c[at]);
                let [gi, gf, gg, go] = split_gates_mut(a, hs);
                for b in blocks(hs) {
                    let (i, f, g, o) = (load(gi, b), load(gf, b), load(gg, b), load(go, b));
                    let (dh, cp, cv, dcn) = (load(dh, b), load(c_prev, b), load(c, b), load(dc, b));
                    let tc = lanes(|l| tanh(cv[l]));
                    let dcv = lanes(|l| dcn[l] + dh[l] * o[l] * (1.0 - tc[l] * tc[l]));
                    store(gi, b, &lanes(|l| dcv[l] * g[l] * i[l] * (1.0 - i[l])));
                    store(gf, b, &lanes(|l| dcv[l] * cp[l] * f[l] * (1.0 - f[l])));
                    store(gg, b, &lanes(|l| dcv[l] * i[l] * (1.0 - g[l] * g[l])));
                    store(go, b, &lanes(|l| dh[l] * tc[l] * o[l] * (1.0 - o[l])));
                    store(dc, b, &lanes(|l| dcv[l] * f[l]));
                }
            }
        },
    )
}

/// One step forward with layer normalisation of the cell state (Ba et al.
/// 2016): as [`forward`], but `h_t = o ⊙ tanh(γ ⊙ LN(c_t) + β)`; `ln` is γ
/// then β; `stats` gets each row's mean and `1/√(σ² + ε)` of `c_t`.
pub fn forward_ln(
    units: usize,
    a: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    h: &mut [f32],
    ln: &[f32],
    stats: &mut [f32],
) {
    forward(units, a, c_prev, c, h);
    let (gamma, beta) = ln.split_at(units);
    let mut chat = vec![0.0f32; units];
    vectorized(
        #[inline(always)]
        || {
            for (((a, c), h), stats) in a
                .chunks_exact(4 * units)
                .zip(c.chunks_exact(units))
                .zip(h.chunks_exact_mut(units))
                .zip(stats.chunks_exact_mut(2))
            {
                let o = &a[3 * units..];
                chat.copy_from_slice(c);
                let mean = chat.iter().sum::<f32>() / units as f32;
                let mut r = [0.0];
                norm::normalize(&mut chat, units, &mut r);
                stats.copy_from_slice(&[mean, r[0]]);
                for ((((h, x), o), g), b) in h.iter_mut().zip(&chat).zip(o).zip(gamma).zip(beta) {
                    *h = o * tanh(g * x + b);
                }
            }
        },
    )
}

/// One step backward through [`forward_ln`]; as [`backward`], and adds
/// ∂L/∂γ, ∂L/∂β of the cell state's normalisation to `dln`.
#[allow(clippy::too_many_arguments)]
pub fn backward_ln(
    units: usize,
    dh: &[f32],
    a: &mut [f32],
    c_prev: &[f32],
    c: &[f32],
    dc: &mut [f32],
    ln: &[f32],
    stats: &[f32],
    dln: &mut [f32],
) {
    let hs = units;
    let gamma = &ln[..hs];
    let (dgamma, dbeta) = dln.split_at_mut(hs);
    // Per row: ĉ, then tanh(y), then ∂L/∂c_t through h.
    let (mut chat, mut ty, mut dch) = (vec![0.0f32; hs], vec![0.0f32; hs], vec![0.0f32; hs]);
    vectorized(
        #[inline(always)]
        || {
            for (row, ((a, dc), stats)) in a
                .chunks_exact_mut(4 * hs)
                .zip(dc.chunks_exact_mut(hs))
                .zip(stats.chunks_exact(2))
                .enumerate()
            {
                let at = row * hs..(row + 1) * hs;
                let (dh, c_prev, c) = (&dh[at.clone()], &c_prev[at.clone()], &c[at]);
                let (mean, r) = (stats[0], stats[1]);
                let [gi, gf, gg, go] = split_gates_mut(a, hs);
                for j in 0..hs {
                    chat[j] = (c[j] - mean) * r;
                    ty[j] = tanh(gamma[j] * chat[j] + ln[hs + j]);
                    dch[j] = dh[j] * go[j] * (1.0 - ty[j] * ty[j]);
                }
                norm::row_backward(&mut dch, &chat, r, gamma, dgamma, dbeta);
                for j in 0..hs {
                    let (i, f, g, o) = (gi[j], gf[j], gg[j], go[j]);
                    let dcv = dc[j] + dch[j];
                    gi[j] = dcv * g * i * (1.0 - i);
                    gf[j] = dcv * c_prev[j] * f * (1.0 - f);
                    gg[j] = dcv * i * (1.0 - g * g);
                    go[j] = dh[j] * ty[j] * o * (1.0 - o);
                    dc[j] = dcv * f;
                }
            }
        },
    )
}
