//! Finds whether tmux and Slurm are installed, so that the integration
//! tests that need them are reported as ignored (with the reason) instead
//! of passing silently when they are not. With `RNNLAB_REQUIRE_TMUX` or
//! `RNNLAB_REQUIRE_SLURM` set (as `.ci/run` does), a missing one fails the
//! build instead.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_tmux)");
    println!("cargo::rustc-check-cfg=cfg(has_slurm)");
    println!("cargo::rerun-if-env-changed=RNNLAB_REQUIRE_SLURM");
    // Slurm's commands (the daemons are started by the test, through
    // scripts/slurm-local.sh).
    let slurm = Command::new("sbatch")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if slurm {
        println!("cargo::rustc-cfg=has_slurm");
    } else if std::env::var_os("RNNLAB_REQUIRE_SLURM").is_some() {
        panic!("Slurm is required (RNNLAB_REQUIRE_SLURM is set) but sbatch is not installed");
    }
    println!("cargo::rerun-if-env-changed=RNNLAB_REQUIRE_TMUX");
    println!("cargo::rerun-if-env-changed=PATH");
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        println!("cargo::rustc-cfg=has_tmux");
    } else if std::env::var_os("RNNLAB_REQUIRE_TMUX").is_some() {
        panic!("tmux is required (RNNLAB_REQUIRE_TMUX is set) but not installed");
    }
}
