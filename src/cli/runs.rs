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
    /// accuracy (classify) or bits per character (generate); for a series
    /// with a backtest, its MASE over origins (with `test_sd`).
    pub test: Option<(String, f64)>,
    /// The standard deviation over origins of a backtest's `test`.
    pub test_sd: Option<f64>,
    /// The retrained (expanding-window) backtest's MASE over origins, mean
    /// and sd, when `backtest --retrain` or `evaluate.retrain` made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retrained: Option<crate::run::format::Spread>,
    /// A forecast with prediction intervals: the outermost interval's
    /// empirical coverage on the test part (a fraction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f64>,
    pub wall_s: Option<f64>,
    /// Start time as recorded (RFC 3339).
    pub started: Option<String>,
    /// The hyperparameters that differ between the listed runs (`--set`
    /// keys and their values in this run).
    pub params: Vec<(String, String)>,
}

/// The run directories directly inside `dir` (a sweep directory: its
/// trials), sorted by start time (the directory's modification time when
/// the summary has none), each with the hyperparameters that differ
/// between them.
pub fn list(dir: &Path) -> CliResult<Vec<RunRow>> {
    let trials = dir.join("trials");
    let sweep = crate::sweep::SweepDir::is_sweep_dir(dir)
        .then(|| crate::sweep::SweepDir::open(dir).ok())
        .flatten();
    let dir = if sweep.is_some() {
        trials.as_path()
    } else {
        dir
    };
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
            test: match summary.backtest_mase {
                Some(m) => Some(("mase".into(), m.mean)),
                None => ["mse", "accuracy", "bits_per_char"]
                    .iter()
                    .find_map(|k| summary.test.get(*k).map(|v| (k.to_string(), *v))),
            },
            test_sd: summary.backtest_mase.map(|m| m.sd),
            retrained: summary.retrained_mase,
            // The outermost interval's key sorts first.
            coverage: summary
                .test
                .iter()
                .find(|(k, _)| k.starts_with("coverage_"))
                .map(|(_, v)| *v),
            wall_s: summary.wall_s,
            started: summary.started,
            params: Vec::new(),
            path,
        };
        keyed.push((started_at, row));
    }
    match &sweep {
        // A sweep's trials in their order, with the sweep's word for them (pruned, paused).
        Some(_) => keyed.sort_by(|(_, a), (_, b)| a.name.cmp(&b.name)),
        None => keyed.sort_by(|(ta, a), (tb, b)| ta.cmp(tb).then_with(|| a.name.cmp(&b.name))),
    }
    let mut rows: Vec<RunRow> = keyed.into_iter().map(|(_, row)| row).collect();
    if let Some(sweep) = &sweep {
        let statuses = sweep.rows();
        for row in &mut rows {
            if let Some(t) = statuses.iter().find(|t| t.run_dir.ends_with(&row.name)) {
                row.status = t.status.clone();
            }
        }
    }
    differing_params(&mut rows);
    Ok(rows)
}

/// Keys that say nothing about how a run was trained.
const NOT_HYPERPARAMETERS: [&str; 3] = ["name", "data.path", "train.threads"];

/// Fills each row's `params` with the experiment keys whose values are not
/// the same in every listed run.
fn differing_params(rows: &mut [RunRow]) {
    let keys: Vec<_> = rows
        .iter()
        .map(|r| crate::run::read::summary::experiment_keys(&r.path))
        .collect();
    let all: std::collections::BTreeSet<&String> = keys.iter().flat_map(|k| k.keys()).collect();
    let differing: Vec<&String> = all
        .into_iter()
        .filter(|k| {
            !NOT_HYPERPARAMETERS.contains(&k.as_str())
                && !k.starts_with("reference.")
                && keys.iter().any(|m| m.get(*k) != keys[0].get(*k))
        })
        .collect();
    for (row, k) in rows.iter_mut().zip(&keys) {
        row.params = differing
            .iter()
            .map(|key| {
                (
                    (*key).clone(),
                    k.get(*key).cloned().unwrap_or_else(|| "?".into()),
                )
            })
            .collect();
    }
}

/// The rows as an aligned plain-text table with a header line, in 80
/// columns when the names allow (see [`table_width`]).
pub fn table(rows: &[RunRow]) -> String {
    table_width(rows, 80)
}

/// The rows as a table at most `width` characters wide: the run's name,
/// status, steps and best validation loss always; then, while they fit, the
/// hyperparameters that differ, the test metric, the wall time and the start.
pub fn table_width(rows: &[RunRow], width: usize) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    /// (header, right-aligned, cells).
    type Column = (String, bool, Vec<String>);
    let col =
        |h: &str, right: bool, cells: Vec<String>| -> Column { (h.to_string(), right, cells) };
    let base = vec![
        col("name", false, rows.iter().map(|r| r.name.clone()).collect()),
        col(
            "status",
            false,
            rows.iter().map(|r| r.status.clone()).collect(),
        ),
        col(
            "steps",
            true,
            rows.iter()
                .map(|r| opt(r.steps.map(|s| s.to_string())))
                .collect(),
        ),
        col(
            "best valid",
            true,
            rows.iter()
                .map(|r| opt(r.best_valid_loss.map(compact)))
                .collect(),
        ),
    ];
    let mut optional: Vec<Column> = Vec::new();
    let keys: Vec<&String> = rows
        .first()
        .map(|r| r.params.iter().map(|(k, _)| k).collect())
        .unwrap_or_default();
    for (i, key) in keys.iter().enumerate() {
        let short = crate::fmt::short_key(key);
        optional.push(col(
            short,
            true,
            rows.iter()
                .map(|r| {
                    r.params
                        .get(i)
                        .map_or("?".into(), |(_, v)| v.trim_matches('"').to_string())
                })
                .collect(),
        ));
    }
    optional.push(col(
        "test",
        true,
        rows.iter()
            .map(|r| {
                opt(r.test.as_ref().map(|(k, v)| match r.test_sd {
                    Some(sd) => format!("{k} {}±{}", compact(*v), compact(sd)),
                    None => format!("{k} {}", compact(*v)),
                }))
            })
            .collect(),
    ));
    if rows.iter().any(|r| r.retrained.is_some()) {
        optional.push(col(
            "retrained",
            true,
            rows.iter()
                .map(|r| {
                    r.retrained.map_or(String::new(), |m| {
                        format!("mase {}±{}", compact(m.mean), compact(m.sd))
                    })
                })
                .collect(),
        ));
    }
    if rows.iter().any(|r| r.coverage.is_some()) {
        optional.push(col(
            "coverage",
            true,
            rows.iter()
                .map(|r| r.coverage.map_or(String::new(), |c| format!("{c:.3}")))
                .collect(),
        ));
    }
    optional.push(col(
        "wall",
        true,
        rows.iter().map(|r| opt(r.wall_s.map(hms))).collect(),
    ));
    optional.push(col(
        "started",
        false,
        rows.iter()
            .map(|r| opt(r.started.as_deref().map(|s| local_time(s, false))))
            .collect(),
    ));
    let width_of = |c: &Column| {
        c.2.iter()
            .chain([&c.0])
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let mut columns = base;
    let mut used: usize = columns
        .iter()
        .map(|c| width_of(c) + 2)
        .sum::<usize>()
        .saturating_sub(2);
    let short_start = col(
        "started",
        false,
        rows.iter()
            .map(|r| opt(r.started.as_deref().map(|s| local_time(s, true))))
            .collect(),
    );
    let mut short_start = Some(short_start);
    for c in optional {
        let w = width_of(&c) + 2;
        if used + w <= width {
            used += w;
            columns.push(c);
        } else if c.0 == "started"
            && let Some(short) = short_start.take()
            && used + width_of(&short) + 2 <= width
        {
            // `11-26 12:00` when the year does not fit.
            used += width_of(&short) + 2;
            columns.push(short);
        }
    }
    let widths: Vec<usize> = columns.iter().map(width_of).collect();
    let mut out = String::new();
    for r in 0..=rows.len() {
        let mut line = String::new();
        for (i, (header, right, cells)) in columns.iter().enumerate() {
            let cell = if r == 0 { header } else { &cells[r - 1] };
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            if *right {
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
pub fn report(dir: &Path, json: bool) -> CliResult<String> {
    let rows = list(dir)?;
    Ok(if json {
        serde_json::to_string_pretty(&rows).map_err(CliError::failure)? + "\n"
    } else if rows.is_empty() {
        format!("no runs in {}\n", dir.display())
    } else {
        table_width(&rows, output::width())
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
