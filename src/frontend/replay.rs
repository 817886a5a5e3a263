//! The dashboard fed from a run directory: `replay` plays a recorded run
//! back, `attach` follows a run that is still training (over SSH, say).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::frontend::FrontendError;

type Result<T> = std::result::Result<T, FrontendError>;

use crate::events::{Command, Outcome};
use crate::frontend::tui::{self, app::App, ui::Theme};
use crate::run::read::{self, Follower};

/// How often an attached dashboard looks for new rows.
const POLL: Duration = Duration::from_millis(200);

/// How an attached dashboard ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttachEnd {
    /// The user left; the run goes on.
    Detached,
    /// The run is over (it may have been stopped from the dashboard).
    Finished(Outcome),
}

/// Plays the run in `dir` back in the dashboard, opening at its end, paused.
pub fn replay(dir: &Path, theme: Theme) -> Result<()> {
    no_huge_pages();
    let mut app = App::replay(read::load(dir)?);
    app.set_baselines(crate::frontend::baselines(dir));
    app.result = crate::frontend::test_result(dir);
    tui::show(
        &mut app,
        |_| Ok(false),
        None,
        &AtomicBool::new(false),
        &theme,
        None,
    )
}

/// Follows the run in `dir` live; `space`, `t` and `c` send their commands
/// through `commands` (without it the view is read-only), `q` detaches and
/// `Q` asks to stop the run and waits for its end. A run that is already over
/// is replayed.
pub fn attach(dir: &Path, theme: Theme, commands: Option<Sender<Command>>) -> Result<AttachEnd> {
    if let Some(outcome) = read::outcome(dir)? {
        replay(dir, theme)?;
        return Ok(AttachEnd::Finished(outcome));
    }
    let mut follower = Follower::open(dir)?;
    let mut app = App::attached(commands.is_some());
    app.set_baselines(crate::frontend::baselines(dir));
    let mut next_poll = Instant::now();
    let pump = |app: &mut App| -> Result<bool> {
        if Instant::now() < next_poll {
            return Ok(false);
        }
        let events = follower.poll()?;
        // Catching up with a long run goes on at once; then every POLL.
        next_poll = Instant::now()
            + if follower.behind() {
                Duration::ZERO
            } else {
                POLL
            };
        let changed = !events.is_empty();
        for e in events {
            let finished = matches!(e, crate::events::Event::Finished(_));
            app.on_event(e);
            if finished {
                app.result = crate::frontend::test_result(dir);
            }
        }
        Ok(changed)
    };
    let interrupt = AtomicBool::new(false);
    tui::show(&mut app, pump, commands.as_ref(), &interrupt, &theme, None)?;
    Ok(match app.outcome() {
        Some(o) => AttachEnd::Finished(o.clone()),
        None => AttachEnd::Detached,
    })
}

/// Turns transparent huge pages off for this process. A replay holds a few
/// large tables read in order, which huge pages make no faster but round up
/// in 2 MB steps: a million-step run took 96 MB with them, 60 MB without.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}
