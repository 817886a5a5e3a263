//! The forecast figures of a `rnnlab table` row beyond the test RMSE: the
//! backtest's MASE beside the best baseline's, and a probabilistic
//! forecast's interval coverage.

use crate::run::Summary;
use crate::run::format::{BacktestSummary, Spread};

/// A row's backtest: the model's MASE over origins and the best baseline's
/// at the same origins (mean ± sd over origins).
#[derive(Debug, Clone, PartialEq)]
pub struct Backtested {
    pub origins: usize,
    pub mase: Spread,
    pub baseline: String,
    pub baseline_mase: Spread,
    /// The retrained (expanding-window) backtest's MASE at the same
    /// origins (`evaluate.retrain`).
    pub retrained: Option<Spread>,
}

impl Backtested {
    pub(super) fn of(b: &BacktestSummary) -> Option<Backtested> {
        let (baseline, baseline_mase) = b.best_baseline("mase")?;
        Some(Backtested {
            origins: b.origins,
            mase: *b.metrics.get("mase")?,
            baseline: baseline.to_string(),
            baseline_mase,
            retrained: None,
        })
    }

    /// As [`Backtested::of`] the summary's backtest, with its retrained
    /// backtest's MASE when it has one at the same origins.
    pub(super) fn of_summary(summary: &Summary) -> Option<Backtested> {
        let b = summary.backtest.as_ref()?;
        let retrained = summary
            .backtest_retrained
            .as_ref()
            .filter(|r| (r.origins, r.step) == (b.origins, b.step))
            .and_then(|r| r.metrics.get("mase").copied());
        Some(Backtested {
            retrained,
            ..Backtested::of(b)?
        })
    }

    /// `0.75 ± 0.125 (12)`, and `· retrained 0.6 ± 0.1` with a retrained backtest.
    pub(super) fn cell(&self) -> String {
        let mut out = format!("{} ({})", self.mase.compact(), self.origins);
        if let Some(r) = &self.retrained {
            out += &format!(" · retrained {}", r.compact());
        }
        out
    }
}

/// The coverage of a probabilistic forecast's outermost interval: on the
/// test part, and over the backtest's origins (mean ± sd).
#[derive(Debug, Clone, PartialEq)]
pub struct Covered {
    /// The nominal coverage: the levels' difference (0.8 for q0.1–q0.9).
    pub nominal: f64,
    pub test: f64,
    pub backtest: Option<Spread>,
}

impl Covered {
    /// From a summary's test metrics and backtest: the first `coverage_`
    /// metric is the outermost interval's (see `cli::train::interval_clause`).
    pub(super) fn of(summary: &Summary) -> Option<Covered> {
        let (key, test) = summary
            .test
            .iter()
            .find(|(k, _)| k.starts_with("coverage_"))?;
        let (lo, hi) = key["coverage_q".len()..].split_once("_q")?;
        Some(Covered {
            nominal: hi.parse::<f64>().ok()? - lo.parse::<f64>().ok()?,
            test: *test,
            backtest: summary
                .backtest
                .as_ref()
                .and_then(|b| b.metrics.get(key).copied()),
        })
    }

    /// `0.786 (0.8) · 0.95 ± 0.2236`: test, nominal, backtest.
    pub(super) fn cell(&self) -> String {
        let mut out = format!("{:.3} ({})", self.test, crate::fmt::compact(self.nominal));
        if let Some(b) = &self.backtest {
            out += &format!(" · {}", b.compact());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::format::Protocol;

    #[test]
    fn the_backtest_cell_adds_the_retrained_mase_at_the_same_origins() {
        let spread = |mean, sd| Spread { mean, sd };
        let backtest = |protocol, origins, mase: Spread| BacktestSummary {
            protocol,
            origins,
            step: 1,
            first_row: 0,
            metrics: [("mase".to_string(), mase)].into(),
            baselines: [(
                "naive".to_string(),
                [("mase".to_string(), spread(1.5, 0.25))].into(),
            )]
            .into(),
            runs: None,
        };
        let mut summary: Summary = serde_json::from_value(serde_json::json!({
            "name": "t", "status": "completed", "started": "", "model": "",
            "parameters": 0, "steps": 0, "epochs": 0, "wall_s": 0.0,
            "best_valid_loss": null, "best_step": null, "best_valid": {},
            "test": {}, "baselines": [], "message": null
        }))
        .unwrap();
        summary.backtest = Some(backtest(Protocol::Fixed, 12, spread(0.75, 0.125)));
        let fixed = Backtested::of_summary(&summary).unwrap();
        assert_eq!(fixed.cell(), "0.75 ± 0.125 (12)");
        summary.backtest_retrained = Some(backtest(Protocol::Retrained, 12, spread(0.5, 0.1)));
        let both = Backtested::of_summary(&summary).unwrap();
        assert_eq!(both.cell(), "0.75 ± 0.125 (12) · retrained 0.5 ± 0.1");
        assert_eq!(both.baseline, "naive");
        // Retrained at other origins: not beside this backtest.
        summary.backtest_retrained = Some(backtest(Protocol::Retrained, 5, spread(0.5, 0.1)));
        assert_eq!(Backtested::of_summary(&summary).unwrap().retrained, None);
    }
}
