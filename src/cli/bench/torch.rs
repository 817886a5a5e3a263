//! Runs `scripts/torch_bench.py --json` and reads its timings.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::{BenchError, Config, Stats};

/// The script, relative to the repository root.
const SCRIPT: &str = "scripts/torch_bench.py";

/// The script's exit code when torch cannot be imported.
const NO_TORCH: i32 = 3;

/// PyTorch's timings of one configuration.
#[derive(Debug, Clone)]
pub struct TorchTiming {
    /// The configuration's name.
    pub name: String,
    /// `torch.__version__`.
    pub version: String,
    pub train: Stats,
    pub infer: Stats,
    /// Peak resident memory of the script's process over both passes.
    pub memory: Option<super::Peak>,
}

/// One JSON line of the script's output.
#[derive(Deserialize)]
struct Line {
    name: String,
    cell: String,
    layers: usize,
    units: usize,
    input: usize,
    steps: usize,
    batch: usize,
    torch: String,
    train_ms: Stats,
    infer_ms: Stats,
    #[serde(default)]
    memory_mib: Option<super::Peak>,
}

/// The script in the current directory, else in the crate this binary was
/// built from.
fn locate() -> Result<PathBuf, BenchError> {
    let looked = vec![
        PathBuf::from(SCRIPT),
        Path::new(env!("CARGO_MANIFEST_DIR")).join(SCRIPT),
    ];
    match looked.iter().find(|p| p.is_file()) {
        Some(p) => Ok(p.clone()),
        None => Err(BenchError::ScriptMissing { looked }),
    }
}

/// Times `configs` in PyTorch with `python`, `runs` runs each and `threads`
/// threads; one timing per configuration, in order, or an error that says what
/// is missing.
pub fn reference(
    python: &str,
    configs: &[Config],
    runs: usize,
    threads: usize,
) -> Result<Vec<TorchTiming>, BenchError> {
    let script = locate()?;
    let mut cmd = Command::new(python);
    cmd.arg(&script).arg("--json").args([
        "--runs",
        &runs.to_string(),
        "--threads",
        &threads.to_string(),
    ]);
    for c in configs {
        let shape = format!(
            "{}:{}:{}:{}:{}:{}:{}",
            c.label(),
            c.torch_cell(),
            c.layers,
            c.units,
            c.input,
            c.steps,
            c.batch
        );
        cmd.args(["--shape", &shape]);
    }
    let out = cmd.output().map_err(|source| BenchError::Python {
        python: python.to_string(),
        source,
    })?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match out.status.code() {
        Some(0) => {}
        Some(NO_TORCH) => {
            return Err(BenchError::TorchMissing {
                python: python.to_string(),
                message: stderr.trim_start_matches("error: ").to_string(),
            });
        }
        _ => {
            return Err(BenchError::ScriptFailed {
                status: out.status.to_string(),
                stderr,
            });
        }
    }
    let lines: Vec<Line> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| BenchError::BadOutput(format!("{e}: {l}"))))
        .collect::<Result<_, _>>()?;
    configs
        .iter()
        .map(|c| {
            let line = lines
                .iter()
                .find(|l| l.name == c.label())
                .ok_or_else(|| BenchError::BadOutput(format!("no timing for {}", c.label())))?;
            check_shape(c, line)?;
            Ok(TorchTiming {
                name: line.name.clone(),
                version: line.torch.clone(),
                train: line.train_ms,
                infer: line.infer_ms,
                memory: line.memory_mib,
            })
        })
        .collect()
}

/// The script must have timed the same shapes as rnnlab.
fn check_shape(c: &Config, l: &Line) -> Result<(), BenchError> {
    let ours = (c.torch_cell(), c.layers, c.units, c.input, c.steps, c.batch);
    let theirs = (
        l.cell.as_str(),
        l.layers,
        l.units,
        l.input,
        l.steps,
        l.batch,
    );
    if ours == theirs {
        Ok(())
    } else {
        Err(BenchError::BadOutput(format!(
            "{} differs from rnnlab's configuration: (cell, layers, units, input, T, batch) = {theirs:?}, expected {ours:?}",
            c.label()
        )))
    }
}
