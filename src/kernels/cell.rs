//! A plain LSTM layer's steps for inference, fused and split by units
//! between threads.
//!
//! **Fused.** The training pass writes a step's pre-activation gates
//! (`B × 4H`) with the per-step product, then reads them back to apply the
//! cell, and keeps the activated gates for the backward pass. Without a
//! backward pass the gates need not outlive the step: here the products run
//! for 16 units of all four gates at a time (the four panels of those
//! units, one per gate, are `H/16` panels apart in the packed weights) into
//! a block of `rows × 64` values that stays in L1, and the cell is applied
//! to it at once. The products are the per-step product's register blocks
//! ([`super::block`] on AVX-512, the 4 × 16 kernel on AVX2), adding chunk by
//! chunk of the depth in the same order.
//!
//! **Split by units.** The training pass cuts the batch between threads, so
//! every thread reads all of W_hh (and, when it projects its input step by
//! step, W_ih) at every step: for a 2 × 256 LSTM's second layer, 2 MiB a
//! step, all of this machine's L2 per core, and at batch 1 there is nothing
//! to cut. Here each thread owns a range of the units instead and reads
//! only its columns of the weights, which stay in its own cache for the
//! whole sequence; the threads meet at a barrier after every step, since
//! each needs all of `h_{t-1}`.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(target_arch = "x86_64")]
use super::block::DEPTH;
use super::block::WIDTH;
use super::math::{LANES, Lanes, lstm_cell, vectorized};
use super::panel::Packed;
use super::simd::{Isa, isa};

/// Where each step's pre-activation gates start before its products are added.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// One row (the biases, `4H`), the same for every row and step.
    Bias(&'a [f32]),
    /// A row for every row of every step (`T·B × 4H`, time-major: the
    /// input's projection with the biases, computed over all steps at once).
    Rows(&'a [f32]),
}

/// A plain LSTM layer for inference (PyTorch's gate order i, f, g, o): at
/// each step and for each row, `z = start + x_t·W_ihᵀ + h_{t-1}·W_hhᵀ`,
/// then the cell ([`lstm_cell`]) writes `c_t` and `h_t`. The activated
/// gates are not kept.
pub struct LstmLayer<'a> {
    pub units: usize,
    pub batch: usize,
    pub steps: usize,
    pub start: Start<'a>,
    /// The input (`T·B × input`, time-major) and W_ihᵀ packed
    /// (`input × 4H`), when each step projects its input itself.
    pub x: Option<(&'a [f32], &'a Packed)>,
    /// W_hhᵀ packed (`H × 4H`).
    pub w_hh: &'a Packed,
}

/// Rows of `a` the AVX-512 kernel packs side by side (see [`super::panel`]).
const SLIVER: usize = 8;

/// A thread's share of the weights past which the fused kernel asks each
/// next chunk of its panels into L2 ahead of use (see
/// [`super::block::avx512::block_ahead`]): the L2 of one core on this
/// machine's kind, where the share no longer stays in cache from one step
/// to the next. Below it the requests are wasted work (the 2 × 256 LSTM's
/// inference at batch 64 took 1.06× the time with them).
const STREAMED: usize = 2 << 20;

/// Units (whole panels) each thread of a split layer has at least.
const MIN_THREAD_UNITS: usize = 2 * WIDTH;

/// Multiply-adds over the whole sequence below which a layer runs on one
/// thread: a thread costs tens of microseconds to start and the barrier a
/// fraction of one per step.
const SPLIT_MACS: usize = 1 << 22;

/// Layers split between more than one thread in this process so far.
static SPLIT: AtomicUsize = AtomicUsize::new(0);

/// How many layers ran split by units between threads in this process, so
/// that tests can check the path they mean to test ran.
pub fn split_layers() -> usize {
    SPLIT.load(Ordering::Relaxed)
}

impl LstmLayer<'_> {
    /// Whether the fused layer runs for `units` in this process: AVX2 or
    /// AVX-512, and whole panels per gate (`units` a multiple of 16).
    pub fn available(units: usize) -> bool {
        units > 0 && units.is_multiple_of(WIDTH) && isa() != Isa::Portable
    }

    /// Whether the layer asks the next chunks of its panels into L2 ahead of
    /// use when they come from beyond it (see [`STREAMED`]): with AVX-512.
    /// Without, a layer had better not stream W_ih beside W_hh at every
    /// step (on the AVX2 path the 2×1024 LSTM's inference took 1.13× the
    /// time projecting its second layer's input step by step).
    pub fn asks_ahead() -> bool {
        isa() == Isa::Avx512
    }

    /// The threads worth using out of `pool`: each with at least
    /// [`MIN_THREAD_UNITS`] units, and one for a small layer.
    pub fn threads(&self, pool: usize) -> usize {
        let input = self.x.map_or(0, |(_, wx)| wx.layout().0);
        let macs = self.steps * self.batch * 4 * self.units * (self.units + input);
        if macs < SPLIT_MACS {
            return 1;
        }
        pool.min(self.units / MIN_THREAD_UNITS).max(1)
    }

    /// Runs the steps on `threads` threads (the caller's and `threads − 1`
    /// more) from the state `h0` and `c` (`B·H` each): returns every `h_t`
    /// (`T·B × H`, time-major, `h_1` first) and leaves `c_T` in `c`. The
    /// cell state needs no more: each thread reads and writes only its own
    /// units of it.
    pub fn run(&self, threads: usize, h0: &[f32], c: &mut [f32]) -> Vec<f32> {
        let n = self.steps * self.batch * self.units;
        let mut hs = Vec::with_capacity(n);
        self.run_into(threads, h0, c, &mut hs.spare_capacity_mut()[..n]);
        // SAFETY: `run_into` wrote all n values (every step, unit and row).
        unsafe { hs.set_len(n) };
        hs
    }

    /// [`LstmLayer::run`] into `hs` (`T·B·H`), every value of which it writes.
    fn run_into(&self, threads: usize, h0: &[f32], c: &mut [f32], hs: &mut [MaybeUninit<f32>]) {
        let (units, gh) = (self.units, 4 * self.units);
        let (b, steps) = (self.batch, self.steps);
        assert!(
            units > 0 && units.is_multiple_of(WIDTH),
            "cell: the fused layer takes whole panels per gate"
        );
        let (k, n, packed_isa, _) = self.w_hh.layout();
        assert!(
            packed_isa != Isa::Portable,
            "cell: the fused layer needs AVX2 or AVX-512"
        );
        assert_eq!((k, n), (units, gh), "cell: W_hh's layout");
        let bh = b * units;
        assert!(
            h0.len() >= bh && c.len() >= bh && hs.len() >= steps * bh,
            "cell: h0, c or hs too short"
        );
        match self.start {
            Start::Bias(v) => assert!(v.len() >= gh, "cell: bias shorter than 4H"),
            Start::Rows(v) => assert!(v.len() >= steps * b * gh, "cell: start too short"),
        }
        if let Some((x, wx)) = self.x {
            let (k, n, x_isa, _) = wx.layout();
            assert_eq!((n, x_isa), (gh, packed_isa), "cell: W_ih's layout");
            assert!(x.len() >= steps * b * k, "cell: x shorter than T·B × input");
        }
        if steps == 0 || b == 0 {
            return;
        }
        let blocks = units / WIDTH;
        let count = threads.clamp(1, blocks);
        if count > 1 {
            SPLIT.fetch_add(1, Ordering::Relaxed);
        }
        let bounds: Vec<usize> = (0..=count).map(|i| i * blocks / count).collect();
        let out = States {
            hs: hs.as_mut_ptr().cast(),
            c: c.as_mut_ptr(),
        };
        let barrier = SpinBarrier::new(count);
        let flush = super::fp::flush_enabled();
        std::thread::scope(|scope| {
            for w in bounds.windows(2).skip(1) {
                let (blocks, barrier) = (w[0]..w[1], &barrier);
                scope.spawn(move || {
                    super::fp::set_flush(flush);
                    self.steps_on(blocks, h0, out, barrier);
                });
            }
            self.steps_on(bounds[0]..bounds[1], h0, out, &barrier);
        });
    }

    /// Every step for the unit blocks `blocks` (of 16) of every row.
    fn steps_on(&self, blocks: Range<usize>, h0: &[f32], out: States, barrier: &SpinBarrier) {
        let (units, gh, b) = (self.units, 4 * self.units, self.batch);
        let bh = b * units;
        let input = self.x.map_or(0, |(_, wx)| wx.layout().0);
        // This thread's columns of the weights, in bytes: read from beyond
        // L2 at every step when they do not fit it.
        let share = blocks.len() * 4 * WIDTH * (units + input) * size_of::<f32>();
        let ahead = share > STREAMED;
        SCRATCH.with_borrow_mut(|s| {
            let need = b * 4 * WIDTH + b * (input + units);
            if s.len() < need {
                s.resize(need, 0.0);
            }
            let (z, slivers) = s.split_at_mut(b * 4 * WIDTH);
            let (xs, hsl) = slivers.split_at_mut(b * input);
            for t in 0..self.steps {
                let h_prev = match t {
                    0 => &h0[..bh],
                    // SAFETY: h_{t-1} is complete (written by every thread
                    // before the barrier that ended step t − 1) and no
                    // thread writes it during step t.
                    _ => unsafe { std::slice::from_raw_parts(out.hs.add((t - 1) * bh), bh) },
                };
                let x = self
                    .x
                    .map(|(x, wx)| (&x[t * b * input..(t + 1) * b * input], wx));
                let mut phases = Vec::with_capacity(2);
                if let Some((x, wx)) = x {
                    phases.push((x, input, wx, pack_rows(&mut *xs, x, b, input, wx)));
                }
                let h_sl = pack_rows(&mut *hsl, h_prev, b, units, self.w_hh);
                phases.push((h_prev, units, self.w_hh, h_sl));
                let start = match self.start {
                    Start::Bias(v) => (v, 0),
                    Start::Rows(v) => (&v[t * b * gh..], gh),
                };
                for j in blocks.clone() {
                    // z = start, for 16 units of each gate.
                    for (r, zr) in z.chunks_exact_mut(4 * WIDTH).take(b).enumerate() {
                        let row = &start.0[r * start.1..];
                        for (q, zq) in zr.chunks_exact_mut(WIDTH).enumerate() {
                            let at = q * units + j * WIDTH;
                            zq.copy_from_slice(&row[at..at + WIDTH]);
                        }
                    }
                    for &(a, k, w, sl) in &phases {
                        products(b, a, k, sl, w, (units, j), ahead, z);
                    }
                    // SAFETY: h_t (block t of `hs`) exists (asserted in
                    // `run`); this thread alone writes its units' columns of
                    // it, and no thread reads it before the barrier; and it
                    // alone reads and writes its units of c.
                    unsafe { cells(b, units, j, z, out.step(t, bh)) };
                }
                barrier.wait();
            }
        })
    }
}

/// Packs the `m × k` rows of `a` into slivers of 8 for the AVX-512 kernel
/// (the whole groups of 8; the rest are read in place) and returns them.
fn pack_rows<'s>(buf: &'s mut [f32], a: &[f32], m: usize, k: usize, w: &Packed) -> &'s [f32] {
    let whole = m / SLIVER * SLIVER;
    if w.layout().2 == Isa::Avx512 && whole > 0 {
        assert!(a.len() >= m * k && buf.len() >= whole * k);
        // SAFETY: `a` holds m ≥ whole rows of k values (asserted).
        unsafe { super::pack::pack::<SLIVER>(buf, k, whole, a.as_ptr(), (1, k)) };
    }
    &buf[..whole * k]
}

/// The states' buffers, written by several threads at disjoint columns:
/// every `h_t` (time-major), and the cell state of the step being made.
#[derive(Clone, Copy)]
struct States {
    hs: *mut f32,
    c: *mut f32,
}

// SAFETY: the threads of `LstmLayer::run` write disjoint columns of one
// block of `hs` and of `c` per step and read only blocks of `hs` no thread
// writes, ordered by the barrier, and their own columns of `c` (see
// `steps_on`).
unsafe impl Send for States {}
// SAFETY: as for Send.
unsafe impl Sync for States {}

impl States {
    /// Step `t`'s: h_t (block `t` of `bh` values) and c.
    fn step(self, t: usize, bh: usize) -> States {
        States {
            hs: self.hs.wrapping_add(t * bh),
            c: self.c,
        }
    }
}

/// `z[r][q][·] += a[r] · (16 columns of gate q for units block j)` for every
/// row `r < m` and gate `q`; `z` is `m × 64`, `slivers` the whole blocks of 8
/// rows of `a` packed (AVX-512); `ahead`: ask the next chunks of the
/// panels into L2 (see [`STREAMED`]).
#[allow(clippy::too_many_arguments)]
fn products(
    m: usize,
    a: &[f32],
    k: usize,
    slivers: &[f32],
    w: &Packed,
    (units, j): (usize, usize),
    ahead: bool,
    z: &mut [f32],
) {
    let (_, _, packed_isa, panels) = w.layout();
    // Only the AVX-512 kernel asks ahead.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ahead;
    let ws = k * WIDTH;
    // Panel of gate q for units block j: q·(H/16) + j.
    let gate = (units / WIDTH) * ws;
    let ldz = 4 * WIDTH;
    let whole = m / SLIVER * SLIVER;
    assert!(panels.len() >= 4 * gate && (j + 1) * WIDTH <= units);
    assert!(a.len() >= m * k && z.len() >= m * ldz && slivers.len() >= whole * k);
    match packed_isa {
        // SAFETY: the CPU has AVX-512F (the panels are packed for the
        // instructions `simd::isa` chose); panel (q·H/16 + j) for q < 4 is
        // inside `panels`, and every row of `a` and `z` and the packed
        // slivers are in bounds (asserted).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe {
            use super::block::avx512::{Ahead, block, block_ahead, row};
            let (a, w, z) = (a.as_ptr(), panels.as_ptr().add(j * ws), z.as_mut_ptr());
            if m < 4 {
                // A row or three: its four gates' panels at once, four
                // accumulators (see `row`).
                for i in 0..m {
                    row::<4>(a.add(i * k), k, (w, gate), z.add(i * ldz), 4 * WIDTH, 1.0);
                }
                return;
            }
            for q in [0, 2] {
                let wq = w.add(q * gate);
                for kc in (0..k).step_by(DEPTH) {
                    let (kb, wk) = (DEPTH.min(k - kc), (wq.add(kc * WIDTH), gate));
                    // With `ahead`, the next DEPTH rows of both panels are
                    // asked into L2 while this chunk is multiplied: half the
                    // slivers each.
                    let slivers_here = whole / SLIVER;
                    let half = slivers_here / 2;
                    for s in 0..slivers_here {
                        let xs = slivers.as_ptr().add(s * SLIVER * k + kc * SLIVER);
                        let zs = z.add(s * SLIVER * ldz + q * WIDTH);
                        let (sl, ld) = ((1, SLIVER), ldz);
                        if !ahead || half == 0 {
                            block::<SLIVER, 2>(xs, sl, kb, wk, zs, ld, SLIVER, 32, 1.0);
                            continue;
                        }
                        let (panel, part) = (usize::from(s >= half), s % half);
                        let lines = DEPTH.div_ceil(half);
                        let row = kc + kb + part * lines;
                        let from = wq.wrapping_add(panel * gate + row * WIDTH);
                        let ahead = Ahead { from, lines };
                        block_ahead::<SLIVER, 2, true>(
                            xs, sl, kb, wk, zs, ld, SLIVER, 32, 1.0, ahead,
                        );
                    }
                    let mut i = whole;
                    while i < m {
                        let (ai, zi) = (a.add(i * k + kc), z.add(i * ldz + q * WIDTH));
                        i += match m - i {
                            4.. => block::<4, 2>(ai, (k, 1), kb, wk, zi, ldz, 4, 32, 1.0),
                            _ => block::<1, 2>(ai, (k, 1), kb, wk, zi, ldz, 1, 32, 1.0),
                        };
                    }
                }
            }
        },
        // SAFETY: as above, with AVX2 and FMA.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe {
            use super::panel::avx2::panel;
            let (a, w, z) = (a.as_ptr(), panels.as_ptr().add(j * ws), z.as_mut_ptr());
            if m < 4 {
                // A row or three: its four gates' panels at once, eight
                // independent accumulators (see `row_avx2`).
                for i in 0..m {
                    row_avx2(a.add(i * k), k, (w, gate), z.add(i * ldz));
                }
                return;
            }
            for q in 0..4 {
                let wq = w.add(q * gate);
                for kc in (0..k).step_by(DEPTH) {
                    let kb = DEPTH.min(k - kc);
                    let zq = (z.add(q * WIDTH), ldz);
                    panel(m, kb, a.add(kc), k, wq.add(kc * WIDTH), zq, WIDTH, 1.0);
                }
            }
        },
        _ => unreachable!("cell: the fused layer needs AVX2 or AVX-512"),
    }
}

/// `z[q][·] += a · w_q` for the four panels `w_q` (`k × 16`, `gate` values
/// apart) and one row `a` of depth `k`, `z` holding the four gates' 16
/// values side by side. The AVX2 panel kernel's one row keeps two
/// accumulators, each FMA waiting for the one before; the four gates at
/// once keep eight, enough to fill both FMA units (a batch of one).
///
/// # Safety
/// The CPU has AVX2 and FMA; `k` values of `a`, `k` rows of the four panels
/// and 64 values of `z` are in bounds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_avx2(a: *const f32, k: usize, (w, gate): (*const f32, usize), z: *mut f32) {
    use std::arch::x86_64::*;
    // SAFETY: the caller upholds the contract in this function's documentation.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 2]; 4];
        for kk in 0..k {
            let x = _mm256_set1_ps(*a.add(kk));
            for (q, acc) in acc.iter_mut().enumerate() {
                let wq = w.add(q * gate + kk * WIDTH);
                acc[0] = _mm256_fmadd_ps(x, _mm256_loadu_ps(wq), acc[0]);
                acc[1] = _mm256_fmadd_ps(x, _mm256_loadu_ps(wq.add(8)), acc[1]);
            }
        }
        for (q, acc) in acc.iter().enumerate() {
            for (h, v) in acc.iter().enumerate() {
                let zq = z.add(q * WIDTH + 8 * h);
                _mm256_storeu_ps(zq, _mm256_add_ps(_mm256_loadu_ps(zq), *v));
            }
        }
    }
}

/// The cell for units block `j` of every row, from `z` (`m × [i f g o] ×
/// 16`) and c: writes h_t to `out.hs` and c_t over c_{t-1} in `out.c`.
///
/// # Safety
/// `out` points at `m × units` values of each of h and c, of which this
/// thread alone reads and writes the columns of block `j` and no other
/// thread reads them.
unsafe fn cells(m: usize, units: usize, j: usize, z: &[f32], out: States) {
    let block =
        |v: &[f32], at: usize| -> Lanes { v[at..at + LANES].try_into().expect("16 values") };
    assert!(z.len() >= m * 4 * WIDTH && (j + 1) * WIDTH <= units);
    vectorized(
        #[inline(always)]
        || {
            for r in 0..m {
                let zr = &z[r * 4 * WIDTH..];
                let at = r * units + j * WIDTH;
                let g = [block(zr, 0), block(zr, 16), block(zr, 32), block(zr, 48)];
                // SAFETY: `at + 16 ≤ m·units`, inside the block (the
                // caller's contract), which this thread alone touches.
                unsafe {
                    let c_prev: Lanes = std::ptr::read_unaligned(out.c.add(at).cast());
                    let (_, cv, hv) = lstm_cell([&g[0], &g[1], &g[2], &g[3]], &c_prev);
                    std::ptr::copy_nonoverlapping(cv.as_ptr(), out.c.add(at), LANES);
                    std::ptr::copy_nonoverlapping(hv.as_ptr(), out.hs.add(at), LANES);
                }
            }
        },
    )
}

/// A barrier for a few threads that each own a core: it spins, and yields
/// to the scheduler after a while in case they do not (more threads than
/// cores, as the tests run).
struct SpinBarrier {
    count: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(count: usize) -> SpinBarrier {
        SpinBarrier {
            count,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    /// Returns once all `count` threads have called it (for this round).
    fn wait(&self) {
        if self.count == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.count {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < 1 << 14 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

thread_local! {
    /// This thread's block of gates and its packed rows.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::super::panel::Packed;
    use super::super::simd::Isa;
    use super::{LstmLayer, Start};

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// The step in f64 from PyTorch-layout weights (`4H × in`, `4H × H`).
    #[allow(clippy::too_many_arguments)]
    fn reference(
        m: usize,
        units: usize,
        start: &[f32],
        stride: usize,
        x: Option<(&[f32], &[f32], usize)>,
        w_hh: &[f32],
        h_prev: &[f32],
        c_prev: &[f32],
    ) -> (Vec<f32>, Vec<f32>) {
        let gh = 4 * units;
        let (mut c, mut h) = (vec![0.0; m * units], vec![0.0; m * units]);
        for r in 0..m {
            let z: Vec<f64> = (0..gh)
                .map(|g| {
                    let mut v = start[r * stride + g] as f64;
                    if let Some((x, w_ih, input)) = x {
                        for k in 0..input {
                            v += x[r * input + k] as f64 * w_ih[g * input + k] as f64;
                        }
                    }
                    for k in 0..units {
                        v += h_prev[r * units + k] as f64 * w_hh[g * units + k] as f64;
                    }
                    v
                })
                .collect();
            for u in 0..units {
                let (i, f) = (sigmoid(z[u]), sigmoid(z[units + u]));
                let (g, o) = (z[2 * units + u].tanh(), sigmoid(z[3 * units + u]));
                let cv = f * c_prev[r * units + u] as f64 + i * g;
                c[r * units + u] = cv as f32;
                h[r * units + u] = (o * cv.tanh()) as f32;
            }
        }
        (c, h)
    }

    #[test]
    fn fused_layer_matches_the_cell_in_f64_on_every_path_and_split() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut v =
            |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-s..s)).collect() };
        // (rows, units, input, steps): a row or three, whole slivers of 8
        // with leftovers of 4 and 1, depths past one chunk (128), no input
        // projection, and a layer whose share of the weights per thread is
        // past `STREAMED` on one and two threads (the panels asked ahead).
        for (m, units, input, steps) in [
            (1, 64, 3, 3),
            (3, 48, 0, 2),
            (4, 16, 3, 2),
            (8, 32, 0, 3),
            (13, 64, 5, 3),
            (32, 256, 32, 2),
            (21, 160, 300, 2),
            (16, 512, 64, 2),
        ] {
            let (gh, bh) = (4 * units, m * units);
            let (w_hh, w_ih) = (v(gh * units, 0.3), v(gh * input.max(1), 0.3));
            let x = v(steps * m * input.max(1), 1.0);
            let (bias, rows) = (v(gh, 0.5), v(steps * m * gh, 0.5));
            let (h0, c0) = (v(bh, 1.0), v(bh, 2.0));
            let isas = Isa::available().into_iter().filter(|&i| i != Isa::Portable);
            for isa in isas {
                let wt = Packed::with_isa(units, gh, &w_hh, (1, units), isa);
                let wx = Packed::with_isa(input, gh, &w_ih, (1, input.max(1)), isa);
                for (per_row, threads) in [(false, 1), (true, 1), (false, 2), (true, 3), (false, 5)]
                {
                    let layer = LstmLayer {
                        units,
                        batch: m,
                        steps,
                        start: if per_row {
                            Start::Rows(&rows)
                        } else {
                            Start::Bias(&bias)
                        },
                        x: (input > 0).then_some((&x[..], &wx)),
                        w_hh: &wt,
                    };
                    // c_T is left in c.
                    let mut c = c0.clone();
                    let hs = layer.run(threads, &h0, &mut c);
                    assert_eq!(hs.len(), steps * bh);
                    let tol = 2e-6 * (units + input) as f32;
                    let (mut h_prev, mut c_want) = (h0.clone(), c0.clone());
                    for t in 0..steps {
                        // Each step from the layer's own previous h.
                        let (start, stride) = if per_row {
                            (&rows[t * m * gh..], gh)
                        } else {
                            (&bias[..], 0)
                        };
                        let xs = (input > 0).then_some((&x[t * m * input..], &w_ih[..], input));
                        let (wc, wh) =
                            reference(m, units, start, stride, xs, &w_hh, &h_prev, &c_want);
                        let h = &hs[t * bh..][..bh];
                        let last = (t + 1 == steps).then_some(&c[..]);
                        let pairs = h.iter().zip(&wh).chain(last.into_iter().flatten().zip(&wc));
                        for (got, want) in pairs {
                            assert!(
                                (got - want).abs() < tol,
                                "{isa:?} m={m} H={units} in={input} per_row={per_row} \
                                 threads={threads} t={t}: {got} vs {want}"
                            );
                        }
                        (h_prev, c_want) = (h.to_vec(), wc);
                    }
                }
            }
        }
    }

    #[test]
    fn small_layers_run_on_one_thread_and_large_ones_on_whole_panels_each() {
        let (w, x) = (
            Packed::new(256, 1024, &vec![0.0; 1024 * 256], (1, 256)),
            [0.0; 1],
        );
        let layer = |units, batch, steps| LstmLayer {
            units,
            batch,
            steps,
            start: Start::Bias(&x),
            x: None,
            w_hh: &w,
        };
        // The 2 × 256 LSTM at batch 1 over 100 steps: 52 M multiply-adds.
        assert_eq!(layer(256, 1, 100).threads(2), 2);
        assert_eq!(
            layer(256, 1, 100).threads(64),
            8,
            "32 units a thread at least"
        );
        // One step of it (generating text a character at a time): too little.
        assert_eq!(layer(256, 1, 1).threads(2), 1);
        assert_eq!(layer(16, 64, 1000).threads(2), 1, "one panel per gate");
    }
}
