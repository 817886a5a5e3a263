//! Simple RNN cell: `h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`, φ = tanh or ReLU.
//!
//! `a` is the pre-activation (B × H): both projections and both biases.

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
