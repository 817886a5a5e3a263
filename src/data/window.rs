//! Cutting sequences into samples ([`Split`]) and batching them for the model.

use crate::experiment::Strategy;

/// What a sequence is trained to predict.
#[derive(Debug, Clone)]
pub(super) enum Truth {
    /// Forecasting: the target series, one value per step.
    Series(Vec<f32>),
    /// Regression: one explicit target per sequence.
    Label(f32),
}

/// One raw (unscaled) sequence: `features` values per step, and its truth.
#[derive(Debug, Clone)]
pub(super) struct Sequence {
    /// steps × features values, time-major.
    pub inputs: Vec<f32>,
    /// The target series or label.
    pub truth: Truth,
}

/// How samples are cut from sequences.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shape {
    /// Input steps per sample.
    pub window: usize,
    /// Steps predicted ahead.
    pub horizon: usize,
    /// Input values per step.
    pub features: usize,
    /// Target values per prediction.
    pub outputs: usize,
    /// Step between window starts; `None` = one sample at the start of each sequence.
    pub stride: Option<usize>,
    /// How forecast targets are laid out (seq2seq: a target vector at every step).
    pub strategy: Strategy,
}

/// Samples of one part, in scaled units once loading is done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// Number of samples.
    pub len: usize,
    /// Input steps per sample.
    pub window: usize,
    /// Input values per step.
    pub features: usize,
    /// Target values per prediction.
    pub outputs: usize,
    /// Whether every input step has a target vector (seq2seq).
    pub every_step: bool,
    /// len × window × features, sample-major.
    pub inputs: Vec<f32>,
    /// every_step: len × window × outputs; else len × outputs.
    pub targets: Vec<f32>,
    /// Forecasting: len × horizon, the target values right after each window; regression: empty.
    pub future: Vec<f32>,
    /// Samples cut from each sequence, in order (they follow each other).
    pub groups: Vec<usize>,
}

impl Split {
    /// The samples `range` as a split of their own (one group).
    pub fn samples(&self, range: std::ops::Range<usize>) -> Split {
        let (w, f, o) = (self.window, self.features, self.outputs);
        let per_target = if self.every_step { w * o } else { o };
        let h = self.future.len() / self.len.max(1);
        Split {
            len: range.len(),
            window: w,
            features: f,
            outputs: o,
            every_step: self.every_step,
            inputs: self.inputs[range.start * w * f..range.end * w * f].to_vec(),
            targets: self.targets[range.start * per_target..range.end * per_target].to_vec(),
            future: self.future[range.start * h..range.end * h].to_vec(),
            groups: vec![range.len()],
        }
    }

    /// Fills a batch of the samples `indices` (each < `len`): `x` time-major
    /// `[t][b][f]`; `y` `[t][b][o]` when `every_step`, else `[b][o]`.
    /// The vectors are cleared first, keeping their capacity.
    pub fn gather(&self, indices: &[usize], x: &mut Vec<f32>, y: &mut Vec<f32>) {
        let (w, f, o) = (self.window, self.features, self.outputs);
        x.clear();
        y.clear();
        for t in 0..w {
            for &i in indices {
                let at = (i * w + t) * f;
                x.extend_from_slice(&self.inputs[at..at + f]);
            }
        }
        if self.every_step {
            for t in 0..w {
                for &i in indices {
                    let at = (i * w + t) * o;
                    y.extend_from_slice(&self.targets[at..at + o]);
                }
            }
        } else {
            for &i in indices {
                y.extend_from_slice(&self.targets[i * o..(i + 1) * o]);
            }
        }
    }
}

/// Samples cut from one part in raw units, with the target series over each
/// window (`len × window`, empty for regression) for the baselines.
#[derive(Debug, Clone)]
pub(super) struct Cut {
    pub split: Split,
    pub history: Vec<f32>,
}

/// Cuts every sequence into samples: window starts 0, stride, 2·stride… while
/// start + window + horizon ≤ steps (start + window ≤ steps for labels).
pub(super) fn cut(seqs: &[Sequence], shape: &Shape) -> Cut {
    let (w, h, f) = (shape.window, shape.horizon, shape.features);
    let mut split = Split {
        window: w,
        features: f,
        outputs: shape.outputs,
        every_step: shape.strategy == Strategy::Seq2seq,
        ..Split::default()
    };
    let mut history = Vec::new();
    for seq in seqs {
        let steps = seq.inputs.len() / f.max(1);
        let need = match seq.truth {
            Truth::Series(_) => w + h,
            Truth::Label(_) => w,
        };
        if steps < need {
            split.groups.push(0);
            continue;
        }
        let before = split.len;
        let last = match shape.stride {
            Some(_) => steps - need,
            None => 0,
        };
        for s in (0..=last).step_by(shape.stride.unwrap_or(1).max(1)) {
            push(&mut split, &mut history, seq, s, shape);
        }
        split.groups.push(split.len - before);
    }
    Cut { split, history }
}

/// The samples of one series whose windows start at `starts`, in order.
pub(super) fn cut_at(seq: &Sequence, shape: &Shape, starts: &[usize]) -> Cut {
    let mut split = Split {
        window: shape.window,
        features: shape.features,
        outputs: shape.outputs,
        every_step: shape.strategy == Strategy::Seq2seq,
        ..Split::default()
    };
    let mut history = Vec::new();
    for &s in starts {
        push(&mut split, &mut history, seq, s, shape);
    }
    split.groups = vec![split.len];
    Cut { split, history }
}

/// Appends the sample whose window starts at step `s` of `seq`.
fn push(split: &mut Split, history: &mut Vec<f32>, seq: &Sequence, s: usize, shape: &Shape) {
    let (w, h, f) = (shape.window, shape.horizon, shape.features);
    split.len += 1;
    split
        .inputs
        .extend_from_slice(&seq.inputs[s * f..(s + w) * f]);
    match &seq.truth {
        Truth::Label(label) => split.targets.push(*label),
        Truth::Series(v) => {
            history.extend_from_slice(&v[s..s + w]);
            let future = &v[s + w..s + w + h];
            split.future.extend_from_slice(future);
            match shape.strategy {
                Strategy::OneStep | Strategy::Iterative => split.targets.push(future[0]),
                Strategy::Vector | Strategy::EncoderDecoder => {
                    split.targets.extend_from_slice(future)
                }
                Strategy::Seq2seq => {
                    for t in 0..w {
                        split
                            .targets
                            .extend_from_slice(&v[s + t + 1..s + t + 1 + h]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One feature x_t = t, target series v_t = 100 + t, 8 steps.
    fn series() -> Vec<Sequence> {
        vec![Sequence {
            inputs: (0..8).map(|t| t as f32).collect(),
            truth: Truth::Series((0..8).map(|t| 100.0 + t as f32).collect()),
        }]
    }

    fn shape(strategy: Strategy, horizon: usize, stride: Option<usize>) -> Shape {
        let outputs = if strategy == Strategy::OneStep {
            1
        } else {
            horizon
        };
        Shape {
            window: 3,
            horizon,
            features: 1,
            outputs,
            stride,
            strategy,
        }
    }

    #[test]
    fn one_step_windows_slide_by_stride() {
        let c = cut(&series(), &shape(Strategy::OneStep, 1, Some(2)));
        // starts 0, 2, 4 (4 + 3 + 1 = 8 ≤ 8)
        assert_eq!(c.split.len, 3);
        assert_eq!(c.split.inputs, vec![0., 1., 2., 2., 3., 4., 4., 5., 6.]);
        assert_eq!(c.split.targets, vec![103., 105., 107.]);
        assert_eq!(c.split.future, vec![103., 105., 107.]);
        assert_eq!(
            c.history,
            vec![100., 101., 102., 102., 103., 104., 104., 105., 106.]
        );
        assert_eq!((c.split.outputs, c.split.every_step), (1, false));
        assert_eq!(c.split.groups, [3]);
    }

    /// Two sequences: the samples of each follow each other, windows never
    /// span both, and `samples` takes one sequence's out whole.
    #[test]
    fn groups_count_each_sequences_samples() {
        let mut seqs = series();
        seqs.push(Sequence {
            inputs: (0..5).map(|t| 50.0 + t as f32).collect(),
            truth: Truth::Series((0..5).map(|t| 500.0 + t as f32).collect()),
        });
        let c = cut(&seqs, &shape(Strategy::Vector, 2, Some(1)));
        // 8 steps: starts 0..=3; 5 steps: start 0 only.
        assert_eq!(c.split.groups, [4, 1]);
        let second = c.split.samples(4..5);
        assert_eq!(second.inputs, [50., 51., 52.]);
        assert_eq!(second.targets, [503., 504.]);
        assert_eq!((second.len, second.groups.clone()), (1, vec![1]));
    }

    #[test]
    fn vector_targets_are_the_next_horizon_values() {
        let c = cut(&series(), &shape(Strategy::Vector, 2, Some(1)));
        assert_eq!(c.split.len, 4);
        assert_eq!(&c.split.targets[..4], &[103., 104., 104., 105.]);
        assert_eq!(c.split.future, c.split.targets);
        assert_eq!(c.split.outputs, 2);
    }

    #[test]
    fn seq2seq_targets_at_every_step() {
        let c = cut(&series(), &shape(Strategy::Seq2seq, 2, None));
        assert_eq!(c.split.len, 1);
        assert_eq!(c.split.targets, vec![101., 102., 102., 103., 103., 104.]);
        assert_eq!(c.split.future, vec![103., 104.]);
        assert_eq!((c.split.outputs, c.split.every_step), (2, true));
    }

    #[test]
    fn gather_is_time_major() {
        let c = cut(&series(), &shape(Strategy::Seq2seq, 2, Some(1)));
        let (mut x, mut y) = (vec![9.0; 100], Vec::new());
        c.split.gather(&[2, 0], &mut x, &mut y);
        // samples start at 2 and 0: x[t][b]
        assert_eq!(x, vec![2., 0., 3., 1., 4., 2.]);
        // y[t][b][o]: sample 2 at t=0 → v3, v4; sample 0 at t=0 → v1, v2; …
        assert_eq!(
            y,
            vec![
                103., 104., 101., 102., 104., 105., 102., 103., 105., 106., 103., 104.
            ]
        );
        let c = cut(&series(), &shape(Strategy::Vector, 2, Some(1)));
        c.split.gather(&[1, 3], &mut x, &mut y);
        assert_eq!(x, vec![1., 3., 2., 4., 3., 5.]);
        assert_eq!(y, vec![104., 105., 106., 107.]);
    }

    #[test]
    fn labels_use_the_whole_window() {
        let seqs = vec![Sequence {
            inputs: vec![0.5, 1.0, 0.2, 0.0, 0.3, 1.0, 0.9, 0.0],
            truth: Truth::Label(0.8),
        }];
        let shape = Shape {
            features: 2,
            ..shape(Strategy::OneStep, 1, None)
        };
        let c = cut(&seqs, &shape);
        assert_eq!((c.split.len, c.split.targets.clone()), (1, vec![0.8]));
        assert_eq!(c.split.inputs, vec![0.5, 1.0, 0.2, 0.0, 0.3, 1.0]);
        assert!(c.split.future.is_empty() && c.history.is_empty());
    }
}
