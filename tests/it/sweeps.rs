//! Sweeps end to end: grids and random searches times seeds, trials that
//! equal plain `rnnlab train` runs, a sweep killed and resumed, successive
//! halving, and malformed sweep files.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{BIN, root, wait_until};

fn rnnlab(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .expect("running rnnlab")
}

fn ok(args: &[&str]) -> Output {
    let out = rnnlab(args);
    assert!(
        out.status.success(),
        "rnnlab {args:?}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A sweep file over the quick start at a small size.
fn sweep_file(dir: &Path, body: &str) -> PathBuf {
    let exp = root().join("experiments/quickstart.toml");
    write(
        dir,
        "sweep.toml",
        &format!("name = \"t\"\nexperiment = \"{}\"\n{body}", exp.display()),
    )
}

const SMALL: [&str; 4] = ["--set", "data.count=300", "--set", "train.epochs=3"];

/// `step,loss` of each row of a run's metrics.csv.
fn losses(run: &Path) -> Vec<String> {
    read(&run.join("metrics.csv"))
        .lines()
        .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{},{}", f[0], f.get(3).unwrap_or(&""))
        })
        .collect()
}

/// The tensors of a run's newest checkpoint.
fn final_weights(run: &Path) -> Vec<u8> {
    let mut all = rnnlab::run::checkpoints(run).unwrap();
    let (_, newest) = all.pop().expect("a checkpoint");
    let bytes = std::fs::read(newest).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().cloned().collect();
    names.sort();
    names
        .iter()
        .flat_map(|n| st.tensor(n).unwrap().data().to_vec())
        .collect()
}

#[test]
fn a_grid_times_seeds_runs_every_trial_as_plain_training_would() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(
        dir.path(),
        "seeds = [1, 2]\n[params]\n\"train.learning_rate\" = [0.003, 0.01]\n\"model.layers.0.units\" = [8, 12]\n",
    );
    let out_dir = dir.path().join("out");
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--headless",
        "--parallel",
        "2",
    ];
    args.extend(SMALL);
    args.extend(["--sweep-dir", out_dir.to_str().unwrap()]);
    let out = ok(&args);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        out_dir.to_str().unwrap()
    );
    let trials = read(&out_dir.join("trials.csv"));
    let rows: Vec<&str> = trials.lines().collect();
    assert_eq!(rows.len(), 1 + 8, "{trials}");
    assert!(rows[0].starts_with(
        "trial,seed,train.learning_rate,model.layers.0.units,status,steps,best_valid_loss,"
    ));
    assert!(
        rows[1..].iter().all(|r| r.contains(",completed,")),
        "{trials}"
    );
    // Trial 5: learning rate 0.01, 8 units, seed 2 — as `rnnlab train` makes it.
    assert!(rows[6].starts_with("5,2,0.01,8,completed,"), "{}", rows[6]);
    let threads = {
        let t: toml::Value = toml::from_str(&read(&out_dir.join("sweep.toml"))).unwrap();
        t["threads"].as_integer().unwrap().to_string()
    };
    let alone = dir.path().join("alone");
    let mut args = vec!["train", "experiments/quickstart.toml", "--headless"];
    args.extend(SMALL);
    let sets = [
        "train.learning_rate=0.01".to_string(),
        "model.layers.0.units=8".into(),
        "seed=2".into(),
        format!("train.threads={threads}"),
    ];
    for s in &sets {
        args.extend(["--set", s.as_str()]);
    }
    args.extend(["--run-dir", alone.to_str().unwrap()]);
    ok(&args);
    let trial = out_dir.join("trials/005");
    assert_eq!(losses(&trial), losses(&alone));
    assert_eq!(final_weights(&trial), final_weights(&alone));
    // Every trial is an ordinary run directory.
    let listed = ok(&["runs", out_dir.join("trials").to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        1 + 8
    );
    // Rerunning the sweep gives the same trials.csv.
    let again = dir.path().join("again");
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--headless",
        "--parallel",
        "1",
    ];
    args.extend(SMALL);
    args.extend(["--sweep-dir", again.to_str().unwrap()]);
    ok(&args);
    assert_eq!(read(&again.join("trials.csv")), trials);
}

#[test]
fn a_random_sweep_draws_seeded_values_inside_their_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let file = sweep_file(
        dir.path(),
        "method = \"random\"\ntrials = 4\nseed = 3\n[params]\n\"train.learning_rate\" = { log_uniform = [1e-3, 1e-2] }\n\"model.layers.0.units\" = { int_uniform = [4, 12] }\n\"model.layers.0.dropout\" = { uniform = [0.0, 0.3] }\n",
    );
    let out_dir = dir.path().join("out");
    let mut args = vec!["sweep", file.to_str().unwrap(), "--headless"];
    args.extend(SMALL);
    args.extend(["--sweep-dir", out_dir.to_str().unwrap()]);
    ok(&args);
    let csv = read(&out_dir.join("trials.csv"));
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let lr: f64 = r[2].parse().unwrap();
        let units: i64 = r[3].parse().unwrap();
        let dropout: f64 = r[4].parse().unwrap();
        assert!((1e-3..1e-2).contains(&lr) && (4..=12).contains(&units));
        assert!((0.0..0.3).contains(&dropout));
        assert_eq!(r[5], "completed");
    }
    let lrs: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(lrs.len(), 4, "four different draws");
}

#[test]
fn a_sweep_killed_and_resumed_matches_one_never_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let body = "seeds = [1, 2]\n[params]\n\"train.learning_rate\" = [0.003, 0.01, 0.03]\n";
    let file = sweep_file(dir.path(), body);
    let sizes = ["--set", "data.count=300", "--set", "train.epochs=40"];
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let mut args = vec![
        "sweep",
        file.to_str().unwrap(),
        "--headless",
        "--parallel",
        "2",
    ];
    args.extend(sizes);
    let mut whole_args = args.clone();
    whole_args.extend(["--sweep-dir", whole.to_str().unwrap()]);
    ok(&whole_args);
    // The same sweep in a process group of its own, killed with SIGKILL
    // (all of it: the runner and its trials) once some trials are done.
    let mut kill_args = args.clone();
    kill_args.extend(["--sweep-dir", killed.to_str().unwrap()]);
    let child = Command::new(BIN)
        .args(&kill_args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id() as i32;
    let mut child = crate::common::Child(child);
    wait_until(
        "two trials done and more running",
        120,
        || {
            read(&killed.join("trials.csv"))
                .matches(",completed,")
                .count()
                >= 2
        },
        || read(&killed.join("events.csv")),
    );
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = child.0.wait();
    assert!(
        read(&killed.join("trials.csv"))
            .matches(",completed,")
            .count()
            < 6
    );
    ok(&["sweep", "--resume", killed.to_str().unwrap(), "--headless"]);
    assert_eq!(
        read(&killed.join("trials.csv")),
        read(&whole.join("trials.csv"))
    );
    for i in 0..6 {
        let t = format!("trials/{i:03}");
        assert_eq!(losses(&killed.join(&t)), losses(&whole.join(&t)), "{t}");
        assert_eq!(
            final_weights(&killed.join(&t)),
            final_weights(&whole.join(&t)),
            "{t}"
        );
    }
    assert!(read(&killed.join("events.csv")).contains(",resume,"));
}

#[test]
fn successive_halving_keeps_the_best_third_whatever_the_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    // Six rates, one hopeless: a third go on after the first rung.
    let body = "[params]\n\"train.learning_rate\" = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03]\n[early_stop]\nmethod = \"asha\"\nmin_steps = 30\neta = 3\n";
    let file = sweep_file(dir.path(), body);
    let mut decided = Vec::new();
    for parallel in ["1", "3"] {
        let out_dir = dir.path().join(format!("p{parallel}"));
        let mut args = vec![
            "sweep",
            file.to_str().unwrap(),
            "--headless",
            "--parallel",
            parallel,
        ];
        args.extend(["--set", "data.count=300", "--set", "train.epochs=6"]);
        args.extend(["--sweep-dir", out_dir.to_str().unwrap()]);
        ok(&args);
        let csv = read(&out_dir.join("trials.csv"));
        let statuses: Vec<String> = csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap().to_string())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| *s == "completed").count(),
            2,
            "{csv}"
        );
        assert_eq!(
            statuses.iter().filter(|s| *s == "pruned").count(),
            4,
            "{csv}"
        );
        // The two that went on had the lowest validation loss at the rung.
        let at_rung: Vec<f64> = (0..6)
            .map(|i| {
                let evals =
                    rnnlab::run::read::evals(&out_dir.join(format!("trials/{i:03}"))).unwrap();
                evals.iter().find(|e| e.step >= 30).unwrap().valid_loss
            })
            .collect();
        let mut order: Vec<usize> = (0..6).collect();
        order.sort_by(|&a, &b| at_rung[a].total_cmp(&at_rung[b]));
        let mut kept: Vec<usize> = order[..2].to_vec();
        kept.sort();
        let completed: Vec<usize> = (0..6).filter(|&i| statuses[i] == "completed").collect();
        assert_eq!(completed, kept, "{at_rung:?}");
        let events = read(&out_dir.join("events.csv"));
        assert!(
            events.contains(",promote,") && events.contains(",prune,"),
            "{events}"
        );
        decided.push((csv, read(&out_dir.join("halving.json"))));
    }
    assert_eq!(
        decided[0], decided[1],
        "the same decisions with 1 or 3 trials at once"
    );
}

/// Malformed sweep files: exit 2, the file and place, and what is wrong.
const INVALID: &[(&str, &[&str])] = &[
    (
        "unknown_key.toml",
        &["unknown_key.toml:3:1", "`metrc`", "unknown field"],
    ),
    (
        "random_only_form.toml",
        &["random_only_form.toml:5:1", "for method = \"random\""],
    ),
    (
        "unknown_param.toml",
        &["unknown_param.toml:4:1", "unknown field `learnig_rate`"],
    ),
    ("empty_grid.toml", &["empty_grid.toml:4:1", "an empty list"]),
    (
        "invalid_base.toml",
        &["zero_units.toml", "must be at least 1", "base experiment"],
    ),
    (
        "invalid_value.toml",
        &["invalid_value.toml:4:1", "model.layers.0.units = 0"],
    ),
    (
        "random_without_trials.toml",
        &["`trials`", "number of draws"],
    ),
    (
        "unknown_metric.toml",
        &["unknown_metric.toml:3:10", "valid.accuracy", "valid.rmse"],
    ),
    ("bad_range.toml", &["bad_range.toml:6:1", "0 < low < high"]),
];

#[test]
fn malformed_sweep_files_exit_2_with_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (file, words) in INVALID {
        let path = root().join("tests/invalid/sweeps").join(file);
        let out_dir = dir.path().join(file);
        let out = rnnlab(&[
            "sweep",
            path.to_str().unwrap(),
            "--headless",
            "--sweep-dir",
            out_dir.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(!err.contains("panicked"), "{file}: {err}");
        for w in *words {
            assert!(err.contains(w), "{file}: `{w}` not in:\n{err}");
        }
        assert!(!out_dir.exists(), "{file}: a sweep directory was made");
    }
}

#[test]
fn table_reports_the_mean_and_spread_over_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "table",
        "experiments/homl/03-simple-rnn.toml",
        "--set",
        "train.epochs=1",
        "--seeds",
        "3",
        "--runs-dir",
        dir.path().to_str().unwrap(),
    ]);
    let md = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = md
        .lines()
        .find(|l| l.contains("03-simple-rnn.toml"))
        .unwrap();
    assert!(row.contains(" ± ") && row.contains("(n=3)"), "{row}");
    // Three runs, one per seed: the experiment's own (42), then 1 and 2.
    let mut seeds: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let text = read(&e.unwrap().path().join("experiment.toml"));
            text.lines()
                .find(|l| l.starts_with("seed ="))
                .unwrap()
                .to_string()
        })
        .collect();
    seeds.sort();
    assert_eq!(seeds, ["seed = 1", "seed = 2", "seed = 42"]);
}
