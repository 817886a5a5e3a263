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
    assert_eq!(app.apply(Action::OpenTune), vec![]);
    for c in "3e-4".chars() {
        app.apply(Action::Type(c));
    }
    insta::assert_snapshot!("tune_form_80x24", screen(&app, UNICODE, 80, 24).backend());
    let cmd = app.apply(Action::Confirm);
    assert_eq!(
        cmd,
        vec![Command::Tune {
            key: Tunable::LearningRate,
            value: 3e-4,
            reply: Reply::default(),
        }]
    );
}

#[test]
fn invalid_tune_value_is_refused_in_the_form() {
    let mut app = app_after(events(100));
    app.apply(Action::OpenTune);
    app.apply(Action::Down);
    app.apply(Action::Type('-'));
    app.apply(Action::Type('1'));
    assert_eq!(app.apply(Action::Confirm), vec![]);
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

/// A bidirectional layer's two directions in the flow-through-time view:
/// each reads from its own oldest input (the backward direction's is at
/// t = T-1), so the forward series fading towards t = 0 and the backward
/// one fading towards t = T-1 are both flagged as vanishing, and a flat
/// backward series is not.
#[test]
fn flow_through_time_shows_both_directions_of_a_bidirectional_layer() {
    let fading_back = |t: usize| 1e-2 * (-(t as f64) / 4.0).exp();
    let snapshot = |reverse: Vec<f64>| {
        Event::Flow(FlowStats {
            step: 100,
            time: vec![
                (
                    "layers.0".into(),
                    (0..50).map(|t| fading_back(49 - t)).collect(),
                ),
                ("layers.0.reverse".into(), reverse),
            ],
            gates: Vec::new(),
        })
    };
    let with = |flow: Event| {
        let mut evs = events(100);
        evs.push(flow);
        let mut app = app_after(evs);
        app.apply(Action::CycleGrads);
        app
    };
    let app = with(snapshot((0..50).map(fading_back).collect()));
    let t = screen(&app, UNICODE, 120, 40);
    let s = text(&t);
    let line = |name: &str| {
        s.lines()
            .find(|l| l.contains(&format!("{name} t=")))
            .unwrap_or_else(|| panic!("no legend line for {name}:\n{s}"))
            .to_string()
    };
    assert!(
        line("layers.0").contains("t=0 / t=T-1") && line("layers.0").contains("vanishing"),
        "{s}"
    );
    assert!(line("layers.0.reverse").contains("t=T-1 / t=0"), "{s}");
    assert!(line("layers.0.reverse").contains("vanishing"), "{s}");
    insta::assert_snapshot!("flow_bidirectional_120x40", t.backend());
    let flat = with(snapshot(vec![0.02; 50]));
    let s = text(&screen(&flat, UNICODE, 120, 40));
    let reverse = s
        .lines()
        .find(|l| l.contains("layers.0.reverse t="))
        .unwrap();
    assert!(!reverse.contains("vanishing"), "{s}");
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
        s.contains("gate gradient norms") && s.contains("layers.1  r "),
        "{s}"
    );
    insta::assert_snapshot!("gate_norms_120x40", t.backend());
    // At 80×24 too, every layer's gates are listed.
    for theme in [UNICODE, ASCII] {
        let t = screen(&app, theme, 80, 24);
        let s = text(&t);
        assert_no_cut(&t);
        for layer in ["0", "1"] {
            assert!(
                s.contains(&format!("layers.{layer}  ")) || s.contains(&format!("l{layer}  ")),
                "layer {layer} missing:\n{s}"
            );
        }
        if !theme.ascii {
            insta::assert_snapshot!("gate_norms_80x24", t.backend());
        }
    }

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
    // Probes first, marked `?`, whole.
    assert!(s.contains("? negative 0.99  it is not good"), "{s}");
    assert!(
        s.find("it is good") < s.find("Great for the jawbone."),
        "{s}"
    );
    insta::assert_snapshot!("classified_sentences_100x30", t.backend());
    let ascii = text(&screen(&app, ASCII, 100, 30));
    assert!(
        ascii.is_ascii() && ascii.contains("+ positive 0.97"),
        "{ascii}"
    );
}

/// A quantile forecast 12 steps ahead: the 80 % interval as a shaded band
/// around the prediction, fanning out from the last observed point, named
/// in the legend; in ASCII, `:` cells.
#[test]
fn an_interval_is_a_band_around_the_prediction() {
    let mut app = app_after(events(100));
    let input: Vec<f64> = (0..36).map(|t| (t as f64 / 4.0).sin()).collect();
    let truth: Vec<f64> = (36..48).map(|t| (t as f64 / 4.0).sin() + 0.1).collect();
    let prediction: Vec<f64> = (36..48).map(|t| (t as f64 / 4.0).sin()).collect();
    // Widening with the horizon, as a forecast's uncertainty does.
    let spread = |k: usize| 0.15 + 0.04 * k as f64;
    app.on_event(Event::Predictions(Predictions {
        step: 100,
        examples: vec![Example {
            index: 0,
            input,
            truth,
            interval: Some(Band {
                levels: (0.1, 0.9),
                lower: prediction
                    .iter()
                    .enumerate()
                    .map(|(k, p)| p - spread(k))
                    .collect(),
                upper: prediction
                    .iter()
                    .enumerate()
                    .map(|(k, p)| p + spread(k))
                    .collect(),
            }),
            prediction,
        }],
        texts: Vec::new(),
    }));
    let t = screen(&app, UNICODE, 100, 30);
    let s = text(&t);
    assert!(s.contains("80% interval"), "{s}");
    // The band's cells: dark grey Braille in the plot.
    let buffer = t.backend().buffer();
    let band = buffer
        .content()
        .iter()
        .filter(|c| {
            c.fg == Color::DarkGray
                && ('\u{2801}'..='\u{28ff}').contains(&c.symbol().chars().next().unwrap_or(' '))
        })
        .count();
    assert!(band >= 6, "{band} band cells:\n{s}");
    insta::assert_snapshot!("interval_band_100x30", t.backend());
    let ascii = text(&screen(&app, ASCII, 100, 30));
    assert!(ascii.is_ascii() && ascii.contains(": 80%"), "{ascii}");
}

/// A loss that goes below 0 (a Gaussian's negative log-likelihood) is
/// drawn on a linear axis: a log axis would drop it.
#[test]
fn a_negative_loss_is_drawn_linear() {
    let shifted: Vec<Event> = events(300)
        .into_iter()
        .map(|e| match e {
            Event::Step(mut s) => {
                s.loss -= 0.1;
                Event::Step(s)
            }
            Event::Eval(mut x) => {
                x.valid_loss -= 0.1;
                Event::Eval(x)
            }
            other => other,
        })
        .collect();
    let s = text(&screen(&app_after(shifted), UNICODE, 80, 24));
    assert!(s.contains("┌ loss (ema 0.9) "), "{s}");
    assert!(
        s.contains("-0.0"),
        "the negative values are on the axis:\n{s}"
    );
    // A positive loss keeps the log axis.
    let s = text(&screen(&app_after(events(300)), UNICODE, 80, 24));
    assert!(s.contains("┌ loss (log, ema 0.9) "), "{s}");
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
        vec![Command::Tune {
            key: Tunable::Temperature,
            value: 1.2,
            reply: Reply::default(),
        }]
    );
}

#[test]
fn quit_asks_then_stops_and_freeze_holds_the_view() {
    let mut app = app_after(events(100));
    assert_eq!(app.apply(Action::Quit), vec![]);
    assert!(text(&screen(&app, UNICODE, 80, 24)).contains("stop training? (y/n)"));
    assert_eq!(app.apply(Action::Cancel), vec![]);
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
    assert_eq!(app.apply(Action::Quit), vec![]);
    assert_eq!(app.apply(Action::Confirm), vec![Command::Stop]);
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

// ---------------------------------------------------------------------------
// Every text fits: no number cut at a border, at 80×24 and in tmux's 80×23
// ---------------------------------------------------------------------------

/// The screen's rows, one string per row, every cell (no trimming).
pub(crate) fn rows(t: &Terminal<TestBackend>) -> Vec<String> {
    let buf = t.backend().buffer();
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

/// Places where a number runs into a panel's right border or the screen's
/// right edge — a digit (or a decimal point, comma or slash after one, or an
/// opening parenthesis) right before it — as `row:column: text`. Every text
/// is fitted to keep a blank column there, so anything found is a cut.
/// `width` is the screen's (tmux captures drop trailing blanks).
pub(crate) fn cut_numbers(rows: &[String], width: usize) -> Vec<String> {
    const EDGES: &str = "│┐┘|+";
    const NEXT: &str = "│┌└┐┘|+";
    let mut found = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let c: Vec<char> = row.chars().collect();
        for x in 1..c.len() {
            let at_edge = x + 1 == width;
            let border = EDGES.contains(c[x])
                && (at_edge || c.get(x + 1).is_some_and(|n| NEXT.contains(*n)));
            // The screen's last column when it is not a border: the character itself.
            let (before, prev) = if border {
                (c[x - 1], if x >= 2 { c[x - 2] } else { ' ' })
            } else if at_edge {
                (c[x], c[x - 1])
            } else {
                continue;
            };
            let cut = before.is_ascii_digit()
                || before == '('
                || (".,/".contains(before) && prev.is_ascii_digit());
            if cut {
                let start = x.saturating_sub(12);
                found.push(format!(
                    "{r}:{x}: {}",
                    c[start..=x.min(c.len() - 1)].iter().collect::<String>()
                ));
            }
        }
    }
    found
}

#[track_caller]
pub(crate) fn assert_no_cut(t: &Terminal<TestBackend>) {
    let rows = rows(t);
    let width = usize::from(t.backend().buffer().area.width);
    let cuts = cut_numbers(&rows, width);
    assert!(
        cuts.is_empty(),
        "numbers cut at {cuts:#?} in\n{}",
        rows.join("\n")
    );
}

#[test]
fn the_cut_detector_finds_cuts() {
    let rows: Vec<String> = [
        "│ train 0.0043  valid 0.0││ ok │",
        "│ (0.63 vs 0.5) fits      ││ (0.│",
        "│ 300/528│                ││  fine",
        "┌ example 1/8 (valid #0┐┌ ok ─┐  ",
        "│    │⠲⠤⣄⣀       12 ││ step 100 ",
        " step 300/528 · epoch 5/8 · 0:06",
    ]
    .map(String::from)
    .to_vec();
    let cuts = cut_numbers(&rows, 32);
    let at: Vec<&str> = cuts.iter().map(|c| c.split(':').next().unwrap()).collect();
    assert_eq!(at, ["0", "1", "3", "5"], "{cuts:#?}");
}

fn text_info(kind: &str) -> RunInfo {
    let generate = kind == "generate";
    RunInfo {
        name: format!("{kind}-demo"),
        model: if generate {
            "embedding(75×32) → lstm(128) → lstm(128) → dense(75)".into()
        } else {
            "embedding(1772×32) → gru(32) → gru(32) → dense(2)".into()
        },
        parameters: if generate { 227_115 } else { 70_000 },
        groups: vec![
            "embedding".into(),
            "layers.0".into(),
            "layers.1".into(),
            "head".into(),
        ],
        learning_rate: 0.003,
        clip_grad_norm: if generate { 5.0 } else { 1.0 },
        eval_every: if generate { 100 } else { 0 },
        target: String::new(),
        temperature: generate.then_some(0.7),
        ..info()
    }
}

/// A text run of 300 steps: evaluations with their metrics and baselines,
/// and the predictions of its kind (classified sentences, or sampled text).
fn text_events(kind: &str) -> Vec<Event> {
    let generate = kind == "generate";
    let mut out = vec![
        Event::Started(text_info(kind)),
        note(0, NoteKind::Start, "embedding → lstm → lstm → dense"),
    ];
    for step in 1..=300u64 {
        let loss = 1.2 * (-(step as f64) / 80.0).exp() + 1.4 + ((step * 7919) % 13) as f64 / 50.0;
        out.push(Event::Step(StepStats {
            step,
            epoch: 1 + (step / 100) as usize,
            wall_s: step as f64 * 0.5,
            loss,
            grad_norm: 0.5,
            lr: 0.003 * (1.0 - step as f64 / 1000.0),
            samples_per_s: 180.0,
            group_norms: vec![0.01, 0.2, 0.3, 0.4],
        }));
        if step % 100 == 0 {
            let valid = 1.3 * (-(step as f64) / 90.0).exp() + 1.45;
            let metrics = if generate {
                vec![
                    ("bits_per_char".into(), valid / std::f64::consts::LN_2),
                    ("unigram_bits_per_char".into(), 4.412_345),
                ]
            } else {
                vec![
                    ("accuracy".into(), 0.6 + step as f64 / 1500.0),
                    ("cross_entropy".into(), valid),
                    ("majority_accuracy".into(), 0.512_345),
                ]
            };
            out.push(Event::Eval(EvalStats {
                step,
                epoch: (step / 100) as usize,
                wall_s: step as f64 * 0.5,
                valid_loss: valid,
                metrics,
            }));
            let texts = if generate {
                vec![TextSample {
                    kind: TextKind::Sample,
                    text: "Elizabeth ".into(),
                    truth: None,
                    predicted: "was not the sister of the house, and she said to her \
                                sister that the 1,250 pounds a year were 0.5 of what Mr. \
                                Bingley had."
                        .into(),
                    probability: None,
                    temperature: Some(0.7),
                }]
            } else {
                vec![
                    text_sample(
                        TextKind::Valid,
                        "Great for the jawbone.",
                        Some("positive"),
                        "positive",
                        0.97,
                    ),
                    text_sample(
                        TextKind::Valid,
                        "I wasn't really impressed with the 2 year warranty they offered me.",
                        Some("negative"),
                        "positive",
                        0.61,
                    ),
                    text_sample(TextKind::Probe, "it is good", None, "positive", 0.78),
                    text_sample(
                        TextKind::Probe,
                        "the food was bad but the service was great",
                        None,
                        "negative",
                        0.99,
                    ),
                    text_sample(
                        TextKind::Probe,
                        "the service was great but the food was bad",
                        None,
                        "negative",
                        0.51,
                    ),
                ]
            };
            out.push(Event::Predictions(Predictions {
                step,
                examples: Vec::new(),
                texts,
            }));
            out.push(note(
                step,
                NoteKind::Checkpoint,
                &format!("step-{step}.safetensors"),
            ));
        }
        if step == 150 {
            out.push(note(150, NoteKind::Tune, "clip_grad_norm 5 → 0.25"));
        }
    }
    out
}

/// The run of each task kind, as the dashboard shows it at step 300.
fn task(kind: &str) -> App {
    match kind {
        "forecast" => {
            let mut evs = events(300);
            evs.insert(150, flow(100));
            app_after(evs)
        }
        _ => app_after(text_events(kind)),
    }
}

#[test]
fn every_task_kind_fits_80x24_80x23_and_79x24() {
    for kind in ["forecast", "classify", "generate"] {
        let app = task(kind);
        for (w, h) in [(80, 24), (80, 23), (79, 24)] {
            for theme in [UNICODE, ASCII] {
                let t = screen(&app, theme, w, h);
                let s = text(&t);
                // The full layout: all four panels.
                assert!(
                    s.contains("events") && s.contains("gradient"),
                    "{kind} {w}x{h}:\n{s}"
                );
                assert_no_cut(&t);
                if theme.ascii {
                    assert!(s.is_ascii(), "{s}");
                } else {
                    insta::assert_snapshot!(format!("{kind}_{w}x{h}"), t.backend());
                }
            }
        }
    }
}

#[test]
fn long_names_and_narrow_screens_are_shortened_not_cut() {
    let mut evs = events(300);
    if let Event::Started(info) = &mut evs[0] {
        info.name = "a-rather-long-experiment-name-from-a-sweep".into();
        info.model = "lstm(256) → lstm(256) → lstm(256) → gru(128) → dense(24)".into();
        info.target = "electricity_demand_in_megawatts".into();
        info.total_steps = 1_234_567;
    }
    evs.push(note(
        299,
        NoteKind::Tune,
        "learning_rate 0.0016573123456789012 → 0.00012345678901234",
    ));
    let app = app_after(evs);
    for w in [78, 79, 80, 90, 100] {
        for h in [22, 23, 24] {
            for theme in [UNICODE, ASCII] {
                assert_no_cut(&screen(&app, theme, w, h));
            }
        }
    }
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(
        s.contains("a-rather-long-experiment-name-from-a-sweep"),
        "{s}"
    );
    assert!(s.contains("0.00166 → 1.23e-4"), "{s}");
}

// ---------------------------------------------------------------------------
// The tune form: short pre-fill, Ctrl-U, refusals explained, every edit applied
// ---------------------------------------------------------------------------

fn tune(key: Tunable, value: f64) -> Command {
    Command::Tune {
        key,
        value,
        reply: Reply::default(),
    }
}

#[test]
fn the_tune_form_applies_every_edited_field_in_order() {
    let mut app = app_after(events(100));
    app.apply(Action::OpenTune);
    for c in "2e-3".chars() {
        app.apply(Action::Type(c));
    }
    // Moving on keeps the edit, shown as pending.
    app.apply(Action::Down);
    for c in "0.5".chars() {
        app.apply(Action::Type(c));
    }
    app.apply(Action::Down);
    let t = screen(&app, UNICODE, 80, 24);
    let s = text(&t);
    assert!(s.contains("2e-3 ✎") && s.contains("0.5 ✎"), "{s}");
    assert!(s.contains("↵ applies 2 changes"), "{s}");
    insta::assert_snapshot!("tune_form_two_edits_80x24", t.backend());
    assert_eq!(
        app.apply(Action::Confirm),
        vec![
            tune(Tunable::LearningRate, 2e-3),
            tune(Tunable::ClipGradNorm, 0.5)
        ]
    );
    assert!(
        app.message
            .as_deref()
            .unwrap()
            .contains("lr → 0.002, clip → 0.5")
    );

    // One invalid field: nothing is sent, the form shows the field and why.
    app.apply(Action::OpenTune);
    app.apply(Action::Type('1'));
    app.apply(Action::Down);
    app.apply(Action::Down);
    app.apply(Action::Type('2'));
    app.apply(Action::Type('.'));
    app.apply(Action::Type('5'));
    assert_eq!(app.apply(Action::Confirm), vec![]);
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(
        s.contains("eval_every: eval interval must be a whole number"),
        "{s}"
    );
    // Fixed, both go.
    app.apply(Action::Backspace);
    app.apply(Action::Backspace);
    assert_eq!(
        app.apply(Action::Confirm),
        vec![
            tune(Tunable::LearningRate, 1.0),
            tune(Tunable::EvalEvery, 2.0)
        ]
    );
}

#[test]
fn the_tune_form_prefills_short_clears_and_says_why() {
    let mut evs = events(100);
    if let Some(Event::Step(s)) = evs.iter_mut().rev().find(|e| matches!(e, Event::Step(_))) {
        // A scheduled rate with 19 digits.
        s.lr = 0.001_657_312_345_678_901_2;
    }
    let mut app = app_after(evs);
    app.apply(Action::OpenTune);
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(s.contains("learning_rate   0.00166_"), "{s}");
    assert!(
        s.contains("the rate from now on; a schedule continues from it"),
        "{s}"
    );
    // Enter without an edit changes nothing.
    assert_eq!(app.apply(Action::Confirm), vec![]);

    app.apply(Action::OpenTune);
    app.apply(Action::Type('x'));
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(s.contains("`x` is not part of a number"), "{s}");
    // Backspace edits the shown value; Ctrl-U clears it.
    app.apply(Action::Backspace);
    assert!(text(&screen(&app, UNICODE, 80, 24)).contains("0.0016_"));
    app.apply(Action::ClearField);
    assert!(text(&screen(&app, UNICODE, 80, 24)).contains("learning_rate   _"));
    assert_eq!(app.apply(Action::Confirm), vec![]);
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(s.contains("learning_rate: type a value"), "{s}");
    app.apply(Action::Cancel);
    assert_eq!(app.mode, rnnlab::frontend::tui::app::Mode::Normal);
}

#[test]
fn ctrl_u_and_any_character_reach_the_form() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use rnnlab::frontend::tui::keys;
    let mut app = app_after(events(10));
    app.apply(Action::OpenTune);
    let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
    assert_eq!(keys::action(ctrl_u, &app), Some(Action::ClearField));
    let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
    assert_eq!(keys::action(x, &app), Some(Action::Type('x')));
}

// ---------------------------------------------------------------------------
// The footer follows the state; marks of user actions; glyphs without colour
// ---------------------------------------------------------------------------

fn footer(app: &App) -> String {
    rows(&screen(app, UNICODE, 80, 24)).pop().unwrap()
}

#[test]
fn the_footer_follows_the_state() {
    let mut evs = events(100);
    let app = app_after(evs.clone());
    assert!(
        footer(&app).contains("space pause  t tune  c checkpoint  q quit"),
        "{}",
        footer(&app)
    );
    evs.push(note(100, NoteKind::Pause, ""));
    let app = app_after(evs.clone());
    let f = footer(&app);
    assert!(f.contains("space resume") && !f.contains("pause"), "{f}");
    evs.push(Event::Finished(Outcome {
        status: Status::Stopped,
        steps: 100,
        message: None,
    }));
    let app = app_after(evs);
    let f = footer(&app);
    assert!(
        f.starts_with(" q quit") && !f.contains("tune") && !f.contains("space"),
        "{f}"
    );
    // A dashboard that cannot steer offers no steering either.
    let mut ro = App::attached(false);
    for e in events(10) {
        ro.on_event(e);
    }
    let f = footer(&ro);
    assert!(f.starts_with(" q detach") && !f.contains("tune"), "{f}");
}

#[test]
fn user_actions_have_their_own_marks_and_periodic_checkpoints_none() {
    let mut evs = events(300);
    evs.push(note(280, NoteKind::Pause, ""));
    evs.push(note(280, NoteKind::Resume, ""));
    let mut app = app_after(evs);
    // `c` asks for a checkpoint; the trainer's note says it was requested.
    assert_eq!(app.apply(Action::Checkpoint), vec![Command::Checkpoint]);
    app.on_event(note(
        290,
        NoteKind::Checkpoint,
        "step-290.safetensors (requested)",
    ));
    let kinds: Vec<_> = app
        .view()
        .marks
        .iter()
        .map(|m| (m.step, m.kind.label()))
        .collect();
    assert_eq!(
        kinds,
        [
            (200, "tune"),
            (280, "pause"),
            (280, "resume"),
            (290, "checkpoint")
        ]
    );
    for (theme, glyphs) in [(UNICODE, ["▲", "▶", "◇"]), (ASCII, ["T", "R", "C"])] {
        let t = screen(&app, theme, 100, 30);
        let rows = rows(&t);
        // The step axis: the row with the axis corner inside the loss panel.
        let axis = rows
            .iter()
            .map(|r| r.chars().take(50).collect::<String>())
            .find(|r| r.starts_with("│    └") || r.starts_with("|    +-"))
            .unwrap();
        for g in glyphs {
            assert!(axis.contains(g), "{g} missing on {axis}");
        }
        // Checkpoints at 66, 132, … are not marked: 4 marks, the pause under the resume.
        let marks = axis.chars().filter(|c| "▲‖▶◇■TPRCS".contains(*c)).count();
        assert_eq!(marks, 3, "{axis}");
    }
}

#[test]
fn ascii_and_no_colour_modes_name_their_glyphs() {
    let app = app_after(events(300));
    let s = text(&screen(&app, ASCII, 80, 24));
    for legend in [
        "* train", "v valid", "@ best", "T tune", "o truth", "x pred",
    ] {
        assert!(s.contains(legend), "{legend} missing:\n{s}");
    }
    let mono = Theme {
        ascii: false,
        color: false,
    };
    let t = screen(&app, mono, 80, 24);
    let s = text(&t);
    // Without colour the series are told apart by glyph, and the legends say which.
    for legend in ["• train", "○ valid", "○ truth", "× pred"] {
        assert!(s.contains(legend), "{legend} missing:\n{s}");
    }
    assert!(
        !s.chars().any(|c| ('\u{2801}'..='\u{28FF}').contains(&c)),
        "Braille:\n{s}"
    );
    assert_no_cut(&t);
    insta::assert_snapshot!("no_colour_80x24", t.backend());
}

#[test]
fn the_loss_panel_shows_metrics_the_learning_rate_and_time() {
    let mut app = app_after(events(300));
    app.apply(Action::CycleLossView);
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(s.contains("valid mse") && s.contains("mse 0.00975"), "{s}");
    app.apply(Action::CycleLossView);
    assert!(text(&screen(&app, UNICODE, 80, 24)).contains("valid rmse"));
    app.apply(Action::CycleLossView);
    app.apply(Action::CycleLossView);
    let s = text(&screen(&app, UNICODE, 80, 24));
    assert!(s.contains("learning rate") && s.contains("lr 0.001"), "{s}");
    app.apply(Action::CycleLossView);
    app.apply(Action::ToggleWallX);
    app.apply(Action::ToggleLogX);
    app.apply(Action::SmoothMore);
    let t = screen(&app, UNICODE, 80, 24);
    let s = text(&t);
    assert!(s.contains("loss (log, ema 0.95, log x, time)"), "{s}");
    assert!(s.contains("time") && s.contains("0:0"), "{s}");
    assert_no_cut(&t);
}

#[test]
fn the_events_panel_keeps_user_actions_over_routine_lines() {
    let mut evs = events(528);
    evs.insert(400, note(250, NoteKind::Pause, ""));
    evs.insert(401, note(250, NoteKind::Resume, ""));
    evs.insert(500, note(300, NoteKind::Tune, "clip_grad_norm 0 → 1"));
    evs.push(note(528, NoteKind::Finish, "completed"));
    evs.push(Event::Finished(Outcome {
        status: Status::Completed,
        steps: 528,
        message: None,
    }));
    let app = app_after(evs);
    let s = text(&screen(&app, UNICODE, 80, 23));
    // Six lines in the 80×23 pane: two tunes, the pause (one line with its
    // resume), the best, the latest checkpoint and the end; not the start.
    for line in [
        "learning_rate 0.005 → 0.001",
        "clip_grad_norm 0 → 1",
        "▶ resumed after 0:00 paused",
        "◆ best valid",
        "(8 so far)",
        "✓ finished",
    ] {
        assert!(s.contains(line), "{line} missing:\n{s}");
    }
    assert!(!s.contains("● start"), "{s}");
}

#[test]
fn the_help_screen_lists_every_key_whole_at_80x23() {
    let mut app = app_after(events(10));
    app.apply(Action::Help);
    for theme in [UNICODE, ASCII] {
        let t = screen(&app, theme, 80, 23);
        let s = text(&t);
        for (_, what) in rnnlab::frontend::tui::keys::HINTS {
            assert!(s.contains(what), "{what} missing or cut:\n{s}");
        }
        assert!(s.contains("any key closes this help"), "{s}");
    }
    insta::assert_snapshot!("help_80x23", screen(&app, UNICODE, 80, 23).backend());
}

#[test]
fn messages_follow_what_happened() {
    let mut app = app_after(events(100));
    app.apply(Action::Checkpoint);
    assert_eq!(app.message.as_deref(), Some("checkpoint requested"));
    app.on_event(note(101, NoteKind::Checkpoint, "step-101.safetensors"));
    assert_eq!(
        app.message.as_deref(),
        Some("checkpoint saved: step-101.safetensors")
    );
    app.on_event(Event::Finished(Outcome {
        status: Status::Completed,
        steps: 101,
        message: None,
    }));
    assert_eq!(app.message, None);
}

#[test]
fn no_number_is_cut_at_any_size() {
    for kind in ["forecast", "classify", "generate"] {
        let mut app = task(kind);
        for view in 0..3 {
            for w in (40..=130).step_by(9) {
                for h in (12..=42).step_by(6) {
                    for theme in [UNICODE, ASCII] {
                        let t = screen(&app, theme, w, h);
                        let cuts = cut_numbers(&rows(&t), usize::from(w));
                        assert!(
                            cuts.is_empty(),
                            "{kind} view {view} {w}x{h}: {cuts:?}\n{}",
                            rows(&t).join("\n")
                        );
                    }
                }
            }
            // The other views of the loss panel.
            app.apply(Action::CycleLossView);
            app.apply(Action::CycleGrads);
        }
    }
}
