//! The forward pass: a stack of recurrent layers (each direction, the
//! dropout between layers, a bidirectional layer's two passes) and the
//! dense head, on dfdx tensors with or without a tape.

use dfdx::prelude::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::recurrent::{FlowSink, Mat, Recurrence, Weights, recurrence};
use super::{Direction, LayerState, Model, State, Tensors, minimal, sequence};
use crate::experiment::LayerSpec;

impl Model {
    /// The forward pass on time-major input `x` ((steps·batch) × input)
    /// of a model without a decoder.
    #[allow(clippy::too_many_arguments)] // the pass options, spelled out for the tape's sake
    pub(super) fn forward<T: Tape<f32, Cpu>>(
        &self,
        ts: &Tensors,
        x: Mat<T>,
        batch: usize,
        steps: usize,
        mut dropout: Option<&mut ChaCha8Rng>,
        flow: &[FlowSink],
        state: Option<&mut State>,
    ) -> Mat<T> {
        let h = self.stack(
            (&self.layers, &ts.layers),
            x,
            (batch, steps),
            (!self.every_step, self.embedding.is_some()),
            &mut dropout,
            &mut flow.iter(),
            state,
        );
        self.head(ts, h)
    }

    /// The dense head on `h` (rows × width): rows × head outputs.
    pub(super) fn head<T: Tape<f32, Cpu>>(&self, ts: &Tensors, h: Mat<T>) -> Mat<T> {
        let rows = h.shape().0;
        let out = ts.head_b.shape().0;
        let bias = ts
            .head_b
            .retaped::<T>()
            .broadcast_like::<(usize, usize), Axis<0>>(&(rows, out));
        h.matmul(ts.head_wt.clone()) + bias
    }

    /// A stack of recurrent `layers` (with their tensors) over time-major
    /// `x`: every step's outputs, or with `last_only` the last step's of
    /// the last layer; `input_grad`, whether the first layer passes a
    /// gradient back to `x`. Each layer takes the next flow sink(s).
    #[allow(clippy::too_many_arguments)] // the pass options, spelled out for the tape's sake
    pub(super) fn stack<T: Tape<f32, Cpu>>(
        &self,
        (layers, tensors): (&[LayerSpec], &[Vec<Direction>]),
        x: Mat<T>,
        (batch, steps): (usize, usize),
        (last_only, input_grad): (bool, bool),
        dropout: &mut Option<&mut ChaCha8Rng>,
        sinks: &mut std::slice::Iter<'_, FlowSink>,
        mut state: Option<&mut State>,
    ) -> Mat<T> {
        if let Some(st) = state.as_deref_mut() {
            st.resize(layers.len(), LayerState::default());
        }
        let mut h = x;
        let n = layers.len();
        let mut sinks = sinks.cloned();
        for (k, (l, dirs)) in layers.iter().zip(tensors).enumerate() {
            let r = Recurrence {
                cell: l.cell,
                activation: l.activation(),
                units: l.units,
                batch,
                steps,
                last_only: k + 1 == n && last_only,
                input_grad: k > 0 || input_grad,
            };
            let carried = state.as_deref_mut().map(|st| &mut st[k]);
            let (fwd_flow, back_flow) = (
                sinks.next(),
                l.bidirectional.then(|| sinks.next()).flatten(),
            );
            // Recurrent dropout: a mask per direction, for the whole sequence.
            let mut masks = (0..l.directions())
                .map(|_| match dropout.as_deref_mut() {
                    Some(rng) if l.recurrent_dropout > 0.0 => {
                        Some(dropout_mask(rng, batch * l.units, l.recurrent_dropout))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
                .into_iter();
            let (fwd_mask, back_mask) = (masks.next().flatten(), masks.next().flatten());
            h = match &dirs[..] {
                [d] => direction(h, d, r, fwd_flow, carried, fwd_mask),
                [d, back] => {
                    // The backward direction reads the sequence reversed; with
                    // every step's output, its outputs are turned back to the
                    // forward order, else its last output (after reading the
                    // whole sequence, at t = 0) sits beside the forward one.
                    let (x, tape) = h.split_tape();
                    let forward =
                        direction(x.clone().put_tape(tape), d, r, fwd_flow, None, fwd_mask);
                    let reversed = sequence::reverse_steps(x.retaped::<T>(), batch);
                    let mut backward = direction(reversed, back, r, back_flow, None, back_mask);
                    if !r.last_only {
                        backward = sequence::reverse_steps(backward, batch);
                    }
                    sequence::concat_columns(forward, backward)
                }
                _ => unreachable!("one or two directions"),
            };
            if let Some(rng) = dropout.as_deref_mut()
                && l.dropout > 0.0
            {
                let shape = *h.shape();
                let mask = dropout_mask(rng, shape.0 * shape.1, l.dropout);
                h = h * self.dev.tensor_from_vec(mask, shape);
            }
        }
        h
    }
}

/// `n` inverted-dropout factors: 0 with probability `rate`, else 1/(1 − rate).
pub(super) fn dropout_mask(rng: &mut ChaCha8Rng, n: usize, rate: f64) -> Vec<f32> {
    let keep = 1.0 - rate as f32;
    (0..n)
        .map(|_| {
            if rng.r#gen::<f32>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        })
        .collect()
}

/// One direction of a layer over the sequence `x`; `mask`, its recurrent
/// dropout (validation keeps it from the minimal cells).
fn direction<T: Tape<f32, Cpu>>(
    x: Mat<T>,
    d: &Direction,
    r: Recurrence,
    flow: Option<FlowSink>,
    state: Option<&mut LayerState>,
    mask: Option<Vec<f32>>,
) -> Mat<T> {
    match (&d.w_hh, &d.b_hh) {
        (Some(w_hh), Some(b_hh)) => {
            let weights = Weights {
                w_ih: &d.w_ih,
                w_hh,
                b_ih: &d.b_ih,
                b_hh,
                mask,
                ln: (!d.ln.is_empty()).then(|| d.ln.iter().collect()),
                plain: d.plain,
            };
            recurrence(x, weights, r, flow, state)
        }
        _ => minimal::minimal(x, &d.w_ih, &d.b_ih, r, flow, state),
    }
}
