//! `rnnlab runs`: the run directories in a folder, one row each, oldest first.
//!
//! Summaries are read leniently: a missing, partial or malformed
//! `summary.json` gives `?` in the affected columns, never an error.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::control;
use crate::dashboard::ui::compact;

/// One run in the listing; `None` where the summary does not say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    /// The directory's name.
    pub name: String,
    pub path: PathBuf,
    /// The summary's status; `running` only while a process answers on the
    /// control socket, `running?` when none does; `?` without a summary.
    pub status: String,
    pub steps: Option<u64>,
    pub best_valid_loss: Option<f64>,
    /// The test part's headline metric: MSE in the data's original units,
    /// accuracy (classify) or bits per character (generate).
    pub test: Option<(String, f64)>,
    pub wall_s: Option<f64>,
    /// Start time as recorded (RFC 3339).
    pub started: Option<String>,
}

/// What could be read from a `summary.json`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SummaryFields {
    pub status: Option<String>,
    pub started: Option<String>,
    pub steps: Option<u64>,
    pub wall_s: Option<f64>,
    pub best_valid_loss: Option<f64>,
    pub best_step: Option<u64>,
    pub test: BTreeMap<String, f64>,
}

/// Reads `run/summary.json`, keeping every field that parses.
pub(crate) fn read_summary(run: &Path) -> SummaryFields {
    let value = fs::read_to_string(run.join("summary.json"))
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

/// The status to show: the summary's, with `running` checked against the socket.
pub(crate) fn status_label(run: &Path, summary: &SummaryFields) -> String {
    match summary.status.as_deref() {
        Some("running") | None if control::is_live(run) => "running".into(),
        Some("running") => "running?".into(),
        Some(s) => s.into(),
        None => "?".into(),
    }
}

/// Whether `path` is a run directory (has an experiment.toml or a summary.json).
pub(crate) fn is_run_dir(path: &Path) -> bool {
    path.is_dir() && (path.join("experiment.toml").is_file() || path.join("summary.json").is_file())
}

/// The run directories directly inside `dir`, sorted by start time (the
/// directory's modification time when the summary has none).
pub fn list(dir: &Path) -> Result<Vec<RunRow>> {
    let entries = fs::read_dir(dir)
        .with_context(|| format!("cannot read the runs directory {}", dir.display()))?;
    let mut keyed = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the runs directory {}", dir.display()))?
            .path();
        if !is_run_dir(&path) {
            continue;
        }
        let summary = read_summary(&path);
        let started_at = summary
            .started
            .as_deref()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(SystemTime::from)
            .or_else(|| fs::metadata(&path).and_then(|m| m.modified()).ok());
        let row = RunRow {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            status: status_label(&path, &summary),
            steps: summary.steps,
            best_valid_loss: summary.best_valid_loss,
            test: ["mse", "accuracy", "bits_per_char"]
                .iter()
                .find_map(|k| summary.test.get(*k).map(|v| (k.to_string(), *v))),
            wall_s: summary.wall_s,
            started: summary.started,
            path,
        };
        keyed.push((started_at, row));
    }
    keyed.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.name.cmp(&b.name)));
    Ok(keyed.into_iter().map(|(_, row)| row).collect())
}

/// The rows as an aligned plain-text table with a header line.
pub fn table(rows: &[RunRow]) -> String {
    const HEADER: [&str; 7] = [
        "name",
        "status",
        "steps",
        "best valid",
        "test",
        "wall",
        "started",
    ];
    /// Columns aligned to the right (numbers).
    const RIGHT: [bool; 7] = [false, false, true, true, true, true, false];
    let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.status.clone(),
                opt(r.steps.map(|s| s.to_string())),
                opt(r.best_valid_loss.map(compact)),
                opt(r.test.as_ref().map(|(k, v)| format!("{k} {}", compact(*v)))),
                opt(r.wall_s.map(hms)),
                opt(r.started.as_deref().map(local_time)),
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header = HEADER.map(String::from);
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&cells) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if RIGHT[i] {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What `rnnlab runs [DIR] [--json]` prints: the table, JSON, or `no runs in DIR`.
pub fn report(dir: &Path, json: bool) -> Result<String> {
    let rows = list(dir)?;
    Ok(if json {
        serde_json::to_string_pretty(&rows)? + "\n"
    } else if rows.is_empty() {
        format!("no runs in {}\n", dir.display())
    } else {
        table(&rows)
    })
}

/// Seconds as `h:mm:ss`.
pub(crate) fn hms(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    let s = secs.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// An RFC 3339 time as `YYYY-mm-dd HH:MM` in its own offset; else as given.
fn local_time(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| s.to_string())
}
