//! The losses of probabilistic forecasts, each a dfdx op with a hand-written
//! backward pass: the pinball (quantile) loss of a head per quantile, and
//! the Gaussian negative log-likelihood of a mean and scale head.
//!
//! The head's outputs for one prediction of `k` values come in blocks of
//! `k`, one block per head (quantile-major): `[q₁ × k][q₂ × k]…` for
//! quantiles, `[mean × k][raw scale × k]` for the Gaussian, whose scale is
//! `σ = softplus(raw) + SIGMA_FLOOR`.

use dfdx::prelude::*;

use super::recurrent::{Mat, add_into, values};
use crate::data::interval::pinball;

/// The smallest scale a Gaussian head predicts (in scaled units): keeps the
/// likelihood finite when a raw scale runs to −∞.
pub const SIGMA_FLOOR: f32 = 1e-3;

/// `½ ln 2π`, the constant of the normal log-density.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// `ln(1 + eˣ)`, without overflow.
pub fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// The logistic function, softplus's derivative.
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `σ` of a raw scale output.
pub fn sigma(raw: f32) -> f32 {
    softplus(raw) + SIGMA_FLOOR
}

/// The pinball loss averaged over every prediction, value and level, and its
/// gradient with respect to `out` (laid out as the module says; `y` holds
/// `k` values per prediction).
pub fn pinball_terms(out: &[f32], y: &[f32], k: usize, levels: &[f32]) -> (f64, Vec<f32>) {
    let heads = levels.len();
    assert_eq!(out.len(), y.len() * heads, "one output per value and level");
    let n = out.len().max(1) as f64;
    let mut grad = vec![0.0f32; out.len()];
    let mut sum = 0.0f64;
    for (r, truth) in y.chunks_exact(k.max(1)).enumerate() {
        for (h, &q) in levels.iter().enumerate() {
            let q = q as f64;
            for (j, &t) in truth.iter().enumerate() {
                let at = (r * heads + h) * k + j;
                let u = t as f64 - out[at] as f64;
                sum += pinball(q, u);
                // ∂ρ/∂ŷ: −q while the truth is at or above ŷ, 1 − q below.
                let d = if u >= 0.0 { -q } else { 1.0 - q };
                grad[at] = (d / n) as f32;
            }
        }
    }
    (sum / n, grad)
}

/// The Gaussian negative log-likelihood `ln σ + ½((y − μ)/σ)² + ½ ln 2π`
/// averaged over every prediction and value, and its gradient with respect
/// to `out` (`[μ × k][raw × k]` per prediction).
pub fn gaussian_terms(out: &[f32], y: &[f32], k: usize) -> (f64, Vec<f32>) {
    assert_eq!(out.len(), y.len() * 2, "a mean and a scale per value");
    let n = y.len().max(1) as f64;
    let mut grad = vec![0.0f32; out.len()];
    let mut sum = 0.0f64;
    for (r, truth) in y.chunks_exact(k.max(1)).enumerate() {
        for (j, &t) in truth.iter().enumerate() {
            let (m_at, s_at) = (2 * r * k + j, (2 * r + 1) * k + j);
            let raw = out[s_at];
            let (mu, s) = (out[m_at] as f64, sigma(raw) as f64);
            let z = (t as f64 - mu) / s;
            sum += s.ln() + 0.5 * z * z + HALF_LN_2PI;
            // ∂/∂μ = −z/σ; ∂/∂σ = (1 − z²)/σ; ∂σ/∂raw = sigmoid(raw).
            grad[m_at] = (-z / s / n) as f32;
            grad[s_at] = ((1.0 - z * z) / s * sigmoid(raw) as f64 / n) as f32;
        }
    }
    (sum / n, grad)
}

/// A scalar loss of `out` computed by hand: `terms` gives its value and
/// gradient from `out`'s values; the backward pass adds the gradient, times
/// the loss's own, into `out`'s.
pub fn hand_loss<T: Tape<f32, Cpu>>(
    out: Mat<T>,
    terms: impl FnOnce(&[f32]) -> (f64, Vec<f32>),
) -> Tensor<(), f32, Cpu, T> {
    let (out, mut tape) = out.split_tape();
    let (value, grad) = terms(&values(&out));
    let loss: Tensor<(), f32, Cpu> = out.device().tensor(value as f32);
    if T::OWNS_TAPE {
        let (loss_g, out_g) = (loss.ghost(), out.ghost());
        tape.add_backward_op(move |grads| {
            let g = grads.get_or_alloc_mut(&loss_g)?[0];
            let scaled: Vec<f32> = grad.iter().map(|v| v * g).collect();
            add_into(grads.get_or_alloc_mut(&out_g)?, &scaled);
            Ok(())
        });
    }
    loss.put_tape(tape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinball_by_hand() {
        // Levels 0.1, 0.9; one prediction of 2 values, truths 1 and 3.
        // Outputs: q0.1 → 2, 2; q0.9 → 0, 5.
        let out = [2.0, 2.0, 0.0, 5.0];
        let (loss, grad) = pinball_terms(&out, &[1.0, 3.0], 2, &[0.1, 0.9]);
        // u = −1, 1, 1, −2: 0.9, 0.1, 0.9, 0.2 → mean 2.1 / 4.
        assert!((loss - 2.1 / 4.0).abs() < 1e-7, "{loss}");
        let want = [0.9 / 4.0, -0.1 / 4.0, -0.9 / 4.0, 0.1 / 4.0];
        for (g, w) in grad.iter().zip(want) {
            assert!((g - w).abs() < 1e-7, "{grad:?}");
        }
    }

    #[test]
    fn gaussian_by_hand() {
        // μ = 1, raw with softplus(raw) + floor = 2, truth 3: z = 1.
        let raw = (2.0f32 - SIGMA_FLOOR).exp_m1().ln();
        assert!((sigma(raw) - 2.0).abs() < 1e-6);
        let (loss, grad) = gaussian_terms(&[1.0, raw], &[3.0], 1);
        let want = 2.0f64.ln() + 0.5 + HALF_LN_2PI;
        assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
        // ∂/∂μ = −z/σ = −0.5; ∂/∂σ = 0 at z = 1.
        assert!(
            (grad[0] + 0.5).abs() < 1e-6 && grad[1].abs() < 1e-6,
            "{grad:?}"
        );
    }

    /// Both losses' gradients against central differences of their values.
    #[test]
    fn gradients_match_finite_differences() {
        let y = [0.3f32, -1.2, 0.8, 2.0];
        let quantile_out = [
            0.1f32, -0.5, 1.0, 1.1, 0.4, -1.0, 0.2, 2.6, 0.9, -0.9, 1.5, 0.0,
        ];
        let gaussian_out = [0.1f32, -0.5, -0.3, 0.7, 1.0, 2.2, 0.4, -1.0];
        type Terms = Box<dyn Fn(&[f32]) -> (f64, Vec<f32>)>;
        let cases: [(&str, Vec<f32>, Terms); 2] = [
            (
                "pinball",
                quantile_out.to_vec(),
                Box::new(move |o: &[f32]| pinball_terms(o, &y, 2, &[0.1, 0.5, 0.9])),
            ),
            (
                "gaussian",
                gaussian_out.to_vec(),
                Box::new(move |o: &[f32]| gaussian_terms(o, &y, 2)),
            ),
        ];
        for (what, out, terms) in cases {
            let (_, grad) = terms(&out);
            for i in 0..out.len() {
                let eps = 1e-3;
                let (mut up, mut down) = (out.clone(), out.clone());
                up[i] += eps;
                down[i] -= eps;
                let fd = (terms(&up).0 - terms(&down).0) / (2.0 * eps as f64);
                assert!(
                    (fd - grad[i] as f64).abs() < 1e-4,
                    "{what}[{i}]: analytic {}, finite difference {fd}",
                    grad[i]
                );
            }
        }
    }

    /// A GRU with a quantile head and one with a Gaussian head: every
    /// parameter's gradient against central differences of the loss.
    #[test]
    fn model_gradients_match_finite_differences() {
        use crate::experiment::{Cell, Init, LayerSpec};
        use crate::model::{Loss, Model};
        use rand::SeedableRng;
        let layer = LayerSpec {
            cell: Cell::Gru,
            units: 4,
            activation: None,
            dropout: 0.0,
            init: Init::Pytorch,
            forget_bias: None,
            bidirectional: false,
            recurrent_dropout: 0.0,
            norm: None,
        };
        let (batch, steps, input, k) = (3, 5, 2, 2);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let x = crate::model::init::normal(&mut rng, steps * batch * input, 1.0);
        let y = crate::model::init::normal(&mut rng, batch * k, 1.0);
        for (loss, heads) in [(Loss::Pinball, 3), (Loss::Gaussian, 2)] {
            let mut model = Model::new(&[layer], input, k * heads, false, 9);
            model.loss = loss;
            if loss == Loss::Pinball {
                model.levels = vec![0.1, 0.5, 0.9];
            }
            let (_, grads) = model.loss_and_grads(&x, &y, batch, steps, None);
            for (pi, grad) in grads.iter().enumerate() {
                let n = model.params[pi].data.len();
                for j in [0, n / 2, n - 1] {
                    let eps = 1e-2;
                    let orig = model.params[pi].data[j];
                    model.params[pi].data[j] = orig + eps;
                    let up = model.loss_and_grads(&x, &y, batch, steps, None).0;
                    model.params[pi].data[j] = orig - eps;
                    let down = model.loss_and_grads(&x, &y, batch, steps, None).0;
                    model.params[pi].data[j] = orig;
                    let fd = (up - down) / (2.0 * eps);
                    assert!(
                        (fd - grad[j]).abs() <= 2e-3 + 2e-2 * grad[j].abs(),
                        "{loss:?} {}[{j}]: analytic {}, finite difference {fd}",
                        model.params[pi].name,
                        grad[j]
                    );
                }
            }
        }
    }

    /// Through dfdx: the op's gradient reaches the tensor it was given.
    #[test]
    fn the_op_passes_its_gradient_back() {
        let dev = Cpu::default();
        let x: Mat = dev.tensor_from_vec(vec![2.0, 2.0, 0.0, 5.0], (1, 4));
        let loss = hand_loss(x.retaped::<OwnedTape<f32, Cpu>>(), |o| {
            pinball_terms(o, &[1.0, 3.0], 2, &[0.1, 0.9])
        });
        assert!((loss.array() - 2.1 / 4.0).abs() < 1e-7);
        let g = loss.backward();
        let want = [0.9 / 4.0, -0.1 / 4.0, -0.9 / 4.0, 0.1 / 4.0];
        for (g, w) in g.get(&x).as_vec().iter().zip(want) {
            assert!((g - w).abs() < 1e-7);
        }
    }
}
