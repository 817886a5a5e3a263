//! `rnnlab sweep … --emit slurm`: a job-array script whose tasks each run
//! `rnnlab sweep-trial SWEEP_DIR $SLURM_ARRAY_TASK_ID`. A task preempted or
//! near its time limit gets SIGTERM first (`--signal=B:TERM@60`), stops
//! cleanly with a final checkpoint, and a requeued task resumes from it
//! bit-identically. Successive halving is not run under Slurm: each task
//! trains its trial to the end.

use std::fs;
use std::path::PathBuf;

use super::dir::SweepDir;
use crate::run::RunError;
use crate::run::atomic;

/// Writes `SWEEP_DIR/slurm.sh`; returns its path.
pub fn write_script(dir: &SweepDir) -> Result<PathBuf, RunError> {
    let sweep = &dir.resolved.sweep;
    let root = std::path::absolute(&dir.path).unwrap_or_else(|_| dir.path.clone());
    let exe = std::env::current_exe().map_err(|e| RunError::io("find", &root, e))?;
    let logs = root.join("logs");
    fs::create_dir_all(&logs).map_err(|e| RunError::io("create", &logs, e))?;
    let n = dir.trials().len();
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!(
            "# The {n} trials of sweep `{}`, one array task each.",
            sweep.name
        ),
        format!(
            "# Submit: sbatch {}    Follow: rnnlab attach {} (or rnnlab runs {})",
            root.join("slurm.sh").display(),
            root.display(),
            root.display()
        ),
        format!("#SBATCH --job-name=rnnlab-{}", sweep.name),
        format!(
            "#SBATCH --array=0-{}%{}",
            n.saturating_sub(1),
            dir.resolved.parallel.max(1)
        ),
        format!("#SBATCH --cpus-per-task={}", dir.resolved.threads.max(1)),
        format!("#SBATCH --time={}", sweep.slurm.time),
        format!("#SBATCH --output={}/slurm-%A_%a.out", logs.display()),
        "#SBATCH --open-mode=append".into(),
        "#SBATCH --requeue".into(),
        // SIGTERM to the batch shell (which `exec` makes rnnlab) 60 s before the end.
        "#SBATCH --signal=B:TERM@60".into(),
    ];
    if let Some(p) = &sweep.slurm.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    lines.extend(sweep.slurm.extra.iter().map(|e| format!("#SBATCH {e}")));
    lines.push(String::new());
    lines.push(format!(
        "exec {} sweep-trial {} \"$SLURM_ARRAY_TASK_ID\"",
        shell_quote(&exe.display().to_string()),
        shell_quote(&root.display().to_string())
    ));
    lines.push(String::new());
    let path = root.join("slurm.sh");
    atomic::write(&path, lines.join("\n").as_bytes())
        .map_err(|e| RunError::io("write", &path, e))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o755));
    Ok(path)
}

/// `s` quoted for a POSIX shell.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
