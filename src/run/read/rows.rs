//! The step rows of `metrics.csv`, parsed in one pass (a big chunk on
//! every core) and kept compactly: a million-step run replays in well under
//! 100 MB.

use rayon::prelude::*;

use super::PARALLEL_BYTES;
use super::parse::{field_len, float, float32};
use super::tail::Bad;
use crate::events::StepStats;
use crate::run::format::METRICS_HEAD;

/// Step rows column-wise and compact (about 36 bytes a row with three
/// groups): step numbers as runs of consecutive numbers, epochs and learning
/// rates as runs of equal values, wall time and throughput as f64, and the
/// loss and gradient norms as f32, the precision they are recorded at.
#[derive(Default)]
pub(super) struct Table {
    pub(super) groups: usize,
    rows: usize,
    /// (first row, its step) of each run of consecutive step numbers.
    steps: Vec<(usize, u64)>,
    /// (first row, epoch) of each run of rows in one epoch.
    pub(super) epochs: Vec<(usize, u32)>,
    /// (first row, rate) of each run of rows at one learning rate.
    lrs: Vec<(usize, f64)>,
    /// `wall_s, samples_per_s` per row.
    wide: Vec<f64>,
    /// `loss, grad_norm`, then one norm per group, per row.
    narrow: Vec<f32>,
}

/// The run holding `row`: the last whose first row is at most `row`.
fn run_at<T: Copy>(runs: &[(usize, T)], row: usize) -> (usize, T) {
    runs[runs.partition_point(|&(first, _)| first <= row) - 1]
}

/// Appends `value` at `row` to runs of equal values (`same` tells equal).
fn extend_runs<T: Copy>(
    runs: &mut Vec<(usize, T)>,
    row: usize,
    value: T,
    same: impl Fn(T, T) -> bool,
) {
    if !runs.last().is_some_and(|&(_, v)| same(v, value)) {
        runs.push((row, value));
    }
}

/// One parsed `metrics.csv` row.
struct Row {
    step: u64,
    epoch: u32,
    lr: f64,
    wide: [f64; 2],
}

impl Table {
    fn narrow_width(&self) -> usize {
        2 + self.groups
    }

    pub(super) fn len(&self) -> usize {
        self.rows
    }

    pub(super) fn reserve(&mut self, rows: usize) {
        self.wide.reserve(2 * rows);
        self.narrow.reserve(rows * self.narrow_width());
    }

    /// Appends a row whose loss and norms are already on `narrow`.
    fn push(&mut self, r: Row) {
        let row = self.rows;
        let next = self
            .steps
            .last()
            .map(|&(first, step)| step + (row - first) as u64);
        if next != Some(r.step) {
            self.steps.push((row, r.step));
        }
        extend_runs(&mut self.epochs, row, r.epoch, |a, b| a == b);
        extend_runs(&mut self.lrs, row, r.lr, |a, b| a.to_bits() == b.to_bits());
        self.wide.extend_from_slice(&r.wide);
        self.rows += 1;
    }

    /// Appends the rows of `other`.
    pub(super) fn append(&mut self, other: Table) {
        for i in 0..other.rows {
            self.push(Row {
                step: other.step(i),
                epoch: run_at(&other.epochs, i).1,
                lr: run_at(&other.lrs, i).1,
                wide: [other.wide[2 * i], other.wide[2 * i + 1]],
            });
        }
        self.narrow.extend_from_slice(&other.narrow);
    }

    pub(super) fn step(&self, i: usize) -> u64 {
        let (first, step) = run_at(&self.steps, i);
        step + (i - first) as u64
    }

    pub(super) fn last_step(&self) -> Option<u64> {
        self.rows.checked_sub(1).map(|i| self.step(i))
    }

    /// How many rows have a step number of at most `step` (rows are in step order).
    pub(super) fn rows_through(&self, step: u64) -> usize {
        let (mut lo, mut hi) = (0, self.rows);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.step(mid) <= step {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Parses whole `metrics.csv` rows (`chunk` starts at byte `base` of
    /// the caller's chunk), a big chunk in pieces on every core.
    pub(super) fn push_rows(&mut self, chunk: &[u8], base: usize) -> Result<(), Bad> {
        let chunk = std::str::from_utf8(chunk)
            .map_err(|e| (base + e.valid_up_to(), "not UTF-8 text".to_string()))?;
        let parts = rayon::current_num_threads();
        if chunk.len() < PARALLEL_BYTES || parts < 2 {
            return self.parse_rows(chunk, base);
        }
        let mut pieces = Vec::with_capacity(parts);
        let mut at = 0;
        for k in 1..=parts {
            let goal = (chunk.len() * k / parts).max(at);
            let end = match chunk[goal..].find('\n') {
                Some(i) if k < parts => goal + i + 1,
                _ => chunk.len(),
            };
            pieces.push((at, &chunk[at..end]));
            at = end;
        }
        let tables: Vec<Result<Table, Bad>> = pieces
            .into_par_iter()
            .map(|(at, piece)| {
                let mut t = Table {
                    groups: self.groups,
                    ..Table::default()
                };
                t.parse_rows(piece, base + at).map(|_| t)
            })
            .collect();
        for t in tables {
            self.append(t?);
        }
        Ok(())
    }

    /// Parses whole rows in one pass over the bytes; stops at the first bad one.
    fn parse_rows(&mut self, chunk: &str, base: usize) -> Result<(), Bad> {
        let mut at = 0;
        while at < chunk.len() {
            let start = at;
            if let Some(row) = self
                .parse_row(chunk, &mut at)
                .map_err(|m| (base + start, m))?
            {
                self.push(row);
            }
        }
        Ok(())
    }

    /// Parses the row at `at` (`None` for a blank line) and moves past its
    /// newline; its loss and norms go onto `narrow`.
    fn parse_row(&mut self, chunk: &str, at: &mut usize) -> Result<Option<Row>, String> {
        let start = *at;
        for blank in ["\n", "\r\n"] {
            if chunk[start..].starts_with(blank) {
                *at += blank.len();
                return Ok(None);
            }
        }
        let fields = 5 + self.narrow_width();
        let names = METRICS_HEAD
            .iter()
            .chain(std::iter::repeat(&"gradient norm"));
        let mut row = Row {
            step: 0,
            epoch: 0,
            lr: 0.0,
            wide: [0.0; 2],
        };
        let narrow = self.narrow.len();
        for (col, name) in names.take(fields).enumerate() {
            let rest = &chunk[*at..];
            let field = &rest[..field_len(rest.as_bytes())];
            let bad = || format!("{name}: `{field}` is not a number");
            let wide = || float(field).ok_or_else(bad);
            match col {
                0 => row.step = field.parse().map_err(|_| bad())?,
                1 => row.epoch = field.parse().map_err(|_| bad())?,
                2 => row.wide[0] = wide()?,
                5 => row.lr = wide()?,
                6 => row.wide[1] = wide()?,
                _ => match float32(field) {
                    Some(v) => self.narrow.push(v),
                    None => {
                        self.narrow.truncate(narrow);
                        return Err(bad());
                    }
                },
            }
            *at += field.len();
            let last = col + 1 == fields;
            *at += match (&chunk.as_bytes()[*at..], last) {
                ([b',', ..], false) | ([b'\n', ..], true) => 1,
                ([b'\r', b'\n', ..], true) => 2,
                ([], true) => 0,
                _ => {
                    self.narrow.truncate(narrow);
                    let line = chunk[start..].lines().next().unwrap_or_default();
                    *at = start + line.len() + 1;
                    let found = line.split(',').count();
                    return Err(format!("{found} fields, expected {fields}"));
                }
            };
        }
        Ok(Some(row))
    }

    pub(super) fn wall_s(&self, i: usize) -> f64 {
        self.wide[2 * i]
    }

    pub(super) fn get(&self, i: usize) -> StepStats {
        let w = self.narrow_width();
        let v = &self.narrow[i * w..(i + 1) * w];
        StepStats {
            step: self.step(i),
            epoch: run_at(&self.epochs, i).1 as usize,
            wall_s: self.wide[2 * i],
            loss: f64::from(v[0]),
            grad_norm: f64::from(v[1]),
            lr: run_at(&self.lrs, i).1,
            samples_per_s: self.wide[2 * i + 1],
            group_norms: v[2..].iter().map(|&x| f64::from(x)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    /// Rows read back exactly, in one piece or appended from two, with step
    /// numbers, epochs and rates kept as runs.
    #[test]
    fn the_step_table_reads_rows_back_exactly_and_keeps_runs_short() {
        let rows = [
            (1, 1, 0.1, "0.25"),
            (2, 1, 0.1, "0.125"),
            (3, 2, 0.1, "0.3333333"),
            (7, 2, 0.05, "0.1391985"),
            (8, 2, 0.05, "1e-7"),
            (9, 3, 0.1, "NaN"),
        ];
        let text: String = rows
            .iter()
            .map(|(step, epoch, lr, loss)| {
                format!("{step},{epoch},{step}.125,{loss},0.5,{lr},99.5,0.25,0.75\n")
            })
            .collect();
        let table = |pieces: &[&str]| {
            let mut whole = Table {
                groups: 2,
                ..Table::default()
            };
            for piece in pieces {
                let mut t = Table {
                    groups: 2,
                    ..Table::default()
                };
                t.parse_rows(piece, 0).unwrap();
                whole.append(t);
            }
            whole
        };
        let cut = text.match_indices('\n').nth(2).unwrap().0 + 1;
        for t in [table(&[&text]), table(&[&text[..cut], &text[cut..]])] {
            assert_eq!(t.len(), rows.len());
            for (i, (step, epoch, lr, loss)) in rows.iter().enumerate() {
                let s = t.get(i);
                assert_eq!((s.step, s.epoch, s.lr), (*step, *epoch, *lr), "row {i}");
                let want = f64::from(loss.parse::<f32>().unwrap());
                assert!(
                    s.loss == want || (s.loss.is_nan() && want.is_nan()),
                    "row {i}"
                );
                assert_eq!(s.wall_s, *step as f64 + 0.125);
                assert_eq!((s.grad_norm, s.samples_per_s), (0.5, 99.5));
                assert_eq!(s.group_norms, vec![0.25, 0.75]);
            }
            assert_eq!((t.steps.len(), t.epochs.len(), t.lrs.len()), (2, 3, 3));
            assert_eq!(
                (t.rows_through(0), t.rows_through(5), t.rows_through(7)),
                (0, 3, 4)
            );
            assert_eq!((t.rows_through(9), t.last_step()), (6, Some(9)));
        }
    }
}
