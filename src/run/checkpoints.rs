//! A run's checkpoints: `checkpoints/step-<N>.safetensors` (weights) beside
//! `step-<N>.state.safetensors` (everything else a resume needs), and
//! `best.safetensors`.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::RunError;

/// The trainer-state file that belongs to a checkpoint's weights file.
pub fn state_path(weights: &Path) -> PathBuf {
    let name = weights.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.strip_suffix(".safetensors").unwrap_or(name);
    weights.with_file_name(format!("{stem}.state.safetensors"))
}

/// The weights file a user names a checkpoint by: `best`, `step-N`, `N`
/// (with or without `.safetensors`). It may not exist.
pub fn named(run: &Path, name: &str) -> PathBuf {
    let dir = run.join("checkpoints");
    let stem = name.trim_end_matches(".safetensors");
    let stem = if stem == "best" || stem.starts_with("step-") {
        stem.to_string()
    } else {
        format!("step-{stem}")
    };
    dir.join(format!("{stem}.safetensors"))
}

/// A run directory's periodic checkpoints (`step-<N>`), oldest step first.
pub fn checkpoints(run: &Path) -> Result<Vec<(u64, PathBuf)>, RunError> {
    let dir = run.join("checkpoints");
    let mut out = Vec::new();
    let read = |e| RunError::io("read", &dir, e);
    for entry in fs::read_dir(&dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|n| n.strip_suffix(".safetensors"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(step) = step {
            out.push((step, path));
        }
    }
    out.sort();
    Ok(out)
}
