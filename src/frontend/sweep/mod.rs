//! The sweep board: every trial of a sweep at a glance — a sortable table,
//! an overlay of the configurations' validation curves — and any trial's
//! full dashboard on `Enter` (pause, tune and checkpoint work as in a single
//! run; `Esc` comes back). It reads the sweep directory through
//! [`crate::sweep::SweepDir`] and the run reader, and acts on the sweep
//! only through a [`Driver`]: the runner when this process runs the sweep
//! (`rnnlab sweep`), the trials' control sockets when another does
//! (`rnnlab attach SWEEP_DIR`), nothing for a finished one (`replay`).

pub mod board;
pub mod ui;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::events::Command;
use crate::frontend::FrontendError;
use crate::frontend::tui::app::App;
use crate::frontend::tui::terminal::Tui;
use crate::frontend::tui::ui::Theme;
use crate::frontend::tui::{keys, ui as run_ui};
use crate::run::control::{self, ControlClient};
use crate::run::read::Follower;
use crate::sweep::SweepDir;
pub use board::{Action, Board};
use ui::Overlay;

/// What the board asks of the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepCommand {
    /// Pause (true) or resume every running trial.
    Pause(bool),
    /// Stop one trial cleanly.
    StopTrial(usize),
    /// Stop the sweep: every running trial cleanly.
    StopAll,
}

/// Runs, steers or only watches a sweep for the board.
pub trait Driver {
    /// Does the sweep's bookkeeping; returns lines about what happened.
    fn tick(&mut self) -> Vec<String>;
    fn command(&mut self, command: SweepCommand);
    /// Whether nothing more will happen.
    fn finished(&self) -> bool;
    /// Whether leaving the board leaves the sweep running (it is run by
    /// another process); otherwise leaving stops it.
    fn detaches(&self) -> bool {
        false
    }
}

/// A sweep this process only watches (finished, or run elsewhere): it
/// steers running trials through their control sockets.
pub struct Watch {
    pub dir: SweepDir,
}

impl Driver for Watch {
    fn tick(&mut self) -> Vec<String> {
        Vec::new()
    }

    fn command(&mut self, command: SweepCommand) {
        let send = |trial: usize, c: Command| {
            let t = &self.dir.trials()[trial];
            if let Ok(mut client) = ControlClient::connect(&self.dir.trial_dir(t)) {
                let _ = client.send(&c);
            }
        };
        match command {
            SweepCommand::Pause(p) => {
                for row in self.dir.rows().iter().filter(|r| r.status == "running") {
                    send(row.trial, if p { Command::Pause } else { Command::Resume });
                }
            }
            SweepCommand::StopTrial(t) => {
                let _ = crate::sweep::run::stop_trial(&self.dir, t);
            }
            SweepCommand::StopAll => {
                for row in self.dir.rows().iter().filter(|r| r.status == "running") {
                    send(row.trial, Command::Stop);
                }
            }
        }
    }

    fn finished(&self) -> bool {
        if self.dir.is_running() {
            return false;
        }
        // A Slurm array may still have tasks to start.
        let queued = self.dir.path.join("slurm.sh").is_file();
        !self.dir.rows().iter().any(|r| {
            r.status == "running"
                || queued && matches!(r.status.as_str(), "planned" | "interrupted")
        })
    }

    fn detaches(&self) -> bool {
        true
    }
}

/// One trial's dashboard inside the board.
struct Open {
    app: App,
    follower: Follower,
    commands: Option<Sender<Command>>,
    next_poll: Instant,
}

/// How often the board reads the trials again.
const REFRESH: Duration = Duration::from_secs(1);

/// Shows the board until the user quits (or, with `until_done`, until the
/// sweep is finished and the user quits). `interrupt` (a signal) stops the sweep.
pub fn show(
    dir: SweepDir,
    driver: &mut dyn Driver,
    theme: Theme,
    interrupt: &AtomicBool,
) -> Result<(), FrontendError> {
    let mut board = Board::new(dir);
    board.detaches = driver.detaches();
    let mut tui = Tui::enter(None)?;
    let mut overlay = Overlay::None;
    let mut open: Option<Open> = None;
    let mut last_refresh = Instant::now();
    let mut quitting = false;
    let mut dirty = true;
    board.finished = driver.finished();
    loop {
        let lines = driver.tick();
        if !lines.is_empty() {
            board.log.extend(lines);
            board.finished = driver.finished();
            dirty = true;
        }
        if board.log.len() > 200 {
            board.log.drain(..100);
        }
        if interrupt.swap(false, Ordering::SeqCst) {
            if driver.detaches() {
                return Ok(());
            }
            driver.command(SweepCommand::StopAll);
            board.message =
                Some("stopping the sweep: every running trial writes its final checkpoint…".into());
            quitting = true;
        }
        if quitting && board.finished {
            return Ok(());
        }
        if last_refresh.elapsed() >= REFRESH {
            board.finished = driver.finished();
            board.refresh();
            last_refresh = Instant::now();
            dirty = true;
        }
        if let Some(o) = &mut open
            && Instant::now() >= o.next_poll
        {
            for e in o.follower.poll()? {
                o.app.on_event(e);
                dirty = true;
            }
            o.next_poll = Instant::now() + Duration::from_millis(200);
        }
        if dirty {
            match &open {
                Some(o) => tui.draw(|f| run_ui::render(f, &o.app, &theme))?,
                None => tui.draw(|f| ui::render(f, &board, &theme, overlay))?,
            }
            dirty = false;
        }
        if !tui.input_ready(Duration::from_millis(100))? {
            continue;
        }
        while event::poll(Duration::ZERO)? {
            let TermEvent::Key(key) = event::read()? else {
                dirty = true; // a resize
                continue;
            };
            dirty = true;
            if key.kind != KeyEventKind::Press {
                continue;
            }
            if let Some(o) = &mut open {
                if trial_key(o, key) {
                    open = None;
                }
                continue;
            }
            match (overlay, board_action(key)) {
                (Overlay::Help, _) => overlay = Overlay::None,
                (Overlay::ConfirmQuit, Some(Action::Confirm)) => {
                    overlay = Overlay::None;
                    if board.finished {
                        return Ok(());
                    }
                    driver.command(SweepCommand::StopAll);
                    board.message = Some(
                        "stopping the sweep: every running trial writes its final checkpoint…"
                            .into(),
                    );
                    quitting = true;
                }
                (Overlay::ConfirmQuit, _) => overlay = Overlay::None,
                (Overlay::None, Some(action)) => match action {
                    Action::Quit if board.finished || driver.detaches() => return Ok(()),
                    Action::Quit => overlay = Overlay::ConfirmQuit,
                    Action::ForceQuit => {
                        if board.finished || driver.detaches() {
                            return Ok(());
                        }
                        driver.command(SweepCommand::StopAll);
                        quitting = true;
                    }
                    Action::Help => overlay = Overlay::Help,
                    Action::PauseAll if !board.finished => {
                        board.paused = !board.paused;
                        driver.command(SweepCommand::Pause(board.paused));
                    }
                    Action::StopTrial => {
                        if let Some(t) = board.selected_trial() {
                            driver.command(SweepCommand::StopTrial(t));
                            board.message = Some(format!("trial {t:03}: stopping (resumable)"));
                        }
                    }
                    Action::Open => {
                        if let Some(t) = board.selected_trial() {
                            match open_trial(&board, t) {
                                Ok(o) => open = Some(o),
                                Err(e) => board.message = Some(format!("trial {t:03}: {e}")),
                            }
                        }
                    }
                    other => board.apply(other),
                },
                (Overlay::None, None) => {}
            }
        }
    }
}

/// The board's action for a key.
fn board_action(key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::ForceQuit);
    }
    Some(match key.code {
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Char('s') => Action::NextSort,
        KeyCode::Char('r') => Action::Reverse,
        KeyCode::Char('c') => Action::NextColor,
        KeyCode::Enter => Action::Open,
        KeyCode::Esc => Action::Back,
        KeyCode::Char(' ') => Action::PauseAll,
        KeyCode::Char('x') => Action::StopTrial,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('y') | KeyCode::Char('Y') => Action::Confirm,
        KeyCode::Char('?') | KeyCode::Char('h') => Action::Help,
        _ => return None,
    })
}

/// Opens a trial's dashboard, following its run directory and steering it
/// through its control socket when it runs.
fn open_trial(board: &Board, trial: usize) -> Result<Open, FrontendError> {
    let t = &board.dir.trials()[trial];
    let dir = board.dir.trial_dir(t);
    let follower = Follower::open(&dir)?;
    let commands = ControlClient::connect(&dir).ok().map(control::forwarder);
    let mut app = App::attached(commands.is_some());
    app.message = Some(format!(
        "trial {trial:03} of the sweep · Esc back to the board"
    ));
    Ok(Open {
        app,
        follower,
        commands,
        next_poll: Instant::now(),
    })
}

/// Handles a key in an open trial's dashboard; returns whether to go back.
fn trial_key(o: &mut Open, key: KeyEvent) -> bool {
    let back =
        matches!(key.code, KeyCode::Esc) && o.app.mode == crate::frontend::tui::app::Mode::Normal;
    if back
        || (key.code == KeyCode::Char('q') && o.app.mode == crate::frontend::tui::app::Mode::Normal)
    {
        return true;
    }
    if let Some(action) = keys::action(key, &o.app) {
        for cmd in o.app.apply(action) {
            if let Some(tx) = &o.commands {
                let _ = tx.send(cmd);
            }
        }
    }
    o.app.detached
}
