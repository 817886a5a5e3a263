//! Everything a checkpoint holds besides the weights, so that a resumed run
//! continues exactly where the original left off: optimizer moments and step
//! count, schedule and early-stopping state, live hyperparameters, the
//! position in the shuffled data order, and the random generators.
//!
//! Stored as `checkpoints/step-<N>.state.safetensors`: tensors `m.<param>` and
//! `v.<param>`, and the rest as JSON in the header's `state` entry.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rand_chacha::ChaCha8Rng;
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use super::Schedule;
use crate::model::{Model, State};

/// Version of the state format; bumped on incompatible changes.
pub const FORMAT: u32 = 1;

/// Where the next batch comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// 1-based epoch of the next batch.
    pub epoch: usize,
    /// Index of the next batch in that epoch's shuffled order.
    pub index: usize,
}

/// The trainer's state at a checkpoint (all but the tensors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub format: u32,
    /// Optimisation steps done.
    pub step: u64,
    /// Epoch of the last step (for display).
    pub epoch: usize,
    pub next: Position,
    pub wall_s: f64,
    /// The shuffling generator as it was at the start of `next.epoch`.
    pub epoch_rng: ChaCha8Rng,
    pub dropout_rng: ChaCha8Rng,
    /// Updates the optimizer has applied (Adam's bias correction).
    pub optimizer_steps: u64,
    pub schedule: Schedule,
    pub clip: f64,
    pub eval_every: u64,
    pub best_valid_loss: Option<f64>,
    pub best_step: Option<u64>,
    pub best_valid: BTreeMap<String, f64>,
    pub stale_evals: usize,
    pub last_eval_step: Option<u64>,
    /// The model's one-line description, to recognise a foreign checkpoint.
    pub model: String,
    /// A text stream's state after the last step (truncated BPTT carries it on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carry: State,
    /// Text generation: the sampling temperature as tuned so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// The size in bytes of each log file of the run directory when the
    /// checkpoint was taken: a resumed run cuts each back to it, so that rows
    /// written after the checkpoint (even at its step) are never doubled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<BTreeMap<String, u64>>,
}

/// What a state file must agree with: the run it resumes.
pub struct Expect<'a> {
    /// Batches per epoch of the run's data at its batch size.
    pub steps_per_epoch: usize,
    /// The model the state's carried stream state must fit.
    pub model: &'a Model,
}

impl TrainerState {
    /// Checks every field as untrusted input: a damaged or forged state file
    /// is refused with the field at fault, never trusted into a panic or a
    /// silently different run.
    pub fn check(&self, expect: &Expect) -> Result<(), String> {
        let steps_per_epoch = expect.steps_per_epoch;
        let finite_pos = |v: f64| v.is_finite() && v >= 0.0;
        // About 300 years of training: enough for any run, small enough for a clock.
        if !(finite_pos(self.wall_s) && self.wall_s < 1e10) {
            return Err(format!(
                "`wall_s` {} is not a plausible duration (seconds, finite, ≥ 0)",
                self.wall_s
            ));
        }
        if self.next.epoch == 0 || self.next.index > steps_per_epoch {
            return Err(format!(
                "`next`: the position (epoch {}, batch {}) is outside the data (batches 0..{steps_per_epoch} per epoch)",
                self.next.epoch, self.next.index
            ));
        }
        // Every epoch before `next.epoch` took at least one step.
        let behind = (self.next.epoch as u64 - 1).saturating_add(self.next.index as u64);
        if behind > self.step {
            return Err(format!(
                "`next`: epoch {} batch {} cannot be reached in {} steps",
                self.next.epoch, self.next.index, self.step
            ));
        }
        if self.epoch > self.next.epoch {
            return Err(format!(
                "`epoch` {} is after the next batch's epoch {}",
                self.epoch, self.next.epoch
            ));
        }
        if self.optimizer_steps > self.step {
            return Err(format!(
                "`optimizer_steps`: {} optimizer updates in {} steps",
                self.optimizer_steps, self.step
            ));
        }
        if !finite_pos(self.clip) {
            return Err(format!(
                "`clip` {} is not a clip norm (finite, ≥ 0)",
                self.clip
            ));
        }
        self.schedule.check()?;
        if crate::events::Tunable::EvalEvery
            .check(self.eval_every as f64)
            .is_err()
        {
            return Err(format!(
                "`eval_every` {} is not an interval",
                self.eval_every
            ));
        }
        if self.temperature.is_some_and(|t| !finite_pos(t)) {
            return Err("`temperature` is not a finite number ≥ 0".into());
        }
        if self.best_valid_loss.is_some_and(|l| !finite_pos(l)) {
            return Err("`best_valid_loss` is not a finite number ≥ 0".into());
        }
        if let Some((k, v)) = self.best_valid.iter().find(|(_, v)| !v.is_finite()) {
            return Err(format!("`best_valid.{k}` {v} is not finite"));
        }
        if self.best_step.is_some_and(|s| s > self.step) {
            return Err("`best_step` is after the checkpoint's step".into());
        }
        if self.last_eval_step.is_some_and(|s| s > self.step) {
            return Err("`last_eval_step` is after the checkpoint's step".into());
        }
        if self.stale_evals as u64 > self.step {
            return Err(format!(
                "`stale_evals`: {} evaluations without improvement in {} steps",
                self.stale_evals, self.step
            ));
        }
        check_carry(&self.carry, expect.model)
    }
}

/// A carried stream state must be empty or one `B × H` state per layer,
/// with the same `B` throughout, `c` for LSTM layers only, finite.
fn check_carry(carry: &State, model: &Model) -> Result<(), String> {
    if carry.is_empty() {
        return Ok(());
    }
    if carry.len() != model.layers.len() {
        return Err(format!(
            "`carry` holds {} layer states for a model of {} layers",
            carry.len(),
            model.layers.len()
        ));
    }
    // Empty states are zeros: what a stream starts from.
    if carry.iter().all(|s| s.h.is_empty() && s.c.is_empty()) {
        return Ok(());
    }
    let rows = carry[0].h.len() / model.layers[0].units.max(1);
    for (k, (s, l)) in carry.iter().zip(&model.layers).enumerate() {
        let want = rows * l.units;
        let c_want = if l.cell == crate::experiment::Cell::Lstm {
            want
        } else {
            0
        };
        if s.h.len() != want || s.c.len() != c_want || rows == 0 {
            return Err(format!(
                "`carry[{k}]` has {} + {} values; this model's layer {k} carries {want} + {c_want}",
                s.h.len(),
                s.c.len()
            ));
        }
        if s.h.iter().chain(&s.c).any(|v| !v.is_finite()) {
            return Err(format!("`carry[{k}]` holds non-finite values"));
        }
    }
    Ok(())
}

/// A state file that cannot be used to resume this run.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct StateError {
    pub path: PathBuf,
    pub message: String,
}

/// The state and the optimizer moments as a safetensors file.
pub fn encode(state: &TrainerState, model: &Model, m: &[Vec<f32>], v: &[Vec<f32>]) -> Vec<u8> {
    let mut buffers = Vec::new();
    for (prefix, moments) in [("m", m), ("v", v)] {
        for (p, data) in model.params.iter().zip(moments) {
            let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
            buffers.push((format!("{prefix}.{}", p.name), p.shape.clone(), bytes));
        }
    }
    let views: Vec<(String, TensorView<'_>)> = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .expect("shape and byte length agree by construction");
            (name.clone(), view)
        })
        .collect();
    let meta = HashMap::from([
        ("format".to_string(), "rnnlab-trainer-state".to_string()),
        (
            "state".to_string(),
            serde_json::to_string(state).expect("trainer state serialises"),
        ),
    ]);
    crate::model::serialize_safetensors(views, meta)
}

/// First and second optimizer moments, in parameter order.
pub type Moments = (Vec<Vec<f32>>, Vec<Vec<f32>>);

/// The state and moments (`m`, `v` in parameter order) read back for `model`.
pub fn decode(
    bytes: &[u8],
    path: &Path,
    model: &Model,
) -> Result<(TrainerState, Moments), StateError> {
    let fail = |message: String| StateError {
        path: path.to_path_buf(),
        message,
    };
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| fail(format!("not a readable trainer state ({e})")))?;
    let meta = header.metadata().as_ref();
    if meta.and_then(|m| m.get("format")).map(String::as_str) != Some("rnnlab-trainer-state") {
        return Err(fail("not an rnnlab trainer state file".into()));
    }
    let json = meta
        .and_then(|m| m.get("state"))
        .ok_or_else(|| fail("the state entry is missing".into()))?;
    let state: TrainerState =
        serde_json::from_str(json).map_err(|e| fail(format!("damaged state ({e})")))?;
    if state.format != FORMAT {
        return Err(fail(format!(
            "state format {} is not supported (this rnnlab writes {FORMAT})",
            state.format
        )));
    }
    if state.model != model.describe() {
        return Err(fail(format!(
            "it belongs to a different model ({}; this experiment builds {})",
            state.model,
            model.describe()
        )));
    }
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| fail(format!("not a readable trainer state ({e})")))?;
    let read = |prefix: &str| -> Result<Vec<Vec<f32>>, StateError> {
        model
            .params
            .iter()
            .map(|p| {
                let name = format!("{prefix}.{}", p.name);
                let t = st
                    .tensor(&name)
                    .map_err(|_| fail(format!("has no tensor `{name}`")))?;
                if t.dtype() != Dtype::F32 || t.shape() != p.shape.as_slice() {
                    return Err(fail(format!("`{name}` has the wrong type or shape")));
                }
                Ok(t.data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            })
            .collect()
    };
    let m = read("m")?;
    let v = read("v")?;
    if m.iter().chain(&v).flatten().any(|x| !x.is_finite()) {
        return Err(fail("the optimizer moments hold non-finite values".into()));
    }
    Ok((state, (m, v)))
}

impl crate::error::Failure for StateError {
    fn kind(&self) -> crate::error::Kind {
        crate::error::Kind::BadInput
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::experiment::{Cell, Init, LayerSpec, LrSchedule};
    use crate::model::LayerState;

    fn model() -> Model {
        let layer = |cell, units| LayerSpec {
            cell,
            units,
            activation: None,
            dropout: 0.0,
            init: Init::Pytorch,
            forget_bias: None,
            bidirectional: false,
            recurrent_dropout: 0.0,
            norm: None,
        };
        Model::new(&[layer(Cell::Lstm, 3), layer(Cell::Gru, 2)], 1, 1, false, 1)
    }

    /// The state of a run 12 steps in: epoch 2, batch 2 of 10.
    fn valid() -> TrainerState {
        TrainerState {
            format: FORMAT,
            step: 12,
            epoch: 2,
            next: Position { epoch: 2, index: 2 },
            wall_s: 3.5,
            epoch_rng: ChaCha8Rng::seed_from_u64(1),
            dropout_rng: ChaCha8Rng::seed_from_u64(2),
            optimizer_steps: 12,
            schedule: Schedule::new(LrSchedule::Constant, 0.01),
            clip: 1.0,
            eval_every: 5,
            best_valid_loss: Some(0.5),
            best_step: Some(10),
            best_valid: BTreeMap::from([("mse".to_string(), 0.5)]),
            stale_evals: 0,
            last_eval_step: Some(10),
            model: model().describe(),
            carry: Vec::new(),
            temperature: None,
            logs: None,
        }
    }

    fn check(edit: impl FnOnce(&mut TrainerState)) -> Result<(), String> {
        let mut s = valid();
        edit(&mut s);
        let model = model();
        s.check(&Expect {
            steps_per_epoch: 10,
            model: &model,
        })
    }

    #[test]
    fn every_field_is_checked_and_named() {
        assert_eq!(check(|_| {}), Ok(()));
        type Edit = Box<dyn FnOnce(&mut TrainerState)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("`wall_s`", Box::new(|s| s.wall_s = 1e300)),
            ("`wall_s`", Box::new(|s| s.wall_s = f64::NAN)),
            ("`wall_s`", Box::new(|s| s.wall_s = -1.0)),
            ("`next`", Box::new(|s| s.next.epoch = 0)),
            ("`next`", Box::new(|s| s.next.index = 11)),
            ("`next`", Box::new(|s| s.next.epoch = 20)),
            ("`epoch`", Box::new(|s| s.epoch = 3)),
            ("`optimizer_steps`", Box::new(|s| s.optimizer_steps = 13)),
            ("`clip`", Box::new(|s| s.clip = f64::INFINITY)),
            ("`schedule.base`", Box::new(|s| s.schedule.base = 0.0)),
            ("`eval_every`", Box::new(|s| s.eval_every = u64::MAX)),
            ("`temperature`", Box::new(|s| s.temperature = Some(-1.0))),
            (
                "`best_valid_loss`",
                Box::new(|s| s.best_valid_loss = Some(f64::NAN)),
            ),
            (
                "`best_valid.mse`",
                Box::new(|s| {
                    s.best_valid.insert("mse".into(), f64::INFINITY);
                }),
            ),
            ("`best_step`", Box::new(|s| s.best_step = Some(13))),
            (
                "`last_eval_step`",
                Box::new(|s| s.last_eval_step = Some(13)),
            ),
            ("`stale_evals`", Box::new(|s| s.stale_evals = 100)),
            (
                "`carry`",
                Box::new(|s| s.carry = vec![LayerState::default(); 3]),
            ),
            (
                "`carry[1]`",
                Box::new(|s| {
                    let h = |n| vec![0.0; n];
                    s.carry = vec![
                        LayerState { h: h(6), c: h(6) },
                        LayerState { h: h(5), c: h(0) },
                    ];
                }),
            ),
            (
                "`carry[0]` holds non-finite",
                Box::new(|s| {
                    let h = |n| vec![f32::NAN; n];
                    s.carry = vec![
                        LayerState { h: h(6), c: h(6) },
                        LayerState { h: h(4), c: h(0) },
                    ];
                }),
            ),
        ];
        for (field, edit) in cases {
            let e = check(edit).expect_err(field);
            assert!(e.contains(field), "{field}: {e}");
        }
        let ok = |s: &mut TrainerState| {
            s.carry = vec![
                LayerState {
                    h: vec![0.0; 6],
                    c: vec![0.0; 6],
                },
                LayerState {
                    h: vec![0.0; 4],
                    c: vec![],
                },
            ]
        };
        assert_eq!(check(ok), Ok(()));
    }
}
