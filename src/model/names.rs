//! The names of a layer's parameter tensors, PyTorch's where PyTorch has
//! the layer (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`, `_reverse`).

use crate::experiment::{Cell, LayerSpec};

/// The names of a layer's tensors after `layers.{k}.`, in `params` order
/// (PyTorch's: a direction's weight_ih, weight_hh, bias_ih, bias_hh, then the
/// backward direction's with `_reverse`).
pub fn layer_param_names(l: &LayerSpec) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["", "_reverse"].iter().take(l.directions()) {
        out.push(format!("weight_ih{dir}"));
        if l.cell.recurrent_weights() {
            out.push(format!("weight_hh{dir}"));
        }
        out.push(format!("bias_ih{dir}"));
        if l.cell.recurrent_weights() {
            out.push(format!("bias_hh{dir}"));
        }
        if l.norm.is_some() {
            out.extend(ln_param_names(l.cell).iter().map(|n| format!("{n}{dir}")));
        }
    }
    out
}

/// A layer-normalised layer's gains and biases after `bias_hh`: the simple
/// RNN's of its pre-activation (`H` each); the LSTM's and GRU's of the input
/// projection (`ln_ih_*`, `G·H`), the recurrent projection (`ln_hh_*`, `G·H`)
/// and, for the LSTM, the cell state (`ln_c_*`, `H`).
pub fn ln_param_names(cell: Cell) -> &'static [&'static str] {
    match cell {
        Cell::Rnn => &["ln_weight", "ln_bias"],
        Cell::Gru => &["ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias"],
        Cell::Lstm => &[
            "ln_ih_weight",
            "ln_ih_bias",
            "ln_hh_weight",
            "ln_hh_bias",
            "ln_c_weight",
            "ln_c_bias",
        ],
        Cell::MinGru | Cell::MinLstm => &[],
    }
}
