//! `rnnlab replay` and `rnnlab attach`: the dashboard fed from a run directory.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::error::{CliResult, bad_input};
use super::{interactive, output};
use crate::events::Command;
use crate::frontend::replay::{self, AttachEnd};
use crate::frontend::sweep::Watch;
use crate::frontend::tui::ui::Theme;
use crate::run::control::{self, ControlClient};
use crate::run::read;
use crate::run::read::summary::is_run_dir;
use crate::sweep::SweepDir;

/// A path that is not a run directory is refused at once, before the
/// screen is touched.
fn require_run(run: &Path) -> CliResult<()> {
    if run.exists() && !run.is_dir() {
        bad_input!(
            "{} is a file, not a run directory; `rnnlab runs` lists the runs",
            run.display()
        );
    }
    if !run.is_dir() {
        bad_input!("{}: no such run directory", run.display());
    }
    if !is_run_dir(run) {
        bad_input!(
            "{} is not a run or sweep directory (it has no experiment.toml or summary.json, nor sweep.toml); `rnnlab runs` lists the runs",
            run.display()
        );
    }
    // A trainer takes the lock before it writes anything and creates
    // metrics.csv at once: without either, nothing was ever recorded here.
    if !run.join("metrics.csv").is_file() && !control::is_live(run) {
        bad_input!(
            "{} is not a run directory: it has no metrics.csv and no process is training it; `rnnlab runs` lists the runs",
            run.display()
        );
    }
    Ok(())
}

/// The sweep board for a sweep directory that this process does not run:
/// `replay` and `attach` both show it (steering the trials that run).
fn board(dir: &Path, ascii: bool) -> CliResult<ExitCode> {
    if !interactive() {
        bad_input!(
            "the sweep board needs a terminal; `rnnlab runs {}` lists the trials",
            dir.display()
        );
    }
    let sweep = SweepDir::open(dir)?;
    let running = sweep.is_running();
    let mut watch = Watch { dir: sweep.clone() };
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    crate::frontend::sweep::show(sweep, &mut watch, Theme::detect(ascii), &interrupt)?;
    if running {
        output::note(&format!(
            "left the board; the sweep goes on (rnnlab attach {} to come back)",
            dir.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `rnnlab replay RUN` (or a sweep directory: its board).
pub fn replay(run: &Path, ascii: bool) -> CliResult<ExitCode> {
    if SweepDir::is_sweep_dir(run) {
        return board(run, ascii);
    }
    require_run(run)?;
    if !interactive() {
        bad_input!(
            "replay needs a terminal; `rnnlab compare {} --json` prints the run's figures",
            run.display()
        );
    }
    replay::replay(run, Theme::detect(ascii))?;
    Ok(ExitCode::SUCCESS)
}

/// `rnnlab attach RUN` (or a sweep directory: its board).
pub fn attach(run: &Path, ascii: bool) -> CliResult<ExitCode> {
    if SweepDir::is_sweep_dir(run) {
        return board(run, ascii);
    }
    require_run(run)?;
    if !interactive() {
        bad_input!("attach needs a terminal");
    }
    let commands = steer(run);
    match replay::attach(run, Theme::detect(ascii), commands)? {
        AttachEnd::Detached => output::note(&format!(
            "detached; the run goes on (rnnlab attach {} to come back)",
            run.display()
        )),
        AttachEnd::Finished(outcome) => super::train::report(run, &outcome),
    }
    Ok(ExitCode::SUCCESS)
}

/// A channel to the run's control socket. A run that is just starting may not
/// have its socket yet, so this waits a little for it; a finished run needs
/// none, nor does one that no process is training (it ended without a word,
/// e.g. killed): it is shown as recorded at once.
fn steer(run: &Path) -> Option<Sender<Command>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ControlClient::connect(run) {
            Ok(client) => return Some(control::forwarder(client)),
            Err(e) => {
                if matches!(read::outcome(run), Ok(Some(_))) {
                    return None;
                }
                if !control::is_live(run) {
                    output::note(&format!(
                        "note: no process is training {}; showing it as recorded (`rnnlab resume` continues it)",
                        run.display()
                    ));
                    return None;
                }
                if Instant::now() > deadline {
                    output::note(&format!("note: {e}; showing the run without steering"));
                    return None;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
}
