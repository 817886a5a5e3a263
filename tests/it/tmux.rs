//! End to end in a real terminal: the dashboard driven through tmux.
//!
//! Needs `tmux` (`.ci/run` installs it and sets `RNNLAB_REQUIRE_TMUX=1`, so CI
//! never skips this test; elsewhere a missing tmux skips it with a notice).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{BIN, Tmux, root};

fn rows(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux is not installed")]
fn dashboard_pause_tune_checkpoint_quit_in_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let run: PathBuf = dir.path().join("run");
    let exit_file = dir.path().join("exit");
    let stty_file = dir.path().join("stty");
    let root = root();
    let script = format!(
        "export LANG=C.UTF-8; unset NO_COLOR; cd {root} && {bin} train experiments/quickstart.toml --set data.count=3000 --set train.epochs=200 --run-dir {run}; \
         echo $? > {exit}; stty -a > {stty}; sleep 60",
        root = root.display(),
        bin = BIN,
        run = run.display(),
        exit = exit_file.display(),
        stty = stty_file.display(),
    );
    let tmux = Tmux::new("dashboard");
    tmux.session(100, 30, &script);
    let metrics = run.join("metrics.csv");
    let events = run.join("events.csv");

    tmux.wait("the dashboard and some steps", 120, |s| {
        s.contains("RUNNING") && rows(&metrics) > 30
    });
    let screen = tmux.screen();
    assert!(
        screen.contains("loss") && screen.contains("gradient norms"),
        "{screen}"
    );

    // space pauses training: PAUSED on screen, metrics.csv stops growing.
    tmux.keys(&["Space"]);
    tmux.wait("PAUSED", 20, |s| s.contains("PAUSED"));
    std::thread::sleep(Duration::from_millis(300));
    let paused_rows = rows(&metrics);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rows(&metrics), paused_rows, "metrics.csv grew while paused");
    assert!(read(&events).contains(",pause,"));

    // space again resumes.
    tmux.keys(&["Space"]);
    tmux.wait("training to resume", 20, |_| {
        rows(&metrics) > paused_rows + 5
    });
    assert!(read(&events).contains(",resume,"));

    // t opens the tune form; typing replaces the learning rate; Enter applies.
    tmux.keys(&["t"]);
    tmux.wait("the tune form", 10, |s| s.contains("learning_rate"));
    tmux.keys(&["0", ".", "0", "0", "0", "3", "Enter"]);
    tmux.wait("the tune event", 20, |_| {
        read(&events).contains("learning_rate 0.005 → 0.0003")
    });
    tmux.wait("the new rate in metrics.csv", 20, |_| {
        read(&metrics)
            .lines()
            .last()
            .is_some_and(|l| l.split(',').nth(5) == Some("0.0003"))
    });

    // c writes a checkpoint now (a periodic one may land at the same time:
    // look for the line that says the user asked for it).
    let requested = || -> Vec<String> {
        read(&events)
            .lines()
            .filter(|l| l.contains(",checkpoint,") && l.ends_with(" (requested)"))
            .map(str::to_string)
            .collect()
    };
    let requested_before = requested().len();
    tmux.keys(&["c"]);
    tmux.wait("the requested checkpoint's event", 20, |_| {
        requested().len() > requested_before
    });
    let last = requested()
        .last()
        .unwrap()
        .rsplit(',')
        .next()
        .unwrap()
        .trim_end_matches(" (requested)")
        .to_string();
    // The note is written just before the files.
    tmux.wait("the checkpoint's files", 20, |_| {
        run.join("checkpoints").join(&last).is_file()
    });

    // q asks; y stops cleanly and restores the terminal.
    tmux.keys(&["q"]);
    tmux.wait("the quit question", 10, |s| {
        s.contains("stop training? (y/n)")
    });
    tmux.keys(&["y"]);
    tmux.wait("the process to exit", 60, |_| {
        !read(&exit_file).is_empty() && read(&stty_file).contains("icanon")
    });
    assert_eq!(read(&exit_file).trim(), "0");
    let summary = read(&run.join("summary.json"));
    assert!(summary.contains("\"status\": \"stopped\""), "{summary}");
    assert_eq!(
        tmux.run(&["display", "-p", "-t", &tmux.target(), "#{alternate_on}"])
            .trim(),
        "0"
    );
    let stty = read(&stty_file);
    let flags: Vec<&str> = stty.split_whitespace().collect();
    assert!(
        flags.contains(&"icanon") && flags.contains(&"echo"),
        "terminal left raw:\n{stty}"
    );
    let screen = tmux.screen();
    assert!(screen.contains("stopped after"), "{screen}");
}

/// The quick start as a newcomer runs it, in an 80×24 terminal with tmux's
/// status line (an 80×23 pane): the full layout, the loss curve moving over
/// several redraws before FINISHED, no number cut on any screen, and a
/// footer without `t tune` once the run is over. Three epochs instead of the
/// quick start's 24 keep the test short; everything else is the file's.
#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux is not installed")]
fn quickstart_in_an_80x24_terminal_with_tmux() {
    let dir = tempfile::tempdir().unwrap();
    let run: PathBuf = dir.path().join("run");
    let exit_file = dir.path().join("exit");
    let script = format!(
        "export LANG=C.UTF-8; unset NO_COLOR; cd {root} && {bin} train experiments/quickstart.toml --set train.epochs=3 --run-dir {run}; \
         echo $? > {exit}; sleep 60",
        root = root().display(),
        bin = BIN,
        run = run.display(),
        exit = exit_file.display(),
    );
    let tmux = Tmux::new("quickstart");
    // An 80×24 terminal attached to tmux shows an 80×23 window above the
    // status line; a detached session is given that window's size.
    tmux.session(80, 23, &script);
    let pane = tmux.run(&[
        "display",
        "-p",
        "-t",
        &tmux.target(),
        "#{pane_width}x#{pane_height}",
    ]);
    assert_eq!(pane.trim(), "80x23");

    // The loss panel (rows 3 to 14 of the left half) as it changes.
    let loss_panel = |screen: &str| -> String {
        screen
            .lines()
            .skip(3)
            .take(12)
            .map(|l| l.chars().take(40).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut panels: Vec<String> = Vec::new();
    let mut screens = Vec::new();
    let start = std::time::Instant::now();
    let finished = loop {
        let screen = tmux.screen();
        if screen.contains("FINISHED") {
            break screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no FINISHED after 120 s:\n{screen}"
        );
        if screen.contains("RUNNING") {
            let panel = loss_panel(&screen);
            if panels.last() != Some(&panel) {
                panels.push(panel);
                screens.push(screen);
            }
        }
        std::thread::sleep(Duration::from_millis(150));
    };
    // The curve moved: at least three different loss panels with data.
    let drawn: Vec<&String> = panels
        .iter()
        .filter(|p| !p.contains("no data yet"))
        .collect();
    assert!(
        drawn.len() >= 3,
        "{} redraws of the curve before FINISHED:\n{}",
        drawn.len(),
        panels.join("\n\n")
    );
    screens.push(finished.clone());
    for screen in &screens {
        // The full layout in the 80×23 pane, every number whole.
        assert!(
            screen.contains("events") && screen.contains("gradient norms"),
            "{screen}"
        );
        let rows: Vec<String> = screen.lines().map(String::from).collect();
        let cuts = crate::dashboard::cut_numbers(&rows, 80);
        assert!(cuts.is_empty(), "cut numbers {cuts:?} in\n{screen}");
    }
    // Over: no steering keys; q leaves at once, exit code 0.
    let footer = finished
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        footer.contains("q quit") && !footer.contains("t tune") && !footer.contains("space"),
        "{finished}"
    );
    tmux.keys(&["q"]);
    tmux.wait("the process to exit", 30, |_| !read(&exit_file).is_empty());
    assert_eq!(read(&exit_file).trim(), "0");
    let summary = read(&run.join("summary.json"));
    assert!(summary.contains("\"status\": \"completed\""), "{summary}");
}
