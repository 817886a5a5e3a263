//! Optimizers over plain parameter buffers: Adam, SGD with momentum, RMSprop
//! (PyTorch's update rules and defaults).

use crate::experiment::Optimizer as Kind;
use crate::model::Model;

/// An optimizer with its per-parameter state.
#[derive(Debug, Clone)]
pub struct Optimizer {
    kind: Kind,
    momentum: f32,
    /// Adam: first moments; SGD: velocities; RMSprop: unused.
    m: Vec<Vec<f32>>,
    /// Adam: second moments; RMSprop: squared-gradient averages.
    v: Vec<Vec<f32>>,
    /// Updates applied so far (Adam's bias correction).
    t: u64,
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const RMS_ALPHA: f32 = 0.99;
const EPS: f32 = 1e-8;

impl Optimizer {
    /// State sized for parameters of the given lengths.
    pub fn new(kind: Kind, momentum: f64, sizes: &[usize]) -> Optimizer {
        let zeros = || sizes.iter().map(|n| vec![0.0; *n]).collect::<Vec<_>>();
        Optimizer {
            kind,
            momentum: momentum as f32,
            m: zeros(),
            v: zeros(),
            t: 0,
        }
    }

    /// Updates applied so far, and the first and second moments per parameter.
    pub fn state(&self) -> (u64, &[Vec<f32>], &[Vec<f32>]) {
        (self.t, &self.m, &self.v)
    }

    /// Restores what [`Optimizer::state`] returned (sizes already checked by the caller).
    pub fn restore(&mut self, t: u64, m: Vec<Vec<f32>>, v: Vec<Vec<f32>>) {
        self.t = t;
        self.m = m;
        self.v = v;
    }

    /// Applies one update with learning rate `lr` to every parameter of
    /// `model` from `grads` (in `model.params` order).
    pub fn update(&mut self, lr: f64, model: &mut Model, grads: &[Vec<f32>]) {
        let mut params: Vec<&mut [f32]> =
            model.params.iter_mut().map(|p| &mut p.data[..]).collect();
        self.step(lr, &mut params, grads);
    }

    /// Applies one update with learning rate `lr` to `params` from `grads`.
    pub fn step(&mut self, lr: f64, params: &mut [&mut [f32]], grads: &[Vec<f32>]) {
        self.t += 1;
        let lr = lr as f32;
        let bc1 = 1.0 - BETA1.powi(self.t.min(i32::MAX as u64) as i32);
        let bc2 = 1.0 - BETA2.powi(self.t.min(i32::MAX as u64) as i32);
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            match self.kind {
                Kind::Adam => {
                    for j in 0..p.len() {
                        m[j] = BETA1 * m[j] + (1.0 - BETA1) * g[j];
                        v[j] = BETA2 * v[j] + (1.0 - BETA2) * g[j] * g[j];
                        let mh = m[j] / bc1;
                        let vh = v[j] / bc2;
                        p[j] -= lr * mh / (vh.sqrt() + EPS);
                    }
                }
                Kind::Sgd => {
                    for j in 0..p.len() {
                        m[j] = self.momentum * m[j] + g[j];
                        p[j] -= lr * m[j];
                    }
                }
                Kind::Rmsprop => {
                    for j in 0..p.len() {
                        v[j] = RMS_ALPHA * v[j] + (1.0 - RMS_ALPHA) * g[j] * g[j];
                        p[j] -= lr * g[j] / (v[j].sqrt() + EPS);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each optimizer drives f(x) = (x − 3)² from 0 to 3.
    #[test]
    fn optimizers_minimise_a_quadratic() {
        for (kind, lr) in [(Kind::Adam, 0.1), (Kind::Sgd, 0.05), (Kind::Rmsprop, 0.01)] {
            let mut opt = Optimizer::new(kind, 0.9, &[1]);
            let mut x = [0.0f32];
            for _ in 0..2000 {
                let g = vec![vec![2.0 * (x[0] - 3.0)]];
                opt.step(lr, &mut [&mut x[..]], &g);
            }
            assert!((x[0] - 3.0).abs() < 0.05, "{kind:?}: {}", x[0]);
        }
    }

    /// Adam's first step moves each weight by lr·sign(g), as in PyTorch.
    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let mut opt = Optimizer::new(Kind::Adam, 0.0, &[2]);
        let mut p = vec![1.0f32, 1.0];
        opt.step(0.01, &mut [&mut p[..]], &[vec![0.5, -2.0]]);
        assert!(
            (p[0] - 0.99).abs() < 1e-6 && (p[1] - 1.01).abs() < 1e-6,
            "{p:?}"
        );
    }
}
