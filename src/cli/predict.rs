//! `rnnlab predict`: forecasts with a trained model from a CSV of input
//! windows, in the data's original units.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::error::{CliResult, bad_input};
use super::output;
use crate::data::conformal::Conformal;
use crate::data::{self, Scaler};
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run;
use crate::train;

/// What `predict` forecasts from.
pub enum Input<'a> {
    /// A CSV of windows, one per row, and whether its first row is a header
    /// (`None`: the row decides).
    Windows(&'a Path, Option<bool>),
    /// A series CSV laid out like the training data: the steps after its
    /// last window are forecast; and a model with known-future columns,
    /// the CSV of their values over the forecast steps (`--future`).
    Series(&'a Path, Option<&'a Path>),
}

/// `rnnlab predict`: one output row per input sequence, in original units.
/// `input` is the CSV of sequences and whether its first row is a header
/// (`--header`: yes, `--no-header`: no, neither: the row decides).
pub fn predict(
    run_dir: Option<PathBuf>,
    from: Option<&str>,
    experiment: Option<PathBuf>,
    weights: Option<PathBuf>,
    input: Input<'_>,
    output: &Path,
) -> CliResult<ExitCode> {
    let (exp, weights, scaler, calibrated) = match (run_dir, experiment, weights) {
        (Some(dir), None, None) => {
            if !dir.join("experiment.toml").is_file() {
                bad_input!(
                    "{} is not a run directory (it has no experiment.toml); `rnnlab runs` lists the runs",
                    dir.display()
                );
            }
            let exp = Experiment::load(&dir.join("experiment.toml"), &[])?;
            let newest = checkpoint(&dir, from)?;
            let scaler_path = dir.join("scaler.json");
            let text = match crate::fsio::read_text(
                &scaler_path,
                crate::fsio::SCALER_LIMIT,
                "scaler file",
            ) {
                Ok(text) => text,
                Err(e) => bad_input!("{e}"),
            };
            let scaler = Scaler::from_json(&text).map_err(|e| e.in_file(&scaler_path))?;
            let calibrated = calibration(&dir, &newest)?;
            (exp, newest, scaler, calibrated)
        }
        (None, Some(exp), Some(w)) => {
            let exp = Experiment::load(&exp, &[])?;
            // The normalisation is refitted on the training part, as in training.
            let scaler = data::load(&exp)?.scaler;
            (exp, w, scaler, None)
        }
        _ => bad_input!("give a run directory, or --experiment with --weights"),
    };
    if exp.model.embedding.is_some() {
        bad_input!(
            "`rnnlab predict` reads numeric windows from a CSV; this is a text model ({:?}): \
             its predictions and samples are in the run's predictions.jsonl",
            exp.task.kind
        );
    }
    let mut model = Model::for_experiment(&exp, None);
    model.load_weights(&weights)?;
    model.calibration = calibrated;
    let window = exp.data.window;
    let features = exp.input_features();
    let (x, n) = match input {
        Input::Series(path, future) => {
            let series = exp.data.source == crate::experiment::Source::Csv
                && exp.data.layout == crate::experiment::Layout::Series
                && exp.task.kind == crate::experiment::TaskKind::Forecast;
            if !series {
                bad_input!(
                    "--series forecasts the steps after a series' last window, but this run's model is not a forecast of a CSV series; give --input windows instead"
                );
            }
            crate::fsio::open_regular(path, crate::fsio::memory_limit(), "series file")?;
            if let Some(future) = future {
                crate::fsio::open_regular(future, crate::fsio::memory_limit(), "future file")?;
            }
            let mut last = data::last_window(&exp, path, future)?;
            scaler.scale_inputs(&mut last);
            // One sequence: time-major and sample-major coincide.
            (last, 1)
        }
        Input::Windows(path, header) => {
            crate::fsio::open_regular(path, crate::fsio::memory_limit(), "input file")?;
            let mut seqs = data::read_sequences(path, window, features, scaler.transform, header)?;
            let n = seqs.len() / (window * features);
            scaler.scale_inputs(&mut seqs);
            // Sample-major → time-major.
            let mut x = vec![0.0; seqs.len()];
            for b in 0..n {
                for t in 0..window {
                    let src = (b * window + t) * features;
                    let dst = (t * n + b) * features;
                    x[dst..dst + features].copy_from_slice(&seqs[src..src + features]);
                }
            }
            (x, n)
        }
    };
    let train::Forecast {
        point: mut y,
        mut quantiles,
    } = train::forecast_full(&model, &exp, &x, n, window);
    scaler.unscale_target(&mut y);
    scaler.unscale_target(&mut quantiles);
    let k = y.len() / n.max(1);
    // A probabilistic model's quantiles follow the point forecast (its
    // median or mean), a level at a time: q0.1_1 … q0.1_k, q0.5_1, …
    let levels = if quantiles.is_empty() {
        Vec::new()
    } else {
        exp.levels()
    };
    let block = levels.len() * k;
    let written = (|| -> Result<(), csv::Error> {
        let mut w = csv::Writer::from_path(output)?;
        let mut header: Vec<String> = (1..=k).map(|i| format!("y_{i}")).collect();
        for &q in &levels {
            let name = crate::experiment::level_name(q);
            header.extend((1..=k).map(|i| format!("{name}_{i}")));
        }
        w.write_record(&header)?;
        for (b, row) in y.chunks(k.max(1)).enumerate() {
            let q = &quantiles
                [(b * block).min(quantiles.len())..((b + 1) * block).min(quantiles.len())];
            w.write_record(row.iter().chain(q).map(|v| v.to_string()))?;
        }
        w.flush()?;
        Ok(())
    })();
    if let Err(e) = written {
        // A path that cannot be written is bad input (exit 2), a full disk a failure.
        let e = match e.into_kind() {
            csv::ErrorKind::Io(e) => e,
            other => std::io::Error::other(format!("{other:?}")),
        };
        return Err(crate::run::RunError::io("write", output, e).into());
    }
    let quantile_note = if levels.is_empty() {
        String::new()
    } else {
        format!(" and {} quantiles of each", levels.len())
    };
    output::note(&format!(
        "wrote {n} predictions × {k} values{quantile_note} to {}",
        output.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// The conformal offsets of run `dir` (`task.calibration`) when `weights`
/// is the checkpoint they were fitted for; for another checkpoint, a note
/// that its intervals are uncalibrated, and none.
pub(super) fn calibration(dir: &Path, weights: &Path) -> CliResult<Option<Conformal>> {
    let Some(c) = run::read::summary::read_calibration(dir)? else {
        return Ok(None);
    };
    let fitted = run::named(dir, &format!("step-{}", c.step));
    if weights.file_name() == fitted.file_name() {
        return Ok(Some(c));
    }
    output::note(&format!(
        "note: the conformal calibration in {}/summary.json was fitted for {}; the intervals from {} are the model's own, uncalibrated",
        dir.display(),
        fitted.display(),
        weights.display()
    ));
    Ok(None)
}

/// The checkpoint of run `dir` to load: `from` (`best`, `step-N` or `N`),
/// else the newest; an error that says what exists when there is none.
pub(super) fn checkpoint(dir: &Path, from: Option<&str>) -> CliResult<PathBuf> {
    Ok(match from {
        Some(name) => {
            let file = run::named(dir, name);
            if !file.is_file() {
                bad_input!(
                    "no checkpoint {}; --from takes best, step-N or N (see {}/checkpoints/)",
                    file.display(),
                    dir.display()
                );
            }
            file
        }
        None => match run::checkpoints(dir)?.pop() {
            Some((_, newest)) => newest,
            None => bad_input!("{} has no checkpoint yet", dir.display()),
        },
    })
}
