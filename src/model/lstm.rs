//! LSTM cell in PyTorch's formulation, gate order i, f, g, o:
//! `c_t = f ⊙ c_{t-1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
//!
//! Rows are batch items; each row of `xp`/`hp`/`gates` holds the four gates
//! side by side (4 × H), as in PyTorch's fused weight matrices. The loops
//! run over blocks of 16 units ([`Lanes`]) so that they vectorise.

use super::math::{
    blocks, lanes, load, sigmoid, split_gates, split_gates_mut, store, tanh, vectorized, Lanes,
};

/// One step forward. Writes the activated gates (B × 4H), the cell state and the output.
pub fn forward(
    units: usize,
    xp: &[f32],
    hp: &[f32],
    c_prev: &[f32],
    gates: &mut [f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    let (hs, gs) = (units, 4 * units);
    vectorized(
        #[inline(always)]
        || {
            for (row, ((g, c), h)) in gates
                .chunks_exact_mut(gs)
                .zip(c.chunks_exact_mut(hs))
                .zip(h.chunks_exact_mut(hs))
                .enumerate()
            {
                let [xi, xf, xg, xo] = split_gates(&xp[row * gs..], hs);
                let [hi, hf, hg, ho] = split_gates(&hp[row * gs..], hs);
                let c_prev = &c_prev[row * hs..];
                let [gi, gf, gg, go] = split_gates_mut(g, hs);
                for b in blocks(hs) {
                    let sum = |x: &[f32], h: &[f32]| -> Lanes {
                        let (x, h) = (load(x, b), load(h, b));
                        lanes(|l| x[l] + h[l])
                    };
                    let (ai, af, ag, ao) = (sum(xi, hi), sum(xf, hf), sum(xg, hg), sum(xo, ho));
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
/// on entry and ∂L/∂c_{t-1} on exit. Writes ∂L/∂(pre-activation gates), which
/// is both ∂L/∂xp and ∂L/∂hp.
pub fn backward(
    units: usize,
    dh: &[f32],
    gates: &[f32],
    c_prev: &[f32],
    c: &[f32],
    dc: &mut [f32],
    da: &mut [f32],
) {
    let (hs, gs) = (units, 4 * units);
    vectorized(
        #[inline(always)]
        || {
            for (row, (da, dc)) in da
                .chunks_exact_mut(gs)
                .zip(dc.chunks_exact_mut(hs))
                .enumerate()
            {
                let [i, f, g, o] = split_gates(&gates[row * gs..], hs);
                let at = row * hs..(row + 1) * hs;
                let (dh, c_prev, c) = (&dh[at.clone()], &c_prev[at.clone()], &c[at]);
                let [di, df, dg, d_o] = split_gates_mut(da, hs);
                for b in blocks(hs) {
                    let (i, f, g, o) = (load(i, b), load(f, b), load(g, b), load(o, b));
                    let (dh, cp, cv, dcn) = (load(dh, b), load(c_prev, b), load(c, b), load(dc, b));
                    let tc = lanes(|l| tanh(cv[l]));
                    let dcv = lanes(|l| dcn[l] + dh[l] * o[l] * (1.0 - tc[l] * tc[l]));
                    store(di, b, &lanes(|l| dcv[l] * g[l] * i[l] * (1.0 - i[l])));
                    store(df, b, &lanes(|l| dcv[l] * cp[l] * f[l] * (1.0 - f[l])));
                    store(dg, b, &lanes(|l| dcv[l] * i[l] * (1.0 - g[l] * g[l])));
                    store(d_o, b, &lanes(|l| dh[l] * tc[l] * o[l] * (1.0 - o[l])));
                    store(dc, b, &lanes(|l| dcv[l] * f[l]));
                }
            }
        },
    )
}
