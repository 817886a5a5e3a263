//! `rnnlab backtest`: the rolling-origin backtest of a finished run's model
//! on its test part, with other origins than training used if asked, beside
//! the baselines at the same origins.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::error::{CliResult, bad_input};
use super::output;
use crate::data;
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::format::{BacktestSummary, Spread};

/// The columns of the table, in order.
const METRICS: [(&str, &str); 5] = [
    ("mase", "MASE"),
    ("rmsse", "RMSSE"),
    ("smape", "sMAPE %"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
];

/// Backtests run `dir`'s checkpoint `from` (default: the newest) with
/// `origins` and `step` in place of the experiment's `[evaluate]`.
pub fn backtest(
    dir: &Path,
    from: Option<&str>,
    origins: Option<usize>,
    step: Option<usize>,
) -> CliResult<ExitCode> {
    if !dir.join("experiment.toml").is_file() {
        bad_input!(
            "{} is not a run directory (it has no experiment.toml); `rnnlab runs` lists the runs",
            dir.display()
        );
    }
    let mut sets = Vec::new();
    if let Some(n) = origins {
        sets.push(format!("evaluate.origins={n}"));
    }
    if let Some(s) = step {
        sets.push(format!("evaluate.step={s}"));
    }
    let exp = Experiment::load(&dir.join("experiment.toml"), &sets)?;
    let data = data::load(&exp)?;
    let weights = super::predict::checkpoint(dir, from)?;
    let mut model = Model::for_experiment(&exp, None);
    model.load_weights(&weights)?;
    model.calibration = super::predict::calibration(dir, &weights)?;
    let Some(summary) = crate::train::backtest(&model, &exp, &data) else {
        bad_input!(
            "{}: a backtest needs a forecast of one series with a test part (data.source = \"csv\", layout \"series\", a test share in data.split)",
            dir.display()
        );
    };
    output::print(&table(&summary, &weights.display().to_string()))?;
    if let Some(r) = crate::run::read::summary::load_summary(dir)
        .ok()
        .and_then(|s| s.backtest_retrained)
        .filter(|r| (r.origins, r.step) == (summary.origins, summary.step))
    {
        output::print(&format!(
            "\n{}",
            table(
                &r,
                "models retrained at each origin (expanding window, as `--retrain` recorded)"
            )
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `mean ± sd`.
fn spread(s: Option<&Spread>) -> String {
    s.map_or("–".into(), Spread::compact)
}

/// The backtest as Markdown: a line saying what was done (`weights`: what
/// forecast), then one row for the model and one per baseline, each metric
/// as mean ± sd over origins.
pub fn table(b: &BacktestSummary, weights: &str) -> String {
    let mut out = format!(
        "Rolling-origin backtest of {weights}: {} origins, {} step(s) apart, the first forecast at row {} of the test part; mean ± sd over origins, original units\n\n",
        b.origins, b.step, b.first_row
    );
    out += "| forecast |";
    for (_, title) in METRICS {
        let _ = write!(out, " {title} |");
    }
    out += "\n|---|";
    out += &"---|".repeat(METRICS.len());
    out += "\n";
    let rows = std::iter::once(("model", &b.metrics))
        .chain(b.baselines.iter().map(|(n, m)| (n.as_str(), m)));
    for (name, m) in rows {
        let _ = write!(out, "| {name} |");
        for (key, _) in METRICS {
            let _ = write!(out, " {} |", spread(m.get(key)));
        }
        out += "\n";
    }
    let means = b.metrics.iter().map(|(k, s)| (k.clone(), s.mean)).collect();
    if let Some(interval) = super::train::interval_clause(&means) {
        let _ = write!(out, "\nThe model's {interval} (means over origins)\n");
    }
    out
}
