//! Successive halving: every configuration trains to the first rung
//! (`min_steps`); the best 1/eta of them go on to the next (`min_steps ·
//! eta`), and so on, until one rung has too few to halve; those train to
//! the end. Rungs are synchronous — all configurations reach a rung before
//! any goes on — so the decisions do not depend on how many trials run at
//! once, and ties go to the lower configuration index: a rerun with the same
//! seeds decides the same. A stopped trial keeps its checkpoint, so
//! `rnnlab resume` can finish any of them later.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::spec::EarlyStop;

/// The decisions so far (`halving.json`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decisions {
    /// The rung being trained to (0-based); `rungs` means the final round.
    pub rung: usize,
    /// How many rungs before the final round.
    pub rungs: usize,
    /// Configurations still in the running.
    pub alive: Vec<usize>,
    /// Configurations stopped for good.
    pub pruned: BTreeSet<usize>,
}

impl Decisions {
    /// The start: every configuration alive, at the first rung.
    pub fn start(configs: usize, stop: &EarlyStop) -> Decisions {
        Decisions {
            rung: 0,
            rungs: rungs(configs, stop.eta),
            alive: (0..configs).collect(),
            pruned: BTreeSet::new(),
        }
    }

    /// The step budget of the current round; `None` in the final round
    /// (train to the end).
    pub fn budget(&self, stop: &EarlyStop) -> Option<u64> {
        (self.rung < self.rungs).then(|| {
            stop.eta
                .checked_pow(self.rung as u32)
                .and_then(|f| f.checked_mul(stop.min_steps))
                .unwrap_or(u64::MAX)
        })
    }

    /// Whether a configuration stopped at a rung will go on.
    pub fn waiting(&self, config: usize) -> bool {
        self.rung <= self.rungs && self.alive.contains(&config)
    }

    /// Closes the current rung: keeps the best 1/eta of the alive
    /// configurations by `scores` (one per alive configuration, in the same
    /// order; `None` for a failed or diverged one, which ranks last) and
    /// moves to the next. Returns (kept, pruned).
    pub fn advance(
        &mut self,
        scores: &[Option<f64>],
        eta: u64,
        maximize: bool,
    ) -> (Vec<usize>, Vec<usize>) {
        let keep = (self.alive.len() / eta as usize).max(1);
        let mut order: Vec<(usize, Option<f64>)> = self
            .alive
            .iter()
            .copied()
            .zip(scores.iter().copied())
            .collect();
        order.sort_by(|(ia, a), (ib, b)| {
            let rank = |v: &Option<f64>| match v {
                Some(x) if x.is_finite() => Some(if maximize { -x } else { *x }),
                _ => None,
            };
            match (rank(a), rank(b)) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then(ia.cmp(ib))
        });
        let mut kept: Vec<usize> = order[..keep].iter().map(|(c, _)| *c).collect();
        let pruned: Vec<usize> = order[keep..].iter().map(|(c, _)| *c).collect();
        kept.sort_unstable();
        self.pruned.extend(&pruned);
        self.alive = kept.clone();
        self.rung += 1;
        (kept, pruned)
    }
}

/// Rungs before the final round for `configs` configurations: halve while
/// at least `eta` remain.
fn rungs(configs: usize, eta: u64) -> usize {
    let (mut n, mut k) = (configs, 0);
    while n >= eta as usize && eta >= 2 {
        n /= eta as usize;
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::spec::StopMethod;

    fn stop(eta: u64) -> EarlyStop {
        EarlyStop {
            method: StopMethod::Asha,
            min_steps: 100,
            eta,
        }
    }

    #[test]
    fn nine_configurations_halve_twice_by_three() {
        let s = stop(3);
        let mut d = Decisions::start(9, &s);
        assert_eq!((d.rungs, d.budget(&s)), (2, Some(100)));
        let scores: Vec<Option<f64>> = [5.0, 1.0, 9.0, 3.0, 1.0, 7.0, 2.0, 8.0, 6.0]
            .map(Some)
            .to_vec();
        let (kept, pruned) = d.advance(&scores, 3, false);
        // 1.0 twice: the lower index first; then 2.0.
        assert_eq!(kept, vec![1, 4, 6]);
        assert_eq!(pruned.len(), 6);
        assert_eq!(d.budget(&s), Some(300));
        let (kept, _) = d.advance(&[Some(0.5), None, Some(0.4)], 3, false);
        assert_eq!(kept, vec![6]);
        assert_eq!(d.budget(&s), None, "the final round trains to the end");
        assert!(d.waiting(6) && !d.waiting(1));
    }

    #[test]
    fn higher_is_better_when_maximising_and_failures_rank_last() {
        let mut d = Decisions::start(4, &stop(2));
        assert_eq!(d.rungs, 2);
        let (kept, _) = d.advance(&[Some(0.7), None, Some(0.9), Some(f64::NAN)], 2, true);
        assert_eq!(kept, vec![0, 2]);
        assert_eq!(Decisions::start(2, &stop(3)).rungs, 0, "too few to halve");
    }
}
