//! The register-block kernels shared by the per-step product
//! ([`super::panel`]) and the blocked GEMM ([`super::gemm`]): an `R × 32`
//! block of the result held in AVX-512 registers while the depth streams by.

/// Columns per panel (one 16-wide or two 8-wide vectors).
pub const WIDTH: usize = 16;

/// Depth of the blocks multiplied at once: a pair of panels of this
/// depth (16 KB) stays in L1 beside the slivers it multiplies.
pub const DEPTH: usize = 128;

#[cfg(target_arch = "x86_64")]
pub mod avx512 {
    use std::arch::x86_64::*;

    use super::WIDTH;

    /// The register block, shared with the blocked GEMM: for `r < rows`,
    /// `c[r][j] = Σ_kk a[r·rs + kk·cs] · w[kk][j] + beta·c[r][j]` over the
    /// `P` panels `w` (`k × 16` each, the second `ws` values after the
    /// first), for the `cols` columns that exist (16·P at most); `c` has row
    /// stride `ldc`. Computes `R ≥ rows` rows of
    /// `a` (all must be readable) and returns `R`.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `R` rows of `a` over depth `k` (at its strides),
    /// `k` rows of the `P` panels, and `rows × cols` of `c` (row stride `ldc`)
    /// are in bounds.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn block<const R: usize, const P: usize>(
        a: *const f32,
        strides: (usize, usize),
        k: usize,
        w: (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        beta: f32,
    ) -> usize {
        // SAFETY: as the caller's.
        unsafe {
            block_ahead::<R, P, false>(a, strides, k, w, c, ldc, rows, cols, beta, Ahead::NONE)
        }
    }

    /// Lines of memory to ask into L2 while a block is multiplied: `lines`
    /// cache lines (64 bytes) from `from`, one every few steps of the depth.
    #[derive(Clone, Copy)]
    pub struct Ahead {
        pub from: *const f32,
        pub lines: usize,
    }

    impl Ahead {
        const NONE: Ahead = Ahead {
            from: std::ptr::null(),
            lines: 0,
        };
    }

    /// [`block`], and with `AHEAD`, asking `ahead`'s lines into L2 spread
    /// over the depth: the panels the next block will read when they come
    /// from beyond L2 (a large layer's weights, streamed at every step),
    /// whose first reading would otherwise wait for memory at every line,
    /// faster than the hardware's prefetchers run ahead. Prefetching never
    /// faults: the lines need not exist.
    ///
    /// # Safety
    /// As [`block`]'s.
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn block_ahead<const R: usize, const P: usize, const AHEAD: bool>(
        a: *const f32,
        (rs, cs): (usize, usize),
        k: usize,
        (w, ws): (*const f32, usize),
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        beta: f32,
        ahead: Ahead,
    ) -> usize {
        // SAFETY: the caller upholds the contract in `block`'s documentation.
        unsafe {
            // One line every `every` steps of the depth, the first `lines`.
            let every = if AHEAD && ahead.lines > 0 {
                (k / ahead.lines).max(1)
            } else {
                usize::MAX
            };
            let until = if AHEAD { ahead.lines * every } else { 0 };
            let (mut next, mut line) = (0, ahead.from);
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
                if AHEAD && kk < until && kk == next {
                    _mm_prefetch::<_MM_HINT_T1>(line.cast());
                    line = line.wrapping_add(WIDTH);
                    next += every;
                }
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
    }

    /// One row of `a` (contiguous, depth `k`) times `P` panels at once
    /// (`w`, each `ws` values after the one before): `c[j] = Σ_kk a[kk] ·
    /// w[kk][j] + beta·c[j]` for the first `cols` (at most 16·P) columns.
    /// For a row alone (a batch of one), [`block`]'s one or two
    /// accumulators make each FMA wait for the one before it; `P`
    /// independent accumulators keep the FMA units busy.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `k` values of `a`, `k` rows of the `P` panels
    /// and `cols` values of `c` are in bounds.
    #[allow(clippy::needless_range_loop)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn row<const P: usize>(
        a: *const f32,
        k: usize,
        (w, ws): (*const f32, usize),
        c: *mut f32,
        cols: usize,
        beta: f32,
    ) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            let mut acc = [_mm512_setzero_ps(); P];
            for kk in 0..k {
                let x = _mm512_set1_ps(*a.add(kk));
                for p in 0..P {
                    let v = _mm512_loadu_ps(w.add(p * ws + kk * WIDTH));
                    acc[p] = _mm512_fmadd_ps(x, v, acc[p]);
                }
            }
            for p in 0..P {
                store(
                    c.add(p * WIDTH),
                    cols.saturating_sub(p * WIDTH),
                    acc[p],
                    beta,
                );
            }
        }
    }

    /// `row[j] = v[j] + beta·row[j]` for the first `cols` (at most 16) columns.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(row: *mut f32, cols: usize, v: __m512, beta: f32) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            let mask = ((1u32 << cols.min(WIDTH)) - 1) as __mmask16;
            let v = if beta == 0.0 {
                v
            } else {
                _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mask, row), v)
            };
            _mm512_mask_storeu_ps(row, mask, v);
        }
    }
}
