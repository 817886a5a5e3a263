//! Resume: a run stopped, or killed with SIGKILL, after a checkpoint and then
//! resumed produces the same per-step losses and bit-identical final weights
//! as the same run never interrupted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use safetensors::SafeTensors;

use crate::common::{BIN, Child, wait_until};

/// A small but real run: 2 GRU layers, dropout, Adam, 22 steps per epoch.
const BASE: [&str; 8] = [
    "--set",
    "data.count=1000",
    "--set",
    "model.layers.0.dropout=0.2",
    "--set",
    "train.batch_size=32",
    "--set",
    "checkpoint.keep_last=0",
];

fn experiment() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.toml")
}

fn rnnlab(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("running rnnlab");
    assert!(
        out.status.success(),
        "rnnlab {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn train(run: &Path, extra: &[&str]) {
    let exp = experiment();
    let mut args = vec!["train", exp.to_str().unwrap(), "--headless"];
    args.extend_from_slice(&BASE);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--run-dir", run.to_str().unwrap()]);
    rnnlab(&args);
}

fn resume(run: &Path, extra: &[&str]) {
    let mut args = vec!["resume", run.to_str().unwrap(), "--headless"];
    args.extend_from_slice(extra);
    rnnlab(&args);
}

/// `step,loss` of every row of metrics.csv.
fn losses(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{}", f[0], f[3])
        })
        .collect()
}

/// Every tensor of the newest checkpoint, by name, as raw bytes.
fn final_weights(run: &Path) -> Vec<(String, Vec<u8>)> {
    let newest = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            let step: u64 = name
                .strip_prefix("step-")?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()?;
            Some((step, name))
        })
        .max()
        .unwrap()
        .1;
    let bytes = std::fs::read(run.join("checkpoints").join(newest)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.data().to_vec()))
        .collect();
    out.sort();
    out
}

fn status(run: &Path) -> String {
    let s = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    v["status"].as_str().unwrap().to_string()
}

#[test]
fn resume_at_an_epoch_boundary_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train(&a, &["--set", "train.epochs=4"]);
    train(&b, &["--set", "train.epochs=2"]);
    assert_eq!(status(&b), "completed");
    // Extending a finished run.
    resume(&b, &["--set", "train.epochs=4"]);
    assert_eq!(losses(&a).len(), 88);
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(final_weights(&a), final_weights(&b));
    let events = std::fs::read_to_string(b.join("events.csv")).unwrap();
    assert!(
        events
            .contains(",resume,\"run resumed from step-44.safetensors, with train.epochs 2 → 4\""),
        "{events}"
    );
    assert_eq!(status(&b), "completed");
    // A complete run resumed with nothing left to do is left as it is.
    let before = std::fs::read(b.join("events.csv")).unwrap();
    let out = rnnlab(&["resume", b.to_str().unwrap(), "--headless"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("is complete (88 steps): nothing to resume"),
        "{said}"
    );
    assert_eq!(std::fs::read(b.join("events.csv")).unwrap(), before);
}

#[test]
fn resume_mid_epoch_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train(&a, &["--set", "train.epochs=3"]);
    // Stops after 15 of the first epoch's 22 batches, with a final checkpoint.
    train(
        &b,
        &["--set", "train.epochs=3", "--set", "train.max_steps=15"],
    );
    resume(&b, &["--set", "train.max_steps=0"]);
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(final_weights(&a), final_weights(&b));
    // An older checkpoint works as well: rows past it are dropped and redone.
    resume(&b, &["--from", "step-44", "--set", "train.epochs=3"]);
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(final_weights(&a), final_weights(&b));
}

/// A tiny deterministic generator for the kill times.
struct Lcg(u64);
impl Lcg {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (self.0 >> 33) % (hi - lo)
    }
}

fn newest_checkpoint(run: &Path) -> Option<u64> {
    std::fs::read_dir(run.join("checkpoints"))
        .ok()?
        .filter_map(|e| {
            let name = e.ok()?.file_name().to_string_lossy().to_string();
            name.strip_prefix("step-")?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()
        })
        .max()
}

/// Complete rows of a run's metrics.csv (the header not counted).
fn rows(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.csv"))
        .map_or(0, |t| t.matches('\n').count().saturating_sub(1))
}

#[test]
fn killed_ten_times_and_resumed_matches_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let extra = [
        "--set",
        "train.epochs=20",
        "--set",
        "checkpoint.every_steps=4",
    ];
    train(&a, &extra);
    // Kills are timed by progress, not by the clock, so that all ten land
    // before the end however loaded the machine is: the k-th comes once the
    // run has recorded a target number of rows (rows reach the disk at
    // least every second and at every evaluation), then a random few
    // milliseconds later, anywhere in a step.
    let total = rows(&a);
    assert!(total >= 200, "the uninterrupted run has {total} steps");
    let mut rng = Lcg(7);
    let targets: Vec<usize> = (1..=10).map(|k| k * total / 12).collect();
    let mut args: Vec<String> = vec![
        "train".into(),
        experiment().to_str().unwrap().into(),
        "--headless".into(),
    ];
    args.extend(BASE.iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--run-dir".into(), b.to_str().unwrap().into()]);
    for (kills, &target) in targets.iter().enumerate() {
        let mut child = Child(
            Command::new(BIN)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let context = || format!("kill {}: {} of {total} rows recorded", kills + 1, rows(&b));
        wait_until(
            &format!("{target} rows and a checkpoint"),
            120,
            || {
                assert!(child.alive(), "the run ended before kill {}", kills + 1);
                rows(&b) >= target && newest_checkpoint(&b).is_some()
            },
            context,
        );
        std::thread::sleep(Duration::from_millis(rng.next_ms(0, 30)));
        assert!(child.alive(), "the run ended before kill {}", kills + 1);
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        // Every file stays readable after the kill: replay reads the directory.
        let summary = std::fs::read_to_string(b.join("summary.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&summary).unwrap();
        let recorded =
            rnnlab::run::read::load(&b).unwrap_or_else(|e| panic!("after kill {}: {e}", kills + 1));
        assert!(recorded.outcome.is_none(), "a killed run has no outcome");
        args = vec![
            "resume".into(),
            b.to_str().unwrap().into(),
            "--headless".into(),
        ];
    }
    resume(&b, &[]);
    assert_eq!(status(&b), "completed");
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(final_weights(&a), final_weights(&b));
}

/// Rewrites the JSON state inside a state file's safetensors header.
fn edit_state(path: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut head: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut state: serde_json::Value =
        serde_json::from_str(head["__metadata__"]["state"].as_str().unwrap()).unwrap();
    edit(&mut state);
    head["__metadata__"]["state"] = serde_json::Value::String(state.to_string());
    let mut h = head.to_string().into_bytes();
    h.resize(h.len().div_ceil(8) * 8, b' ');
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&bytes[8 + n..]);
    std::fs::write(path, out).unwrap();
}

/// A state file is untrusted input: each damaged field is refused with exit
/// 2, naming the file and the field, and nothing is written to the run.
#[test]
fn damaged_state_files_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    train(&run, &["--set", "train.epochs=2"]);
    let state = run.join("checkpoints/step-44.state.safetensors");
    let original = std::fs::read(&state).unwrap();
    let metrics = std::fs::read(run.join("metrics.csv")).unwrap();
    type Edit = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "another checkpoint's state",
            Box::new(|p: &Path| {
                std::fs::copy(p.with_file_name("step-22.state.safetensors"), p).unwrap();
            }),
            "the training state is at step 22, but its checkpoint is step 44",
        ),
        (
            "an absurd wall time",
            Box::new(|p: &Path| edit_state(p, |s| s["wall_s"] = 1e300.into())),
            "`wall_s` 1",
        ),
        (
            "a negative wall time",
            Box::new(|p: &Path| edit_state(p, |s| s["wall_s"] = (-5.0).into())),
            "`wall_s` -5 is not a plausible duration",
        ),
        (
            "more updates than steps",
            Box::new(|p: &Path| edit_state(p, |s| s["optimizer_steps"] = 1000.into())),
            "1000 optimizer updates in 44 steps",
        ),
        (
            "an absurd count of stale evaluations",
            Box::new(|p: &Path| edit_state(p, |s| s["stale_evals"] = 1_000_000.into())),
            "`stale_evals`",
        ),
        (
            "a negative clip",
            Box::new(|p: &Path| edit_state(p, |s| s["clip"] = (-1.0).into())),
            "`clip`",
        ),
        (
            "a position outside the data",
            Box::new(|p: &Path| edit_state(p, |s| s["next"]["index"] = 999.into())),
            "is outside the data",
        ),
    ];
    for (what, damage, want) in cases {
        damage(&state);
        let out = Command::new(BIN)
            .args(["resume", run.to_str().unwrap(), "--headless"])
            .args(["--set", "train.epochs=3"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains("step-44.state.safetensors") && err.contains(want),
            "{what}: {err}"
        );
        assert_eq!(
            std::fs::read(run.join("metrics.csv")).unwrap(),
            metrics,
            "{what}: the run was changed"
        );
        std::fs::write(&state, &original).unwrap();
    }
}

#[test]
fn resume_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    train(&run, &["--set", "train.epochs=1"]);
    let fail = |args: &[&str], want: &str| {
        let out = Command::new(BIN).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(want),
            "{args:?}:\n{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    };
    let r = run.to_str().unwrap();
    fail(
        &["resume", r, "--headless", "--set", "model.layers.0.units=3"],
        "only [train] and [checkpoint]",
    );
    fail(
        &["resume", r, "--headless", "--from", "step-999"],
        "no checkpoint",
    );
    fail(
        &["resume", dir.path().to_str().unwrap(), "--headless"],
        "not a run directory",
    );
    // A checkpoint of another model (2 units instead of 20) is refused by name.
    let other = dir.path().join("other");
    train(
        &other,
        &["--set", "train.epochs=1", "--set", "model.layers.1.units=2"],
    );
    let foreign = run.join("checkpoints/step-22.safetensors");
    let own = std::fs::read(&foreign).unwrap();
    std::fs::copy(other.join("checkpoints/step-22.safetensors"), &foreign).unwrap();
    fail(
        &["resume", r, "--headless"],
        "but this model needs [60, 20]",
    );
    std::fs::copy(
        other.join("checkpoints/step-22.state.safetensors"),
        run.join("checkpoints/step-22.state.safetensors"),
    )
    .unwrap();
    fail(&["resume", r, "--headless"], "step-22.safetensors");
    std::fs::write(&foreign, own).unwrap();
    let state = run.join("checkpoints/step-22.state.safetensors");
    std::fs::write(&state, b"garbage").unwrap();
    fail(
        &["resume", r, "--headless"],
        "step-22.state.safetensors: not a readable trainer state",
    );
    std::fs::write(run.join("checkpoints/step-22.safetensors"), b"garbage").unwrap();
    fail(
        &["resume", r, "--headless"],
        "step-22.safetensors: not a readable safetensors file",
    );
}

#[test]
fn keep_best_keeps_the_best_model_and_resumes_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    train(
        &run,
        &[
            "--set",
            "train.epochs=3",
            "--set",
            "checkpoint.keep_best=true",
            "--set",
            "checkpoint.keep_last=1",
        ],
    );
    let ckpt = run.join("checkpoints");
    assert!(ckpt.join("best.safetensors").is_file());
    assert!(ckpt.join("best.state.safetensors").is_file());
    // keep_last prunes periodic checkpoints only.
    assert_eq!(newest_checkpoint(&run), Some(66));
    assert!(!ckpt.join("step-44.safetensors").exists());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    let best_step = summary["best_step"].as_u64().unwrap();
    resume(&run, &["--from", "best", "--set", "train.epochs=4"]);
    let events = std::fs::read_to_string(run.join("events.csv")).unwrap();
    assert!(events.contains(&format!("{best_step},")), "{events}");
    assert!(
        events.contains("run resumed from best.safetensors"),
        "{events}"
    );
    assert_eq!(status(&run), "completed");
}

/// Text runs resume exactly too: sentences batched by length (the epoch's
/// plan is rebuilt from the saved generator), and a character stream whose
/// LSTM state carries from one chunk to the next (the state is saved).
#[test]
fn text_runs_resume_mid_epoch_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let book: String = (0..200)
        .map(|i| format!("It is a truth universally acknowledged, {}.\n", i % 11))
        .collect();
    std::fs::write(dir.path().join("book.txt"), book).unwrap();
    let chars = dir.path().join("chars.toml");
    std::fs::write(
        &chars,
        r#"name = "chars"

[data]
source = "text"
path = "book.txt"
window = 16

[task]
kind = "generate"
sample_length = 20

[model]
embedding = 8

[[model.layers]]
cell = "lstm"
units = 12

[train]
learning_rate = 0.01
batch_size = 4
epochs = 2
"#,
    )
    .unwrap();
    let sentiment =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/text/sentiment-gru.toml");
    for (exp, stop) in [(chars, 40), (sentiment, 100)] {
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let _ = std::fs::remove_dir_all(&a);
        let _ = std::fs::remove_dir_all(&b);
        let run = |dir: &Path, extra: &[&str]| {
            let mut args = vec!["train", exp.to_str().unwrap(), "--headless"];
            args.extend_from_slice(&["--set", "train.epochs=2", "--set", "checkpoint.keep_last=0"]);
            args.extend_from_slice(extra);
            args.extend_from_slice(&["--run-dir", dir.to_str().unwrap()]);
            rnnlab(&args);
        };
        run(&a, &[]);
        let max = format!("train.max_steps={stop}");
        run(&b, &["--set", &max]);
        resume(&b, &["--set", "train.max_steps=0"]);
        assert!(losses(&a).len() > stop as usize, "{}", exp.display());
        assert_eq!(losses(&a), losses(&b), "{}", exp.display());
        assert_eq!(final_weights(&a), final_weights(&b), "{}", exp.display());
    }
}

/// `step` of every row of a run's CSV file (after the header).
fn steps_of(run: &Path, file: &str) -> Vec<u64> {
    std::fs::read_to_string(run.join(file))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn rows_written_after_a_checkpoint_at_its_step_are_not_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // A checkpoint every 22 steps is taken at the last step of each epoch,
    // before that epoch's evaluation: resuming from it evaluates again.
    let extra = [
        "--set",
        "train.epochs=2",
        "--set",
        "checkpoint.every_steps=22",
    ];
    train(&a, &extra);
    train(&b, &extra);
    resume(&b, &["--from", "step-22"]);
    assert_eq!(steps_of(&b, "eval.csv"), vec![22, 44]);
    assert_eq!(steps_of(&a, "eval.csv"), steps_of(&b, "eval.csv"));
    assert_eq!(losses(&a), losses(&b));
    let events = std::fs::read_to_string(b.join("events.csv")).unwrap();
    assert_eq!(
        events.matches(",checkpoint,step-22.safetensors").count(),
        1,
        "{events}"
    );
    assert_eq!(events.matches(",finish,").count(), 1, "{events}");
}

#[test]
fn resume_set_applies_train_keys_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(
        &run,
        &[
            "--set",
            "train.epochs=2",
            "--set",
            "checkpoint.every_steps=10",
        ],
    );
    resume(
        &run,
        &[
            "--from",
            "step-30",
            "--set",
            "train.epochs=3",
            "--set",
            "train.learning_rate=0.0005",
            "--set",
            "train.clip_grad_norm=0.5",
            "--set",
            "train.eval_every=11",
        ],
    );
    let events = std::fs::read_to_string(run.join("events.csv")).unwrap();
    for said in [
        "run resumed from step-30.safetensors, with train.base learning_rate 0.005 → 0.0005, train.epochs 2 → 3",
        "clip_grad_norm 0 → 0.5",
        "eval_every 0 → 11",
    ] {
        assert!(events.contains(said), "{said}\n{events}");
    }
    // The new rate is the one the optimizer used after the resume.
    let rates: Vec<String> = std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(5).unwrap().to_string())
        .collect();
    assert_eq!(rates[29], "0.005");
    assert_eq!(rates[30], "0.0005");
    assert_eq!(steps_of(&run, "eval.csv"), vec![22, 33, 44, 55, 66]);
    // Keys that cannot be honoured are refused, naming the fix.
    let out = Command::new(BIN)
        .args([
            "resume",
            run.to_str().unwrap(),
            "--headless",
            "--from",
            "step-50",
        ])
        .args(["--set", "train.batch_size=16"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("can change only at an epoch's end"), "{said}");
    let out = Command::new(BIN)
        .args(["resume", run.to_str().unwrap(), "--headless"])
        .args(["--set", "train.optimizer=\"sgd\""])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("keeps its optimizer"));
}

#[test]
fn stop_at_stops_after_the_next_evaluation_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let extra = [
        "--set",
        "train.epochs=4",
        "--set",
        "train.lr_schedule=\"cosine\"",
    ];
    train(&a, &extra);
    let mut args = extra.to_vec();
    args.extend(["--stop-at", "30"]);
    train(&b, &args);
    // Evaluations come at each epoch's end (22 steps): the first at or after 30 is 44.
    assert_eq!(status(&b), "stopped");
    assert_eq!(steps_of(&b, "eval.csv"), vec![22, 44]);
    assert_eq!(losses(&b).len(), 44);
    resume(&b, &[]);
    assert_eq!(status(&b), "completed");
    assert_eq!(steps_of(&a, "eval.csv"), steps_of(&b, "eval.csv"));
    assert_eq!(losses(&a), losses(&b));
    assert_eq!(final_weights(&a), final_weights(&b));
}
