//! `rnnlab check`: validates an experiment and prints the model summary,
//! data shapes, split sizes and baselines.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::error::CliResult;
use super::output;
use crate::data;
use crate::experiment::{Experiment, TaskKind};
use crate::model::Model;

/// `rnnlab check EXP`: validates the experiment and describes what it would train.
pub fn check(path: &Path, sets: &[String]) -> CliResult<ExitCode> {
    let mut out = String::new();
    let exp = Experiment::load(path, sets)?;
    let data = data::load(&exp)?;
    let model = Model::for_experiment(&exp, data.text.as_ref());
    let _ = writeln!(out, "{}: ok", path.display());
    let _ = writeln!(out, "model: {}\n", model.describe());
    let _ = write!(out, "{}", model.summary());
    let shape = |n: usize| {
        if data.every_step {
            format!(
                "x {n}×{}×{}  y {n}×{}×{}",
                data.window, data.features, data.window, data.outputs
            )
        } else {
            format!(
                "x {n}×{}×{}  y {n}×{}",
                data.window, data.features, data.outputs
            )
        }
    };
    match &data.text {
        Some(text) => {
            let (unit, baseline) = match exp.task.kind {
                TaskKind::Classify => ("sentences", "majority-class accuracy"),
                _ => ("characters", "unigram bits per character"),
            };
            let _ = writeln!(
                out,
                "\ndata ({unit}, vocabulary of {} tokens{}):",
                text.vocab.len(),
                if text.classes.is_empty() {
                    String::new()
                } else {
                    format!(", classes {}", text.classes.join(", "))
                }
            );
            for (i, part) in ["train", "valid", "test "].iter().enumerate() {
                // An empty part (a test share of 0) has no score, not a score of 0.
                let score = match text.len(i) {
                    0 => "-".to_string(),
                    _ => format!("{:.4}", text.baseline(i)),
                };
                let _ = writeln!(out, "  {part} {:>7}  {baseline} {score}", text.len(i));
            }
        }
        None => {
            let _ = writeln!(out, "\ndata (samples × steps × features):");
            let _ = writeln!(
                out,
                "  train {:>7}  {}",
                data.train.len,
                shape(data.train.len)
            );
            let _ = writeln!(
                out,
                "  valid {:>7}  {}",
                data.valid.len,
                shape(data.valid.len)
            );
            let _ = writeln!(
                out,
                "  test  {:>7}  {}",
                data.test.len,
                shape(data.test.len)
            );
        }
    }
    let per_epoch = data.batches_per_epoch(exp.train.batch_size) as u64;
    let mut total = per_epoch * exp.train.epochs as u64;
    if exp.train.max_steps > 0 {
        total = total.min(exp.train.max_steps);
    }
    let _ = writeln!(
        out,
        "\ntraining: {total} steps ({} epochs × {per_epoch} steps of batch {}, max_steps {}), {:?} lr {}",
        exp.train.epochs,
        exp.train.batch_size,
        exp.train.max_steps,
        exp.train.optimizer,
        exp.train.learning_rate
    );
    // What a probabilistic forecast's head predicts.
    let k = exp.output_size();
    let each = if k == 1 {
        "the value".to_string()
    } else {
        format!("each of the {k} values")
    };
    if let Some(d) = exp.task.distribution {
        let _ = writeln!(
            out,
            "forecast: a {d:?} (a mean and a scale) for {each}, negative log-likelihood; its quantiles 0.1, 0.5, 0.9 reported"
        );
    } else if !exp.task.quantiles.is_empty() {
        let levels: Vec<String> = exp.task.quantiles.iter().map(|q| q.to_string()).collect();
        let _ = writeln!(
            out,
            "forecast: quantiles {} of {each}, pinball loss; the median is the point forecast",
            levels.join(", ")
        );
    }
    for b in &data.baselines {
        let _ = writeln!(out, "baseline {}: valid mse {:.6}", b.name, b.valid.mse);
    }
    if let Some(bt) = &data.backtest {
        if exp.evaluate.retrain {
            // The rows before the first origin must hold a run of their own.
            crate::data::backtest::retrain_cuts(&exp, bt)?;
        }
        let _ = writeln!(
            out,
            "backtest: {} origins, {} step(s) apart{}",
            bt.origins.count,
            bt.origins.step,
            if exp.evaluate.retrain {
                format!(
                    "; retrained at each origin: {} more training runs after this one",
                    bt.origins.count
                )
            } else {
                String::new()
            }
        );
    }
    let estimate = crate::experiment::limits::estimate(&exp);
    let available = match crate::fsio::available_memory() {
        Some(m) => format!("{} available", crate::fsio::bytes(m)),
        None => "available memory unknown".into(),
    };
    let _ = writeln!(
        out,
        "memory: about {} ({available}): {}",
        crate::fsio::bytes(estimate.total()),
        estimate.describe()
    );
    output::print(&out)?;
    Ok(ExitCode::SUCCESS)
}
