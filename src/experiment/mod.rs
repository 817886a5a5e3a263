//! Experiment files: strict parsing, `--set` overrides, validation with
//! file:line:column errors, and the resolved [`Experiment`].

mod decoder;
mod forecast_spec;
mod inputs;
pub mod limits;
pub(crate) mod locate;
mod reference;
mod spec;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use spec::*;

/// Why an experiment could not be loaded; points at the file, line, column and key.
/// (Large, but built once per failed load, never on a hot path.)
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentError {
    pub file: PathBuf,
    /// 1-based line and column, when the problem is at a place in the file.
    pub location: Option<(usize, usize)>,
    /// The key path, e.g. `model.layers[1].units`.
    pub key: Option<String>,
    /// The `--set` override that supplied the offending value, if any.
    pub set_by: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.location {
            write!(f, ":{line}:{col}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(set) = &self.set_by {
            write!(f, " (value given by --set {set})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ExperimentError {}

impl ExperimentError {
    /// The file could not be read (`examples`: where files of its kind are).
    pub fn unreadable(e: crate::fsio::FileError, examples: &str) -> ExperimentError {
        let hint = e.hint().unwrap_or_else(|| "check the path".into());
        ExperimentError {
            message: e.reason(),
            hint: Some(format!("{hint}; {}s are TOML (see {examples})", e.what)),
            file: e.path,
            location: None,
            key: None,
            set_by: None,
        }
    }
}

impl Experiment {
    /// Reads, overrides (`section.key=value`), parses and validates an experiment file.
    pub fn load(path: &Path, sets: &[String]) -> Result<Experiment, ExperimentError> {
        let text = crate::fsio::read_text(path, crate::fsio::TOML_LIMIT, "experiment file")
            .map_err(|e| ExperimentError::unreadable(e, "experiments/"))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_str_at(&text, path, base, sets)
    }

    /// Parses experiment text as if it were the file `file`, resolving relative paths against `base`.
    pub fn from_str_at(
        text: &str,
        file: &Path,
        base: &Path,
        sets: &[String],
    ) -> Result<Experiment, ExperimentError> {
        // Positions always refer to the file as written; a value from --set has
        // no place in the file, so such errors name the override instead.
        let err = |location: Option<(usize, usize)>,
                   key,
                   set_by: Option<String>,
                   message: String,
                   hint| ExperimentError {
            file: file.to_path_buf(),
            location: location.filter(|_| set_by.is_none()),
            key,
            set_by,
            message,
            hint,
        };
        let original = locate::Doc::parse(text).map_err(|(offset, message)| {
            let location = offset.map(|o| locate::line_col(text, o));
            err(location, None, None, message, None)
        })?;
        let place = |key: &str| original.span_of(key).map(|o| locate::line_col(text, o));
        let edited_text = locate::apply_sets(text, sets)
            .map_err(|(set, message, hint)| err(None, None, Some(set), message, hint))?;
        let edited = locate::Doc::parse(&edited_text)
            .map_err(|(_, message)| err(None, None, sets.last().cloned(), message, None))?;
        let mut exp: Experiment = toml::from_str(&edited_text).map_err(|e| {
            let offset = e.span().map(|s| s.start);
            let (message, hint) = locate::explain_serde(e.message());
            // A missing key belongs to its table, not to whatever key the span starts at.
            let key = if message.starts_with("missing field") {
                offset.and_then(|o| edited.table_at(o))
            } else {
                offset.and_then(|o| edited.key_at(o))
            };
            let set_by = key.as_deref().and_then(|k| locate::set_for(sets, k));
            let location = if sets.is_empty() {
                offset.map(|o| locate::line_col(text, o))
            } else {
                key.as_deref().and_then(place)
            };
            err(location, key, set_by, message, hint)
        })?;
        validate::validate(&mut exp, base).map_err(|v| {
            let set_by = locate::set_for(sets, &v.key);
            err(place(&v.key), Some(v.key), set_by, v.message, v.hint)
        })?;
        Ok(exp)
    }

    /// The resolved experiment as TOML, every key explicit.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("an experiment always serialises")
    }

    /// Values per time step in the model's input.
    pub fn input_features(&self) -> usize {
        match (self.data.source, self.data.layout) {
            (Source::Synthetic, _) if self.data.generator == Some(Generator::Adding) => 2,
            (Source::Synthetic, _) => 1,
            (Source::Csv, Layout::Rows) => self.data.features,
            (Source::Csv, Layout::Series) => {
                self.data.columns.len()
                    + self.data.lags.len()
                    + 2 * self.data.calendar.len()
                    + self.data.future_columns.len()
            }
            // Text: one token id per step.
            (Source::Text, _) | (Source::Csv, Layout::Sentences) => 1,
        }
    }

    /// The target's index among the input features, when it is one.
    pub fn target_input(&self) -> Option<usize> {
        match (self.data.source, self.data.layout) {
            (Source::Synthetic, _) => (self.data.generator != Some(Generator::Adding)).then_some(0),
            (Source::Csv, Layout::Rows) => Some(0),
            (Source::Csv, Layout::Series) => {
                let target = self.data.target.as_ref().or(self.data.columns.first())?;
                self.data.columns.iter().position(|c| c == target)
            }
            _ => None,
        }
    }

    /// The model's outputs per prediction (per time step for seq2seq).
    pub fn output_size(&self) -> usize {
        match (self.task.kind, self.task.strategy) {
            (TaskKind::Regress, _) => 1,
            // Classes and the alphabet are known once the text is read.
            (TaskKind::Classify | TaskKind::Generate, _) => 0,
            (TaskKind::Forecast, Strategy::OneStep | Strategy::Iterative) => 1,
            (
                TaskKind::Forecast,
                Strategy::Vector | Strategy::Seq2seq | Strategy::EncoderDecoder,
            ) => self.data.horizon,
        }
    }

    /// The quantile levels a forecast reports, ascending: `task.quantiles`,
    /// the Gaussian's [`GAUSSIAN_LEVELS`], or none for a point forecast.
    pub fn levels(&self) -> Vec<f64> {
        match self.task.distribution {
            Some(Distribution::Gaussian) => GAUSSIAN_LEVELS.to_vec(),
            None => self.task.quantiles.clone(),
        }
    }

    /// Head outputs per forecast value: one per quantile, two for a
    /// Gaussian (mean, raw scale), else 1.
    pub fn heads(&self) -> usize {
        match self.task.distribution {
            Some(Distribution::Gaussian) => 2,
            None => self.task.quantiles.len().max(1),
        }
    }

    /// The model's head outputs: [`Experiment::output_size`] per head, each
    /// head's block after the previous one (quantile-major).
    pub fn head_size(&self) -> usize {
        self.output_size() * self.heads()
    }

    /// The task metrics each evaluation reports (`eval.csv`'s columns after
    /// `valid_loss`), with whether a higher value is better.
    pub fn eval_metrics(&self) -> Vec<(String, bool)> {
        match self.task.kind {
            TaskKind::Classify => owned(&[
                ("accuracy", true),
                ("cross_entropy", false),
                ("majority_accuracy", true),
            ]),
            TaskKind::Generate => {
                owned(&[("bits_per_char", false), ("unigram_bits_per_char", false)])
            }
            _ => {
                let mut m = owned(&[("mse", false), ("rmse", false), ("mae", false)]);
                if self.task.kind == TaskKind::Forecast {
                    m.extend(owned(&[
                        ("mase", false),
                        ("rmsse", false),
                        ("smape", false),
                    ]));
                }
                let levels = self.levels();
                if !levels.is_empty() {
                    m.extend(
                        crate::data::interval::metric_names(&levels)
                            .into_iter()
                            .map(|n| (n, false)),
                    );
                }
                if self.every_step() {
                    m.extend(owned(&[
                        ("last_mse", false),
                        ("last_rmse", false),
                        ("last_mae", false),
                    ]));
                }
                m
            }
        }
    }

    /// Whether the head predicts at every time step (seq2seq) rather than the last one.
    pub fn every_step(&self) -> bool {
        (self.task.kind == TaskKind::Forecast && self.task.strategy == Strategy::Seq2seq)
            || self.task.kind == TaskKind::Generate
    }
}

/// Metric names and directions as owned strings.
fn owned(m: &[(&str, bool)]) -> Vec<(String, bool)> {
    m.iter().map(|(n, b)| (n.to_string(), *b)).collect()
}

impl crate::error::Failure for ExperimentError {
    fn kind(&self) -> crate::error::Kind {
        crate::error::Kind::BadInput
    }
}
