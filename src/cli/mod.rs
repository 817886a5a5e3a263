//! The command line: one file per command family. This is the only module
//! that uses `anyhow` and chooses exit codes (0 success, 1 the run failed or
//! diverged, 2 bad input; see [`crate::error`]).

mod backtest;
pub mod bench;
mod check;
pub mod compare;
pub mod error;
mod figures;
mod output;
mod predict;
pub mod reference;
pub mod resolve;
mod retrain;
pub mod runs;
pub mod sweep;
mod train;
mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::frontend::tui::ui::Theme;
use error::CliResult;

/// Train deep stacked RNNs (simple RNN, LSTM, GRU) from experiment files.
#[derive(Parser, Debug)]
#[command(name = "rnnlab", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// How a training process shows itself.
#[derive(clap::Args, Debug)]
struct ViewArgs {
    /// Log progress as text instead of showing the dashboard.
    #[arg(long)]
    headless: bool,
    /// Draw the dashboard with ASCII characters only.
    #[arg(long)]
    ascii: bool,
}

impl RunsDirArg {
    fn runs_only(&self) -> resolve::Places<'_> {
        resolve::Places {
            runs: &self.runs_dir,
            sweeps: false,
        }
    }

    fn with_sweeps(&self) -> resolve::Places<'_> {
        resolve::Places {
            runs: &self.runs_dir,
            sweeps: true,
        }
    }
}

impl ViewArgs {
    /// The dashboard's theme, or `None` for the headless log (also without a terminal).
    fn dashboard(&self) -> Option<Theme> {
        (!self.headless && interactive()).then(|| Theme::detect(self.ascii))
    }
}

/// Where a run named by name, prefix or `latest` is looked up.
#[derive(clap::Args, Debug)]
struct RunsDirArg {
    /// The directory in which RUN names a run (by name, a unique prefix, or
    /// `latest`) when it is not a path.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    runs_dir: PathBuf,
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
        view: ViewArgs,
        /// Override a key: section.key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Where to write the run (default: runs/<name>-<YYYYmmdd-HHMMSS>).
        #[arg(long)]
        run_dir: Option<PathBuf>,
        /// Stop cleanly after the first evaluation at or after this step
        /// (final checkpoint; `resume` continues as if it had not stopped).
        #[arg(long, value_name = "STEP")]
        stop_at: Option<u64>,
        /// Also write TensorBoard event files into RUN_DIR/tensorboard/ as it trains.
        #[arg(long)]
        tensorboard: bool,
    },
    /// Continue a run from its newest checkpoint (or --from), in the same run directory.
    Resume {
        /// A run directory, or a run's name, unique prefix or `latest`.
        run: PathBuf,
        #[command(flatten)]
        place: RunsDirArg,
        /// The checkpoint to continue from: `step-N`, `N` or `best`.
        #[arg(long)]
        from: Option<String>,
        #[command(flatten)]
        view: ViewArgs,
        /// Override a [train] or [checkpoint] key, e.g. train.epochs=40 to extend a run.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Stop cleanly after the first evaluation at or after this step.
        #[arg(long, value_name = "STEP")]
        stop_at: Option<u64>,
        /// Also write TensorBoard event files into RUN_DIR/tensorboard/ as it trains.
        #[arg(long)]
        tensorboard: bool,
    },
    /// Predict with a trained model: one output row per input sequence, original units.
    Predict {
        /// A run directory (uses its newest checkpoint), or a run's name,
        /// unique prefix or `latest`.
        run: Option<PathBuf>,
        #[command(flatten)]
        place: RunsDirArg,
        /// The run's checkpoint to predict with: `step-N`, `N` or `best`.
        #[arg(long, conflicts_with = "experiment")]
        from: Option<String>,
        /// Experiment file, with --weights, instead of a run directory.
        #[arg(long, requires = "weights", conflicts_with = "run")]
        experiment: Option<PathBuf>,
        /// Weights file (safetensors) for --experiment.
        #[arg(long, requires = "experiment")]
        weights: Option<PathBuf>,
        /// CSV, one sequence per row: window × features values, time-major.
        #[arg(long, required_unless_present = "series")]
        input: Option<PathBuf>,
        /// A series CSV with the training data's columns (and time column):
        /// forecast the steps after its last window, computing the lags and
        /// calendar features as training did.
        #[arg(long, conflicts_with_all = ["input", "header", "no_header"])]
        series: Option<PathBuf>,
        /// With --series, for a model with data.future_columns: a CSV of
        /// those columns' values over the forecast steps, one row per step.
        #[arg(long, requires = "series")]
        future: Option<PathBuf>,
        /// The input's first row is a header (skipped). Without --header or
        /// --no-header, a first row of names only is a header, one of numbers
        /// and missing markers is data, and one of both is refused.
        #[arg(long, conflicts_with = "no_header")]
        header: bool,
        /// The input has no header: its first row is a sequence.
        #[arg(long)]
        no_header: bool,
        /// CSV to write.
        #[arg(long)]
        output: PathBuf,
    },
    /// Forecast a run's test part from several origins (rolling origin) and
    /// score the model beside the baselines at the same origins.
    Backtest {
        /// A run directory, or a run's name, unique prefix or `latest`.
        run: PathBuf,
        #[command(flatten)]
        place: RunsDirArg,
        /// The run's checkpoint to forecast with: `step-N`, `N` or `best`
        /// [default: the newest].
        #[arg(long)]
        from: Option<String>,
        /// Forecast origins [default: the experiment's evaluate.origins].
        #[arg(long)]
        origins: Option<usize>,
        /// Steps between origins [default: the experiment's evaluate.step].
        #[arg(long)]
        step: Option<usize>,
        /// Expanding window: at each origin train a fresh model of the run's
        /// experiment on the rows before it (one training run per origin, as
        /// a sweep in RUN/retrain-<origins>x<step>/; rerunning continues an
        /// interrupted one) and score its forecast.
        #[arg(long, conflicts_with = "from")]
        retrain: bool,
        /// With --retrain: origins trained at once [default: as the cores allow].
        #[arg(long, requires = "retrain")]
        parallel: Option<usize>,
        /// With --retrain: write a job-array script (one task per origin)
        /// instead of training here; then run `backtest --retrain` again to score.
        #[arg(long, value_enum, value_name = "SYSTEM", requires = "retrain")]
        emit: Option<Emit>,
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
        /// Run each experiment with this many seeds (its own, then 1, 2, …)
        /// and report the mean ± standard deviation.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
        seeds: u16,
    },
    /// Show a run training in another process (e.g. headless over SSH) and steer it.
    Attach {
        /// A run or sweep directory, or a run's (sweep's) name, unique prefix or `latest`.
        run: PathBuf,
        #[command(flatten)]
        place: RunsDirArg,
        /// Draw with ASCII characters only.
        #[arg(long)]
        ascii: bool,
    },
    /// Play a recorded run back in the dashboard.
    Replay {
        /// A run or sweep directory, or a run's (sweep's) name, unique prefix or `latest`.
        run: PathBuf,
        #[command(flatten)]
        place: RunsDirArg,
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
        /// Run directories, or runs' names, unique prefixes or `latest`.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        #[command(flatten)]
        place: RunsDirArg,
        /// Group runs that differ only in their seed: mean with a min–max
        /// band (--csv and --json: mean, standard deviation and count).
        #[arg(long)]
        by_seed: bool,
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
    /// Export runs or sweeps: TensorBoard event files, one folder per run
    /// (a sweep's hyperparameters for TensorBoard's HParams view).
    Export {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The folder to write TensorBoard event files into.
        #[arg(long, value_name = "OUT_DIR")]
        tensorboard: PathBuf,
    },
    /// Run a sweep: many trials of an experiment with some keys varied and
    /// several seeds; prints the sweep directory.
    Sweep {
        /// The sweep file.
        #[arg(required_unless_present = "resume", conflicts_with = "resume")]
        sweep: Option<PathBuf>,
        /// Continue a stopped or killed sweep: finished trials are kept,
        /// interrupted ones resume from their checkpoints.
        #[arg(long, value_name = "SWEEP_DIR")]
        resume: Option<PathBuf>,
        #[command(flatten)]
        view: ViewArgs,
        /// Where to write the sweep (default: sweeps/<name>-<YYYYmmdd-HHMMSS>).
        #[arg(long, conflicts_with = "resume")]
        sweep_dir: Option<PathBuf>,
        /// Trials at once (default: the sweep file's `parallel`; 0 = as the cores allow).
        #[arg(long)]
        parallel: Option<usize>,
        /// Override a key of every trial: section.key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
        sets: Vec<String>,
        /// Plan the sweep and write a job-array script instead of running it.
        #[arg(long, value_enum, value_name = "SYSTEM")]
        emit: Option<Emit>,
    },
    /// Run one trial of a planned sweep (what each Slurm array task runs).
    SweepTrial {
        sweep_dir: PathBuf,
        index: usize,
        /// Stop cleanly after the first evaluation at or after this step.
        #[arg(long, value_name = "STEP")]
        stop_at: Option<u64>,
    },
    /// Time one training step and one inference pass of the standard
    /// configurations; with --compare, beside PyTorch.
    Bench {
        /// Timed runs per pass and configuration [default: 30; 5 with --deepbench or --sweep].
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        runs: Option<u16>,
        /// Only configurations whose name contains this.
        #[arg(long, visible_alias = "only", value_name = "NAME")]
        config: Option<String>,
        /// This CPU's peak fp32 GFLOP/s, to report % of peak.
        #[arg(long)]
        peak_gflops: Option<f64>,
        /// Threads for matrix products (and for PyTorch with --compare).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Also time PyTorch (scripts/torch_bench.py) and print the ratio.
        #[arg(long)]
        compare: bool,
        /// The Python interpreter (with torch) for --compare.
        #[arg(long, default_value = "python3", requires = "compare")]
        python: String,
        /// DeepBench's RNN training shapes instead, beside its published V100 times.
        #[arg(long, conflicts_with = "compare")]
        deepbench: bool,
        /// A grid of shapes (every cell; batch 1–256, T up to 1000, up to 1024
        /// units, 1–4 layers) instead of the standard configurations [default
        /// runs: 5].
        #[arg(long, conflicts_with = "deepbench")]
        sweep: bool,
        /// Internal: measure the configuration named exactly by --config and
        /// print the result as JSON (each configuration runs in a child).
        #[arg(long, hide = true, requires = "config")]
        child: bool,
    },
}

/// Job systems `sweep --emit` and `backtest --retrain --emit` write scripts for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Emit {
    Slurm,
}

/// Runs the command line and turns its result into the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = crate::kernels::simd::from_env()
        .map_err(error::CliError::from)
        .and_then(|_| crate::kernels::fp::from_env().map_err(error::CliError::from))
        .and_then(|_| {
            // This thread and the global pool (predict, readers) flush
            // subnormals like the trainer's own pools.
            crate::kernels::fp::init_thread();
            let _ = crate::kernels::fp::pool(0).build_global();
            run(cli)
        });
    match result {
        Ok(code) => code,
        Err(e) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::note(&format!("error: {e}"));
            ExitCode::from(e.code)
        }
    }
}

fn run(cli: Cli) -> CliResult<ExitCode> {
    match cli.command {
        Cmd::Check { experiment, sets } => check::check(&experiment, &sets),
        Cmd::Train {
            experiment,
            view,
            sets,
            run_dir,
            stop_at,
            tensorboard,
        } => {
            let options = crate::train::Options {
                stop_at,
                tensorboard,
            };
            train::train(&experiment, &sets, run_dir, view.dashboard(), options)
        }
        Cmd::Resume {
            run,
            place,
            from,
            view,
            sets,
            stop_at,
            tensorboard,
        } => {
            let options = crate::train::Options {
                stop_at,
                tensorboard,
            };
            let run = resolve::run(&run, &place.runs_only())?;
            train::resume(&run, from.as_deref(), &sets, view.dashboard(), options)
        }
        Cmd::Predict {
            run,
            place,
            from,
            experiment,
            weights,
            input,
            series,
            future,
            header,
            no_header,
            output,
        } => {
            let run = match run {
                Some(r) => Some(resolve::run(&r, &place.runs_only())?),
                None => None,
            };
            let header = (header || no_header).then_some(header);
            let input = match (&series, &input) {
                (Some(s), _) => predict::Input::Series(s, future.as_deref()),
                (None, Some(i)) => predict::Input::Windows(i, header),
                (None, None) => {
                    return Err(error::CliError::bad_input(
                        "give --input (windows, one per row) or --series (a series CSV to forecast the end of)",
                    ));
                }
            };
            predict::predict(run, from.as_deref(), experiment, weights, input, &output)
        }
        Cmd::Backtest {
            run,
            place,
            from,
            origins,
            step,
            retrain,
            parallel,
            emit,
        } => {
            let run = resolve::run(&run, &place.runs_only())?;
            if retrain {
                let args = retrain::RetrainArgs {
                    origins,
                    step,
                    parallel,
                    emit_slurm: emit == Some(Emit::Slurm),
                };
                return retrain::command(&run, &args);
            }
            backtest::backtest(&run, from.as_deref(), origins, step)
        }
        Cmd::Table {
            experiments,
            sets,
            runs_dir,
            output,
            seeds,
        } => reference::command(
            &experiments,
            &sets,
            &runs_dir,
            output.as_deref(),
            seeds.into(),
        ),
        Cmd::Replay { run, place, ascii } => {
            watch::replay(&resolve::run(&run, &place.with_sweeps())?, ascii)
        }
        Cmd::Attach { run, place, ascii } => {
            watch::attach(&resolve::run(&run, &place.with_sweeps())?, ascii)
        }
        Cmd::Runs { dir, json } => runs::command(&dir, json),
        Cmd::Compare {
            runs,
            place,
            by_seed,
            csv,
            json,
            ascii,
        } => {
            let runs = runs
                .iter()
                .map(|r| resolve::run(r, &place.runs_only()))
                .collect::<CliResult<Vec<_>>>()?;
            compare::command(&runs, by_seed, csv, json, ascii)
        }
        Cmd::Sweep {
            sweep: file,
            resume,
            view,
            sweep_dir,
            parallel,
            sets,
            emit,
        } => sweep::sweep(sweep::SweepArgs {
            file,
            resume,
            sweep_dir,
            parallel,
            sets,
            emit_slurm: emit == Some(Emit::Slurm),
            dashboard: view.dashboard(),
        }),
        Cmd::Export { paths, tensorboard } => {
            let done = crate::frontend::tensorboard::export(&paths, &tensorboard)?;
            output::note(&format!(
                "wrote {} scalars of {} run{} to {}; view them with: tensorboard --logdir {}",
                done.scalars,
                done.runs.len(),
                if done.runs.len() == 1 { "" } else { "s" },
                tensorboard.display(),
                tensorboard.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::SweepTrial {
            sweep_dir,
            index,
            stop_at,
        } => sweep::sweep_trial(&sweep_dir, index, stop_at),
        Cmd::Bench {
            runs,
            config,
            peak_gflops,
            threads,
            compare,
            python,
            deepbench,
            sweep,
            child,
        } => {
            let settings = bench::Settings {
                runs: runs.map_or(if deepbench || sweep { 5 } else { 30 }, usize::from),
                deepbench,
                sweep,
                child,
                filter: config,
                peak_gflops,
                threads: threads.into(),
                compare: compare.then_some(python),
            };
            output::print(&bench::run(&settings)?)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether a person is at a terminal: the dashboard needs stdin and stdout on a tty.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}
