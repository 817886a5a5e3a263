//! Seeded synthetic sequences: two sines (Hands-On ML ch. 15), one sine, and
//! the adding problem.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::window::{Sequence, Truth};
use crate::experiment::Generator;

/// Mixed into the experiment seed so data and initialisation draw different streams.
const SALT: u64 = 0x5eed_da7a;

/// `count` sequences of `length` steps from `generator`; the same seed gives the same data.
pub(super) fn generate(
    generator: Generator,
    count: usize,
    length: usize,
    seed: u64,
) -> Vec<Sequence> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SALT);
    (0..count)
        .map(|_| match generator {
            Generator::TwoSines => sines(&mut rng, length, true),
            Generator::Sine => sines(&mut rng, length, false),
            Generator::Adding => adding(&mut rng, length),
        })
        .collect()
}

/// `x(t) = 0.5·sin((t − o1)·(10·f1 + 10)) [+ 0.2·sin((t − o2)·(20·f2 + 20))] + noise`
/// on `t = linspace(0, 1, length)`; noise amplitude 0.1 with two sines, 0.05 with one.
fn sines(rng: &mut ChaCha8Rng, length: usize, two: bool) -> Sequence {
    let (f1, f2, o1, o2): (f64, f64, f64, f64) = if two {
        (rng.r#gen(), rng.r#gen(), rng.r#gen(), rng.r#gen())
    } else {
        (rng.r#gen(), 0.0, rng.r#gen(), 0.0)
    };
    let noise = if two { 0.1 } else { 0.05 };
    let last = length.saturating_sub(1).max(1) as f64;
    let x: Vec<f32> = (0..length)
        .map(|i| {
            let t = i as f64 / last;
            let mut x = 0.5 * ((t - o1) * (10.0 * f1 + 10.0)).sin();
            if two {
                x += 0.2 * ((t - o2) * (20.0 * f2 + 20.0)).sin();
            }
            (x + noise * (rng.r#gen::<f64>() - 0.5)) as f32
        })
        .collect();
    Sequence {
        inputs: x.clone(),
        truth: Truth::Series(x),
    }
}

/// Steps of (value ~ U(0,1), marker); one marker in each half; the label is the sum
/// of the two marked values. Needs `length ≥ 2`.
fn adding(rng: &mut ChaCha8Rng, length: usize) -> Sequence {
    let half = length / 2;
    let marks = [
        rng.gen_range(0..half.max(1)),
        half + rng.gen_range(0..(length - half).max(1)),
    ];
    let mut inputs = Vec::with_capacity(2 * length);
    let mut sum = 0.0;
    for i in 0..length {
        let value: f32 = rng.r#gen();
        let marked = marks.contains(&i);
        if marked {
            sum += value;
        }
        inputs.extend([value, if marked { 1.0 } else { 0.0 }]);
    }
    Sequence {
        inputs,
        truth: Truth::Label(sum),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_different_seed_different() {
        for g in [Generator::TwoSines, Generator::Sine, Generator::Adding] {
            let a = generate(g, 5, 20, 7);
            let b = generate(g, 5, 20, 7);
            let c = generate(g, 5, 20, 8);
            assert!(a.iter().zip(&b).all(|(a, b)| a.inputs == b.inputs));
            assert!(a.iter().zip(&c).any(|(a, c)| a.inputs != c.inputs));
        }
    }

    #[test]
    fn sines_stay_in_range() {
        for s in generate(Generator::TwoSines, 100, 51, 1) {
            assert_eq!(s.inputs.len(), 51);
            assert!(s.inputs.iter().all(|v| v.abs() <= 0.75));
        }
    }

    #[test]
    fn adding_marks_one_value_in_each_half() {
        for s in generate(Generator::Adding, 100, 10, 3) {
            let marks: Vec<usize> = (0..10).filter(|&i| s.inputs[2 * i + 1] == 1.0).collect();
            assert_eq!(marks.len(), 2);
            assert!(marks[0] < 5 && marks[1] >= 5);
            let sum = s.inputs[2 * marks[0]] + s.inputs[2 * marks[1]];
            assert!(matches!(s.truth, Truth::Label(l) if (l - sum).abs() < 1e-6));
        }
    }
}
