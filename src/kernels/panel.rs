//! The per-step product of a recurrence: a few rows (the batch) times a
//! weight matrix that is the same at every step. A general GEMM repacks the
//! weights at every call, which at these sizes costs more than the product;
//! here they are packed once per sequence into panels of 16 columns. The
//! kernels walk the panels in the outer loop, so a panel stays in cache while
//! every block of rows is multiplied by it: an AVX-512 kernel keeps an 8 × 32
//! block of the result in registers (two panels at once), an AVX2/FMA kernel
//! a 4 × 16 block. Other CPUs use matrixmultiply.

use super::block::WIDTH;
use super::pack::pack;
use super::simd::Isa;

/// A `k × n` matrix packed into column panels: panel `p` holds columns
/// `16p ..` as `k` rows of 16 values (zero past column `n`).
pub struct Packed {
    k: usize,
    n: usize,
    /// Empty on the portable path (the only one off x86-64).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    panels: Vec<f32>,
    /// The matrix row-major, for the plain kernel.
    plain: Vec<f32>,
    isa: Isa,
}

/// Values below which a matrix is packed on the calling thread alone.
const PARALLEL_PACK: usize = 1 << 18;

impl Packed {
    /// Packs the `k × n` matrix whose element (i, j) is `b[i·rs + j·cs]`.
    pub fn new(k: usize, n: usize, b: &[f32], strides: (usize, usize)) -> Packed {
        Packed::with_isa(k, n, b, strides, super::simd::isa())
    }

    pub(super) fn with_isa(
        k: usize,
        n: usize,
        b: &[f32],
        (rs, cs): (usize, usize),
        isa: Isa,
    ) -> Packed {
        let count = n.div_ceil(WIDTH);
        let mut panels = Vec::new();
        let mut plain = Vec::new();
        if isa == Isa::Portable {
            plain = (0..k * n).map(|x| b[(x / n) * rs + (x % n) * cs]).collect();
        } else {
            assert!(
                k == 0 || n == 0 || (k - 1) * rs + (n - 1) * cs < b.len(),
                "panel: b too short"
            );
            panels = vec![0.0; count * k * WIDTH];
            // Columns `first..first + cols` into `dst`, their panels.
            let fill = |dst: &mut [f32], first: usize, cols: usize| {
                // SAFETY: the assert bounds every element read, and
                // `first < n` keeps the offset inside `b`.
                unsafe { pack::<WIDTH>(dst, k, cols, b.as_ptr().add(first * cs), (rs, cs)) }
            };
            // A large matrix (a layer's weights, packed at every pass) in
            // two halves of its panels on two threads.
            if k * n >= PARALLEL_PACK && count >= 2 && rayon::current_num_threads() >= 2 {
                let half = count / 2;
                let (lo, hi) = panels.split_at_mut(half * k * WIDTH);
                rayon::join(
                    || fill(lo, 0, half * WIDTH),
                    || fill(hi, half * WIDTH, n - half * WIDTH),
                );
            } else {
                fill(&mut panels, 0, n);
            }
        }
        Packed {
            k,
            n,
            panels,
            plain,
            isa,
        }
    }

    /// The depth `k`, the columns `n`, the instructions the panels are
    /// packed for, and the panels (empty on the portable path).
    pub(super) fn layout(&self) -> (usize, usize, Isa, &[f32]) {
        (self.k, self.n, self.isa, &self.panels)
    }

    /// `c = a · self + beta · c` for `m` rows: `a` is `m × k` with row stride
    /// `lda`, `c` is `m × n` row-major.
    pub fn mul(&self, m: usize, a: &[f32], lda: usize, beta: f32, c: &mut [f32]) {
        let (k, n) = (self.k, self.n);
        if m == 0 || n == 0 {
            return;
        }
        assert!(
            lda >= k && (m - 1) * lda + k <= a.len(),
            "panel: a too short"
        );
        assert!(m * n <= c.len(), "panel: c too short");
        match self.isa {
            // SAFETY: the CPU has the kernel's features (checked by
            // `simd::isa`, or by the tests that choose one); the asserts
            // above bound every index the kernel reads or writes.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::mul(m, k, n, a, lda, &self.panels, beta, c) },
            // SAFETY: as for AVX-512, with AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::mul(m, k, n, a, lda, &self.panels, beta, c) },
            _ => super::gemm::gemm(m, k, n, a, (lda, 1), &self.plain, (n, 1), beta, c),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::super::block::avx512::{block, row};
    use super::super::block::{DEPTH, WIDTH};
    use super::super::pack::pack;

    /// See [`super::Packed::mul`]; `panels` as packed there.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn mul(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        lda: usize,
        panels: &[f32],
        beta: f32,
        c: &mut [f32],
    ) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            let (a, w, c) = (a.as_ptr(), panels.as_ptr(), c.as_mut_ptr());
            let (count, ws) = (n.div_ceil(WIDTH), k * WIDTH);
            if m < 4 {
                // A batch of one to three: each row by up to 8 panels at once.
                for i in 0..m {
                    let (ai, ci) = (a.add(i * lda), c.add(i * n));
                    let mut p = 0;
                    while p < count {
                        let (wp, cp, cols) = (w.add(p * ws), ci.add(p * WIDTH), n - p * WIDTH);
                        p += match count - p {
                            8.. => {
                                row::<8>(ai, k, (wp, ws), cp, cols, beta);
                                8
                            }
                            4.. => {
                                row::<4>(ai, k, (wp, ws), cp, cols, beta);
                                4
                            }
                            2.. => {
                                row::<2>(ai, k, (wp, ws), cp, cols, beta);
                                2
                            }
                            _ => {
                                row::<1>(ai, k, (wp, ws), cp, cols, beta);
                                1
                            }
                        };
                    }
                }
                return;
            }
            // Whole groups of 8 rows are packed into slivers (8 values per k,
            // side by side), so the kernel broadcasts from one pointer at fixed
            // offsets; the rows left over are read in place.
            let whole = m / 8 * 8;
            SLIVERS.with_borrow_mut(|x| {
                if x.len() < whole * k {
                    x.resize(whole * k, 0.0);
                }
                pack::<8>(x, k, whole, a, (1, lda));
                let mut p = 0;
                while p < count {
                    let pair = p + 1 < count;
                    let (wp, cols) = (w.add(p * ws), n - p * WIDTH);
                    // DEPTH rows of the panels at a time, so that they stay in L1
                    // while every sliver is multiplied by them.
                    for kc in (0..k).step_by(DEPTH) {
                        let (kb, wk) = (DEPTH.min(k - kc), (wp.add(kc * WIDTH), ws));
                        let beta = if kc == 0 { beta } else { 1.0 };
                        for s in 0..whole / 8 {
                            let xs = x.as_ptr().add(s * 8 * k + kc * 8);
                            let ci = c.add(s * 8 * n + p * WIDTH);
                            if pair {
                                block::<8, 2>(xs, (1, 8), kb, wk, ci, n, 8, cols, beta);
                            } else {
                                block::<8, 1>(xs, (1, 8), kb, wk, ci, n, 8, cols, beta);
                            }
                        }
                    }
                    let mut i = whole;
                    while i < m {
                        let (ai, ci) = (a.add(i * lda), c.add(i * n + p * WIDTH));
                        let (sa, wk) = ((lda, 1), (wp, ws));
                        i += match (m - i, pair) {
                            (4.., true) => block::<4, 2>(ai, sa, k, wk, ci, n, 4, cols, beta),
                            (_, true) => block::<1, 2>(ai, sa, k, wk, ci, n, 1, cols, beta),
                            (4.., false) => block::<4, 1>(ai, sa, k, wk, ci, n, 4, cols, beta),
                            (_, false) => block::<1, 1>(ai, sa, k, wk, ci, n, 1, cols, beta),
                        };
                    }
                    p += if pair { 2 } else { 1 };
                }
            });
        }
    }

    thread_local! {
        /// This thread's rows of `a`, packed in slivers of 8.
        static SLIVERS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use std::arch::x86_64::*;

    use super::WIDTH;

    /// See [`super::Packed::mul`]; `panels` as packed there.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn mul(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        lda: usize,
        panels: &[f32],
        beta: f32,
        c: &mut [f32],
    ) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            let (a, w, c) = (a.as_ptr(), panels.as_ptr(), c.as_mut_ptr());
            for p in 0..n.div_ceil(WIDTH) {
                let (wp, cp) = (w.add(p * k * WIDTH), c.add(p * WIDTH));
                panel(m, k, a, lda, wp, (cp, n), n - p * WIDTH, beta);
            }
        }
    }

    /// One panel (`w`, `k × 16`) for `m` rows of `a` (row stride `lda`):
    /// `c[i][j] = Σ_kk a[i][kk] · w[kk][j] + beta·c[i][j]` for the first
    /// `cols` (at most 16) columns; `c` has row stride `ldc`.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `m` rows of `a` over depth `k`, `k` rows of
    /// the panel and `m × cols` of `c` (at its stride) are in bounds.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn panel(
        m: usize,
        k: usize,
        a: *const f32,
        lda: usize,
        wp: *const f32,
        (c, ldc): (*mut f32, usize),
        cols: usize,
        beta: f32,
    ) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            let mut i = 0;
            while i + 4 <= m {
                let (r0, r1, r2, r3) = (
                    a.add(i * lda),
                    a.add((i + 1) * lda),
                    a.add((i + 2) * lda),
                    a.add((i + 3) * lda),
                );
                let mut acc = [_mm256_setzero_ps(); 8];
                for kk in 0..k {
                    let w0 = _mm256_loadu_ps(wp.add(kk * WIDTH));
                    let w1 = _mm256_loadu_ps(wp.add(kk * WIDTH + 8));
                    let x0 = _mm256_broadcast_ss(&*r0.add(kk));
                    acc[0] = _mm256_fmadd_ps(x0, w0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(x0, w1, acc[1]);
                    let x1 = _mm256_broadcast_ss(&*r1.add(kk));
                    acc[2] = _mm256_fmadd_ps(x1, w0, acc[2]);
                    acc[3] = _mm256_fmadd_ps(x1, w1, acc[3]);
                    let x2 = _mm256_broadcast_ss(&*r2.add(kk));
                    acc[4] = _mm256_fmadd_ps(x2, w0, acc[4]);
                    acc[5] = _mm256_fmadd_ps(x2, w1, acc[5]);
                    let x3 = _mm256_broadcast_ss(&*r3.add(kk));
                    acc[6] = _mm256_fmadd_ps(x3, w0, acc[6]);
                    acc[7] = _mm256_fmadd_ps(x3, w1, acc[7]);
                }
                for r in 0..4 {
                    store(c.add((i + r) * ldc), cols, acc[2 * r], acc[2 * r + 1], beta);
                }
                i += 4;
            }
            for i in i..m {
                let row = a.add(i * lda);
                let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
                for kk in 0..k {
                    let x = _mm256_broadcast_ss(&*row.add(kk));
                    s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(wp.add(kk * WIDTH)), s0);
                    s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(wp.add(kk * WIDTH + 8)), s1);
                }
                store(c.add(i * ldc), cols, s0, s1, beta);
            }
        }
    }

    /// One panel's columns of an output row: `out[j] = acc[j] + beta·out[j]`
    /// for the first `cols` (at most 16).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(out: *mut f32, cols: usize, s0: __m256, s1: __m256, beta: f32) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            if cols >= WIDTH {
                let (mut s0, mut s1) = (s0, s1);
                if beta != 0.0 {
                    let b = _mm256_set1_ps(beta);
                    s0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(out), s0);
                    s1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(out.add(8)), s1);
                }
                _mm256_storeu_ps(out, s0);
                _mm256_storeu_ps(out.add(8), s1);
                return;
            }
            let mut tmp = [0.0f32; WIDTH];
            _mm256_storeu_ps(tmp.as_mut_ptr(), s0);
            _mm256_storeu_ps(tmp.as_mut_ptr().add(8), s1);
            for (j, v) in tmp.iter().enumerate().take(cols) {
                let o = out.add(j);
                *o = if beta == 0.0 { *v } else { v + beta * *o };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::simd::Isa;
    use super::Packed;

    #[test]
    fn matches_a_plain_product_for_every_shape_and_layout() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let shapes = [
            (1, 1, 1),
            (3, 5, 20),
            (4, 16, 16),
            (13, 7, 33),
            (16, 64, 256),
            (9, 20, 80),
            (17, 9, 48),
            (32, 256, 1024),
            (21, 300, 40),
            // One to three rows (a batch of one): 8, 4, 2 and 1 panels at once.
            (1, 256, 1024),
            (2, 33, 250),
            (3, 130, 48),
            (1, 7, 16 * 14 + 5),
        ];
        for (m, k, n) in shapes {
            let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            // b read as k × n row-major, and as the transpose of an n × k matrix.
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let mut packs = vec![
                (Packed::with_isa(k, n, &b, (n, 1), Isa::Portable), 1.0),
                (Packed::with_isa(k, n, &bt, (1, k), Isa::Portable), 0.0),
            ];
            for isa in Isa::available() {
                packs.push((Packed::with_isa(k, n, &b, (n, 1), isa), 0.0));
                packs.push((Packed::with_isa(k, n, &bt, (1, k), isa), 1.0));
            }
            for (packed, beta) in packs {
                let mut c = c0.clone();
                packed.mul(m, &a, k, beta, &mut c);
                for i in 0..m {
                    for j in 0..n {
                        let dot: f32 = (0..k).map(|kk| a[i * k + kk] * b[kk * n + j]).sum();
                        let want = dot + beta * c0[i * n + j];
                        let got = c[i * n + j];
                        assert!(
                            (got - want).abs() < 1e-5 * (k as f32 + 10.0),
                            "({m},{k},{n}) [{i},{j}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
