//! Several series in one dataset (`data.series_column`): the final model's
//! test metrics per series, each beside that series' baselines and scaled
//! by its own in-sample errors (MASE, RMSSE).

use std::collections::BTreeMap;

use super::eval::evaluate;
use crate::data::{Dataset, Split};
use crate::experiment::Experiment;
use crate::model::Model;
use crate::run::format::SeriesScore;

/// The test part's metrics per series, in the dataset's order of series;
/// empty for one series or without a test part.
pub fn per_series(model: &Model, exp: &Experiment, data: &Dataset) -> Vec<SeriesScore> {
    if data.series.is_empty() || data.test.len == 0 {
        return Vec::new();
    }
    let mut start = 0;
    data.series
        .iter()
        .zip(&data.test.groups)
        .filter_map(|(info, &n)| {
            let range = start..start + n;
            start += n;
            if n == 0 {
                return None;
            }
            // The series' samples, scored against its own scale.
            let view = Dataset {
                train: Split::default(),
                valid: Split::default(),
                test: Split::default(),
                baselines: Vec::new(),
                scale: Some(info.scale),
                backtest: None,
                text: None,
                series: Vec::new(),
                scaler: data.scaler.clone(),
                ..*data
            };
            let eval = evaluate(model, exp, &view, &data.test.samples(range));
            let baselines = info
                .baselines
                .iter()
                .filter_map(|b| {
                    let m = b.test.as_ref()?.named();
                    Some((
                        b.name.clone(),
                        m.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    ))
                })
                .collect();
            Some(SeriesScore {
                name: info.name.clone(),
                windows: n,
                test: eval.metrics.into_iter().collect::<BTreeMap<_, _>>(),
                baselines,
            })
        })
        .collect()
}
