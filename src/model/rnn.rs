//! Simple RNN cell: `h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`, φ = tanh or ReLU.
//!
//! `a` is the pre-activation (B × H): both projections and both biases.

use super::norm;
use crate::experiment::Activation;
use crate::kernels::math::{tanh, vectorized};

/// One step forward: `h = φ(a)`.
pub fn forward(act: Activation, a: &[f32], h: &mut [f32]) {
    let pairs = h.iter_mut().zip(a);
    vectorized(
        #[inline(always)]
        || match act {
            Activation::Tanh => pairs.for_each(|(h, a)| *h = tanh(*a)),
            Activation::Relu => pairs.for_each(|(h, a)| *h = a.max(0.0)),
        },
    )
}

/// One step backward: from `dh` (∂L/∂h_t) and the step's output `h`, the
/// gradient of the pre-activation, which is both ∂L/∂xp and ∂L/∂hp.
pub fn backward(act: Activation, dh: &[f32], h: &[f32], da: &mut [f32]) {
    let pairs = da.iter_mut().zip(dh).zip(h);
    vectorized(
        #[inline(always)]
        || match act {
            Activation::Tanh => pairs.for_each(|((da, dh), h)| *da = dh * (1.0 - h * h)),
            Activation::Relu => {
                pairs.for_each(|((da, dh), h)| *da = if *h > 0.0 { *dh } else { 0.0 })
            }
        },
    )
}

/// One step forward with layer normalisation of the pre-activation (the
/// book's `LNSimpleRNNCell`): per row, `â = (a − μ)/√(σ² + ε)`,
/// `h = φ(γ ⊙ â + β)`. `a` holds the pre-activation on entry and `â` on
/// exit; `rstd` gets `1/√(σ² + ε)` per row; `ln` is γ then β.
pub fn forward_ln(act: Activation, ln: &[f32], a: &mut [f32], rstd: &mut [f32], h: &mut [f32]) {
    let units = ln.len() / 2;
    let (gamma, beta) = ln.split_at(units);
    norm::normalize(a, units, rstd);
    let pairs = h.iter_mut().zip(
        a.chunks_exact(units)
            .flat_map(|row| row.iter().zip(gamma).zip(beta)),
    );
    vectorized(
        #[inline(always)]
        || {
            for (h, ((a, g), b)) in pairs {
                let y = g * a + b;
                *h = match act {
                    Activation::Tanh => tanh(y),
                    Activation::Relu => y.max(0.0),
                };
            }
        },
    )
}

/// One step backward through [`forward_ln`]: from `dh` and the step's
/// output `h`, turns `â` in `a` into ∂L/∂a (both ∂L/∂xp and ∂L/∂hp) and
/// adds to ∂L/∂γ and ∂L/∂β (`dln`, γ's then β's).
pub fn backward_ln(
    act: Activation,
    ln: &[f32],
    dh: &[f32],
    h: &[f32],
    a: &mut [f32],
    rstd: &[f32],
    dln: &mut [f32],
) {
    let units = ln.len() / 2;
    let gamma = &ln[..units];
    let (dgamma, dbeta) = dln.split_at_mut(units);
    let mut dy = vec![0.0f32; units];
    vectorized(
        #[inline(always)]
        || {
            for (((a, dh), h), r) in a
                .chunks_exact_mut(units)
                .zip(dh.chunks_exact(units))
                .zip(h.chunks_exact(units))
                .zip(rstd)
            {
                // ∂L/∂y through φ, then through the normalisation.
                for ((d, dh), h) in dy.iter_mut().zip(dh).zip(h) {
                    *d = match act {
                        Activation::Tanh => dh * (1.0 - h * h),
                        Activation::Relu => {
                            if *h > 0.0 {
                                *dh
                            } else {
                                0.0
                            }
                        }
                    };
                }
                norm::row_backward(&mut dy, a, *r, gamma, dgamma, dbeta);
                a.copy_from_slice(&dy);
            }
        },
    )
}
