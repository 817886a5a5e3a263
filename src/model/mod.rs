//! Deep stacked recurrent networks: simple RNN, LSTM and GRU layers in any
//! mix, then a dense head, built on dfdx tensors with runtime shapes.
//!
//! Parameters live as plain data in PyTorch layout and names
//! (`layers.{k}.weight_ih` `(G·H) × in`, `weight_hh` `(G·H) × H`, `bias_ih`,
//! `bias_hh`, `head.weight` `out × H`, `head.bias`; gates LSTM i,f,g,o and GRU
//! r,z,n), so a checkpoint loads straight into `torch.nn` modules. Each forward
//! pass builds dfdx tensors from them; gradients come back in the same layout.

mod decoder;
mod forward;
mod gru;
mod init;
mod io;
mod loss;
mod lstm;
mod minimal;
mod names;
mod norm;
mod parts;
mod recurrent;
mod rnn;
mod sequence;
mod summary;

use std::ops::Range;

use dfdx::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use crate::kernels::instructions;
pub use decoder::Decoder;
pub use io::{WeightsError, serialize as serialize_safetensors};
pub use loss::{SIGMA_FLOOR, sigma};
pub use names::{layer_param_names, ln_param_names};
pub use parts::split_recurrences;
pub use recurrent::LayerState;
use recurrent::{FlowSink, Mat, Plain, Vector};

use crate::data::Text;
use crate::experiment::{Experiment, LayerSpec, TaskKind};

/// Every layer's state, carried between consecutive chunks of a stream.
pub type State = Vec<LayerState>;

/// The training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error against real-valued targets.
    Mse,
    /// Softmax cross-entropy (in nats, averaged over predictions); targets are class ids.
    CrossEntropy,
    /// The pinball loss of a head per quantile level ([`Model::levels`]),
    /// averaged over levels and values (see `loss.rs`).
    Pinball,
    /// The Gaussian negative log-likelihood of a mean head and a scale head.
    Gaussian,
}

/// One named parameter tensor in PyTorch layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Param {
    fn new(name: String, shape: Vec<usize>, data: Vec<f32>) -> Param {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Param { name, shape, data }
    }
}

/// A stack of recurrent layers and a dense head.
#[derive(Debug, Clone)]
pub struct Model {
    pub layers: Vec<LayerSpec>,
    /// Input values per time step.
    pub input: usize,
    /// Head outputs per prediction.
    pub output: usize,
    /// The head predicts at every time step (seq2seq) instead of the last one.
    pub every_step: bool,
    /// Token embedding width; the input is then one token id per step and
    /// `input` is the vocabulary size.
    pub embedding: Option<usize>,
    pub loss: Loss,
    /// [`Loss::Pinball`]: the quantile level of each head, ascending; the
    /// head's outputs come in blocks of `output / levels.len()`, one per level.
    pub levels: Vec<f32>,
    /// `layers.{k}.*` for every layer in order (with a decoder:
    /// `encoder.{k}.*`, then `decoder.{k}.*`), then `head.weight`,
    /// `head.bias`, then `embedding.weight` (vocabulary × width) when there
    /// is one.
    pub params: Vec<Param>,
    /// The encoder–decoder's decoder stack (`layers` is then the encoder);
    /// the head then predicts each decoder step, and `output` counts the
    /// whole horizon's values, laid out as a vector forecast's.
    pub decoder: Option<Decoder>,
    /// Conformal offsets of the intervals, fitted on the validation part
    /// for these weights (`task.calibration`); applied to every forecast.
    pub calibration: Option<crate::data::conformal::Conformal>,
    dev: Cpu,
}

/// One direction of a layer: W_ih (G·H × in), W_hh (G·H × H), b_ih, b_hh;
/// the minimal cells have no W_hh and b_hh.
struct Direction<'a> {
    w_ih: Mat,
    w_hh: Option<Mat>,
    b_ih: Vector,
    b_hh: Option<Vector>,
    /// Layer normalisation's gains and biases (`norm = "layer"`), in
    /// [`ln_param_names`]' order; empty without.
    ln: Vec<Vector>,
    /// The model's own values of W_ih and W_hh (recurrent cells).
    plain: Option<Plain<'a>>,
}

/// Parameter tensors of one forward pass (weights transposed where dfdx multiplies by them).
struct Tensors<'a> {
    /// Per layer, its directions (forward, then backward when bidirectional).
    layers: Vec<Vec<Direction<'a>>>,
    /// The decoder's layers, one direction each.
    decoder: Vec<Vec<Direction<'a>>>,
    head_wt: Mat,
    head_b: Vector,
}

/// Options of one [`Model::train_pass`].
#[derive(Default)]
pub struct Pass<'a> {
    /// Random source for dropout; none = no dropout.
    pub dropout: Option<&'a mut ChaCha8Rng>,
    /// Carried state (truncated BPTT): start from it, leave the final state in it.
    pub state: Option<&'a mut State>,
    /// Record ‖∂L/∂h_t‖ per layer and step.
    pub flow: bool,
    /// Encoder–decoder: the probability of feeding the decoder its own
    /// previous prediction instead of the true value (0 = teacher forcing),
    /// drawn per value from `dropout`'s random source.
    pub own_rate: f64,
}

/// Looks up rows of a `vocab × width` table for token ids stored as `f32`.
fn embed(table: &[f32], width: usize, ids: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(ids.len() * width);
    for &id in ids {
        let row = id as usize * width;
        out.extend_from_slice(&table[row..row + width]);
    }
    out
}

fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

impl Model {
    /// A freshly initialised model for an experiment (deterministic in `exp.seed`).
    /// Without recurrent layers it is the linear baseline: a dense layer on the
    /// flattened input window.
    /// Text tasks need the loaded `text` (its vocabulary and classes).
    pub fn for_experiment(exp: &Experiment, text: Option<&Text>) -> Model {
        if let (Some(width), Some(text)) = (exp.model.embedding, text) {
            let generate = exp.task.kind == TaskKind::Generate;
            let outputs = if generate {
                text.vocab.len()
            } else {
                text.classes.len()
            };
            let mut model = Model::new(&exp.model.layers, width, outputs, generate, exp.seed);
            let mut rng = ChaCha8Rng::seed_from_u64(exp.seed ^ 0x00e3_bed0);
            let vocab = text.vocab.len();
            // N(0, 1), as torch.nn.Embedding.
            let table = init::normal(&mut rng, vocab * width, 1.0);
            model.params.push(Param::new(
                "embedding.weight".into(),
                vec![vocab, width],
                table,
            ));
            model.embedding = Some(width);
            model.input = vocab;
            model.loss = Loss::CrossEntropy;
            return model;
        }
        let input = if exp.model.layers.is_empty() {
            exp.input_features() * exp.data.window
        } else {
            exp.input_features()
        };
        let mut model = match Decoder::for_experiment(exp) {
            Some(dec) => {
                Model::encoder_decoder(&exp.model.layers, dec, input, exp.heads(), exp.seed)
            }
            None => Model::new(
                &exp.model.layers,
                input,
                exp.head_size(),
                exp.every_step(),
                exp.seed,
            ),
        };
        if exp.task.distribution.is_some() {
            model.loss = Loss::Gaussian;
        } else if !exp.task.quantiles.is_empty() {
            model.loss = Loss::Pinball;
            model.levels = exp.task.quantiles.iter().map(|&q| q as f32).collect();
        }
        model
    }

    /// The probabilistic losses' mean value for outputs `out` against `y`
    /// (laid out as in [`Model::train_pass`]); `None` for MSE and
    /// cross-entropy.
    pub fn probabilistic_loss(&self, out: &[f32], y: &[f32]) -> Option<f64> {
        let k = self.output / self.heads();
        match self.loss {
            Loss::Pinball => Some(loss::pinball_terms(out, y, k, &self.levels).0),
            Loss::Gaussian => Some(loss::gaussian_terms(out, y, k).0),
            Loss::Mse | Loss::CrossEntropy => None,
        }
    }

    /// Head blocks per predicted value: one per quantile level, two for a
    /// Gaussian (mean, raw scale), else 1.
    pub fn heads(&self) -> usize {
        match self.loss {
            Loss::Pinball => self.levels.len().max(1),
            Loss::Gaussian => 2,
            Loss::Mse | Loss::CrossEntropy => 1,
        }
    }

    /// A freshly initialised model. With no `layers`, `input` is the size of the
    /// flattened window (steps × features) the dense head reads.
    pub fn new(
        layers: &[LayerSpec],
        input: usize,
        output: usize,
        every_step: bool,
        seed: u64,
    ) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1417_ba5e);
        let mut params = Vec::new();
        let fan_in = init::stack(&mut rng, layers, input, "layers", &mut params);
        init::head(&mut rng, layers, output, fan_in, &mut params);
        Model {
            layers: layers.to_vec(),
            input,
            output,
            every_step,
            embedding: None,
            loss: Loss::Mse,
            levels: Vec::new(),
            params,
            decoder: None,
            calibration: None,
            dev: Cpu::default(),
        }
    }

    /// Index of `head.weight` in `params`.
    fn head_index(&self) -> usize {
        self.layer_ranges().last().map_or(0, |r| r.end)
    }

    /// Every recurrent layer in `params` order with its name: `layers.{k}`,
    /// or with a decoder `encoder.{k}` then `decoder.{k}`.
    pub fn named_layers(&self) -> Vec<(String, &LayerSpec)> {
        let mut out: Vec<(String, &LayerSpec)> = Vec::new();
        let first = if self.decoder.is_some() {
            "encoder"
        } else {
            "layers"
        };
        for (k, l) in self.layers.iter().enumerate() {
            out.push((format!("{first}.{k}"), l));
        }
        for (k, l) in self
            .decoder
            .iter()
            .flat_map(|d| d.layers.iter().enumerate())
        {
            out.push((format!("decoder.{k}"), l));
        }
        out
    }

    /// Each layer's range of indices in `params`, in [`Model::named_layers`]' order.
    fn layer_ranges(&self) -> Vec<Range<usize>> {
        let mut at = 0;
        self.named_layers()
            .into_iter()
            .map(|(_, l)| {
                let n = layer_param_names(l).len();
                at += n;
                at - n..at
            })
            .collect()
    }

    /// The names of the gradient-flow series [`Model::train_pass`] returns,
    /// in order: `layers.{k}`, and `layers.{k}.reverse` for the backward
    /// direction of a bidirectional layer.
    pub fn flow_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, l) in self.named_layers() {
            if l.bidirectional {
                out.push(format!("{name}.reverse"));
                out.insert(out.len() - 1, name);
            } else {
                out.push(name);
            }
        }
        out
    }

    /// Total number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(|p| p.data.len()).sum()
    }

    /// Parameter index ranges per group: `layers.0`, `layers.1`, …, `head`.
    pub fn param_groups(&self) -> Vec<(String, Range<usize>)> {
        let mut groups: Vec<(String, Range<usize>)> = self
            .named_layers()
            .into_iter()
            .map(|(name, _)| name)
            .zip(self.layer_ranges())
            .collect();
        let head = self.head_index();
        groups.push(("head".into(), head..head + 2));
        if self.embedding.is_some() {
            groups.push(("embedding".into(), head + 2..head + 3));
        }
        groups
    }

    /// Gradient norm per gate of every gated layer, e.g. `("layers.0.f", n)`:
    /// the L2 norm of the gate's rows of W_ih, W_hh, b_ih and b_hh together
    /// (of both directions of a bidirectional layer).
    /// `grads` are in `params` order and layout.
    pub fn gate_norms(&self, grads: &[Vec<f32>]) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for ((layer, l), range) in self.named_layers().into_iter().zip(self.layer_ranges()) {
            for (g, name) in l.cell.gate_names().iter().enumerate() {
                let sq: f64 = grads[range.clone()]
                    .iter()
                    .map(|t| {
                        // Every tensor of a layer has G·H rows; gate g owns rows g·H..(g+1)·H.
                        let row = t.len() / (l.cell.gates() * l.units);
                        let part = &t[g * l.units * row..(g + 1) * l.units * row];
                        part.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>()
                    })
                    .sum();
                out.push((format!("{layer}.{name}"), sq.sqrt()));
            }
        }
        out
    }

    fn tensors(&self) -> Tensors<'_> {
        let dev = &self.dev;
        let mat = |p: &Param| dev.tensor_from_vec(p.data.clone(), (p.shape[0], p.shape[1]));
        let mat_t = |p: &Param| {
            dev.tensor_from_vec(
                transpose(&p.data, p.shape[0], p.shape[1]),
                (p.shape[1], p.shape[0]),
            )
        };
        let vector = |p: &Param| dev.tensor_from_vec(p.data.clone(), (p.shape[0],));
        let mut layers: Vec<Vec<Direction<'_>>> = self
            .named_layers()
            .into_iter()
            .zip(self.layer_ranges())
            .map(|((_, l), range)| {
                let per = range.len() / l.directions();
                self.params[range]
                    .chunks_exact(per)
                    .map(|p| match p {
                        [w_ih, w_hh, b_ih, b_hh, ln @ ..] => Direction {
                            w_ih: mat(w_ih),
                            w_hh: Some(mat(w_hh)),
                            b_ih: vector(b_ih),
                            b_hh: Some(vector(b_hh)),
                            ln: ln.iter().map(vector).collect(),
                            plain: Some(Plain {
                                w_ih: &w_ih.data,
                                w_hh: &w_hh.data,
                            }),
                        },
                        [w_ih, b_ih] => Direction {
                            w_ih: mat(w_ih),
                            w_hh: None,
                            b_ih: vector(b_ih),
                            b_hh: None,
                            ln: Vec::new(),
                            plain: None,
                        },
                        _ => unreachable!(
                            "two tensors per direction, or four and their layer norm's"
                        ),
                    })
                    .collect()
            })
            .collect();
        let decoder = layers.split_off(self.layers.len());
        let head = self.head_index();
        Tensors {
            layers,
            decoder,
            head_wt: mat_t(&self.params[head]),
            head_b: vector(&self.params[head + 1]),
        }
    }

    /// Outputs for time-major input `x` ((steps·batch) × input): `batch × output`,
    /// or `(steps·batch) × output` time-major when the head predicts every step.
    pub fn predict(&self, x: &[f32], batch: usize, steps: usize) -> Vec<f32> {
        let ts = self.tensors();
        if self.decoder.is_some() {
            return self.forecast_free(&ts, x, batch, steps);
        }
        let x = self.input_tensor(x, batch, steps);
        self.forward(&ts, x, batch, steps, None, &[], None).as_vec()
    }

    /// As [`Model::predict`], starting from `state` (zeros when empty) and
    /// leaving the final state in it: one chunk of a stream after another.
    pub fn predict_from(
        &self,
        x: &[f32],
        batch: usize,
        steps: usize,
        state: &mut State,
    ) -> Vec<f32> {
        let ts = self.tensors();
        let x = self.input_tensor(x, batch, steps);
        self.forward(&ts, x, batch, steps, None, &[], Some(state))
            .as_vec()
    }

    /// Time-major input as a matrix: `(steps·batch) × input`, or for the linear
    /// model (no recurrent layers) the flattened windows, `batch × (steps·features)`.
    /// With an embedding, `x` holds token ids and the matrix their embeddings.
    fn input_tensor(&self, x: &[f32], batch: usize, steps: usize) -> Mat {
        if let Some(width) = self.embedding {
            let table = &self.params[self.head_index() + 2].data;
            return self
                .dev
                .tensor_from_vec(embed(table, width, x), (steps * batch, width));
        }
        if !self.layers.is_empty() {
            return self
                .dev
                .tensor_from_vec(x.to_vec(), (steps * batch, self.input));
        }
        let f = self.input / steps.max(1);
        assert_eq!(
            f * steps,
            self.input,
            "the linear model was built for another window length"
        );
        let mut flat = vec![0.0; x.len()];
        for t in 0..steps {
            for b in 0..batch {
                let src = (t * batch + b) * f;
                let dst = (b * steps + t) * f;
                flat[dst..dst + f].copy_from_slice(&x[src..src + f]);
            }
        }
        self.dev.tensor_from_vec(flat, (batch, self.input))
    }

    /// Mean squared error against `y` (laid out as [`Model::predict`]'s output) and
    /// the gradient of every parameter, in `params` order and layout. Dropout is
    /// applied when `dropout` supplies a random source.
    pub fn loss_and_grads(
        &self,
        x: &[f32],
        y: &[f32],
        batch: usize,
        steps: usize,
        dropout: Option<&mut ChaCha8Rng>,
    ) -> (f32, Vec<Vec<f32>>) {
        let pass = Pass {
            dropout,
            ..Pass::default()
        };
        let (loss, grads, _) = self.train_pass(x, y, batch, steps, pass);
        (loss, grads)
    }

    /// One training pass: the loss ([`Model::loss`]) against `y` (laid out as
    /// [`Model::predict`]'s output; class ids for cross-entropy), the gradient
    /// of every parameter in `params` order and layout, and, when `pass.flow`
    /// asks for it, ‖∂L/∂h_t‖ per recurrent layer and step.
    #[allow(clippy::type_complexity)]
    pub fn train_pass(
        &self,
        x: &[f32],
        y: &[f32],
        batch: usize,
        steps: usize,
        pass: Pass,
    ) -> (f32, Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let sinks: Vec<FlowSink> = if pass.flow {
            self.flow_names()
                .iter()
                .map(|_| FlowSink::default())
                .collect()
        } else {
            Vec::new()
        };
        let (loss, grads) = self.backprop(x, y, (batch, steps), pass, &sinks);
        // A backward direction's norms come in the order it read the steps:
        // turned to time order, like the forward ones.
        let flow = sinks
            .iter()
            .zip(self.flow_names())
            .map(|(s, name)| {
                let mut v = s.lock().map(|v| v.clone()).unwrap_or_default();
                if name.ends_with(".reverse") {
                    v.reverse();
                }
                v
            })
            .collect();
        (loss, grads, flow)
    }

    /// As [`Model::loss_and_grads`], plus the gradient flow through time: for
    /// each recurrent layer, ‖∂L/∂h_t‖ at every step t (the picture of
    /// vanishing gradients: it collapses towards t = 0 when memory is lost).
    #[allow(clippy::type_complexity)]
    pub fn loss_grads_flow(
        &self,
        x: &[f32],
        y: &[f32],
        batch: usize,
        steps: usize,
        dropout: Option<&mut ChaCha8Rng>,
    ) -> (f32, Vec<Vec<f32>>, Vec<Vec<f32>>) {
        let pass = Pass {
            dropout,
            flow: true,
            ..Pass::default()
        };
        self.train_pass(x, y, batch, steps, pass)
    }

    fn backprop(
        &self,
        x: &[f32],
        y: &[f32],
        (batch, steps): (usize, usize),
        pass: Pass,
        flow: &[FlowSink],
    ) -> (f32, Vec<Vec<f32>>) {
        let ts = self.tensors();
        let input = self.input_tensor(x, batch, steps);
        let taped = input.retaped::<OwnedTape<f32, Cpu>>();
        let out = if self.decoder.is_some() {
            let mut dropout = pass.dropout;
            let fed = self.fed_values(&ts, x, y, (batch, steps), pass.own_rate, &mut dropout);
            self.encode_decode(&ts, taped, (x, &fed), (batch, steps), dropout, flow)
        } else {
            self.forward(&ts, taped, batch, steps, pass.dropout, flow, pass.state)
        };
        let shape = *out.shape();
        let loss = match self.loss {
            Loss::Mse => mse_loss(out, self.dev.tensor_from_vec(y.to_vec(), shape)),
            Loss::CrossEntropy => {
                assert_eq!(y.len(), shape.0, "one class id per prediction");
                let mut onehot = vec![0.0; shape.0 * shape.1];
                for (row, &class) in y.iter().enumerate() {
                    onehot[row * shape.1 + class as usize] = 1.0;
                }
                cross_entropy_with_logits_loss(out, self.dev.tensor_from_vec(onehot, shape))
            }
            Loss::Pinball => {
                let k = shape.1 / self.heads();
                loss::hand_loss(out, |o| loss::pinball_terms(o, y, k, &self.levels))
            }
            Loss::Gaussian => {
                let k = shape.1 / 2;
                loss::hand_loss(out, |o| loss::gaussian_terms(o, y, k))
            }
        };
        let value = loss.array();
        let mut g = loss.backward();
        let mut grads = Vec::with_capacity(self.params.len());
        for d in ts.layers.iter().chain(&ts.decoder).flatten() {
            grads.push(g.get_or_alloc_mut(&d.w_ih).expect("cpu alloc").to_vec());
            if let Some(w_hh) = &d.w_hh {
                grads.push(g.get_or_alloc_mut(w_hh).expect("cpu alloc").to_vec());
            }
            grads.push(g.get_or_alloc_mut(&d.b_ih).expect("cpu alloc").to_vec());
            if let Some(b_hh) = &d.b_hh {
                grads.push(g.get_or_alloc_mut(b_hh).expect("cpu alloc").to_vec());
            }
            for t in &d.ln {
                grads.push(g.get_or_alloc_mut(t).expect("cpu alloc").to_vec());
            }
        }
        let hw = &self.params[self.head_index()].shape;
        let gw = g.get_or_alloc_mut(&ts.head_wt).expect("cpu alloc").to_vec();
        grads.push(transpose(&gw, hw[1], hw[0]));
        grads.push(g.get_or_alloc_mut(&ts.head_b).expect("cpu alloc").to_vec());
        if let Some(width) = self.embedding {
            // Each looked-up row's gradient goes back to its token's row.
            let rows = g.get_or_alloc_mut(&input).expect("cpu alloc");
            let mut table = vec![0.0; self.input * width];
            for (id, row) in x.iter().zip(rows.chunks_exact(width)) {
                let at = *id as usize * width;
                for (t, r) in table[at..at + width].iter_mut().zip(row) {
                    *t += r;
                }
            }
            grads.push(table);
        }
        (value, grads)
    }
}

#[cfg(test)]
mod tests;
