//! The linear recurrence `h_t = a_t ⊙ h_{t-1} + b_t` over time — the whole
//! recurrence of the minimal cells (minGRU, minLSTM) — and its adjoint
//! `d_t = g_t + a_{t+1} ⊙ d_{t+1}`, as a blocked parallel scan.
//!
//! Time is cut into chunks of [`CHUNK`] steps and the columns into blocks of
//! [`COLS`]. Every (chunk, column block) runs its own recurrence at once,
//! the chunks after the first from zero (pass 1, in parallel); the chunks'
//! last rows are then fixed in order with the product of their `a`s (a few
//! rows); and every row of a later chunk gets its share of the carry,
//! `(∏ a) ⊙ carry`, in a second parallel pass. The sums are associative
//! reorderings of the sequential ones: equal up to rounding, and the same for
//! any number of threads, since the chunks depend only on the length.
//!
//! No logarithms are needed: on a GPU the scan is written as cumulative sums
//! of `log a_t` (a cumulative product of values in (0, 1) underflows), but
//! here every product is applied as it is formed, so a product that
//! underflows is one whose contribution is below `f32`'s range anyway.
//! A sequence of at most [`CHUNK`] steps is the plain sequential recurrence,
//! split over threads by columns only (the same sums, bit for bit).

use rayon::prelude::*;

use super::math::vectorized;

/// Steps per chunk of time.
pub const CHUNK: usize = 128;
/// Columns per task.
pub const COLS: usize = 512;
/// Below this many values (steps × columns) the scan stays on one thread.
const PARALLEL_LEN: usize = 1 << 16;

/// Scans of more than one chunk run so far in this process.
static CHUNKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many scans (forward or adjoint) ran in more than one chunk of time
/// in this process so far, so that tests can check that the path they mean
/// to test ran.
pub fn chunked_scans() -> usize {
    CHUNKED.load(std::sync::atomic::Ordering::Relaxed)
}

/// `h_t = a_t ⊙ h_{t-1} + b_t` for t = 0..T over `n` columns, in place:
/// `a` holds `T × n` values (time-major), `h` holds `(T+1) × n`: on entry
/// the initial state `h_{-1}` and then `b_0 … b_{T-1}`, on exit `h_{-1}`
/// and `h_0 … h_{T-1}`.
pub fn scan(a: &[f32], h: &mut [f32], n: usize) {
    let steps = a.len() / n.max(1);
    assert!(a.len() == steps * n && h.len() == (steps + 1) * n);
    let rows = Rows {
        steps,
        reverse: false,
    };
    run(rows, a, h, n);
}

/// The adjoint of [`scan`], in place: `d_t = g_t + a_{t+1} ⊙ d_{t+1}`,
/// from `d_{T-1} = g_{T-1}` back to `d_0` (∂L/∂h_t from ∂L/∂h_t's direct
/// part `g`). `d` holds `(T+1) × n` values: `g_0 … g_{T-1}` and a zero row
/// on entry, `d_0 … d_{T-1}` and the zero row on exit.
pub fn scan_adjoint(a: &[f32], d: &mut [f32], n: usize) {
    let steps = a.len() / n.max(1);
    assert!(a.len() == steps * n && d.len() == (steps + 1) * n);
    let rows = Rows {
        steps,
        reverse: true,
    };
    run(rows, a, d, n);
}

/// Where the logical step `u` (0..T, in the order of the recurrence) reads
/// and writes: forward, u is t; backward, u is T−1−t.
#[derive(Clone, Copy)]
struct Rows {
    steps: usize,
    reverse: bool,
}

impl Rows {
    /// Row of the output buffer (T+1 rows) that step `u` reads as its previous value.
    fn prev(self, u: usize) -> usize {
        if self.reverse { self.steps - u } else { u }
    }
    /// Row of the output buffer that step `u` writes.
    fn out(self, u: usize) -> usize {
        if self.reverse {
            self.steps - 1 - u
        } else {
            u + 1
        }
    }
    /// Row of `a` that multiplies step `u`'s previous value (backward,
    /// `a_{t+1}`; at u = 0 the previous value is zero and any row will do).
    fn coef(self, u: usize) -> usize {
        if self.reverse {
            (self.steps - u).min(self.steps - 1)
        } else {
            u
        }
    }
}

/// The output buffer, shared by tasks that write disjoint blocks of it.
#[derive(Clone, Copy)]
struct Out {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: tasks only write disjoint (rows × columns) blocks through it (see
// `run`), and read rows no other task writes at the same time.
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

impl Out {
    /// `cols` of row `row` (`n` columns a row).
    ///
    /// # Safety
    /// No other live slice may overlap the block.
    #[allow(clippy::mut_from_ref)]
    unsafe fn at(&self, row: usize, n: usize, cols: (usize, usize)) -> &mut [f32] {
        let start = row * n + cols.0;
        assert!(start + cols.1 <= self.len, "scan: block out of range");
        // SAFETY: in bounds (checked), and the caller keeps blocks disjoint.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), cols.1) }
    }
}

/// The scan in place: the row step `u` writes holds its `b` on entry.
fn run(rows: Rows, a: &[f32], out: &mut [f32], n: usize) {
    let steps = rows.steps;
    if steps == 0 || n == 0 {
        return;
    }
    let chunks: Vec<(usize, usize)> = (0..steps)
        .step_by(CHUNK)
        .map(|u| (u, (u + CHUNK).min(steps)))
        .collect();
    let col_blocks: Vec<(usize, usize)> =
        (0..n).step_by(COLS).map(|j| (j, COLS.min(n - j))).collect();
    // (chunk, its end), column block.
    let tasks: Vec<((usize, usize), (usize, usize))> = chunks
        .iter()
        .enumerate()
        .flat_map(|(c, &(_, end))| col_blocks.iter().map(move |&cb| ((c, end), cb)))
        .collect();
    let o = Out {
        ptr: out.as_mut_ptr(),
        len: out.len(),
    };
    let parallel = steps * n >= PARALLEL_LEN && rayon::current_num_threads() >= 2;
    // Per chunk, the product of its `a`s, per column (the first chunk needs none).
    let mut products = vec![0.0f32; chunks.len() * n];
    let prod = Out {
        ptr: products.as_mut_ptr(),
        len: products.len(),
    };
    // Pass 1: every (chunk, column block), the chunks after the first from zero.
    let pass1 = |&((c, end), cols): &((usize, usize), (usize, usize))| {
        let start = chunks[c].0;
        // SAFETY: the task writes its chunk's rows × its columns of `out`
        // and its chunk's row × its columns of `products`; it reads the row
        // before its chunk only for the first chunk, whose previous row is
        // the initial value, which no task writes.
        unsafe {
            let p = prod.at(c, n, cols);
            vectorized(
                #[inline(always)]
                || {
                    p.fill(1.0);
                    for u in start..end {
                        let a = &a[rows.coef(u) * n + cols.0..][..cols.1];
                        // A later chunk starts from zero: its first row is its `b`.
                        if u > start || c == 0 {
                            let dst = o.at(rows.out(u), n, cols);
                            let prev = o.at(rows.prev(u), n, cols);
                            for ((d, p), a) in dst.iter_mut().zip(&*prev).zip(a) {
                                *d += a * p;
                            }
                        }
                        if c > 0 {
                            for (p, a) in p.iter_mut().zip(a) {
                                *p *= a;
                            }
                        }
                    }
                },
            )
        }
    };
    if parallel {
        tasks.par_iter().for_each(pass1);
    } else {
        tasks.iter().for_each(pass1);
    }
    if chunks.len() == 1 {
        return;
    }
    CHUNKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The chunks' last rows, in order: last += (∏ a) ⊙ carry, where the carry
    // is the (final) row before the chunk.
    for (c, &(start, end)) in chunks.iter().enumerate().skip(1) {
        // SAFETY: no task runs; the two rows differ (a chunk has ≥ 1 step,
        // and its carry row is written by the chunk before it).
        unsafe {
            let cols = (0, n);
            let carry = o.at(rows.prev(start), n, cols);
            let last = o.at(rows.out(end - 1), n, cols);
            let p = prod.at(c, n, cols);
            vectorized(
                #[inline(always)]
                || {
                    for ((l, p), c) in last.iter_mut().zip(&*p).zip(&*carry) {
                        *l += p * c;
                    }
                },
            )
        }
    }
    // Pass 2: the other rows of every later chunk get their share of the carry.
    let pass2 = |&((c, end), cols): &((usize, usize), (usize, usize))| {
        let start = chunks[c].0;
        if c == 0 {
            return;
        }
        // SAFETY: the task writes its chunk's rows but the last × its
        // columns, and reads the carry row, final since the fix-up, which
        // no task writes; `p` is its own buffer.
        unsafe {
            let carry = o.at(rows.prev(start), n, cols);
            let mut p = carry.to_vec();
            vectorized(
                #[inline(always)]
                || {
                    for u in start..end - 1 {
                        let a = &a[rows.coef(u) * n + cols.0..][..cols.1];
                        let dst = o.at(rows.out(u), n, cols);
                        // The first step's coefficient multiplies the carry
                        // itself (its local value started from zero).
                        for ((d, p), a) in dst.iter_mut().zip(p.iter_mut()).zip(a) {
                            *p *= a;
                            *d += *p;
                        }
                    }
                },
            )
        }
    };
    if parallel {
        tasks.par_iter().for_each(pass2);
    } else {
        tasks.iter().for_each(pass2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32, lo: f32, hi: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                lo + (hi - lo) * (s as f32 / u32::MAX as f32)
            })
            .collect()
    }

    /// The plain recurrences, in f64.
    fn sequential(a: &[f32], b: &[f32], h0: &[f32], n: usize) -> (Vec<f64>, Vec<f64>) {
        let steps = a.len() / n;
        let mut h = h0.iter().map(|&v| v as f64).collect::<Vec<_>>();
        for t in 0..steps {
            for j in 0..n {
                let prev = h[t * n + j];
                h.push(a[t * n + j] as f64 * prev + b[t * n + j] as f64);
            }
        }
        let mut d = vec![0.0f64; (steps + 1) * n];
        for t in (0..steps).rev() {
            for j in 0..n {
                let next = if t + 1 < steps {
                    a[(t + 1) * n + j] as f64 * d[(t + 1) * n + j]
                } else {
                    0.0
                };
                d[t * n + j] = b[t * n + j] as f64 + next;
            }
        }
        (h, d)
    }

    /// Every shape of chunks and column blocks (one chunk, a short last one,
    /// several column blocks and a short one) equals the recurrence, on one
    /// thread and on three.
    #[test]
    fn blocked_scan_equals_the_recurrence() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for (steps, n) in [
            (1, 3),
            (7, 5),
            (CHUNK, 17),
            (CHUNK + 1, 40),
            (3 * CHUNK + 5, 600),
            (1000, 70),
        ] {
            let a = values(steps * n, 1, 0.0, 1.0);
            let b = values(steps * n, 2, -1.0, 1.0);
            let h0 = values(n, 3, -1.0, 1.0);
            let (want_h, want_d) = sequential(&a, &b, &h0, n);
            for threads in [false, true] {
                let mut h = h0.clone();
                h.extend_from_slice(&b);
                let mut d = b.clone();
                d.extend(std::iter::repeat_n(0.0, n));
                let mut go = || {
                    scan(&a, &mut h, n);
                    scan_adjoint(&a, &mut d, n);
                };
                if threads {
                    pool.install(go)
                } else {
                    go()
                }
                for (what, got, want) in [("h", &h, &want_h), ("d", &d, &want_d)] {
                    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                        assert!(
                            (*g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
                            "{what}[{i}] of {steps}×{n}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    /// A sequence of one chunk is the sequential recurrence bit for bit,
    /// however many threads; a longer one gives the same bits on 1 and 3 threads.
    #[test]
    fn results_do_not_depend_on_threads() {
        let run = |threads: usize, steps: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let n = 1100;
            let a = values(steps * n, 4, 0.0, 1.0);
            let b = values(steps * n, 5, -1.0, 1.0);
            let mut h = vec![0.0; n];
            h.extend_from_slice(&b);
            pool.install(|| scan(&a, &mut h, n));
            (h, a, b)
        };
        let (h1, a, b) = run(1, CHUNK);
        let mut seq = vec![0.0f32; (CHUNK + 1) * 1100];
        for t in 0..CHUNK {
            for j in 0..1100 {
                seq[(t + 1) * 1100 + j] = a[t * 1100 + j] * seq[t * 1100 + j] + b[t * 1100 + j];
            }
        }
        assert_eq!(h1, seq);
        assert_eq!(run(3, CHUNK).0, h1);
        assert_eq!(run(1, 3 * CHUNK + 7).0, run(3, 3 * CHUNK + 7).0);
    }

    /// Products that underflow: a carry through hundreds of steps of a = 0.5
    /// vanishes and nothing becomes NaN or infinite.
    #[test]
    fn underflowing_products_stay_finite() {
        let (steps, n) = (4 * CHUNK, 16);
        let a = vec![0.5; steps * n];
        let b = vec![1.0; steps * n];
        let mut h = vec![1e30; n];
        h.extend_from_slice(&b);
        scan(&a, &mut h, n);
        assert!(h.iter().all(|v| v.is_finite()));
        // The fixed point of h = h/2 + 1.
        assert!(h[steps * n..].iter().all(|v| (v - 2.0).abs() < 1e-6));
    }
}
