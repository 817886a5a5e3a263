//! GRU cell in PyTorch's formulation, gate order r, z, n:
//! `r = σ(xp_r + hp_r)`, `z = σ(xp_z + hp_z)`, `n = tanh(xp_n + r ⊙ hp_n)`,
//! `h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}`, where `hp = W_hh h_{t-1} + b_hh`.

use super::{sigmoid, tanh};

/// One step forward. Writes the activated gates r, z, n (B × 3H) and the output.
pub fn forward(
    units: usize,
    xp: &[f32],
    hp: &[f32],
    h_prev: &[f32],
    gates: &mut [f32],
    h: &mut [f32],
) {
    let hs = units;
    for (row, (gates, h)) in gates
        .chunks_exact_mut(3 * hs)
        .zip(h.chunks_exact_mut(hs))
        .enumerate()
    {
        let xp = &xp[row * 3 * hs..(row + 1) * 3 * hs];
        let hp = &hp[row * 3 * hs..(row + 1) * 3 * hs];
        let h_prev = &h_prev[row * hs..(row + 1) * hs];
        for j in 0..hs {
            let r = sigmoid(xp[j] + hp[j]);
            let z = sigmoid(xp[hs + j] + hp[hs + j]);
            let n = tanh(xp[2 * hs + j] + r * hp[2 * hs + j]);
            gates[j] = r;
            gates[hs + j] = z;
            gates[2 * hs + j] = n;
            h[j] = (1.0 - z) * n + z * h_prev[j];
        }
    }
}

/// One step backward. From `dh` (∂L/∂h_t), writes ∂L/∂xp (`dxp`), ∂L/∂hp
/// (`dhp`) and the direct part of ∂L/∂h_{t-1} (`dh_prev = dh ⊙ z`; the part
/// through `hp` is added by the caller).
#[allow(clippy::too_many_arguments)]
pub fn backward(
    units: usize,
    dh: &[f32],
    gates: &[f32],
    hp: &[f32],
    h_prev: &[f32],
    dxp: &mut [f32],
    dhp: &mut [f32],
    dh_prev: &mut [f32],
) {
    let hs = units;
    for (row, ((dxp, dhp), dh_prev)) in dxp
        .chunks_exact_mut(3 * hs)
        .zip(dhp.chunks_exact_mut(3 * hs))
        .zip(dh_prev.chunks_exact_mut(hs))
        .enumerate()
    {
        let g3 = &gates[row * 3 * hs..(row + 1) * 3 * hs];
        let hp = &hp[row * 3 * hs..(row + 1) * 3 * hs];
        let base = row * hs;
        for j in 0..hs {
            let (r, z, n) = (g3[j], g3[hs + j], g3[2 * hs + j]);
            let dhj = dh[base + j];
            let dn = dhj * (1.0 - z) * (1.0 - n * n);
            let dz = dhj * (h_prev[base + j] - n) * z * (1.0 - z);
            let dr = dn * hp[2 * hs + j] * r * (1.0 - r);
            dxp[j] = dr;
            dxp[hs + j] = dz;
            dxp[2 * hs + j] = dn;
            dhp[j] = dr;
            dhp[hs + j] = dz;
            dhp[2 * hs + j] = dn * r;
            dh_prev[j] = dhj * z;
        }
    }
}
