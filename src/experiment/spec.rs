//! The experiment schema: every key of an experiment file, with its default.
//!
//! These structs are parsed strictly (`deny_unknown_fields`) and, once
//! [`super::validate`] has run, hold no unresolved defaults: the run directory's
//! `experiment.toml` is this struct serialised back, every key explicit.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::forecast_spec::{
    Calendar, Calibration, Distribution, EvaluateSpec, GAUSSIAN_LEVELS, Residual, level_name,
};

/// A whole experiment: data, task, model, training and checkpoint settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Run name prefix (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// Seed from which everything random derives (initialisation, shuffling, dropout, synthetic data).
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub data: DataSpec,
    #[serde(default)]
    pub task: TaskSpec,
    pub model: ModelSpec,
    #[serde(default)]
    pub train: TrainSpec,
    #[serde(default)]
    pub checkpoint: CheckpointSpec,
    /// The rolling-origin backtest of a forecast's test part.
    #[serde(default)]
    pub evaluate: EvaluateSpec,
    /// A published result this experiment reproduces (read by `rnnlab table`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceSpec>,
}

/// What `rnnlab table` compares this experiment's result with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Where the figure comes from, e.g. "Hands-On ML 2e, ch. 15".
    pub source: String,
    /// The model as the source names it.
    pub label: String,
    /// The compared quantity: a validation metric (`mse`, `rmse`, `mae`,
    /// seq2seq `last_mse`, …) or a baseline (`baseline.naive`,
    /// `baseline.seasonal_naive`, `baseline.mean`). With `goal = "beat"`, the
    /// baseline to beat.
    #[serde(default = "default_metric")]
    pub metric: String,
    /// The published value (`match`) or the threshold (`below`); absent for `beat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// How the result is judged.
    #[serde(default)]
    pub goal: Goal,
}

/// How `rnnlab table` judges an experiment's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Reproduce a published figure: the final validation `metric` beside `value`.
    #[default]
    Match,
    /// Reach a final validation `metric` below the threshold `value` (the
    /// adding problem is "solved" at MSE < 0.01).
    Below,
    /// Beat the baseline named by `metric` on the test split, by RMSE in
    /// original units.
    Beat,
}

impl Goal {
    /// The name used in experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Goal::Match => "match",
            Goal::Below => "below",
            Goal::Beat => "beat",
        }
    }
}

fn default_metric() -> String {
    "mse".into()
}

fn default_seed() -> u64 {
    42
}

/// Where the sequences come from and how they are cut into samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    pub source: Source,
    /// CSV file; relative paths are resolved against the experiment file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub layout: Layout,
    /// Series layout: input columns (empty = every numeric column).
    #[serde(default)]
    pub columns: Vec<String>,
    /// Series layout: the column to predict (default: the first input column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Rows layout: values per time step.
    #[serde(default = "one")]
    pub features: usize,
    /// Input time steps per sample.
    #[serde(default = "default_window")]
    pub window: usize,
    /// Steps predicted ahead.
    #[serde(default = "one")]
    pub horizon: usize,
    /// Series layout: step between consecutive windows.
    #[serde(default = "one")]
    pub stride: usize,
    /// Train / valid / test fractions.
    #[serde(default = "default_split")]
    pub split: [f64; 3],
    /// Scaling fitted on the training part; default `zscore` for CSV data, `none` for synthetic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<Normalize>,
    /// What to do with empty or non-numeric cells in a CSV.
    #[serde(default)]
    pub missing: Missing,
    /// CSV data: a transform of every input column and the target, applied
    /// before scaling; predictions, metrics and baselines stay in original units.
    #[serde(default)]
    pub transform: Transform,
    /// Season length in steps for the seasonal-naive baseline (0 = none).
    #[serde(default)]
    pub season: usize,
    /// Series forecasts: lagged copies of the target as extra input
    /// columns (`lags = [288]` adds `y_{t−288}` at step t), appended after
    /// `columns` and named `{target}_lag{L}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lags: Vec<usize>,
    /// Series layout: the column of timestamps the calendar features are
    /// derived from (not an input itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column: Option<String>,
    /// Series layout: calendar features of `time_column`, each a sine and a
    /// cosine input column, appended after the lags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calendar: Vec<Calendar>,
    /// Series forecasts: columns whose values at the forecast steps are
    /// known when the forecast is made (a weather forecast, a planned
    /// promotion, a holiday flag). Each is given to the model led by the
    /// horizon: input column `{c}_lead{H}` holds its value `H` steps
    /// later (H = data.horizon, 1 for one-step), so the window's last `H`
    /// rows carry its values over the forecast steps. Appended after the
    /// calendar features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub future_columns: Vec<String>,
    /// Series layout: the column naming the series each row belongs to
    /// (several series in one file, trained as one global model). Each
    /// series is split by `split` on its own rows; windows never cross
    /// series; metrics are reported per series and over all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_column: Option<String>,
    /// CSV series: read only the file's first `end_row` data records, so
    /// nothing after the cut reaches the parts, the scaler or the lags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_row: Option<usize>,
    /// Synthetic: which generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<Generator>,
    /// Synthetic: number of sequences.
    #[serde(default = "default_count")]
    pub count: usize,
    /// Synthetic: steps per sequence (default `window + horizon` for forecasting, `window` for adding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    /// Sentences: the most frequent training words kept in the vocabulary
    /// (the rest read as the unknown-word token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<usize>,
    /// Sentences: a word needs this many training occurrences to get its own token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_count: Option<usize>,
}

/// `data.vocab_size` when a sentences file does not set it.
pub const DEFAULT_VOCAB: usize = 10_000;
/// `data.min_count` when a sentences file does not set it.
pub const DEFAULT_MIN_COUNT: usize = 2;
/// The text column of a sentences file when `data.columns` does not name it.
pub const DEFAULT_TEXT_COLUMN: &str = "text";
/// The label column of a sentences file when `data.target` does not name it.
pub const DEFAULT_LABEL_COLUMN: &str = "label";

impl DataSpec {
    /// Sentences: the vocabulary size (resolved by validation; the default otherwise).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size.unwrap_or(DEFAULT_VOCAB)
    }

    /// Sentences: the occurrences a word needs for a token of its own.
    pub fn min_count(&self) -> usize {
        self.min_count.unwrap_or(DEFAULT_MIN_COUNT)
    }

    /// Sentences: the text column.
    pub fn text_column(&self) -> &str {
        self.columns
            .first()
            .map_or(DEFAULT_TEXT_COLUMN, String::as_str)
    }

    /// Sentences: the label column.
    pub fn label_column(&self) -> &str {
        self.target.as_deref().unwrap_or(DEFAULT_LABEL_COLUMN)
    }
}

fn one() -> usize {
    1
}
fn default_window() -> usize {
    50
}
fn default_split() -> [f64; 3] {
    [0.7, 0.2, 0.1]
}
fn default_count() -> usize {
    10_000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Csv,
    Synthetic,
    /// A plain UTF-8 text file read one character per step (`task.kind = "generate"`).
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// One long series; rows are time steps; windows slide over it.
    #[default]
    Series,
    /// Each row is one sequence, time-major, `features` values per step.
    Rows,
    /// Each row is a sentence (the `columns` text column, default `text`) with
    /// a class label (the `target` column, default `label`); split at random
    /// (seeded), not chronologically (`task.kind = "classify"`).
    Sentences,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    None,
    Zscore,
    Minmax,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    #[default]
    Error,
    Interpolate,
    Drop,
}

/// A value transform applied before scaling and inverted on every prediction
/// (its arithmetic is in `data::transform`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Values as they are.
    #[default]
    None,
    /// Natural logarithm (values must be > 0): turns a seasonal swing that
    /// grows with the level into one of constant size.
    Log,
    /// `ln(1 + x)` (values must be > −1): as `log`, for series with zeros.
    Log1p,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// Hands-On ML ch. 15: two sines plus noise.
    TwoSines,
    /// One sine of random frequency and phase plus noise.
    Sine,
    /// The adding problem (Hochreiter & Schmidhuber 1997).
    Adding,
}

/// What the model is trained to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    #[serde(default)]
    pub kind: TaskKind,
    #[serde(default)]
    pub strategy: Strategy,
    /// Classify: display names of the label values in sorted order (default: the values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Classify: sentences whose predictions the dashboard shows at each evaluation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<String>,
    /// Generate: sampling temperature (default 0.8; tunable live).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Generate: characters sampled at each evaluation (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_length: Option<usize>,
    /// Generate: the text the samples start from (default: a newline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prime: Option<String>,
    /// Forecasts (one-step, vector): the model predicts the correction to
    /// this baseline's forecast instead of the values themselves.
    #[serde(default)]
    pub residual: Residual,
    /// Forecasts (all strategies but iterative): quantile levels in (0, 1), strictly
    /// increasing and including 0.5; the head predicts each, trained by the
    /// pinball loss, and the median is the point forecast.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantiles: Vec<f64>,
    /// Forecasts (all strategies but iterative): a forecast distribution instead of a
    /// point, trained by its negative log-likelihood; the mean is the point
    /// forecast and its quantiles [`GAUSSIAN_LEVELS`] are reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<Distribution>,
    /// Forecasts with intervals: calibrate them after training on the
    /// validation part.
    #[serde(default)]
    pub calibration: Calibration,
    /// Encoder–decoder: the probability, at the first training step, that
    /// the decoder is fed the true previous value rather than its own
    /// prediction (1 = teacher forcing throughout).
    #[serde(default = "one_f64", skip_serializing_if = "is_one")]
    pub teacher_forcing: f64,
    /// Encoder–decoder: that probability at the last training step, reached
    /// linearly (scheduled sampling); default `teacher_forcing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_forcing_end: Option<f64>,
}

impl Default for TaskSpec {
    fn default() -> TaskSpec {
        TaskSpec {
            kind: TaskKind::default(),
            strategy: Strategy::default(),
            classes: Vec::new(),
            probes: Vec::new(),
            temperature: None,
            sample_length: None,
            prime: None,
            residual: Residual::default(),
            quantiles: Vec::new(),
            distribution: None,
            calibration: Calibration::None,
            teacher_forcing: 1.0,
            teacher_forcing_end: None,
        }
    }
}

impl TaskSpec {
    /// Encoder–decoder: the probability of feeding the decoder its own
    /// previous prediction at training step `step` of `total` (1-based):
    /// 1 − the teacher-forcing probability, which moves linearly from
    /// `teacher_forcing` to `teacher_forcing_end`.
    pub fn own_rate(&self, step: u64, total: u64) -> f64 {
        let start = self.teacher_forcing;
        let end = self.teacher_forcing_end.unwrap_or(start);
        let at = if total > 1 {
            (step.saturating_sub(1) as f64 / (total - 1) as f64).min(1.0)
        } else {
            0.0
        };
        1.0 - (start + (end - start) * at)
    }
}

fn one_f64() -> f64 {
    1.0
}

fn is_one(v: &f64) -> bool {
    *v == 1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Predict future values of the series.
    #[default]
    Forecast,
    /// Predict explicit targets (e.g. the adding problem).
    Regress,
    /// Label each sentence with a class (softmax, cross-entropy).
    Classify,
    /// Predict the next character at every step; sample text from the model.
    Generate,
}

/// The forecasting strategies of the RNN material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Predict the next value.
    #[default]
    OneStep,
    /// Train one-step; forecast `horizon` values by feeding each prediction back.
    Iterative,
    /// The last state predicts all `horizon` values at once.
    Vector,
    /// A prediction of the next `horizon` values at every time step.
    Seq2seq,
    /// An encoder stack reads the window; a decoder stack unrolls the
    /// horizon one step at a time from the encoder's context, fed the
    /// previous value (the truth in training: teacher forcing; its own
    /// prediction in forecasting) and the step's known-future inputs.
    EncoderDecoder,
}

/// The stacked recurrent layers (a dense head follows them). No layers
/// (`layers = []`) is the linear baseline: a dense layer on the flattened window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Text tasks: width of the learned token embedding the first layer reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<usize>,
    pub layers: Vec<LayerSpec>,
    /// `strategy = "encoder-decoder"`: the decoder's layers (`layers` is
    /// then the encoder); empty = the encoder's layers, one direction each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoder: Vec<LayerSpec>,
}

/// One recurrent layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    pub cell: Cell,
    pub units: usize,
    /// Simple RNN only (default `tanh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// Dropout on this layer's outputs, training only.
    #[serde(default)]
    pub dropout: f64,
    #[serde(default)]
    pub init: Init,
    /// LSTM only: added to the forget gate's input bias at initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forget_bias: Option<f64>,
    /// A second pass over the sequence backwards, its outputs beside the
    /// forward pass's (the layer's output is `2 × units` wide).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bidirectional: bool,
    /// Variational dropout on the recurrent state: one mask per sequence on
    /// `h_{t-1}` where it enters the recurrent product, training only.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub recurrent_dropout: f64,
    /// Normalisation inside the cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub norm: Option<Norm>,
}

/// Normalisation inside a recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// Layer normalisation (Ba et al. 2016) of the pre-activation, with a
    /// learned gain and bias per unit.
    Layer,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl LayerSpec {
    /// The activation of a simple RNN layer (`tanh` unless set).
    pub fn activation(&self) -> Activation {
        self.activation.unwrap_or(Activation::Tanh)
    }
    /// The LSTM forget-gate bias offset (0 unless set).
    pub fn forget_bias(&self) -> f64 {
        self.forget_bias.unwrap_or(0.0)
    }
    /// The passes over the sequence: 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }
    /// Values per step of the layer's output: `units`, twice that when bidirectional.
    pub fn width(&self) -> usize {
        self.units * self.directions()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Rnn,
    Lstm,
    Gru,
    /// Feng et al. (2024): the GRU without `h_{t-1}` in its gates, a linear scan over time.
    #[serde(rename = "mingru")]
    MinGru,
    /// Feng et al. (2024): the LSTM without `h_{t-1}` in its gates, forget and input gates normalised.
    #[serde(rename = "minlstm")]
    MinLstm,
}

impl Cell {
    /// Gates per unit in the fused weight matrices (PyTorch layout).
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
            Cell::MinGru => 2,
            Cell::MinLstm => 3,
        }
    }
    /// Whether the cell has recurrent weights (`weight_hh`, `bias_hh`): all
    /// but the minimal cells, whose gates read only `x_t`.
    pub fn recurrent_weights(self) -> bool {
        !matches!(self, Cell::MinGru | Cell::MinLstm)
    }
    /// Gate names in weight-row order (PyTorch): LSTM i, f, g, o; GRU r, z, n;
    /// none for a simple RNN; minGRU z and the candidate h; minLSTM f, i, h.
    pub fn gate_names(self) -> &'static [&'static str] {
        match self {
            Cell::Rnn => &[],
            Cell::Lstm => &["i", "f", "g", "o"],
            Cell::Gru => &["r", "z", "n"],
            Cell::MinGru => &["z", "h"],
            Cell::MinLstm => &["f", "i", "h"],
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn => "rnn",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
            Cell::MinGru => "mingru",
            Cell::MinLstm => "minlstm",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Tanh,
    Relu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// U(-1/√units, 1/√units) for every weight and bias, as PyTorch.
    #[default]
    Pytorch,
    /// Glorot-uniform input weights, orthogonal recurrent weights, zero biases, as Keras.
    Keras,
    /// IRNN (Le et al. 2015): identity recurrent weights, zero biases; simple RNN only.
    Identity,
}

/// Optimisation settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    #[serde(default)]
    pub optimizer: Optimizer,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    /// SGD momentum (0 = plain SGD).
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// 0 = no limit; training stops at `epochs` or `max_steps`, whichever comes first.
    #[serde(default)]
    pub max_steps: u64,
    /// 0 = off; clips by global L2 norm.
    #[serde(default)]
    pub clip_grad_norm: f64,
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Early-stopping patience in evaluations; 0 = off.
    #[serde(default)]
    pub early_stopping: usize,
    /// Steps between evaluations; 0 = once per epoch.
    #[serde(default)]
    pub eval_every: u64,
    /// Worker threads for matrix products; 0 = automatic.
    #[serde(default)]
    pub threads: usize,
    /// Steps between gradient-flow snapshots (‖∂L/∂h_t‖ per step and layer,
    /// per-gate norms) in `flow.csv` and the dashboard; 0 = off.
    #[serde(default = "default_flow_every")]
    pub flow_every: u64,
}

fn default_lr() -> f64 {
    0.001
}
fn default_momentum() -> f64 {
    0.9
}
fn default_batch() -> usize {
    32
}
fn default_epochs() -> usize {
    20
}
fn default_flow_every() -> u64 {
    50
}

impl Default for TrainSpec {
    fn default() -> Self {
        Self {
            optimizer: Optimizer::default(),
            learning_rate: default_lr(),
            momentum: default_momentum(),
            batch_size: default_batch(),
            epochs: default_epochs(),
            max_steps: 0,
            clip_grad_norm: 0.0,
            lr_schedule: LrSchedule::default(),
            early_stopping: 0,
            eval_every: 0,
            threads: 0,
            flow_every: default_flow_every(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    #[default]
    Adam,
    Sgd,
    Rmsprop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    #[default]
    Constant,
    /// Cosine decay to zero over the whole run.
    Cosine,
    /// Halve the rate when the validation loss has not improved for 2 evaluations.
    Plateau,
}

/// When checkpoints are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSpec {
    /// 0 = at each epoch end.
    #[serde(default)]
    pub every_steps: u64,
    /// Periodic checkpoints kept (older ones are deleted); 0 = keep all.
    #[serde(default = "default_keep")]
    pub keep_last: usize,
    /// Also keep the best model by validation loss as `checkpoints/best.safetensors`.
    #[serde(default)]
    pub keep_best: bool,
}

fn default_keep() -> usize {
    3
}

impl Default for CheckpointSpec {
    fn default() -> Self {
        Self {
            every_steps: 0,
            keep_last: default_keep(),
            keep_best: false,
        }
    }
}
