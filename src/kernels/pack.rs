//! Packing a strided matrix into column panels: the layout every kernel of
//! this folder multiplies by. Reads the source in its memory order (8 × 8
//! blocks transposed in registers where it must be transposed).

/// Packs the `rows × cols` matrix whose element (i, j) is `src[i·rs + j·cs]`
/// into column panels of `W`: panel `p` holds columns `p·W ..` as `rows`
/// rows of `W` values, zero past `cols`. The source is read in its memory
/// order (row by row when `cs == 1`, else column by column), which matters
/// when it is large: walking it across its stride misses the cache at every
/// element.
///
/// # Safety
/// Every element (i, j) with `i < rows`, `j < cols` must be readable.
pub unsafe fn pack<const W: usize>(
    dst: &mut [f32],
    rows: usize,
    cols: usize,
    src: *const f32,
    (rs, cs): (usize, usize),
) {
    // SAFETY: the caller upholds the contract in this function's documentation.
    unsafe {
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
            // A whole panel of contiguous columns, 8 or 16: 8 × 8 blocks
            // transposed in registers.
            #[cfg(target_arch = "x86_64")]
            let done = if W.is_multiple_of(8)
                && rs == 1
                && (p + 1) * W <= cols
                && is_x86_feature_detected!("avx")
            {
                let mut done = rows;
                for half in (0..W).step_by(8) {
                    let from = src.add((p * W + half) * cs);
                    done = done.min(transpose8(from, cs, rows, panel.add(half), W));
                }
                done
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
}

/// `out[i·ld + j] = src[j·cs + i]` for `j < 8` and the first `rows / 8 · 8`
/// rows, 8 × 8 at a time; returns how many rows it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose8(src: *const f32, cs: usize, rows: usize, out: *mut f32, ld: usize) -> usize {
    // SAFETY: the caller upholds the contract in this function's documentation.
    unsafe {
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
                let o = out.add((i + k) * ld);
                _mm256_storeu_ps(o, _mm256_permute2f128_ps::<0x20>(u[k], u[k + 4]));
                let o = out.add((i + k + 4) * ld);
                _mm256_storeu_ps(o, _mm256_permute2f128_ps::<0x31>(u[k], u[k + 4]));
            }
        }
        whole
    }
}

#[cfg(test)]
mod tests {
    use super::pack;

    /// Panels of 8 and 16 from a row-major and from a transposed source
    /// (the 8 × 8 register transposes), with a partial last panel and rows
    /// past the last whole 8, against the definition.
    #[test]
    fn packs_both_layouts_into_panels() {
        fn check<const W: usize>(rows: usize, cols: usize) {
            let m: Vec<f32> = (0..rows * cols).map(|i| i as f32 + 0.5).collect();
            let at = |i: usize, j: usize| m[i * cols + j];
            let mt: Vec<f32> = (0..cols * rows).map(|x| at(x % rows, x / rows)).collect();
            let panels = cols.div_ceil(W);
            for (src, strides) in [(&m, (cols, 1)), (&mt, (1, rows))] {
                let mut dst = vec![f32::NAN; panels * rows * W];
                // SAFETY: `src` holds the whole rows × cols matrix at these strides.
                unsafe { pack::<W>(&mut dst, rows, cols, src.as_ptr(), strides) };
                for p in 0..panels {
                    for i in 0..rows {
                        for jj in 0..W {
                            let j = p * W + jj;
                            let want = if j < cols { at(i, j) } else { 0.0 };
                            let got = dst[(p * rows + i) * W + jj];
                            assert_eq!(got, want, "W {W}, {rows}×{cols}, {strides:?}: ({i},{j})");
                        }
                    }
                }
            }
        }
        for (rows, cols) in [(1, 1), (8, 16), (19, 16), (64, 48), (13, 37), (256, 1024)] {
            check::<8>(rows, cols);
            check::<16>(rows, cols);
        }
    }
}
