//! The element-wise math of the cells, written so the compiler vectorises
//! it: `exp` as a polynomial without calls or branches; [`Lanes`], blocks of
//! 16 values in locals (loops over them need no overlap checks, so they
//! always vectorise); and [`vectorized`] to compile a loop for the widest
//! vector instructions the CPU has.

/// Values per block.
pub const LANES: usize = 16;

/// A block of values that lives in registers.
pub type Lanes = [f32; LANES];

/// The `G` gate blocks of a fused row (PyTorch's gate order), `units` each.
pub fn split_gates<const G: usize>(row: &[f32], units: usize) -> [&[f32]; G] {
    std::array::from_fn(|k| &row[k * units..(k + 1) * units])
}

/// The `G` gate blocks of a fused row, writable.
pub fn split_gates_mut<const G: usize>(row: &mut [f32], units: usize) -> [&mut [f32]; G] {
    let mut blocks = row[..G * units].chunks_exact_mut(units.max(1));
    std::array::from_fn(|_| blocks.next().unwrap_or_default())
}

/// `(start, len)` of the blocks that cover `0..n`; only the last may be short.
#[inline(always)]
pub fn blocks(n: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).step_by(LANES).map(move |j| (j, LANES.min(n - j)))
}

/// `len` values of `s` from `at`, zero-padded to a block.
#[inline(always)]
pub fn load(s: &[f32], (at, len): (usize, usize)) -> Lanes {
    if len == LANES {
        return s[at..at + LANES].try_into().expect("a full block");
    }
    // An element at a time: a short copy of variable length would be a call.
    let mut v = [0.0; LANES];
    for (v, s) in v.iter_mut().zip(&s[at..at + len]) {
        *v = *s;
    }
    v
}

/// Writes the first `len` values of `v` to `s` from `at`.
#[inline(always)]
pub fn store(s: &mut [f32], (at, len): (usize, usize), v: &Lanes) {
    if len == LANES {
        s[at..at + LANES].copy_from_slice(v);
    } else {
        for (s, v) in s[at..at + len].iter_mut().zip(v) {
            *s = *v;
        }
    }
}

/// The block whose value `l` is `f(l)`.
#[inline(always)]
pub fn lanes(f: impl Fn(usize) -> f32) -> Lanes {
    let mut v = [0.0; LANES];
    for (l, v) in v.iter_mut().enumerate() {
        *v = f(l);
    }
    v
}

/// `dst = a + b` and returns Σ dst², summed in a vector's lanes.
#[inline(always)]
pub fn add_and_sum_squares(dst: &mut [f32], a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    for at in blocks(dst.len()) {
        let (x, y) = (load(a, at), load(b, at));
        let v = lanes(|l| x[l] + y[l]);
        for (acc, v) in acc.iter_mut().zip(&v) {
            *acc += v * v;
        }
        store(dst, at, &v);
    }
    acc.iter().sum()
}

/// `e^x` within 2 ulp for |x| ≤ 87 (Cephes' `expf`); clamped to
/// `[e^-87.3, e^88.3]` outside, which the cells never tell apart.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.3);
    // n = round(x / ln 2), by adding and removing 1.5·2^23.
    let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    // r = x − n·ln 2, with ln 2 split in two for precision.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // 2^n: n + 127 into the exponent bits. The low bits of 1.5·2^23 + n + 127
    // hold n + 127, in integer arithmetic the compiler vectorises (a float
    // to integer cast would not be: it saturates and maps NaN to 0).
    p * f32::from_bits((n + 12_583_039.0).to_bits() << 23)
}

/// The logistic function.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// tanh through one `exp`; within 3e-7 of `f32::tanh`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let e = exp(-2.0 * a);
    let big = (1.0 - e) / (1.0 + e);
    // Near 0, 1 − e loses digits: a Taylor series whose next term is below 1e-12 there.
    let x2 = a * a;
    let small = a * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 - x2 * (17.0 / 315.0))));
    (if a < 0.0625 { small } else { big }).copysign(x)
}

/// The LSTM cell on a block of 16 units (PyTorch's formulation, gate order
/// i, f, g, o) from the pre-activation gates and `c_{t-1}`: the activated
/// gates `[i, f, g, o]`, `c_t = f ⊙ c_{t-1} + i ⊙ g` and `h_t = o ⊙ tanh(c_t)`.
/// The one formula of the training pass and the fused inference step, in
/// explicit vector instructions on AVX2 and AVX-512 ([`super::gates`]).
#[inline(always)]
pub fn lstm_cell(z: [&Lanes; 4], c_prev: &Lanes) -> ([Lanes; 4], Lanes, Lanes) {
    super::gates::lstm_cell(super::simd::isa(), z, c_prev)
}

/// [`lstm_cell`] as plain loops (the portable path, and the reference).
#[inline(always)]
pub fn lstm_cell_plain(z: [&Lanes; 4], c_prev: &Lanes) -> ([Lanes; 4], Lanes, Lanes) {
    let i = lanes(|l| sigmoid(z[0][l]));
    let f = lanes(|l| sigmoid(z[1][l]));
    let g = lanes(|l| tanh(z[2][l]));
    let o = lanes(|l| sigmoid(z[3][l]));
    let c = lanes(|l| f[l] * c_prev[l] + i[l] * g[l]);
    let h = lanes(|l| o[l] * tanh(c[l]));
    ([i, f, g, o], c, h)
}

/// Runs `f` compiled for AVX-512 or AVX2/FMA when the CPU has them (and
/// `RNNLAB_SIMD` allows them), so the element-wise loops inlined into it use
/// 16- or 8-wide vectors.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match super::simd::isa() {
        // SAFETY: `isa` never names a set the CPU lacks.
        super::simd::Isa::Avx512 => return unsafe { avx512(f) },
        // SAFETY: as above.
        super::simd::Isa::Avx2 => return unsafe { avx2(f) },
        super::simd::Isa::Portable => {}
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 1e-4 over [-20, 20].
    fn grid() -> impl Iterator<Item = f32> {
        (-200_000..=200_000).map(|i| i as f32 * 1e-4)
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let mut worst = 0.0f64;
        for x in grid().chain((-870..=880).map(|i| i as f32 * 0.1)) {
            let want = (x as f64).exp();
            let err = ((exp(x) as f64 - want) / want).abs();
            worst = worst.max(err);
        }
        assert!(
            worst < 2.0 * f32::EPSILON as f64,
            "worst relative error {worst}"
        );
        assert_eq!(exp(-1000.0), exp(-87.3));
        assert!(exp(1000.0).is_finite() && exp(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_and_sigmoid_match_libm() {
        let (mut t, mut s) = (0.0f32, 0.0f32);
        for x in grid() {
            t = t.max((tanh(x) - x.tanh()).abs());
            s = s.max((sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs());
        }
        assert!(t < 3e-7, "tanh: worst error {t}");
        assert!(s < 2e-7, "sigmoid: worst error {s}");
        assert_eq!((tanh(-30.0), tanh(30.0), tanh(0.0)), (-1.0, 1.0, 0.0));
        assert_eq!((sigmoid(-200.0) < 1e-37, sigmoid(200.0)), (true, 1.0));
    }

    #[test]
    fn vectorized_runs_the_closure() {
        let v: Vec<f32> = (0..1000).map(|i| i as f32 * 0.01 - 5.0).collect();
        let out = vectorized(|| v.iter().map(|&x| tanh(x)).collect::<Vec<_>>());
        for (x, y) in v.iter().zip(&out) {
            assert!((x.tanh() - y).abs() < 3e-7);
        }
    }
}
