//! `rnnlab bench --deepbench`: the training shapes of Baidu's DeepBench RNN
//! benchmark, timed on this CPU beside the published GPU times, as an
//! outside anchor for what a CPU box reaches against a datacenter GPU.
//!
//! DeepBench times one recurrent layer's forward pass, backward pass for the
//! data and backward pass for the weights, with the input projection
//! skipped (the input is taken as already multiplied by `W_ih`). rnnlab
//! times the same work as a one-layer model's forward and backward pass
//! (`loss_and_grads`: every gradient, no optimizer step) on an input of one
//! feature, so that its input projection is negligible (1 / hidden of the
//! recurrent products), plus a linear head of one output on the last step.
//! The published times (V100, cuDNN 7.6.2) are from
//! `../shared/docs/ANCHORS.md` and DeepBench's `results/train/`.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Stats;
use crate::experiment::{Activation, Cell, Init, LayerSpec};
use crate::model::Model;

/// One DeepBench training shape and its published GPU time.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub cell: Cell,
    pub activation: Activation,
    pub hidden: usize,
    pub batch: usize,
    /// Time steps.
    pub steps: usize,
    /// DeepBench's time on a V100 with cuDNN 7.6.2, in milliseconds.
    pub v100_ms: f64,
}

const fn shape(cell: Cell, hidden: usize, batch: usize, steps: usize, v100_ms: f64) -> Shape {
    Shape {
        cell,
        activation: if matches!(cell, Cell::Rnn) {
            Activation::Relu
        } else {
            Activation::Tanh
        },
        hidden,
        batch,
        steps,
        v100_ms,
    }
}

/// The shapes, smallest work first.
pub const SHAPES: [Shape; 8] = [
    shape(Cell::Lstm, 512, 16, 25, 2.20),
    shape(Cell::Lstm, 512, 64, 25, 3.03),
    shape(Cell::Lstm, 1024, 32, 25, 4.42),
    shape(Cell::Lstm, 256, 16, 150, 9.84),
    shape(Cell::Lstm, 256, 32, 150, 10.78),
    shape(Cell::Lstm, 256, 64, 150, 13.11),
    shape(Cell::Rnn, 1760, 16, 50, 7.67),
    shape(Cell::Gru, 1024, 32, 1500, 145.99),
];

impl Shape {
    pub fn name(&self) -> String {
        let cell = match self.cell {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
            Cell::Rnn => "rnn-relu",
            Cell::MinGru => "mingru",
            Cell::MinLstm => "minlstm",
        };
        format!("{cell}-{}", self.hidden)
    }

    /// FLOPs as DeepBench counts them: the recurrent products of the
    /// forward pass (2·B·H·gH a step) and twice as many backward.
    pub fn flops(&self) -> f64 {
        let (b, h, g) = (
            self.batch as f64,
            self.hidden as f64,
            self.cell.gates() as f64,
        );
        3.0 * 2.0 * self.steps as f64 * b * h * g * h
    }
}

/// rnnlab's timing of one shape.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub shape: Shape,
    pub stats: Stats,
}

/// Times `runs` forward and backward passes of `shape` after one warm-up.
pub fn measure(shape: Shape, runs: usize) -> Timing {
    let layer = LayerSpec {
        cell: shape.cell,
        units: shape.hidden,
        activation: (shape.cell == Cell::Rnn).then_some(shape.activation),
        dropout: 0.0,
        init: Init::Pytorch,
        forget_bias: None,
        bidirectional: false,
        recurrent_dropout: 0.0,
        norm: None,
    };
    let model = Model::new(&[layer], 1, 1, false, 0);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x: Vec<f32> = (0..shape.steps * shape.batch)
        .map(|_| rng.gen_range(-1.0..1.0))
        .collect();
    let y: Vec<f32> = (0..shape.batch).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let pass = || {
        std::hint::black_box(model.loss_and_grads(&x, &y, shape.batch, shape.steps, None));
    };
    pass();
    let ms = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            pass();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    Timing {
        shape,
        stats: Stats::of(ms),
    }
}

/// The Markdown table: each shape, rnnlab's time on this CPU, the V100's,
/// and their ratio.
pub fn table(timings: &[Timing], threads: usize) -> String {
    let mut out = format!(
        "DeepBench RNN training shapes (forward + backward data + backward weights, input projection skipped); \
         rnnlab on this CPU with {threads} thread{}, beside DeepBench's published V100 (cuDNN 7.6.2) times\n\n\
         | shape | hidden | batch | T | rnnlab ms | p10–p90 ms | GFLOP/s | V100 ms | rnnlab / V100 |\n\
         |---|---|---|---|---|---|---|---|---|\n",
        if threads == 1 { "" } else { "s" }
    );
    for t in timings {
        let s = &t.shape;
        let gflops = s.flops() / (t.stats.median * 1e-3) / 1e9;
        out += &format!(
            "| {} | {} | {} | {} | {:.2} | {:.2}–{:.2} | {gflops:.1} | {:.2} | {:.1}× |\n",
            s.name(),
            s.hidden,
            s.batch,
            s.steps,
            t.stats.median,
            t.stats.p10,
            t.stats.p90,
            s.v100_ms,
            t.stats.median / s.v100_ms
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_count_the_recurrent_products_three_times() {
        // LSTM 256, batch 16, 150 steps: 3 · 2 · 150 · 16 · 256 · 1024.
        let s = SHAPES[3];
        assert_eq!(s.name(), "lstm-256");
        assert_eq!(s.flops(), 3.0 * 2.0 * 150.0 * 16.0 * 256.0 * 1024.0);
        assert_eq!(SHAPES[6].name(), "rnn-relu-1760");
    }

    #[test]
    fn a_small_shape_is_timed_and_tabulated() {
        let t = measure(shape(Cell::Gru, 8, 2, 3, 1.0), 2);
        assert!(t.stats.median > 0.0);
        let table = table(&[t], 1);
        assert!(table.contains("| gru-8 | 8 | 2 | 3 |"), "{table}");
        assert!(table.contains("1 thread,"), "{table}");
    }
}
