//! `rnnlab runs`: the run directories in a folder, one row each, oldest first.
//!
//! Summaries are read leniently: a missing, partial or malformed
//! `summary.json` gives `?` in the affected columns, never an error.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use super::error::{CliError, CliResult, bad_input};
use super::output;
use crate::fmt::compact;
use crate::fmt::hms;
use crate::run::read::summary::status_label;
use crate::run::read::summary::{is_run_dir, read_summary};
use std::process::ExitCode;

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

/// The run directories directly inside `dir`, sorted by start time (the
/// directory's modification time when the summary has none).
pub fn list(dir: &Path) -> CliResult<Vec<RunRow>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => bad_input!("cannot read the runs directory {}: {e}", dir.display()),
    };
    let mut keyed = Vec::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => bad_input!("cannot read the runs directory {}: {e}", dir.display()),
        };
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

/// The rows as an aligned plain-text table with a header line, in at most
/// 80 columns when the names allow (see [`table_width`]).
pub fn table(rows: &[RunRow]) -> String {
    table_width(rows, 80)
}

/// The rows as a table that fits `width` columns: the start time shortens
/// (`11-26 12:00`), then the columns least needed to pick a run go (start,
/// wall time, best validation loss); names are never cut.
pub fn table_width(rows: &[RunRow], width: usize) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    let layouts: [(&[&str], bool); 5] = [
        (
            &[
                "name",
                "status",
                "steps",
                "best valid",
                "test",
                "wall",
                "started",
            ],
            false,
        ),
        (
            &[
                "name",
                "status",
                "steps",
                "best valid",
                "test",
                "wall",
                "started",
            ],
            true,
        ),
        (
            &["name", "status", "steps", "best valid", "test", "wall"],
            false,
        ),
        (&["name", "status", "steps", "best valid", "test"], false),
        (&["name", "status", "steps", "test"], false),
    ];
    let mut out = String::new();
    for (columns, short_time) in layouts {
        let cell = |r: &RunRow, column: &str| -> String {
            match column {
                "name" => r.name.clone(),
                "status" => r.status.clone(),
                "steps" => opt(r.steps.map(|s| s.to_string())),
                "best valid" => opt(r.best_valid_loss.map(compact)),
                "test" => opt(r.test.as_ref().map(|(k, v)| format!("{k} {}", compact(*v)))),
                "wall" => opt(r.wall_s.map(hms)),
                _ => opt(r.started.as_deref().map(|s| local_time(s, short_time))),
            }
        };
        let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| columns.iter().map(|c| cell(r, c)).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        out.clear();
        for row in std::iter::once(&header).chain(&cells) {
            let mut line = String::new();
            for (i, (cell, column)) in row.iter().zip(columns.iter()).enumerate() {
                let pad = " ".repeat(widths[i] - cell.chars().count());
                if i > 0 {
                    line.push_str("  ");
                }
                // Numbers to the right.
                if ["steps", "best valid", "test", "wall"].contains(column) {
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
        let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        if total <= width {
            break;
        }
    }
    out
}

/// What `rnnlab runs [DIR] [--json]` prints: the table, JSON, or `no runs in DIR`.
pub fn report(dir: &Path, json: bool) -> CliResult<String> {
    let rows = list(dir)?;
    Ok(if json {
        serde_json::to_string_pretty(&rows).map_err(CliError::failure)? + "\n"
    } else if rows.is_empty() {
        format!("no runs in {}\n", dir.display())
    } else {
        table_width(&rows, crate::frontend::stdout_width())
    })
}

/// `rnnlab runs [DIR] [--json]`.
pub fn command(dir: &Path, json: bool) -> CliResult<ExitCode> {
    output::print(&report(dir, json)?)?;
    Ok(ExitCode::SUCCESS)
}

/// An RFC 3339 time as `YYYY-mm-dd HH:MM` (`mm-dd HH:MM` when `short`) in
/// its own offset; else as given.
fn local_time(s: &str, short: bool) -> String {
    let format = if short {
        "%m-%d %H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.format(format).to_string())
        .unwrap_or_else(|_| s.to_string())
}
