//! Reading `summary.json` (how a run stands: status, steps, best and test
//! figures, baselines): strictly ([`load_summary`]) or leniently for
//! listings ([`read_summary`]), and a run's status as a listing shows it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{ReadError, read_json};
use crate::events::Status;
use crate::run::format::Summary;
use crate::run::lock;

/// What could be read from a `summary.json`.
#[derive(Debug, Clone, Default)]
pub struct SummaryFields {
    pub status: Option<String>,
    pub started: Option<String>,
    pub steps: Option<u64>,
    pub wall_s: Option<f64>,
    pub best_valid_loss: Option<f64>,
    pub best_step: Option<u64>,
    pub test: BTreeMap<String, f64>,
    /// The backtest's MASE over origins (forecasts of a series).
    pub backtest_mase: Option<crate::run::format::Spread>,
    /// The retrained (expanding-window) backtest's MASE over origins.
    pub retrained_mase: Option<crate::run::format::Spread>,
    /// Why a run ended as it did (a failure's error, early stopping).
    pub message: Option<String>,
}

/// Reads `run/summary.json`, keeping every field that parses.
pub fn read_summary(run: &Path) -> SummaryFields {
    let value = crate::fsio::read_text(
        &run.join("summary.json"),
        crate::fsio::RUN_FILE_LIMIT,
        "summary file",
    )
    .ok()
    .and_then(|text| serde_json::from_str::<Value>(&text).ok())
    .unwrap_or(Value::Null);
    let str_field = |k: &str| value.get(k).and_then(Value::as_str).map(String::from);
    SummaryFields {
        status: str_field("status"),
        started: str_field("started"),
        steps: value.get("steps").and_then(Value::as_u64),
        wall_s: value.get("wall_s").and_then(Value::as_f64),
        best_valid_loss: value.get("best_valid_loss").and_then(Value::as_f64),
        best_step: value.get("best_step").and_then(Value::as_u64),
        message: str_field("message"),
        backtest_mase: value
            .pointer("/backtest/metrics/mase")
            .and_then(|v| serde_json::from_value(v.clone()).ok()),
        retrained_mase: value
            .pointer("/backtest_retrained/metrics/mase")
            .and_then(|v| serde_json::from_value(v.clone()).ok()),
        test: value
            .get("test")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Whether `path` is a run directory (has an experiment.toml or a summary.json).
pub fn is_run_dir(path: &Path) -> bool {
    path.is_dir() && (path.join("experiment.toml").is_file() || path.join("summary.json").is_file())
}

/// The parts of `summary.json` read back (the rest may change between versions).
#[derive(Deserialize)]
pub struct SummaryHead {
    pub status: Status,
    #[serde(default)]
    pub steps: u64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub parameters: usize,
}

/// Reads `run/summary.json` strictly: an error names the file and what is wrong.
pub fn load_summary(run: &Path) -> Result<Summary, ReadError> {
    let path = run.join("summary.json");
    match read_json::<Summary>(&path)? {
        Some(summary) => Ok(summary),
        None => Err(ReadError {
            path,
            line: None,
            message: "missing: the run never started".into(),
        }),
    }
}

/// The status to show: the summary's, with `running` checked against the
/// run's lock (held only while a process is writing the run).
pub fn status_label(run: &Path, summary: &SummaryFields) -> String {
    match summary.status.as_deref() {
        Some("running") | None if lock::is_held(run) => "running".into(),
        Some("running") => "running?".into(),
        Some(s) => s.into(),
        None => "?".into(),
    }
}

/// The run's resolved experiment (`experiment.toml`) flattened to `--set`
/// keys and TOML values: `train.learning_rate` → `0.003`,
/// `model.layers.0.units` → `20`. Empty if it cannot be read.
pub fn experiment_keys(run: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let file = run.join("experiment.toml");
    let Some(value) = crate::fsio::read_text(&file, crate::fsio::TOML_LIMIT, "experiment file")
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
    else {
        return out;
    };
    fn walk(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                toml::Value::Array(items)
                    if items.iter().all(|i| i.is_table()) && !items.is_empty() =>
                {
                    for (i, item) in items.iter().enumerate() {
                        if let toml::Value::Table(t) = item {
                            walk(&format!("{key}.{i}"), t, out);
                        }
                    }
                }
                other => {
                    out.insert(key, other.to_string());
                }
            }
        }
    }
    walk("", &value, &mut out);
    out
}

/// The conformal offsets in `run/summary.json` (`task.calibration`);
/// `None` when the file or the field is missing (a run still going, or
/// one without calibration). A damaged file is an error naming it.
pub fn read_calibration(
    run: &Path,
) -> Result<Option<crate::data::conformal::Conformal>, ReadError> {
    #[derive(Deserialize)]
    struct Field {
        #[serde(default)]
        calibration: Option<crate::data::conformal::Conformal>,
    }
    Ok(read_json::<Field>(&run.join("summary.json"))?.and_then(|f| f.calibration))
}
