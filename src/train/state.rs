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

impl TrainerState {
    /// Checks every field as untrusted input: a damaged or forged state file
    /// is refused with the field at fault, never trusted into a panic.
    /// `steps_per_epoch` is the run's number of batches per epoch.
    pub fn check(&self, steps_per_epoch: usize) -> Result<(), String> {
        let finite_pos = |v: f64| v.is_finite() && v >= 0.0;
        // About 300 years of training: enough for any run, small enough for a clock.
        if !(finite_pos(self.wall_s) && self.wall_s < 1e10) {
            return Err(format!(
                "`wall_s` {} is not a plausible duration",
                self.wall_s
            ));
        }
        if self.next.epoch == 0 || self.next.index > steps_per_epoch {
            return Err(format!(
                "the position (epoch {}, batch {}) is outside the data (batches 0..{steps_per_epoch} per epoch)",
                self.next.epoch, self.next.index
            ));
        }
        if self.optimizer_steps > self.step {
            return Err(format!(
                "{} optimizer updates in {} steps",
                self.optimizer_steps, self.step
            ));
        }
        if !finite_pos(self.clip) {
            return Err(format!("`clip` {} is not a clip norm", self.clip));
        }
        if !(self.schedule.base.is_finite() && self.schedule.base > 0.0) {
            return Err(format!(
                "the learning rate {} is not positive and finite",
                self.schedule.base
            ));
        }
        if self.temperature.is_some_and(|t| !finite_pos(t)) {
            return Err("the temperature is not a finite number ≥ 0".into());
        }
        if self.best_valid_loss.is_some_and(f64::is_nan) {
            return Err("the best validation loss is NaN".into());
        }
        if self.best_step.is_some_and(|s| s > self.step)
            || self.last_eval_step.is_some_and(|s| s > self.step)
        {
            return Err("an evaluation is recorded after the checkpoint's step".into());
        }
        Ok(())
    }
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
    safetensors::serialize(views, &Some(meta)).expect("serialising f32 tensors")
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
