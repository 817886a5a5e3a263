//! LSTM cell in PyTorch's formulation, gate order i, f, g, o:
//! `c_t = f ⊙ c_{t-1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`.
//!
//! Rows are batch items; each row of `xp`/`hp`/`gates` holds the four gates
//! side by side (4 × H), as in PyTorch's fused weight matrices.

use super::{sigmoid, tanh};

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
    let hs = units;
    for (row, ((gates, c), h)) in gates
        .chunks_exact_mut(4 * hs)
        .zip(c.chunks_exact_mut(hs))
        .zip(h.chunks_exact_mut(hs))
        .enumerate()
    {
        let xp = &xp[row * 4 * hs..(row + 1) * 4 * hs];
        let hp = &hp[row * 4 * hs..(row + 1) * 4 * hs];
        let c_prev = &c_prev[row * hs..(row + 1) * hs];
        for j in 0..hs {
            let i = sigmoid(xp[j] + hp[j]);
            let f = sigmoid(xp[hs + j] + hp[hs + j]);
            let g = tanh(xp[2 * hs + j] + hp[2 * hs + j]);
            let o = sigmoid(xp[3 * hs + j] + hp[3 * hs + j]);
            let cj = f * c_prev[j] + i * g;
            gates[j] = i;
            gates[hs + j] = f;
            gates[2 * hs + j] = g;
            gates[3 * hs + j] = o;
            c[j] = cj;
            h[j] = o * tanh(cj);
        }
    }
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
    let hs = units;
    for (row, (da, dc)) in da
        .chunks_exact_mut(4 * hs)
        .zip(dc.chunks_exact_mut(hs))
        .enumerate()
    {
        let g4 = &gates[row * 4 * hs..(row + 1) * 4 * hs];
        let base = row * hs;
        for j in 0..hs {
            let (i, f, g, o) = (g4[j], g4[hs + j], g4[2 * hs + j], g4[3 * hs + j]);
            let tc = tanh(c[base + j]);
            let dhj = dh[base + j];
            let dcj = dc[j] + dhj * o * (1.0 - tc * tc);
            da[j] = dcj * g * i * (1.0 - i);
            da[hs + j] = dcj * c_prev[base + j] * f * (1.0 - f);
            da[2 * hs + j] = dcj * i * (1.0 - g * g);
            da[3 * hs + j] = dhj * tc * o * (1.0 - o);
            dc[j] = dcj * f;
        }
    }
}
