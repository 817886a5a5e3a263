//! Playing a recorded run back: a position on its timeline (in step rows),
//! play / pause, speed, and seeking — forward by feeding the recorded events
//! to the view, backward by rebuilding the view from the nearest keyframe (a
//! saved copy of the view) or from the start.

use std::time::Duration;

use super::view::View;
use crate::run::read::Recorded;

/// Playback speeds in recorded seconds per second; `None` is as fast as possible.
pub const SPEEDS: [Option<f64>; 7] = [
    Some(1.0),
    Some(2.0),
    Some(5.0),
    Some(10.0),
    Some(100.0),
    Some(1000.0),
    None,
];
/// Step rows applied per tick at most (all of them at "max" speed).
const ROWS_PER_TICK: usize = 20_000;
/// A recorded gap (a pause) plays in at most this many seconds.
const MAX_GAP_S: f64 = 1.0;
/// The default speed is the slowest that plays the whole run in this many seconds.
const WHOLE_RUN_S: f64 = 60.0;
/// Keyframes are saved at multiples of this many step rows, or of 1/8 of the run if more.
const KEYFRAME_ROWS: usize = 10_000;

/// A recorded run and where its playback is.
pub struct Playback {
    recorded: Recorded,
    /// Step rows the view shows (0 = just the start).
    position: usize,
    playing: bool,
    speed: usize,
    /// The recorded time the playback has reached.
    clock: f64,
    /// Step rows between keyframes.
    every: usize,
    /// Views at positions `k · every`, kept once passed.
    keyframes: Vec<Option<View>>,
}

impl Playback {
    /// A paused playback at the start; `view` must be fresh.
    pub(super) fn new(recorded: Recorded, view: &mut View) -> Playback {
        let rows = recorded.steps();
        let duration = if rows > 0 {
            recorded.wall_s(rows - 1)
        } else {
            0.0
        };
        let speed = SPEEDS
            .iter()
            .position(|s| s.is_some_and(|s| duration / s <= WHOLE_RUN_S))
            .unwrap_or(SPEEDS.len() - 1);
        let every = KEYFRAME_ROWS.max(rows.div_ceil(8));
        for e in recorded.head() {
            view.on_event(e);
        }
        Playback {
            keyframes: vec![None; rows / every + 1],
            recorded,
            position: 0,
            playing: false,
            speed,
            clock: 0.0,
            every,
        }
    }

    pub fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    /// Step rows shown.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Step rows in the recording.
    pub fn len(&self) -> usize {
        self.recorded.steps()
    }

    /// Whether the recording has no steps.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// The speed as shown: `×10`, or `max`.
    pub fn speed_label(&self, times: &str) -> String {
        match SPEEDS[self.speed] {
            Some(s) => format!("{times}{s}"),
            None => "max".into(),
        }
    }

    /// The step number of the last step row (the end of the timeline).
    pub fn last_step(&self) -> u64 {
        match self.len() {
            0 => 0,
            n => self.recorded.step_number(n - 1),
        }
    }

    /// Plays or pauses; playing at the end starts again from the beginning.
    pub(super) fn toggle(&mut self, view: &mut View) {
        if !self.playing && self.position == self.len() {
            self.seek(view, 0);
        }
        self.playing = !self.playing;
    }

    pub(super) fn pause(&mut self) {
        self.playing = false;
    }

    pub(super) fn faster(&mut self) {
        self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
    }

    pub(super) fn slower(&mut self) {
        self.speed = self.speed.saturating_sub(1);
    }

    /// Advances by `dt` of real time when playing; returns whether the view changed.
    pub(super) fn tick(&mut self, view: &mut View, dt: Duration) -> bool {
        if !self.playing {
            return false;
        }
        let len = self.len();
        let target = match SPEEDS[self.speed] {
            None => len.min(self.position + ROWS_PER_TICK),
            Some(speed) => {
                self.clock += dt.as_secs_f64() * speed;
                if self.position < len {
                    // Cut a long recorded gap (a pause) short.
                    let next = self.recorded.wall_s(self.position);
                    self.clock = self.clock.max(next - MAX_GAP_S * speed);
                }
                let mut to = self.position;
                while to < len
                    && to < self.position + ROWS_PER_TICK
                    && self.wall(to + 1) <= self.clock
                {
                    to += 1;
                }
                to
            }
        };
        let moved = target != self.position;
        if moved {
            let clock = self.clock;
            self.seek(view, target);
            self.clock = self.clock.max(clock);
        }
        if self.position == len {
            self.playing = false;
        }
        moved
    }

    /// Recorded time when `position` step rows have been shown.
    fn wall(&self, position: usize) -> f64 {
        match position {
            0 => 0.0,
            p => self.recorded.wall_s(p - 1),
        }
    }

    /// Moves the view to show `target` step rows (clamped to the recording).
    pub(super) fn seek(&mut self, view: &mut View, target: usize) {
        let target = target.min(self.len());
        if target < self.position {
            let k = (1..=target / self.every)
                .rev()
                .find(|&k| self.keyframes[k].is_some());
            match k.and_then(|k| Some((k, self.keyframes[k].clone()?))) {
                Some((k, saved)) => {
                    *view = saved;
                    self.position = k * self.every;
                }
                None => {
                    *view = View::new();
                    for e in self.recorded.head() {
                        view.on_event(e);
                    }
                    self.position = 0;
                }
            }
        }
        while self.position < target {
            let stop = target.min((self.position / self.every + 1) * self.every);
            for e in self.recorded.span(self.position, stop) {
                view.on_event(e);
            }
            self.position = stop;
            let slot = &mut self.keyframes[stop / self.every];
            if stop.is_multiple_of(self.every) && slot.is_none() {
                *slot = Some(view.clone());
            }
        }
        self.clock = self.wall(self.position);
    }
}
