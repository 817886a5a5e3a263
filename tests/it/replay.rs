//! Reading run directories back (`run::read`): whole runs, torn and malformed
//! files, runs still being written; playing them back in the dashboard
//! (screens compared with snapshots, like tests/dashboard.rs); and, in tmux,
//! `rnnlab attach` (detach, stop) and `rnnlab replay` end to end.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rnnlab::events::*;
use rnnlab::frontend::tui::app::{Action, App, Mode};
use rnnlab::frontend::tui::keys;
use rnnlab::frontend::tui::ui::{Theme, render};
use rnnlab::run::read::{self, Follower};

use crate::common::{Child, Tmux, wait_until};

const UNICODE: Theme = Theme {
    ascii: false,
    color: true,
};
const ASCII: Theme = Theme {
    ascii: true,
    color: false,
};

// ---------------------------------------------------------------------------
// A recorded run written by hand, in the formats `run::RunDir` writes
// ---------------------------------------------------------------------------

fn info() -> RunInfo {
    RunInfo {
        name: "quickstart".into(),
        run_dir: "runs/quickstart-20261126-120000".into(),
        model: "gru(20) → gru(20) → dense(1)".into(),
        parameters: 3921,
        steps_per_epoch: 66,
        total_steps: 528,
        epochs: 8,
        groups: vec!["layers.0".into(), "layers.1".into(), "head".into()],
        learning_rate: 0.005,
        clip_grad_norm: 0.0,
        eval_every: 0,
        horizon: 1,
        target: "x".into(),
        temperature: None,
    }
}

/// Seconds at a step, exact to the millisecond (so it survives `{:.3}`).
fn wall(step: u64) -> f64 {
    (step * 20) as f64 / 1000.0
}

fn note(step: u64, kind: NoteKind, detail: &str) -> Event {
    Event::Note(Note {
        step,
        wall_s: wall(step),
        kind,
        detail: detail.into(),
    })
}

/// A gradient-flow snapshot: powers of two (exact in text both ways), the
/// first layer's gradient fading towards t = 0.
fn flow(step: u64) -> FlowStats {
    let k = (step / 25) as i32;
    FlowStats {
        step,
        time: vec![
            (
                "layers.0".into(),
                (0..10).map(|t| 2f64.powi(t - 12 - k % 3)).collect(),
            ),
            (
                "layers.1".into(),
                (0..10).map(|t| 2f64.powi(t / 3 - 4)).collect(),
            ),
        ],
        gates: (0..2)
            .flat_map(|l| {
                ["r", "z", "n"].iter().enumerate().map(move |(i, g)| {
                    (
                        format!("layers.{l}.{g}"),
                        2f64.powi(-(i as i32) - l - k % 4),
                    )
                })
            })
            .collect(),
    }
}

/// The run of tests/dashboard.rs, finished: decaying loss, an evaluation,
/// predictions and a checkpoint every 66 steps, a tune at step 200.
fn events(steps: u64) -> Vec<Event> {
    let mut out = vec![
        Event::Started(info()),
        note(0, NoteKind::Start, "gru(20) → gru(20) → dense(1)"),
    ];
    for step in 1..=steps {
        let wobble = ((step * 7919) % 13) as f64 / 13.0;
        let loss = 0.3 * (-(step as f64) / 60.0).exp() + 0.003 * (1.0 + wobble);
        // The loss and the norms are f32 values, as the trainer records them.
        let f32 = |v: f64| f64::from(v as f32);
        out.push(Event::Step(StepStats {
            step,
            epoch: ((step - 1) / 66 + 1) as usize,
            wall_s: wall(step),
            loss: f32(loss),
            grad_norm: 0.5,
            lr: if step > 200 { 0.001 } else { 0.005 },
            samples_per_s: 2100.0,
            group_norms: [0.02, 0.1, 0.4].map(|k| f32(k * loss.sqrt())).to_vec(),
        }));
        if step % 25 == 0 {
            out.push(Event::Flow(flow(step)));
        }
        if step == 200 {
            out.push(note(200, NoteKind::Tune, "learning_rate 0.005 → 0.001"));
        }
        if step % 66 == 0 {
            let valid = 0.25 * (-(step as f64) / 70.0).exp() + 0.004;
            out.push(Event::Eval(EvalStats {
                step,
                epoch: (step / 66) as usize,
                wall_s: wall(step),
                valid_loss: valid,
                metrics: vec![
                    ("mse".into(), valid),
                    ("rmse".into(), valid.sqrt()),
                    ("mae".into(), valid.sqrt() * 0.8),
                ],
            }));
            // Eighths: exact in JSON both ways.
            let input: Vec<f64> = (0..50).map(|t| ((t % 9) as f64 - 4.0) * 0.125).collect();
            out.push(Event::Predictions(Predictions {
                step,
                examples: (0..8)
                    .map(|i| Example {
                        index: i * 75,
                        input: input.clone(),
                        truth: vec![0.5],
                        prediction: vec![0.625],
                        interval: None,
                    })
                    .collect(),
                texts: Vec::new(),
            }));
            out.push(note(
                step,
                NoteKind::Checkpoint,
                &format!("step-{step}.safetensors"),
            ));
        }
    }
    out.push(note(steps, NoteKind::Finish, "completed"));
    out.push(Event::Finished(Outcome {
        status: Status::Completed,
        steps,
        message: None,
    }));
    out
}

/// Writes `events` as a run directory the way `run::RunDir` does.
fn write_run(dir: &Path, events: &[Event]) {
    fs::create_dir_all(dir).unwrap();
    let (mut metrics, mut eval, mut preds) = (String::new(), String::new(), String::new());
    let mut flows = String::new();
    let mut notes = csv::Writer::from_writer(Vec::new());
    notes
        .write_record(["step", "wall_s", "kind", "detail"])
        .unwrap();
    let mut status = "running";
    for e in events {
        match e {
            Event::Started(info) => {
                let json = serde_json::to_string_pretty(info).unwrap();
                fs::write(dir.join("info.json"), json).unwrap();
                metrics.push_str("step,epoch,wall_s,loss,grad_norm,lr,samples_per_s");
                for g in &info.groups {
                    write!(metrics, ",grad_norm.{g}").unwrap();
                }
                metrics.push('\n');
            }
            Event::Step(s) => {
                write!(
                    metrics,
                    "{},{},{:.3},{},{},{},{:.1}",
                    s.step, s.epoch, s.wall_s, s.loss, s.grad_norm, s.lr, s.samples_per_s
                )
                .unwrap();
                for n in &s.group_norms {
                    write!(metrics, ",{n}").unwrap();
                }
                metrics.push('\n');
            }
            Event::Eval(e) => {
                if eval.is_empty() {
                    eval.push_str("step,epoch,wall_s,valid_loss");
                    for (k, _) in &e.metrics {
                        write!(eval, ",{k}").unwrap();
                    }
                    eval.push('\n');
                }
                write!(
                    eval,
                    "{},{},{:.3},{}",
                    e.step, e.epoch, e.wall_s, e.valid_loss
                )
                .unwrap();
                for (_, v) in &e.metrics {
                    write!(eval, ",{v}").unwrap();
                }
                eval.push('\n');
            }
            Event::Predictions(p) => {
                preds.push_str(&serde_json::to_string(p).unwrap());
                preds.push('\n');
            }
            Event::Flow(f) => {
                if flows.is_empty() {
                    flows.push_str("step");
                    for (g, _) in &f.gates {
                        write!(flows, ",gate.{g}").unwrap();
                    }
                    for (layer, n) in &f.time {
                        for t in 0..n.len() {
                            write!(flows, ",dh.{layer}.t{t}").unwrap();
                        }
                    }
                    flows.push('\n');
                }
                write!(flows, "{}", f.step).unwrap();
                for v in f
                    .gates
                    .iter()
                    .map(|(_, v)| v)
                    .chain(f.time.iter().flat_map(|(_, n)| n))
                {
                    write!(flows, ",{v}").unwrap();
                }
                flows.push('\n');
            }
            Event::Note(n) => {
                let (step, wall) = (n.step.to_string(), format!("{:.3}", n.wall_s));
                notes
                    .write_record([&step, &wall, n.kind.as_str(), &n.detail])
                    .unwrap();
            }
            Event::Finished(o) => status = status_name(o.status),
        }
    }
    let steps = events
        .iter()
        .filter_map(|e| match e {
            Event::Step(s) => Some(s.step),
            _ => None,
        })
        .next_back()
        .unwrap_or(0);
    fs::write(dir.join("metrics.csv"), metrics).unwrap();
    fs::write(dir.join("eval.csv"), eval).unwrap();
    fs::write(dir.join("events.csv"), notes.into_inner().unwrap()).unwrap();
    fs::write(dir.join("predictions.jsonl"), preds).unwrap();
    fs::write(dir.join("flow.csv"), flows).unwrap();
    summary(dir, status, steps);
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Running => "running",
        Status::Completed => "completed",
        Status::Stopped => "stopped",
        Status::Diverged => "diverged",
        Status::Failed => "failed",
    }
}

fn summary(dir: &Path, status: &str, steps: u64) {
    let json =
        format!(r#"{{"name":"quickstart","status":"{status}","steps":{steps},"message":null}}"#);
    fs::write(dir.join("summary.json"), json).unwrap();
}

fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn recorded_run() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    write_run(&dir, &events(528));
    (tmp, dir)
}

// ---------------------------------------------------------------------------
// Helpers: app state, screens, a real training run
// ---------------------------------------------------------------------------

fn fed(events: impl IntoIterator<Item = Event>) -> App {
    let mut app = App::new(false);
    for e in events {
        app.on_event(e);
    }
    app
}

/// Everything the screen is drawn from, as text.
fn state(app: &App) -> String {
    let v = app.view();
    let grads: Vec<_> = v.grads.iter().map(|h| (h.points(), h.len_raw())).collect();
    format!(
        "{:?}",
        (
            (
                v.loss.points(),
                v.loss.len_raw(),
                v.lr.points(),
                v.clock.points()
            ),
            (v.valid.points(), grads, &v.last, &v.last_eval, v.best),
            (
                &v.predictions,
                &v.log,
                &v.marks,
                v.state,
                &v.outcome,
                &v.info
            ),
            (v.learning_rate, v.clip, v.eval_every),
        )
    )
}

fn screen(app: &App, theme: Theme) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|f| render(f, app, &theme)).unwrap();
    terminal
}

fn text(t: &Terminal<TestBackend>) -> String {
    t.backend().to_string()
}

fn count(events: &[Event], what: fn(&Event) -> bool) -> usize {
    events.iter().filter(|e| what(e)).count()
}

/// Data rows of a CSV file (after its header; none if it is empty).
fn rows(path: &Path) -> usize {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .count()
        .saturating_sub(1)
}

/// Trains a tiny run with the binary, headless, into `dir`.
fn train(dir: &Path) {
    let out = Process::new(env!("CARGO_BIN_EXE_rnnlab"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "train",
            "experiments/quickstart.toml",
            "--headless",
            "--run-dir",
        ])
        .arg(dir)
        .args(["--set", "data.count=200", "--set", "train.epochs=2"])
        .args([
            "--set",
            "model.layers.0.units=4",
            "--set",
            "model.layers.1.units=3",
        ])
        .args(["--set", "train.eval_every=3"])
        .output()
        .expect("running rnnlab");
    assert!(
        out.status.success(),
        "training failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// load
// ---------------------------------------------------------------------------

#[test]
fn a_trained_run_loads_row_for_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    train(&dir);
    let rec = read::load(&dir).unwrap();
    let events: Vec<Event> = rec.events().collect();
    assert_eq!(rec.len(), events.len());
    let steps = count(&events, |e| matches!(e, Event::Step(_)));
    assert_eq!(steps, rows(&dir.join("metrics.csv")));
    assert_eq!(steps, rec.steps());
    assert!(steps >= 8, "{steps} steps");
    let evals = count(&events, |e| matches!(e, Event::Eval(_)));
    assert_eq!(evals, rows(&dir.join("eval.csv")));
    assert!(evals >= 3);
    let preds = fs::read_to_string(dir.join("predictions.jsonl")).unwrap();
    let predictions = count(&events, |e| matches!(e, Event::Predictions(_)));
    assert_eq!(predictions, preds.lines().count());
    let notes = count(&events, |e| matches!(e, Event::Note(_)));
    assert_eq!(notes, rows(&dir.join("events.csv")));

    // Started first, Finished last with the summary's status, steps in order,
    // and every evaluation right after its step (then its predictions).
    assert_eq!(events[0], Event::Started(rec.info.clone()));
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "completed");
    match events.last() {
        Some(Event::Finished(o)) => {
            assert_eq!(o.status, Status::Completed);
            assert_eq!(Some(o), rec.outcome.as_ref());
        }
        other => panic!("last event {other:?}"),
    }
    let mut last_step = 0;
    for (i, e) in events.iter().enumerate() {
        match e {
            Event::Step(s) => {
                assert_eq!(s.step, last_step + 1);
                last_step = s.step;
            }
            Event::Eval(x) => assert_eq!(x.step, last_step),
            Event::Predictions(p) => {
                assert!(matches!(&events[i - 1], Event::Eval(x) if x.step == p.step))
            }
            _ => {}
        }
    }

    // A replay at its end shows what the same events fed live show.
    let replayed = App::replay(read::load(&dir).unwrap());
    assert_eq!(state(&replayed), state(&fed(rec.events())));
    assert_eq!(replayed.view().last.as_ref().unwrap().step, last_step);

    // Following the finished directory yields the very same events.
    let mut follower = Follower::open(&dir).unwrap();
    let mut followed = Vec::new();
    loop {
        let batch = follower.poll().unwrap();
        if batch.is_empty() {
            break;
        }
        followed.extend(batch);
    }
    assert_eq!(followed, events);
}

#[test]
fn a_written_run_reads_back_in_emission_order() {
    let (_tmp, dir) = recorded_run();
    let rec = read::load(&dir).unwrap();
    assert_eq!(rec.events().collect::<Vec<_>>(), events(528));
    assert_eq!(rec.info, info());
    assert_eq!(rec.steps(), 528);
    // Spans add up to the whole.
    let mut pieces: Vec<Event> = rec.head().collect();
    for (from, to) in [(0, 1), (1, 66), (66, 66), (66, 300), (300, 528)] {
        pieces.extend(rec.span(from, to));
    }
    assert_eq!(pieces, events(528));
    assert_eq!(rec.rows_through(200), 200);
    assert_eq!(rec.rows_through(10_000), 528);
}

#[test]
fn torn_last_lines_are_ignored() {
    let (_tmp, dir) = recorded_run();
    append(&dir.join("metrics.csv"), "529,9,10.58,0.00");
    append(
        &dir.join("predictions.jsonl"),
        r#"{"step":594,"examples":[{"ind"#,
    );
    append(&dir.join("eval.csv"), "594,9,11.");
    append(&dir.join("events.csv"), "529,10.580,tune,\"learning");
    let rec = read::load(&dir).unwrap();
    assert_eq!(rec.events().collect::<Vec<_>>(), events(528));
}

#[test]
fn a_malformed_line_is_an_error_at_its_line() {
    let cases: [(&str, usize, &str, &str); 5] = [
        (
            "metrics.csv",
            10,
            "garbage",
            "metrics.csv:10: step: `garbage` is not a number",
        ),
        (
            "metrics.csv",
            4,
            "3,1,0.060,0.1,0.5",
            "metrics.csv:4: 5 fields, expected 10",
        ),
        (
            "metrics.csv",
            1,
            "step,epoch,loss",
            "metrics.csv:1: not the header",
        ),
        (
            "events.csv",
            3,
            "1,0.020,jump,",
            "events.csv:3: unknown event kind `jump`",
        ),
        (
            "predictions.jsonl",
            2,
            "{\"step\":",
            "predictions.jsonl:2: not a predictions record",
        ),
    ];
    for (file, line, text, expected) in cases {
        let (_tmp, dir) = recorded_run();
        let path = dir.join(file);
        let original = fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = original.lines().collect();
        lines[line - 1] = text;
        fs::write(&path, lines.join("\n") + "\n").unwrap();
        let err = read::load(&dir).err().expect("an error").to_string();
        assert!(
            err.contains(&format!("{}", dir.join(expected).display())),
            "{file}:{line}: {err}"
        );
    }
}

#[test]
fn missing_directories_and_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let err = read::load(&tmp.path().join("nope"))
        .err()
        .unwrap()
        .to_string();
    assert!(err.ends_with("nope: no such run directory"), "{err}");
    let err = read::load(tmp.path()).err().unwrap().to_string();
    assert!(err.contains("metrics.csv: missing"), "{err}");
    assert!(Follower::open(&tmp.path().join("nope")).is_err());
}

#[test]
fn a_running_run_has_no_end() {
    let (_tmp, dir) = recorded_run();
    summary(&dir, "running", 528);
    let rec = read::load(&dir).unwrap();
    assert_eq!(rec.outcome, None);
    assert!(!rec.events().any(|e| matches!(e, Event::Finished(_))));
    let app = App::replay(rec);
    let s = text(&screen(&app, UNICODE));
    assert!(
        s.contains("did not finish (still running, or killed)"),
        "{s}"
    );
}

#[test]
fn a_run_without_info_json_is_rebuilt_from_its_other_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    train(&dir);
    let expected = read::load(&dir).unwrap();
    fs::remove_file(dir.join("info.json")).unwrap();
    let rebuilt = read::load(&dir).unwrap();
    let mut info = expected.info.clone();
    info.run_dir = dir.display().to_string();
    assert_eq!(rebuilt.info, info);
    assert_eq!(rebuilt.len(), expected.len());
}

// ---------------------------------------------------------------------------
// Follower
// ---------------------------------------------------------------------------

#[test]
fn a_follower_returns_each_complete_line_once_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let all = events(70);
    fs::create_dir_all(&dir).unwrap();
    let mut f = Follower::open(&dir).unwrap();
    assert_eq!(f.poll().unwrap(), vec![]);

    // Write the whole run aside, then reveal its files piece by piece.
    let full = tmp.path().join("full");
    write_run(&full, &all);
    let text = |name: &str| fs::read_to_string(full.join(name)).unwrap();
    let (metrics, notes, eval, preds) = (
        text("metrics.csv"),
        text("events.csv"),
        text("eval.csv"),
        text("predictions.jsonl"),
    );
    let cut = |s: &str, at: &str| s.find(at).unwrap();

    fs::write(dir.join("metrics.csv"), "").unwrap();
    assert_eq!(f.poll().unwrap(), vec![], "no info.json yet");
    fs::copy(full.join("info.json"), dir.join("info.json")).unwrap();
    // Step 1 and half of step 2; the start note.
    let m1 = cut(&metrics, "\n2,") + 5;
    fs::write(dir.join("metrics.csv"), &metrics[..m1]).unwrap();
    let n1 = cut(&notes, "\n66,") + 1;
    fs::write(dir.join("events.csv"), &notes[..n1]).unwrap();
    assert_eq!(f.poll().unwrap(), all[..3].to_vec());
    assert_eq!(f.poll().unwrap(), vec![]);

    // Through step 66, its evaluation, half its predictions and checkpoint note.
    let m2 = cut(&metrics, "\n67,") + 1;
    append(&dir.join("metrics.csv"), &metrics[m1..m2]);
    fs::write(dir.join("eval.csv"), &eval).unwrap();
    fs::write(dir.join("predictions.jsonl"), &preds[..100]).unwrap();
    fs::copy(full.join("flow.csv"), dir.join("flow.csv")).unwrap();
    append(&dir.join("events.csv"), &notes[n1..n1 + 10]);
    let got = f.poll().unwrap();
    // Steps 2–66 with the flow snapshots at 25 and 50, then the evaluation.
    assert_eq!(got, all[3..71].to_vec());
    assert!(matches!(got.last(), Some(Event::Eval(_))));

    // The rest, and the end.
    append(&dir.join("predictions.jsonl"), &preds[100..]);
    append(&dir.join("events.csv"), &notes[n1 + 10..]);
    append(&dir.join("metrics.csv"), &metrics[m2..]);
    summary(&dir, "running", 70);
    assert_eq!(f.poll().unwrap(), all[71..all.len() - 1].to_vec());
    summary(&dir, "completed", 70);
    assert_eq!(f.poll().unwrap(), all[all.len() - 1..].to_vec());
    assert_eq!(f.poll().unwrap(), vec![]);
}

#[test]
fn a_note_spanning_lines_waits_for_its_closing_quote() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    write_run(&run, &events(3)[..5]);
    let mut f = Follower::open(&run).unwrap();
    assert_eq!(f.poll().unwrap(), events(3)[..5].to_vec());
    append(&run.join("events.csv"), "3,0.060,stop,\"first line\nsecond");
    assert_eq!(f.poll().unwrap(), vec![]);
    append(&run.join("events.csv"), " line, with a comma\"\n");
    let got = f.poll().unwrap();
    assert_eq!(
        got,
        vec![Event::Note(Note {
            step: 3,
            wall_s: 0.06,
            kind: NoteKind::Stop,
            detail: "first line\nsecond line, with a comma".into(),
        })]
    );
}

#[test]
fn a_file_rewritten_under_a_follower_is_an_error() {
    let (_tmp, dir) = recorded_run();
    summary(&dir, "running", 528);
    let mut f = Follower::open(&dir).unwrap();
    assert!(!f.poll().unwrap().is_empty());
    // A resumed run rewrites its logs (a new file) before appending to them.
    let path = dir.join("metrics.csv");
    let text = fs::read_to_string(&path).unwrap();
    fs::remove_file(&path).unwrap();
    fs::write(&path, &text[..text.len() / 2]).unwrap();
    let err = f.poll().expect_err("an error").to_string();
    assert!(err.contains("metrics.csv: was rewritten"), "{err}");
}

// ---------------------------------------------------------------------------
// Playback
// ---------------------------------------------------------------------------

#[test]
fn replay_opens_at_the_end_paused() {
    let (_tmp, dir) = recorded_run();
    let app = App::replay(read::load(&dir).unwrap());
    let p = app.playback().unwrap();
    assert_eq!((p.position(), p.len(), p.is_playing()), (528, 528, false));
    assert_eq!(state(&app), state(&fed(events(528))));
    let t = screen(&app, UNICODE);
    let s = text(&t);
    assert!(
        s.contains("FINISHED") && s.contains("REPLAY 528/528 ×1 ‖"),
        "{s}"
    );
    // Everything above the footer is the live dashboard's finished screen.
    let live = text(&screen(&fed(events(528)), UNICODE));
    let body = |s: &str| s.lines().take(23).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&s), body(&live));
    insta::assert_snapshot!("end_80x24", t.backend());
}

#[test]
fn replay_from_the_start_and_step() {
    let (_tmp, dir) = recorded_run();
    let mut app = App::replay(read::load(&dir).unwrap());
    app.apply(Action::Start);
    assert_eq!(app.playback().unwrap().position(), 0);
    assert_eq!(state(&app), state(&fed(events(528).into_iter().take(2))));
    insta::assert_snapshot!("start_80x24", screen(&app, UNICODE).backend());

    // Play at ×1: one recorded second is 50 steps.
    app.apply(Action::TogglePause);
    assert!(app.advance(Duration::from_secs(1)));
    assert_eq!(app.playback().unwrap().position(), 50);
    app.apply(Action::Faster);
    app.advance(Duration::from_secs(2));
    assert_eq!(app.playback().unwrap().position(), 250);
    // Stepping pauses; back and forward land on whole steps.
    app.apply(Action::StepBack);
    app.apply(Action::StepBack);
    app.apply(Action::StepForward);
    let p = app.playback().unwrap();
    assert_eq!((p.position(), p.is_playing()), (249, false));
    assert!(!app.advance(Duration::from_secs(5)));
    let upto = |n: usize| {
        let rec = read::load(&dir).unwrap();
        let mut e: Vec<Event> = rec.head().collect();
        e.extend(rec.span(0, n));
        fed(e)
    };
    assert_eq!(state(&app), state(&upto(249)));
    let t = screen(&app, UNICODE);
    assert!(text(&t).contains("REPLAY 249/528 ×2 ‖"), "{}", text(&t));
    insta::assert_snapshot!("stepped_80x24", t.backend());

    // A tenth of the run back, the end, and playing from the end restarts.
    app.apply(Action::JumpBack);
    assert_eq!(app.playback().unwrap().position(), 249 - 53);
    assert_eq!(state(&app), state(&upto(196)));
    app.apply(Action::End);
    assert_eq!(state(&app), state(&fed(events(528))));
    app.apply(Action::TogglePause);
    assert_eq!(app.playback().unwrap().position(), 0);
    for _ in 0..6 {
        app.apply(Action::Faster);
    }
    assert!(text(&screen(&app, UNICODE)).contains("max ▶"));
    app.advance(Duration::from_millis(50));
    let p = app.playback().unwrap();
    assert_eq!((p.position(), p.is_playing()), (528, false));
}

#[test]
fn go_to_a_step() {
    let (_tmp, dir) = recorded_run();
    let mut app = App::replay(read::load(&dir).unwrap());
    app.apply(Action::OpenGoTo);
    for c in "2x0".chars() {
        app.apply(Action::Type(c));
    }
    app.apply(Action::Backspace);
    app.apply(Action::Type('0'));
    assert!(matches!(&app.mode, Mode::GoTo(f) if f.input == "20"));
    app.apply(Action::Type('0'));
    insta::assert_snapshot!("go_to_80x24", screen(&app, UNICODE).backend());
    app.apply(Action::Confirm);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.playback().unwrap().position(), 200);
    assert_eq!(app.view().last.as_ref().unwrap().step, 200);
    assert_eq!(
        app.view().learning_rate,
        0.001,
        "the tune at step 200 is shown"
    );
    app.apply(Action::OpenGoTo);
    assert_eq!(app.apply(Action::Confirm), vec![]);
    assert!(matches!(&app.mode, Mode::GoTo(f) if f.error.is_some()));
    app.apply(Action::Cancel);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn replay_in_ascii_and_its_help() {
    let (_tmp, dir) = recorded_run();
    let mut app = App::replay(read::load(&dir).unwrap());
    app.apply(Action::OpenGoTo);
    app.apply(Action::Type('9'));
    app.apply(Action::Confirm);
    app.apply(Action::TogglePause);
    let t = screen(&app, ASCII);
    let s = text(&t);
    assert!(s.is_ascii(), "non-ASCII in:\n{s}");
    assert!(s.contains("REPLAY 9/528 x1 >"), "{s}");
    insta::assert_snapshot!("ascii_80x24", t.backend());
    app.apply(Action::Help);
    let s = text(&screen(&app, ASCII));
    assert!(s.is_ascii());
    for key in [
        "play / pause",
        "jump to a step",
        "faster / slower",
        "Home/End",
        "n/p",
    ] {
        assert!(s.contains(key), "{key} missing:\n{s}");
    }
}

#[test]
fn a_recording_cannot_be_steered_and_q_quits() {
    let (_tmp, dir) = recorded_run();
    let mut app = App::replay(read::load(&dir).unwrap());
    assert_eq!(app.apply(Action::OpenTune), vec![]);
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.message.as_deref().unwrap().contains("recording"));
    assert_eq!(app.apply(Action::Checkpoint), vec![]);
    assert_eq!(app.apply(Action::Quit), vec![]);
    assert!(app.should_exit());
}

#[test]
fn keys_follow_the_feed() {
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    let (_tmp, dir) = recorded_run();
    let replay = App::replay(read::load(&dir).unwrap());
    let training = App::new(true);
    let attached = App::attached(true);
    // One key map: a key does the same thing in a replay and live, or
    // nothing where it has no meaning (the timeline keys live).
    let cases = [
        (KeyCode::Left, Some(Action::StepBack), None),
        (KeyCode::Right, Some(Action::StepForward), None),
        (KeyCode::Char('j'), Some(Action::OpenGoTo), None),
        (KeyCode::Char('+'), Some(Action::Faster), None),
        (KeyCode::Home, Some(Action::Start), None),
    ];
    for (code, in_replay, live) in cases {
        assert_eq!(keys::action(key(code), &replay), in_replay, "{code:?}");
        assert_eq!(keys::action(key(code), &training), live, "{code:?}");
    }
    for (code, action) in [
        (KeyCode::Char('g'), Action::ToggleGradLog),
        (KeyCode::Char('l'), Action::ToggleLossLog),
        (KeyCode::Char('n'), Action::NextExample),
        (KeyCode::Char('p'), Action::PrevExample),
        (KeyCode::Char(' '), Action::TogglePause),
        (KeyCode::Char('m'), Action::CycleLossView),
        (KeyCode::Char('x'), Action::ToggleLogX),
        (KeyCode::Char('w'), Action::ToggleWallX),
        (KeyCode::Char('['), Action::SmoothLess),
        (KeyCode::Char(']'), Action::SmoothMore),
        (KeyCode::Char('v'), Action::CycleGrads),
        (KeyCode::Char('?'), Action::Help),
        (KeyCode::Char('q'), Action::Quit),
    ] {
        for app in [&replay, &training, &attached] {
            assert_eq!(keys::action(key(code), app), Some(action), "{code:?}");
        }
    }
    // The help screens list the shared keys alike.
    for (k, what) in keys::HINTS
        .iter()
        .filter(|(k, _)| !["space", "t", "c", "q", "Ctrl-C"].contains(k))
    {
        assert!(keys::REPLAY_HINTS.contains(&(*k, *what)), "{k}");
        assert!(keys::ATTACHED_HINTS.contains(&(*k, *what)), "{k}");
    }
    assert_eq!(
        keys::action(key(KeyCode::Char('Q')), &attached),
        Some(Action::StopRun)
    );
    assert_eq!(keys::action(key(KeyCode::Char('Q')), &training), None);
}

#[test]
fn attached_q_detaches_and_capital_q_stops() {
    let mut app = App::attached(true);
    for e in events(100).into_iter().take(50) {
        app.on_event(e);
    }
    assert_eq!(app.apply(Action::Quit), vec![]);
    assert!(app.detached && app.should_exit());

    let mut app = App::attached(true);
    app.on_event(Event::Started(info()));
    assert_eq!(app.apply(Action::TogglePause), vec![Command::Pause]);
    assert_eq!(app.apply(Action::StopRun), vec![]);
    assert!(text(&screen(&app, UNICODE)).contains("stop training? (y/n)"));
    assert_eq!(app.apply(Action::Confirm), vec![Command::Stop]);
    assert!(!app.should_exit() && !app.detached);
    app.on_event(Event::Finished(Outcome {
        status: Status::Stopped,
        steps: 0,
        message: None,
    }));
    assert!(app.should_exit());
    assert_eq!(app.outcome().map(|o| o.status), Some(Status::Stopped));

    // Read-only: nothing to send; Ctrl-C detaches too.
    let mut app = App::attached(false);
    app.on_event(Event::Started(info()));
    assert_eq!(app.apply(Action::TogglePause), vec![]);
    assert_eq!(app.apply(Action::StopRun), vec![]);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.apply(Action::ForceStop), vec![]);
    assert!(app.detached && app.should_exit());
}

#[test]
fn seeking_back_from_a_keyframe_equals_replaying_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut all = events(528);
    all.truncate(all.len() - 2);
    // Stretch the run to 45,000 steps so keyframes come into play.
    for step in 529..=45_000u64 {
        all.push(Event::Step(StepStats {
            step,
            epoch: 9,
            wall_s: wall(step),
            loss: f64::from(1.0 / step as f32),
            grad_norm: 0.25,
            lr: 0.001,
            samples_per_s: 2100.0,
            group_norms: vec![0.5, 0.25, (step % 7) as f64],
        }));
    }
    write_run(&dir, &all);
    let rec = read::load(&dir).unwrap();
    assert_eq!(rec.outcome, None);
    let mut app = App::replay(rec);
    for target in [44_999, 30_001, 20_000, 19_999, 600, 0, 33_333] {
        app.apply(Action::OpenGoTo);
        for c in target.to_string().chars() {
            app.apply(Action::Type(c));
        }
        app.apply(Action::Confirm);
        let n = target as usize;
        let shown = all
            .iter()
            .take_while(|e| !matches!(e, Event::Step(s) if s.step as usize > n));
        let expected = fed(shown.cloned());
        assert_eq!(state(&app), state(&expected), "at step {target}");
    }
}

#[test]
/// (How fast: `cargo bench --bench replay`.)
fn a_million_steps_load_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut info = info();
    info.total_steps = 1_000_000;
    fs::write(dir.join("info.json"), serde_json::to_string(&info).unwrap()).unwrap();
    let mut out = String::with_capacity(64 << 20);
    out.push_str("step,epoch,wall_s,loss,grad_norm,lr,samples_per_s,grad_norm.layers.0,grad_norm.layers.1,grad_norm.head\n");
    for step in 1..=1_000_000u64 {
        let k = step % 977;
        writeln!(
            out,
            "{step},{},{}.{:03},0.{k:04}1,1.{k},0.001,2100.5,0.0{k},0.00{k}7,0.{k}",
            step / 1000 + 1,
            step / 50,
            step % 50 * 20,
        )
        .unwrap();
    }
    fs::write(dir.join("metrics.csv"), out).unwrap();
    fs::write(
        dir.join("events.csv"),
        "step,wall_s,kind,detail\n0,0.001,start,big\n",
    )
    .unwrap();
    summary(dir, "completed", 1_000_000);
    let rec = read::load(dir).unwrap();
    assert_eq!(rec.steps(), 1_000_000);
    let mut app = App::replay(rec);
    assert_eq!(app.view().last.as_ref().unwrap().step, 1_000_000);
    assert!(text(&screen(&app, UNICODE)).contains("1,000,000"));
    app.apply(Action::StepBack);
    assert_eq!(app.view().last.as_ref().unwrap().step, 999_999);
}

// ---------------------------------------------------------------------------
// End to end in tmux: attach to a headless run, detach, stop it; replay it
// ---------------------------------------------------------------------------

#[test]
#[cfg_attr(not(has_tmux), ignore = "tmux is not installed")]
fn attach_detach_stop_and_replay_in_tmux() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let bin = env!("CARGO_BIN_EXE_rnnlab");
    let mut trainer = Child(
        Process::new(bin)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "train",
                "experiments/quickstart.toml",
                "--headless",
                "--run-dir",
            ])
            .arg(&run)
            .args(["--set", "data.count=3000", "--set", "train.epochs=200"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting rnnlab train"),
    );
    let tmux = Tmux::new("replay");
    let exit = tmp.path().join("exit");
    let session = |args: &str| {
        let _ = fs::remove_file(&exit);
        tmux.session(
            80,
            24,
            &format!(
                "export LANG=C.UTF-8; {bin} {args} {run}; echo $? > {exit}; sleep 60",
                run = run.display(),
                exit = exit.display(),
            ),
        );
    };
    let exited = |_: &str| exit.exists();
    // `train` prints the run directory once it exists; a path that is not
    // (yet) a run is refused at once, so attach only then.
    wait_until(
        "the run directory",
        60,
        || run.join("metrics.csv").exists(),
        String::new,
    );

    // Attach, pause through the control socket, detach: the run goes on.
    session("attach");
    tmux.wait("the attached dashboard", 120, |s| {
        s.contains("RUNNING") && s.contains("q detach")
    });
    tmux.keys(&["Space"]);
    tmux.wait("the pause to come back", 30, |s| s.contains("PAUSED"));
    tmux.keys(&["q"]);
    tmux.wait("the dashboard to close", 30, exited);
    assert_eq!(fs::read_to_string(&exit).unwrap().trim(), "0");
    assert!(tmux.screen().contains("detached"), "{}", tmux.screen());
    assert!(
        trainer.0.try_wait().unwrap().is_none(),
        "detaching ended the run"
    );

    // Attach again; Q asks, y stops the run, and the dashboard waits for its end.
    session("attach");
    tmux.wait("the paused run", 60, |s| s.contains("PAUSED"));
    tmux.keys(&["Q"]);
    tmux.wait("the question", 10, |s| s.contains("stop training? (y/n)"));
    tmux.keys(&["y"]);
    tmux.wait("the dashboard to close", 60, exited);
    assert!(trainer.0.wait().unwrap().success());
    let summary = fs::read_to_string(run.join("summary.json")).unwrap();
    assert!(summary.contains("\"status\": \"stopped\""), "{summary}");

    // Replay opens at the end; Home goes to the start; q leaves.
    session("replay");
    tmux.wait("the replay", 60, |s| {
        s.contains("REPLAY") && s.contains("STOPPED")
    });
    tmux.keys(&["Home"]);
    tmux.wait("the start", 10, |s| s.contains("REPLAY 0/"));
    tmux.keys(&["q"]);
    tmux.wait("the replay to close", 10, exited);
    assert_eq!(fs::read_to_string(&exit).unwrap().trim(), "0");
}

// ---------------------------------------------------------------------------
// Replay at 80×24, in tmux's 80×23 and at 79×24; marks of a long run
// ---------------------------------------------------------------------------

#[test]
fn replay_fits_80x24_80x23_and_79x24() {
    let (_tmp, dir) = recorded_run();
    let mut app = App::replay(read::load(&dir).unwrap());
    app.set_baselines(vec![rnnlab::frontend::tui::app::Baseline {
        name: "naive".into(),
        valid: vec![
            ("mse".into(), 0.021),
            ("rmse".into(), 0.145),
            ("mae".into(), 0.117),
        ],
    }]);
    for (w, h) in [(80, 24), (80, 23), (79, 24)] {
        for theme in [UNICODE, ASCII] {
            let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
            t.draw(|f| render(f, &app, &theme)).unwrap();
            let s = text(&t);
            assert!(s.contains("events") && s.contains("REPLAY 528/528"), "{s}");
            crate::dashboard::assert_no_cut(&t);
            if !theme.ascii {
                insta::assert_snapshot!(format!("replay_{w}x{h}"), t.backend());
            }
        }
    }
    // The metric view: the validation RMSE against the naive baseline.
    app.apply(Action::CycleLossView);
    app.apply(Action::CycleLossView);
    let t = screen(&app, UNICODE);
    let s = text(&t);
    assert!(s.contains("valid rmse") && s.contains("naive 0.145"), "{s}");
    crate::dashboard::assert_no_cut(&t);
    insta::assert_snapshot!("replay_rmse_80x24", t.backend());
}

#[test]
fn a_long_replay_keeps_its_early_marks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut all = events(528);
    all.truncate(all.len() - 2);
    // Another 6,000 steps with a periodic checkpoint every 10: far more notes
    // than the events panel keeps.
    for step in 529..=6_528u64 {
        all.push(Event::Step(StepStats {
            step,
            epoch: 9,
            wall_s: wall(step),
            loss: f64::from(1.0 / step as f32),
            grad_norm: 0.25,
            lr: 0.001,
            samples_per_s: 2100.0,
            group_norms: vec![0.5, 0.25, 0.125],
        }));
        if step % 10 == 0 {
            all.push(note(
                step,
                NoteKind::Checkpoint,
                &format!("step-{step}.safetensors"),
            ));
        }
    }
    write_run(&dir, &all);
    let app = App::replay(read::load(&dir).unwrap());
    let v = app.view();
    // The tune at step 200 is still marked, and no periodic checkpoint is.
    let marks: Vec<u64> = v.marks.iter().map(|m| m.step).collect();
    assert_eq!(marks, [200]);
    assert!(v.log.len() < 10, "{:?}", v.log);
    let s = text(&screen(&app, UNICODE));
    assert!(
        s.contains("▲") && s.contains("learning_rate 0.005 → 0.001"),
        "{s}"
    );
    assert!(s.contains("(608 so far)"), "{s}");
}

#[test]
fn the_replay_footer_says_play_or_pause() {
    let (_tmp, dir) = recorded_run();
    let mut app = App::replay(read::load(&dir).unwrap());
    let s = text(&screen(&app, UNICODE));
    let footer = s.lines().last().unwrap().to_string();
    assert!(
        footer.contains("space play") && footer.contains("j jump"),
        "{footer}"
    );
    assert!(
        !footer.contains("tune") && !footer.contains("checkpoint"),
        "{footer}"
    );
    app.apply(Action::Start);
    app.apply(Action::TogglePause);
    let s = text(&screen(&app, UNICODE));
    assert!(s.lines().last().unwrap().contains("space pause"), "{s}");
}

// ---------------------------------------------------------------------------
// The headless log fits 80 columns when stderr is not a terminal
// ---------------------------------------------------------------------------

#[test]
fn headless_lines_fit_80_columns() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, lr) in ["0.005", "1e30"].iter().enumerate() {
        let out = Process::new(env!("CARGO_BIN_EXE_rnnlab"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["train", "experiments/quickstart.toml", "--headless"])
            .arg("--run-dir")
            .arg(tmp.path().join(format!("run{i}")))
            .args(["--set", "data.count=200", "--set", "train.epochs=3"])
            .args([
                "--set",
                "model.layers.0.units=4",
                "--set",
                "model.layers.1.units=3",
            ])
            .args(["--set", &format!("train.learning_rate={lr}")])
            .output()
            .expect("running rnnlab");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for line in stderr.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} columns: {line}\n{stderr}",
                line.chars().count()
            );
        }
        if i == 0 {
            assert!(
                stderr.contains("step ") && stderr.contains("valid "),
                "{stderr}"
            );
        } else {
            // Diverged: the advice wrapped under its head, whole.
            assert!(stderr.contains("diverged after"), "{stderr}");
        }
    }
}

#[test]
fn the_end_of_a_run_shows_its_test_result_beside_the_baselines() {
    let (_tmp, dir) = recorded_run();
    let summary = r#"{
      "name": "quickstart", "status": "completed", "started": "2026-11-26T12:00:00Z",
      "model": "gru(20) → gru(20) → dense(1)", "parameters": 3921, "steps": 528,
      "epochs": 8, "wall_s": 10.6, "best_valid_loss": 0.00413, "best_step": 528,
      "best_valid": {"mse": 0.00413, "rmse": 0.0643, "mae": 0.05},
      "test": {"loss": 0.0013, "mse": 0.0013, "rmse": 0.03593, "mae": 0.0295},
      "baselines": [{"name": "naive",
        "valid": {"mse": 0.0206, "rmse": 0.1437, "mae": 0.1175},
        "test": {"mse": 0.0207, "rmse": 0.1438, "mae": 0.1177}}],
      "message": null
    }"#;
    fs::write(dir.join("summary.json"), summary).unwrap();
    assert_eq!(
        rnnlab::frontend::test_result(&dir),
        vec![
            ("test rmse".to_string(), 0.03593),
            ("naive".to_string(), 0.1438)
        ]
    );
    let mut app = App::replay(read::load(&dir).unwrap());
    app.set_baselines(rnnlab::frontend::baselines(&dir));
    app.result = rnnlab::frontend::test_result(&dir);
    let t = screen(&app, UNICODE);
    let s = text(&t);
    assert!(s.contains("test rmse 0.03593 · naive 0.1438"), "{s}");
    // It stands for the line saying the run finished; the tune stays.
    assert!(
        !s.contains("✓ finished") && s.contains("▲ learning_rate"),
        "{s}"
    );
    crate::dashboard::assert_no_cut(&t);
    // Not before the end.
    app.apply(Action::Start);
    assert!(!text(&screen(&app, UNICODE)).contains("test rmse"));
}
