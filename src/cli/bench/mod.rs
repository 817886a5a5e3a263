//! `rnnlab bench`: the time of one training step (forward, MSE, backward,
//! Adam) and of one inference pass (forward only) for standard
//! configurations, as median and spread over many runs; optionally beside
//! PyTorch's times for the same work (`scripts/torch_bench.py`).

pub mod deepbench;
mod grid;
mod memory;
mod report;
mod torch;

use std::path::PathBuf;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use thiserror::Error;

use crate::experiment::{Activation, Cell, Init, LayerSpec, Optimizer as Kind};
use crate::model::Model;
use crate::train::Optimizer;

pub use grid::grid;
pub use memory::Peak;
pub use report::{compare_table, memory_table, table};
pub use torch::{TorchTiming, reference};

/// One benchmark configuration: a stack of `layers` equal recurrent layers of
/// `units` units and a linear head with one output on the last step.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The name used by `--config` and in tables; empty for the shapes of
    /// `--sweep`, named by [`Config::label`] from their sizes.
    pub name: &'static str,
    pub cell: Cell,
    /// Only used by simple RNN layers.
    pub activation: Activation,
    pub layers: usize,
    pub units: usize,
    /// Input features per step.
    pub input: usize,
    /// Sequence length T.
    pub steps: usize,
    pub batch: usize,
}

/// The configurations every performance figure of rnnlab refers to.
pub const CONFIGS: [Config; 8] = [
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
    // Vanishing gradients: the adding problem's shape (2 inputs, T = 200)
    // on a tanh RNN, whose gradients through time decay into subnormal
    // numbers — the shape on which flushing them to zero matters.
    Config {
        name: "rnn-tanh-2x256-t200",
        cell: Cell::Rnn,
        activation: Activation::Tanh,
        layers: 2,
        units: 256,
        input: 2,
        steps: 200,
        batch: 32,
    },
    // The minimal cells against the GRU at the same width on a long
    // sequence: their gates read only x_t, so a layer is one product over
    // all steps and a scan.
    Config {
        name: "gru-2x256-t256",
        cell: Cell::Gru,
        activation: Activation::Tanh,
        layers: 2,
        units: 256,
        input: 32,
        steps: 256,
        batch: 32,
    },
    Config {
        name: "mingru-2x256-t256",
        cell: Cell::MinGru,
        activation: Activation::Tanh,
        layers: 2,
        units: 256,
        input: 32,
        steps: 256,
        batch: 32,
    },
    Config {
        name: "minlstm-2x256-t256",
        cell: Cell::MinLstm,
        activation: Activation::Tanh,
        layers: 2,
        units: 256,
        input: 32,
        steps: 256,
        batch: 32,
    },
];

/// Untimed steps before timing starts.
const WARMUP: usize = 3;

impl Config {
    /// Matrix-product FLOPs of one forward pass (the head is negligible).
    pub fn forward_flops(&self) -> f64 {
        let gh = (self.cell.gates() * self.units) as f64;
        let tb = (self.steps * self.batch) as f64;
        let mut fan_in = self.input as f64;
        let mut forward = 0.0;
        // The minimal cells have no recurrent product.
        let recurrent = if self.cell.recurrent_weights() {
            self.units as f64
        } else {
            0.0
        };
        for _ in 0..self.layers {
            forward += 2.0 * tb * (fan_in + recurrent) * gh;
            fan_in = self.units as f64;
        }
        forward
    }

    /// Matrix-product FLOPs of a training step: the forward products, and
    /// twice as many in the backward pass.
    pub fn train_flops(&self) -> f64 {
        3.0 * self.forward_flops()
    }

    /// The name in tables and `--config`: [`Config::name`], or for a shape of
    /// the sweep its sizes, e.g. `lstm-2x256-t100-b64`.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!(
                "{}-{}x{}-t{}-b{}",
                self.torch_cell(),
                self.layers,
                self.units,
                self.steps,
                self.batch
            )
        } else {
            self.name.to_string()
        }
    }

    /// The cell as `scripts/torch_bench.py` names it.
    fn torch_cell(&self) -> &'static str {
        match (self.cell, self.activation) {
            (Cell::Lstm, _) => "lstm",
            (Cell::Gru, _) => "gru",
            (Cell::Rnn, Activation::Relu) => "rnn-relu",
            (Cell::Rnn, Activation::Tanh) => "rnn-tanh",
            (Cell::MinGru, _) => "mingru",
            (Cell::MinLstm, _) => "minlstm",
        }
    }
}

/// Why a benchmark could not run.
#[derive(Debug, Error)]
pub enum BenchError {
    #[error("no benchmark configuration matches `{name}`; known: {}", known())]
    UnknownConfig { name: String },
    #[error(
        "could not start `{python}`: {source}\n  hint: install Python 3 with torch, or pass --python PATH"
    )]
    Python {
        python: String,
        source: std::io::Error,
    },
    #[error(
        "{message}\n  hint: `{python} -m pip install torch`, or pass --python PATH to a Python that has it"
    )]
    TorchMissing { python: String, message: String },
    #[error("scripts/torch_bench.py not found (looked at {})\n  hint: run from the repository root", .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    ScriptMissing { looked: Vec<PathBuf> },
    #[error("the PyTorch reference failed ({status}):\n{stderr}")]
    ScriptFailed { status: String, stderr: String },
    #[error("unexpected output from the PyTorch reference: {0}")]
    BadOutput(String),
    #[error("the benchmark's child process failed: {message}")]
    Child { message: String },
    #[error("could not start {threads} threads: {source}")]
    Threads {
        threads: usize,
        source: rayon::ThreadPoolBuildError,
    },
}

impl crate::error::Failure for BenchError {
    fn kind(&self) -> crate::error::Kind {
        match self {
            BenchError::UnknownConfig { .. } => crate::error::Kind::BadInput,
            _ => crate::error::Kind::Failure,
        }
    }
}

fn known() -> String {
    CONFIGS.map(|c| c.name).join(", ")
}

/// The configurations (of the sweep's grid with `sweep`) whose name
/// contains `filter` (all without one); an error when none does.
pub fn select(filter: Option<&str>, sweep: bool) -> Result<Vec<Config>, BenchError> {
    let all = if sweep { grid() } else { CONFIGS.to_vec() };
    let chosen: Vec<Config> = all
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.label().contains(f)))
        .collect();
    match (chosen.is_empty(), filter) {
        (true, Some(name)) => Err(BenchError::UnknownConfig { name: name.into() }),
        _ => Ok(chosen),
    }
}

/// A model, its optimizer and random data for one configuration: what one
/// training step or inference pass works on.
pub struct Workload {
    config: Config,
    model: Model,
    opt: Optimizer,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl Workload {
    /// A freshly initialised model (PyTorch's init) and inputs and targets
    /// drawn from U(-1, 1), all from fixed seeds.
    pub fn new(config: Config) -> Workload {
        let layer = LayerSpec {
            cell: config.cell,
            units: config.units,
            activation: (config.cell == Cell::Rnn).then_some(config.activation),
            dropout: 0.0,
            init: Init::Pytorch,
            forget_bias: None,
            bidirectional: false,
            recurrent_dropout: 0.0,
            norm: None,
        };
        let model = Model::new(&vec![layer; config.layers], config.input, 1, false, 0);
        let sizes: Vec<usize> = model.params.iter().map(|p| p.data.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut uniform =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect() };
        let x = uniform(config.steps * config.batch * config.input);
        let y = uniform(config.batch);
        Workload {
            config,
            model,
            opt: Optimizer::new(Kind::Adam, 0.0, &sizes),
            x,
            y,
        }
    }

    /// One training step: forward, MSE, backward and an Adam update. Returns
    /// the loss.
    pub fn train_step(&mut self) -> f32 {
        let c = self.config;
        let (loss, grads) = self
            .model
            .loss_and_grads(&self.x, &self.y, c.batch, c.steps, None);
        self.opt.update(1e-4, &mut self.model, &grads);
        loss
    }

    /// One inference pass: the forward pass alone. Returns the predictions.
    pub fn infer(&self) -> Vec<f32> {
        let c = self.config;
        self.model.predict(&self.x, c.batch, c.steps)
    }
}

/// Median and spread of repeated timings, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
pub struct Stats {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
}

impl Stats {
    /// Summarises at least one timing.
    fn of(mut ms: Vec<f64>) -> Stats {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        Stats {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
        }
    }
}

/// rnnlab's timings of one configuration.
#[derive(Debug, Clone)]
pub struct Timing {
    pub config: Config,
    /// One training step.
    pub train: Stats,
    /// One forward pass.
    pub infer: Stats,
    pub runs: usize,
    /// Peak resident memory over both passes (Linux).
    pub memory: Option<Peak>,
}

/// Times `runs` (at least one) training steps and then `runs` inference passes of
/// `config`, each after a short warm-up.
pub fn measure(config: Config, runs: usize) -> Timing {
    let runs = runs.max(1);
    let ((train, infer), memory) = memory::around(|| time_both(config, runs));
    Timing {
        config,
        train,
        infer,
        runs,
        memory,
    }
}

/// The training-step and inference timings of [`measure`].
fn time_both(config: Config, runs: usize) -> (Stats, Stats) {
    let mut work = Workload::new(config);
    let timed = |f: &mut dyn FnMut()| {
        for _ in 0..WARMUP {
            f();
        }
        let ms = (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        Stats::of(ms)
    };
    let train = timed(&mut || {
        std::hint::black_box(work.train_step());
    });
    let infer = timed(&mut || {
        std::hint::black_box(work.infer());
    });
    (train, infer)
}

/// What `rnnlab bench` was asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Timed runs per pass and configuration.
    pub runs: usize,
    /// Only configurations whose name contains this.
    pub filter: Option<String>,
    /// The CPU's peak fp32 GFLOP/s, for `% of peak`.
    pub peak_gflops: Option<f64>,
    /// Threads for matrix products (rnnlab) and `torch.set_num_threads`.
    pub threads: usize,
    /// Also time PyTorch with this Python interpreter.
    pub compare: Option<String>,
    /// Time DeepBench's shapes instead (see [`deepbench`]).
    pub deepbench: bool,
    /// Time the shapes of [`grid`] instead of the standard configurations.
    pub sweep: bool,
    /// Measure the one configuration named exactly by `filter` and print its
    /// [`Measured`] as JSON: what each child process of [`run`] does.
    pub child: bool,
}

/// What a child process reports of its one configuration.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
pub struct Measured {
    pub train: Stats,
    pub infer: Stats,
    pub memory: Option<Peak>,
}

/// Measures `config` in a child process of this executable, so that its
/// peak resident memory is its own (memory a previous configuration freed
/// stays resident in the allocator and would hide the next one's peak).
fn measure_in_child(config: Config, opts: &Settings) -> Result<Timing, BenchError> {
    let exe = std::env::current_exe().map_err(|source| BenchError::Child {
        message: format!("cannot find this executable: {source}"),
    })?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["bench", "--child", "--config", &config.label()]);
    cmd.args(["--runs", &opts.runs.to_string()]);
    cmd.args(["--threads", &opts.threads.to_string()]);
    if opts.sweep {
        cmd.arg("--sweep");
    }
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| BenchError::Child {
            message: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(BenchError::Child {
            message: format!("{} ({})", text.trim(), out.status),
        });
    }
    let m: Measured = serde_json::from_str(text.trim()).map_err(|e| BenchError::Child {
        message: format!("{e}: {text}"),
    })?;
    Ok(Timing {
        config,
        train: m.train,
        infer: m.infer,
        runs: opts.runs,
        memory: m.memory,
    })
}

/// Runs the benchmark and returns its Markdown report; progress goes to stderr.
/// Each configuration is timed in a process of its own (see
/// [`measure_in_child`]), as PyTorch's are.
/// With `compare`, each configuration is timed in PyTorch and then in rnnlab,
/// one after the other, so that both see the same machine (a shared machine's
/// speed drifts over minutes); PyTorch goes first so that a missing Python or
/// torch fails fast.
pub fn run(opts: &Settings) -> Result<String, BenchError> {
    let pool = crate::kernels::fp::pool(opts.threads)
        .build()
        .map_err(|source| BenchError::Threads {
            threads: opts.threads,
            source,
        })?;
    if opts.deepbench {
        return run_deepbench(opts, &pool);
    }
    if opts.child {
        let label = opts.filter.clone().unwrap_or_default();
        let all = if opts.sweep { grid() } else { CONFIGS.to_vec() };
        let config = all
            .into_iter()
            .find(|c| c.label() == label)
            .ok_or(BenchError::UnknownConfig { name: label })?;
        let t = pool.install(|| measure(config, opts.runs));
        let m = Measured {
            train: t.train,
            infer: t.infer,
            memory: t.memory,
        };
        return Ok(format!(
            "{}\n",
            serde_json::to_string(&m).unwrap_or_default()
        ));
    }
    let configs = select(opts.filter.as_deref(), opts.sweep)?;
    let mut torch = Vec::new();
    let mut timings = Vec::new();
    for &config in &configs {
        if let Some(python) = &opts.compare {
            eprintln!(
                "timing {} in PyTorch ({} runs, {} threads)…",
                config.label(),
                opts.runs,
                opts.threads
            );
            torch.extend(reference(python, &[config], opts.runs, opts.threads)?);
        }
        eprintln!(
            "timing {} ({} runs, {} threads)…",
            config.label(),
            opts.runs,
            opts.threads
        );
        timings.push(measure_in_child(config, opts)?);
    }
    let torch = opts.compare.is_some().then_some(torch);
    let report = match torch {
        Some(torch) => format!(
            "{}\n{}",
            compare_table(&timings, &torch, opts.peak_gflops, opts.threads),
            memory_table(&timings, &torch)
        ),
        None => table(&timings, opts.peak_gflops),
    };
    Ok(format!("{report}\n{}\n", machine(opts.threads)))
}

/// `--deepbench`: every DeepBench shape whose name contains the filter.
fn run_deepbench(opts: &Settings, pool: &rayon::ThreadPool) -> Result<String, BenchError> {
    let shapes: Vec<deepbench::Shape> = deepbench::SHAPES
        .into_iter()
        .filter(|s| opts.filter.as_deref().is_none_or(|f| s.name().contains(f)))
        .collect();
    if shapes.is_empty() {
        return Err(BenchError::UnknownConfig {
            name: opts.filter.clone().unwrap_or_default(),
        });
    }
    let mut timings = Vec::new();
    for shape in shapes {
        eprintln!(
            "timing {} (batch {}, T {}; {} runs, {} threads)…",
            shape.name(),
            shape.batch,
            shape.steps,
            opts.runs,
            opts.threads
        );
        timings.push(pool.install(|| deepbench::measure(shape, opts.runs)));
    }
    Ok(format!(
        "{}\n{}\n",
        deepbench::table(&timings, opts.threads),
        machine(opts.threads)
    ))
}

/// What the figures were measured on: the CPU, its logical CPUs, the
/// instructions of the products and the threads they used.
fn machine(threads: usize) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (key.trim() == "model name").then(|| value.trim().to_string())
            })
        })
        .unwrap_or_else(|| format!("an {} CPU", std::env::consts::ARCH));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "Machine: {cpu}, {cpus} logical CPUs; products in {}, {threads} thread{}; subnormals {}.",
        crate::model::instructions(),
        if threads == 1 { "" } else { "s" },
        if crate::kernels::fp::flushing() {
            "flushed to zero"
        } else {
            "kept (RNNLAB_SUBNORMALS=keep)"
        }
    )
}
