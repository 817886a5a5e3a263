//! The sweep board: its screens over a real (small) sweep rendered with
//! `TestBackend` and compared with snapshots, its statuses, and the board
//! driven in tmux (open a trial, come back, stop a trial, quit; attach).

use std::path::{Path, PathBuf};
use std::process::Command;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rnnlab::frontend::sweep::ui::{Overlay, render};
use rnnlab::frontend::sweep::{Action, Board};
use rnnlab::frontend::tui::ui::Theme;
use rnnlab::sweep::SweepDir;

use crate::common::{BIN, Tmux, root, wait_until};

const UNICODE: Theme = Theme {
    ascii: false,
    color: true,
};
const ASCII: Theme = Theme {
    ascii: true,
    color: false,
};

/// A finished 2 × 2 grid over the quick start with 2 seeds (8 short
/// trials), trained on the portable SIMD path so that its figures are the
/// same on every x86-64 machine.
fn finished_sweep(dir: &Path) -> PathBuf {
    let exp = root().join("experiments/quickstart.toml");
    let file = dir.join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"board\"\nexperiment = \"{}\"\nseeds = [1, 2]\n\n[params]\n\
             \"train.learning_rate\" = [0.003, 0.01]\n\"model.layers.0.units\" = [10, 20]\n",
            exp.display()
        ),
    )
    .unwrap();
    let out = dir.join("sweep");
    let status = Command::new(BIN)
        .args([
            "sweep",
            file.to_str().unwrap(),
            "--headless",
            "--parallel",
            "2",
        ])
        .args(["--sweep-dir", out.to_str().unwrap()])
        .args(["--set", "data.count=300", "--set", "train.epochs=3"])
        .env("RNNLAB_SIMD", "portable")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

fn screen(b: &Board, theme: Theme, overlay: Overlay, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, b, &theme, overlay)).unwrap();
    t
}

fn text(t: &Terminal<TestBackend>) -> String {
    t.backend().to_string()
}

#[test]
fn the_board_of_a_finished_sweep_in_every_size_sort_and_overlay() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = finished_sweep(tmp.path());
    let mut board = Board::new(SweepDir::open(&sweep).unwrap());
    board.finished = true;
    board.detaches = true;
    assert_eq!(board.rows.len(), 8);
    assert!(board.rows.iter().all(|r| r.status == "completed"));

    let t = screen(&board, UNICODE, Overlay::None, 80, 24);
    let s = text(&t);
    assert!(s.contains("8 completed") && s.contains("FINISHED"), "{s}");
    assert!(s.contains("q leave"), "{s}");
    insta::assert_snapshot!("board_finished_80x24", t.backend());
    insta::assert_snapshot!(
        "board_finished_120x40",
        screen(&board, UNICODE, Overlay::None, 120, 40).backend()
    );

    // s cycles the sort column: trial → status → step → each key → best.
    for _ in 0..5 {
        board.apply(Action::NextSort);
    }
    let s = text(&screen(&board, UNICODE, Overlay::None, 80, 24));
    assert!(s.contains("sorted by best"), "{s}");
    // Ranks ascend down the table when sorted by best.
    let ranks: Vec<usize> = board.order.iter().filter_map(|&t| board.ranks[t]).collect();
    assert_eq!(ranks, (1..=8).collect::<Vec<_>>());
    board.apply(Action::Reverse);
    let ranks: Vec<usize> = board.order.iter().filter_map(|&t| board.ranks[t]).collect();
    assert_eq!(ranks, (1..=8).rev().collect::<Vec<_>>());
    // The selection follows its trial through sorts.
    let selected = board.selected_trial();
    board.apply(Action::NextSort);
    assert_eq!(board.selected_trial(), selected);

    // c colours by each swept key in turn, then by rank again.
    board.apply(Action::NextColor);
    let s = text(&screen(&board, UNICODE, Overlay::None, 100, 30));
    assert!(s.contains("colour: learning_rate"), "{s}");

    insta::assert_snapshot!(
        "board_help_80x24",
        screen(&board, UNICODE, Overlay::Help, 80, 24).backend()
    );

    // ASCII mode draws with ASCII only.
    let s = text(&screen(&board, ASCII, Overlay::None, 80, 24));
    assert!(s.is_ascii(), "{s}");
}

#[test]
fn the_board_tells_running_interrupted_and_stopped_trials_apart() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = finished_sweep(tmp.path());
    let dir = SweepDir::open(&sweep).unwrap();
    let trial = |i: usize| dir.trial_dir(&dir.trials()[i]);
    // A process holding trial 1's lock: running.
    let _lock = rnnlab::run::RunLock::acquire(&trial(1)).unwrap();
    // Trial 2 lost its summary (killed before its end): interrupted.
    std::fs::remove_file(trial(2).join("summary.json")).unwrap();
    let board = Board::new(dir.clone());
    let status = |i: usize| board.rows[i].status.as_str();
    assert_eq!(
        (status(0), status(1), status(2)),
        ("completed", "running", "interrupted")
    );
    let s = text(&screen(&board, UNICODE, Overlay::None, 80, 24));
    assert!(s.contains("1 running") && s.contains("RUNNING"), "{s}");
    // The footer offers pause and stop while it runs; the confirmation asks.
    assert!(s.contains("space pause") && s.contains("x stop"), "{s}");
    let s = text(&screen(&board, UNICODE, Overlay::ConfirmQuit, 80, 24));
    assert!(s.contains("stop the sweep?"), "{s}");
}

/// `rnnlab sweep` on a terminal shows the board: Enter opens a trial's
/// dashboard and Esc comes back, x stops the selected trial (not started
/// again), q and y stop the sweep cleanly (resumable); `attach` shows a
/// sweep's board and q leaves it.
#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux is not installed")]
fn the_board_in_tmux_opens_stops_and_quits() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = root().join("experiments/quickstart.toml");
    let file = tmp.path().join("sweep.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"live\"\nexperiment = \"{}\"\nparallel = 2\n\n[params]\n\
             \"train.learning_rate\" = [0.001, 0.003, 0.01, 0.03]\n",
            exp.display()
        ),
    )
    .unwrap();
    let sweep = tmp.path().join("sweep");
    let exit = tmp.path().join("exit");
    let log = tmp.path().join("stderr");
    let script = format!(
        "export LANG=C.UTF-8; cd {root} && {BIN} sweep {file} --sweep-dir {sweep} \
         --set train.epochs=400 2> {log}; echo $? > {exit}; sleep 60",
        root = root().display(),
        file = file.display(),
        sweep = sweep.display(),
        log = log.display(),
        exit = exit.display(),
    );
    let tmux = Tmux::new("board");
    tmux.session(80, 24, &script);
    tmux.wait("the board with two running trials", 60, |s| {
        s.contains("2 running") && s.contains("RUNNING")
    });

    // Enter opens trial 000's dashboard; Esc comes back.
    tmux.keys(&["Enter"]);
    tmux.wait("trial 000's dashboard", 20, |s| {
        s.contains("trial 000 of the sweep") && s.contains("loss")
    });
    tmux.keys(&["Escape"]);
    tmux.wait("the board again", 20, |s| s.contains("sorted by trial"));

    // x stops the selected trial (000) cleanly; it is not started again.
    tmux.keys(&["x"]);
    let dir = SweepDir::open(&sweep).unwrap();
    wait_until(
        "trial 000 to stop",
        60,
        || dir.rows()[0].status == "stopped",
        || tmux.screen(),
    );
    assert!(dir.stopped_by_user().contains(&0));
    // Its place goes to trial 002.
    wait_until(
        "trial 002 to start",
        60,
        || dir.rows()[2].status == "running",
        || tmux.screen(),
    );

    // q asks; y stops every running trial with a final checkpoint.
    tmux.keys(&["q"]);
    tmux.wait("the question", 10, |s| s.contains("stop the sweep?"));
    tmux.keys(&["y"]);
    wait_until(
        "the sweep to exit",
        60,
        || {
            !std::fs::read_to_string(&exit)
                .unwrap_or_default()
                .is_empty()
        },
        || tmux.screen(),
    );
    assert_eq!(std::fs::read_to_string(&exit).unwrap().trim(), "0");
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(
        err.contains("continue with: rnnlab sweep --resume"),
        "{err}"
    );
    let rows = dir.rows();
    assert!(
        rows.iter()
            .all(|r| matches!(r.status.as_str(), "stopped" | "planned")),
        "{rows:?}"
    );
    assert!(rows.iter().filter(|r| r.status == "stopped").count() >= 2);

    // attach shows the (stopped) sweep's board; q leaves at once.
    let exit2 = tmp.path().join("exit2");
    let script = format!(
        "export LANG=C.UTF-8; {BIN} attach {sweep}; echo $? > {exit2}; sleep 60",
        sweep = sweep.display(),
        exit2 = exit2.display(),
    );
    tmux.session(80, 24, &script);
    tmux.wait("the attached board", 20, |s| {
        s.contains("live") && s.contains("q leave")
    });
    tmux.keys(&["q"]);
    wait_until(
        "attach to exit",
        20,
        || {
            !std::fs::read_to_string(&exit2)
                .unwrap_or_default()
                .is_empty()
        },
        || tmux.screen(),
    );
    assert_eq!(std::fs::read_to_string(&exit2).unwrap().trim(), "0");
}
