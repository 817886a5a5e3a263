//! `rnnlab compare RUN…`: several runs side by side, as long-format CSV, as
//! JSON, or on a terminal screen with their curves overlaid.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::error::{CliError, CliResult, bad_input};
use super::{interactive, output};
use crate::frontend::compare;
use crate::frontend::tui::ui::Theme;
use crate::run::read::{self, NamedRun, SeedGroup, Spread};

/// `rnnlab compare RUN… [--by-seed] [--csv|--json] [--ascii]`.
pub fn command(
    runs: &[PathBuf],
    by_seed: bool,
    csv: bool,
    json: bool,
    ascii: bool,
) -> CliResult<ExitCode> {
    if by_seed && csv {
        output::print(&seed_csv(&read::by_seed(read::named_runs(runs)?))?)?;
    } else if by_seed && json {
        output::print(&seed_json(&read::by_seed(read::named_runs(runs)?))?)?;
    } else if by_seed && interactive() {
        compare::show_groups(runs, Theme::detect(ascii))?;
    } else if csv {
        output::print(&compare_csv(&read::named_runs(runs)?)?)?;
    } else if json {
        output::print(&compare_json(&read::named_runs(runs)?)?)?;
    } else if interactive() {
        compare::show(runs, Theme::detect(ascii))?;
    } else {
        bad_input!("compare needs a terminal for its chart; use --csv or --json in scripts");
    }
    Ok(ExitCode::SUCCESS)
}

/// Long-format CSV of the runs' curves: `run,step,loss,valid_loss,grad_norm`,
/// one row per recorded step (fields empty where a file has no value there).
pub fn compare_csv(runs: &[NamedRun]) -> CliResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut rows_out = vec![vec![
        "run".to_string(),
        "step".into(),
        "loss".into(),
        "valid_loss".into(),
        "grad_norm".into(),
    ]];
    for run in runs {
        type Row = (Option<f32>, Option<f64>, Option<f32>);
        let mut rows: BTreeMap<u64, Row> = BTreeMap::new();
        for &(step, loss, grad) in &run.curves.steps {
            let row = rows.entry(step).or_default();
            row.0 = Some(loss);
            row.2 = Some(grad);
        }
        for e in &run.curves.evals {
            rows.entry(e.step).or_default().1 = Some(e.valid_loss);
        }
        // The loss and the norm at f32, the precision they are recorded at.
        let text32 = |v: Option<f32>| v.map(|v| v.to_string()).unwrap_or_default();
        let text = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for (step, (loss, valid, grad)) in rows {
            rows_out.push(vec![
                run.name.clone(),
                step.to_string(),
                text32(loss),
                text(valid),
                text32(grad),
            ]);
        }
    }
    for row in rows_out {
        out.write_record(&row).map_err(CliError::failure)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| CliError::failure(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One run in [`compare_json`].
#[derive(Serialize)]
struct RunJson<'a> {
    name: &'a str,
    status: &'a str,
    steps: Option<u64>,
    wall_s: Option<f64>,
    best_valid_loss: Option<f64>,
    best_step: Option<u64>,
    final_loss: Option<f64>,
    test: &'a BTreeMap<String, f64>,
}

/// The runs' figures as a JSON array: name, status, steps, wall time, best
/// validation loss and its step, final training loss, test metrics.
pub fn compare_json(runs: &[NamedRun]) -> CliResult<String> {
    let out: Vec<RunJson> = runs
        .iter()
        .map(|r| {
            let best = r.best();
            RunJson {
                name: &r.name,
                status: &r.status,
                steps: r.step_count(),
                wall_s: r.summary.wall_s,
                best_valid_loss: best.map(|b| b.1),
                best_step: best.map(|b| b.0),
                final_loss: r.final_loss(),
                test: &r.summary.test,
            }
        })
        .collect();
    Ok(serde_json::to_string_pretty(&out).map_err(CliError::failure)? + "\n")
}

/// Per group of seeds and step: `group,step,n,loss_mean,loss_std,
/// valid_loss_mean,valid_loss_std,grad_norm_mean,grad_norm_std` (fields
/// empty where no run of the group has a value at that step).
pub fn seed_csv(groups: &[SeedGroup]) -> CliResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let head = [
        "group",
        "step",
        "n",
        "loss_mean",
        "loss_std",
        "valid_loss_mean",
        "valid_loss_std",
        "grad_norm_mean",
        "grad_norm_std",
    ];
    out.write_record(head).map_err(CliError::failure)?;
    for g in groups {
        type Cell = (Vec<f64>, Vec<f64>, Vec<f64>);
        let mut steps: BTreeMap<u64, Cell> = BTreeMap::new();
        for r in &g.runs {
            for &(step, loss, grad) in &r.curves.steps {
                let c = steps.entry(step).or_default();
                c.0.push(f64::from(loss));
                c.2.push(f64::from(grad));
            }
            for e in &r.curves.evals {
                steps.entry(e.step).or_default().1.push(e.valid_loss);
            }
        }
        let spread = |v: &[f64]| -> (String, String) {
            match Spread::of(v.iter().copied()) {
                Some(s) => (s.mean.to_string(), s.std.to_string()),
                None => (String::new(), String::new()),
            }
        };
        for (step, (loss, valid, grad)) in steps {
            let (lm, ls) = spread(&loss);
            let (vm, vs) = spread(&valid);
            let (gm, gs) = spread(&grad);
            let n = loss.len().max(valid.len()).to_string();
            out.write_record([
                g.label.as_str(),
                &step.to_string(),
                &n,
                &lm,
                &ls,
                &vm,
                &vs,
                &gm,
                &gs,
            ])
            .map_err(CliError::failure)?;
        }
    }
    let bytes = out
        .into_inner()
        .map_err(|e| CliError::failure(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One group in [`seed_json`].
#[derive(Serialize)]
struct GroupJson<'a> {
    group: &'a str,
    runs: Vec<&'a str>,
    seeds: &'a [String],
    n: usize,
    best_valid_loss: Option<Spread>,
    final_loss: Option<Spread>,
    test: BTreeMap<String, Spread>,
}

/// Per group of seeds: mean, standard deviation, extremes and count of the
/// best validation loss, the final training loss and each test metric.
pub fn seed_json(groups: &[SeedGroup]) -> CliResult<String> {
    let out: Vec<GroupJson> = groups
        .iter()
        .map(|g| {
            let mut test = BTreeMap::new();
            let keys: std::collections::BTreeSet<&String> =
                g.runs.iter().flat_map(|r| r.summary.test.keys()).collect();
            for k in keys {
                if let Some(s) =
                    Spread::of(g.runs.iter().filter_map(|r| r.summary.test.get(k).copied()))
                {
                    test.insert(k.clone(), s);
                }
            }
            GroupJson {
                group: &g.label,
                runs: g.runs.iter().map(|r| r.name.as_str()).collect(),
                seeds: &g.seeds,
                n: g.runs.len(),
                best_valid_loss: Spread::of(g.runs.iter().filter_map(|r| r.best().map(|b| b.1))),
                final_loss: Spread::of(g.runs.iter().filter_map(|r| r.final_loss())),
                test,
            }
        })
        .collect();
    Ok(serde_json::to_string_pretty(&out).map_err(CliError::failure)? + "\n")
}
