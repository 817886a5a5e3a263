//! Merging the rows of a run's files back into the order the trainer
//! emitted its events, and iterating over stretches of them.

use super::rows::Table;
use super::sample::Sampler;
use crate::events::*;

/// Rows read and not yet merged.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) table: Table,
    pub(super) evals: Vec<EvalStats>,
    pub(super) predictions: Vec<Predictions>,
    pub(super) flows: Vec<FlowStats>,
    /// When set, flow rows are sampled into it instead of kept in `flows`.
    pub(super) flow_sample: Option<Sampler<FlowStats>>,
    pub(super) notes: Vec<Note>,
}

impl Batch {
    /// Moves the non-step rows after `step` into a new batch.
    pub(super) fn hold_after(&mut self, step: u64) -> Batch {
        fn split<T>(v: &mut Vec<T>, at: impl Fn(&T) -> bool) -> Vec<T> {
            let i = v.iter().position(at).unwrap_or(v.len());
            v.split_off(i)
        }
        Batch {
            table: Table::default(),
            evals: split(&mut self.evals, |e| e.step > step),
            predictions: split(&mut self.predictions, |p| p.step > step),
            flows: split(&mut self.flows, |f| f.step > step),
            flow_sample: None,
            notes: split(&mut self.notes, |n| n.step > step),
        }
    }
}

/// Step rows and the other events merged in emission order; `anchors[i]` is
/// the number of step rows before `others[i]`.
pub(super) struct Timeline {
    pub(super) table: Table,
    pub(super) others: Vec<Event>,
    anchors: Vec<usize>,
}

impl Timeline {
    pub(super) fn new(batch: Batch, start: Option<RunInfo>, end: Option<Outcome>) -> Timeline {
        let Batch {
            table,
            evals,
            predictions,
            flows,
            notes,
            ..
        } = batch;
        let mut others =
            Vec::with_capacity(evals.len() + predictions.len() + flows.len() + notes.len() + 2);
        others.extend(start.map(Event::Started));
        let (mut e, mut p, mut fl, mut n) = (
            evals.into_iter().peekable(),
            predictions.into_iter().peekable(),
            flows.into_iter().peekable(),
            notes.into_iter().peekable(),
        );
        loop {
            let (es, ps, fs, ns) = (
                e.peek().map(|x| x.step),
                p.peek().map(|x| x.step),
                fl.peek().map(|x| x.step),
                n.peek().map(|x| x.step),
            );
            let Some(min) = [es, ps, fs, ns].into_iter().flatten().min() else {
                break;
            };
            let at = |s: Option<u64>| s == Some(min);
            // Within a step the trainer emits the flow snapshot right after the step row.
            let next = if at(fs) {
                fl.next().map(Event::Flow)
            } else if at(es) {
                let (eval, note) = (e.peek(), n.peek());
                match (eval, note) {
                    (Some(ev), Some(no)) if at(ns) && no.wall_s < ev.wall_s => {
                        n.next().map(Event::Note)
                    }
                    _ => e.next().map(Event::Eval),
                }
            } else if at(ps) {
                p.next().map(Event::Predictions)
            } else {
                n.next().map(Event::Note)
            };
            others.extend(next);
        }
        let mut anchors = Vec::with_capacity(others.len() + 1);
        let mut rows = 0;
        for event in &others {
            let step = match event {
                Event::Eval(x) => x.step,
                Event::Predictions(x) => x.step,
                Event::Flow(x) => x.step,
                Event::Note(x) => x.step,
                _ => 0,
            };
            while rows < table.len() && table.step(rows) <= step {
                rows += 1;
            }
            anchors.push(if matches!(event, Event::Started(_)) {
                0
            } else {
                rows
            });
        }
        if let Some(o) = end {
            others.push(Event::Finished(o));
            anchors.push(table.len());
        }
        Timeline {
            table,
            others,
            anchors,
        }
    }

    pub(super) fn events(&self) -> Events<'_> {
        self.span_from_start(self.table.len())
    }

    pub(super) fn span_from_start(&self, to: usize) -> Events<'_> {
        Events {
            timeline: self,
            rows: 0,
            to,
            other: 0,
        }
    }

    pub(super) fn span(&self, from: usize, to: usize) -> Events<'_> {
        Events {
            timeline: self,
            rows: from,
            to: to.max(from),
            other: self.anchors.partition_point(|&a| a <= from),
        }
    }
}

/// An iterator over a stretch of a [`Recorded`] run's events.
pub struct Events<'a> {
    timeline: &'a Timeline,
    /// Step rows yielded so far (counting from the start of the run).
    rows: usize,
    to: usize,
    other: usize,
}

impl Iterator for Events<'_> {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let t = self.timeline;
        if self.other < t.others.len() && t.anchors[self.other] <= self.rows {
            self.other += 1;
            return Some(t.others[self.other - 1].clone());
        }
        if self.rows < self.to.min(t.table.len()) {
            self.rows += 1;
            return Some(Event::Step(t.table.get(self.rows - 1)));
        }
        None
    }
}
