//! Weights as safetensors, with PyTorch names and layouts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};

use super::Model;

/// A weights file that cannot be read into this model.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct WeightsError {
    pub path: PathBuf,
    pub message: String,
}

/// `views` as a safetensors file with `metadata` in its header, the same
/// bytes for the same contents ([`with_sorted_metadata`]).
pub fn serialize(
    views: Vec<(String, TensorView<'_>)>,
    metadata: HashMap<String, String>,
) -> Vec<u8> {
    let body = safetensors::serialize(views, &None).expect("serialising f32 tensors");
    with_sorted_metadata(body, metadata)
}

/// A safetensors file's bytes with `metadata` put into its header in key
/// order: `safetensors::serialize` writes a `HashMap`'s order, so the same
/// checkpoint would come out as different bytes from one run to the next.
/// The header is JSON (8-byte little-endian length first, padded with
/// spaces to a multiple of 8); the tensors' offsets are relative to the
/// data after it, so they stay as they are.
fn with_sorted_metadata(body: Vec<u8>, metadata: HashMap<String, String>) -> Vec<u8> {
    let n = u64::from_le_bytes(body[..8].try_into().expect("8 bytes")) as usize;
    let tensors: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&body[8..8 + n]).expect("safetensors wrote a JSON object");
    let sorted: std::collections::BTreeMap<String, String> = metadata.into_iter().collect();
    let mut header = serde_json::Map::new();
    if !sorted.is_empty() {
        header.insert(
            "__metadata__".into(),
            serde_json::to_value(sorted).expect("strings"),
        );
    }
    header.extend(tensors);
    let mut text = serde_json::to_vec(&header).expect("a JSON object");
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + body.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&body[8 + n..]);
    out
}

impl Model {
    /// The parameters as a safetensors file, with `metadata` in its header.
    pub fn to_safetensors(&self, metadata: HashMap<String, String>) -> Vec<u8> {
        let bytes: Vec<Vec<u8>> = self
            .params
            .iter()
            .map(|p| p.data.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views: Vec<(String, TensorView<'_>)> = self
            .params
            .iter()
            .zip(&bytes)
            .map(|(p, b)| {
                let view = TensorView::new(Dtype::F32, p.shape.clone(), b)
                    .expect("shape and byte length agree by construction");
                (p.name.clone(), view)
            })
            .collect();
        serialize(views, metadata)
    }

    /// Replaces the parameters with those in a safetensors file's bytes. Every
    /// parameter must be present with the right shape; `path` names the file in errors.
    pub fn load_safetensors(&mut self, bytes: &[u8], path: &Path) -> Result<(), WeightsError> {
        let fail = |message: String| WeightsError {
            path: path.to_path_buf(),
            message,
        };
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| fail(format!("not a readable safetensors file ({e})")))?;
        let mut loaded = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let t = st.tensor(&p.name).map_err(|_| {
                fail(format!(
                    "has no tensor `{}`: it was saved from a different model (this model: {})",
                    p.name,
                    self.describe()
                ))
            })?;
            if t.dtype() != Dtype::F32 {
                return Err(fail(format!(
                    "`{}` is {:?}, expected F32",
                    p.name,
                    t.dtype()
                )));
            }
            if t.shape() != p.shape.as_slice() {
                return Err(fail(format!(
                    "`{}` has shape {:?}, but this model needs {:?} (model: {})",
                    p.name,
                    t.shape(),
                    p.shape,
                    self.describe()
                )));
            }
            let data: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if let Some(at) = data.iter().position(|v| !v.is_finite()) {
                let count = data.iter().filter(|v| !v.is_finite()).count();
                return Err(fail(format!(
                    "tensor `{}` has {count} non-finite value(s) (the first, at index {at}, is {}): \
                     these weights come from a run that diverged; use an earlier checkpoint \
                     (e.g. --from best or --from step-N)",
                    p.name, data[at]
                )));
            }
            loaded.push(data);
        }
        for (p, data) in self.params.iter_mut().zip(loaded) {
            p.data = data;
        }
        Ok(())
    }

    /// Reads a weights file into this model.
    pub fn load_weights(&mut self, path: &Path) -> Result<(), WeightsError> {
        // Room for this model's tensors twice over and a generous header: a
        // larger file cannot be a checkpoint of it.
        let own = 4 * self.parameter_count() as u64;
        let limit = own.saturating_mul(2).saturating_add(64 << 20);
        let bytes = crate::fsio::read_regular(path, limit, "weights file").map_err(|e| {
            let mut message = e.reason();
            if matches!(e.problem, crate::fsio::Problem::TooLarge { .. }) {
                message += &format!(" (this model's weights take {})", crate::fsio::bytes(own));
            }
            WeightsError {
                path: path.to_path_buf(),
                message,
            }
        })?;
        self.load_safetensors(&bytes, path)
    }
}

impl crate::error::Failure for WeightsError {
    fn kind(&self) -> crate::error::Kind {
        crate::error::Kind::BadInput
    }
}
