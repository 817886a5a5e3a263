//! The sweep board's state: the trials as `trials.csv` has them, each
//! trial's validation curve and a sparkline of its training loss, the
//! table's sort and selection, and what the overlay is coloured by. Folded
//! from the sweep directory by [`Board::refresh`]; keys become [`Action`]s.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::run::lock;
use crate::run::read::{self, Spread};
use crate::sweep::SweepDir;
use crate::sweep::dir::TrialRow;

/// Training-loss values kept per trial for its sparkline.
pub const SPARK: usize = 24;

/// How often the sparklines (the whole training log of each running trial)
/// are read again.
pub const SPARK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A trial's curves.
#[derive(Debug, Clone, Default)]
pub struct TrialCurves {
    /// The sweep's metric at each evaluation: (step, value).
    pub metric: Vec<(f64, f64)>,
    /// The training loss, sampled evenly over the run (for a sparkline).
    pub spark: Vec<f64>,
    /// Whether these can no longer change (the trial is over).
    pub settled: bool,
}

/// A column of the table, which it can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Trial,
    Status,
    Step,
    /// The i-th swept key.
    Param(usize),
    Best,
}

/// What colours the overlay's curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorBy {
    Rank,
    /// The i-th swept key's value.
    Param(usize),
}

/// Everything a key can do on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    /// Sort by the next column; again on the same column reverses.
    NextSort,
    Reverse,
    NextColor,
    Open,
    Back,
    PauseAll,
    StopTrial,
    Quit,
    Confirm,
    Cancel,
    Help,
    ForceQuit,
}

/// The board.
pub struct Board {
    pub dir: SweepDir,
    pub rows: Vec<TrialRow>,
    pub curves: Vec<TrialCurves>,
    /// Trial indices in the order shown.
    pub order: Vec<usize>,
    /// Position of the selection in `order`.
    pub selected: usize,
    pub sort: (Column, bool),
    pub color_by: ColorBy,
    /// Rank of each trial by its best metric (1 = best); `None` without one.
    pub ranks: Vec<Option<usize>>,
    /// The latest things that happened (newest last).
    pub log: Vec<String>,
    pub message: Option<String>,
    pub paused: bool,
    pub finished: bool,
    /// Whether leaving the board leaves the sweep running (another process runs it).
    pub detaches: bool,
    pub started: Instant,
    /// When the sparklines were last read.
    sparks_read: Instant,
}

impl Board {
    pub fn new(dir: SweepDir) -> Board {
        let n = dir.trials().len();
        let mut b = Board {
            dir,
            rows: Vec::new(),
            curves: vec![TrialCurves::default(); n],
            order: (0..n).collect(),
            selected: 0,
            sort: (Column::Trial, false),
            color_by: ColorBy::Rank,
            ranks: vec![None; n],
            log: Vec::new(),
            message: None,
            paused: false,
            finished: false,
            detaches: false,
            started: Instant::now(),
            sparks_read: Instant::now(),
        };
        b.refresh();
        b
    }

    /// Reads the trials again: their rows, and the curves of those still
    /// changing — the evaluations (a small file) each time, the training
    /// loss for the sparklines at most every [`SPARK_EVERY`].
    pub fn refresh(&mut self) {
        self.rows = self.dir.rows();
        let metric = self.dir.resolved.sweep.metric.clone();
        let sparks_due = self.sparks_read.elapsed() >= SPARK_EVERY;
        if sparks_due {
            self.sparks_read = Instant::now();
        }
        for (i, t) in self.dir.trials().iter().enumerate() {
            if self.curves[i].settled || self.rows[i].status == "planned" {
                continue;
            }
            let dir = self.dir.trial_dir(t);
            let over = matches!(
                self.rows[i].status.as_str(),
                "completed" | "pruned" | "failed" | "diverged" | "stopped" | "interrupted"
            ) && !lock::is_held(&dir);
            let Ok(evals) = read::evals(&dir) else {
                continue;
            };
            self.curves[i].metric = evals
                .iter()
                .filter_map(|e| {
                    let v = match metric.strip_prefix("valid.") {
                        None => Some(e.valid_loss),
                        Some(name) => e.metrics.iter().find(|(k, _)| k == name).map(|(_, v)| *v),
                    };
                    Some((e.step as f64, v?))
                })
                .collect();
            if (sparks_due || over || self.curves[i].spark.is_empty())
                && let Ok(c) = read::curves(&dir)
            {
                let n = c.steps.len();
                self.curves[i].spark = (0..SPARK.min(n))
                    .map(|k| f64::from(c.steps[k * n / SPARK.min(n).max(1)].1))
                    .collect();
            }
            // A stopped or paused trial may go on (resume, the next rung):
            // read it again then; a finished one never changes.
            self.curves[i].settled = over
                && matches!(
                    self.rows[i].status.as_str(),
                    "completed" | "pruned" | "failed" | "diverged"
                );
        }
        self.rank();
        self.resort();
    }

    /// A trial's best metric so far.
    pub fn best(&self, trial: usize) -> Option<f64> {
        let values = self.curves[trial]
            .metric
            .iter()
            .map(|p| p.1)
            .filter(|v| v.is_finite());
        if self.dir.resolved.sweep.maximize {
            values.reduce(f64::max)
        } else {
            values.reduce(f64::min)
        }
    }

    fn rank(&mut self) {
        let maximize = self.dir.resolved.sweep.maximize;
        let mut with: Vec<(usize, f64)> = (0..self.rows.len())
            .filter_map(|i| Some((i, self.best(i)?)))
            .collect();
        with.sort_by(|a, b| {
            let o = a.1.total_cmp(&b.1);
            if maximize { o.reverse() } else { o }.then(a.0.cmp(&b.0))
        });
        self.ranks = vec![None; self.rows.len()];
        for (r, (i, _)) in with.into_iter().enumerate() {
            self.ranks[i] = Some(r + 1);
        }
    }

    /// Orders the trials by the sort column, keeping the selected trial selected.
    fn resort(&mut self) {
        let keep = self.order.get(self.selected).copied();
        let (col, descending) = self.sort;
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&self.rows[a], &self.rows[b]);
            let o = match col {
                Column::Trial => a.cmp(&b),
                Column::Status => ra.status.cmp(&rb.status),
                Column::Step => ra.steps.cmp(&rb.steps),
                Column::Param(k) => {
                    let v = |r: &TrialRow| r.params.get(k).map(|p| p.1.clone()).unwrap_or_default();
                    match (v(ra).parse::<f64>(), v(rb).parse::<f64>()) {
                        (Ok(x), Ok(y)) => x.total_cmp(&y),
                        _ => v(ra).cmp(&v(rb)),
                    }
                }
                // Ranked trials first, best first; the rest after.
                Column::Best => match (self.ranks[a], self.ranks[b]) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => a.cmp(&b),
                },
            };
            if descending { o.reverse() } else { o }.then(a.cmp(&b))
        });
        self.order = order;
        if let Some(t) = keep {
            self.selected = self.order.iter().position(|&i| i == t).unwrap_or(0);
        }
    }

    /// The trial under the selection.
    pub fn selected_trial(&self) -> Option<usize> {
        self.order.get(self.selected).copied()
    }

    /// The swept keys' count.
    pub fn params(&self) -> usize {
        self.dir.resolved.sweep.params.len()
    }

    /// Applies a board action that changes only the board's own state.
    pub fn apply(&mut self, action: Action) {
        let n = self.order.len();
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(n.saturating_sub(1)),
            Action::NextSort => {
                let columns = self.sortable();
                let at = columns.iter().position(|c| *c == self.sort.0).unwrap_or(0);
                self.sort = (columns[(at + 1) % columns.len()], false);
                self.resort();
            }
            Action::Reverse => {
                self.sort.1 = !self.sort.1;
                self.resort();
            }
            Action::NextColor => {
                self.color_by = match self.color_by {
                    ColorBy::Rank if self.params() > 0 => ColorBy::Param(0),
                    ColorBy::Param(k) if k + 1 < self.params() => ColorBy::Param(k + 1),
                    _ => ColorBy::Rank,
                };
            }
            _ => {}
        }
    }

    /// The columns the table can be sorted by, in order.
    pub fn sortable(&self) -> Vec<Column> {
        let mut c = vec![Column::Trial, Column::Status, Column::Step];
        c.extend((0..self.params()).map(Column::Param));
        c.push(Column::Best);
        c
    }

    /// The overlay's groups: one per configuration, its seeds' metric
    /// curves as a mean and (with several seeds) a min–max band.
    pub fn groups(&self) -> Vec<Group> {
        let mut by_config: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, t) in self.dir.trials().iter().enumerate() {
            by_config.entry(t.config).or_default().push(i);
        }
        by_config
            .into_iter()
            .map(|(config, trials)| {
                let mut at: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                for &t in &trials {
                    for &(s, v) in &self.curves[t].metric {
                        at.entry(s as u64).or_default().push(v);
                    }
                }
                let spread: Vec<(f64, Spread)> = at
                    .into_iter()
                    .filter_map(|(s, v)| Some((s as f64, Spread::of(v)?)))
                    .collect();
                let rank = trials.iter().filter_map(|&t| self.ranks[t]).min();
                Group {
                    config,
                    first: trials[0],
                    mean: spread.iter().map(|(x, s)| (*x, s.mean)).collect(),
                    band: (trials.len() > 1).then(|| {
                        (
                            spread.iter().map(|(x, s)| (*x, s.min)).collect(),
                            spread.iter().map(|(x, s)| (*x, s.max)).collect(),
                        )
                    }),
                    rank,
                }
            })
            .collect()
    }

    /// How many trials have each status, the most telling first.
    pub fn counts(&self) -> Vec<(&str, usize)> {
        const ORDER: [&str; 9] = [
            "running",
            "completed",
            "failed",
            "diverged",
            "interrupted",
            "stopped",
            "paused",
            "pruned",
            "planned",
        ];
        let rank = |s: &str| ORDER.iter().position(|o| *o == s).unwrap_or(ORDER.len());
        let mut c: Vec<(&str, usize)> = Vec::new();
        for r in &self.rows {
            match c.iter_mut().find(|(s, _)| *s == r.status) {
                Some((_, n)) => *n += 1,
                None => c.push((r.status.as_str(), 1)),
            }
        }
        c.sort_by_key(|(s, _)| (rank(s), s.to_string()));
        c
    }
}

/// (step, value) points.
pub type Curve = Vec<(f64, f64)>;

/// One configuration in the overlay.
#[derive(Debug, Clone)]
pub struct Group {
    pub config: usize,
    /// Its first trial (for its swept values).
    pub first: usize,
    pub mean: Vec<(f64, f64)>,
    /// The min and max curves over its seeds (with several seeds).
    pub band: Option<(Curve, Curve)>,
    /// The best rank of its trials.
    pub rank: Option<usize>,
}
