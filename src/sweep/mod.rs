//! Sweeps: many runs of one experiment with some keys varied and several
//! seeds, run as separate processes on this machine or as a Slurm job
//! array, with successive halving to stop hopeless trials early.
//!
//! ```text
//! sweeps/<name>-<YYYYmmdd-HHMMSS>/
//!   sweep.toml     the resolved sweep and its planned trials (every key explicit)
//!   trials.csv     one row per trial: trial,seed,<swept keys>,status,steps,
//!                  best_valid_loss,<test metrics>,run_dir — rewritten atomically
//!   events.csv     time,trial,kind,detail: start, trial start/finish, promote, prune, resume, stop
//!   halving.json   successive halving's decisions so far
//!   lock           held by the process that runs the sweep (one at a time)
//!   trials/000/    an ordinary run directory per trial (replay, resume, predict, runs, compare)
//! ```

pub mod dir;
pub mod halving;
pub mod plan;
pub mod run;
pub mod slurm;
pub mod spec;

pub use dir::SweepDir;
pub use plan::{Trial, plan};
pub use spec::{Sweep, SweepError};
