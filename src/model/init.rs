//! Weight initialisers: PyTorch's uniform, Keras' Glorot + orthogonal, IRNN identity.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Param, layer_param_names, ln_param_names};
use crate::experiment::{Cell, Init, LayerSpec};

/// Uniform values in [-bound, bound].
pub fn uniform(rng: &mut ChaCha8Rng, n: usize, bound: f32) -> Vec<f32> {
    (0..n).map(|_| rng.gen_range(-bound..=bound)).collect()
}

/// Standard normal values (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng, n: usize, std: f32) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
            let u2: f64 = rng.r#gen();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32 * std
        })
        .collect()
}

/// Glorot-uniform for a `rows × cols` PyTorch-layout weight (fan_out = rows, fan_in = cols).
pub fn glorot(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Vec<f32> {
    let bound = (6.0 / (rows + cols) as f32).sqrt();
    uniform(rng, rows * cols, bound)
}

/// A `rows × cols` matrix (rows ≥ cols) with orthonormal columns, from the QR
/// decomposition of a Gaussian matrix (modified Gram–Schmidt), as Keras'
/// `Orthogonal` gives for a recurrent kernel.
pub fn orthogonal(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Vec<f32> {
    let a = normal(rng, rows * cols, 1.0);
    let mut q: Vec<Vec<f64>> = (0..cols)
        .map(|j| (0..rows).map(|i| a[i * cols + j] as f64).collect())
        .collect();
    for j in 0..cols {
        for k in 0..j {
            let (done, rest) = q.split_at_mut(j);
            let (qk, qj) = (&done[k], &mut rest[0]);
            let dot: f64 = qj.iter().zip(qk).map(|(a, b)| a * b).sum();
            for (a, b) in qj.iter_mut().zip(qk) {
                *a -= dot * b;
            }
        }
        let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        for v in &mut q[j] {
            *v /= norm;
        }
    }
    let mut out = vec![0.0; rows * cols];
    for (j, col) in q.iter().enumerate() {
        for (i, v) in col.iter().enumerate() {
            out[i * cols + j] = *v as f32;
        }
    }
    out
}

/// The `n × n` identity matrix.
pub fn identity(n: usize) -> Vec<f32> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        out[i * n + i] = 1.0;
    }
    out
}

/// Initialises the tensors of a stack of recurrent `layers` reading
/// `fan_in` values per step, appending them to `params` as
/// `{prefix}.{k}.{name}` in PyTorch layout; returns the stack's output
/// width.
pub(super) fn stack(
    rng: &mut ChaCha8Rng,
    layers: &[LayerSpec],
    mut fan_in: usize,
    prefix: &str,
    params: &mut Vec<Param>,
) -> usize {
    for (k, l) in layers.iter().enumerate() {
        let (h, gh) = (l.units, l.cell.gates() * l.units);
        let bound = 1.0 / (h as f32).sqrt();
        let names = layer_param_names(l);
        let mut names = names.into_iter();
        let mut push = |data: Vec<f32>, shape: Vec<usize>| {
            let name = names.next().expect("one name per tensor");
            params.push(Param::new(format!("{prefix}.{k}.{name}"), shape, data));
        };
        for _ in 0..l.directions() {
            if !l.cell.recurrent_weights() {
                // nn.Linear's initialisation (bound 1/√fan_in), or Glorot and zeros.
                let (w, mut b) = match l.init {
                    Init::Keras => (glorot(rng, gh, fan_in), vec![0.0; gh]),
                    _ => {
                        let bound = 1.0 / (fan_in as f32).sqrt();
                        (uniform(rng, gh * fan_in, bound), uniform(rng, gh, bound))
                    }
                };
                if l.cell == Cell::MinLstm {
                    // The forget gate's rows come first.
                    for v in &mut b[..h] {
                        *v += l.forget_bias() as f32;
                    }
                }
                push(w, vec![gh, fan_in]);
                push(b, vec![gh]);
                continue;
            }
            let (w_ih, w_hh, mut b_ih, b_hh) = match l.init {
                Init::Pytorch => (
                    uniform(rng, gh * fan_in, bound),
                    uniform(rng, gh * h, bound),
                    uniform(rng, gh, bound),
                    uniform(rng, gh, bound),
                ),
                Init::Keras => (
                    glorot(rng, gh, fan_in),
                    orthogonal(rng, gh, h),
                    vec![0.0; gh],
                    vec![0.0; gh],
                ),
                Init::Identity => (
                    normal(rng, gh * fan_in, 0.001),
                    identity(h),
                    vec![0.0; gh],
                    vec![0.0; gh],
                ),
            };
            if l.cell == Cell::Lstm {
                for v in &mut b_ih[h..2 * h] {
                    *v += l.forget_bias() as f32;
                }
            }
            push(w_ih, vec![gh, fan_in]);
            push(w_hh, vec![gh, h]);
            push(b_ih, vec![gh]);
            push(b_hh, vec![gh]);
            if l.norm.is_some() {
                // Gains 1, biases 0: the normalised values themselves.
                for name in ln_param_names(l.cell) {
                    let n = if name.starts_with("ln_c_") { h } else { gh };
                    let v = if name.ends_with("_weight") { 1.0 } else { 0.0 };
                    push(vec![v; n], vec![n]);
                }
            }
        }
        fan_in = l.width();
    }
    fan_in
}

/// Initialises the dense head (`head.weight` `output × fan_in`,
/// `head.bias`) after `layers`: as nn.Linear, or Glorot and zeros after a
/// Keras-initialised layer.
pub(super) fn head(
    rng: &mut ChaCha8Rng,
    layers: &[LayerSpec],
    output: usize,
    fan_in: usize,
    params: &mut Vec<Param>,
) {
    let keras = layers.last().is_some_and(|l| l.init == Init::Keras);
    let (w, b) = if keras {
        (glorot(rng, output, fan_in), vec![0.0; output])
    } else {
        let bound = 1.0 / (fan_in as f32).sqrt();
        (
            uniform(rng, output * fan_in, bound),
            uniform(rng, output, bound),
        )
    };
    params.push(Param::new("head.weight".into(), vec![output, fan_in], w));
    params.push(Param::new("head.bias".into(), vec![output], b));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn orthogonal_columns_are_orthonormal() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (rows, cols) = (12, 4);
        let q = orthogonal(&mut rng, rows, cols);
        for a in 0..cols {
            for b in 0..cols {
                let dot: f32 = (0..rows).map(|i| q[i * cols + a] * q[i * cols + b]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "({a},{b}) = {dot}");
            }
        }
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let v = normal(&mut rng, 20_000, 1.0);
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / v.len() as f32;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
