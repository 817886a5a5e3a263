//! One recurrent layer over a whole sequence as a single dfdx op with a
//! hand-written backward pass (backpropagation through time).
//!
//! Input: `X`, `(T·B) × in`, time-major; parameters `W_ih` `(G·H) × in`,
//! `b_ih`, `W_hh` `(G·H) × H` (PyTorch layout) and `b_hh`. The input
//! projection `X·W_ihᵀ + b_ih` is one product over all time steps.
//! Output: the hidden states `(T·B) × H`, or only the last step `B × H`.
//! The weight gradients are each one large product over all steps.

use std::borrow::Cow;

use dfdx::prelude::*;

use super::norm;
use super::parts::Parts;
use crate::experiment::{Activation, Cell};
use crate::kernels::cell::{LstmLayer, Start};
use crate::kernels::gemm::gemm;
use crate::kernels::panel::Packed;
use crate::kernels::par;

/// A row-major matrix of runtime size.
pub type Mat<T = NoneTape> = Tensor<(usize, usize), f32, Cpu, T>;
/// A vector of runtime size.
pub type Vector<T = NoneTape> = Tensor<(usize,), f32, Cpu, T>;

/// Receives ‖∂L/∂h_t‖ for t = 0..T during the backward pass (gradient flow through time).
pub type FlowSink = std::sync::Arc<std::sync::Mutex<Vec<f32>>>;

/// A layer's state between consecutive sequences (truncated BPTT, generation):
/// h, and c for an LSTM, `B × H` each, batch-major. Empty = zeros.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerState {
    pub h: Vec<f32>,
    pub c: Vec<f32>,
}

/// The sizes and kind of one layer's recurrence.
#[derive(Debug, Clone, Copy)]
pub struct Recurrence {
    pub cell: Cell,
    pub activation: Activation,
    pub units: usize,
    pub batch: usize,
    pub steps: usize,
    /// Output only the last step's hidden state.
    pub last_only: bool,
    /// Compute ∂L/∂X; not needed when X is the data.
    pub input_grad: bool,
}

/// What the forward pass keeps for the backward pass, besides the gates,
/// which it leaves in the input projection's buffer. Time-major over the
/// whole batch; each part of the batch writes its own rows.
pub(super) struct Saved {
    /// h_{t-1} for t = 0..=T: `(T+1)·B·H`, starting with the initial state.
    pub(super) hs: Vec<f32>,
    /// LSTM: c_{t-1} for t = 0..=T.
    pub(super) cs: Vec<f32>,
    /// GRU: the recurrent projections `hp` per step, `T·B·(G·H)`.
    pub(super) hps: Vec<f32>,
    /// Layer normalisation: 1/√(σ² + ε) per step and row, `T·B`, of the
    /// pre-activation (simple RNN) or of the recurrent projection (LSTM, GRU).
    pub(super) rstd: Vec<f32>,
    /// Layer-normalised LSTM/GRU: the normalised recurrent projections
    /// `LN(W_hh h_{t-1})` before gain and bias, `T·B·(G·H)`.
    pub(super) hhat: Vec<f32>,
    /// Layer-normalised LSTM: the mean and 1/√(σ² + ε) of `c_t` per step
    /// and row, `T·B·2`.
    pub(super) cstats: Vec<f32>,
}

/// One part's rows of each block of [`Saved`]'s buffers.
pub(super) struct PartSaved<'a> {
    pub(super) hs: Vec<&'a mut [f32]>,
    pub(super) cs: Vec<&'a mut [f32]>,
    pub(super) hps: Vec<&'a mut [f32]>,
    pub(super) rstd: Vec<&'a mut [f32]>,
    pub(super) hhat: Vec<&'a mut [f32]>,
    pub(super) cstats: Vec<&'a mut [f32]>,
}

/// One layer's parameters, PyTorch layout, and its recurrent dropout.
pub struct Weights<'a> {
    pub w_ih: &'a Mat,
    pub w_hh: &'a Mat,
    pub b_ih: &'a Vector,
    pub b_hh: &'a Vector,
    /// Recurrent dropout: `B × H` factors (0 or 1/keep) that multiply
    /// `h_{t-1}` where it enters the recurrent product, the same at every
    /// step (Gal and Ghahramani's variational dropout, as Keras does it).
    pub mask: Option<Vec<f32>>,
    /// Layer normalisation's gains and biases, in [`LnParts`]' order.
    pub ln: Option<Vec<&'a Vector>>,
    /// The values of W_ih and W_hh where they are at hand (the model's
    /// own), so that a pass without a backward reads them in place rather
    /// than copying them out of the tensors.
    pub plain: Option<Plain<'a>>,
}

/// W_ih's and W_hh's values, row-major as their tensors hold them.
#[derive(Clone, Copy)]
pub struct Plain<'a> {
    pub w_ih: &'a [f32],
    pub w_hh: &'a [f32],
}

/// Layer normalisation's parameters, each γ then β. The simple RNN
/// normalises its pre-activation (the book's `LNSimpleRNNCell`); the LSTM and
/// GRU, as Ba et al. (2016) do, normalise the input projection `W_ih x_t` and
/// the recurrent projection `W_hh h_{t-1}` apart (over all `G·H` gate
/// values), before the biases are added, and the LSTM also its cell state
/// before the output's `tanh`.
#[derive(Clone, Copy)]
pub(super) struct LnParts<'a> {
    /// Simple RNN: of the pre-activation (`H`); LSTM/GRU: of `W_ih x_t` (`G·H`).
    pub(super) ih: &'a [f32],
    /// LSTM/GRU: of `W_hh h_{t-1}` (`G·H`).
    pub(super) hh: &'a [f32],
    /// LSTM: of `c_t` (`H`).
    pub(super) c: &'a [f32],
}

impl<'a> LnParts<'a> {
    /// Splits `ln` (every γ and β in order) for `cell` with `gh` gate values.
    pub(super) fn new(cell: Cell, gh: usize, ln: &'a [f32]) -> LnParts<'a> {
        let (ih, rest) = ln.split_at(2 * gh);
        let (hh, c) = rest.split_at(if cell == Cell::Rnn { 0 } else { 2 * gh });
        LnParts { ih, hh, c }
    }
}

/// A slice of γ then β as (γ, β).
pub(super) fn gain_bias(ln: &[f32]) -> (&[f32], &[f32]) {
    ln.split_at(ln.len() / 2)
}

/// The same for ∂L/∂γ then ∂L/∂β.
pub(super) fn gain_bias_mut(ln: &mut [f32]) -> (&mut [f32], &mut [f32]) {
    let half = ln.len() / 2;
    ln.split_at_mut(half)
}

/// Runs the layer; records its backward pass on the tape `x` carries.
/// When `flow` is given, the backward pass stores ‖∂L/∂h_t‖ per step in it.
/// When `state` is given, the recurrence starts from it (zeros if empty) and
/// leaves the final state in it; no gradient flows into the initial state.
pub fn recurrence<T: Tape<f32, Cpu>>(
    x: Mat<T>,
    p: Weights,
    r: Recurrence,
    flow: Option<FlowSink>,
    state: Option<&mut LayerState>,
) -> Mat<T> {
    let (x, mut tape) = x.split_tape();
    let (h, b, steps) = (r.units, r.batch, r.steps);
    let gh = r.cell.gates() * h;
    let input = x.shape().1;
    assert_eq!(x.shape().0, steps * b, "x rows must be steps × batch");
    assert_eq!(
        p.w_ih.shape(),
        &(gh, input),
        "W_ih must be (gates × units) × input"
    );
    let xv = values(&x);
    // Without a backward pass to keep them for, the weights are read in place.
    let plain = p.plain.filter(|_| !T::OWNS_TAPE);
    let w_ih = weight(plain.map(|q| q.w_ih), p.w_ih);
    let (b_ih, b_hh) = (values(p.b_ih), values(p.b_hh));
    // a = X·W_ihᵀ + b_ih for every step at once; plus b_hh where the cell
    // adds the two projections before anything else (LSTM, simple RNN).
    // Every row starts as the bias (written once, not zeroed first).
    let row_bias: Vec<f32> = match r.cell {
        Cell::Gru => b_ih,
        _ => b_ih.iter().zip(&b_hh).map(|(i, h)| i + h).collect(),
    };
    // Layer normalisation: every γ then β.
    let ln: Option<Vec<f32>> =
        p.ln.as_ref()
            .map(|v| v.iter().flat_map(|t| values(*t)).collect());
    // The LSTM and GRU normalise the input projection apart, before its bias.
    let gated_ln = ln.is_some() && r.cell != Cell::Rnn;
    // A plain LSTM's inference runs fused, and split by units instead.
    let fused = !T::OWNS_TAPE
        && r.cell == Cell::Lstm
        && ln.is_none()
        && p.mask.is_none()
        && LstmLayer::available(h);
    // A narrow input is projected step by step instead, while the step's
    // rows of `a` are in cache (see `per_step_input`); so is any input of
    // a fused layer with rows enough that asks its panels ahead: each thread
    // then reads its columns of W_ih beside W_hh's at every step, in the
    // fused kernel's pass, instead of a product over all steps writing
    // `T·B × 4H` values the steps read back (the 2×1024 LSTM's inference at
    // batch 32 took 0.92× the time with AVX-512; 1.13× with AVX2).
    let wide_per_step = fused && b >= PER_STEP_MIN_BATCH && LstmLayer::asks_ahead();
    let narrow = !gated_ln && (per_step_input(r.cell, input, b) || wide_per_step);
    // Without a backward pass to keep the gates for, such a layer works in
    // one step's block of `a`, refilled with the biases at every step.
    let reuse = narrow && !T::OWNS_TAPE;
    let mut a = if gated_ln {
        par::zeros(steps * b * gh)
    } else {
        par::repeat_rows(&row_bias, if reuse { b } else { steps * b })
    };
    if !narrow {
        gemm(
            steps * b,
            input,
            gh,
            &xv,
            (input, 1),
            &w_ih,
            (1, input),
            1.0,
            &mut a,
        );
    }
    // a = γ ⊙ LN(X·W_ihᵀ) + β + biases, keeping LN(X·W_ihᵀ) and 1/√(σ² + ε).
    let x_norm = ln.as_ref().filter(|_| gated_ln).map(|ln| {
        let mut rstd = vec![0.0; steps * b];
        norm::normalize(&mut a, gh, &mut rstd);
        let xhat = std::mem::replace(&mut a, par::repeat_rows(&row_bias, steps * b));
        let (gamma, beta) = gain_bias(LnParts::new(r.cell, gh, ln).ih);
        norm::add_affine(&xhat, gamma, beta, &mut a);
        (xhat, rstd)
    });
    let w = weight(plain.map(|q| q.w_hh), p.w_hh);
    let parts = Parts::new(r);
    // The steps turn `a` into the activated gates.
    let x_steps = narrow.then_some((&xv[..], &w_ih[..]));
    let mask = p.mask;
    let extra = Extra {
        mask: mask.as_deref(),
        ln: ln.as_deref(),
        step_bias: reuse.then_some(&row_bias[..]),
    };
    let dev = x.device().clone();
    if fused {
        let start = match reuse {
            true => Start::Bias(&row_bias),
            false => Start::Rows(&a),
        };
        let (hs, last) = fused_lstm(r, start, &w, x_steps, state.as_deref());
        let out = match r.last_only {
            true => dev.tensor_from_vec(last.h.clone(), (b, h)),
            false => dev.tensor_from_vec(hs, (steps * b, h)),
        };
        if let Some(state) = state {
            *state = last;
        }
        return out.put_tape(tape);
    }
    let saved = parts.forward(&mut a, &w, x_steps, &b_hh, state.as_deref(), extra);
    let last = (state.is_some() || r.last_only).then(|| parts.last(&saved));
    let out = match &last {
        Some(last) if r.last_only => dev.tensor_from_vec(last.h.clone(), (b, h)),
        _ => dev.tensor_from_vec(par::copy(&saved.hs[b * h..]), (steps * b, h)),
    };
    if let (Some(state), Some(last)) = (state, last) {
        *state = last;
    }
    if T::OWNS_TAPE {
        // Copies (`plain` is not used with a tape): kept by the backward pass.
        let (w, w_ih) = (w.into_owned(), w_ih.into_owned());
        let ghosts = (out.ghost(), x.ghost(), p.w_ih.ghost(), p.b_ih.ghost());
        let (out_g, x_g, wih_g, bih_g) = ghosts;
        let (whh_g, bhh_g) = (p.w_hh.ghost(), p.b_hh.ghost());
        let ln_g: Vec<_> = p.ln.iter().flatten().map(|t| t.ghost()).collect();
        tape.add_backward_op(move |grads| {
            // Taken out of `grads` while the others are written, then put back.
            let g_out = std::mem::take(&mut **grads.get_or_alloc_mut(&out_g)?);
            // The gates in `a` become ∂L/∂a (= ∂L/∂xp).
            let extra = Extra {
                mask: mask.as_deref(),
                ln: ln.as_deref(),
                step_bias: None,
            };
            let (dw_hh, mut bptt) = parts.backward(&g_out, &w, &saved, &mut a, extra);
            // ∂L/∂a (after the input projection's normalisation) becomes
            // ∂L/∂(X·W_ihᵀ).
            if let (Some((xhat, rstd)), Some(ln)) = (&x_norm, &ln) {
                let (gamma, _) = gain_bias(LnParts::new(r.cell, gh, ln).ih);
                let (dgamma, dbeta) = gain_bias_mut(&mut bptt.dln[..2 * gh]);
                norm::backward(&mut a, xhat, rstd, gamma, dgamma, dbeta);
            }
            let mut dln = &bptt.dln[..];
            for g in &ln_g {
                let (this, rest) = dln.split_at(g.shape().num_elements());
                add_into(grads.get_or_alloc_mut(g)?, this);
                dln = rest;
            }
            if let Some(sink) = &flow
                && let Ok(mut v) = sink.lock()
            {
                *v = bptt.norms;
            }
            add_into(grads.get_or_alloc_mut(&whh_g)?, &dw_hh);
            add_into(grads.get_or_alloc_mut(&bhh_g)?, &bptt.db_hh);
            // ∂W_ih = aᵀ·X and ∂X = a·W_ih, each one product over all steps.
            let rows = steps * b;
            gemm(
                gh,
                rows,
                input,
                &a,
                (1, gh),
                &xv,
                (input, 1),
                1.0,
                grads.get_or_alloc_mut(&wih_g)?,
            );
            if r.input_grad {
                gemm(
                    rows,
                    gh,
                    input,
                    &a,
                    (gh, 1),
                    &w_ih,
                    (input, 1),
                    1.0,
                    grads.get_or_alloc_mut(&x_g)?,
                );
            }
            add_into(grads.get_or_alloc_mut(&bih_g)?, &bptt.db_ih);
            **grads.get_or_alloc_mut(&out_g)? = g_out;
            Ok(())
        });
    }
    out.put_tape(tape)
}

/// A plain LSTM layer's inference, fused and split by units
/// ([`LstmLayer`]): every `h_t` (`T·B × H`, time-major, the layer's output
/// as it is) and the final state.
fn fused_lstm(
    r: Recurrence,
    start: Start,
    w_hh: &[f32],
    x: Option<(&[f32], &[f32])>,
    init: Option<&LayerState>,
) -> (Vec<f32>, LayerState) {
    let (h, b) = (r.units, r.batch);
    let (gh, bh) = (4 * h, b * h);
    let state = |v: Option<&Vec<f32>>| v.filter(|v| v.len() == bh).cloned();
    let h0 = state(init.map(|s| &s.h)).unwrap_or_else(|| vec![0.0; bh]);
    let mut c = state(init.map(|s| &s.c)).unwrap_or_else(|| vec![0.0; bh]);
    let w_hh = Packed::new(h, gh, w_hh, (1, h));
    let wx = x.map(|(xv, w_ih)| {
        let input = w_ih.len() / gh;
        (xv, Packed::new(input, gh, w_ih, (1, input)))
    });
    let layer = LstmLayer {
        units: h,
        batch: b,
        steps: r.steps,
        start,
        x: wx.as_ref().map(|(xv, p)| (*xv, p)),
        w_hh: &w_hh,
    };
    let hs = layer.run(layer.threads(rayon::current_num_threads()), &h0, &mut c);
    let last = match r.steps {
        0 => h0,
        t => hs[(t - 1) * bh..].to_vec(),
    };
    (hs, LayerState { h: last, c })
}

/// What a layer adds to its steps besides the weights: recurrent dropout's
/// mask (`B × H`, all rows) and layer normalisation's γ then β.
#[derive(Clone, Copy, Default)]
pub(super) struct Extra<'a> {
    pub(super) mask: Option<&'a [f32]>,
    pub(super) ln: Option<&'a [f32]>,
    /// Inference of a layer that projects its input step by step: `a` holds
    /// one step's block, which every step refills with these biases (a row).
    pub(super) step_bias: Option<&'a [f32]>,
}

impl<'a> Extra<'a> {
    /// The same for the part of the batch from row `lo`, `rows` rows.
    pub(super) fn part(self, lo: usize, rows: usize, units: usize) -> Extra<'a> {
        Extra {
            mask: self.mask.map(|m| &m[lo * units..(lo + rows) * units]),
            ln: self.ln,
            step_bias: self.step_bias,
        }
    }
}

/// The fewest rows for which a layer projects its input step by step.
pub(super) const PER_STEP_MIN_BATCH: usize = 8;

/// The widest input each cell projects step by step (see [`per_step_input`]).
pub(super) const PER_STEP_INPUT: [(Cell, usize); 3] =
    [(Cell::Lstm, 256), (Cell::Rnn, 256), (Cell::Gru, 64)];

/// Whether a layer adds its input's projection step by step (with the
/// per-step kernel, while the step's rows of the gates' buffer are in cache)
/// rather than in one product over all steps before them, which with little
/// depth is bound by writing and re-reading the buffer. Limits measured on
/// the `rnnlab bench` configurations: the GRU, whose steps already make a
/// second product (its recurrent projection is kept apart), was faster with
/// one product over all steps for an input of 128.
///
/// Below [`PER_STEP_MIN_BATCH`] rows, the per-step product re-reads all of
/// W_ih for a row or two at every step (for a 2×256 LSTM's second layer,
/// 1 MiB beside W_hh's 1 MiB, more than L2 holds), so a small batch takes
/// the one product: at batch 1 the LSTM's inference then took 0.8× the
/// time.
pub(super) fn per_step_input(cell: Cell, input: usize, batch: usize) -> bool {
    batch >= PER_STEP_MIN_BATCH && PER_STEP_INPUT.iter().any(|&(c, n)| c == cell && input <= n)
}

/// A tensor's values in one copy. Every tensor a recurrence gets is
/// contiguous and row-major (made from a `Vec`, or by an element-wise op on
/// such tensors); dfdx's `as_vec` would walk it one index at a time.
pub(super) fn values<S: Shape, T>(t: &Tensor<S, f32, Cpu, T>) -> Vec<f32> {
    let mut v = par::zeros(t.shape().num_elements());
    t.copy_into(&mut v);
    v
}

/// A weight's values: `plain` when given, else a copy of `t`'s.
fn weight<'a>(plain: Option<&'a [f32]>, t: &Mat) -> Cow<'a, [f32]> {
    match plain {
        Some(v) => {
            assert_eq!(v.len(), t.shape().num_elements(), "plain weights' size");
            Cow::Borrowed(v)
        }
        None => Cow::Owned(values(t)),
    }
}

pub(super) fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}
