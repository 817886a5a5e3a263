//! The large products of a layer over all time steps (input projection,
//! weight and input gradients): `c = a·b + beta·c` with any strides.
//!
//! On CPUs with AVX-512 they run through a blocked GEMM of our own (BLIS's
//! loop order): blocks of `b` of `KC × NC` are packed into 16-column panels
//! that stay in L2, blocks of `a` of `MC × KC` into 8-row slivers that stay
//! in L1, and the per-step products' kernel (`panel::avx512::block`)
//! keeps an 8 × 32 block of `c` in registers.
//! matrixmultiply, which reaches about two thirds of its speed here, does
//! the small and the skinny products and runs on other CPUs. Large products are split
//! across two threads when the pool has them.

/// Products with at least this many multiply-adds are split across two threads.
pub const PARALLEL_MACS: usize = 1 << 20;

/// Products with at least this many multiply-adds use the blocked AVX-512 path.
const BLOCKED_MACS: usize = 1 << 16;

/// Whether a product goes through the blocked AVX-512 path: large enough,
/// and not so skinny (depth or width under 48) that most of each 8 × 32
/// register block or of each packed block would be padding.
fn blocked(m: usize, k: usize, n: usize) -> bool {
    m * k * n >= BLOCKED_MACS && k.min(n) >= 48
}

/// `c = a·b + beta·c` with explicit (row, column) strides; `a` is m×k, `b` k×n, `c` m×n row-major.
/// Large products run on two threads (halves of the rows of `c`, or of its
/// columns when there are few rows) when the pool has them.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        k == 0 || (m - 1) * rsa + (k - 1) * csa < a.len(),
        "gemm: a too short"
    );
    assert!(
        k == 0 || (k - 1) * rsb + (n - 1) * csb < b.len(),
        "gemm: b too short"
    );
    assert!(m * n <= c.len(), "gemm: c too short");
    let c = &mut c[..m * n];
    let whole = Part {
        a: (a, 0),
        b: (b, 0),
        c: Out(c.as_mut_ptr()),
    };
    let sizes = (m, k, n, (rsa, csa), (rsb, csb), beta);
    if m * k * n < PARALLEL_MACS || rayon::current_num_threads() < 2 {
        // SAFETY: the asserts above keep every index the product touches inside the slices.
        unsafe { serial(sizes, whole, n) };
        return;
    }
    if m >= 64 || m >= n {
        let top = m / 2;
        let lower = Part {
            a: (a, top * rsa),
            b: (b, 0),
            c: Out(c[top * n..].as_mut_ptr()),
        };
        rayon::join(
            // SAFETY: rows 0..top and top..m of `a` and `c`, inside the asserted bounds.
            || unsafe { serial((top, k, n, (rsa, csa), (rsb, csb), beta), whole, n) },
            || unsafe { serial((m - top, k, n, (rsa, csa), (rsb, csb), beta), lower, n) },
        );
    } else {
        let left = n / 2;
        let right = Part {
            a: (a, 0),
            b: (b, left * csb),
            c: Out(c[left..].as_mut_ptr()),
        };
        rayon::join(
            // SAFETY: columns 0..left and left..n of `b` and `c` (disjoint
            // elements of `c`), inside the asserted bounds.
            || unsafe { serial((m, k, left, (rsa, csa), (rsb, csb), beta), whole, n) },
            || unsafe { serial((m, k, n - left, (rsa, csa), (rsb, csb), beta), right, n) },
        );
    }
}

/// Sizes, strides of `a` and `b`, and beta.
type Sizes = (usize, usize, usize, (usize, usize), (usize, usize), f32);

/// Where one part of a product reads (`a`, `b` from an offset) and writes.
#[derive(Clone, Copy)]
struct Part<'a> {
    a: (&'a [f32], usize),
    b: (&'a [f32], usize),
    c: Out,
}

/// A pointer into `c` that one part of a product writes through.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: each part writes elements of `c` the other does not touch, and
// both are joined before `gemm` returns.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

/// One part on the calling thread; `c` has row stride `ldc`.
///
/// # Safety
/// Every element the sizes and strides address must lie inside the slices
/// (from their offsets) and inside `c`'s allocation.
unsafe fn serial((m, k, n, sa, sb, beta): Sizes, p: Part, ldc: usize) {
    let (a, b) = (p.a.0.as_ptr().add(p.a.1), p.b.0.as_ptr().add(p.b.1));
    #[cfg(target_arch = "x86_64")]
    if blocked(m, k, n) && is_x86_feature_detected!("avx512f") {
        blocked::gemm(m, k, n, (a, sa), (b, sb), beta, p.c.0, ldc);
        return;
    }
    matrixmultiply::sgemm(
        m,
        k,
        n,
        1.0,
        a,
        sa.0 as isize,
        sa.1 as isize,
        b,
        sb.0 as isize,
        sb.1 as isize,
        beta,
        p.c.0,
        ldc as isize,
        1,
    );
}

#[cfg(target_arch = "x86_64")]
mod blocked {
    use super::super::panel::avx512::block;
    use super::super::panel::{pack, WIDTH};

    /// Rows of `a` per packed block (a multiple of [`MR`]).
    const MC: usize = 64;
    /// Depth of a packed block.
    const KC: usize = 256;
    /// Columns of `b` per packed block (a multiple of [`NR`]).
    const NC: usize = 512;
    /// Rows of the register block.
    const MR: usize = 8;
    /// Columns of a packed panel (the per-step products' panel width, so
    /// that both use one kernel); the register block is two panels wide.
    const NR: usize = WIDTH;

    /// See [`super::gemm`]; raw pointers with strides, `c` with row stride `ldc`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        (a, (rsa, csa)): (*const f32, (usize, usize)),
        (b, (rsb, csb)): (*const f32, (usize, usize)),
        beta: f32,
        c: *mut f32,
        ldc: usize,
    ) {
        // c = beta·c first; the blocks then accumulate into it.
        for i in 0..m {
            let row = std::slice::from_raw_parts_mut(c.add(i * ldc), n);
            if beta == 0.0 {
                row.fill(0.0);
            } else if beta != 1.0 {
                row.iter_mut().for_each(|v| *v *= beta);
            }
        }
        // Packing writes every element it later reads (zeros included), so
        // the buffers are reused between calls without clearing.
        PACKED.with_borrow_mut(|(bp, ap)| {
            let kmax = KC.min(k);
            let (nmax, mmax) = (
                NC.min(n).next_multiple_of(NR),
                MC.min(m).next_multiple_of(MR),
            );
            if bp.len() < kmax * nmax {
                bp.resize(kmax * nmax, 0.0);
            }
            if ap.len() < kmax * mmax {
                ap.resize(kmax * mmax, 0.0);
            }
            blocks(m, k, n, (a, (rsa, csa)), (b, (rsb, csb)), c, ldc, bp, ap);
        });
    }

    thread_local! {
        /// This thread's packed blocks of `b` and `a`.
        static PACKED: std::cell::RefCell<(Vec<f32>, Vec<f32>)> =
            const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
    }

    /// The loops over blocks, with buffers for the packed blocks.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    unsafe fn blocks(
        m: usize,
        k: usize,
        n: usize,
        (a, (rsa, csa)): (*const f32, (usize, usize)),
        (b, (rsb, csb)): (*const f32, (usize, usize)),
        c: *mut f32,
        ldc: usize,
        bp: &mut [f32],
        ap: &mut [f32],
    ) {
        for jc in (0..n).step_by(NC) {
            let nb = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kb = KC.min(k - pc);
                // Panel q holds columns jc+16q.. as kb rows of 16 (zero past n).
                pack(bp, kb, nb, NR, |kk, j| {
                    *b.add((pc + kk) * rsb + (jc + j) * csb)
                });
                for ic in (0..m).step_by(MC) {
                    let mb = MC.min(m - ic);
                    // Sliver s holds rows ic+8s.. as kb columns of 8 (zero past
                    // m): the block of a, transposed, packed as panels of 8.
                    pack(ap, kb, mb, MR, |kk, i| {
                        *a.add((ic + i) * rsa + (pc + kk) * csa)
                    });
                    let mut q = 0;
                    while q * NR < nb {
                        let cols = (nb - q * NR).min(2 * NR);
                        let w = bp.as_ptr().add(q * kb * NR);
                        for s in 0..mb.div_ceil(MR) {
                            let rows = (mb - s * MR).min(MR);
                            let out = c.add((ic + s * MR) * ldc + jc + q * NR);
                            let x = ap.as_ptr().add(s * kb * MR);
                            let sx = (1, MR);
                            if cols > NR {
                                block::<MR, 2>(x, sx, kb, w, out, ldc, rows, cols, 1.0);
                            } else {
                                block::<MR, 1>(x, sx, kb, w, out, ldc, rows, cols, 1.0);
                            }
                        }
                        q += 2;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::{blocked, gemm, PARALLEL_MACS};

    /// `a·b + beta·c0` summed plainly in f64.
    #[allow(clippy::too_many_arguments)]
    fn plain(
        (m, k, n): (usize, usize, usize),
        a: &[f32],
        (rsa, csa): (usize, usize),
        b: &[f32],
        (rsb, csb): (usize, usize),
        beta: f32,
        c0: &[f32],
    ) -> Vec<f32> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|kk| a[i * rsa + kk * csa] as f64 * b[kk * rsb + j * csb] as f64)
                    .sum();
                out[i * n + j] = (dot + beta as f64 * c0[i * n + j] as f64) as f32;
            }
        }
        out
    }

    /// Every path (plain, blocked, split by rows or columns on two threads)
    /// with edges in every dimension, both layouts of `a` and `b`, and each beta.
    #[test]
    fn matches_a_plain_product_for_every_shape_layout_and_path() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let shapes = [
            (5, 6, 7),      // small: matrixmultiply
            (9, 300, 50),   // blocked: k past one block, ragged rows and columns
            (200, 20, 300), // large but shallow: matrixmultiply
            (130, 90, 100), // split by rows
            (20, 200, 301), // split by columns
            (70, 520, 530), // several blocks in every dimension
        ];
        let mut paths = [0; 3];
        for (m, k, n) in shapes {
            let macs = m * k * n;
            paths[0] += !blocked(m, k, n) as usize;
            paths[1] += blocked(m, k, n) as usize;
            paths[2] += (macs >= PARALLEL_MACS) as usize;
            let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
            for (sa, sb) in [((k, 1), (n, 1)), ((1, m), (1, k))] {
                for beta in [0.0, 1.0, 0.5] {
                    let want = plain((m, k, n), &a, sa, &b, sb, beta, &c0);
                    let mut c = c0.clone();
                    pool.install(|| gemm(m, k, n, &a, sa, &b, sb, beta, &mut c));
                    for (i, (got, want)) in c.iter().zip(&want).enumerate() {
                        assert!(
                            (got - want).abs() < 1e-5 * (k as f32 + 10.0),
                            "({m},{k},{n}) {sa:?} {sb:?} beta {beta} [{i}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
        assert!(paths.iter().all(|&p| p > 0), "every path is covered");
    }
}
