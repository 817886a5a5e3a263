//! Planning a sweep: the trials, each a configuration (values of the swept
//! keys) and a seed, numbered in a fixed order so that a rerun plans the
//! same trials.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::spec::{Domain, Method, Sweep, set_of};

/// One trial: a configuration run with one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// 0-based; the trial's directory is `trials/<index, 3 digits>`.
    pub index: usize,
    /// Trials with the same configuration differ only in their seed.
    pub config: usize,
    /// The experiment's `seed` for this trial; `None` keeps the base experiment's.
    pub seed: Option<u64>,
    /// The swept keys' values, in the sweep file's order.
    pub params: Vec<(String, toml::Value)>,
}

impl Trial {
    /// The `--set` overrides that make this trial's experiment (after the
    /// sweep's own `--set`s).
    pub fn sets(&self, sweep: &Sweep) -> Vec<String> {
        let mut sets = sweep.sets.clone();
        sets.extend(self.params.iter().map(|(k, v)| set_of(k, v)));
        if let Some(seed) = self.seed {
            sets.push(format!("seed={seed}"));
        }
        sets
    }

    /// The trial's directory name inside `trials/`.
    pub fn dir_name(&self) -> String {
        format!("{:03}", self.index)
    }
}

/// Every trial of a sweep: configurations in order (a grid's last key
/// varies fastest; random draws in the order drawn), each once per seed.
pub fn plan(sweep: &Sweep) -> Vec<Trial> {
    let configs: Vec<Vec<(String, toml::Value)>> = match sweep.method {
        Method::Grid => grid(&sweep.params),
        Method::Random => {
            let mut rng = ChaCha8Rng::seed_from_u64(sweep.seed);
            (0..sweep.trials)
                .map(|_| {
                    sweep
                        .params
                        .iter()
                        .map(|(k, d)| (k.clone(), draw(d, &mut rng)))
                        .collect()
                })
                .collect()
        }
    };
    let seeds: Vec<Option<u64>> = if sweep.seeds.is_empty() {
        vec![None]
    } else {
        sweep.seeds.iter().copied().map(Some).collect()
    };
    let mut trials = Vec::with_capacity(configs.len() * seeds.len());
    for (config, params) in configs.into_iter().enumerate() {
        for &seed in &seeds {
            trials.push(Trial {
                index: trials.len(),
                config,
                seed,
                params: params.clone(),
            });
        }
    }
    trials
}

/// Every combination of the listed values, the last key varying fastest.
fn grid(params: &[(String, Domain)]) -> Vec<Vec<(String, toml::Value)>> {
    let mut combos: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, domain) in params {
        let Domain::Values(values) = domain else {
            continue; // refused by validation: grids take lists only
        };
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    combos
}

/// One draw from a domain.
fn draw(domain: &Domain, rng: &mut ChaCha8Rng) -> toml::Value {
    match domain {
        Domain::Values(values) => values[rng.gen_range(0..values.len())].clone(),
        Domain::Uniform([lo, hi]) => toml::Value::Float(rng.gen_range(*lo..*hi)),
        Domain::LogUniform([lo, hi]) => toml::Value::Float(rng.gen_range(lo.ln()..hi.ln()).exp()),
        Domain::IntUniform([lo, hi]) => toml::Value::Integer(rng.gen_range(*lo..=*hi)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(method: Method, params: Vec<(&str, Domain)>, seeds: Vec<u64>) -> Sweep {
        Sweep {
            name: "t".into(),
            experiment: "x.toml".into(),
            method,
            trials: 5,
            seed: 7,
            seeds,
            metric: "valid_loss".into(),
            maximize: false,
            parallel: 0,
            params: params
                .into_iter()
                .map(|(k, d)| (k.to_string(), d))
                .collect(),
            early_stop: None,
            slurm: Default::default(),
            sets: vec!["train.epochs=2".into()],
        }
    }

    fn ints(v: &[i64]) -> Domain {
        Domain::Values(v.iter().map(|&i| toml::Value::Integer(i)).collect())
    }

    #[test]
    fn a_grid_is_every_combination_times_every_seed() {
        let s = sweep(
            Method::Grid,
            vec![("a", ints(&[1, 2])), ("b", ints(&[10, 20, 30]))],
            vec![5, 6],
        );
        let trials = plan(&s);
        assert_eq!(trials.len(), 12);
        assert_eq!(s.configurations(), 6);
        // The last key varies fastest; seeds inside each configuration.
        let t = &trials[3];
        assert_eq!((t.index, t.config, t.seed), (3, 1, Some(6)));
        assert_eq!(t.params[0].1, toml::Value::Integer(1));
        assert_eq!(t.params[1].1, toml::Value::Integer(20));
        assert_eq!(t.sets(&s), vec!["train.epochs=2", "a=1", "b=20", "seed=6"]);
        assert_eq!(t.dir_name(), "003");
    }

    #[test]
    fn random_draws_are_seeded_and_inside_their_domains() {
        let params = vec![
            ("lr", Domain::LogUniform([1e-4, 1e-2])),
            ("p", Domain::Uniform([0.0, 0.3])),
            ("n", Domain::IntUniform([8, 64])),
            ("c", Domain::Values(vec!["gru".into(), "lstm".into()])),
        ];
        let s = sweep(Method::Random, params, vec![]);
        let (a, b) = (plan(&s), plan(&s));
        assert_eq!(a, b, "the same seed plans the same trials");
        assert_eq!(a.len(), 5);
        for t in &a {
            assert_eq!(t.seed, None);
            let lr = t.params[0].1.as_float().unwrap();
            assert!((1e-4..1e-2).contains(&lr));
            let p = t.params[1].1.as_float().unwrap();
            assert!((0.0..0.3).contains(&p));
            let n = t.params[2].1.as_integer().unwrap();
            assert!((8..=64).contains(&n));
        }
        let mut other = s.clone();
        other.seed = 8;
        assert_ne!(plan(&other), a, "another seed draws otherwise");
    }
}
