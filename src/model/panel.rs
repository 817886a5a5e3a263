//! The per-step product of a recurrence: a few rows (the batch) times a
//! weight matrix that is the same at every step. A general GEMM repacks the
//! weights at every call, which at these sizes costs more than the product;
//! here they are packed once per sequence into panels of 16 columns. The
//! kernels walk the panels in the outer loop, so a panel stays in cache while
//! every block of rows is multiplied by it: an AVX-512 kernel keeps an 8 × 32
//! block of the result in registers (two panels at once), an AVX2/FMA kernel
//! a 4 × 16 block. Other CPUs use matrixmultiply.

/// Columns per panel (one 16-wide or two 8-wide vectors).
pub(super) const WIDTH: usize = 16;

/// Which kernel multiplies by the packed panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    Avx512,
    Avx2,
    /// matrixmultiply on the unpacked matrix.
    Plain,
}

/// The instructions the matrix products of this CPU run on, for reports.
pub fn instructions() -> &'static str {
    match Kernel::best() {
        Kernel::Avx512 => "AVX-512",
        Kernel::Avx2 => "AVX2/FMA",
        Kernel::Plain => "matrixmultiply (no AVX2/FMA)",
    }
}

impl Kernel {
    /// The fastest kernel this CPU runs.
    fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return Kernel::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Kernel::Avx2;
            }
        }
        Kernel::Plain
    }
}

/// A `k × n` matrix packed into column panels: panel `p` holds columns
/// `16p ..` as `k` rows of 16 values (zero past column `n`).
pub struct Packed {
    k: usize,
    n: usize,
    panels: Vec<f32>,
    /// The matrix row-major, for the plain kernel.
    plain: Vec<f32>,
    kernel: Kernel,
}

/// Packs the `rows × cols` matrix whose element (i, j) is `src[i·rs + j·cs]`
/// into column panels of `W`: panel `p` holds columns `p·W ..` as `rows`
/// rows of `W` values, zero past `cols`. The source is read in its memory
/// order (row by row when `cs == 1`, else column by column), which matters
/// when it is large: walking it across its stride misses the cache at every
/// element.
///
/// # Safety
/// Every element (i, j) with `i < rows`, `j < cols` must be readable.
pub(super) unsafe fn pack<const W: usize>(
    dst: &mut [f32],
    rows: usize,
    cols: usize,
    src: *const f32,
    (rs, cs): (usize, usize),
) {
    let panels = cols.div_ceil(W);
    assert!(dst.len() >= panels * rows * W, "pack: dst too short");
    let d = dst.as_mut_ptr();
    if cs == 1 {
        for i in 0..rows {
            let row = src.add(i * rs);
            for p in 0..panels {
                let out = d.add((p * rows + i) * W);
                let n = W.min(cols - p * W);
                if n == W {
                    std::ptr::copy_nonoverlapping(row.add(p * W), out, W);
                } else {
                    std::ptr::copy_nonoverlapping(row.add(p * W), out, n);
                    std::ptr::write_bytes(out.add(n), 0, W - n);
                }
            }
        }
        return;
    }
    for p in 0..panels {
        let panel = d.add(p * rows * W);
        // A whole panel of 8 contiguous columns: 8 × 8 blocks transposed in registers.
        #[cfg(target_arch = "x86_64")]
        let done = if W == 8 && rs == 1 && (p + 1) * W <= cols && is_x86_feature_detected!("avx") {
            transpose8(src.add(p * W * cs), cs, rows, panel)
        } else {
            0
        };
        #[cfg(not(target_arch = "x86_64"))]
        let done = 0;
        for jj in 0..W {
            let j = p * W + jj;
            if j < cols {
                let col = src.add(j * cs);
                for i in done..rows {
                    *panel.add(i * W + jj) = *col.add(i * rs);
                }
            } else {
                for i in 0..rows {
                    *panel.add(i * W + jj) = 0.0;
                }
            }
        }
    }
}

/// `out[i·8 + j] = src[j·cs + i]` for `j < 8` and the first `rows / 8 · 8`
/// rows, 8 × 8 at a time; returns how many rows it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8(src: *const f32, cs: usize, rows: usize, out: *mut f32) -> usize {
    use std::arch::x86_64::*;
    let whole = rows / 8 * 8;
    for i in (0..whole).step_by(8) {
        let r: [__m256; 8] = std::array::from_fn(|j| _mm256_loadu_ps(src.add(j * cs + i)));
        let lo = |a, b| _mm256_unpacklo_ps(a, b);
        let hi = |a, b| _mm256_unpackhi_ps(a, b);
        let t = [
            lo(r[0], r[1]),
            hi(r[0], r[1]),
            lo(r[2], r[3]),
            hi(r[2], r[3]),
            lo(r[4], r[5]),
            hi(r[4], r[5]),
            lo(r[6], r[7]),
            hi(r[6], r[7]),
        ];
        // u[k] holds element k (and k + 4) of rows 0–3, then of rows 4–7.
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        for k in 0..4 {
            let o = out.add((i + k) * 8);
            _mm256_storeu_ps(o, _mm256_permute2f128_ps::<0x20>(u[k], u[k + 4]));
            let o = out.add((i + k + 4) * 8);
            _mm256_storeu_ps(o, _mm256_permute2f128_ps::<0x31>(u[k], u[k + 4]));
        }
    }
    whole
}

impl Packed {
    /// Packs the `k × n` matrix whose element (i, j) is `b[i·rs + j·cs]`.
    pub fn new(k: usize, n: usize, b: &[f32], strides: (usize, usize)) -> Packed {
        Packed::with_kernel(k, n, b, strides, Kernel::best())
    }

    fn with_kernel(
        k: usize,
        n: usize,
        b: &[f32],
        (rs, cs): (usize, usize),
        kernel: Kernel,
    ) -> Packed {
        let count = n.div_ceil(WIDTH);
        let mut panels = Vec::new();
        let mut plain = Vec::new();
        if kernel == Kernel::Plain {
            plain = (0..k * n).map(|x| b[(x / n) * rs + (x % n) * cs]).collect();
        } else {
            assert!(
                k == 0 || n == 0 || (k - 1) * rs + (n - 1) * cs < b.len(),
                "panel: b too short"
            );
            panels = vec![0.0; count * k * WIDTH];
            // SAFETY: the assert bounds every element read.
            unsafe { pack::<WIDTH>(&mut panels, k, n, b.as_ptr(), (rs, cs)) };
        }
        Packed {
            k,
            n,
            panels,
            plain,
            kernel,
        }
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
        match self.kernel {
            // SAFETY: the CPU has the kernel's features (checked by
            // `Kernel::best`, or by the tests that choose one); the asserts
            // above bound every index the kernel reads or writes.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { avx512::mul(m, k, n, a, lda, &self.panels, beta, c) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { avx2::mul(m, k, n, a, lda, &self.panels, beta, c) },
            _ => super::gemm::gemm(m, k, n, a, (lda, 1), &self.plain, (n, 1), beta, c),
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx512 {
    use std::arch::x86_64::*;

    use super::WIDTH;

    /// Depth of the blocks multiplied at once: a pair of panels of this
    /// depth (16 KB) stays in L1 beside the slivers it multiplies.
    pub const DEPTH: usize = 128;

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
        let (a, w, c) = (a.as_ptr(), panels.as_ptr(), c.as_mut_ptr());
        let (count, ws) = (n.div_ceil(WIDTH), k * WIDTH);
        // Whole groups of 8 rows are packed into slivers (8 values per k,
        // side by side), so the kernel broadcasts from one pointer at fixed
        // offsets; the rows left over are read in place.
        let whole = m / 8 * 8;
        SLIVERS.with_borrow_mut(|x| {
            if x.len() < whole * k {
                x.resize(whole * k, 0.0);
            }
            super::pack::<8>(x, k, whole, a, (1, lda));
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

    thread_local! {
        /// This thread's rows of `a`, packed in slivers of 8.
        static SLIVERS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// The register block, shared with the blocked GEMM: for `r < rows`,
    /// `c[r][j] = Σ_kk a[r·rs + kk·cs] · w[kk][j] + beta·c[r][j]` over the
    /// `P` panels `w` (`k × 16` each, the second `ws` values after the
    /// first), for the `cols` columns that exist (16·P at most); `c` has row
    /// stride `ldc`. Computes `R ≥ rows` rows of
    /// `a` (all must be readable) and returns `R`.
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn block<const R: usize, const P: usize>(
        a: *const f32,
        (rs, cs): (usize, usize),
        k: usize,
        (w, ws): (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        beta: f32,
    ) -> usize {
        // With one panel, the second accumulators repeat the first and are not stored.
        let w1 = if P == 2 { w.add(ws) } else { w };
        let mut acc0 = [_mm512_setzero_ps(); R];
        let mut acc1 = [_mm512_setzero_ps(); R];
        for kk in 0..k {
            let v0 = _mm512_loadu_ps(w.add(kk * WIDTH));
            let v1 = if P == 2 {
                _mm512_loadu_ps(w1.add(kk * WIDTH))
            } else {
                v0
            };
            let ak = a.add(kk * cs);
            for r in 0..R {
                let x = _mm512_set1_ps(*ak.add(r * rs));
                acc0[r] = _mm512_fmadd_ps(x, v0, acc0[r]);
                if P == 2 {
                    acc1[r] = _mm512_fmadd_ps(x, v1, acc1[r]);
                }
            }
        }
        for r in 0..rows.min(R) {
            let row = c.add(r * ldc);
            store(row, cols, acc0[r], beta);
            if P == 2 {
                store(row.add(WIDTH), cols.saturating_sub(WIDTH), acc1[r], beta);
            }
        }
        R
    }

    /// `row[j] = v[j] + beta·row[j]` for the first `cols` (at most 16) columns.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(row: *mut f32, cols: usize, v: __m512, beta: f32) {
        let mask = ((1u32 << cols.min(WIDTH)) - 1) as __mmask16;
        let v = if beta == 0.0 {
            v
        } else {
            _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, row), v)
        };
        _mm512_mask_storeu_ps(row, mask, v);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
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
        let (a, w, c) = (a.as_ptr(), panels.as_ptr(), c.as_mut_ptr());
        for p in 0..n.div_ceil(WIDTH) {
            let wp = w.add(p * k * WIDTH);
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
                    store(c.add((i + r) * n), p, n, acc[2 * r], acc[2 * r + 1], beta);
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
                store(c.add(i * n), p, n, s0, s1, beta);
            }
        }
    }

    /// Panel `p` of an output row: `row[j] = acc[j] + beta·row[j]` for the
    /// columns of the panel that exist.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(row: *mut f32, p: usize, n: usize, s0: __m256, s1: __m256, beta: f32) {
        let start = p * WIDTH;
        let out = row.add(start);
        if start + WIDTH <= n {
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
        for (j, v) in tmp.iter().enumerate().take(n - start) {
            let o = out.add(j);
            *o = if beta == 0.0 { *v } else { v + beta * *o };
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{Kernel, Packed};

    /// The SIMD kernels this CPU runs.
    fn available() -> Vec<Kernel> {
        let mut out = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                out.push(Kernel::Avx2);
            }
            if is_x86_feature_detected!("avx512f") {
                out.push(Kernel::Avx512);
            }
        }
        out
    }

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
        ];
        for (m, k, n) in shapes {
            let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            // b read as k × n row-major, and as the transpose of an n × k matrix.
            let bt: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let mut packs = vec![
                (Packed::with_kernel(k, n, &b, (n, 1), Kernel::Plain), 1.0),
                (Packed::with_kernel(k, n, &bt, (1, k), Kernel::Plain), 0.0),
            ];
            for kernel in available() {
                packs.push((Packed::with_kernel(k, n, &b, (n, 1), kernel), 0.0));
                packs.push((Packed::with_kernel(k, n, &bt, (1, k), kernel), 1.0));
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
