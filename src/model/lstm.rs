//! LSTM cell in PyTorch's formulation, gate order i, f, g, o:
//! `c_t = f ⊙ c_{t-1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
//!
//! Rows are batch items; each row of the gates holds the four gates
//! side by side (4 × H), as in PyTorch's fused weight matrices. The loops
//! run over blocks of 16 units ([`Lanes`]) so that they vectorise.

use crate::kernels::math::{
    blocks, lanes, load, sigmoid, split_gates_mut, store, tanh, vectorized,
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
                    let (ai, af, ag, ao) = (load(gi, b), load(gf, b), load(gg, b), load(go, b));
                    let cp = load(c_prev, b);
                    let i = lanes(|l| sigmoid(ai[l]));
                    let f = lanes(|l| sigmoid(af[l]));
                    let g = lanes(|l| tanh(ag[l]));
                    let o = lanes(|l| sigmoid(ao[l]));
                    let cv = lanes(|l| f[l] * cp[l] + i[l] * g[l]);
                    let hv = lanes(|l| o[l] * tanh(cv[l]));
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
