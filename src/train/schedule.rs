//! Learning-rate schedules.

use serde::{Deserialize, Serialize};

use crate::experiment::LrSchedule;

/// Evaluations without improvement before `plateau` halves the rate.
const PLATEAU_PATIENCE: usize = 2;
/// `plateau` never goes below this fraction of the base rate.
const PLATEAU_FLOOR: f64 = 1e-3;

/// The learning rate as a function of progress and validation history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    kind: LrSchedule,
    /// The rate set by the experiment or the last `tune`.
    pub base: f64,
    plateau_factor: f64,
    stale: usize,
}

impl Schedule {
    pub fn new(kind: LrSchedule, base: f64) -> Schedule {
        Schedule {
            kind,
            base,
            plateau_factor: 1.0,
            stale: 0,
        }
    }

    /// The rate for `step` (1-based) of `total`.
    pub fn rate(&self, step: u64, total: u64) -> f64 {
        match self.kind {
            LrSchedule::Constant => self.base,
            LrSchedule::Cosine => {
                let p = (step.saturating_sub(1)) as f64 / total.max(1) as f64;
                self.base * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
            LrSchedule::Plateau => self.base * self.plateau_factor,
        }
    }

    /// Makes the rate at `step` (1-based) of `total` equal `rate`; the
    /// schedule goes on from there (a cosine keeps decaying from it, a
    /// plateau keeps halving it). Returns the new base rate.
    pub fn set_rate(&mut self, rate: f64, step: u64, total: u64) -> f64 {
        let factor = match self.kind {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => self.rate(step, total) / self.base,
            LrSchedule::Plateau => self.plateau_factor,
        };
        // At the very end of a cosine the factor is 0: the rate is what remains.
        self.base = if factor > 1e-12 { rate / factor } else { rate };
        self.base
    }

    /// The kind of schedule.
    pub fn kind(&self) -> LrSchedule {
        self.kind
    }

    /// Switches to another kind of schedule with the same base rate (a
    /// plateau starts again at its full rate).
    pub fn switch(&mut self, kind: LrSchedule) {
        if kind != self.kind {
            *self = Schedule::new(kind, self.base);
        }
    }

    /// Records an evaluation; returns true when `plateau` just lowered the rate.
    pub fn observe(&mut self, improved: bool) -> bool {
        if self.kind != LrSchedule::Plateau {
            return false;
        }
        if improved {
            self.stale = 0;
            return false;
        }
        self.stale += 1;
        if self.stale >= PLATEAU_PATIENCE && self.plateau_factor > PLATEAU_FLOOR {
            self.plateau_factor = (self.plateau_factor * 0.5).max(PLATEAU_FLOOR);
            self.stale = 0;
            return true;
        }
        false
    }
}

impl Schedule {
    /// Checks a schedule read from a state file: the field at fault, or `Ok`.
    pub fn check(&self) -> Result<(), String> {
        if !(self.base.is_finite() && self.base > 0.0) {
            return Err(format!(
                "`schedule.base`: the learning rate {} is not positive and finite",
                self.base
            ));
        }
        if !(PLATEAU_FLOOR..=1.0).contains(&self.plateau_factor) {
            return Err(format!(
                "`schedule.plateau_factor` {} is outside [{PLATEAU_FLOOR}, 1]",
                self.plateau_factor
            ));
        }
        if self.stale >= PLATEAU_PATIENCE {
            return Err(format!(
                "`schedule.stale` {} is not below the plateau's patience ({PLATEAU_PATIENCE})",
                self.stale
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_decays_from_base_to_near_zero() {
        let s = Schedule::new(LrSchedule::Cosine, 0.1);
        assert!((s.rate(1, 100) - 0.1).abs() < 1e-12);
        assert!((s.rate(51, 100) - 0.05).abs() < 1e-9);
        assert!(s.rate(100, 100) < 0.001);
    }

    #[test]
    fn a_rate_set_mid_schedule_is_the_rate_from_then_on() {
        let mut s = Schedule::new(LrSchedule::Cosine, 0.1);
        let now = s.rate(51, 100);
        // Setting the rate shown now leaves it unchanged.
        s.set_rate(now, 51, 100);
        assert!((s.rate(51, 100) - now).abs() < 1e-15);
        s.set_rate(0.01, 51, 100);
        assert!((s.rate(51, 100) - 0.01).abs() < 1e-12);
        assert!(s.rate(75, 100) < 0.01, "the cosine goes on decaying");
        let mut p = Schedule::new(LrSchedule::Plateau, 0.1);
        p.observe(false);
        p.observe(false);
        p.set_rate(0.02, 5, 10);
        assert!((p.rate(5, 10) - 0.02).abs() < 1e-12);
        let mut c = Schedule::new(LrSchedule::Constant, 0.1);
        assert_eq!(c.set_rate(0.3, 5, 10), 0.3);
    }

    #[test]
    fn plateau_halves_after_two_stale_evaluations() {
        let mut s = Schedule::new(LrSchedule::Plateau, 0.1);
        assert!(!s.observe(true));
        assert!(!s.observe(false));
        assert!(s.observe(false));
        assert!((s.rate(5, 10) - 0.05).abs() < 1e-12);
        assert!(!s.observe(true));
    }
}
