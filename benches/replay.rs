//! `cargo bench --bench replay -- RUN_DIR`: how fast a run directory opens
//! in `rnnlab replay` and how much memory that takes. Times reading the run
//! (`run::read::load`), building the replay at its last step and drawing the
//! first 120×40 frame, five times; prints the median and the peak resident
//! memory of the process (VmHWM, Linux).
//!
//! A run of a million steps to measure (about a minute on 2 cores):
//!
//! ```text
//! cargo run -- train experiments/quickstart.toml --headless --run-dir runs/million \
//!   --set data.window=10 --set train.batch_size=8 --set model.layers.0.units=8 \
//!   --set model.layers.1.units=8 --set train.epochs=3803
//! cargo bench --bench replay -- runs/million
//! ```

use std::path::PathBuf;
use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rnnlab::frontend::tui::app::App;
use rnnlab::frontend::tui::ui::{Theme, render};
use rnnlab::run::read;

fn main() {
    // `cargo bench` passes `--bench`; the run directory is the other argument.
    let Some(dir) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!(
            "usage: cargo bench --bench replay -- RUN_DIR (see the doc comment of benches/replay.rs)"
        );
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let theme = Theme {
        ascii: false,
        color: true,
    };
    let mut times = Vec::new();
    let mut steps = 0;
    let mut resident = String::new();
    for _ in 0..5 {
        let start = Instant::now();
        let recorded = match read::load(&dir) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {}: {e}", dir.display());
                std::process::exit(2);
            }
        };
        steps = recorded.steps();
        let app = App::replay(recorded);
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("a test terminal");
        terminal.draw(|f| render(f, &app, &theme)).expect("a frame");
        times.push(start.elapsed().as_secs_f64());
        resident = status("VmRSS");
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}: {steps} steps; open + replay to the end + first 120x40 frame: median {:.3} s (min {:.3}, max {:.3}); resident memory: peak {}, after the last {}",
        dir.display(),
        times[2],
        times[0],
        times[4],
        status("VmHWM"),
        resident,
    );
}

/// A field of `/proc/self/status` (Linux), e.g. `VmHWM` (peak resident memory).
fn status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .strip_prefix(':')
                    .map(|v| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown (no /proc)".to_string())
}
