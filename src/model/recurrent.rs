//! One recurrent layer over a whole sequence as a single dfdx op with a
//! hand-written backward pass (backpropagation through time).
//!
//! Input: `xp = X·W_ihᵀ + b_ih` for all time steps at once, `(T·B) × (G·H)`,
//! time-major; parameters `W_hh` `(G·H) × H` (PyTorch layout) and `b_hh`.
//! Output: the hidden states `(T·B) × H`, or only the last step `B × H`.
//! The recurrent weight gradient is one large product over all steps.

use dfdx::prelude::*;

use super::{gru, lstm, rnn};
use crate::experiment::{Activation, Cell};

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
}

/// `c = a·b + beta·c` with explicit (row, column) strides; `a` is m×k, `b` k×n, `c` m×n row-major.
#[allow(clippy::too_many_arguments)]
fn gemm(
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
    // SAFETY: the asserts above keep every index the kernel touches inside the slices.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// What the forward pass keeps for the backward pass.
struct Saved {
    /// h_{t-1} for t = 0..=T: `(T+1)·B·H`, starting with the initial state.
    hs: Vec<f32>,
    /// LSTM: c_{t-1} for t = 0..=T.
    cs: Vec<f32>,
    /// LSTM/GRU: activated gates per step, `T·B·G·H`.
    gates: Vec<f32>,
    /// GRU: the recurrent projections `hp` per step.
    hps: Vec<f32>,
}

/// Runs the recurrence; records its backward pass on the tape `xp` carries.
/// When `flow` is given, the backward pass stores ‖∂L/∂h_t‖ per step in it.
/// When `state` is given, the recurrence starts from it (zeros if empty) and
/// leaves the final state in it; no gradient flows into the initial state.
pub fn recurrence<T: Tape<f32, Cpu>>(
    xp: Mat<T>,
    w_hh: &Mat,
    b_hh: &Vector,
    r: Recurrence,
    flow: Option<FlowSink>,
    state: Option<&mut LayerState>,
) -> Mat<T> {
    let (xp, mut tape) = xp.split_tape();
    let (h, b, steps) = (r.units, r.batch, r.steps);
    let gh = r.cell.gates() * h;
    assert_eq!(xp.shape().0, steps * b, "xp rows must be steps × batch");
    assert_eq!(xp.shape().1, gh, "xp columns must be gates × units");
    let xpv = xp.as_vec();
    let w = w_hh.as_vec();
    let bias = b_hh.as_vec();
    let s = forward(&xpv, &w, &bias, r, state.as_deref());
    if let Some(state) = state {
        let bh = b * h;
        state.h = s.hs[steps * bh..].to_vec();
        if r.cell == Cell::Lstm {
            state.c = s.cs[steps * bh..].to_vec();
        }
    }
    let dev = xp.device().clone();
    let out = if r.last_only {
        dev.tensor_from_vec(s.hs[steps * b * h..].to_vec(), (b, h))
    } else {
        dev.tensor_from_vec(s.hs[b * h..].to_vec(), (steps * b, h))
    };
    if T::OWNS_TAPE {
        let (out_g, xp_g, w_g, b_g) = (out.ghost(), xp.ghost(), w_hh.ghost(), b_hh.ghost());
        tape.add_backward_op(move |grads| {
            let g_out = grads.get_or_alloc_mut(&out_g)?.to_vec();
            let (dxp, dw, db, norms) = backward(&g_out, &w, &s, r);
            if let Some(sink) = &flow {
                if let Ok(mut v) = sink.lock() {
                    *v = norms;
                }
            }
            add_into(grads.get_or_alloc_mut(&xp_g)?, &dxp);
            add_into(grads.get_or_alloc_mut(&w_g)?, &dw);
            add_into(grads.get_or_alloc_mut(&b_g)?, &db);
            Ok(())
        });
    }
    out.put_tape(tape)
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

fn forward(xp: &[f32], w: &[f32], bias: &[f32], r: Recurrence, init: Option<&LayerState>) -> Saved {
    let (h, b, steps) = (r.units, r.batch, r.steps);
    let gh = r.cell.gates() * h;
    let bh = b * h;
    let mut s = Saved {
        hs: vec![0.0; (steps + 1) * bh],
        cs: if r.cell == Cell::Lstm {
            vec![0.0; (steps + 1) * bh]
        } else {
            Vec::new()
        },
        gates: if r.cell == Cell::Rnn {
            Vec::new()
        } else {
            vec![0.0; steps * b * gh]
        },
        hps: if r.cell == Cell::Gru {
            vec![0.0; steps * b * gh]
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
    let mut hp_scratch = vec![0.0; b * gh];
    // W_hhᵀ contiguous (h × gh): the per-step product then reads memory in order.
    let mut wt = vec![0.0; gh * h];
    for (j, row) in w.chunks_exact(h).enumerate() {
        for (k, v) in row.iter().enumerate() {
            wt[k * gh + j] = *v;
        }
    }
    for t in 0..steps {
        let hp: &mut [f32] = if r.cell == Cell::Gru {
            &mut s.hps[t * b * gh..(t + 1) * b * gh]
        } else {
            &mut hp_scratch
        };
        for row in hp.chunks_exact_mut(gh) {
            row.copy_from_slice(bias);
        }
        let (before, after) = s.hs.split_at_mut((t + 1) * bh);
        let h_prev = &before[t * bh..];
        let h_t = &mut after[..bh];
        // hp += h_prev · W_hhᵀ
        gemm(b, h, gh, h_prev, (h, 1), &wt, (gh, 1), 1.0, hp);
        let xp_t = &xp[t * b * gh..(t + 1) * b * gh];
        match r.cell {
            Cell::Rnn => rnn::forward(r.activation, xp_t, hp, h_t),
            Cell::Lstm => {
                let (cb, ca) = s.cs.split_at_mut((t + 1) * bh);
                lstm::forward(
                    h,
                    xp_t,
                    hp,
                    &cb[t * bh..],
                    &mut s.gates[t * b * gh..(t + 1) * b * gh],
                    &mut ca[..bh],
                    h_t,
                );
            }
            Cell::Gru => gru::forward(
                h,
                xp_t,
                hp,
                h_prev,
                &mut s.gates[t * b * gh..(t + 1) * b * gh],
                h_t,
            ),
        }
    }
    s
}

/// BPTT: from ∂L/∂output, returns (∂L/∂xp, ∂L/∂W_hh, ∂L/∂b_hh, ‖∂L/∂h_t‖ per step).
fn backward(
    g_out: &[f32],
    w: &[f32],
    s: &Saved,
    r: Recurrence,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let (h, b, steps) = (r.units, r.batch, r.steps);
    let gh = r.cell.gates() * h;
    let bh = b * h;
    let mut dxp = vec![0.0; steps * b * gh];
    // ∂L/∂hp per step; equal to ∂L/∂xp except for the GRU's candidate gate.
    let mut dhp_gru = if r.cell == Cell::Gru {
        vec![0.0; steps * b * gh]
    } else {
        Vec::new()
    };
    let mut dh = vec![0.0; bh];
    let mut dh_next = vec![0.0; bh];
    let mut dc = vec![0.0; if r.cell == Cell::Lstm { bh } else { 0 }];
    let mut norms = vec![0.0; steps];
    for t in (0..steps).rev() {
        let g_t: Option<&[f32]> = if r.last_only {
            (t + 1 == steps).then_some(g_out)
        } else {
            Some(&g_out[t * bh..(t + 1) * bh])
        };
        match g_t {
            Some(g) => {
                for ((d, n), g) in dh.iter_mut().zip(&dh_next).zip(g) {
                    *d = n + g;
                }
            }
            None => dh.copy_from_slice(&dh_next),
        }
        norms[t] = dh.iter().map(|v| v * v).sum::<f32>().sqrt();
        let h_t = &s.hs[(t + 1) * bh..(t + 2) * bh];
        let h_prev = &s.hs[t * bh..(t + 1) * bh];
        let dxp_t = &mut dxp[t * b * gh..(t + 1) * b * gh];
        let beta = match r.cell {
            Cell::Rnn => {
                rnn::backward(r.activation, &dh, h_t, dxp_t);
                0.0
            }
            Cell::Lstm => {
                lstm::backward(
                    h,
                    &dh,
                    &s.gates[t * b * gh..(t + 1) * b * gh],
                    &s.cs[t * bh..(t + 1) * bh],
                    &s.cs[(t + 1) * bh..(t + 2) * bh],
                    &mut dc,
                    dxp_t,
                );
                0.0
            }
            Cell::Gru => {
                gru::backward(
                    h,
                    &dh,
                    &s.gates[t * b * gh..(t + 1) * b * gh],
                    &s.hps[t * b * gh..(t + 1) * b * gh],
                    h_prev,
                    dxp_t,
                    &mut dhp_gru[t * b * gh..(t + 1) * b * gh],
                    &mut dh_next,
                );
                1.0
            }
        };
        let dhp_t: &[f32] = if r.cell == Cell::Gru {
            &dhp_gru[t * b * gh..(t + 1) * b * gh]
        } else {
            &dxp[t * b * gh..(t + 1) * b * gh]
        };
        // dh_{t-1} (+)= dhp_t · W_hh
        gemm(b, gh, h, dhp_t, (gh, 1), w, (h, 1), beta, &mut dh_next);
    }
    let dhp_all = if r.cell == Cell::Gru { &dhp_gru } else { &dxp };
    // ∂W_hh = Σ_t dhp_tᵀ · h_{t-1}: one (gh × T·B) · (T·B × h) product.
    let mut dw = vec![0.0; gh * h];
    gemm(
        gh,
        steps * b,
        h,
        dhp_all,
        (1, gh),
        &s.hs[..steps * bh],
        (h, 1),
        0.0,
        &mut dw,
    );
    let mut db = vec![0.0; gh];
    for row in dhp_all.chunks_exact(gh) {
        add_into(&mut db, row);
    }
    (dxp, dw, db, norms)
}
