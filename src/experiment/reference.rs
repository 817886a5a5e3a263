//! Checks the `[reference]` table: the published figure an experiment is
//! compared with, and whether its metric is one the experiment reports.

use super::spec::*;
use super::validate::{Invalid, invalid};

pub(super) fn validate_reference(exp: &Experiment) -> Result<(), Invalid> {
    let Some(r) = &exp.reference else {
        return Ok(());
    };
    let mut known: Vec<String> = ["mse", "rmse", "mae"].map(String::from).to_vec();
    if exp.every_step() {
        known.extend(["last_mse", "last_rmse", "last_mae"].map(String::from));
    }
    match exp.task.kind {
        TaskKind::Classify => {
            known = ["accuracy", "cross_entropy", "majority_accuracy"]
                .map(String::from)
                .to_vec()
        }
        TaskKind::Generate => {
            known = ["bits_per_char", "unigram_bits_per_char"]
                .map(String::from)
                .to_vec()
        }
        TaskKind::Regress => known.push("baseline.mean".into()),
        TaskKind::Forecast => {
            known.extend(["mase", "rmsse", "smape"].map(String::from));
            // A probabilistic forecast's pinball losses, coverages, widths.
            let levels = exp.levels();
            if !levels.is_empty() {
                known.extend(crate::data::interval::metric_names(&levels));
            }
            known.push("baseline.naive".into());
            if exp.data.season > 0 {
                known.push("baseline.seasonal_naive".into());
            }
        }
    }
    let is_baseline = |m: &String| m.starts_with("baseline.");
    match r.goal {
        Goal::Match => {}
        Goal::Below => known.retain(|m| !is_baseline(m)),
        Goal::Beat => {
            known.retain(|m| is_baseline(m) && m != "baseline.mean");
            if exp.data.split[2] <= 0.0 {
                return Err(invalid(
                    "data.split",
                    "goal = \"beat\" compares test scores, but the test fraction is 0",
                    "give the test part a share, e.g. split = [0.7, 0.2, 0.1]",
                ));
            }
        }
    }
    if !known.contains(&r.metric) {
        return Err(invalid(
            "reference.metric",
            format!(
                "`{}` is not reported for this experiment with goal = \"{}\"",
                r.metric,
                r.goal.name()
            ),
            &format!("use one of: {}", known.join(", ")),
        ));
    }
    match (r.goal, r.value) {
        (Goal::Beat, Some(_)) => Err(invalid(
            "reference.value",
            "goal = \"beat\" compares with the baseline's score computed from the data",
            "remove `value`",
        )),
        (Goal::Beat, None) => Ok(()),
        (_, None) => Err(invalid(
            "reference",
            format!(
                "goal = \"{}\" needs a `value` to compare with",
                r.goal.name()
            ),
            "add value = … (the published figure, or the threshold)",
        )),
        (_, Some(v)) if !(v.is_finite() && v >= 0.0) => {
            Err(invalid("reference.value", "must be a number ≥ 0", ""))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::experiment::Experiment;

    /// The error of a sine experiment with `extra` appended, or `None` if it is valid.
    fn error(extra: &str) -> Option<String> {
        let text = format!(
            "name = \"t\"\n[data]\nsource = \"synthetic\"\ngenerator = \"sine\"\nseason = 5\n\
             [[model.layers]]\ncell = \"gru\"\nunits = 2\n{extra}"
        );
        let dir = std::env::temp_dir();
        Experiment::from_str_at(&text, &dir.join("e.toml"), &dir, &[])
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn reference_goals() {
        let reference = "[reference]\nsource = \"s\"\nlabel = \"l\"\n";
        assert_eq!(
            error(&format!("{reference}value = 0.01\ngoal = \"below\"")),
            None
        );
        assert_eq!(
            error(&format!(
                "{reference}metric = \"baseline.seasonal_naive\"\ngoal = \"beat\""
            )),
            None
        );
        let e = error(&format!(
            "{reference}metric = \"baseline.naive\"\ngoal = \"beat\"\nvalue = 3"
        ))
        .unwrap();
        assert!(
            e.contains("`reference.value`") && e.contains("remove `value`"),
            "{e}"
        );
        let e = error(&format!("{reference}goal = \"beat\"")).unwrap();
        assert!(
            e.contains("`mse` is not reported for this experiment with goal = \"beat\""),
            "{e}"
        );
        assert!(
            e.contains("use one of: baseline.naive, baseline.seasonal_naive"),
            "{e}"
        );
        let e = error(&format!(
            "{reference}metric = \"baseline.naive\"\ngoal = \"below\"\nvalue = 1"
        ))
        .unwrap();
        assert!(e.contains("use one of: mse, rmse, mae"), "{e}");
        let e = error(&format!("{reference}goal = \"below\"")).unwrap();
        assert!(e.contains("needs a `value`"), "{e}");
        // A probabilistic forecast's interval metrics, only with intervals.
        let pinball = format!("{reference}metric = \"pinball\"\ngoal = \"below\"\nvalue = 0.1");
        let quantiles = "[task]\nquantiles = [0.1, 0.5, 0.9]\n";
        assert_eq!(error(&format!("{quantiles}{pinball}")), None);
        let coverage = pinball.replace("\"pinball\"", "\"coverage_q0.1_q0.9\"");
        assert_eq!(error(&format!("{quantiles}{coverage}")), None);
        let e = error(&pinball).unwrap();
        assert!(e.contains("`pinball` is not reported"), "{e}");
    }
}
