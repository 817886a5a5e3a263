//! [`Scaler`]: per-feature normalisation fitted on the training part.

use serde::{Deserialize, Serialize};

use super::DataError;
use crate::experiment::{Normalize, Transform};

/// Per-column normalisation after a transform:
/// `original = transform⁻¹(scaled * scale + offset)`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Scaler {
    /// Input column (feature) names, one per feature.
    pub columns: Vec<String>,
    /// Per-feature offsets.
    pub offset: Vec<f32>,
    /// Per-feature scales.
    pub scale: Vec<f32>,
    /// The predicted column's name.
    pub target: String,
    /// The target's offset.
    pub target_offset: f32,
    /// The target's scale.
    pub target_scale: f32,
    /// Applied to inputs and target before the offset and scale (`data.transform`).
    #[serde(default)]
    pub transform: Transform,
}

impl Scaler {
    /// Scales input values laid out `[..][features]` in place.
    pub fn scale_inputs(&self, values: &mut [f32]) {
        for step in values.chunks_mut(self.offset.len().max(1)) {
            for ((v, o), s) in step.iter_mut().zip(&self.offset).zip(&self.scale) {
                *v = (self.transform.apply(*v) - o) / s;
            }
        }
    }

    /// Scales target values in place.
    pub fn scale_target(&self, values: &mut [f32]) {
        for v in values {
            *v = (self.transform.apply(*v) - self.target_offset) / self.target_scale;
        }
    }

    /// Returns scaled target values to original units in place.
    pub fn unscale_target(&self, values: &mut [f32]) {
        for v in values {
            *v = self.unscale_target_value(*v);
        }
    }

    /// One scaled target value in original units.
    pub fn unscale_target_value(&self, value: f32) -> f32 {
        self.transform
            .invert(value * self.target_scale + self.target_offset)
    }

    /// One scaled value of input column `column` in original units.
    pub fn unscale_input_value(&self, column: usize, value: f32) -> f32 {
        self.transform
            .invert(value * self.scale[column] + self.offset[column])
    }

    /// The scaler as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scaler always serialises")
    }

    /// Reads a scaler from JSON, checking that it is usable.
    pub fn from_json(text: &str) -> Result<Scaler, DataError> {
        let s: Scaler =
            serde_json::from_str(text).map_err(|e| DataError::new(format!("not a scaler: {e}")))?;
        let n = s.columns.len();
        if s.offset.len() != n || s.scale.len() != n {
            return Err(DataError::new(format!(
                "the scaler has {n} columns but {} offsets and {} scales",
                s.offset.len(),
                s.scale.len()
            )));
        }
        let usable = |v: f32| v.is_finite() && v != 0.0;
        if !s.scale.iter().all(|&v| usable(v)) || !usable(s.target_scale) {
            return Err(DataError::new("the scaler has a zero or non-finite scale"));
        }
        Ok(s)
    }
}

/// Per-feature (offset, scale) of `chunks` (values laid out `[..][features]`) under `method`.
pub(super) fn fit<'a, I>(method: Normalize, chunks: I, features: usize) -> (Vec<f32>, Vec<f32>)
where
    I: Iterator<Item = &'a [f32]> + Clone,
{
    let each = |f: &mut dyn FnMut(usize, f64)| {
        for chunk in chunks.clone() {
            for (i, &v) in chunk.iter().enumerate() {
                f(i % features, v as f64);
            }
        }
    };
    match method {
        Normalize::None => (vec![0.0; features], vec![1.0; features]),
        Normalize::Zscore => {
            let mut count = vec![0usize; features];
            let mut sum = vec![0.0f64; features];
            each(&mut |j, v| {
                count[j] += 1;
                sum[j] += v;
            });
            let mean: Vec<f64> = sum
                .iter()
                .zip(&count)
                .map(|(s, &n)| s / n.max(1) as f64)
                .collect();
            let mut sq = vec![0.0f64; features];
            each(&mut |j, v| sq[j] += (v - mean[j]).powi(2));
            let scale = sq
                .iter()
                .zip(&count)
                .map(|(s, &n)| {
                    let std = (s / n.max(1) as f64).sqrt();
                    if std < 1e-12 { 1.0 } else { std as f32 }
                })
                .collect();
            (mean.iter().map(|&m| m as f32).collect(), scale)
        }
        Normalize::Minmax => {
            let mut lo = vec![f64::INFINITY; features];
            let mut hi = vec![f64::NEG_INFINITY; features];
            each(&mut |j, v| {
                lo[j] = lo[j].min(v);
                hi[j] = hi[j].max(v);
            });
            lo.iter()
                .zip(&hi)
                .map(|(&l, &h)| {
                    if l.is_finite() && h > l {
                        (l as f32, (h - l) as f32)
                    } else if l.is_finite() {
                        (l as f32, 1.0)
                    } else {
                        (0.0, 1.0)
                    }
                })
                .unzip()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaler(offset: Vec<f32>, scale: Vec<f32>) -> Scaler {
        Scaler {
            columns: (0..offset.len()).map(|i| format!("c{i}")).collect(),
            offset,
            scale,
            target: "c0".into(),
            target_offset: 10.0,
            target_scale: 2.0,
            transform: Transform::None,
        }
    }

    #[test]
    fn zscore_and_minmax_per_feature() {
        let data = [1.0, 10.0, 3.0, 10.0];
        let (o, s) = fit(Normalize::Zscore, std::iter::once(&data[..]), 2);
        assert_eq!((o, s), (vec![2.0, 10.0], vec![1.0, 1.0]));
        let (o, s) = fit(Normalize::Minmax, [&data[..2], &data[2..]].into_iter(), 2);
        assert_eq!((o, s), (vec![1.0, 10.0], vec![2.0, 1.0]));
        let (o, s) = fit(Normalize::None, std::iter::once(&data[..]), 2);
        assert_eq!((o, s), (vec![0.0, 0.0], vec![1.0, 1.0]));
    }

    #[test]
    fn scale_and_unscale_round_trip() {
        let s = scaler(vec![1.0, 10.0], vec![2.0, 5.0]);
        let mut x = [3.0, 20.0, 5.0, 0.0];
        s.scale_inputs(&mut x);
        assert_eq!(x, [1.0, 2.0, 2.0, -2.0]);
        let mut y = [14.0];
        s.scale_target(&mut y);
        assert_eq!(y, [2.0]);
        s.unscale_target(&mut y);
        assert_eq!(y, [14.0]);
        assert_eq!(s.unscale_target_value(0.5), 11.0);
        assert_eq!(s.unscale_input_value(1, 2.0), 20.0);
    }

    #[test]
    fn log_transform_comes_before_scaling() {
        let mut s = scaler(vec![0.0], vec![2.0]);
        s.transform = Transform::Log;
        let e = std::f32::consts::E;
        let mut x = [e * e];
        s.scale_inputs(&mut x);
        assert!((x[0] - 1.0).abs() < 1e-6);
        assert!((s.unscale_input_value(0, x[0]) - e * e).abs() < 1e-5);
        let mut y = [e.powi(12)];
        s.scale_target(&mut y);
        assert!((y[0] - 1.0).abs() < 1e-6);
        assert!((s.unscale_target_value(y[0]) / e.powi(12) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_scaler_without_transform_reads_back_as_none() {
        let json = scaler(vec![1.0], vec![2.0])
            .to_json()
            .replace(",\n  \"transform\": \"none\"", "");
        assert!(!json.contains("transform"), "{json}");
        assert_eq!(Scaler::from_json(&json).unwrap().transform, Transform::None);
    }

    #[test]
    fn json_round_trip_and_checks() {
        let s = scaler(vec![1.0], vec![2.0]);
        assert_eq!(Scaler::from_json(&s.to_json()).unwrap(), s);
        assert!(Scaler::from_json("{}").is_err());
        let bad = scaler(vec![1.0], vec![0.0]);
        assert!(Scaler::from_json(&bad.to_json()).is_err());
    }
}
