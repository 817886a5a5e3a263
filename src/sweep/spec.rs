//! The sweep file: what to vary, how to search, what ranks trials, and how
//! to stop hopeless ones early. Parsed strictly, like an experiment file,
//! with file:line:column errors; paths are relative to the file.
//!
//! ```toml
//! name = "quickstart-lr"
//! experiment = "../quickstart.toml"   # the base experiment
//! method = "grid"                     # "grid" | "random" (`trials` seeded draws)
//! trials = 20                         # random only
//! seed = 7                            # the random method's draws
//! seeds = [1, 2, 3]                   # every configuration once per seed
//! metric = "valid_loss"               # or "valid.<task metric>", e.g. "valid.accuracy"
//! parallel = 0                        # trials at once; 0 = as the cores allow
//!
//! [params]                            # any key `--set` accepts
//! "train.learning_rate" = [0.001, 0.003, 0.01]
//! "model.layers.0.dropout" = { uniform = [0.0, 0.3] }   # random only
//!
//! [early_stop]                        # successive halving
//! method = "asha"
//! min_steps = 100
//! eta = 3
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::experiment::locate::{self, Doc};
use crate::experiment::{Experiment, ExperimentError};

/// How trials are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Every combination of the listed values.
    #[default]
    Grid,
    /// `trials` seeded draws from the lists and distributions.
    Random,
}

/// How hopeless trials are stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopMethod {
    /// Successive halving: every configuration trains to the first rung;
    /// at each rung only the best 1/eta go on. Rungs are synchronous (all
    /// configurations reach a rung before any goes on), so the result does
    /// not depend on how many trials run at once; ties go to the lower index.
    #[serde(alias = "sha")]
    Asha,
}

/// `[early_stop]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStop {
    pub method: StopMethod,
    /// The first rung, in training steps (a trial stops at the first
    /// evaluation at or after it).
    pub min_steps: u64,
    /// Keep the best 1/eta at each rung.
    #[serde(default = "default_eta")]
    pub eta: u64,
}

fn default_eta() -> u64 {
    3
}

/// `[slurm]`: what `--emit slurm` writes into the job-array script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    /// Time limit per task (`#SBATCH --time`), e.g. "01:00:00".
    #[serde(default = "default_time")]
    pub time: String,
    /// Partition (`#SBATCH --partition`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Further `#SBATCH` options, e.g. ["--mem=4G"].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
}

fn default_time() -> String {
    "01:00:00".into()
}

impl Default for SlurmSpec {
    fn default() -> Self {
        SlurmSpec {
            time: default_time(),
            partition: None,
            extra: Vec::new(),
        }
    }
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    experiment: PathBuf,
    #[serde(default)]
    method: Method,
    #[serde(default)]
    trials: Option<usize>,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    seeds: Vec<u64>,
    #[serde(default = "default_metric")]
    metric: String,
    #[serde(default)]
    parallel: usize,
    #[serde(default)]
    params: toml::Table,
    #[serde(default)]
    early_stop: Option<EarlyStop>,
    #[serde(default)]
    slurm: Option<SlurmSpec>,
}

fn default_metric() -> String {
    "valid_loss".into()
}

/// Where a swept key's values come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// These values (grid: each of them; random: one at random).
    Values(Vec<toml::Value>),
    /// A float drawn uniformly from [lo, hi) (random only).
    Uniform([f64; 2]),
    /// A float whose logarithm is uniform on [ln lo, ln hi) (random only).
    LogUniform([f64; 2]),
    /// A whole number drawn uniformly from lo..=hi (random only).
    IntUniform([i64; 2]),
}

/// A validated sweep: every key explicit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub name: String,
    /// The base experiment, as an absolute path.
    pub experiment: PathBuf,
    pub method: Method,
    /// Random: the number of draws (each runs once per seed).
    pub trials: usize,
    pub seed: u64,
    /// Every configuration runs once per seed; empty = the experiment's seed.
    pub seeds: Vec<u64>,
    /// `valid_loss` or `valid.<task metric>`.
    pub metric: String,
    /// Whether a higher metric is better (accuracy).
    pub maximize: bool,
    /// Trials at once on this machine; 0 = as the cores allow.
    pub parallel: usize,
    /// The swept keys, in the file's order.
    pub params: Vec<(String, Domain)>,
    pub early_stop: Option<EarlyStop>,
    #[serde(default)]
    pub slurm: SlurmSpec,
    /// `--set` overrides applied to every trial.
    #[serde(default)]
    pub sets: Vec<String>,
}

/// Why a sweep file cannot be used: the file, line and column, the key, the fix.
pub type SweepError = ExperimentError;

impl Sweep {
    /// Reads and validates a sweep file; `sets` apply to every trial.
    pub fn load(path: &Path, sets: &[String]) -> Result<Sweep, SweepError> {
        let text = crate::fsio::read_text(path, crate::fsio::TOML_LIMIT, "sweep file")
            .map_err(|e| ExperimentError::unreadable(e, "experiments/sweeps/"))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Sweep::from_str_at(&text, path, base, sets)
    }

    /// Parses sweep text as if it were the file `file`; relative paths
    /// resolve against `base`.
    pub fn from_str_at(
        text: &str,
        file: &Path,
        base: &Path,
        sets: &[String],
    ) -> Result<Sweep, SweepError> {
        let fail = |location: Option<(usize, usize)>,
                    key: Option<String>,
                    message: String,
                    hint: Option<&str>| {
            ExperimentError {
                file: file.to_path_buf(),
                location,
                key,
                set_by: None,
                message,
                hint: hint.map(String::from),
            }
        };
        let doc = Doc::parse(text).map_err(|(offset, message)| {
            fail(
                offset.map(|o| locate::line_col(text, o)),
                None,
                message,
                None,
            )
        })?;
        let at = |key: &str| doc.span_of(key).map(|o| locate::line_col(text, o));
        let raw: File = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start);
            let (message, hint) = locate::explain_serde(e.message());
            let hint = hint.map(|h| h.replace("docs/experiment-file.md", "docs/sweeps.md"));
            let key = offset.and_then(|o| doc.key_at(o));
            ExperimentError {
                file: file.to_path_buf(),
                location: offset.map(|o| locate::line_col(text, o)),
                key,
                set_by: None,
                message,
                hint,
            }
        })?;
        let bad = |key: &str, message: String, hint: &str| {
            fail(
                at(key),
                Some(key.to_string()),
                message,
                (!hint.is_empty()).then_some(hint),
            )
        };
        if raw.name.is_empty()
            || raw.name.len() > 100
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad(
                "name",
                format!("`{}` is not a usable sweep name", raw.name),
                "use up to 100 letters, digits, `-`, `_` or `.`; it prefixes the sweep directory",
            ));
        }
        let experiment = base.join(&raw.experiment);
        let exp = Experiment::load(&experiment, sets).map_err(|e| {
            let mut e = e;
            e.message = format!(
                "{} (in the base experiment `{}`)",
                e.message,
                raw.experiment.display()
            );
            e
        })?;
        let experiment = std::path::absolute(&experiment).unwrap_or(experiment);
        let (trials, method) = (raw.trials, raw.method);
        let trials = match (method, trials) {
            (Method::Grid, Some(_)) => {
                return Err(bad(
                    "trials",
                    "`trials` is for method = \"random\"; a grid runs every combination".into(),
                    "remove `trials`, or set method = \"random\"",
                ));
            }
            (Method::Grid, None) => 0,
            (Method::Random, None | Some(0)) => {
                return Err(bad(
                    "trials",
                    "a random sweep needs the number of draws".into(),
                    "e.g. trials = 20",
                ));
            }
            (Method::Random, Some(n)) if n > MAX_TRIALS => {
                return Err(bad(
                    "trials",
                    format!("{n} draws is more than a sweep may have ({MAX_TRIALS})"),
                    "",
                ));
            }
            (Method::Random, Some(n)) => n,
        };
        let mut seen = std::collections::BTreeSet::new();
        for s in &raw.seeds {
            if !seen.insert(s) {
                return Err(bad("seeds", format!("seed {s} is listed twice"), ""));
            }
        }
        let metrics = exp.eval_metrics();
        let maximize = match raw.metric.as_str() {
            "valid_loss" => false,
            m => match m
                .strip_prefix("valid.")
                .and_then(|name| metrics.iter().find(|(n, _)| *n == name))
            {
                Some((_, higher)) => *higher,
                None => {
                    let known: Vec<String> =
                        metrics.iter().map(|(n, _)| format!("valid.{n}")).collect();
                    return Err(bad(
                        "metric",
                        format!("`{m}` is not a metric this experiment's evaluations report"),
                        &format!("use valid_loss or one of {}", known.join(", ")),
                    ));
                }
            },
        };
        let mut params = Vec::new();
        // A list of one value sets the key for every trial: it is not an
        // axis (no column, label or HParams entry), and the command line's
        // `--set`s still win over it.
        let mut fixed: Vec<String> = Vec::new();
        for (key, value) in &raw.params {
            let place = format!("params.\"{key}\"");
            let bad = |_: &str, message: String, hint: &str| ExperimentError {
                file: file.to_path_buf(),
                location: doc
                    .span_of_key("params", key)
                    .map(|o| locate::line_col(text, o)),
                key: Some(place.clone()),
                set_by: None,
                message,
                hint: (!hint.is_empty()).then(|| hint.to_string()),
            };
            let domain =
                domain(value, method).map_err(|(message, hint)| bad(&place, message, hint))?;
            // Every value a grid will use, and each end of a range, must make
            // a valid experiment: an unknown key is caught here, not in a trial.
            let probes: Vec<toml::Value> = match &domain {
                Domain::Values(v) => v.clone(),
                Domain::Uniform([lo, hi]) | Domain::LogUniform([lo, hi]) => {
                    vec![toml::Value::Float(*lo), toml::Value::Float(*hi)]
                }
                Domain::IntUniform([lo, hi]) => {
                    vec![toml::Value::Integer(*lo), toml::Value::Integer(*hi)]
                }
            };
            for v in &probes {
                let mut all = fixed.clone();
                all.extend_from_slice(sets);
                all.push(set_of(key, v));
                if let Err(e) = Experiment::load(&experiment, &all) {
                    return Err(bad(
                        &place,
                        format!(
                            "{key} = {v} does not make a valid experiment: {}",
                            e.message
                        ),
                        e.hint.as_deref().unwrap_or(
                            "params take any key `--set` accepts, e.g. \"train.learning_rate\"",
                        ),
                    ));
                }
            }
            match &domain {
                Domain::Values(v) if v.len() == 1 => fixed.push(set_of(key, &v[0])),
                _ => params.push((key.clone(), domain)),
            }
        }
        if let Some(stop) = &raw.early_stop {
            if stop.min_steps == 0 {
                return Err(bad("early_stop.min_steps", "must be at least 1".into(), ""));
            }
            if stop.eta < 2 {
                return Err(bad(
                    "early_stop.eta",
                    format!("eta = {} keeps every trial", stop.eta),
                    "use 2 or more (3 keeps the best third at each rung)",
                ));
            }
        }
        Ok(Sweep {
            name: raw.name,
            experiment,
            method,
            trials,
            seed: raw.seed,
            seeds: raw.seeds,
            metric: raw.metric,
            maximize,
            parallel: raw.parallel,
            params,
            early_stop: raw.early_stop,
            slurm: raw.slurm.unwrap_or_default(),
            sets: fixed.into_iter().chain(sets.iter().cloned()).collect(),
        })
    }

    /// The number of configurations (before seeds).
    pub fn configurations(&self) -> usize {
        match self.method {
            Method::Random => self.trials,
            Method::Grid => self
                .params
                .iter()
                .map(|(_, d)| match d {
                    Domain::Values(v) => v.len(),
                    _ => 1,
                })
                .product(),
        }
    }

    /// The resolved sweep as TOML (`sweep.toml` of a sweep directory).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a sweep directory's `sweep.toml` back.
    pub fn from_resolved(text: &str, file: &Path) -> Result<Sweep, SweepError> {
        toml::from_str(text).map_err(|e| ExperimentError {
            file: file.to_path_buf(),
            location: e.span().map(|s| locate::line_col(text, s.start)),
            key: None,
            set_by: None,
            message: format!("not a resolved sweep: {}", e.message()),
            hint: Some("it is written by `rnnlab sweep`; do not edit it".into()),
        })
    }
}

/// The most trials a sweep may plan.
pub const MAX_TRIALS: usize = 10_000;

/// `key=value` for `--set`, the value in TOML.
pub fn set_of(key: &str, value: &toml::Value) -> String {
    format!("{key}={value}")
}

/// A parameter's domain; an error is (message, hint).
fn domain(value: &toml::Value, method: Method) -> Result<Domain, (String, &'static str)> {
    let random_only = |form: &str| {
        (
            format!(
                "{{ {form} = … }} is a distribution, for method = \"random\"; a grid needs a list of values"
            ),
            "give a list, e.g. [0.0, 0.1, 0.2], or set method = \"random\"",
        )
    };
    match value {
        toml::Value::Array(values) if values.is_empty() => Err((
            "an empty list: the grid would have no trials".into(),
            "list at least one value",
        )),
        toml::Value::Array(values) => Ok(Domain::Values(values.clone())),
        toml::Value::Table(t) if t.len() == 1 => {
            let (form, range) = t.iter().next().expect("one entry");
            if method == Method::Grid {
                return Err(random_only(form));
            }
            let pair = |v: &toml::Value| -> Option<[f64; 2]> {
                let a = v.as_array()?;
                let n = |x: &toml::Value| x.as_float().or_else(|| x.as_integer().map(|i| i as f64));
                match a.as_slice() {
                    [lo, hi] => Some([n(lo)?, n(hi)?]),
                    _ => None,
                }
            };
            let need = "a range is two numbers, low then high, e.g. [0.0, 0.3]";
            match form.as_str() {
                "uniform" => match pair(range) {
                    Some([lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => {
                        Ok(Domain::Uniform([lo, hi]))
                    }
                    _ => Err(("uniform needs two finite numbers, low < high".into(), need)),
                },
                "log_uniform" => match pair(range) {
                    Some([lo, hi]) if lo > 0.0 && hi.is_finite() && lo < hi => {
                        Ok(Domain::LogUniform([lo, hi]))
                    }
                    _ => Err((
                        "log_uniform needs two numbers 0 < low < high".into(),
                        "e.g. { log_uniform = [1e-4, 1e-2] }",
                    )),
                },
                "int_uniform" => match range.as_array().map(|a| a.as_slice()) {
                    Some([toml::Value::Integer(lo), toml::Value::Integer(hi)]) if lo <= hi => {
                        Ok(Domain::IntUniform([*lo, *hi]))
                    }
                    _ => Err((
                        "int_uniform needs two whole numbers, low ≤ high".into(),
                        "e.g. { int_uniform = [8, 64] }",
                    )),
                },
                other => Err((
                    format!("unknown distribution `{other}`"),
                    "use a list, or one of uniform, log_uniform, int_uniform",
                )),
            }
        }
        _ => Err((
            format!("`{value}` is neither a list of values nor a distribution"),
            "e.g. [16, 32] or { uniform = [0.0, 0.3] } (random only)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiments() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments")
    }

    #[test]
    fn a_list_of_one_value_sets_the_key_for_every_trial_and_is_not_an_axis() {
        let text = "name = \"s\"\nexperiment = \"quickstart.toml\"\n[params]\n\
                    \"train.learning_rate\" = [0.001, 0.01]\n\"data.count\" = [300]\n";
        let file = experiments().join("s.toml");
        let cli = vec!["data.count=200".to_string()];
        let s = Sweep::from_str_at(text, &file, &experiments(), &cli).unwrap();
        assert_eq!(s.params.len(), 1, "only the learning rate varies");
        assert_eq!(s.params[0].0, "train.learning_rate");
        // The file's value first, so that the command line's --set wins.
        assert_eq!(s.sets, vec!["data.count=300", "data.count=200"]);
        assert_eq!(s.configurations(), 2);
    }
}
