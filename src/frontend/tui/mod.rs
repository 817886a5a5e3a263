//! The live training dashboard (ratatui + crossterm).
//!
//! It renders the event stream and sends commands; it never reaches into the
//! trainer. The loop drains a capped batch of events per frame, redraws at
//! most 20 times a second and only when something changed, and never blocks
//! on the trainer (nor the trainer on it). The same loop shows a run followed
//! from its directory (attach) and a recorded run played back (replay).

pub mod app;
pub mod chart;
pub mod history;
pub mod keys;
pub mod playback;
pub mod terminal;
pub mod tune;
pub mod ui;
pub mod view;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use crate::frontend::FrontendError;

type Result<T> = std::result::Result<T, FrontendError>;
use crossterm::event::{self, Event as TermEvent};

use crate::events::{Command, Event};
use app::{Action, App};
use ui::Theme;

/// Shortest time between two redraws.
const FRAME: Duration = Duration::from_millis(50);
/// Shortest time between two redraws for new data alone (no key pressed).
const DATA_FRAME: Duration = Duration::from_secs(1);
/// Longest time between two redraws, however slow the terminal.
const MAX_FRAME: Duration = Duration::from_secs(2);
/// Terminal events (keys, resizes) handled per frame at most.
const KEYS_PER_FRAME: usize = 256;
/// Events folded into the state per frame at most (the rest wait for the next frame).
const EVENTS_PER_FRAME: usize = 5_000;

/// Shows `events` until the user quits and the run is over (or, without
/// `commands`, until the user quits). `interrupt` is set by a SIGINT handler;
/// it stops the run like Ctrl-C. Process output goes to `log` meanwhile.
pub fn run(
    events: &Receiver<Event>,
    commands: Option<&Sender<Command>>,
    interrupt: Arc<AtomicBool>,
    theme: Theme,
    log: Option<&Path>,
) -> Result<()> {
    let mut app = App::new(commands.is_some());
    let pump = |app: &mut App| {
        let mut changed = false;
        for _ in 0..EVENTS_PER_FRAME {
            match events.try_recv() {
                Ok(e) => {
                    let finished = matches!(e, crate::events::Event::Finished(_));
                    if let crate::events::Event::Started(info) = &e {
                        app.set_baselines(crate::frontend::baselines(Path::new(&info.run_dir)));
                    }
                    app.on_event(e);
                    if finished {
                        app.load_result();
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    changed |= !app.disconnected;
                    app.disconnect();
                    break;
                }
            }
            changed = true;
        }
        Ok(changed)
    };
    show(&mut app, pump, commands, &interrupt, &theme, log)
}

/// Shows `app` until it says to exit: each frame `pump` feeds it events (and
/// says whether any came), a replay moves on, keys become actions and their
/// commands go to `commands`.
pub fn show(
    app: &mut App,
    pump: impl FnMut(&mut App) -> Result<bool>,
    commands: Option<&Sender<Command>>,
    interrupt: &AtomicBool,
    theme: &Theme,
    log: Option<&Path>,
) -> Result<()> {
    let mut tui = terminal::Tui::enter(log)?;
    let result = event_loop(&mut tui, app, pump, commands, interrupt, theme);
    tui.leave();
    result
}

fn event_loop(
    tui: &mut terminal::Tui,
    app: &mut App,
    mut pump: impl FnMut(&mut App) -> Result<bool>,
    commands: Option<&Sender<Command>>,
    interrupt: &AtomicBool,
    theme: &Theme,
) -> Result<()> {
    // What the user did is drawn at once (within a frame); new data at most
    // every DATA_FRAME, which keeps the output small over slow SSH links.
    let mut dirty = true;
    let mut data_changed = false;
    let mut last_draw = Instant::now() - FRAME;
    // On a slow link a draw blocks while the terminal drains; spacing frames by a
    // few draw times keeps the screen current instead of queueing stale frames.
    let mut frame = FRAME;
    let mut last_tick = Instant::now();
    loop {
        data_changed |= pump(app)?;
        let now = Instant::now();
        data_changed |= app.advance(now - last_tick);
        last_tick = now;
        let send = |app: &mut App, action| {
            for cmd in app.apply(action) {
                if let Some(tx) = commands {
                    let _ = tx.send(cmd);
                }
            }
        };
        if interrupt.swap(false, Ordering::SeqCst) {
            send(app, Action::ForceStop);
            dirty = true;
        }
        if app.should_exit() {
            return Ok(());
        }
        if data_changed && last_draw.elapsed() >= frame.max(DATA_FRAME) {
            dirty = true;
        }
        if dirty && last_draw.elapsed() >= frame {
            let start = Instant::now();
            tui.draw(|f| ui::render(f, app, theme))?;
            last_draw = Instant::now();
            frame = (3 * (last_draw - start)).clamp(FRAME, MAX_FRAME);
            dirty = false;
            data_changed = false;
        }
        // Sleep until the next redraw can be due; with nothing to show, until
        // new data could be drawn. A key wakes the poll at once. (Waking
        // more often takes the CPU from training for nothing.)
        let wait = if dirty {
            frame.saturating_sub(last_draw.elapsed())
        } else if data_changed {
            frame.max(DATA_FRAME).saturating_sub(last_draw.elapsed())
        } else {
            frame.max(DATA_FRAME)
        }
        .max(Duration::from_millis(5));
        // Waiting on the terminal ourselves first: the terminal library
        // spins for ever on a terminal that has hung up. It may hold several
        // events from one read (keys typed fast): take them all.
        if tui.input_ready(wait)? {
            for _ in 0..KEYS_PER_FRAME {
                if !event::poll(Duration::ZERO)? {
                    break;
                }
                match event::read()? {
                    TermEvent::Key(key) => {
                        if let Some(action) = keys::action(key, app) {
                            send(app, action);
                            dirty = true;
                        }
                    }
                    TermEvent::Resize(..) => dirty = true,
                    _ => {}
                }
            }
        }
    }
}
