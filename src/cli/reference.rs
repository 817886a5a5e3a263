//! `rnnlab table`: runs a set of experiments that carry a `[reference]` and
//! prints rnnlab's figure beside the published one, as a Markdown table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use std::process::ExitCode;

use super::error::{CliError, CliResult, bad_input, fail};
use super::output;

use crate::data::Baseline;
use crate::events::Status;
use crate::experiment::{Experiment, Goal};
use crate::frontend::headless;
use crate::model::Model;
use crate::run::format::Spread;

pub use super::figures::{Backtested, Covered};
use crate::run::read::summary::load_summary;
use crate::run::{RunDir, Summary, read};
use crate::{data, train};

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub file: String,
    pub label: String,
    pub metric: String,
    /// Input steps per sample (`data.window`; the sequence length T of the adding problem).
    pub window: usize,
    pub figures: Figures,
    /// Training wall time in seconds (0 for baselines).
    pub seconds: f64,
    /// The run directory, when the row trained a model.
    pub run: Option<PathBuf>,
    /// With several seeds: the standard deviation of the main figure over
    /// them and how many (the figures are then their means).
    pub spread: Option<(f64, usize)>,
}

/// A row's figures, by [`Goal`]; every figure is in original units.
#[derive(Debug, Clone, PartialEq)]
pub enum Figures {
    /// rnnlab's final validation metric beside the published one.
    Match { rnnlab: f64, published: f64 },
    /// rnnlab's final validation metric and the threshold to stay below.
    Below { rnnlab: f64, threshold: f64 },
    /// Test scores of rnnlab (seq2seq: of the last step's forecast, as the
    /// baselines') and of the baselines; `target` is the RMSE to beat.
    Beat {
        rmse: f64,
        mae: f64,
        naive: f64,
        seasonal_naive: Option<f64>,
        target: f64,
        /// The rolling-origin backtest (forecasts of one series).
        backtest: Option<Backtested>,
        /// A probabilistic forecast's outermost interval.
        interval: Option<Covered>,
    },
}

impl Figures {
    fn goal(&self) -> Goal {
        match self {
            Figures::Match { .. } => Goal::Match,
            Figures::Below { .. } => Goal::Below,
            Figures::Beat { .. } => Goal::Beat,
        }
    }
}

/// The experiment files named: files as they are, directories' `*.toml` sorted by name.
pub fn collect(paths: &[PathBuf]) -> CliResult<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = match std::fs::read_dir(p) {
                Ok(entries) => entries,
                Err(e) => bad_input!("cannot read {}: {e}", p.display()),
            };
            let mut found: Vec<PathBuf> = entries
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
        bad_input!("no experiment files found in {paths:?}");
    }
    Ok(files)
}

/// Runs one experiment (or reads its baseline) and returns its row.
pub fn run_one(path: &Path, sets: &[String], runs_dir: &Path) -> CliResult<Row> {
    let exp = Experiment::load(path, sets)?;
    let Some(reference) = exp.reference.clone() else {
        bad_input!(
            "{} has no [reference] section to compare with",
            path.display()
        );
    };
    let file = path
        .file_name()
        .map_or(String::new(), |f| f.to_string_lossy().to_string());
    let data = data::load(&exp)?;
    let baseline = |name: &str| -> CliResult<&Baseline> {
        data.baselines
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| {
                CliError::bad_input(format!(
                    "{}: no `{name}` baseline was computed",
                    path.display()
                ))
            })
    };
    let mut row = Row {
        file,
        label: reference.label.clone(),
        metric: reference.metric.clone(),
        window: exp.data.window,
        figures: Figures::Match {
            rnnlab: f64::NAN,
            published: f64::NAN,
        },
        seconds: 0.0,
        run: None,
        spread: None,
    };
    // Validation guarantees a value for every goal but `beat`.
    let value = reference.value.unwrap_or(f64::NAN);
    if reference.goal == Goal::Match
        && let Some(name) = reference.metric.strip_prefix("baseline.")
    {
        row.figures = Figures::Match {
            rnnlab: baseline(name)?.valid.mse,
            published: value,
        };
        return Ok(row);
    }
    let test_rmse = |name: &str| -> CliResult<f64> {
        baseline(name)?.test.map(|m| m.rmse).ok_or_else(|| {
            CliError::bad_input(format!("{}: the test part is empty", path.display()))
        })
    };
    let naive = match reference.goal {
        Goal::Beat => Some((
            test_rmse("naive")?,
            (exp.data.season > 0)
                .then(|| test_rmse("seasonal_naive"))
                .transpose()?,
            test_rmse(reference.metric.trim_start_matches("baseline."))?,
        )),
        _ => None,
    };
    let every_step = exp.every_step();
    let retrain = exp.evaluate.retrain;
    let model = Model::for_experiment(&exp, data.text.as_ref());
    let run = RunDir::create_in(&exp, None, runs_dir, &data.scaler)?;
    let dir = run.path.clone();
    let start = Instant::now();
    let handle = train::spawn(exp, data, model, run, None, train::Options::default())?;
    headless::log(&handle.events);
    handle.join()?;
    row.seconds = start.elapsed().as_secs_f64();
    completed_summary(&dir)?;
    if retrain {
        // `evaluate.retrain`: the expanding-window backtest, into summary.json.
        super::retrain::retrain(&dir, &super::retrain::RetrainArgs::default())?;
    }
    let summary = completed_summary(&dir)?;
    row.figures = match (reference.goal, naive) {
        (Goal::Beat, Some((naive, seasonal_naive, target))) => {
            let test = |m: &str| {
                summary.test.get(m).copied().ok_or_else(|| {
                    CliError::failure(format!("{}: summary.json has no test `{m}`", dir.display()))
                })
            };
            // Seq2seq scores every step; the baselines forecast after the whole window.
            let last = if every_step { "last_" } else { "" };
            Figures::Beat {
                rmse: test(&format!("{last}rmse"))?,
                mae: test(&format!("{last}mae"))?,
                naive,
                seasonal_naive,
                target,
                backtest: Backtested::of_summary(&summary),
                interval: Covered::of(&summary),
            }
        }
        (Goal::Below, _) => Figures::Below {
            rnnlab: final_metric(&dir, &reference.metric)?,
            threshold: value,
        },
        _ => Figures::Match {
            rnnlab: final_metric(&dir, &reference.metric)?,
            published: value,
        },
    };
    row.run = Some(dir);
    Ok(row)
}

/// The run's summary, if the run completed.
fn completed_summary(run: &Path) -> CliResult<Summary> {
    let summary = load_summary(run)?;
    if summary.status != Status::Completed {
        fail!(
            "{}: the run ended {:?}: {}",
            run.display(),
            summary.status,
            summary.message.unwrap_or_default()
        );
    }
    Ok(summary)
}

/// The metric at the run's last evaluation (what Keras reports after training).
fn final_metric(run: &Path, metric: &str) -> CliResult<f64> {
    let evals = read::evals(run)?;
    let Some(last) = evals.last() else {
        fail!("{} has no evaluation", run.join("eval.csv").display());
    };
    if metric == "valid_loss" {
        return Ok(last.valid_loss);
    }
    match last.metrics.iter().find(|(k, _)| k == metric) {
        Some((_, v)) => Ok(*v),
        None => fail!(
            "{} has no `{metric}` column",
            run.join("eval.csv").display()
        ),
    }
}

/// Runs one experiment once per seed — its own seed, then 1, 2, … — and
/// returns a row of the figures' means, with the main figure's spread.
pub fn run_seeds(path: &Path, sets: &[String], runs_dir: &Path, n: usize) -> CliResult<Row> {
    if n <= 1 {
        return run_one(path, sets, runs_dir);
    }
    let own = Experiment::load(path, sets)?.seed;
    let seeds: Vec<u64> = std::iter::once(own)
        .chain((1..).filter(|s| *s != own))
        .take(n)
        .collect();
    let mut rows = Vec::new();
    for s in &seeds {
        let mut with = sets.to_vec();
        with.push(format!("seed={s}"));
        rows.push(run_one(path, &with, runs_dir)?);
    }
    let mean = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / rows.len() as f64;
    let main = |r: &Row| match r.figures {
        Figures::Match { rnnlab, .. } | Figures::Below { rnnlab, .. } => rnnlab,
        Figures::Beat { rmse, .. } => rmse,
    };
    let m = mean(&main);
    let std =
        (rows.iter().map(|r| (main(r) - m).powi(2)).sum::<f64>() / (rows.len() - 1) as f64).sqrt();
    let mut row = rows[0].clone();
    row.figures = match row.figures {
        Figures::Match { published, .. } => Figures::Match {
            rnnlab: m,
            published,
        },
        Figures::Below { threshold, .. } => Figures::Below {
            rnnlab: m,
            threshold,
        },
        Figures::Beat {
            naive,
            seasonal_naive,
            target,
            backtest,
            interval,
            ..
        } => Figures::Beat {
            rmse: m,
            mae: mean(&|r| match r.figures {
                Figures::Beat { mae, .. } => mae,
                _ => f64::NAN,
            }),
            naive,
            seasonal_naive,
            target,
            // The seeds' mean MASE; the sd stays the spread over origins,
            // averaged over the seeds.
            backtest: backtest.map(|b| {
                let mase = |f: fn(&Spread) -> f64| {
                    mean(&|r| match &r.figures {
                        Figures::Beat {
                            backtest: Some(b), ..
                        } => f(&b.mase),
                        _ => f64::NAN,
                    })
                };
                let retrained = |f: fn(&Spread) -> f64| {
                    mean(&|r| match &r.figures {
                        Figures::Beat {
                            backtest: Some(b), ..
                        } => b.retrained.as_ref().map_or(f64::NAN, f),
                        _ => f64::NAN,
                    })
                };
                Backtested {
                    mase: Spread {
                        mean: mase(|s| s.mean),
                        sd: mase(|s| s.sd),
                    },
                    retrained: b.retrained.map(|_| Spread {
                        mean: retrained(|s| s.mean),
                        sd: retrained(|s| s.sd),
                    }),
                    ..b
                }
            }),
            // As the MASE: the seeds' means.
            interval: interval.map(|c| {
                let covered = |f: fn(&Covered) -> f64| {
                    mean(&|r| match &r.figures {
                        Figures::Beat {
                            interval: Some(c), ..
                        } => f(c),
                        _ => f64::NAN,
                    })
                };
                Covered {
                    test: covered(|c| c.test),
                    backtest: c.backtest.map(|_| Spread {
                        mean: covered(|c| c.backtest.map_or(f64::NAN, |b| b.mean)),
                        sd: covered(|c| c.backtest.map_or(f64::NAN, |b| b.sd)),
                    }),
                    ..c
                }
            }),
        },
    };
    row.seconds = rows.iter().map(|r| r.seconds).sum();
    row.spread = Some((std, rows.len()));
    Ok(row)
}

/// `rnnlab table EXP_OR_DIR… [--seeds N]`: runs each experiment (once per
/// seed), printing the table so far to stderr after each one and the whole
/// table to stdout at the end.
pub fn command(
    experiments: &[PathBuf],
    sets: &[String],
    runs_dir: &Path,
    output: Option<&Path>,
    seeds: usize,
) -> CliResult<ExitCode> {
    let files = collect(experiments)?;
    let mut rows = Vec::new();
    for (i, f) in files.iter().enumerate() {
        output::note(&format!("[{}/{}] {}", i + 1, files.len(), f.display()));
        rows.push(run_seeds(f, sets, runs_dir, seeds)?);
        output::note(markdown(&rows).trim_end());
    }
    let md = markdown(&rows);
    output::print(&md)?;
    if let Some(out) = output
        && let Err(e) = std::fs::write(out, &md)
    {
        // A path that cannot be written is bad input (exit 2), a full disk a failure.
        return Err(crate::run::RunError::io("write", out, e).into());
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows as Markdown: one table per goal, in the order the goals first appear.
pub fn markdown(rows: &[Row]) -> String {
    let mut goals: Vec<Goal> = Vec::new();
    for r in rows {
        if !goals.contains(&r.figures.goal()) {
            goals.push(r.figures.goal());
        }
    }
    let tables: Vec<String> = goals
        .iter()
        .map(|&goal| {
            // A column for intervals when a row has one.
            let intervals = rows
                .iter()
                .any(|r| matches!(&r.figures, Figures::Beat { interval: Some(_), .. }));
            let mut out = String::from(match goal {
                Goal::Match => "| experiment | model | metric | rnnlab | reference | ratio | training time |\n|---|---|---|---|---|---|---|\n",
                Goal::Below => "| experiment | model | T (steps) | metric | rnnlab (valid) | goal | reached | training time |\n|---|---|---|---|---|---|---|---|\n",
                Goal::Beat if intervals => "| experiment | model | test RMSE | test MAE | naive RMSE | seasonal-naive RMSE | target | ratio | beaten | backtest MASE (origins) | best baseline's MASE | interval coverage, test (nominal) · backtest | training time |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
                Goal::Beat => "| experiment | model | test RMSE | test MAE | naive RMSE | seasonal-naive RMSE | target | ratio | beaten | backtest MASE (origins) | best baseline's MASE | training time |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
            });
            for r in rows.iter().filter(|r| r.figures.goal() == goal) {
                out += &line(r, intervals);
            }
            out
        })
        .collect();
    tables.join("\n")
}

/// One Markdown table line; `intervals`: with the interval column (beat rows).
fn line(r: &Row, intervals: bool) -> String {
    let time = if r.run.is_some() {
        crate::fmt::clock(r.seconds)
    } else {
        "–".into()
    };
    let yes = |b: bool| if b { "yes" } else { "**no**" };
    // With seeds: mean ± standard deviation (n).
    let with_spread = |v: String| match r.spread {
        Some((std, n)) => format!("{v} ± {} (n={n})", figure(std)),
        None => v,
    };
    match &r.figures {
        Figures::Match { rnnlab, published } => format!(
            "| `{}` | {} | {} | {} | {published:.4} | {:.2} | {time} |\n",
            r.file,
            r.label,
            r.metric,
            with_spread(format!("{rnnlab:.4}")),
            rnnlab / published,
        ),
        Figures::Below { rnnlab, threshold } => format!(
            "| `{}` | {} | {} | {} | {} | < {threshold} | {} | {time} |\n",
            r.file,
            r.label,
            r.window,
            r.metric,
            with_spread(format!("{rnnlab:.4}")),
            yes(*rnnlab < *threshold),
        ),
        Figures::Beat {
            rmse,
            mae,
            naive,
            seasonal_naive,
            target,
            backtest,
            interval,
        } => {
            let (model, baseline) = match backtest {
                Some(b) => (
                    b.cell(),
                    format!(
                        "{} {}",
                        b.baseline.replace('_', "-"),
                        b.baseline_mase.compact()
                    ),
                ),
                None => ("–".into(), "–".into()),
            };
            let covered = match (intervals, interval) {
                (false, _) => String::new(),
                (true, Some(c)) => format!(" {} |", c.cell()),
                (true, None) => " – |".into(),
            };
            format!(
                "| `{}` | {} | {} | {} | {} | {} | {} | {:.2} | {} | {model} | {baseline} |{covered} {time} |\n",
                r.file,
                r.label,
                with_spread(figure(*rmse)),
                figure(*mae),
                figure(*naive),
                seasonal_naive.map_or("–".into(), figure),
                r.metric.trim_start_matches("baseline.").replace('_', "-"),
                rmse / target,
                yes(rmse < target),
            )
        }
    }
}

/// A figure in original units with four significant digits.
fn figure(v: f64) -> String {
    let digits = (3.0 - v.abs().log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{v:.digits$}")
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
            window: 50,
            figures: Figures::Match {
                rnnlab: 0.0021,
                published: 0.0042,
            },
            seconds: 75.0,
            run: Some(PathBuf::from("runs/x")),
            spread: None,
        }];
        let md = markdown(&rows);
        assert!(
            md.contains("| `02-linear.toml` | linear | mse | 0.0021 | 0.0042 | 0.50 | 1:15 |"),
            "{md}"
        );
    }

    #[test]
    fn one_table_per_goal_with_verdicts() {
        let row = |file: &str, figures| Row {
            file: file.into(),
            label: "GRU".into(),
            metric: "baseline.seasonal_naive".into(),
            window: 100,
            figures,
            seconds: 61.0,
            run: Some(PathBuf::from("runs/x")),
            spread: None,
        };
        let beat = |rmse| Figures::Beat {
            rmse,
            mae: 8.25,
            naive: 12.5,
            seasonal_naive: Some(20.0),
            target: 20.0,
            backtest: Some(Backtested {
                origins: 12,
                mase: Spread {
                    mean: 0.75,
                    sd: 0.125,
                },
                baseline: "seasonal_naive".into(),
                baseline_mase: Spread {
                    mean: 1.5,
                    sd: 0.25,
                },
                retrained: None,
            }),
            interval: None,
        };
        let below = Figures::Below {
            rnnlab: 0.0123,
            threshold: 0.01,
        };
        let rows = vec![
            row("a.toml", beat(10.0)),
            row("b.toml", below),
            row("c.toml", beat(1234.6)),
        ];
        let md = markdown(&rows);
        let tables: Vec<&str> = md.split("\n\n").collect();
        assert_eq!(tables.len(), 2, "{md}");
        assert!(tables[0].contains("| `a.toml` | GRU | 10.00 | 8.250 | 12.50 | 20.00 | seasonal-naive | 0.50 | yes | 0.75 ± 0.125 (12) | seasonal-naive 1.5 ± 0.25 | 1:01 |"), "{md}");
        assert!(tables[0].contains("| `c.toml` | GRU | 1235 | 8.250 | 12.50 | 20.00 | seasonal-naive | 61.73 | **no** |"), "{md}");
        // With an interval: its column, a dash for the rows without one.
        let mut q = rows[0].clone();
        if let Figures::Beat { interval, .. } = &mut q.figures {
            *interval = Some(Covered {
                nominal: 0.8,
                test: 0.7856,
                backtest: Some(Spread {
                    mean: 0.95,
                    sd: 0.25,
                }),
            });
        }
        let md_q = markdown(&[q, rows[2].clone()]);
        assert!(
            md_q.contains("| interval coverage, test (nominal) · backtest | training time |"),
            "{md_q}"
        );
        assert!(
            md_q.contains("| seasonal-naive 1.5 ± 0.25 | 0.786 (0.8) · 0.95 ± 0.25 | 1:01 |"),
            "{md_q}"
        );
        assert!(
            md_q.contains("| seasonal-naive 1.5 ± 0.25 | – | 1:01 |"),
            "{md_q}"
        );
        let mut b = rows[1].clone();
        b.metric = "mse".into();
        assert!(
            markdown(&[b])
                .contains("| `b.toml` | GRU | 100 | mse | 0.0123 | < 0.01 | **no** | 1:01 |"),
            "{md}"
        );
    }
}
