//! `rnnlab bench`: the time of one training step (forward, MSE, backward,
//! Adam) for standard configurations, as median and spread over many steps.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::experiment::{Activation, Cell, Init, LayerSpec, Optimizer as Kind};
use crate::model::Model;
use crate::train::Optimizer;

/// One benchmark configuration.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub name: &'static str,
    pub cell: Cell,
    pub activation: Activation,
    pub layers: usize,
    pub units: usize,
    pub input: usize,
    pub steps: usize,
    pub batch: usize,
}

/// The configurations every performance figure of rnnlab refers to.
pub const CONFIGS: [Config; 4] = [
    Config {
        name: "lstm-2x64",
        cell: Cell::Lstm,
        activation: Activation::Tanh,
        layers: 2,
        units: 64,
        input: 1,
        steps: 50,
        batch: 32,
    },
    Config {
        name: "lstm-2x256",
        cell: Cell::Lstm,
        activation: Activation::Tanh,
        layers: 2,
        units: 256,
        input: 32,
        steps: 100,
        batch: 64,
    },
    Config {
        name: "gru-2x128",
        cell: Cell::Gru,
        activation: Activation::Tanh,
        layers: 2,
        units: 128,
        input: 8,
        steps: 50,
        batch: 32,
    },
    Config {
        name: "rnn-relu-2x128",
        cell: Cell::Rnn,
        activation: Activation::Relu,
        layers: 2,
        units: 128,
        input: 8,
        steps: 50,
        batch: 32,
    },
];

/// Timings of one configuration, in milliseconds.
#[derive(Debug, Clone)]
pub struct Timing {
    pub config: Config,
    pub median_ms: f64,
    pub p10_ms: f64,
    pub p90_ms: f64,
    pub runs: usize,
    /// Floating-point operations of one training step (matrix products only).
    pub flops: f64,
}

impl Config {
    /// Matrix-product FLOPs of a training step: the forward products, and twice
    /// as many in the backward pass.
    pub fn flops(&self) -> f64 {
        let gh = (self.cell.gates() * self.units) as f64;
        let tb = (self.steps * self.batch) as f64;
        let mut fan_in = self.input as f64;
        let mut forward = 0.0;
        for _ in 0..self.layers {
            forward += 2.0 * tb * (fan_in + self.units as f64) * gh;
            fan_in = self.units as f64;
        }
        3.0 * forward
    }
}

/// Times `runs` training steps of `config` after a short warm-up.
pub fn time(config: Config, runs: usize) -> Timing {
    let layer = LayerSpec {
        cell: config.cell,
        units: config.units,
        activation: (config.cell == Cell::Rnn).then_some(config.activation),
        dropout: 0.0,
        init: Init::Pytorch,
        forget_bias: None,
    };
    let mut model = Model::new(&vec![layer; config.layers], config.input, 1, false, 0);
    let sizes: Vec<usize> = model.params.iter().map(|p| p.data.len()).collect();
    let mut opt = Optimizer::new(Kind::Adam, 0.0, &sizes);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x: Vec<f32> = (0..config.steps * config.batch * config.input)
        .map(|_| rand::Rng::gen_range(&mut rng, -1.0..1.0))
        .collect();
    let y: Vec<f32> = (0..config.batch)
        .map(|_| rand::Rng::gen_range(&mut rng, -1.0..1.0))
        .collect();
    let mut step = |model: &mut Model| {
        let (_, grads) = model.loss_and_grads(&x, &y, config.batch, config.steps, None);
        let mut params: Vec<&mut [f32]> =
            model.params.iter_mut().map(|p| &mut p.data[..]).collect();
        opt.step(1e-4, &mut params, &grads);
    };
    for _ in 0..3 {
        step(&mut model);
    }
    let mut ms: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            step(&mut model);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Timing {
        config,
        median_ms: at(0.5),
        p10_ms: at(0.1),
        p90_ms: at(0.9),
        runs: ms.len(),
        flops: config.flops(),
    }
}

/// A Markdown table of timings; `% of peak` when the CPU's peak GFLOP/s is given.
pub fn table(timings: &[Timing], peak_gflops: Option<f64>) -> String {
    let mut out = String::from(
        "| config | input | T | batch | median ms/step | p10–p90 ms | GFLOP/s | % of peak |\n|---|---|---|---|---|---|---|---|\n",
    );
    for t in timings {
        let gflops = t.flops / (t.median_ms * 1e-3) / 1e9;
        let peak = peak_gflops.map_or("–".to_string(), |p| {
            format!("{:.0} %", 100.0 * gflops / p)
        });
        out += &format!(
            "| {} | {} | {} | {} | {:.2} | {:.2}–{:.2} | {:.1} | {} |\n",
            t.config.name,
            t.config.input,
            t.config.steps,
            t.config.batch,
            t.median_ms,
            t.p10_ms,
            t.p90_ms,
            gflops,
            peak
        );
    }
    out
}
