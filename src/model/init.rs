//! Weight initialisers: PyTorch's uniform, Keras' Glorot + orthogonal, IRNN identity.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

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
