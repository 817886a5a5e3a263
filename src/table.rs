//! `rnnlab table`: runs a set of experiments that carry a `[reference]` and
//! prints rnnlab's figure beside the published one, as a Markdown table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::{RunDir, Summary};
use crate::{data, headless, train};

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub file: String,
    pub label: String,
    pub metric: String,
    pub rnnlab: f64,
    pub reference: f64,
    /// Training wall time in seconds (0 for baselines).
    pub seconds: f64,
    /// The run directory, when the row trained a model.
    pub run: Option<PathBuf>,
}

/// The experiment files named: files as they are, directories' `*.toml` sorted by name.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|e| e == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        bail!("no experiment files found in {paths:?}");
    }
    Ok(files)
}

/// Runs one experiment (or reads its baseline) and returns its row.
pub fn run_one(path: &Path, sets: &[String], runs_dir: &Path) -> Result<Row> {
    let exp = Experiment::load(path, sets)?;
    let Some(reference) = exp.reference.clone() else {
        bail!(
            "{} has no [reference] section to compare with",
            path.display()
        );
    };
    let file = path
        .file_name()
        .map_or(String::new(), |f| f.to_string_lossy().to_string());
    let data = data::load(&exp)?;
    let mut row = Row {
        file,
        label: reference.label.clone(),
        metric: reference.metric.clone(),
        rnnlab: f64::NAN,
        reference: reference.value,
        seconds: 0.0,
        run: None,
    };
    if let Some(name) = reference.metric.strip_prefix("baseline.") {
        let b = data
            .baselines
            .iter()
            .find(|b| b.name == name)
            .with_context(|| format!("{}: no `{name}` baseline was computed", path.display()))?;
        row.rnnlab = b.valid.mse;
        return Ok(row);
    }
    let model = Model::for_experiment(&exp, data.text.as_ref());
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let dir = runs_dir.join(format!("{}-{stamp}", exp.name));
    let run = RunDir::create(&exp, Some(dir.clone()), &data.scaler)?;
    let start = Instant::now();
    let handle = train::spawn(exp, data, model, run, None);
    headless::follow(&handle.events);
    handle.join()?;
    row.seconds = start.elapsed().as_secs_f64();
    row.rnnlab = final_metric(&dir, &reference.metric)?;
    row.run = Some(dir);
    Ok(row)
}

/// The metric at the run's last evaluation (what Keras reports after training).
fn final_metric(run: &Path, metric: &str) -> Result<f64> {
    let path = run.join("eval.csv");
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let header = reader.headers()?.clone();
    let col = header
        .iter()
        .position(|h| h == metric)
        .with_context(|| format!("{} has no `{metric}` column", path.display()))?;
    let last = reader
        .records()
        .filter_map(|r| r.ok())
        .last()
        .with_context(|| format!("{} has no evaluation", path.display()))?;
    let summary: Option<Summary> = std::fs::read_to_string(run.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(s) = summary.filter(|s| s.status != crate::events::Status::Completed) {
        bail!(
            "{}: the run ended {:?}: {}",
            run.display(),
            s.status,
            s.message.unwrap_or_default()
        );
    }
    last.get(col)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{}: bad `{metric}` value", path.display()))
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| experiment | model | metric | rnnlab | reference | ratio | training time |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let time = if r.run.is_some() {
            headless::clock(r.seconds)
        } else {
            "–".into()
        };
        out += &format!(
            "| `{}` | {} | {} | {:.4} | {:.4} | {:.2} | {} |\n",
            r.file,
            r.label,
            r.metric,
            r.rnnlab,
            r.reference,
            r.rnnlab / r.reference,
            time
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_has_a_row_per_result_with_the_ratio() {
        let rows = vec![Row {
            file: "02-linear.toml".into(),
            label: "linear".into(),
            metric: "mse".into(),
            rnnlab: 0.0021,
            reference: 0.0042,
            seconds: 75.0,
            run: Some(PathBuf::from("runs/x")),
        }];
        let md = markdown(&rows);
        assert!(
            md.contains("| `02-linear.toml` | linear | mse | 0.0021 | 0.0042 | 0.50 | 1:15 |"),
            "{md}"
        );
    }
}
