//! Finds whether tmux is installed, so that the integration tests that need
//! it are reported as ignored (with the reason) instead of passing silently
//! when it is not. With `RNNLAB_REQUIRE_TMUX` set (as `.ci/run` does), a
//! missing tmux fails the build instead.

use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_tmux)");
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
