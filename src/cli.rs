//! The command line: `check`, `train`, `predict`, `bench`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::data::{self, DataError, Scaler};
use crate::events::{Command, Status};
use crate::experiment::{Experiment, ExperimentError, TaskKind};
use crate::model::{Model, WeightsError};
use crate::run::{self, RunDir};
use crate::{bench, compare, control, dashboard, headless, replay, table, train};

/// Train deep stacked RNNs (simple RNN, LSTM, GRU) from experiment files.
#[derive(Parser, Debug)]
#[command(name = "rnnlab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// How a training process shows itself.
#[derive(clap::Args, Debug)]
struct View {
    /// Log progress as text instead of showing the dashboard.
    #[arg(long)]
    headless: bool,
    /// Draw the dashboard with ASCII characters only.
    #[arg(long)]
    ascii: bool,
}

impl View {
    /// The dashboard's options, or `None` for the headless log (also without a terminal).
    fn ui(&self) -> Option<dashboard::Options> {
        (!self.headless && interactive()).then(|| dashboard::Options::detect(self.ascii))
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Validate an experiment and print the model summary, data shapes and split sizes.
    Check {
        experiment: PathBuf,
        /// Override a key: section.key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Train an experiment; prints the run directory.
    Train {
        experiment: PathBuf,
        #[command(flatten)]
        view: View,
        /// Override a key: section.key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Where to write the run (default: runs/<name>-<YYYYmmdd-HHMMSS>).
        #[arg(long)]
        run_dir: Option<PathBuf>,
    },
    /// Continue a run from its newest checkpoint (or --from), in the same run directory.
    Resume {
        run: PathBuf,
        /// The checkpoint to continue from: `step-N`, `N` or `best`.
        #[arg(long)]
        from: Option<String>,
        #[command(flatten)]
        view: View,
        /// Override a [train] or [checkpoint] key, e.g. train.epochs=40 to extend a run.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Predict with a trained model: one output row per input sequence, original units.
    Predict {
        /// A run directory (uses its newest checkpoint).
        run: Option<PathBuf>,
        /// Experiment file, with --weights, instead of a run directory.
        #[arg(long, requires = "weights", conflicts_with = "run")]
        experiment: Option<PathBuf>,
        /// Weights file (safetensors) for --experiment.
        #[arg(long, requires = "experiment")]
        weights: Option<PathBuf>,
        /// CSV, one sequence per row: window × features values, time-major.
        #[arg(long)]
        input: PathBuf,
        /// CSV to write.
        #[arg(long)]
        output: PathBuf,
    },
    /// Run experiments that carry a [reference] and print a Markdown table
    /// of rnnlab's validation figures beside the published ones.
    Table {
        /// Experiment files or directories of them (e.g. experiments/homl).
        #[arg(required = true)]
        experiments: Vec<PathBuf>,
        /// Override a key in every experiment: section.key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Where the runs go.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
        /// Also write the table to this file.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Show a run training in another process (e.g. headless over SSH) and steer it.
    Attach {
        run: PathBuf,
        /// Draw with ASCII characters only.
        #[arg(long)]
        ascii: bool,
    },
    /// Play a recorded run back in the dashboard.
    Replay {
        run: PathBuf,
        /// Draw with ASCII characters only.
        #[arg(long)]
        ascii: bool,
    },
    /// List the runs in a directory: status, steps, best valid loss, test metric, wall time.
    Runs {
        /// The directory holding run directories.
        #[arg(default_value = "runs")]
        dir: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Overlay runs' loss curves and gradient norms (or print them with --csv / --json).
    Compare {
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Long-format CSV: run,step,loss,valid_loss,grad_norm.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Per-run summary as JSON.
        #[arg(long)]
        json: bool,
        /// Draw with ASCII characters only.
        #[arg(long)]
        ascii: bool,
    },
    /// Time one training step and one inference pass of the standard
    /// configurations; with --compare, beside PyTorch.
    Bench {
        /// Timed runs per pass and configuration.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..))]
        runs: u16,
        /// Only configurations whose name contains this.
        #[arg(long, visible_alias = "only", value_name = "NAME")]
        config: Option<String>,
        /// This CPU's peak fp32 GFLOP/s, to report % of peak.
        #[arg(long)]
        peak_gflops: Option<f64>,
        /// Threads for matrix products (and for PyTorch with --compare).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Also time PyTorch (bench/torch_reference.py) and print the ratio.
        #[arg(long)]
        compare: bool,
        /// The Python interpreter (with torch) for --compare.
        #[arg(long, default_value = "python3", requires = "compare")]
        python: String,
    },
}

/// Runs the command line; maps errors to exit codes (2: bad input, 1: failure).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            let bad_input = e.downcast_ref::<ExperimentError>().is_some()
                || e.downcast_ref::<DataError>().is_some()
                || e.downcast_ref::<WeightsError>().is_some()
                || e.downcast_ref::<train::state::StateError>().is_some();
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Check { experiment, sets } => check(&experiment, &sets),
        Cmd::Train {
            experiment,
            view,
            sets,
            run_dir,
        } => train_cmd(&experiment, &sets, run_dir, view.ui()),
        Cmd::Resume {
            run,
            from,
            view,
            sets,
        } => resume_cmd(&run, from.as_deref(), &sets, view.ui()),
        Cmd::Predict {
            run,
            experiment,
            weights,
            input,
            output,
        } => predict(run, experiment, weights, &input, &output),
        Cmd::Table {
            experiments,
            sets,
            runs_dir,
            output,
        } => {
            let files = table::collect(&experiments)?;
            let mut rows = Vec::new();
            for (i, f) in files.iter().enumerate() {
                eprintln!("[{}/{}] {}", i + 1, files.len(), f.display());
                rows.push(table::run_one(f, &sets, &runs_dir)?);
                eprint!("{}", table::markdown(&rows));
            }
            let md = table::markdown(&rows);
            print!("{md}");
            if let Some(out) = output {
                std::fs::write(&out, &md)
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Replay { run, ascii } => {
            if !interactive() {
                bail!(
                    "replay needs a terminal; `rnnlab compare {} --json` prints the run's figures",
                    run.display()
                );
            }
            replay::replay(&run, dashboard::Options::detect(ascii))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Attach { run, ascii } => {
            if !interactive() {
                bail!("attach needs a terminal");
            }
            let commands = steer(&run);
            match replay::attach(&run, dashboard::Options::detect(ascii), commands)? {
                replay::AttachEnd::Detached => eprintln!(
                    "detached; the run goes on (rnnlab attach {} to come back)",
                    run.display()
                ),
                replay::AttachEnd::Finished(outcome) => report(&run, &outcome),
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Runs { dir, json } => {
            print!("{}", crate::runs::report(&dir, json)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Compare {
            runs,
            csv,
            json,
            ascii,
        } => {
            if csv {
                print!("{}", compare::compare_csv(&runs)?);
            } else if json {
                println!("{}", compare::compare_json(&runs)?);
            } else if interactive() {
                compare::show(&runs, dashboard::Options::detect(ascii).theme)?;
            } else {
                bail!("compare needs a terminal for its chart; use --csv or --json in scripts");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bench {
            runs,
            config,
            peak_gflops,
            threads,
            compare,
            python,
        } => {
            let opts = bench::Options {
                runs: runs.into(),
                filter: config,
                peak_gflops,
                threads: threads.into(),
                compare: compare.then_some(python),
            };
            match bench::run(&opts) {
                Ok(report) => {
                    print!("{report}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(e.exit_code()))
                }
            }
        }
    }
}

fn check(path: &Path, sets: &[String]) -> Result<ExitCode> {
    let exp = Experiment::load(path, sets)?;
    let data = data::load(&exp)?;
    let model = Model::for_experiment(&exp, data.text.as_ref());
    println!("{}: ok", path.display());
    println!("model: {}\n", model.describe());
    print!("{}", model.summary());
    let shape = |n: usize| {
        if data.every_step {
            format!(
                "x {n}×{}×{}  y {n}×{}×{}",
                data.window, data.features, data.window, data.outputs
            )
        } else {
            format!(
                "x {n}×{}×{}  y {n}×{}",
                data.window, data.features, data.outputs
            )
        }
    };
    match &data.text {
        Some(text) => {
            let (unit, baseline) = match exp.task.kind {
                TaskKind::Classify => ("sentences", "majority-class accuracy"),
                _ => ("characters", "unigram bits per character"),
            };
            println!(
                "\ndata ({unit}, vocabulary of {} tokens{}):",
                text.vocab.len(),
                if text.classes.is_empty() {
                    String::new()
                } else {
                    format!(", classes {}", text.classes.join(", "))
                }
            );
            for (i, part) in ["train", "valid", "test "].iter().enumerate() {
                println!(
                    "  {part} {:>7}  {baseline} {:.4}",
                    text.len(i),
                    text.baseline(i)
                );
            }
        }
        None => {
            println!("\ndata (samples × steps × features):");
            println!("  train {:>7}  {}", data.train.len, shape(data.train.len));
            println!("  valid {:>7}  {}", data.valid.len, shape(data.valid.len));
            println!("  test  {:>7}  {}", data.test.len, shape(data.test.len));
        }
    }
    let per_epoch = data.batches_per_epoch(exp.train.batch_size) as u64;
    let mut total = per_epoch * exp.train.epochs as u64;
    if exp.train.max_steps > 0 {
        total = total.min(exp.train.max_steps);
    }
    println!(
        "\ntraining: {total} steps ({} epochs × {per_epoch} steps of batch {}, max_steps {}), {:?} lr {}",
        exp.train.epochs,
        exp.train.batch_size,
        exp.train.max_steps,
        exp.train.optimizer,
        exp.train.learning_rate
    );
    for b in &data.baselines {
        println!("baseline {}: valid mse {:.6}", b.name, b.valid.mse);
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether a person is at a terminal: the dashboard needs stdin and stdout on a tty.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

fn train_cmd(
    path: &Path,
    sets: &[String],
    run_dir: Option<PathBuf>,
    ui: Option<dashboard::Options>,
) -> Result<ExitCode> {
    let exp = Experiment::load(path, sets)?;
    let data = data::load(&exp)?;
    let model = Model::for_experiment(&exp, data.text.as_ref());
    let run = RunDir::create(&exp, run_dir, &data.scaler)?;
    let run_path = run.path.clone();
    println!("{}", run_path.display());
    let handle = train::spawn(exp, data, model, run, None);
    follow(handle, &run_path, ui)
}

/// Shows a running trainer in the dashboard or the headless log until it ends,
/// while `rnnlab attach` can steer it through the run's control socket.
fn follow(
    handle: train::Handle,
    run_path: &Path,
    ui: Option<dashboard::Options>,
) -> Result<ExitCode> {
    let server = match control::ControlServer::start(run_path, handle.commands.clone()) {
        Ok(server) => Some(server),
        Err(e @ control::ControlError::AlreadyRunning { .. }) => {
            let _ = handle.commands.send(Command::Stop);
            let _ = handle.join();
            return Err(e.into());
        }
        Err(e) => {
            eprintln!("warning: {e}; `rnnlab attach` cannot steer this run");
            None
        }
    };
    // Ctrl-C (SIGINT) stops cleanly: final checkpoint, summary status `stopped`.
    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = interrupt.clone();
    let stop = handle.commands.clone();
    let headless = ui.is_none();
    let _ = ctrlc::set_handler(move || {
        flag.store(true, Ordering::SeqCst);
        if headless {
            let _ = stop.send(Command::Stop);
        }
    });
    match ui {
        Some(options) => {
            let log = run_path.join("dashboard.log");
            dashboard::run(
                &handle.events,
                Some(&handle.commands),
                interrupt,
                options,
                Some(&log),
            )?;
        }
        None => headless::follow(&handle.events),
    }
    let outcome = handle.join()?;
    drop(server);
    if !headless {
        report(run_path, &outcome);
    }
    Ok(match outcome.status {
        Status::Completed | Status::Stopped => ExitCode::SUCCESS,
        Status::Diverged | Status::Failed | Status::Running => ExitCode::from(1),
    })
}

/// Keys `resume --set` may change: the run's data and model are fixed.
const RESUMABLE: [&str; 2] = ["train.", "checkpoint."];

fn resume_cmd(
    run_path: &Path,
    from: Option<&str>,
    sets: &[String],
    ui: Option<dashboard::Options>,
) -> Result<ExitCode> {
    for set in sets {
        if !RESUMABLE.iter().any(|p| set.trim_start().starts_with(p)) {
            return Err(ExperimentError {
                file: run_path.join("experiment.toml"),
                location: None,
                key: None,
                set_by: Some(set.clone()),
                message: "a resumed run keeps its data and model; only [train] and [checkpoint] keys can change".into(),
                hint: Some("e.g. --set train.epochs=40 extends the run; start a new run to change anything else".into()),
            }
            .into());
        }
    }
    if !run_path.join("metrics.csv").is_file() {
        bail!(
            "{} is not a run directory (no metrics.csv)",
            run_path.display()
        );
    }
    if control::is_live(run_path) {
        bail!(
            "{} is still training in another process; attach to it with `rnnlab attach {}`",
            run_path.display(),
            run_path.display()
        );
    }
    let exp = Experiment::load(&run_path.join("experiment.toml"), sets)?;
    let data = data::load(&exp)?;
    let mut model = Model::for_experiment(&exp, data.text.as_ref());
    let weights = match from {
        Some("best") => run_path.join("checkpoints/best.safetensors"),
        Some(name) => {
            let stem = name.trim_end_matches(".safetensors");
            let stem = if stem.starts_with("step-") {
                stem.to_string()
            } else {
                format!("step-{stem}")
            };
            run_path
                .join("checkpoints")
                .join(format!("{stem}.safetensors"))
        }
        None => {
            let mut all = run::checkpoints(run_path)?;
            all.retain(|(_, p)| run::state_path(p).is_file());
            all.pop().map(|(_, p)| p).with_context(|| {
                format!("{} has no checkpoint to resume from", run_path.display())
            })?
        }
    };
    if !weights.is_file() {
        bail!(
            "no checkpoint {}; see the checkpoints/ folder of the run",
            weights.display()
        );
    }
    model.load_weights(&weights)?;
    let state_file = run::state_path(&weights);
    let bytes = std::fs::read(&state_file).with_context(|| {
        format!(
            "cannot read {} (the checkpoint's training state)",
            state_file.display()
        )
    })?;
    let (state, (m, v)) = train::state::decode(&bytes, &state_file, &model)?;
    let started = std::fs::read_to_string(run_path.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<run::Summary>(&t).ok())
        .map(|s| s.started);
    let run = RunDir::reopen(&exp, run_path.to_path_buf(), state.step)?;
    let from = weights
        .file_name()
        .map_or(String::new(), |n| n.to_string_lossy().to_string());
    println!("{}", run_path.display());
    let resume = train::Resume {
        state,
        m,
        v,
        from,
        started,
    };
    let handle = train::spawn(exp, data, model, run, Some(resume));
    follow(handle, run_path, ui)
}

/// A channel to the run's control socket. A run that is just starting may not
/// have its socket yet, so this waits a little for it; a finished run needs none.
fn steer(run: &Path) -> Option<std::sync::mpsc::Sender<Command>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match control::ControlClient::connect(run) {
            Ok(client) => return Some(control::forwarder(client)),
            Err(e) => {
                if matches!(crate::run::read::outcome(run), Ok(Some(_))) {
                    return None;
                }
                if std::time::Instant::now() > deadline {
                    eprintln!("note: {e}; showing the run without steering");
                    return None;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
}

/// After the dashboard closes: how the run ended, on stderr.
fn report(run: &Path, outcome: &crate::events::Outcome) {
    let status = format!("{:?}", outcome.status).to_lowercase();
    let message = outcome
        .message
        .as_deref()
        .map_or(String::new(), |m| format!(": {m}"));
    eprintln!("{status} after {} steps{message}", outcome.steps);
    if let Ok(text) = std::fs::read_to_string(run.join("summary.json")) {
        if let Ok(s) = serde_json::from_str::<run::Summary>(&text) {
            if let (Some(best), Some(step)) = (s.best_valid_loss, s.best_step) {
                eprintln!("best valid loss {best:.6} at step {step}");
            }
        }
    }
    eprintln!("run directory: {}", run.display());
}

fn predict(
    run_dir: Option<PathBuf>,
    experiment: Option<PathBuf>,
    weights: Option<PathBuf>,
    input: &Path,
    output: &Path,
) -> Result<ExitCode> {
    let (exp, weights, scaler) = match (run_dir, experiment, weights) {
        (Some(dir), None, None) => {
            let exp = Experiment::load(&dir.join("experiment.toml"), &[])?;
            let (_, newest) = run::checkpoints(&dir)?
                .pop()
                .with_context(|| format!("{} has no checkpoint yet", dir.display()))?;
            let scaler_path = dir.join("scaler.json");
            let text = std::fs::read_to_string(&scaler_path)
                .with_context(|| format!("cannot read {}", scaler_path.display()))?;
            (exp, newest, Scaler::from_json(&text)?)
        }
        (None, Some(exp), Some(w)) => {
            let exp = Experiment::load(&exp, &[])?;
            // The normalisation is refitted on the training part, as in training.
            let scaler = data::load(&exp)?.scaler;
            (exp, w, scaler)
        }
        _ => bail!("give a run directory, or --experiment with --weights"),
    };
    if exp.model.embedding.is_some() {
        bail!(
            "`rnnlab predict` reads numeric windows from a CSV; this is a text model ({:?}): \
             its predictions and samples are in the run's predictions.jsonl",
            exp.task.kind
        );
    }
    let mut model = Model::for_experiment(&exp, None);
    model.load_weights(&weights)?;
    let window = exp.data.window;
    let features = exp.input_features();
    let mut seqs = data::read_sequences(input, window, features, scaler.transform)?;
    let n = seqs.len() / (window * features);
    scaler.scale_inputs(&mut seqs);
    // Sample-major → time-major.
    let mut x = vec![0.0; seqs.len()];
    for b in 0..n {
        for t in 0..window {
            let src = (b * window + t) * features;
            let dst = (t * n + b) * features;
            x[dst..dst + features].copy_from_slice(&seqs[src..src + features]);
        }
    }
    let mut y = train::forecast(&model, &exp, &x, n, window);
    scaler.unscale_target(&mut y);
    let k = y.len() / n.max(1);
    let mut w = csv::Writer::from_path(output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let header: Vec<String> = (1..=k).map(|i| format!("y_{i}")).collect();
    w.write_record(&header)?;
    for row in y.chunks(k.max(1)) {
        w.write_record(row.iter().map(|v| v.to_string()))?;
    }
    w.flush()?;
    eprintln!("wrote {n} predictions × {k} values to {}", output.display());
    Ok(ExitCode::SUCCESS)
}
