//! What to tell the user when training diverges: what went non-finite, and
//! only the fixes this experiment has not applied already.

use crate::experiment::{Experiment, Normalize, Source};
use crate::model::Model;

/// What showed at the step that diverged, and the settings in effect.
pub(super) struct Divergence<'a> {
    pub step: u64,
    /// The step's loss (finite when only the gradient was not).
    pub loss: f32,
    /// A parameter that holds NaN or infinity, if one does.
    pub bad_weights: Option<&'a str>,
    /// `train.learning_rate` in effect.
    pub learning_rate: f64,
    /// `train.clip_grad_norm` in effect (0 = off).
    pub clip_grad_norm: f64,
    /// Numeric CSV data read with `normalize = "none"`.
    pub unnormalised: bool,
}

impl<'a> Divergence<'a> {
    /// The settings of `exp` and `model` at `step`.
    pub fn new(
        exp: &Experiment,
        model: &'a Model,
        step: u64,
        loss: f32,
        learning_rate: f64,
        clip_grad_norm: f64,
    ) -> Self {
        let d = &exp.data;
        Divergence {
            step,
            loss,
            bad_weights: model
                .params
                .iter()
                .find(|p| p.data.iter().any(|v| !v.is_finite()))
                .map(|p| p.name.as_str()),
            learning_rate,
            clip_grad_norm,
            unnormalised: exp.model.embedding.is_none()
                && d.source == Source::Csv
                && d.normalize == Some(Normalize::None),
        }
    }

    /// One line: the cause that showed, then what to try.
    pub fn advice(&self) -> String {
        let step = self.step;
        let what = match self.bad_weights {
            Some(name) => format!(
                "the weights are no longer finite at step {step} (`{name}` holds NaN or infinity): \
                 the last update overflowed them, so every later loss is NaN"
            ),
            None if self.loss.is_finite() => format!(
                "loss became {} with a non-finite gradient at step {step}",
                self.loss
            ),
            None => format!("loss became {} at step {step}", self.loss),
        };
        let mut fixes = vec![format!(
            "a lower learning_rate (now {})",
            self.learning_rate
        )];
        if self.clip_grad_norm <= 0.0 {
            fixes.push("clip_grad_norm = 1.0 (now off)".into());
        } else if self.clip_grad_norm > 1.0 {
            fixes.push(format!(
                "a smaller clip_grad_norm (now {})",
                self.clip_grad_norm
            ));
        }
        if self.unnormalised {
            fixes.push("normalize = \"zscore\" (the data is not normalised now)".into());
        }
        let last = fixes.pop().unwrap_or_default();
        if fixes.is_empty() {
            format!("{what}; try {last}")
        } else {
            format!("{what}; try {}, or {last}", fixes.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn divergence() -> Divergence<'static> {
        Divergence {
            step: 7,
            loss: f32::NAN,
            bad_weights: None,
            learning_rate: 0.5,
            clip_grad_norm: 0.0,
            unnormalised: true,
        }
    }

    #[test]
    fn advice_offers_only_what_is_not_in_effect() {
        assert_eq!(
            divergence().advice(),
            "loss became NaN at step 7; try a lower learning_rate (now 0.5), clip_grad_norm = 1.0 (now off), or normalize = \"zscore\" (the data is not normalised now)"
        );
        let applied = Divergence {
            clip_grad_norm: 1.0,
            unnormalised: false,
            ..divergence()
        };
        assert_eq!(
            applied.advice(),
            "loss became NaN at step 7; try a lower learning_rate (now 0.5)"
        );
        let loose = Divergence {
            clip_grad_norm: 5.0,
            unnormalised: false,
            loss: 2.5,
            ..divergence()
        };
        assert_eq!(
            loose.advice(),
            "loss became 2.5 with a non-finite gradient at step 7; try a lower learning_rate (now 0.5), or a smaller clip_grad_norm (now 5)"
        );
    }

    #[test]
    fn non_finite_weights_are_named() {
        let d = Divergence {
            bad_weights: Some("layers.0.weight_hh"),
            ..divergence()
        };
        let advice = d.advice();
        assert!(
            advice.starts_with(
                "the weights are no longer finite at step 7 (`layers.0.weight_hh` holds NaN or infinity)"
            ),
            "{advice}"
        );
        assert!(!advice.contains("loss became"), "{advice}");
    }

    #[test]
    fn zscore_is_suggested_only_for_unnormalised_numeric_csv_data() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s.csv"),
            "v\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
        )
        .unwrap();
        let model = Model::new(&[], 1, 1, false, 1);
        for (normalize, expected) in [("none", true), ("zscore", false), ("minmax", false)] {
            let text = format!(
                "name = \"t\"\n[data]\nsource = \"csv\"\npath = \"s.csv\"\nwindow = 2\nnormalize = \"{normalize}\"\n[[model.layers]]\ncell = \"gru\"\nunits = 2\n"
            );
            let exp = Experiment::from_str_at(&text, &dir.path().join("e.toml"), dir.path(), &[])
                .unwrap();
            let d = Divergence::new(&exp, &model, 1, f32::NAN, 0.1, 0.0);
            assert_eq!(d.unnormalised, expected, "normalize = {normalize}");
        }
        let text = "name = \"t\"\n[data]\nsource = \"synthetic\"\ngenerator = \"sine\"\nwindow = 5\n[[model.layers]]\ncell = \"gru\"\nunits = 2\n";
        let exp =
            Experiment::from_str_at(text, &dir.path().join("e.toml"), dir.path(), &[]).unwrap();
        assert!(!Divergence::new(&exp, &model, 1, f32::NAN, 0.1, 0.0).unnormalised);
    }
}
