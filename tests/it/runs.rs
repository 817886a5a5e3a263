//! `rnnlab runs` and `rnnlab compare` on hand-made run directories.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rnnlab::cli::runs;
use rnnlab::events::Status;
use rnnlab::run::Summary;

/// A run's summary as the trainer writes it.
fn summary(name: &str, status: Status, started: &str, steps: u64) -> Summary {
    Summary {
        name: name.into(),
        status,
        started: started.into(),
        model: "gru(20) → dense(1)".into(),
        parameters: 1300,
        steps,
        epochs: 2,
        wall_s: 3725.4,
        best_valid_loss: Some(0.0125),
        best_step: Some(steps),
        best_valid: BTreeMap::from([("mse".into(), 0.002)]),
        test: BTreeMap::from([("mse".into(), 0.00213), ("rmse".into(), 0.0462)]),
        baselines: vec![],
        message: None,
        backtest: None,
        backtest_retrained: None,
        series: Vec::new(),
        calibration: None,
    }
}

/// A run directory with an experiment file and, if given, a summary.
fn run_dir(root: &Path, name: &str, summary: Option<&Summary>) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir_all(dir.join("checkpoints")).unwrap();
    fs::write(dir.join("experiment.toml"), "name = \"x\"\n").unwrap();
    if let Some(s) = summary {
        fs::write(
            dir.join("summary.json"),
            serde_json::to_string_pretty(s).unwrap(),
        )
        .unwrap();
    }
    dir
}

/// Writes metrics.csv and eval.csv: `steps` steps with a decaying loss
/// (time constant `tau`) and an evaluation every `every` steps.
fn curves(dir: &Path, steps: u64, tau: f64, every: u64) {
    let mut metrics = String::from(
        "step,epoch,wall_s,loss,grad_norm,lr,samples_per_s,grad_norm.layers.0,grad_norm.head\n",
    );
    let mut eval = String::from("step,epoch,wall_s,valid_loss,mse,rmse,mae\n");
    for s in 1..=steps {
        let wobble = ((s * 7919) % 13) as f64 / 130.0;
        let loss = 0.3 * (-(s as f64) / tau).exp() + 0.01 * (1.0 + wobble);
        let grad = 0.2 + 2.0 * (-(s as f64) / tau).exp() + wobble;
        metrics.push_str(&format!(
            "{s},1,{:.3},{loss},{grad},0.001,1000.0,{grad},0.1\n",
            s as f64 * 0.01
        ));
        if s % every == 0 {
            let valid = loss * 1.3;
            eval.push_str(&format!(
                "{s},1,{:.3},{valid},{valid},{},{}\n",
                s as f64 * 0.01,
                valid.sqrt(),
                valid.sqrt() * 0.8
            ));
        }
    }
    fs::write(dir.join("metrics.csv"), metrics).unwrap();
    fs::write(dir.join("eval.csv"), eval).unwrap();
}

#[test]
fn runs_are_listed_by_start_time_with_question_marks_for_the_unknown() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // Names sort differently from start times; offsets differ too.
    let late = summary("a", Status::Completed, "2026-11-26T12:00:00+01:00", 528);
    run_dir(r, "a-late", Some(&late));
    let early = summary("b", Status::Running, "2026-11-26T12:30:00+02:00", 40);
    run_dir(r, "b-early", Some(&early));
    let missing = run_dir(r, "c-missing", None);
    let broken = run_dir(r, "d-broken", None);
    fs::write(broken.join("summary.json"), "{\"status\": \"comp").unwrap();
    // Not runs: a plain file, an empty directory.
    fs::write(r.join("notes.txt"), "x").unwrap();
    fs::create_dir(r.join("empty")).unwrap();
    // No summary: ordered by modification time, i.e. now, after the 2026 runs… unless the
    // clock is before them; make the order independent of that.
    let old = fs::File::open(&missing).unwrap();
    old.set_modified(std::time::UNIX_EPOCH).unwrap();
    let old = fs::File::open(&broken).unwrap();
    old.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(60))
        .unwrap();

    let rows = runs::list(r).unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["c-missing", "d-broken", "b-early", "a-late"]);
    assert_eq!(
        runs::table(&rows),
        "\
name       status     steps  best valid         test     wall  started
c-missing  ?              ?           ?            ?        ?  ?
d-broken   ?              ?           ?            ?        ?  ?
b-early    running?      40      0.0125  mse 0.00213  1:02:05  2026-11-26 12:30
a-late     completed    528      0.0125  mse 0.00213  1:02:05  2026-11-26 12:00
"
    );

    let json: serde_json::Value = serde_json::from_str(&runs::report(r, true).unwrap()).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(4));
    assert_eq!(json[0]["status"], "?");
    assert_eq!(json[0]["steps"], serde_json::Value::Null);
    assert_eq!(json[3]["steps"], 528);
    assert_eq!(json[3]["test"], serde_json::json!(["mse", 0.00213]));
    assert_eq!(json[3]["started"], "2026-11-26T12:00:00+01:00");
}

#[test]
fn the_table_fits_80_columns_and_uses_a_wider_terminal() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for (i, name) in [
        "quickstart-20261126-120000",
        "sentiment-gru-20261126-130512",
    ]
    .iter()
    .enumerate()
    {
        let mut s = summary(name, Status::Completed, "2026-11-26T12:00:00+01:00", 27_350);
        if i == 1 {
            s.test = BTreeMap::from([("accuracy".into(), 0.8123)]);
        }
        run_dir(r, name, Some(&s));
    }
    let rows = runs::list(r).unwrap();
    let narrow = runs::table(&rows);
    for line in narrow.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    // Names whole; the start time gives way first.
    assert!(narrow.contains("sentiment-gru-20261126-130512"), "{narrow}");
    assert!(
        narrow.contains("accuracy 0.8123") && !narrow.contains("started"),
        "{narrow}"
    );
    let wide = runs::table_width(&rows, 120);
    assert!(
        wide.contains("started") && wide.contains("2026-11-26 12:00"),
        "{wide}"
    );
    let middle = runs::table_width(&rows, 100);
    assert!(
        middle.contains("11-26 12:00") && !middle.contains("2026-"),
        "{middle}"
    );
}

#[test]
fn a_running_run_is_running_only_while_its_lock_is_held() {
    let root = tempfile::tempdir().unwrap();
    let s = summary("x", Status::Running, "2026-11-26T12:00:00Z", 10);
    let dir = run_dir(root.path(), "x", Some(&s));
    assert_eq!(runs::list(root.path()).unwrap()[0].status, "running?");
    let lock = rnnlab::run::RunLock::acquire(&dir).unwrap();
    assert_eq!(runs::list(root.path()).unwrap()[0].status, "running");
    drop(lock);
    assert_eq!(runs::list(root.path()).unwrap()[0].status, "running?");
}

#[test]
fn empty_and_missing_directories() {
    let root = tempfile::tempdir().unwrap();
    let shown = root.path().display().to_string();
    assert_eq!(
        runs::report(root.path(), false).unwrap(),
        format!("no runs in {shown}\n")
    );
    assert_eq!(runs::report(root.path(), true).unwrap(), "[]\n");
    let gone = root.path().join("nope");
    let err = runs::list(&gone).unwrap_err();
    assert!(
        format!("{err:#}").contains(&gone.display().to_string()),
        "{err:#}"
    );
}

mod compare {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use rnnlab::frontend::compare::{Comparison, render};
    use rnnlab::run::read::named_runs;

    /// `rnnlab compare --csv` of `runs`, or its error in words.
    fn compare_csv(runs: &[PathBuf]) -> Result<String, String> {
        let runs = named_runs(runs).map_err(|e| e.to_string())?;
        rnnlab::cli::compare::compare_csv(&runs).map_err(|e| e.to_string())
    }

    /// `rnnlab compare --json` of `runs`, or its error in words.
    fn compare_json(runs: &[PathBuf]) -> Result<String, String> {
        let runs = named_runs(runs).map_err(|e| e.to_string())?;
        rnnlab::cli::compare::compare_json(&runs).map_err(|e| e.to_string())
    }
    use rnnlab::frontend::tui::ui::Theme;

    /// Two runs: `fast` (120 steps, evaluated every 20, completed) and `slow`
    /// (100 steps, every 25, still being written: its last line is cut off).
    fn two_runs(root: &Path) -> Vec<PathBuf> {
        let s = summary("fast", Status::Completed, "2026-11-26T12:00:00Z", 120);
        let fast = run_dir(root, "fast", Some(&s));
        curves(&fast, 120, 25.0, 20);
        let slow = run_dir(root, "slow", None);
        curves(&slow, 100, 60.0, 25);
        let mut metrics = fs::read_to_string(slow.join("metrics.csv")).unwrap();
        metrics.push_str("101,1,1.01,0.0");
        fs::write(slow.join("metrics.csv"), metrics).unwrap();
        vec![fast, slow]
    }

    #[test]
    fn csv_is_long_format_with_empty_valid_loss_between_evaluations() {
        let root = tempfile::tempdir().unwrap();
        let csv = compare_csv(&two_runs(root.path())).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "run,step,loss,valid_loss,grad_norm");
        assert_eq!(lines.len(), 1 + 120 + 100, "the cut-off line is ignored");
        let row = |run: &str, step: u64| {
            let prefix = format!("{run},{step},");
            lines
                .iter()
                .find(|l| l.starts_with(&prefix))
                .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
                .unwrap()
        };
        let r = row("fast", 19);
        assert_eq!(r[3], "");
        assert!(r[2].parse::<f64>().is_ok() && r[4].parse::<f64>().is_ok());
        let r = row("fast", 20);
        assert!(r[3].parse::<f64>().unwrap() > r[2].parse::<f64>().unwrap());
        assert!(!row("slow", 75)[3].is_empty());
        assert!(lines.last().unwrap().starts_with("slow,100,"));
    }

    #[test]
    fn json_has_the_figures_of_each_run() {
        let root = tempfile::tempdir().unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&compare_json(&two_runs(root.path())).unwrap()).unwrap();
        let fast = &json[0];
        assert_eq!(fast["name"], "fast");
        assert_eq!(fast["status"], "completed");
        assert_eq!(fast["steps"], 120);
        assert_eq!(fast["wall_s"], 3725.4);
        assert_eq!(fast["best_valid_loss"], 0.0125);
        assert_eq!(fast["best_step"], 120);
        assert_eq!(fast["test"]["rmse"], 0.0462);
        assert!(fast["final_loss"].as_f64().is_some());
        // Without a summary: figures from the CSV files.
        let slow = &json[1];
        assert_eq!(slow["name"], "slow");
        assert_eq!(slow["status"], "?");
        assert_eq!(slow["steps"], 100);
        assert_eq!(slow["wall_s"], serde_json::Value::Null);
        assert_eq!(slow["best_step"], 100);
        assert_eq!(slow["test"], serde_json::json!({}));
    }

    #[test]
    fn a_missing_or_foreign_directory_is_named() {
        let root = tempfile::tempdir().unwrap();
        let mut runs = two_runs(root.path());
        runs.push(root.path().join("typo"));
        let err = compare_csv(&runs).unwrap_err().to_string();
        assert!(
            err.contains("typo") && err.contains("no such run directory"),
            "{err}"
        );
        let foreign = root.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        let err = compare_json(&[foreign]).unwrap_err().to_string();
        assert!(
            err.contains("foreign") && err.contains("not a run directory"),
            "{err}"
        );
    }

    #[test]
    fn a_corrupt_line_in_the_middle_is_an_error_naming_file_and_line() {
        let root = tempfile::tempdir().unwrap();
        let runs = two_runs(root.path());
        let path = runs[0].join("eval.csv");
        let text = fs::read_to_string(&path)
            .unwrap()
            .replacen("\n20,", "\n2x,", 1);
        fs::write(&path, text).unwrap();
        let err = compare_csv(&runs).unwrap_err();
        assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
    }

    fn screen(theme: Theme, log_y: bool, w: u16, h: u16) -> Terminal<TestBackend> {
        let root = tempfile::tempdir().unwrap();
        let data = Comparison::load(&two_runs(root.path())).unwrap();
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, &data, &theme, log_y)).unwrap();
        t
    }

    #[test]
    fn unicode_100x30() {
        let theme = Theme {
            ascii: false,
            color: true,
        };
        insta::assert_snapshot!(screen(theme, true, 100, 30).backend());
    }

    #[test]
    fn ascii_mode_draws_only_ascii() {
        let theme = Theme {
            ascii: true,
            color: false,
        };
        for (log_y, w, h) in [
            (true, 100, 30),
            (false, 80, 24),
            (true, 40, 12),
            (true, 20, 5),
        ] {
            let t = screen(theme, log_y, w, h);
            let text = t.backend().to_string();
            assert!(text.is_ascii(), "{text}");
            if w >= 80 {
                assert!(text.contains("fast") && text.contains("slow"), "{text}");
            }
        }
    }

    #[test]
    fn compare_fits_80x24_80x23_and_79x24() {
        let theme = Theme {
            ascii: false,
            color: true,
        };
        for (w, h) in [(80, 24), (80, 23), (79, 24)] {
            let t = screen(theme, true, w, h);
            let s = t.backend().to_string();
            assert!(
                s.contains("fast") && s.contains("slow") && s.contains("best"),
                "{s}"
            );
            crate::dashboard::assert_no_cut(&t);
            insta::assert_snapshot!(format!("compare_{w}x{h}"), t.backend());
        }
    }

    #[test]
    fn without_colour_runs_differ_by_glyph() {
        let theme = Theme {
            ascii: false,
            color: false,
        };
        let t = screen(theme, true, 80, 24);
        let s = t.backend().to_string();
        // Each run's curve has its glyph, and the legend names it.
        assert!(s.contains("•") && s.contains("○"), "{s}");
        assert!(s.contains(" •• fast") && s.contains(" ○○ slow"), "{s}");
        crate::dashboard::assert_no_cut(&t);
    }

    #[test]
    fn many_runs_share_the_legend() {
        let root = tempfile::tempdir().unwrap();
        let runs: Vec<PathBuf> = (0..10)
            .map(|i| {
                let dir = run_dir(root.path(), &format!("run-{i}"), None);
                curves(&dir, 30, 10.0 + i as f64, 10);
                dir
            })
            .collect();
        let data = Comparison::load(&runs).unwrap();
        let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let theme = Theme {
            ascii: true,
            color: true,
        };
        t.draw(|f| render(f, &data, &theme, false)).unwrap();
        let text = t.backend().to_string();
        assert!(text.contains("run-6") && !text.contains("run-7"), "{text}");
        assert!(text.contains("... 3 more runs"), "{text}");
    }
}
