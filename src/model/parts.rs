//! A recurrence's batch cut into parts, one per thread, and each part's
//! steps forward and backward (backpropagation through time) — the inner
//! loops of [`super::recurrent::recurrence`], which owns the buffers.

use super::recurrent::{
    Extra, LayerState, LnParts, PartSaved, Recurrence, Saved, add_into, gain_bias, gain_bias_mut,
};
use super::{gru, lstm, norm, rnn};
use crate::experiment::Cell;
use crate::kernels::gemm::gemm;
use crate::kernels::math::{add_and_sum_squares, vectorized};
use crate::kernels::panel::Packed;
use crate::kernels::par;

/// Rows of a batch never interact, so with several threads the batch is
/// cut into parts and each part runs its own recurrence on its own thread,
/// on its own rows of the shared buffers: one part per thread of the pool,
/// each of at least [`MIN_PART_ROWS`] rows.
#[derive(Debug, Clone)]
pub(super) struct Parts {
    r: Recurrence,
    /// The first row of each part, then the batch size.
    bounds: Vec<usize>,
}

/// The fewest rows a part of a split batch has.
const MIN_PART_ROWS: usize = 4;

/// Recurrences run as two parts or more in this process so far.
static SPLIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts a recurrence run as `parts` parts.
fn count_split(parts: usize) {
    if parts > 1 {
        SPLIT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How many recurrences (forward or backward, any layer) ran as two parts
/// or more on as many threads in this process so far, so that tests can
/// check that the path they mean to test ran.
pub fn split_recurrences() -> usize {
    SPLIT.load(std::sync::atomic::Ordering::Relaxed)
}

impl Parts {
    pub(super) fn new(r: Recurrence) -> Parts {
        // Below this many multiply-adds in the recurrent products, a second
        // thread costs more (waking it, splitting and merging) than it saves.
        const TWO_THREADS_MACS: usize = 1 << 20;
        let macs = r.steps * r.batch * r.units * r.units * r.cell.gates();
        let count = if macs >= TWO_THREADS_MACS {
            rayon::current_num_threads()
                .min(r.batch / MIN_PART_ROWS)
                .max(1)
        } else {
            1
        };
        Parts {
            r,
            bounds: (0..=count).map(|i| i * r.batch / count).collect(),
        }
    }

    /// (first row, rows, the part's recurrence) for each part.
    fn each(&self) -> Vec<(usize, usize, Recurrence)> {
        self.bounds
            .windows(2)
            .map(|w| {
                let rows = w[1] - w[0];
                (
                    w[0],
                    rows,
                    Recurrence {
                        batch: rows,
                        ..self.r
                    },
                )
            })
            .collect()
    }

    /// Each part's rows of every step of a time-major `(T·B) × cols` buffer.
    fn split<'a>(&self, x: &'a mut [f32], cols: usize) -> Vec<Vec<&'a mut [f32]>> {
        let count = self.bounds.len() - 1;
        let mut out: Vec<Vec<&mut [f32]>> = (0..count).map(|_| Vec::new()).collect();
        for mut block in x.chunks_exact_mut(self.r.batch * cols) {
            for (part, w) in out.iter_mut().zip(self.bounds.windows(2)) {
                let (first, rest) = block.split_at_mut((w[1] - w[0]) * cols);
                part.push(first);
                block = rest;
            }
        }
        out
    }

    /// Runs the steps; `a` holds the input projections (with their biases,
    /// see [`recurrence`]) on entry and the gates on exit. With `x` = (X,
    /// W_ih), `a` holds only the biases and each step adds its input's projection.
    pub(super) fn forward(
        &self,
        a: &mut [f32],
        w: &[f32],
        x: Option<(&[f32], &[f32])>,
        b_hh: &[f32],
        init: Option<&LayerState>,
        extra: Extra,
    ) -> Saved {
        let r = self.r;
        let (b, h, steps) = (r.batch, r.units, r.steps);
        let (gh, bh) = (r.cell.gates() * h, b * h);
        let mut s = Saved {
            hs: par::zeros((steps + 1) * bh),
            cs: if r.cell == Cell::Lstm {
                par::zeros((steps + 1) * bh)
            } else {
                Vec::new()
            },
            hps: if r.cell == Cell::Gru {
                par::zeros(steps * b * gh)
            } else {
                Vec::new()
            },
            rstd: if extra.ln.is_some() {
                vec![0.0; steps * b]
            } else {
                Vec::new()
            },
            hhat: if extra.ln.is_some() && r.cell != Cell::Rnn {
                par::zeros(steps * b * gh)
            } else {
                Vec::new()
            },
            cstats: if extra.ln.is_some() && r.cell == Cell::Lstm {
                vec![0.0; steps * b * 2]
            } else {
                Vec::new()
            },
        };
        if let Some(init) = init {
            if init.h.len() == bh {
                s.hs[..bh].copy_from_slice(&init.h);
            }
            if r.cell == Cell::Lstm && init.c.len() == bh {
                s.cs[..bh].copy_from_slice(&init.c);
            }
        }
        // W_hhᵀ (h × gh), and W_ihᵀ, packed once for every step of both halves.
        let w = &Packed::new(h, gh, w, (1, h));
        let wx = x.map(|(xv, w_ih)| {
            let input = w_ih.len() / gh;
            (Packed::new(input, gh, w_ih, (1, input)), xv, input)
        });
        let x_of = |lo| {
            wx.as_ref().map(|(p, data, cols)| {
                let rows = Rows {
                    data,
                    batch: b,
                    lo,
                    cols: *cols,
                };
                (p, rows)
            })
        };
        let mut a = self.split(a, gh).into_iter();
        let mut hs = self.split(&mut s.hs, h).into_iter();
        let mut cs = self.split(&mut s.cs, h).into_iter();
        let mut hps = self.split(&mut s.hps, gh).into_iter();
        let mut rstd = self.split(&mut s.rstd, 1).into_iter();
        let mut hhat = self.split(&mut s.hhat, gh).into_iter();
        let mut cstats = self.split(&mut s.cstats, 2).into_iter();
        let jobs: Vec<_> = self
            .each()
            .into_iter()
            .map(|(lo, n, r)| {
                let part = PartSaved {
                    hs: hs.next().unwrap_or_default(),
                    cs: cs.next().unwrap_or_default(),
                    hps: hps.next().unwrap_or_default(),
                    rstd: rstd.next().unwrap_or_default(),
                    hhat: hhat.next().unwrap_or_default(),
                    cstats: cstats.next().unwrap_or_default(),
                };
                let a = a.next().unwrap_or_default();
                (a, part, x_of(lo), r, extra.part(lo, n, h))
            })
            .collect();
        count_split(jobs.len());
        match jobs.len() {
            1 => {
                for (a, part, x, r, extra) in jobs {
                    forward(a, part, w, x, b_hh, r, extra);
                }
            }
            _ => {
                use rayon::prelude::*;
                jobs.into_par_iter()
                    .for_each(|(a, part, x, r, extra)| forward(a, part, w, x, b_hh, r, extra));
            }
        }
        s
    }

    /// The final state (h, and c for an LSTM), batch-major.
    pub(super) fn last(&self, saved: &Saved) -> LayerState {
        let (bh, steps) = (self.r.batch * self.r.units, self.r.steps);
        LayerState {
            h: saved.hs[steps * bh..].to_vec(),
            c: if self.r.cell == Cell::Lstm {
                saved.cs[steps * bh..].to_vec()
            } else {
                Vec::new()
            },
        }
    }

    /// BPTT from ∂L/∂output: turns the gates in `a` into ∂L/∂a; returns
    /// ∂L/∂W_hh and the rest.
    pub(super) fn backward(
        &self,
        g_out: &[f32],
        w: &[f32],
        saved: &Saved,
        a: &mut [f32],
        extra: Extra,
    ) -> (Vec<f32>, Bptt) {
        let r = self.r;
        let (b, h, gh, steps) = (r.batch, r.units, r.cell.gates() * r.units, r.steps);
        // ∂L/∂(W_hh h_{t-1}); the same as ∂L/∂a except for the GRU's
        // candidate gate and after a layer normalisation of it.
        let own_dhp = r.cell == Cell::Gru || (extra.ln.is_some() && r.cell != Cell::Rnn);
        let mut dhp = vec![0.0; if own_dhp { steps * b * gh } else { 0 }];
        // W_hh (gh × h), packed once for every step of both halves.
        let w = &Packed::new(gh, h, w, (h, 1));
        let run = |(lo, n, pr): (usize, usize, Recurrence), a, dhp| {
            let rows = |data, cols| Rows {
                data,
                batch: b,
                lo,
                cols,
            };
            let s = PartRows {
                g_out: rows(g_out, h),
                hs: rows(&saved.hs, h),
                cs: rows(&saved.cs, h),
                hps: rows(&saved.hps, gh),
                rstd: rows(&saved.rstd, 1),
                hhat: rows(&saved.hhat, gh),
                cstats: rows(&saved.cstats, 2),
            };
            backward(s, w, a, dhp, pr, extra.part(lo, n, h))
        };
        let mut a_parts = self.split(a, gh).into_iter();
        let mut dhp_parts = self.split(&mut dhp, gh).into_iter();
        let jobs: Vec<_> = self
            .each()
            .into_iter()
            .map(|p| {
                let a = a_parts.next().unwrap_or_default();
                (p, a, dhp_parts.next().unwrap_or_default())
            })
            .collect();
        count_split(jobs.len());
        let results: Vec<Bptt> = match jobs.len() {
            1 => jobs.into_iter().map(|(p, a, dhp)| run(p, a, dhp)).collect(),
            _ => {
                use rayon::prelude::*;
                jobs.into_par_iter()
                    .map(|(p, a, dhp)| run(p, a, dhp))
                    .collect()
            }
        };
        // The parts' sums, added in the parts' order.
        let mut results = results.into_iter();
        let mut out = results.next().expect("at least one part");
        for y in results {
            for (x, y) in out.norms.iter_mut().zip(&y.norms) {
                *x = (*x * *x + y * y).sqrt();
            }
            add_into(&mut out.db_hh, &y.db_hh);
            add_into(&mut out.db_ih, &y.db_ih);
            add_into(&mut out.dln, &y.dln);
        }
        let dhp: &[f32] = if own_dhp { &dhp } else { a };
        let mut dw_hh = vec![0.0; gh * h];
        // What W_hh multiplied: h_{t-1}, or h_{t-1} ⊙ mask.
        let masked;
        let h_in: &[f32] = match extra.mask {
            Some(m) => {
                masked = saved.hs[..steps * b * h]
                    .chunks_exact(b * h)
                    .flat_map(|hs| hs.iter().zip(m).map(|(v, m)| v * m))
                    .collect::<Vec<f32>>();
                &masked
            }
            None => &saved.hs[..steps * b * h],
        };
        // ∂W_hh = Σ_t dhp_tᵀ · h_{t-1}: one (gh × T·B) · (T·B × h) product.
        gemm(
            gh,
            steps * b,
            h,
            dhp,
            (1, gh),
            h_in,
            (h, 1),
            0.0,
            &mut dw_hh,
        );
        if r.cell != Cell::Gru {
            out.db_ih.clone_from(&out.db_hh);
        }
        (dw_hh, out)
    }
}

/// What BPTT returns besides ∂L/∂a, which it leaves in the gates' buffer,
/// and ∂L/∂W_hh.
pub(super) struct Bptt {
    pub(super) db_hh: Vec<f32>,
    /// The column sums of ∂L/∂a: ∂b_hh's but for the GRU.
    pub(super) db_ih: Vec<f32>,
    /// ‖∂L/∂h_t‖ per step.
    pub(super) norms: Vec<f32>,
    /// Layer normalisation: ∂L/∂γ then ∂L/∂β.
    pub(super) dln: Vec<f32>,
}

/// One part's rows of a time-major sequence over the whole batch: rows
/// `lo..` of every block of `batch` rows of `cols` values.
#[derive(Clone, Copy)]
struct Rows<'a> {
    data: &'a [f32],
    batch: usize,
    lo: usize,
    cols: usize,
}

impl<'a> Rows<'a> {
    /// Block `t`'s `n` rows of the part.
    fn at(&self, t: usize, n: usize) -> &'a [f32] {
        let start = (t * self.batch + self.lo) * self.cols;
        &self.data[start..start + n * self.cols]
    }
}

/// Adds the sums of the columns of `x`, row-major with `out.len()` columns, to `out`.
#[inline(always)]
fn add_column_sums(out: &mut [f32], x: &[f32]) {
    for row in x.chunks_exact(out.len()) {
        for (o, v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// One part's steps forward; `a[t]` is the part's rows of step `t` (see
/// [`Parts::forward`]), `s` its rows of the saved states, with the initial
/// state in place; `wt` is W_hhᵀ packed; `x`, W_ihᵀ packed and the part's
/// rows of the input, when each step adds its input's projection to `a[t]`.
fn forward(
    mut a: Vec<&mut [f32]>,
    mut s: PartSaved,
    wt: &Packed,
    x: Option<(&Packed, Rows)>,
    b_hh: &[f32],
    r: Recurrence,
    extra: Extra,
) {
    let mask = extra.mask;
    let (h, b) = (r.units, r.batch);
    let mut dropped = vec![0.0; if mask.is_some() { b * h } else { 0 }];
    for t in 0..r.steps {
        let a: &mut [f32] = match extra.step_bias {
            Some(bias) => {
                let block = &mut *a[0];
                for row in block.chunks_exact_mut(bias.len()) {
                    row.copy_from_slice(bias);
                }
                block
            }
            None => &mut *a[t],
        };
        if let Some((wx, rows)) = x {
            // a += x_t · W_ihᵀ
            wx.mul(b, rows.at(t, b), rows.cols, 1.0, a);
        }
        let (before, after) = s.hs.split_at_mut(t + 1);
        let (h_prev, h_t) = (&*before[t], &mut *after[0]);
        // What the recurrent product reads: h_{t-1}, or h_{t-1} ⊙ mask.
        let h_in: &[f32] = match mask {
            Some(m) => {
                for ((d, v), m) in dropped.iter_mut().zip(h_prev).zip(m) {
                    *d = v * m;
                }
                &dropped
            }
            None => h_prev,
        };
        match r.cell {
            Cell::Rnn => {
                // a += h_prev · W_hhᵀ
                wt.mul(b, h_in, h, 1.0, a);
                match extra.ln {
                    Some(ln) => rnn::forward_ln(r.activation, ln, a, s.rstd[t], h_t),
                    None => rnn::forward(r.activation, a, h_t),
                }
            }
            Cell::Lstm => {
                let (cb, ca) = s.cs.split_at_mut(t + 1);
                match extra.ln {
                    None => {
                        wt.mul(b, h_in, h, 1.0, a);
                        lstm::forward(h, a, cb[t], ca[0], h_t);
                    }
                    Some(ln) => {
                        // a += γ ⊙ LN(h_prev · W_hhᵀ) + β
                        let ln = LnParts::new(r.cell, a.len() / b, ln);
                        let hhat = &mut *s.hhat[t];
                        wt.mul(b, h_in, h, 0.0, hhat);
                        norm::normalize(hhat, a.len() / b, s.rstd[t]);
                        let (gamma, beta) = gain_bias(ln.hh);
                        norm::add_affine(hhat, gamma, beta, a);
                        lstm::forward_ln(h, a, cb[t], ca[0], h_t, ln.c, s.cstats[t]);
                    }
                }
            }
            Cell::Gru => {
                // hp = h_prev · W_hhᵀ + b_hh, kept apart: r gates its candidate part.
                let hp = &mut *s.hps[t];
                for row in hp.chunks_exact_mut(b_hh.len()) {
                    row.copy_from_slice(b_hh);
                }
                match extra.ln {
                    None => wt.mul(b, h_in, h, 1.0, hp),
                    Some(ln) => {
                        // hp += γ ⊙ LN(h_prev · W_hhᵀ) + β
                        let gh = b_hh.len();
                        let hhat = &mut *s.hhat[t];
                        wt.mul(b, h_in, h, 0.0, hhat);
                        norm::normalize(hhat, gh, s.rstd[t]);
                        let (gamma, beta) = gain_bias(LnParts::new(r.cell, gh, ln).hh);
                        norm::add_affine(hhat, gamma, beta, hp);
                    }
                }
                gru::forward(h, a, hp, h_prev, h_t);
            }
            Cell::MinGru | Cell::MinLstm => unreachable!("the minimal cells run in model::minimal"),
        }
    }
}

/// One part's rows of ∂L/∂output and of the saved states.
struct PartRows<'a> {
    g_out: Rows<'a>,
    hs: Rows<'a>,
    cs: Rows<'a>,
    hps: Rows<'a>,
    rstd: Rows<'a>,
    hhat: Rows<'a>,
    cstats: Rows<'a>,
}

/// One part's BPTT from ∂L/∂output: turns the gates in `a` (as in
/// [`forward`]) into ∂L/∂a, writes ∂L/∂hp to `dhp` (GRU only) and returns
/// its share of the bias gradients and ‖∂L/∂h_t‖ per step; `packed` is
/// W_hh packed.
fn backward(
    s: PartRows,
    packed: &Packed,
    mut a: Vec<&mut [f32]>,
    mut dhp: Vec<&mut [f32]>,
    r: Recurrence,
    extra: Extra,
) -> Bptt {
    let mask = extra.mask;
    let (h, b, steps) = (r.units, r.batch, r.steps);
    let (bh, gh) = (b * h, r.cell.gates() * h);
    let mut through = vec![0.0; if mask.is_some() { bh } else { 0 }];
    let mut dh = vec![0.0; bh];
    let mut dh_next = vec![0.0; bh];
    // ∂L/∂h_t at the steps whose output is not used.
    let no_output = vec![0.0; if r.last_only { bh } else { 0 }];
    let mut dc = vec![0.0; if r.cell == Cell::Lstm { bh } else { 0 }];
    let mut out = Bptt {
        db_hh: vec![0.0; gh],
        db_ih: vec![0.0; if r.cell == Cell::Gru { gh } else { 0 }],
        norms: vec![0.0; steps],
        dln: vec![0.0; extra.ln.map_or(0, |ln| ln.len())],
    };
    for t in (0..steps).rev() {
        let g_t: Option<&[f32]> = if r.last_only {
            (t + 1 == steps).then(|| s.g_out.at(0, b))
        } else {
            Some(s.g_out.at(t, b))
        };
        // dh = dh_next + ∂L/∂h_t from the output, and its norm.
        let g = g_t.unwrap_or(&no_output);
        out.norms[t] = vectorized(
            #[inline(always)]
            || add_and_sum_squares(&mut dh, &dh_next, g),
        )
        .sqrt();
        let (h_prev, h_t) = (s.hs.at(t, b), s.hs.at(t + 1, b));
        let a_t = &mut *a[t];
        // The bias gradients are summed while the step's rows are in cache.
        let sum_into = |out: &mut [f32], x: &[f32]| {
            vectorized(
                #[inline(always)]
                || add_column_sums(out, x),
            )
        };
        let (dhp_t, beta): (&[f32], f32) = match r.cell {
            Cell::Rnn => {
                match extra.ln {
                    Some(ln) => {
                        let rstd = s.rstd.at(t, b);
                        rnn::backward_ln(r.activation, ln, &dh, h_t, a_t, rstd, &mut out.dln)
                    }
                    None => rnn::backward(r.activation, &dh, h_t, a_t),
                }
                sum_into(&mut out.db_hh, a_t);
                (a_t, 0.0)
            }
            Cell::Lstm => {
                let (c_prev, c) = (s.cs.at(t, b), s.cs.at(t + 1, b));
                match extra.ln {
                    None => {
                        lstm::backward(h, &dh, a_t, c_prev, c, &mut dc);
                        sum_into(&mut out.db_hh, a_t);
                        (a_t, 0.0)
                    }
                    Some(ln) => {
                        let ln = LnParts::new(r.cell, gh, ln);
                        let (_, dln) = out.dln.split_at_mut(2 * gh);
                        let (dln_hh, dln_c) = dln.split_at_mut(2 * gh);
                        let stats = s.cstats.at(t, b);
                        lstm::backward_ln(h, &dh, a_t, c_prev, c, &mut dc, ln.c, stats, dln_c);
                        sum_into(&mut out.db_hh, a_t);
                        // ∂L/∂(γ ⊙ ĥp + β) = ∂L/∂a, then through the norm.
                        let d = &mut *dhp[t];
                        d.copy_from_slice(a_t);
                        let (gamma, _) = gain_bias(ln.hh);
                        let (dgamma, dbeta) = gain_bias_mut(dln_hh);
                        let (hhat, rstd) = (s.hhat.at(t, b), s.rstd.at(t, b));
                        norm::backward(d, hhat, rstd, gamma, dgamma, dbeta);
                        (d, 0.0)
                    }
                }
            }
            Cell::Gru => {
                let d = &mut *dhp[t];
                gru::backward(h, &dh, a_t, s.hps.at(t, b), h_prev, d, &mut dh_next);
                sum_into(&mut out.db_ih, a_t);
                sum_into(&mut out.db_hh, d);
                if let Some(ln) = extra.ln {
                    // ∂L/∂hp becomes ∂L/∂(W_hh h_{t-1}).
                    let (gamma, _) = gain_bias(LnParts::new(r.cell, gh, ln).hh);
                    let (dgamma, dbeta) = gain_bias_mut(&mut out.dln[2 * gh..4 * gh]);
                    let (hhat, rstd) = (s.hhat.at(t, b), s.rstd.at(t, b));
                    norm::backward(d, hhat, rstd, gamma, dgamma, dbeta);
                }
                (d, 1.0)
            }
            Cell::MinGru | Cell::MinLstm => unreachable!("the minimal cells run in model::minimal"),
        };
        // dh_{t-1} (+)= dhp_t · W_hh, times the mask with recurrent dropout.
        match mask {
            None => packed.mul(b, dhp_t, gh, beta, &mut dh_next),
            Some(m) => {
                packed.mul(b, dhp_t, gh, 0.0, &mut through);
                for ((d, v), m) in dh_next.iter_mut().zip(&through).zip(m) {
                    *d = beta * *d + v * m;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Parts, Recurrence};
    use crate::experiment::{Activation, Cell};

    /// Several threads only for recurrences with enough work; the sizes of
    /// `model::tests::several_threads_match_one` are split.
    #[test]
    fn only_large_recurrences_are_split() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let r = |cell, units, batch, steps| Recurrence {
            cell,
            activation: Activation::Tanh,
            units,
            batch,
            steps,
            last_only: false,
            input_grad: true,
        };
        let parts = |r| pool.install(|| Parts::new(r).each().len());
        assert_eq!(parts(r(Cell::Rnn, 20, 32, 50)), 1, "Hands-On ML's deep RNN");
        assert_eq!(parts(r(Cell::Gru, 20, 32, 50)), 2, "the quick start");
        assert_eq!(parts(r(Cell::Lstm, 64, 32, 50)), 2, "lstm-2x64");
        for (cell, units) in [(Cell::Lstm, 48), (Cell::Gru, 56), (Cell::Rnn, 96)] {
            assert_eq!(parts(r(cell, units, 13, 40)), 2, "{cell:?}");
        }
        // More threads, more parts, each of at least MIN_PART_ROWS rows.
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let bounds = |r| four.install(|| Parts::new(r).bounds);
        assert_eq!(bounds(r(Cell::Lstm, 64, 32, 50)), [0, 8, 16, 24, 32]);
        assert_eq!(bounds(r(Cell::Lstm, 64, 13, 50)), [0, 4, 8, 13]);
        assert_eq!(bounds(r(Cell::Lstm, 64, 7, 500)), [0, 7]);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let big = r(Cell::Lstm, 64, 32, 50);
        assert_eq!(
            one.install(|| Parts::new(big).each().len()),
            1,
            "one thread"
        );
    }
}
