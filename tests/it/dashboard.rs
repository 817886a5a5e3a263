//! Dashboard screens rendered with ratatui's `TestBackend`, compared with
//! committed snapshots (insta), in every state and mode.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use rnnlab::events::*;
use rnnlab::frontend::tui::app::{Action, App};
use rnnlab::frontend::tui::ui::{Theme, render};

const UNICODE: Theme = Theme {
    ascii: false,
    color: true,
};
const ASCII: Theme = Theme {
    ascii: true,
    color: false,
};

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

fn note(step: u64, kind: NoteKind, detail: &str) -> Event {
    Event::Note(Note {
        step,
        wall_s: step as f64 * 0.02,
        kind,
        detail: detail.into(),
    })
}

/// A deterministic run of `steps` steps: decaying noisy loss, evaluations and
/// predictions every 66 steps, a tune and a checkpoint along the way.
fn events(steps: u64) -> Vec<Event> {
    let mut out = vec![
        Event::Started(info()),
        note(0, NoteKind::Start, "gru(20) → gru(20) → dense(1)"),
    ];
    for step in 1..=steps {
        let wobble = ((step * 7919) % 13) as f64 / 13.0;
        let loss = 0.3 * (-(step as f64) / 60.0).exp() + 0.003 * (1.0 + wobble);
        out.push(Event::Step(StepStats {
            step,
            epoch: ((step - 1) / 66 + 1) as usize,
            wall_s: step as f64 * 0.02,
            loss,
            grad_norm: 0.5,
            lr: if step > 200 { 0.001 } else { 0.005 },
            samples_per_s: 2100.0,
            group_norms: vec![0.02 * loss.sqrt(), 0.1 * loss.sqrt(), 0.4 * loss.sqrt()],
        }));
        if step == 200 {
            out.push(note(200, NoteKind::Tune, "learning_rate 0.005 → 0.001"));
        }
        if step % 66 == 0 {
            let valid = 0.25 * (-(step as f64) / 70.0).exp() + 0.004;
            out.push(Event::Eval(EvalStats {
                step,
                epoch: (step / 66) as usize,
                wall_s: step as f64 * 0.02,
                valid_loss: valid,
                metrics: vec![
                    ("mse".into(), valid),
                    ("rmse".into(), valid.sqrt()),
                    ("mae".into(), valid.sqrt() * 0.8),
                ],
            }));
            let input: Vec<f64> = (0..50).map(|t| (t as f64 / 5.0).sin() * 0.5).collect();
            out.push(Event::Predictions(Predictions {
                step,
                examples: (0..8)
                    .map(|i| Example {
                        index: i * 75,
                        input: input.clone(),
                        truth: vec![(50.0f64 / 5.0).sin() * 0.5],
                        prediction: vec![(50.0f64 / 5.0).sin() * 0.5 + 0.05],
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
    out
}

fn app_after(events: Vec<Event>) -> App {
    let mut app = App::new(true);
    for e in events {
        app.on_event(e);
    }
    app
}

fn screen(app: &App, theme: Theme, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render(f, app, &theme)).unwrap();
    terminal
}

fn text(t: &Terminal<TestBackend>) -> String {
    t.backend().to_string()
}

#[test]
fn running_80x24() {
    let app = app_after(events(300));
    let t = screen(&app, UNICODE, 80, 24);
    let s = text(&t);
    assert!(
        s.contains("RUNNING") && s.contains("quickstart") && s.contains("step 300/528"),
        "{s}"
    );
    insta::assert_snapshot!(t.backend());
}

#[test]
fn running_120x40() {
    let app = app_after(events(300));
    insta::assert_snapshot!(screen(&app, UNICODE, 120, 40).backend());
}

#[test]
fn paused_and_tune_form() {
    let mut events = events(250);
    events.push(note(250, NoteKind::Pause, ""));
    let mut app = app_after(events);
    let t = screen(&app, UNICODE, 80, 24);
    assert!(text(&t).contains("PAUSED"));
    insta::assert_snapshot!("paused_80x24", t.backend());
    assert_eq!(app.apply(Action::OpenTune), None);
    for c in "3e-4".chars() {
        app.apply(Action::Type(c));
    }
    insta::assert_snapshot!("tune_form_80x24", screen(&app, UNICODE, 80, 24).backend());
    let cmd = app.apply(Action::Confirm);
    assert_eq!(
        cmd,
        Some(Command::Tune {
            key: Tunable::LearningRate,
            value: 3e-4,
            reply: Reply::default(),
        })
    );
}

#[test]
fn invalid_tune_value_is_refused_in_the_form() {
    let mut app = app_after(events(100));
    app.apply(Action::OpenTune);
    app.apply(Action::Down);
    app.apply(Action::Type('-'));
    app.apply(Action::Type('1'));
    assert_eq!(app.apply(Action::Confirm), None);
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(s.contains("clip norm must be ≥ 0"), "{s}");
}

#[test]
fn finished_run() {
    let mut events = events(528);
    events.push(note(528, NoteKind::Finish, "completed"));
    events.push(Event::Finished(Outcome {
        status: Status::Completed,
        steps: 528,
        message: None,
    }));
    let app = app_after(events);
    let t = screen(&app, UNICODE, 80, 24);
    assert!(text(&t).contains("FINISHED"));
    insta::assert_snapshot!("finished_80x24", t.backend());
}

#[test]
fn diverged_run_shows_the_advice() {
    let mut events = events(120);
    let advice = "loss became NaN at step 121; try a lower learning_rate (now 0.005)";
    events.push(note(121, NoteKind::Diverged, advice));
    events.push(Event::Finished(Outcome {
        status: Status::Diverged,
        steps: 121,
        message: Some(advice.into()),
    }));
    let app = app_after(events);
    let t = screen(&app, UNICODE, 80, 24);
    let s = text(&t);
    assert!(
        s.contains("DIVERGED") && s.contains("lower learning_rate"),
        "{s}"
    );
    insta::assert_snapshot!("diverged_80x24", t.backend());
}

#[test]
fn small_terminals_degrade_then_refuse() {
    let app = app_after(events(300));
    let t = screen(&app, UNICODE, 60, 16);
    let s = text(&t);
    assert!(s.contains("loss") && !s.contains("events"), "{s}");
    insta::assert_snapshot!("compact_60x16", t.backend());
    let t = screen(&app, UNICODE, 39, 11);
    assert!(text(&t).contains("terminal too small"));
    insta::assert_snapshot!("too_small_39x11", t.backend());
    for (w, h) in [(1, 1), (0, 0), (40, 12), (79, 23), (200, 60)] {
        screen(&app, UNICODE, w, h);
    }
}

#[test]
fn ascii_mode_uses_only_ascii() {
    let mut app = app_after(events(300));
    let t = screen(&app, ASCII, 80, 24);
    let s = text(&t);
    assert!(s.is_ascii(), "non-ASCII in:\n{s}");
    insta::assert_snapshot!("ascii_80x24", t.backend());
    app.apply(Action::Help);
    assert!(text(&screen(&app, ASCII, 80, 24)).is_ascii());
}

#[test]
fn no_colour_mode_sets_no_colours() {
    let app = app_after(events(300));
    for theme in [
        ASCII,
        Theme {
            ascii: false,
            color: false,
        },
    ] {
        let t = screen(&app, theme, 80, 24);
        for cell in t.backend().buffer().content() {
            assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "{cell:?}");
        }
    }
    let t = screen(&app, UNICODE, 80, 24);
    assert!(
        t.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

#[test]
fn help_lists_every_key() {
    let mut app = app_after(events(10));
    app.apply(Action::Help);
    let s = text(&screen(&app, UNICODE, 80, 24));
    for key in ["space", "tune", "checkpoint", "freeze", "quit", "Ctrl-C"] {
        assert!(s.contains(key), "{key} missing:\n{s}");
    }
}

/// A gradient-flow snapshot of the two GRU layers over a 50-step window: the
/// first layer's gradient fading towards t = 0 (vanishing), the second flat.
fn flow(step: u64) -> Event {
    let fade = 1.0 + step as f64 / 300.0;
    Event::Flow(FlowStats {
        step,
        time: vec![
            (
                "layers.0".into(),
                (0..50)
                    .map(|t| 1e-2 * (-(49 - t) as f64 / 4.0 * fade).exp())
                    .collect(),
            ),
            (
                "layers.1".into(),
                (0..50).map(|t| 0.05 + t as f64 * 1e-3).collect(),
            ),
        ],
        gates: (0..2)
            .flat_map(|l| {
                ["r", "z", "n"].iter().enumerate().map(move |(i, g)| {
                    (
                        format!("layers.{l}.{g}"),
                        0.3 / (1 + i + 2 * l) as f64 / fade,
                    )
                })
            })
            .collect(),
    })
}

#[test]
fn gradient_panel_cycles_through_time_and_gates() {
    let mut evs = events(300);
    for step in [1, 100, 200, 300] {
        let at = evs
            .iter()
            .position(|e| matches!(e, Event::Step(s) if s.step == step))
            .unwrap();
        evs.insert(at + 1, flow(step));
    }
    let mut app = app_after(evs);
    app.apply(Action::CycleGrads);
    let t = screen(&app, UNICODE, 120, 40);
    let s = text(&t);
    assert!(s.contains("‖∂L/∂h_t‖ at step 300"), "{s}");
    assert!(s.contains("vanishing") && s.contains("time step t"), "{s}");
    insta::assert_snapshot!("flow_through_time_120x40", t.backend());
    let ascii = text(&screen(&app, ASCII, 80, 24));
    assert!(
        ascii.is_ascii() && ascii.contains("|dL/dh_t| at step 300"),
        "{ascii}"
    );

    app.apply(Action::CycleGrads);
    let t = screen(&app, UNICODE, 120, 40);
    let s = text(&t);
    assert!(
        s.contains("gate gradient norms") && s.contains("layers.1.n"),
        "{s}"
    );
    insta::assert_snapshot!("gate_norms_120x40", t.backend());

    app.apply(Action::CycleGrads);
    assert!(text(&screen(&app, UNICODE, 120, 40)).contains(" gradient norms (log) "));

    // Before any snapshot the view says what it waits for.
    let mut fresh = app_after(events(10));
    fresh.apply(Action::CycleGrads);
    let s = text(&screen(&fresh, UNICODE, 120, 40));
    assert!(s.contains("waiting for the first snapshot"), "{s}");
}

fn text_sample(
    kind: TextKind,
    text: &str,
    truth: Option<&str>,
    predicted: &str,
    p: f64,
) -> TextSample {
    TextSample {
        kind,
        text: text.into(),
        truth: truth.map(String::from),
        predicted: predicted.into(),
        probability: Some(p),
        temperature: None,
    }
}

#[test]
fn classified_sentences_and_probes() {
    let mut app = app_after(events(100));
    app.on_event(Event::Predictions(Predictions {
        step: 100,
        examples: Vec::new(),
        texts: vec![
            text_sample(
                TextKind::Valid,
                "Great for the jawbone.",
                Some("positive"),
                "positive",
                0.97,
            ),
            text_sample(
                TextKind::Valid,
                "I wasn't really impressed.",
                Some("negative"),
                "positive",
                0.61,
            ),
            text_sample(TextKind::Probe, "it is good", None, "positive", 0.78),
            text_sample(TextKind::Probe, "it is not good", None, "negative", 0.99),
        ],
    }));
    let t = screen(&app, UNICODE, 100, 30);
    let s = text(&t);
    assert!(
        s.contains("✓ positive 0.97") && s.contains("✗ positive 0.61"),
        "{s}"
    );
    assert!(
        s.contains("probe") && s.contains("negative 0.99  it is not good"),
        "{s}"
    );
    insta::assert_snapshot!("classified_sentences_100x30", t.backend());
    let ascii = text(&screen(&app, ASCII, 100, 30));
    assert!(
        ascii.is_ascii() && ascii.contains("+ positive 0.97"),
        "{ascii}"
    );
}

#[test]
fn sampled_text_and_a_live_temperature() {
    let mut evs = events(100);
    if let Event::Started(info) = &mut evs[0] {
        info.temperature = Some(0.7);
    }
    let mut app = app_after(evs);
    app.on_event(Event::Predictions(Predictions {
        step: 100,
        examples: Vec::new(),
        texts: vec![TextSample {
            kind: TextKind::Sample,
            text: "Elizabeth ".into(),
            truth: None,
            predicted: "was not the sister of the house,\nand she said to her sister.".into(),
            probability: None,
            temperature: Some(0.7),
        }],
    }));
    let t = screen(&app, UNICODE, 100, 30);
    let s = text(&t);
    assert!(s.contains("sample at step 100 · temperature 0.7"), "{s}");
    assert!(s.contains("Elizabeth was not the sister"), "{s}");
    insta::assert_snapshot!("sampled_text_100x30", t.backend());
    // The tune form offers the temperature; Enter sends it to the trainer.
    app.apply(Action::OpenTune);
    for _ in 0..3 {
        app.apply(Action::Down);
    }
    assert!(text(&screen(&app, UNICODE, 100, 30)).contains("temperature"));
    for c in "1.2".chars() {
        app.apply(Action::Type(c));
    }
    assert_eq!(
        app.apply(Action::Confirm),
        Some(Command::Tune {
            key: Tunable::Temperature,
            value: 1.2,
            reply: Reply::default(),
        })
    );
}

#[test]
fn quit_asks_then_stops_and_freeze_holds_the_view() {
    let mut app = app_after(events(100));
    assert_eq!(app.apply(Action::Quit), None);
    assert!(text(&screen(&app, UNICODE, 80, 24)).contains("stop training? (y/n)"));
    assert_eq!(app.apply(Action::Cancel), None);
    assert!(!app.quitting);
    app.apply(Action::ToggleFreeze);
    app.on_event(Event::Step(StepStats {
        step: 101,
        epoch: 2,
        wall_s: 2.02,
        loss: 0.5,
        grad_norm: 0.1,
        lr: 0.005,
        samples_per_s: 2000.0,
        group_norms: vec![0.1, 0.1, 0.1],
    }));
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(s.contains("FROZEN") && s.contains("step 100/528"), "{s}");
    app.apply(Action::ToggleFreeze);
    assert!(text(&screen(&app, UNICODE, 80, 24)).contains("step 101/528"));
    assert_eq!(app.apply(Action::Quit), None);
    assert_eq!(app.apply(Action::Confirm), Some(Command::Stop));
    assert!(app.quitting && !app.should_exit());
    app.on_event(Event::Finished(Outcome {
        status: Status::Stopped,
        steps: 101,
        message: None,
    }));
    assert!(app.should_exit());
}

#[test]
fn a_million_steps_stay_bounded() {
    let mut app = App::new(true);
    app.on_event(Event::Started(info()));
    for step in 1..=1_000_000u64 {
        app.on_event(Event::Step(StepStats {
            step,
            epoch: 1,
            wall_s: step as f64 * 1e-3,
            loss: 1.0 / step as f64,
            grad_norm: 0.1,
            lr: 0.001,
            samples_per_s: 1000.0,
            group_norms: vec![0.1, 0.2, 0.3],
        }));
    }
    assert!(app.view().loss.points().len() <= 4096);
    let s = text(&screen(&app, UNICODE, 120, 40));
    assert!(s.contains("1,000,000"), "{s}");
}
