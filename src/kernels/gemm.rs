//! The large products of a layer over all time steps (input projection,
//! weight and input gradients): `c = a·b + beta·c` with any strides.
//!
//! On CPUs with AVX-512 they run through a blocked GEMM of our own: a band
//! of columns of `b` is packed over the full depth into 16-column panels,
//! then each block of `MC` rows of `a` is packed one `KC`-deep block at a
//! time into 8-row slivers and multiplied by the band with the per-step
//! products' kernel (`block::avx512::block`, an 8 × 32 block of `c` in
//! registers), so each block of `c` stays in cache until it is finished.
//! Deep products with a small `c` (the weight gradients: depth T·B) go the
//! other way round, each depth block of the band over all rows of `a`.
//! Packing reads its source in memory order and prefetches the next block.
//! matrixmultiply, which reaches about two thirds of its speed here, does
//! the small and the skinny products and runs on other CPUs. Large products are split
//! across the pool's threads, one part of the rows (or of the columns) per
//! thread, each of at least [`MIN_PART`] rows or columns; split by rows, the
//! parts share one packed copy of a large `b` (the weight gradients' 6.5 MB
//! of inputs), packed half by each of two threads.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use rayon::prelude::*;

use super::simd::{Isa, isa};

/// Products with at least this many multiply-adds are split across threads.
pub const PARALLEL_MACS: usize = 1 << 20;

/// The fewest rows (or columns) a part of a split product gets.
const MIN_PART: usize = 16;

/// Where `len` rows (or columns) are cut into one part per thread of the
/// pool, each of at least [`MIN_PART`] (two parts at least): the parts are
/// `bounds[i]..bounds[i + 1]`. With two threads, halves (`len / 2`).
fn part_bounds(len: usize, threads: usize) -> Vec<usize> {
    let parts = threads.min(len / MIN_PART).max(2);
    (0..=parts).map(|i| i * len / parts).collect()
}

/// Runs `f(start, end)` for every part of `bounds` on the pool: two parts
/// by one `rayon::join` (as the two halves always were), more as tasks.
fn for_each_part(bounds: &[usize], f: impl Fn(usize, usize) + Sync) {
    match bounds {
        [a, b, c] => {
            rayon::join(|| f(*a, *b), || f(*b, *c));
        }
        _ => bounds
            .windows(2)
            .collect::<Vec<_>>()
            .into_par_iter()
            .for_each(|r| f(r[0], r[1])),
    }
}

/// Products with at least this many multiply-adds use the blocked AVX-512 path.
#[cfg(target_arch = "x86_64")]
const BLOCKED_MACS: usize = 1 << 16;

/// Whether a product goes through the blocked AVX-512 path: large enough,
/// and not so skinny (depth or width under 48) that most of each 8 × 32
/// register block or of each packed block would be padding.
#[cfg(target_arch = "x86_64")]
fn blocked(m: usize, k: usize, n: usize) -> bool {
    m * k * n >= BLOCKED_MACS && k.min(n) >= 48
}

/// `c = a·b + beta·c` with explicit (row, column) strides; `a` is m×k, `b` k×n, `c` m×n row-major.
/// Large products run on the pool's threads (parts of the rows of `c`, or of
/// its columns when there are few rows) when it has two or more.
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
    // Every pointer into `c` derives from this one base, taken once: the
    // parts write disjoint elements through it, on two threads.
    let base = c[..m * n].as_mut_ptr();
    let whole = Part {
        a: (a, 0),
        b: (b, 0),
        c: Out(base),
    };
    let sizes = (m, k, n, (rsa, csa), (rsb, csb), beta);
    let avx512 = isa() == Isa::Avx512;
    if m * k * n < PARALLEL_MACS || rayon::current_num_threads() < 2 {
        count(Path::Serial);
        // SAFETY: the asserts above keep every index the product touches inside the slices.
        unsafe { serial(sizes, whole, n, avx512) };
        return;
    }
    let threads = rayon::current_num_threads();
    let out = Out(base);
    if m >= 64 || m >= n {
        let rows = part_bounds(m, threads);
        #[cfg(target_arch = "x86_64")]
        if avx512 && blocked::shares_band(rows[1], k, n) {
            count(Path::SharedBand);
            let (pa, pb) = ((a.as_ptr(), (rsa, csa)), (b.as_ptr(), (rsb, csb)));
            // SAFETY: the asserts above keep every index inside the slices;
            // the parts write rows rows[i]..rows[i + 1] of `c`.
            unsafe { blocked::gemm_shared_band(&rows, m, k, n, pa, pb, beta, out) };
            return;
        }
        count(Path::SplitRows);
        for_each_part(&rows, |top, end| {
            let part = Part {
                a: (a, top * rsa),
                b: (b, 0),
                // SAFETY: row `top` of `c` lies inside its `m · n` values.
                c: Out(unsafe { out.get().add(top * n) }),
            };
            // SAFETY: rows top..end of `a` and `c` (rows no other part
            // touches), inside the asserted bounds.
            unsafe {
                serial(
                    (end - top, k, n, (rsa, csa), (rsb, csb), beta),
                    part,
                    n,
                    avx512,
                )
            }
        });
    } else {
        count(Path::SplitColumns);
        let columns = part_bounds(n, threads);
        for_each_part(&columns, |left, end| {
            let part = Part {
                a: (a, 0),
                b: (b, left * csb),
                // SAFETY: column `left` of row 0 lies inside `c`.
                c: Out(unsafe { out.get().add(left) }),
            };
            // SAFETY: columns left..end of `b` and `c` (elements of `c` no
            // other part touches), inside the asserted bounds.
            unsafe {
                serial(
                    (m, k, end - left, (rsa, csa), (rsb, csb), beta),
                    part,
                    n,
                    avx512,
                )
            }
        });
    }
}

/// The ways a product can be computed, counted per process so that tests
/// can check which of them actually ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// On the calling thread.
    Serial,
    /// A part of the rows per thread, each packing its own `b`.
    SplitRows,
    /// A part of the rows per thread, one packed `b` shared.
    SharedBand,
    /// A part of the columns per thread.
    SplitColumns,
    /// The blocked AVX-512 GEMM (on any of the above).
    Blocked,
}

static PATHS: [AtomicUsize; 5] = [const { AtomicUsize::new(0) }; 5];

fn count(path: Path) {
    PATHS[path as usize].fetch_add(1, Relaxed);
}

/// How many products took `path` in this process so far.
pub fn taken(path: Path) -> usize {
    PATHS[path as usize].load(Relaxed)
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
// SAFETY: each part writes elements of `c` no other part touches, and all
// are joined before `gemm` returns.
unsafe impl Send for Out {}
// SAFETY: as for `Send`: the parts' elements of `c` are disjoint.
unsafe impl Sync for Out {}

impl Out {
    /// The pointer (a method, so closures capture the `Sync` wrapper).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// One part on the calling thread; `c` has row stride `ldc`.
///
/// # Safety
/// Every element the sizes and strides address must lie inside the slices
/// (from their offsets) and inside `c`'s allocation.
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
unsafe fn serial((m, k, n, sa, sb, beta): Sizes, p: Part, ldc: usize, avx512: bool) {
    // SAFETY: the caller upholds the contract in this function's documentation.
    unsafe {
        let (a, b) = (p.a.0.as_ptr().add(p.a.1), p.b.0.as_ptr().add(p.b.1));
        #[cfg(target_arch = "x86_64")]
        if avx512 && blocked(m, k, n) {
            count(Path::Blocked);
            blocked::gemm(
                blocked::band(k),
                m,
                k,
                n,
                (a, sa),
                (b, sb),
                beta,
                p.c.0,
                ldc,
            );
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
}

#[cfg(target_arch = "x86_64")]
mod blocked {
    use super::super::block::avx512::block;
    use super::super::block::{DEPTH, WIDTH};
    use super::super::pack::pack;

    /// Rows of `a` per packed block (a multiple of [`MR`]).
    const MC: usize = 96;
    /// Depth of a packed block: a pair of panels (`KC × 32`) stays in L1
    /// while every sliver of the block of `a` is multiplied by it.
    const KC: usize = DEPTH;
    /// The most values of `b` packed at once (16 MB); wider products are
    /// done in bands of columns.
    const B_MAX: usize = 1 << 22;
    /// Rows of the register block.
    const MR: usize = 8;
    /// Values of c (m × n) up to which a deep product goes depth-first.
    const C_SMALL: usize = 1 << 18;
    /// Columns of a packed panel (the per-step products' panel width, so
    /// that both use one kernel); the register block is two panels wide.
    const NR: usize = WIDTH;

    /// Columns of `b` packed at once for a product of depth `k`: as many
    /// as fit in 16 MB, a multiple of the register block's 32.
    pub fn band(k: usize) -> usize {
        (B_MAX / k.max(1)).max(2 * NR) / (2 * NR) * (2 * NR)
    }

    /// See [`super::gemm`]; raw pointers with strides, `c` with row stride
    /// `ldc`, in bands of `band` columns of `b` (a multiple of 32, see [`band`]).
    ///
    /// Each band of `b` is packed whole, over the full depth; then each
    /// block of rows of `a` is packed one depth block at a time and
    /// multiplied by the band. The block of `c` is thus finished before the
    /// next is started: it stays in L2 across the depth, where looping over
    /// the depth outside the rows would stream all of `c` through memory
    /// once per depth block. When `c` is small and the product deep, that
    /// is the better order: the band's depth block stays in L2 instead of
    /// the whole band streaming from L3 once per block of rows (see
    /// [`multiply`]).
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gemm(
        band: usize,
        m: usize,
        k: usize,
        n: usize,
        (a, (rsa, csa)): (*const f32, (usize, usize)),
        (b, (rsb, csb)): (*const f32, (usize, usize)),
        beta: f32,
        c: *mut f32,
        ldc: usize,
    ) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            let band = band.min(n);
            // Taken out while in use, so a product nested in this one (a rayon
            // task stolen while this thread waits) gets a buffer of its own.
            let mut bp = BAND.take();
            grow(&mut bp, k * band.next_multiple_of(NR));
            for jc in (0..n).step_by(band) {
                let nb = band.min(n - jc);
                let b = (b.add(jc * csb), (rsb, csb));
                pack_band(0, k, nb, b, &mut bp);
                multiply(m, k, nb, (a, (rsa, csa)), &bp, beta, c.add(jc), ldc);
            }
            BAND.set(bp);
        }
    }

    /// Whether a product split by rows (`top` rows in the first half) packs
    /// `b` once for both halves: each half would go through the blocked path,
    /// `b` fits in one band, and it is large enough (a MB) that packing it
    /// twice costs more than a second join.
    pub fn shares_band(top: usize, k: usize, n: usize) -> bool {
        super::blocked(top, k, n) && n <= band(k) && k * n >= 1 << 18
    }

    /// A product split by rows between threads (rows `rows[i]..rows[i +
    /// 1]`, `rows` running from 0 to `m`) that packs `b` once, the two
    /// halves of its depth on two threads, then multiplies each part of `a`
    /// by it.
    ///
    /// # Safety
    /// As [`gemm`], with `c` of row stride `n`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gemm_shared_band(
        rows: &[usize],
        m: usize,
        k: usize,
        n: usize,
        (a, (rsa, csa)): (*const f32, (usize, usize)),
        (b, sb): (*const f32, (usize, usize)),
        beta: f32,
        c: super::Out,
    ) {
        let stride = n.next_multiple_of(NR);
        // Taken out while in use: while this thread waits in `join` it may
        // run another product's task, which then packs into a buffer of its own.
        let mut bp = BAND.take();
        grow(&mut bp, k * stride);
        // Depth blocks ..half and half.. of the packed band.
        let half = k.div_ceil(KC) / 2 * KC;
        let (first, second) = bp.split_at_mut(half * stride);
        let b = Shared(b);
        rayon::join(
            // SAFETY: depth blocks ..half of `b`, inside the caller's bounds.
            || unsafe { pack_band(0, half, n, (b.get(), sb), first) },
            // SAFETY: depth blocks half.. of `b`, inside the caller's bounds.
            || unsafe { pack_band(half, k, n, (b.get(), sb), second) },
        );
        {
            let (bp, a) = (&bp[..], Shared(a));
            debug_assert_eq!((rows.first(), rows.last()), (Some(&0), Some(&m)));
            super::for_each_part(rows, |top, end| {
                // SAFETY: rows top..end of `a` and `c` (rows no other part
                // touches), inside the caller's bounds.
                unsafe {
                    let a = a.get().add(top * rsa);
                    multiply(
                        end - top,
                        k,
                        n,
                        (a, (rsa, csa)),
                        bp,
                        beta,
                        c.get().add(top * n),
                        n,
                    )
                }
            });
        }
        BAND.set(bp);
    }

    /// A read-only pointer shared by the two halves of a product.
    #[derive(Clone, Copy)]
    struct Shared(*const f32);
    // SAFETY: only read, while the caller's slice is borrowed.
    unsafe impl Send for Shared {}
    // SAFETY: as for `Send`: only read.
    unsafe impl Sync for Shared {}

    impl Shared {
        /// The pointer (a method, so closures capture the `Sync` wrapper).
        fn get(self) -> *const f32 {
            self.0
        }
    }

    thread_local! {
        /// This thread's packed band of `b`.
        static BAND: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
        /// This thread's packed block of `a`.
        static BLOCK: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Packing writes every element it later reads (zeros included), so the
    /// buffers are reused between calls without clearing; they only grow.
    fn grow(v: &mut Vec<f32>, len: usize) {
        if v.len() < len {
            v.resize(len, 0.0);
        }
    }

    /// Packs depth rows `from..to` of a band of `n` columns of `b` (`b`
    /// points at the band's row 0) into `bp`, which holds those depth blocks:
    /// depth block pc at (pc − from)·stride, panel q of it holding columns
    /// 16q.. as kb rows of 16 (zero past n). `from` is a multiple of `KC`.
    #[target_feature(enable = "avx512f")]
    unsafe fn pack_band(
        from: usize,
        to: usize,
        n: usize,
        (b, (rsb, csb)): (*const f32, (usize, usize)),
        bp: &mut [f32],
    ) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            let stride = n.next_multiple_of(NR);
            for pc in (from..to).step_by(KC) {
                let kb = KC.min(to - pc);
                pack::<NR>(
                    &mut bp[(pc - from) * stride..],
                    kb,
                    n,
                    b.add(pc * rsb),
                    (rsb, csb),
                );
            }
        }
    }

    /// `c = a·b + beta·c` for one band (`n` columns) of `b` and `c`, with
    /// the band packed by [`pack_band`] in `bp`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    unsafe fn multiply(
        m: usize,
        k: usize,
        n: usize,
        (a, (rsa, csa)): (*const f32, (usize, usize)),
        bp: &[f32],
        beta: f32,
        c: *mut f32,
        ldc: usize,
    ) {
        // SAFETY: the caller upholds the contract in this function's documentation.
        unsafe {
            // This thread's block buffer, taken out while in use (no closure, so
            // the loops below stay in this AVX-512 function).
            let mut ap = BLOCK.take();
            grow(&mut ap, KC.min(k) * MC.min(m).next_multiple_of(MR));
            let stride = n.next_multiple_of(NR);
            // Block (ic, pc) of a: sliver s holds rows ic+8s.. as kb columns of
            // 8 (zero past m), i.e. the block transposed, in panels of 8.
            let block_of_a = |ic: usize, pc: usize| {
                let size = (KC.min(k - pc), MC.min(m - ic));
                (a.add(ic * rsa + pc * csa), size, (csa, rsa))
            };
            // Deep products with a small c (the weight gradients) go depth block
            // by depth block, each over all rows, so the band's block stays in L2
            // while c passes; the rest go block of rows by block of rows.
            let depth_outer = m * n <= C_SMALL && k >= 4 * KC;
            let (ics, pcs) = (m.div_ceil(MC), k.div_ceil(KC));
            let at = |i: usize| {
                let (r, d) = if depth_outer {
                    (i % ics, i / ics)
                } else {
                    (i / pcs, i % pcs)
                };
                (r * MC, d * KC)
            };
            for i in 0..ics * pcs {
                let (ic, pc) = at(i);
                let mb = MC.min(m - ic);
                let (src, (kb, _), strides) = block_of_a(ic, pc);
                pack::<MR>(&mut ap, kb, mb, src, strides);
                // The next block of a is fetched into L2 while this one is multiplied.
                let mut ahead = if i + 1 < ics * pcs {
                    let (ic, pc) = at(i + 1);
                    Ahead::new(block_of_a(ic, pc))
                } else {
                    Ahead::none()
                };
                let (pairs, slivers) = (n.div_ceil(2 * NR), mb.div_ceil(MR));
                let per_block = ahead.lines.div_ceil(pairs * slivers);
                // The first depth block scales c by beta; the rest add to it.
                let beta = if pc == 0 { beta } else { 1.0 };
                let w0 = bp.as_ptr().add(pc * stride);
                for q in (0..pairs).map(|p| 2 * p) {
                    let (w, cols) = (w0.add(q * kb * NR), (n - q * NR).min(2 * NR));
                    for s in 0..slivers {
                        let rows = (mb - s * MR).min(MR);
                        let out = c.add((ic + s * MR) * ldc + q * NR);
                        let x = (ap.as_ptr().add(s * kb * MR), (1, MR));
                        ahead.issue(per_block);
                        if cols > NR {
                            block::<MR, 2>(x.0, x.1, kb, (w, kb * NR), out, ldc, rows, cols, beta);
                        } else {
                            block::<MR, 1>(x.0, x.1, kb, (w, kb * NR), out, ldc, rows, cols, beta);
                        }
                    }
                }
            }
            BLOCK.set(ap);
        }
    }

    /// Software prefetch, into L2, of the cache lines of a strided block
    /// that is contiguous along one of its dimensions, a few lines at a time.
    struct Ahead {
        src: *const f32,
        /// Distance between runs (the block's rows or columns), in values.
        stride: usize,
        /// Cache lines per run.
        per_run: usize,
        /// Lines in all.
        lines: usize,
        /// The next line to fetch.
        next: usize,
    }

    impl Ahead {
        /// The block of `rows × cols` whose element (i, j) is at `src + i·rs + j·cs`.
        fn new(
            (src, (rows, cols), (rs, cs)): (*const f32, (usize, usize), (usize, usize)),
        ) -> Ahead {
            let (runs, len, stride) = match (rs, cs) {
                (_, 1) => (rows, cols, rs),
                (1, _) => (cols, rows, cs),
                _ => (0, 0, 0),
            };
            // A run may straddle one more line than its length fills.
            let per_run = (len * 4).div_ceil(64) + 1;
            Ahead {
                src,
                stride,
                per_run,
                lines: runs * per_run,
                next: 0,
            }
        }

        fn none() -> Ahead {
            Ahead {
                src: std::ptr::null(),
                stride: 0,
                per_run: 1,
                lines: 0,
                next: 0,
            }
        }

        /// Fetches the next `count` lines.
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn issue(&mut self, count: usize) {
            use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
            let end = self.lines.min(self.next + count);
            for line in self.next..end {
                let (run, l) = (line / self.per_run, line % self.per_run);
                // Prefetches never fault: the address need not be in bounds.
                let p = self.src.wrapping_add(run * self.stride + l * 16);
                _mm_prefetch::<_MM_HINT_T1>(p as *const i8);
            }
            self.next = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::simd::{Isa, isa};
    #[cfg(target_arch = "x86_64")]
    use super::blocked;
    use super::{Path, gemm, taken};

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

    /// Every path (plain, blocked, split by rows or columns into a part per
    /// thread, with two, three and four threads: more than this machine's
    /// cores) with edges in every dimension, both layouts of `a` and `b`,
    /// and each beta.
    #[test]
    fn matches_a_plain_product_for_every_shape_layout_and_path() {
        for threads in [2, 3, 4] {
            every_shape_layout_and_path(threads);
        }
    }

    fn every_shape_layout_and_path(threads: usize) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let shapes = [
            (5, 6, 7),      // small: matrixmultiply
            (9, 300, 50),   // blocked: k past one block, ragged rows and columns
            (200, 20, 300), // large but shallow: matrixmultiply
            (130, 90, 100), // split by rows
            (20, 200, 301), // split by columns
            (70, 520, 530), // several blocks in every dimension; b packed once for both halves
            (200, 300, 70), // several row and depth blocks on each thread
            (250, 600, 64), // deep with a small c: depth-first, several row blocks
        ];
        let all = [
            Path::Serial,
            Path::SplitRows,
            Path::SharedBand,
            Path::SplitColumns,
            Path::Blocked,
        ];
        let before = all.map(taken);
        for (m, k, n) in shapes {
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
                            "{threads} threads, ({m},{k},{n}) {sa:?} {sb:?} beta {beta} [{i}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
        // Each path ran (not merely: a shape was meant for it). The blocked
        // ones need AVX-512 (and `RNNLAB_SIMD` allowing it).
        let avx512 = isa() == Isa::Avx512;
        for (path, before) in all.into_iter().zip(before) {
            let needs_avx512 = matches!(path, Path::SharedBand | Path::Blocked);
            if needs_avx512 && !avx512 {
                continue;
            }
            assert!(
                taken(path) > before,
                "{path:?} never ran with {threads} threads"
            );
        }
    }

    /// One part per thread, each of at least 16 rows, two at least; two
    /// threads cut in halves as before the split took more.
    #[test]
    fn parts_are_one_per_thread_and_never_tiny() {
        assert_eq!(super::part_bounds(130, 2), vec![0, 65, 130]);
        assert_eq!(super::part_bounds(100, 4), vec![0, 25, 50, 75, 100]);
        assert_eq!(super::part_bounds(40, 8), vec![0, 20, 40]);
        assert_eq!(super::part_bounds(10, 8), vec![0, 5, 10]);
        let b = super::part_bounds(1000, 64);
        assert_eq!(b.len(), 63, "62 parts of at least 16 rows");
        assert!(b.windows(2).all(|w| w[1] - w[0] >= 16));
    }

    /// A product wider than the packed band (which takes 16 MB of `b` at
    /// once) is done in bands of columns; here with a band of 32 or 64.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_product_in_bands_matches_the_plain_one() {
        if super::super::simd::Isa::best() != super::super::simd::Isa::Avx512 {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (m, k, n) = (37, 150, 100);
        let a: Vec<f32> = (0..m * k).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let c0: Vec<f32> = (0..m * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        for band in [32, 64] {
            let want = plain((m, k, n), &a, (k, 1), &b, (n, 1), 0.5, &c0);
            let mut c = c0.clone();
            let (pa, pb) = ((a.as_ptr(), (k, 1)), (b.as_ptr(), (n, 1)));
            // SAFETY: the CPU has AVX-512; the slices hold every element the strides address.
            unsafe { blocked::gemm(band, m, k, n, pa, pb, 0.5, c.as_mut_ptr(), n) };
            for (i, (got, want)) in c.iter().zip(&want).enumerate() {
                assert!(
                    (got - want).abs() < 1e-3,
                    "band {band} [{i}]: {got} vs {want}"
                );
            }
        }
    }
}
