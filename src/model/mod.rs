//! Deep stacked recurrent networks: simple RNN, LSTM and GRU layers in any
//! mix, then a dense head, built on dfdx tensors with runtime shapes.
//!
//! Parameters live as plain data in PyTorch layout and names
//! (`layers.{k}.weight_ih` `(G·H) × in`, `weight_hh` `(G·H) × H`, `bias_ih`,
//! `bias_hh`, `head.weight` `out × H`, `head.bias`; gates LSTM i,f,g,o and GRU
//! r,z,n), so a checkpoint loads straight into `torch.nn` modules. Each forward
//! pass builds dfdx tensors from them; gradients come back in the same layout.

mod gru;
mod init;
mod io;
mod lstm;
mod recurrent;
mod rnn;

use std::ops::Range;

use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use crate::kernels::instructions;
pub use io::WeightsError;
pub use recurrent::LayerState;
use recurrent::{recurrence, FlowSink, Mat, Recurrence, Vector, Weights};

use crate::data::Text;
use crate::experiment::{Cell, Experiment, Init, LayerSpec, TaskKind};

/// Every layer's state, carried between consecutive chunks of a stream.
pub type State = Vec<LayerState>;

/// The training objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error against real-valued targets.
    Mse,
    /// Softmax cross-entropy (in nats, averaged over predictions); targets are class ids.
    CrossEntropy,
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
    /// `layers.{k}.*` for every layer in order, then `head.weight`, `head.bias`,
    /// then `embedding.weight` (vocabulary × width) when there is one.
    pub params: Vec<Param>,
    dev: Cpu,
}

/// Parameter tensors of one forward pass (weights transposed where dfdx multiplies by them).
struct Tensors {
    /// Per layer: W_ih (G·H × in), W_hh (G·H × H), b_ih, b_hh.
    layers: Vec<(Mat, Mat, Vector, Vector)>,
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
        Model::new(
            &exp.model.layers,
            input,
            exp.output_size(),
            exp.every_step(),
            exp.seed,
        )
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
        let mut fan_in = input;
        for (k, l) in layers.iter().enumerate() {
            let (h, gh) = (l.units, l.cell.gates() * l.units);
            let bound = 1.0 / (h as f32).sqrt();
            let (w_ih, w_hh, mut b_ih, b_hh) = match l.init {
                Init::Pytorch => (
                    init::uniform(&mut rng, gh * fan_in, bound),
                    init::uniform(&mut rng, gh * h, bound),
                    init::uniform(&mut rng, gh, bound),
                    init::uniform(&mut rng, gh, bound),
                ),
                Init::Keras => (
                    init::glorot(&mut rng, gh, fan_in),
                    init::orthogonal(&mut rng, gh, h),
                    vec![0.0; gh],
                    vec![0.0; gh],
                ),
                Init::Identity => (
                    init::normal(&mut rng, gh * fan_in, 0.001),
                    init::identity(h),
                    vec![0.0; gh],
                    vec![0.0; gh],
                ),
            };
            if l.cell == Cell::Lstm {
                for v in &mut b_ih[h..2 * h] {
                    *v += l.forget_bias() as f32;
                }
            }
            let p = |n: &str| format!("layers.{k}.{n}");
            params.push(Param::new(p("weight_ih"), vec![gh, fan_in], w_ih));
            params.push(Param::new(p("weight_hh"), vec![gh, h], w_hh));
            params.push(Param::new(p("bias_ih"), vec![gh], b_ih));
            params.push(Param::new(p("bias_hh"), vec![gh], b_hh));
            fan_in = h;
        }
        let keras = layers.last().is_some_and(|l| l.init == Init::Keras);
        let (w, b) = if keras {
            (init::glorot(&mut rng, output, fan_in), vec![0.0; output])
        } else {
            let bound = 1.0 / (fan_in as f32).sqrt();
            (
                init::uniform(&mut rng, output * fan_in, bound),
                init::uniform(&mut rng, output, bound),
            )
        };
        params.push(Param::new("head.weight".into(), vec![output, fan_in], w));
        params.push(Param::new("head.bias".into(), vec![output], b));
        Model {
            layers: layers.to_vec(),
            input,
            output,
            every_step,
            embedding: None,
            loss: Loss::Mse,
            params,
            dev: Cpu::default(),
        }
    }

    /// Index of `head.weight` in `params`.
    fn head_index(&self) -> usize {
        4 * self.layers.len()
    }

    /// Total number of scalar parameters.
    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(|p| p.data.len()).sum()
    }

    /// Parameter index ranges per group: `layers.0`, `layers.1`, …, `head`.
    pub fn param_groups(&self) -> Vec<(String, Range<usize>)> {
        let mut groups: Vec<(String, Range<usize>)> = (0..self.layers.len())
            .map(|k| (format!("layers.{k}"), 4 * k..4 * k + 4))
            .collect();
        let head = self.head_index();
        groups.push(("head".into(), head..head + 2));
        if self.embedding.is_some() {
            groups.push(("embedding".into(), head + 2..head + 3));
        }
        groups
    }

    /// Gradient norm per gate of every LSTM/GRU layer, e.g. `("layers.0.f", n)`:
    /// the L2 norm of the gate's rows of W_ih, W_hh, b_ih and b_hh together.
    /// `grads` are in `params` order and layout.
    pub fn gate_norms(&self, grads: &[Vec<f32>]) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            for (g, name) in l.cell.gate_names().iter().enumerate() {
                let sq: f64 = grads[4 * k..4 * k + 4]
                    .iter()
                    .map(|t| {
                        // Every tensor of a layer has G·H rows; gate g owns rows g·H..(g+1)·H.
                        let row = t.len() / (l.cell.gates() * l.units);
                        let part = &t[g * l.units * row..(g + 1) * l.units * row];
                        part.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>()
                    })
                    .sum();
                out.push((format!("layers.{k}.{name}"), sq.sqrt()));
            }
        }
        out
    }

    /// The stack in one line, e.g. `lstm(64) → gru(32) → dense(1)`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .layers
            .iter()
            .map(|l| match l.cell {
                Cell::Rnn => format!("rnn-{}({})", activation_name(l), l.units),
                c => format!("{}({})", c.name(), l.units),
            })
            .collect();
        if parts.is_empty() {
            parts.push("flatten".into());
        }
        if let Some(width) = self.embedding {
            parts.insert(0, format!("embedding({}×{width})", self.input));
        }
        parts.push(format!("dense({})", self.output));
        parts.join(" → ")
    }

    /// A Keras-style summary table: per layer its cell, input, units and parameters.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{:<10} {:<12} {:>6} {:>6} {:>10}\n",
            "layer", "cell", "input", "units", "params"
        );
        let groups = self.param_groups();
        let mut fan_in = self.input;
        if let Some(width) = self.embedding {
            out += &format!(
                "{:<10} {:<12} {fan_in:>6} {width:>6} {:>10}\n",
                "embedding",
                "embedding",
                fan_in * width
            );
            fan_in = width;
        }
        for ((name, range), l) in groups.iter().zip(&self.layers) {
            let count: usize = self.params[range.clone()]
                .iter()
                .map(|p| p.data.len())
                .sum();
            let cell = match l.cell {
                Cell::Rnn => format!("rnn ({})", activation_name(l)),
                c => c.name().to_string(),
            };
            out += &format!(
                "{name:<10} {cell:<12} {fan_in:>6} {:>6} {count:>10}\n",
                l.units
            );
            fan_in = l.units;
        }
        let (name, range) = &groups[self.layers.len()];
        let count: usize = self.params[range.clone()]
            .iter()
            .map(|p| p.data.len())
            .sum();
        let dense = if self.every_step {
            "dense (each step)"
        } else {
            "dense"
        };
        out += &format!(
            "{name:<10} {dense:<12} {fan_in:>6} {:>6} {count:>10}\n",
            self.output
        );
        out += &format!("total parameters: {}\n", self.parameter_count());
        out
    }

    fn tensors(&self) -> Tensors {
        let dev = &self.dev;
        let mat = |p: &Param| dev.tensor_from_vec(p.data.clone(), (p.shape[0], p.shape[1]));
        let mat_t = |p: &Param| {
            dev.tensor_from_vec(
                transpose(&p.data, p.shape[0], p.shape[1]),
                (p.shape[1], p.shape[0]),
            )
        };
        let vector = |p: &Param| dev.tensor_from_vec(p.data.clone(), (p.shape[0],));
        let layers = self
            .params
            .chunks_exact(4)
            .take(self.layers.len())
            .map(|p| (mat(&p[0]), mat(&p[1]), vector(&p[2]), vector(&p[3])))
            .collect();
        let head = self.head_index();
        Tensors {
            layers,
            head_wt: mat_t(&self.params[head]),
            head_b: vector(&self.params[head + 1]),
        }
    }

    /// The forward pass on time-major input `x` ((steps·batch) × input).
    #[allow(clippy::too_many_arguments)] // the pass options, spelled out for the tape's sake
    fn forward<T: Tape<f32, Cpu>>(
        &self,
        ts: &Tensors,
        x: Mat<T>,
        batch: usize,
        steps: usize,
        mut dropout: Option<&mut ChaCha8Rng>,
        flow: &[FlowSink],
        mut state: Option<&mut State>,
    ) -> Mat<T> {
        if let Some(st) = state.as_deref_mut() {
            st.resize(self.layers.len(), LayerState::default());
        }
        let mut h = x;
        let n = self.layers.len();
        for (k, (l, (w_ih, w_hh, b_ih, b_hh))) in self.layers.iter().zip(&ts.layers).enumerate() {
            let r = Recurrence {
                cell: l.cell,
                activation: l.activation(),
                units: l.units,
                batch,
                steps,
                last_only: k + 1 == n && !self.every_step,
                input_grad: k > 0 || self.embedding.is_some(),
            };
            let carried = state.as_deref_mut().map(|st| &mut st[k]);
            let weights = Weights {
                w_ih,
                w_hh,
                b_ih,
                b_hh,
            };
            h = recurrence(h, weights, r, flow.get(k).cloned(), carried);
            if let Some(rng) = dropout.as_deref_mut() {
                if l.dropout > 0.0 {
                    let keep = 1.0 - l.dropout as f32;
                    let shape = *h.shape();
                    let mask: Vec<f32> = (0..shape.0 * shape.1)
                        .map(|_| {
                            if rng.gen::<f32>() < keep {
                                1.0 / keep
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    h = h * self.dev.tensor_from_vec(mask, shape);
                }
            }
        }
        let rows = h.shape().0;
        let bias = ts
            .head_b
            .retaped::<T>()
            .broadcast_like::<(usize, usize), Axis<0>>(&(rows, self.output));
        h.matmul(ts.head_wt.clone()) + bias
    }

    /// Outputs for time-major input `x` ((steps·batch) × input): `batch × output`,
    /// or `(steps·batch) × output` time-major when the head predicts every step.
    pub fn predict(&self, x: &[f32], batch: usize, steps: usize) -> Vec<f32> {
        let ts = self.tensors();
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
            self.layers.iter().map(|_| FlowSink::default()).collect()
        } else {
            Vec::new()
        };
        let (loss, grads) = self.backprop(x, y, (batch, steps), pass, &sinks);
        let flow = sinks
            .iter()
            .map(|s| s.lock().map(|v| v.clone()).unwrap_or_default())
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
            state: None,
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
        let out = self.forward(&ts, taped, batch, steps, pass.dropout, flow, pass.state);
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
        };
        let value = loss.array();
        let mut g = loss.backward();
        let mut grads = Vec::with_capacity(self.params.len());
        for (w_ih, w_hh, b_ih, b_hh) in &ts.layers {
            grads.push(g.get_or_alloc_mut(w_ih).expect("cpu alloc").to_vec());
            grads.push(g.get_or_alloc_mut(w_hh).expect("cpu alloc").to_vec());
            grads.push(g.get_or_alloc_mut(b_ih).expect("cpu alloc").to_vec());
            grads.push(g.get_or_alloc_mut(b_hh).expect("cpu alloc").to_vec());
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

fn activation_name(l: &LayerSpec) -> &'static str {
    match l.activation() {
        crate::experiment::Activation::Tanh => "tanh",
        crate::experiment::Activation::Relu => "relu",
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::experiment::Activation;

    fn layer(cell: Cell, units: usize) -> LayerSpec {
        LayerSpec {
            cell,
            units,
            activation: (cell == Cell::Rnn).then_some(Activation::Tanh),
            dropout: 0.0,
            init: Init::Pytorch,
            forget_bias: None,
        }
    }

    /// (loss(θ + eps) − loss(θ − eps)) / 2·eps for element `j` of parameter `pi`.
    fn central_difference(
        model: &mut Model,
        pi: usize,
        j: usize,
        eps: f32,
        loss: impl Fn(&Model) -> f32,
    ) -> f32 {
        let orig = model.params[pi].data[j];
        model.params[pi].data[j] = orig + eps;
        let up = loss(model);
        model.params[pi].data[j] = orig - eps;
        let down = loss(model);
        model.params[pi].data[j] = orig;
        (up - down) / (2.0 * eps)
    }

    /// Central finite differences against the analytic gradient of every
    /// parameter tensor of a mixed stack, both head modes.
    #[test]
    fn gradients_match_finite_differences() {
        let layers = [
            layer(Cell::Lstm, 5),
            layer(Cell::Gru, 4),
            layer(Cell::Rnn, 3),
        ];
        for every_step in [false, true] {
            let (batch, steps, input, output) = (3, 6, 2, 2);
            let mut model = Model::new(&layers, input, output, every_step, 7);
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            let x = init::normal(&mut rng, steps * batch * input, 1.0);
            let rows = if every_step { steps * batch } else { batch };
            let y = init::normal(&mut rng, rows * output, 1.0);
            let (_, grads) = model.loss_and_grads(&x, &y, batch, steps, None);
            let eps = 1e-2f32;
            for (pi, grad) in grads.iter().enumerate() {
                let n = model.params[pi].data.len();
                for j in [0, n / 2, n - 1] {
                    let fd = central_difference(&mut model, pi, j, eps, |m| {
                        m.loss_and_grads(&x, &y, batch, steps, None).0
                    });
                    let g = grad[j];
                    assert!(
                        (fd - g).abs() <= 2e-3 + 2e-2 * g.abs(),
                        "{}[{j}] (every_step {every_step}): analytic {g}, finite difference {fd}",
                        model.params[pi].name
                    );
                }
            }
        }
    }

    /// A text model: token ids through an embedding, LSTM → GRU, a softmax
    /// head at every step with cross-entropy, starting from a carried state.
    fn text_model(every_step: bool) -> Model {
        let (vocab, width, classes) = (7, 4, 5);
        let mut model = Model::new(
            &[layer(Cell::Lstm, 5), layer(Cell::Gru, 3)],
            width,
            classes,
            every_step,
            11,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let table = init::normal(&mut rng, vocab * width, 1.0);
        model.params.push(Param::new(
            "embedding.weight".into(),
            vec![vocab, width],
            table,
        ));
        (model.embedding, model.input, model.loss) = (Some(width), vocab, Loss::CrossEntropy);
        model
    }

    /// Finite differences for the embedding rows and every tensor of a text
    /// model under cross-entropy, with and without a carried-in state; the
    /// state left behind is the one a single pass over both chunks ends in.
    #[test]
    fn text_model_gradients_and_carried_state() {
        for every_step in [true, false] {
            let mut model = text_model(every_step);
            let (batch, steps) = (2, 4);
            // Token 6 never occurs: its embedding row gets no gradient.
            let x: Vec<f32> = [0, 3, 1, 1, 2, 5, 4, 0].map(|v| v as f32).to_vec();
            let rows = if every_step { steps * batch } else { batch };
            let y: Vec<f32> = (0..rows).map(|i| (i * 3 % 5) as f32).collect();
            let mut warm = State::new();
            model.predict_from(&x, batch, steps, &mut warm);
            assert_eq!(warm.len(), 2);
            assert_eq!(warm[0].c.len(), batch * 5, "an LSTM carries its cell");
            for start in [State::new(), warm.clone()] {
                let pass = |m: &Model| {
                    let mut st = start.clone();
                    let p = Pass {
                        state: Some(&mut st),
                        ..Pass::default()
                    };
                    m.train_pass(&x, &y, batch, steps, p)
                };
                let (_, grads, _) = pass(&model);
                let emb = grads.last().unwrap();
                assert!(emb[6 * 4..].iter().all(|g| *g == 0.0));
                let eps = 1e-2f32;
                for (pi, grad) in grads.iter().enumerate() {
                    let n = model.params[pi].data.len();
                    for j in [0, n / 3, n / 2, n - 5] {
                        let fd = central_difference(&mut model, pi, j, eps, |m| pass(m).0);
                        assert!(
                            (fd - grad[j]).abs() <= 1e-3 + 2e-2 * grad[j].abs(),
                            "{}[{j}] (every_step {every_step}): analytic {}, finite difference {fd}",
                            model.params[pi].name,
                            grad[j]
                        );
                    }
                }
            }
            // Two chunks read one after the other end where one long pass ends.
            let mut two = State::new();
            let a = model.predict_from(&x, batch, steps, &mut two);
            let b = model.predict_from(&x, batch, steps, &mut two);
            let mut joined = x.clone();
            joined.extend_from_slice(&x);
            let mut one = State::new();
            let all = model.predict_from(&joined, batch, 2 * steps, &mut one);
            assert_eq!(two, one);
            if every_step {
                assert_eq!([a, b].concat(), all);
            } else {
                assert_eq!(b, all);
            }
        }
    }

    /// A layer projects a narrow input (see `recurrent::per_step_input`)
    /// step by step, a wider one in one product over all steps: the same
    /// model with one more input, always zero, takes the other path and
    /// gives the same loss, gradients and states.
    #[test]
    fn narrow_and_wide_inputs_agree() {
        for first in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
            // The third layer, a GRU fed 80 values, is wide in both models.
            let layers = [
                layer(first, 24),
                layer(Cell::Lstm, 80),
                layer(Cell::Gru, 16),
            ];
            let input = recurrent::PER_STEP_INPUT
                .iter()
                .find(|(c, _)| *c == first)
                .map_or(0, |(_, n)| *n);
            assert!(
                recurrent::per_step_input(first, input)
                    && !recurrent::per_step_input(first, input + 1)
            );
            let (batch, steps) = (5, 9);
            let narrow = Model::new(&layers, input, 2, true, 3);
            let mut wide = Model::new(&layers, input + 1, 2, true, 3);
            let mut rng = ChaCha8Rng::seed_from_u64(8);
            for (w, n) in wide.params.iter_mut().zip(&narrow.params) {
                if w.shape == n.shape {
                    w.data.clone_from(&n.data);
                } else {
                    // weight_ih of the first layer: the narrow one's columns, then any.
                    for (row, src) in w
                        .data
                        .chunks_exact_mut(input + 1)
                        .zip(n.data.chunks_exact(input))
                    {
                        row[..input].copy_from_slice(src);
                        row[input] = rng.gen_range(-1.0..1.0);
                    }
                }
            }
            let x = init::normal(&mut rng, steps * batch * input, 1.0);
            let x_wide: Vec<f32> = x
                .chunks_exact(input)
                .flat_map(|row| row.iter().copied().chain([0.0]))
                .collect();
            let y = init::normal(&mut rng, steps * batch * 2, 1.0);
            let run = |model: &Model, x: &[f32]| {
                let mut state = State::new();
                let pass = Pass {
                    state: Some(&mut state),
                    ..Pass::default()
                };
                let (loss, grads, _) = model.train_pass(x, &y, batch, steps, pass);
                (loss, grads, state)
            };
            let (a, b) = (run(&narrow, &x), run(&wide, &x_wide));
            let close = |p: &[f32], q: &[f32]| {
                p.len() == q.len()
                    && p.iter()
                        .zip(q)
                        .all(|(p, q)| (p - q).abs() <= 1e-6 + 1e-5 * p.abs().max(q.abs()))
            };
            assert!(close(&[a.0], &[b.0]), "{first:?}: loss {} vs {}", a.0, b.0);
            for ((ga, gb), p) in a.1.iter().zip(&b.1).zip(&narrow.params) {
                let gb: Vec<f32> = if ga.len() == gb.len() {
                    gb.clone()
                } else {
                    gb.chunks_exact(input + 1)
                        .flat_map(|r| r[..input].to_vec())
                        .collect()
                };
                assert!(close(ga, &gb), "{first:?}: {}", p.name);
            }
            for (sa, sb) in a.2.iter().zip(&b.2) {
                assert!(
                    close(&sa.h, &sb.h) && close(&sa.c, &sb.c),
                    "{first:?}: state"
                );
            }
        }
    }

    /// With two threads a batch is cut in two and each half runs its own
    /// recurrence: outputs, loss, gradients, flow and carried state match one thread.
    /// (Every layer is large enough to be split: see `recurrent::Parts`.)
    #[test]
    fn two_threads_match_one() {
        let layers = [
            layer(Cell::Lstm, 48),
            layer(Cell::Gru, 56),
            layer(Cell::Rnn, 96),
        ];
        for every_step in [false, true] {
            let model = Model::new(&layers, 3, 2, every_step, 9);
            let (batch, steps) = (13, 40);
            let mut rng = ChaCha8Rng::seed_from_u64(4);
            let x = init::normal(&mut rng, steps * batch * 3, 1.0);
            let rows = if every_step { steps * batch } else { batch };
            let y = init::normal(&mut rng, rows * 2, 1.0);
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    let mut state = State::new();
                    model.predict_from(&x, batch, steps, &mut state);
                    let pass = Pass {
                        state: Some(&mut state),
                        flow: true,
                        ..Pass::default()
                    };
                    let (loss, grads, flow) = model.train_pass(&x, &y, batch, steps, pass);
                    (loss, grads, flow, state)
                })
            };
            let (one, two) = (run(1), run(2));
            let close = |a: &[f32], b: &[f32]| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(p, q)| (p - q).abs() <= 1e-6 + 1e-5 * p.abs().max(q.abs()))
            };
            assert!(close(&[one.0], &[two.0]));
            for (g1, g2) in one.1.iter().zip(&two.1) {
                assert!(close(g1, g2), "{g1:?}\n{g2:?}");
            }
            for (f1, f2) in one.2.iter().zip(&two.2) {
                assert!(close(f1, f2), "{f1:?}\n{f2:?}");
            }
            for (s1, s2) in one.3.iter().zip(&two.3) {
                assert!(close(&s1.h, &s2.h) && close(&s1.c, &s2.c));
            }
        }
    }

    /// The linear model (no recurrent layers) is a dense layer on the
    /// flattened window: output = W · [x_0; x_1; …] + b, sample by sample.
    #[test]
    fn linear_model_reads_the_flattened_window() {
        let (steps, batch, features) = (3, 2, 2);
        let mut model = Model::new(&[], steps * features, 1, false, 0);
        assert_eq!(model.describe(), "flatten → dense(1)");
        let w: Vec<f32> = (1..=6).map(|v| v as f32).collect();
        model.params[0].data = w.clone();
        model.params[1].data = vec![0.5];
        // Time-major input: x[t][b][f] = 10·b + 2·t + f.
        let mut x = Vec::new();
        for t in 0..steps {
            for b in 0..batch {
                for f in 0..features {
                    x.push((10 * b + 2 * t + f) as f32);
                }
            }
        }
        let out = model.predict(&x, batch, steps);
        for (b, o) in out.iter().enumerate() {
            let flat: Vec<f32> = (0..steps * features).map(|i| (10 * b + i) as f32).collect();
            let want: f32 = flat.iter().zip(&w).map(|(a, c)| a * c).sum::<f32>() + 0.5;
            assert_eq!(*o, want);
        }
        let (_, grads) = model.loss_and_grads(&x, &[0.0, 0.0], batch, steps, None);
        assert_eq!(grads[0].len(), 6);
    }

    /// ‖∂L/∂h_t‖ at the last step equals ‖headᵀ·∂L/∂y‖, and through a tanh RNN
    /// with small recurrent weights the gradient vanishes towards t = 0.
    #[test]
    fn gradient_flow_through_time() {
        let mut model = Model::new(&[layer(Cell::Rnn, 4)], 1, 1, false, 3);
        for v in &mut model.params[1].data {
            *v *= 0.3; // weight_hh: a contracting recurrence
        }
        let (batch, steps) = (2, 30);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let x = init::normal(&mut rng, steps * batch, 1.0);
        let y = vec![1.0, -1.0];
        let (loss, grads, flow) = model.loss_grads_flow(&x, &y, batch, steps, None);
        let (loss2, grads2) = model.loss_and_grads(&x, &y, batch, steps, None);
        assert_eq!((loss, &grads), (loss2, &grads2));
        assert_eq!(flow.len(), 1);
        assert_eq!(flow[0].len(), steps);
        let out = model.predict(&x, batch, steps);
        let w = &model.params[4].data; // head.weight (1 × 4)
                                       // dL/dy_b = 2 (y_b − t_b) / batch for the mean squared error.
        let last: f32 = (0..batch)
            .map(|b| {
                let g = 2.0 * (out[b] - y[b]) / batch as f32;
                w.iter().map(|wi| (wi * g) * (wi * g)).sum::<f32>()
            })
            .sum::<f32>()
            .sqrt();
        assert!(
            (flow[0][steps - 1] - last).abs() < 1e-6,
            "{} vs {last}",
            flow[0][steps - 1]
        );
        assert!(flow[0][0] < 1e-3 * flow[0][steps - 1], "{:?}", flow[0]);
    }

    #[test]
    fn weights_round_trip_through_safetensors() {
        let layers = [layer(Cell::Gru, 4), layer(Cell::Lstm, 3)];
        let model = Model::new(&layers, 2, 1, false, 1);
        let bytes = model.to_safetensors(Default::default());
        let mut other = Model::new(&layers, 2, 1, false, 2);
        assert_ne!(other.params, model.params);
        other
            .load_safetensors(&bytes, Path::new("w.safetensors"))
            .unwrap();
        assert_eq!(other.params, model.params);
        let mut wrong = Model::new(&[layer(Cell::Gru, 5)], 2, 1, false, 1);
        let err = wrong
            .load_safetensors(&bytes, Path::new("w.safetensors"))
            .unwrap_err();
        assert!(err.to_string().contains("shape"), "{err}");
        let err = wrong
            .load_safetensors(b"garbage", Path::new("g.safetensors"))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("g.safetensors: not a readable"),
            "{err}"
        );
    }

    #[test]
    fn summary_counts_parameters_like_pytorch() {
        // nn.LSTM(1, 20): 4·20·(1 + 20 + 2) = 1840; nn.GRU(20, 10): 3·10·(20 + 10 + 2) = 960; Linear(10, 1): 11.
        let model = Model::new(
            &[layer(Cell::Lstm, 20), layer(Cell::Gru, 10)],
            1,
            1,
            false,
            0,
        );
        assert_eq!(model.parameter_count(), 1840 + 960 + 11);
        assert_eq!(model.describe(), "lstm(20) → gru(10) → dense(1)");
        assert!(model.summary().contains("total parameters: 2811"));
    }
}
