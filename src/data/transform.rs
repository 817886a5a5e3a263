//! The arithmetic of `data.transform`: forward before scaling, inverse after
//! prediction, and the domain check made while the CSV is read.

use crate::experiment::Transform;

impl Transform {
    /// The transformed value (`value` must be in the domain, see [`Transform::check`]).
    pub fn apply(self, value: f32) -> f32 {
        match self {
            Transform::None => value,
            Transform::Log => value.ln(),
            Transform::Log1p => value.ln_1p(),
        }
    }

    /// The original value of a transformed one.
    pub fn invert(self, value: f32) -> f32 {
        match self {
            Transform::None => value,
            Transform::Log => value.exp(),
            Transform::Log1p => value.exp_m1(),
        }
    }

    /// `Err((what is wrong, how to fix it))` when `value` is outside the domain.
    pub fn check(self, value: f32) -> Result<(), (String, &'static str)> {
        let (ok, name, domain, fix) = match self {
            Transform::None => return Ok(()),
            Transform::Log => (
                value > 0.0,
                "log",
                "> 0",
                "fix the value, use transform = \"log1p\" for a series with zeros, or remove data.transform",
            ),
            Transform::Log1p => (
                value > -1.0,
                "log1p",
                "> -1",
                "fix the value, or remove data.transform",
            ),
        };
        if ok {
            Ok(())
        } else {
            Err((
                format!(
                    "`{value}` cannot be transformed: data.transform = \"{name}\" needs values {domain}"
                ),
                fix,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_and_invert_round_trip() {
        for t in [Transform::None, Transform::Log, Transform::Log1p] {
            for v in [0.5f32, 1.0, 112.0, 622.0] {
                let back = t.invert(t.apply(v));
                assert!((back - v).abs() <= v * 1e-6, "{t:?} {v} → {back}");
            }
        }
        assert_eq!(Transform::Log.apply(1.0), 0.0);
        assert_eq!(Transform::Log1p.apply(0.0), 0.0);
        assert_eq!(Transform::None.apply(-3.0), -3.0);
    }

    #[test]
    fn check_names_the_domain() {
        assert!(Transform::Log.check(0.01).is_ok());
        let (message, fix) = Transform::Log.check(0.0).unwrap_err();
        assert_eq!(
            message,
            "`0` cannot be transformed: data.transform = \"log\" needs values > 0"
        );
        assert!(fix.contains("log1p"));
        assert!(Transform::Log1p.check(0.0).is_ok());
        assert!(Transform::Log1p.check(-1.0).is_err());
        assert!(Transform::None.check(-1e9).is_ok());
    }
}
