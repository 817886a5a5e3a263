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
        let t = self.t.min(i32::MAX as u64) as i32;
        let rule = Rule {
            kind: self.kind,
            lr: lr as f32,
            momentum: self.momentum,
            bc1: 1.0 - BETA1.powi(t),
            bc2: 1.0 - BETA2.powi(t),
        };
        for (i, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            rule.apply(p, g, &mut self.m[i], &mut self.v[i]);
        }
    }
}

/// One update's rule and constants.
#[derive(Clone, Copy)]
struct Rule {
    kind: Kind,
    lr: f32,
    momentum: f32,
    /// Adam's bias corrections.
    bc1: f32,
    bc2: f32,
}

impl Rule {
    /// Updates `p` from `g` and its state `m`, `v` (all of one length);
    /// large parameters in two halves on two threads.
    fn apply(self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        const PARALLEL_LEN: usize = 1 << 16;
        let n = p.len();
        assert!(
            g.len() == n && m.len() == n && v.len() == n,
            "optimizer: a gradient or moment has the wrong length"
        );
        if n >= PARALLEL_LEN && rayon::current_num_threads() >= 2 {
            let mid = n / 2;
            let (p0, p1) = p.split_at_mut(mid);
            let (g0, g1) = g.split_at(mid);
            let (m0, m1) = m.split_at_mut(mid);
            let (v0, v1) = v.split_at_mut(mid);
            rayon::join(|| self.run(p0, g0, m0, v0), || self.run(p1, g1, m1, v1));
        } else {
            self.run(p, g, m, v);
        }
    }

    fn run(self, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let (lr, bc1, bc2) = (self.lr, self.bc1, self.bc2);
        match self.kind {
            Kind::Adam => {
                for (((p, g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
                    *m = BETA1 * *m + (1.0 - BETA1) * g;
                    *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                    let mh = *m / bc1;
                    let vh = *v / bc2;
                    *p -= lr * mh / (vh.sqrt() + EPS);
                }
            }
            Kind::Sgd => {
                for ((p, g), m) in p.iter_mut().zip(g).zip(m) {
                    *m = self.momentum * *m + g;
                    *p -= lr * *m;
                }
            }
            Kind::Rmsprop => {
                for ((p, g), v) in p.iter_mut().zip(g).zip(v) {
                    *v = RMS_ALPHA * *v + (1.0 - RMS_ALPHA) * g * g;
                    *p -= lr * g / (v.sqrt() + EPS);
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

    /// A large parameter is updated in two halves on two threads, with the
    /// same result, bit for bit, as on one thread.
    #[test]
    fn two_threads_update_as_one() {
        let n = 200_001;
        let g: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 0.999)
            .collect();
        let run = |threads, kind| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut opt = Optimizer::new(kind, 0.9, &[n]);
            let mut p = vec![0.5f32; n];
            pool.install(|| {
                for _ in 0..3 {
                    opt.step(0.01, &mut [&mut p[..]], std::slice::from_ref(&g));
                }
            });
            p
        };
        for kind in [Kind::Adam, Kind::Sgd, Kind::Rmsprop] {
            let one = run(1, kind);
            assert_eq!(one, run(2, kind), "{kind:?}");
            assert!(
                one.iter().all(|&x| x != 0.5),
                "{kind:?}: every weight moved"
            );
        }
    }
}
