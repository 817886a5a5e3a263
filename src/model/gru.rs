//! GRU cell in PyTorch's formulation, gate order r, z, n:
//! `r = σ(xp_r + hp_r)`, `z = σ(xp_z + hp_z)`, `n = tanh(xp_n + r ⊙ hp_n)`,
//! `h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}`, where `hp = W_hh h_{t-1} + b_hh`.
//!
//! The loops run over blocks of 16 units ([`crate::kernels::math::Lanes`]) so that
//! they vectorise.

use crate::kernels::math::{
    blocks, lanes, load, sigmoid, split_gates, split_gates_mut, store, tanh, vectorized,
};

/// One step forward. `a` holds the input projection with `b_ih` (B × 3H)
/// on entry and the activated gates r, z, n on exit, which the backward
/// pass needs; `hp` is the recurrent projection with `b_hh`. Writes the output.
pub fn forward(units: usize, a: &mut [f32], hp: &[f32], h_prev: &[f32], h: &mut [f32]) {
    let (hs, gs) = (units, 3 * units);
    vectorized(
        #[inline(always)]
        || {
            for (row, (a, h)) in a
                .chunks_exact_mut(gs)
                .zip(h.chunks_exact_mut(hs))
                .enumerate()
            {
                let [hr, hz, hn] = split_gates(&hp[row * gs..], hs);
                let h_prev = &h_prev[row * hs..];
                let [gr, gz, gn] = split_gates_mut(a, hs);
                for b in blocks(hs) {
                    let (xr, xz, xn) = (load(gr, b), load(gz, b), load(gn, b));
                    let (hr, hz, hn) = (load(hr, b), load(hz, b), load(hn, b));
                    let hv = load(h_prev, b);
                    let r = lanes(|l| sigmoid(xr[l] + hr[l]));
                    let z = lanes(|l| sigmoid(xz[l] + hz[l]));
                    let n = lanes(|l| tanh(xn[l] + r[l] * hn[l]));
                    store(gr, b, &r);
                    store(gz, b, &z);
                    store(gn, b, &n);
                    store(h, b, &lanes(|l| (1.0 - z[l]) * n[l] + z[l] * hv[l]));
                }
            }
        },
    )
}

/// One step backward. From `dh` (∂L/∂h_t), turns the gates in `a` into
/// ∂L/∂xp, writes ∂L/∂hp (`dhp`) and the direct part of ∂L/∂h_{t-1}
/// (`dh_prev = dh ⊙ z`; the part through `hp` is added by the caller).
pub fn backward(
    units: usize,
    dh: &[f32],
    a: &mut [f32],
    hp: &[f32],
    h_prev: &[f32],
    dhp: &mut [f32],
    dh_prev: &mut [f32],
) {
    let (hs, gs) = (units, 3 * units);
    vectorized(
        #[inline(always)]
        || {
            for (row, ((a, dhp), dh_prev)) in a
                .chunks_exact_mut(gs)
                .zip(dhp.chunks_exact_mut(gs))
                .zip(dh_prev.chunks_exact_mut(hs))
                .enumerate()
            {
                let [_, _, hn] = split_gates(&hp[row * gs..], hs);
                let at = row * hs..(row + 1) * hs;
                let (dh, h_prev) = (&dh[at.clone()], &h_prev[at]);
                let [gr, gz, gn] = split_gates_mut(a, hs);
                let [dhr, dhz, dhn] = split_gates_mut(dhp, hs);
                for b in blocks(hs) {
                    let (r, z, n, hn) = (load(gr, b), load(gz, b), load(gn, b), load(hn, b));
                    let (dh, hv) = (load(dh, b), load(h_prev, b));
                    let dn = lanes(|l| dh[l] * (1.0 - z[l]) * (1.0 - n[l] * n[l]));
                    let dz = lanes(|l| dh[l] * (hv[l] - n[l]) * z[l] * (1.0 - z[l]));
                    let dr = lanes(|l| dn[l] * hn[l] * r[l] * (1.0 - r[l]));
                    store(gr, b, &dr);
                    store(gz, b, &dz);
                    store(gn, b, &dn);
                    store(dhr, b, &dr);
                    store(dhz, b, &dz);
                    store(dhn, b, &lanes(|l| dn[l] * r[l]));
                    store(dh_prev, b, &lanes(|l| dh[l] * z[l]));
                }
            }
        },
    )
}
