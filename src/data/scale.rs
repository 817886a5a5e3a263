//! [`Scaler`]: per-feature normalisation fitted on the training part.

use serde::{Deserialize, Serialize};

use super::{DataError, Split};
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

    /// The first value of `split` (raw, original units) whose scaled form is
    /// not finite, with its column's name: the scale fitted on the training
    /// part cannot represent it in f32.
    pub(super) fn unscalable(&self, split: &Split) -> Option<(&str, f32)> {
        let features = self.offset.len().max(1);
        let inputs = split.inputs.iter().enumerate().map(|(i, &v)| {
            let j = i % features;
            (
                self.columns.get(j).map_or("", String::as_str),
                v,
                self.offset[j],
                self.scale[j],
            )
        });
        let targets = split.targets.iter().chain(&split.future).map(|&v| {
            (
                self.target.as_str(),
                v,
                self.target_offset,
                self.target_scale,
            )
        });
        inputs
            .chain(targets)
            .find(|&(_, v, o, s)| !((self.transform.apply(v) - o) / s).is_finite())
            .map(|(name, v, _, _)| (name, v))
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

/// A column's spread below this fraction of its magnitude is rounding noise
/// in f32 (about 8 units in the last place): the column counts as constant.
const FLAT: f64 = 1e-6;

/// Why feature `column` cannot be normalised: what is wrong and the fix.
#[derive(Debug, PartialEq)]
pub(super) struct Unfit {
    pub column: usize,
    pub message: String,
    pub hint: String,
}

/// Per-feature (offset, scale) of `chunks` (values laid out `[..][features]`)
/// under `method`. Mean and variance are Welford's running ones in f64, so
/// values near f32's limits neither overflow nor lose the small ones. A
/// column that is constant, or whose spread is within f32 rounding of its
/// magnitude (whatever that magnitude: 1e-13 is scaled like 1e13), or whose
/// range does not fit in f32, is refused.
pub(super) fn fit<'a, I>(
    method: Normalize,
    chunks: I,
    features: usize,
) -> Result<(Vec<f32>, Vec<f32>), Unfit>
where
    I: Iterator<Item = &'a [f32]>,
{
    if method == Normalize::None {
        return Ok((vec![0.0; features], vec![1.0; features]));
    }
    let mut stats = vec![Stats::default(); features];
    for chunk in chunks {
        for (i, &v) in chunk.iter().enumerate() {
            stats[i % features].add(v as f64);
        }
    }
    stats
        .iter()
        .enumerate()
        .map(|(column, s)| {
            s.fit(method).map_err(|(message, hint)| Unfit {
                column,
                message,
                hint,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|pairs| pairs.into_iter().unzip())
}

/// Running statistics of one column.
#[derive(Debug, Clone, Copy)]
struct Stats {
    count: u64,
    mean: f64,
    /// Sum of squared deviations from the running mean.
    m2: f64,
    lo: f64,
    hi: f64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
        }
    }
}

impl Stats {
    fn add(&mut self, v: f64) {
        self.count += 1;
        let d = v - self.mean;
        self.mean += d / self.count as f64;
        self.m2 += d * (v - self.mean);
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }

    /// (offset, scale) under `method` (not `None`), or (what is wrong, the fix).
    fn fit(&self, method: Normalize) -> Result<(f32, f32), (String, String)> {
        if self.count == 0 {
            return Ok((0.0, 1.0));
        }
        let size = self.lo.abs().max(self.hi.abs());
        let (offset, spread, name) = match method {
            Normalize::Zscore => (
                self.mean,
                (self.m2 / self.count as f64).sqrt(),
                "standard deviation",
            ),
            _ => (self.lo, self.hi - self.lo, "range"),
        };
        let method_name = if method == Normalize::Zscore {
            "zscore"
        } else {
            "minmax"
        };
        if spread <= FLAT * size {
            let message = if self.lo == self.hi {
                format!(
                    "is constant in the training part (every value is {})",
                    self.lo
                )
            } else {
                format!(
                    "varies too little in the training part to be scaled ({name} {spread:.3e} against values up to {size:.3e}, within f32 rounding)"
                )
            };
            return Err((
                message,
                format!(
                    "normalize = \"{method_name}\" divides by the {name}: drop the column from data.columns, \
                     or set normalize = \"none\""
                ),
            ));
        }
        let (offset, scale) = (offset as f32, spread as f32);
        if !offset.is_finite() || !scale.is_finite() {
            return Err((
                format!(
                    "its {name} in the training part ({spread:.3e}) does not fit in f32 (at most 3.4e38)"
                ),
                "express the column in larger units (e.g. divide it by 1e6)".into(),
            ));
        }
        Ok((offset, scale))
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
        let data = [1.0, 10.0, 3.0, 12.0];
        let fitted = fit(Normalize::Zscore, std::iter::once(&data[..]), 2);
        assert_eq!(fitted, Ok((vec![2.0, 11.0], vec![1.0, 1.0])));
        let fitted = fit(Normalize::Minmax, [&data[..2], &data[2..]].into_iter(), 2);
        assert_eq!(fitted, Ok((vec![1.0, 10.0], vec![2.0, 2.0])));
        let fitted = fit(Normalize::None, std::iter::once(&data[..]), 2);
        assert_eq!(fitted, Ok((vec![0.0, 0.0], vec![1.0, 1.0])));
    }

    #[test]
    fn tiny_values_are_scaled_relative_to_their_magnitude() {
        let data = [1.0e-13, 3.0e-13, 2.0e-13, 2.0e-13];
        let (o, s) = fit(Normalize::Zscore, std::iter::once(&data[..]), 1).unwrap();
        assert!((o[0] / 2.0e-13 - 1.0).abs() < 1e-6, "{o:?}");
        let std = (0.5e-26f64).sqrt() as f32;
        assert!((s[0] / std - 1.0).abs() < 1e-6, "{s:?} vs {std}");
        let (o, s) = fit(Normalize::Minmax, std::iter::once(&data[..]), 1).unwrap();
        assert_eq!(o[0], 1.0e-13);
        assert!((s[0] / 2.0e-13 - 1.0).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn constant_and_flat_columns_are_refused() {
        for method in [Normalize::Zscore, Normalize::Minmax] {
            let data = [1.0, 5.0, 2.0, 5.0, 3.0, 5.0];
            let e = fit(method, std::iter::once(&data[..]), 2).unwrap_err();
            assert_eq!(e.column, 1);
            assert!(
                e.message
                    .contains("constant in the training part (every value is 5)"),
                "{}",
                e.message
            );
            assert!(e.hint.contains("normalize = \"none\""), "{}", e.hint);
            let flat = [1.0e6, 1.0e6 + 0.0625, 1.0e6];
            let e = fit(method, std::iter::once(&flat[..]), 1).unwrap_err();
            assert!(e.message.contains("varies too little"), "{}", e.message);
            let zeros = [0.0, 0.0];
            assert!(fit(method, std::iter::once(&zeros[..]), 1).is_err());
        }
    }

    #[test]
    fn values_near_the_f32_limit_do_not_overflow() {
        let big = [3.0e38f32, 3.2e38, 3.1e38, 3.3e38];
        let (o, s) = fit(Normalize::Zscore, std::iter::once(&big[..]), 1).unwrap();
        assert!(
            o[0].is_finite() && s[0].is_finite() && s[0] > 0.0,
            "{o:?} {s:?}"
        );
        assert!((o[0] / 3.15e38 - 1.0).abs() < 1e-6);
        let wide = [-3.0e38f32, 3.0e38];
        let e = fit(Normalize::Minmax, std::iter::once(&wide[..]), 1).unwrap_err();
        assert!(e.message.contains("does not fit in f32"), "{}", e.message);
        let (o, s) = fit(Normalize::Zscore, std::iter::once(&wide[..]), 1).unwrap();
        assert_eq!((o[0], s[0]), (0.0, 3.0e38));
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
