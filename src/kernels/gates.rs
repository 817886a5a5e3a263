//! The LSTM cell's activations in explicit vector instructions. Written as
//! plain loops ([`super::math::lstm_cell_plain`]), the compiler keeps every
//! multiply and add apart (Rust never contracts them into FMAs) and divides
//! with `vdivps`, whose throughput on a 16-wide vector is one in about ten
//! cycles: five of them per block of 16 units made the cell's element-wise
//! pass 14 % of an LSTM's inference. Here the polynomial of `exp` runs on
//! FMAs, `2^n` is one `vscalefps` (AVX-512), and `1/d` is the hardware's
//! reciprocal estimate refined by Newton steps (`r' = r + r·(1 − d·r)`, one
//! from AVX-512's 14-bit estimate, two from AVX2's 12-bit one). The results stay within 4e-7 of the exact
//! functions, as the plain loops' do within 3e-7 (tested below).

use super::math::Lanes;
use super::simd::Isa;

/// The cell's outputs: the activated gates `[i, f, g, o]`, `c_t`, `h_t`.
pub type CellOut = ([Lanes; 4], Lanes, Lanes);

/// [`super::math::lstm_cell`] on the given instructions (the CPU must have
/// them: [`Isa::available`]).
#[inline(always)]
pub fn lstm_cell(isa: Isa, z: [&Lanes; 4], c_prev: &Lanes) -> CellOut {
    match isa {
        // SAFETY: the caller passes an instruction set the CPU has
        // (`simd::isa` or `Isa::available` chose it).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { avx512::lstm_cell(z, c_prev) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { avx2::lstm_cell(z, c_prev) },
        _ => super::math::lstm_cell_plain(z, c_prev),
    }
}

/// The coefficients of `exp` (Cephes' `expf`, as [`super::math::exp`]).
#[cfg(target_arch = "x86_64")]
const EXP_POLY: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];
/// ln 2 in two parts, the first exact in few bits.
#[cfg(target_arch = "x86_64")]
const LN2: (f32, f32) = (0.693_359_4, -2.121_944_4e-4);
/// Below this |x|, tanh is its Taylor series (as [`super::math::tanh`]).
#[cfg(target_arch = "x86_64")]
const TANH_SMALL: f32 = 0.0625;
#[cfg(target_arch = "x86_64")]
const TANH_SERIES: [f32; 3] = [-1.0 / 3.0, 2.0 / 15.0, -17.0 / 315.0];

#[cfg(target_arch = "x86_64")]
pub mod avx512 {
    use std::arch::x86_64::*;

    use super::super::math::LANES;
    use super::{CellOut, EXP_POLY, LN2, Lanes, TANH_SERIES, TANH_SMALL};

    /// See [`super::lstm_cell`].
    ///
    /// # Safety
    /// The CPU has AVX-512F.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn lstm_cell(z: [&Lanes; 4], c_prev: &Lanes) -> CellOut {
        // SAFETY: every load and store is of a whole block of 16 values.
        unsafe {
            let ld = |v: &Lanes| _mm512_loadu_ps(v.as_ptr());
            let i = sigmoid(ld(z[0]));
            let f = sigmoid(ld(z[1]));
            let g = tanh(ld(z[2]));
            let o = sigmoid(ld(z[3]));
            let c = _mm512_fmadd_ps(f, ld(c_prev), _mm512_mul_ps(i, g));
            let h = _mm512_mul_ps(o, tanh(c));
            let st = |v: __m512| {
                let mut out = [0.0; LANES];
                _mm512_storeu_ps(out.as_mut_ptr(), v);
                out
            };
            ([st(i), st(f), st(g), st(o)], st(c), st(h))
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn exp(x: __m512) -> __m512 {
        let s = _mm512_set1_ps;
        let x = _mm512_min_ps(_mm512_max_ps(x, s(-87.3)), s(88.3));
        // n = round(x / ln 2); r = x − n·ln 2.
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, s(std::f32::consts::LOG2_E)),
        );
        let r = _mm512_fnmadd_ps(n, s(LN2.0), x);
        let r = _mm512_fnmadd_ps(n, s(LN2.1), r);
        let mut p = s(EXP_POLY[0]);
        for c in &EXP_POLY[1..] {
            p = _mm512_fmadd_ps(p, r, s(*c));
        }
        let p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), s(1.0));
        // p · 2^n
        _mm512_scalef_ps(p, n)
    }

    /// 1/d: the 14-bit estimate and one Newton step.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn recip(d: __m512) -> __m512 {
        let r = _mm512_rcp14_ps(d);
        _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0)), r)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sigmoid(x: __m512) -> __m512 {
        let neg = _mm512_sub_ps(_mm512_setzero_ps(), x);
        recip(_mm512_add_ps(_mm512_set1_ps(1.0), exp(neg)))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn tanh(x: __m512) -> __m512 {
        let s = _mm512_set1_ps;
        let a = _mm512_abs_ps(x);
        let e = exp(_mm512_mul_ps(s(-2.0), a));
        let big = _mm512_mul_ps(_mm512_sub_ps(s(1.0), e), recip(_mm512_add_ps(s(1.0), e)));
        let x2 = _mm512_mul_ps(a, a);
        let t = _mm512_fmadd_ps(x2, s(TANH_SERIES[2]), s(TANH_SERIES[1]));
        let t = _mm512_fmadd_ps(x2, t, s(TANH_SERIES[0]));
        let small = _mm512_fmadd_ps(_mm512_mul_ps(a, x2), t, a);
        let near0 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, s(TANH_SMALL));
        let v = _mm512_mask_blend_ps(near0, big, small);
        // The sign of x.
        let sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN));
        _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), sign))
    }
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use std::arch::x86_64::*;

    use super::super::math::LANES;
    use super::{CellOut, EXP_POLY, LN2, Lanes, TANH_SERIES, TANH_SMALL};

    /// See [`super::lstm_cell`]: two 8-wide halves.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn lstm_cell(z: [&Lanes; 4], c_prev: &Lanes) -> CellOut {
        let mut out: CellOut = ([[0.0; LANES]; 4], [0.0; LANES], [0.0; LANES]);
        for half in [0, 8] {
            // SAFETY: every load and store is of 8 values from `half` < 16 − 8.
            unsafe {
                let ld = |v: &Lanes| _mm256_loadu_ps(v.as_ptr().add(half));
                let i = sigmoid(ld(z[0]));
                let f = sigmoid(ld(z[1]));
                let g = tanh(ld(z[2]));
                let o = sigmoid(ld(z[3]));
                let c = _mm256_fmadd_ps(f, ld(c_prev), _mm256_mul_ps(i, g));
                let h = _mm256_mul_ps(o, tanh(c));
                let st =
                    |dst: &mut Lanes, v: __m256| _mm256_storeu_ps(dst.as_mut_ptr().add(half), v);
                for (dst, v) in out.0.iter_mut().zip([i, f, g, o]) {
                    st(dst, v);
                }
                st(&mut out.1, c);
                st(&mut out.2, h);
            }
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn exp(x: __m256) -> __m256 {
        let s = _mm256_set1_ps;
        let x = _mm256_min_ps(_mm256_max_ps(x, s(-87.3)), s(88.3));
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, s(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_fnmadd_ps(n, s(LN2.0), x);
        let r = _mm256_fnmadd_ps(n, s(LN2.1), r);
        let mut p = s(EXP_POLY[0]);
        for c in &EXP_POLY[1..] {
            p = _mm256_fmadd_ps(p, r, s(*c));
        }
        let p = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), s(1.0));
        // 2^n: n + 127 in the exponent bits (n is in [-126, 128) after the clamp).
        let bits = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
        _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32::<23>(bits)))
    }

    /// 1/d: the 12-bit estimate and two Newton steps (one leaves 1/1 at
    /// 1 − 2^-24).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn recip(d: __m256) -> __m256 {
        let one = _mm256_set1_ps(1.0);
        let r = _mm256_rcp_ps(d);
        let r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, one), r);
        _mm256_fmadd_ps(r, _mm256_fnmadd_ps(d, r, one), r)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn sigmoid(x: __m256) -> __m256 {
        let neg = _mm256_sub_ps(_mm256_setzero_ps(), x);
        recip(_mm256_add_ps(_mm256_set1_ps(1.0), exp(neg)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn tanh(x: __m256) -> __m256 {
        let s = _mm256_set1_ps;
        let sign_bit = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MIN));
        let a = _mm256_andnot_ps(sign_bit, x);
        let e = exp(_mm256_mul_ps(s(-2.0), a));
        let big = _mm256_mul_ps(_mm256_sub_ps(s(1.0), e), recip(_mm256_add_ps(s(1.0), e)));
        let x2 = _mm256_mul_ps(a, a);
        let t = _mm256_fmadd_ps(x2, s(TANH_SERIES[2]), s(TANH_SERIES[1]));
        let t = _mm256_fmadd_ps(x2, t, s(TANH_SERIES[0]));
        let small = _mm256_fmadd_ps(_mm256_mul_ps(a, x2), t, a);
        let near0 = _mm256_cmp_ps::<_CMP_LT_OQ>(a, s(TANH_SMALL));
        let v = _mm256_blendv_ps(big, small, near0);
        _mm256_or_ps(v, _mm256_and_ps(x, sign_bit))
    }
}

#[cfg(test)]
mod tests {
    use super::super::math::{LANES, Lanes};
    use super::super::simd::Isa;
    use super::lstm_cell;

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Every 1e-4 over [-20, 20], the far tails, and the edges of tanh's
    /// series, in blocks of 16.
    fn inputs() -> Vec<Lanes> {
        let mut v: Vec<f32> = (-200_000..=200_000).map(|i| i as f32 * 1e-4).collect();
        v.extend([
            -1000.0, -88.0, -87.0, 87.0, 88.0, 1000.0, 0.0625, -0.0625, 0.06249, 1e-30,
        ]);
        v.chunks(LANES)
            .map(|c| std::array::from_fn(|l| c.get(l).copied().unwrap_or(0.0)))
            .collect()
    }

    #[test]
    fn the_cell_matches_f64_on_every_instruction_set() {
        for isa in Isa::available() {
            let (mut gate, mut state) = (0.0f64, 0.0f64);
            for z in inputs() {
                // c_prev = z and the gates from z in turn, so every
                // activation sees every input.
                let zs = [&z, &z.map(|v| -v), &z.map(|v| 0.5 * v), &z.map(|v| v - 1.0)];
                let ([i, f, g, o], c, h) = lstm_cell(isa, zs, &z);
                for l in 0..LANES {
                    let want = [
                        sigmoid(zs[0][l] as f64),
                        sigmoid(zs[1][l] as f64),
                        (zs[2][l] as f64).tanh(),
                        sigmoid(zs[3][l] as f64),
                    ];
                    for (got, want) in [i[l], f[l], g[l], o[l]].iter().zip(want) {
                        gate = gate.max((*got as f64 - want).abs());
                    }
                    let cw = want[1] * z[l] as f64 + want[0] * want[2];
                    // Relative to c's size (c_prev reaches 1000).
                    state = state.max((c[l] as f64 - cw).abs() / cw.abs().max(1.0));
                    let hw = want[3] * (c[l] as f64).tanh();
                    gate = gate.max((h[l] as f64 - hw).abs());
                }
            }
            assert!(gate < 4e-7, "{isa:?}: a gate or h off by {gate}");
            assert!(state < 4e-7, "{isa:?}: c off by {state} (relative)");
        }
    }

    #[test]
    fn the_cell_saturates_without_nan() {
        for isa in Isa::available() {
            let big: Lanes = std::array::from_fn(|l| if l % 2 == 0 { 1e30 } else { -1e30 });
            let ([i, _, g, _], c, h) = lstm_cell(isa, [&big; 4], &[0.0; LANES]);
            for l in 0..LANES {
                let want = if l % 2 == 0 { 1.0 } else { 0.0 };
                assert!((i[l] - want).abs() < 1e-37, "{isa:?} lane {l}: {}", i[l]);
                assert_eq!(g[l].abs(), 1.0, "{isa:?} lane {l}");
                assert!(c[l].is_finite() && h[l].is_finite(), "{isa:?} lane {l}");
            }
        }
    }
}
