//! The training loop: batches, gradients, clipping, optimizer, evaluation,
//! checkpoints and commands, emitting an event for everything.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::advice::Divergence;
use super::state::{self, Position, TrainerState};
use super::{Optimizer, Outbox, Schedule, evaluate, examples, text};
use crate::data::Dataset;
use crate::events::*;
use crate::experiment::{Experiment, LrSchedule};
use crate::model::{Model, Pass, State};
use crate::run::{RunDir, RunError, Summary};

type Result<T> = std::result::Result<T, RunError>;

/// Validation examples whose predictions are recorded at each evaluation.
const PREDICTION_EXAMPLES: usize = 8;

/// Seconds since `start`.
fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

pub struct Worker {
    exp: Experiment,
    data: Dataset,
    model: Model,
    run: RunDir,
    out: Outbox,
    commands: Receiver<Command>,
    opt: Optimizer,
    schedule: Schedule,
    clip: f64,
    eval_every: u64,
    start: Instant,
    step: u64,
    epoch: usize,
    total: u64,
    summary: Summary,
    /// Evaluations since the best one (early stopping).
    stale_evals: usize,
    last_eval_step: Option<u64>,
    last_checkpoint_step: Option<u64>,
    /// Where the next batch comes from.
    next: Position,
    /// The shuffling generator at the start of `next.epoch`.
    epoch_rng: ChaCha8Rng,
    dropout_rng: ChaCha8Rng,
    /// The checkpoint this run resumed from, if any.
    resumed_from: Option<String>,
    /// A text stream's state, carried from one chunk to the next within an epoch.
    carry: State,
    /// Text generation: the sampling temperature (tunable).
    temperature: Option<f64>,
    /// Notes to write once the run has started (overrides of a resume).
    pending: Vec<(NoteKind, String)>,
    options: Options,
    /// `, with train.epochs 8 → 20, …`: what `resume --set` changed.
    overrides: String,
}

/// How a run is driven, beside its experiment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Stop cleanly (final checkpoint, status `stopped`) right after the
    /// first evaluation at or after this step: the run can resume from there
    /// exactly as if it had not stopped (a sweep's rungs).
    pub stop_at: Option<u64>,
    /// Also write TensorBoard event files into the run directory.
    pub tensorboard: bool,
}

/// A checkpoint to continue from.
pub struct Resume {
    pub state: TrainerState,
    pub m: Vec<Vec<f32>>,
    pub v: Vec<Vec<f32>>,
    /// The checkpoint's file name, for the `resume` event.
    pub from: String,
    /// When the run first started.
    pub started: Option<String>,
    /// The run's experiment before `resume --set`: a `[train]` key that
    /// differs from it was set on the command line and is applied (and
    /// recorded) over the checkpoint's live value.
    pub before: Experiment,
}

/// Why the loop ended early.
enum Halt {
    Stop,
    Diverged(String),
    EarlyStop,
    /// The first evaluation at or after `Options::stop_at` (a sweep's rung).
    Rung,
}

impl Worker {
    pub fn new(
        exp: Experiment,
        data: Dataset,
        model: Model,
        run: RunDir,
        (out, commands): (Outbox, Receiver<Command>),
        resume: Option<Resume>,
        options: Options,
    ) -> Worker {
        let sizes: Vec<usize> = model.params.iter().map(|p| p.data.len()).collect();
        let t = &exp.train;
        let steps_per_epoch = data.batches_per_epoch(t.batch_size) as u64;
        let mut total = steps_per_epoch * t.epochs as u64;
        if t.max_steps > 0 {
            total = total.min(t.max_steps);
        }
        let summary = Summary {
            name: exp.name.clone(),
            status: Status::Running,
            started: chrono::Local::now().to_rfc3339(),
            model: model.describe(),
            parameters: model.parameter_count(),
            steps: 0,
            epochs: 0,
            wall_s: 0.0,
            best_valid_loss: None,
            best_step: None,
            best_valid: BTreeMap::new(),
            test: BTreeMap::new(),
            baselines: data.baselines.clone(),
            message: None,
            backtest: None,
            backtest_retrained: None,
            series: Vec::new(),
            calibration: None,
        };
        let seed = exp.seed;
        let mut w = Worker {
            opt: Optimizer::new(t.optimizer, t.momentum, &sizes),
            schedule: Schedule::new(t.lr_schedule, t.learning_rate),
            clip: t.clip_grad_norm,
            eval_every: t.eval_every,
            start: Instant::now(),
            step: 0,
            epoch: 0,
            total,
            summary,
            stale_evals: 0,
            last_eval_step: None,
            last_checkpoint_step: None,
            next: Position { epoch: 1, index: 0 },
            epoch_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5151_f00d),
            dropout_rng: ChaCha8Rng::seed_from_u64(seed ^ 0xd409_0123),
            resumed_from: None,
            carry: State::new(),
            temperature: exp.task.temperature,
            pending: Vec::new(),
            overrides: String::new(),
            options,
            exp,
            data,
            model,
            run,
            out,
            commands,
        };
        if let Some(r) = resume {
            w.restore(r);
        }
        w
    }

    fn restore(&mut self, r: Resume) {
        let s = r.state;
        self.step = s.step;
        self.epoch = s.epoch;
        self.next = s.next;
        self.start = Instant::now() - std::time::Duration::from_secs_f64(s.wall_s.max(0.0));
        self.epoch_rng = s.epoch_rng;
        self.dropout_rng = s.dropout_rng;
        self.opt.restore(s.optimizer_steps, r.m, r.v);
        // A schedule's kind and base rate follow the (possibly overridden) experiment
        // unless the run had tuned the rate.
        self.schedule = s.schedule;
        self.clip = s.clip;
        self.eval_every = s.eval_every;
        self.apply_overrides(&r.before);
        self.carry = s.carry;
        if self.temperature.is_some() {
            self.temperature = s.temperature.or(self.temperature);
        }
        self.summary.best_valid_loss = s.best_valid_loss;
        self.summary.best_step = s.best_step;
        self.summary.best_valid = s.best_valid;
        if let Some(started) = r.started {
            self.summary.started = started;
        }
        self.stale_evals = s.stale_evals;
        self.last_eval_step = s.last_eval_step;
        self.last_checkpoint_step = Some(s.step);
        self.resumed_from = Some(r.from);
    }

    /// Applies the `[train]` keys `resume --set` changed over what the
    /// checkpoint holds; each becomes a note when the run starts.
    fn apply_overrides(&mut self, before: &Experiment) {
        let (was, now) = (&before.train, &self.exp.train);
        let mut changed = Vec::new();
        if now.lr_schedule != was.lr_schedule {
            self.schedule.switch(now.lr_schedule);
            changed.push(format!(
                "lr_schedule {:?} → {:?}",
                was.lr_schedule, now.lr_schedule
            ));
        }
        if now.learning_rate != was.learning_rate {
            let old = std::mem::replace(&mut self.schedule.base, now.learning_rate);
            changed.push(format!("base learning_rate {old} → {}", now.learning_rate));
        }
        let mut tune = |key, old: f64, new: f64| {
            let change = TuneChange { key, old, new };
            self.pending.push((NoteKind::Tune, change.to_string()));
        };
        if now.clip_grad_norm != was.clip_grad_norm {
            tune(Tunable::ClipGradNorm, self.clip, now.clip_grad_norm);
            self.clip = now.clip_grad_norm;
        }
        if now.eval_every != was.eval_every {
            tune(
                Tunable::EvalEvery,
                self.eval_every as f64,
                now.eval_every as f64,
            );
            self.eval_every = now.eval_every;
        }
        for (key, old, new) in [
            ("epochs", was.epochs.to_string(), now.epochs.to_string()),
            (
                "max_steps",
                was.max_steps.to_string(),
                now.max_steps.to_string(),
            ),
            (
                "early_stopping",
                was.early_stopping.to_string(),
                now.early_stopping.to_string(),
            ),
            (
                "momentum",
                was.momentum.to_string(),
                now.momentum.to_string(),
            ),
            ("threads", was.threads.to_string(), now.threads.to_string()),
            (
                "flow_every",
                was.flow_every.to_string(),
                now.flow_every.to_string(),
            ),
        ] {
            if old != new {
                changed.push(format!("{key} {old} → {new}"));
            }
        }
        if !changed.is_empty() {
            self.overrides = format!(", with train.{}", changed.join(", train."));
        }
    }

    fn emit(&mut self, event: Event) -> Result<()> {
        self.run.record(&event)?;
        self.out.send(event);
        Ok(())
    }

    fn note(&mut self, kind: NoteKind, detail: String) -> Result<()> {
        let note = Note {
            step: self.step,
            wall_s: secs(self.start),
            kind,
            detail,
        };
        self.emit(Event::Note(note))
    }

    /// Runs to the end; the run directory's summary says how it ended.
    pub fn run(mut self) -> Result<Outcome> {
        // A pool of this run's own (`train.threads`; 0 = one per CPU), so that
        // runs in one process (`rnnlab table`) each get their own setting.
        // Its threads flush subnormals (kernels::fp): a vanishing gradient
        // would otherwise slow every operation on it tenfold.
        let pool = crate::kernels::fp::pool(self.exp.train.threads)
            .thread_name(|i| format!("rnnlab-worker-{i}"))
            .build();
        let pool = match pool {
            Ok(pool) => pool,
            Err(e) => {
                let message = format!(
                    "cannot start {} threads for `train.threads`: {e}; use fewer (0 = one per CPU)",
                    self.exp.train.threads
                );
                return self.finish(Status::Failed, Some(message));
            }
        };
        pool.install(|| {
            let (status, message) = match self.train() {
                Ok(None) => (Status::Completed, None),
                Ok(Some(Halt::EarlyStop)) => {
                    (Status::Completed, Some("early stopping".to_string()))
                }
                Ok(Some(Halt::Stop)) => (Status::Stopped, None),
                Ok(Some(Halt::Rung)) => (
                    Status::Stopped,
                    Some(format!(
                        "stopped at step {} as asked (--stop-at)",
                        self.step
                    )),
                ),
                Ok(Some(Halt::Diverged(m))) => (Status::Diverged, Some(m)),
                Err(e) => (Status::Failed, Some(format!("{e:#}"))),
            };
            // The final evaluation runs on the same threads as training.
            self.finish(status, message)
        })
    }

    fn finish(&mut self, status: Status, message: Option<String>) -> Result<Outcome> {
        if matches!(status, Status::Completed | Status::Stopped) {
            if self.last_eval_step != Some(self.step) && self.step > 0 {
                self.evaluate()?;
            }
            self.checkpoint(false)?;
            // `task.calibration`: fitted for these weights, before the test part is seen.
            self.model.calibration =
                super::fit_conformal(&self.model, &self.exp, &self.data, self.step);
            self.summary.calibration = self.model.calibration.clone();
            let test = match &self.data.text {
                Some(t) if t.len(2) > 0 => Some(text::evaluate(&self.model, &self.exp, t, 2)),
                None if self.data.test.len > 0 => Some(evaluate(
                    &self.model,
                    &self.exp,
                    &self.data,
                    &self.data.test,
                )),
                _ => None,
            };
            if let Some(test) = test {
                self.summary.test = test.metrics.into_iter().collect();
                self.summary.test.insert("loss".into(), test.loss);
            }
            self.summary.backtest = super::backtest(&self.model, &self.exp, &self.data);
            self.summary.series = super::per_series(&self.model, &self.exp, &self.data);
        }
        let kind = match status {
            Status::Diverged => NoteKind::Diverged,
            Status::Stopped => NoteKind::Stop,
            _ => NoteKind::Finish,
        };
        let detail = message
            .clone()
            .unwrap_or_else(|| format!("{status:?}").to_lowercase());
        self.note(kind, detail)?;
        self.summary.status = status;
        self.summary.message = message.clone();
        self.update_summary()?;
        let outcome = Outcome {
            status,
            steps: self.step,
            message,
        };
        self.emit(Event::Finished(outcome.clone()))?;
        self.out.finish();
        Ok(outcome)
    }

    fn update_summary(&mut self) -> Result<()> {
        self.summary.steps = self.step;
        self.summary.epochs = self.epoch;
        self.summary.wall_s = secs(self.start);
        self.run.write_summary(&self.summary)
    }

    fn train(&mut self) -> Result<Option<Halt>> {
        let info = RunInfo {
            name: self.exp.name.clone(),
            run_dir: self.run.path.display().to_string(),
            model: self.model.describe(),
            parameters: self.model.parameter_count(),
            steps_per_epoch: self.data.batches_per_epoch(self.exp.train.batch_size) as u64,
            total_steps: self.total,
            epochs: self.exp.train.epochs,
            groups: self
                .model
                .param_groups()
                .into_iter()
                .map(|(n, _)| n)
                .collect(),
            learning_rate: self.schedule.base,
            clip_grad_norm: self.clip,
            eval_every: self.eval_every,
            horizon: self.data.horizon,
            target: self.data.scaler.target.clone(),
            temperature: self.temperature,
        };
        self.emit(Event::Started(info))?;
        match self.resumed_from.clone() {
            Some(from) => {
                let detail = format!("run resumed from {from}{}", self.overrides);
                self.note(NoteKind::Resume, detail)?;
                for (kind, detail) in std::mem::take(&mut self.pending) {
                    self.note(kind, detail)?;
                }
            }
            None => self.note(NoteKind::Start, self.model.describe())?,
        }
        self.update_summary()?;
        let batch_size = self.exp.train.batch_size;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let mut rate = 0.0f64;
        let groups = self.model.param_groups();
        if self.step >= self.total {
            return Ok(None);
        }
        while self.next.epoch <= self.exp.train.epochs {
            let epoch = self.next.epoch;
            // The order depends only on the generator's state at the epoch's start,
            // so a run resumed mid-epoch sees the same batches.
            let mut rng = self.epoch_rng.clone();
            let plan = self.data.plan(batch_size, &mut rng);
            let stream = self.data.is_stream();
            if stream && self.next.index == 0 {
                // Each epoch reads the streams from their start (a resumed run, from zeros).
                self.carry.clear();
            }
            for (i, indices) in plan.iter().enumerate().skip(self.next.index) {
                if let Some(halt) = self.poll_commands()? {
                    return Ok(Some(halt));
                }
                let t0 = Instant::now();
                self.step += 1;
                self.epoch = epoch;
                let (n, steps) = self.data.gather_train(indices, batch_size, &mut x, &mut y);
                let every = self.exp.train.flow_every;
                let snapshot = every > 0 && (self.step == 1 || self.step.is_multiple_of(every));
                let pass = Pass {
                    dropout: Some(&mut self.dropout_rng),
                    state: stream.then_some(&mut self.carry),
                    flow: snapshot && !self.model.layers.is_empty(),
                    own_rate: self.exp.task.own_rate(self.step, self.total),
                };
                let (loss, mut grads, time) = self.model.train_pass(&x, &y, n, steps, pass);
                let flow = (!time.is_empty()).then(|| FlowStats {
                    step: self.step,
                    time: self
                        .model
                        .flow_names()
                        .into_iter()
                        .zip(time)
                        .map(|(name, v)| (name, v.into_iter().map(f64::from).collect()))
                        .collect(),
                    gates: self.model.gate_norms(&grads),
                });
                let group_norms: Vec<f64> = groups
                    .iter()
                    .map(|(_, r)| sq_norm(&grads[r.clone()]).sqrt())
                    .collect();
                let grad_norm = group_norms.iter().map(|n| n * n).sum::<f64>().sqrt();
                if !loss.is_finite() || !grad_norm.is_finite() {
                    let divergence = Divergence::new(
                        &self.exp,
                        &self.model,
                        self.step,
                        loss,
                        self.schedule.base,
                        self.clip,
                    );
                    return Ok(Some(Halt::Diverged(divergence.advice())));
                }
                if self.clip > 0.0 && grad_norm > self.clip {
                    let k = (self.clip / (grad_norm + 1e-6)) as f32;
                    grads.iter_mut().flatten().for_each(|g| *g *= k);
                }
                let lr = self.schedule.rate(self.step, self.total);
                self.opt.update(lr, &mut self.model, &grads);
                self.next.index = i + 1;
                let now = n as f64 / t0.elapsed().as_secs_f64().max(1e-9);
                rate = if rate == 0.0 {
                    now
                } else {
                    0.9 * rate + 0.1 * now
                };
                let stats = StepStats {
                    step: self.step,
                    epoch,
                    wall_s: secs(self.start),
                    loss: loss as f64,
                    grad_norm: f64::from(grad_norm as f32),
                    lr,
                    samples_per_s: rate,
                    group_norms: group_norms.iter().map(|&n| f64::from(n as f32)).collect(),
                };
                self.emit(Event::Step(stats))?;
                if let Some(flow) = flow {
                    self.emit(Event::Flow(flow))?;
                }
                if self.eval_every > 0
                    && self.step.is_multiple_of(self.eval_every)
                    && let Some(h) = self.evaluate()?
                {
                    return Ok(Some(h));
                }
                let every = self.exp.checkpoint.every_steps;
                if every > 0 && self.step.is_multiple_of(every) {
                    self.checkpoint(false)?;
                }
                if self.step >= self.total {
                    return Ok(None);
                }
            }
            self.epoch_rng = rng;
            self.next = Position {
                epoch: epoch + 1,
                index: 0,
            };
            if self.eval_every == 0
                && let Some(h) = self.evaluate()?
            {
                return Ok(Some(h));
            }
            if self.exp.checkpoint.every_steps == 0 {
                self.checkpoint(false)?;
            }
        }
        Ok(None)
    }

    /// Applies pending commands; blocks while paused.
    fn poll_commands(&mut self) -> Result<Option<Halt>> {
        let mut paused = false;
        loop {
            let cmd = if paused {
                match self.commands.recv() {
                    Ok(c) => c,
                    Err(_) => return Ok(Some(Halt::Stop)),
                }
            } else {
                match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => return Ok(None),
                }
            };
            match cmd {
                Command::Pause if !paused => {
                    paused = true;
                    self.note(NoteKind::Pause, String::new())?;
                    self.run.flush_all()?;
                }
                Command::Resume if paused => {
                    paused = false;
                    self.note(NoteKind::Resume, String::new())?;
                }
                Command::Pause | Command::Resume => {}
                Command::Tune { key, value, reply } => self.tune(key, value, &reply)?,
                Command::Checkpoint => self.checkpoint(true)?,
                Command::Stop => return Ok(Some(Halt::Stop)),
            }
        }
    }

    /// Applies a tune if the value is valid (the rule the form uses too) and
    /// the run has the hyperparameter; records it, and answers `reply`.
    fn tune(&mut self, key: Tunable, value: f64, reply: &Reply) -> Result<()> {
        let checked = match key.check(value) {
            Err(why) => Err(why),
            Ok(_) if key == Tunable::Temperature && self.temperature.is_none() => {
                Err("this run does not generate text: it has no temperature".into())
            }
            Ok(v) => Ok(v),
        };
        let value = match checked {
            Ok(v) => v,
            Err(why) => {
                reply.send(Err(why.clone()));
                return self.note(NoteKind::Tune, format!("refused {key} = {value}: {why}"));
            }
        };
        let old = match key {
            // The value is the rate from now on; the schedule goes on from it.
            Tunable::LearningRate => {
                let (step, total) = (self.step + 1, self.total);
                let old = self.schedule.rate(step, total);
                self.schedule.set_rate(value, step, total);
                old
            }
            Tunable::ClipGradNorm => std::mem::replace(&mut self.clip, value),
            Tunable::Temperature => self.temperature.replace(value).unwrap_or(0.0),
            Tunable::EvalEvery => std::mem::replace(&mut self.eval_every, value as u64) as f64,
        };
        reply.send(Ok(()));
        let change = TuneChange {
            key,
            old,
            new: value,
        };
        let kind = self.schedule.kind();
        let scheduled = key == Tunable::LearningRate && kind != LrSchedule::Constant;
        let detail = if scheduled {
            let name = format!("{kind:?}").to_lowercase();
            format!("{change} (the {name} schedule continues from it)")
        } else {
            change.to_string()
        };
        self.note(NoteKind::Tune, detail)
    }

    /// Evaluates on the validation part; returns a halt when early stopping triggers.
    fn evaluate(&mut self) -> Result<Option<Halt>> {
        let ev = match &self.data.text {
            Some(t) => text::evaluate(&self.model, &self.exp, t, 1),
            None => evaluate(&self.model, &self.exp, &self.data, &self.data.valid),
        };
        self.last_eval_step = Some(self.step);
        let stats = EvalStats {
            step: self.step,
            epoch: self.epoch,
            wall_s: secs(self.start),
            valid_loss: ev.loss,
            metrics: ev.metrics.clone(),
        };
        self.emit(Event::Eval(stats))?;
        let (examples, texts) = match &self.data.text {
            Some(t) => {
                let temperature = self.temperature.unwrap_or(0.0);
                let texts = text::samples(&self.model, &self.exp, t, self.step, temperature);
                (Vec::new(), texts)
            }
            None => (
                examples(
                    &self.model,
                    &self.exp,
                    &self.data,
                    &self.data.valid,
                    PREDICTION_EXAMPLES,
                ),
                Vec::new(),
            ),
        };
        self.emit(Event::Predictions(Predictions {
            step: self.step,
            examples,
            texts,
        }))?;
        let improved = self.summary.best_valid_loss.is_none_or(|b| ev.loss < b);
        if improved {
            self.summary.best_valid_loss = Some(ev.loss);
            self.summary.best_step = Some(self.step);
            self.summary.best_valid = ev.metrics.into_iter().collect();
            self.stale_evals = 0;
            if self.exp.checkpoint.keep_best {
                self.checkpoint_best()?;
            }
        } else {
            self.stale_evals += 1;
        }
        if self.schedule.observe(improved) {
            let lr = self.schedule.rate(self.step, self.total);
            self.note(NoteKind::Tune, format!("plateau: learning rate now {lr}"))?;
        }
        self.update_summary()?;
        if self.options.stop_at.is_some_and(|at| self.step >= at) {
            return Ok(Some(Halt::Rung));
        }
        let patience = self.exp.train.early_stopping;
        if patience > 0 && self.stale_evals >= patience {
            self.note(
                NoteKind::EarlyStop,
                format!("no improvement in {patience} evaluations"),
            )?;
            return Ok(Some(Halt::EarlyStop));
        }
        Ok(None)
    }

    fn state(&self) -> TrainerState {
        let (optimizer_steps, _, _) = self.opt.state();
        TrainerState {
            format: state::FORMAT,
            step: self.step,
            epoch: self.epoch,
            next: self.next,
            wall_s: secs(self.start),
            epoch_rng: self.epoch_rng.clone(),
            dropout_rng: self.dropout_rng.clone(),
            optimizer_steps,
            schedule: self.schedule.clone(),
            clip: self.clip,
            eval_every: self.eval_every,
            best_valid_loss: self.summary.best_valid_loss,
            best_step: self.summary.best_step,
            best_valid: self.summary.best_valid.clone(),
            stale_evals: self.stale_evals,
            last_eval_step: self.last_eval_step,
            model: self.model.describe(),
            carry: self.carry.clone(),
            temperature: self.temperature,
            logs: None,
        }
    }

    /// The weights and the trainer state, as the two files of a checkpoint.
    /// The logs are flushed first: they hold every row up to the checkpoint
    /// before it exists, and the state records their sizes, which a resumed
    /// run cuts them back to.
    fn checkpoint_files(&mut self) -> Result<(Vec<u8>, Vec<u8>)> {
        self.run.flush_all()?;
        let meta = HashMap::from([
            ("step".to_string(), self.step.to_string()),
            ("epoch".to_string(), self.epoch.to_string()),
            ("model".to_string(), self.model.describe()),
        ]);
        let mut trainer = self.state();
        trainer.logs = Some(self.run.log_sizes()?);
        let (_, m, v) = self.opt.state();
        let state = state::encode(&trainer, &self.model, m, v);
        Ok((self.model.to_safetensors(meta), state))
    }

    /// Writes `checkpoints/step-<N>`; `requested` (the user's `c`) says so
    /// in its note, also when the step already has its checkpoint.
    fn checkpoint(&mut self, requested: bool) -> Result<()> {
        let stem = format!("step-{}", self.step);
        let detail = if requested {
            format!("{stem}.safetensors (requested)")
        } else {
            format!("{stem}.safetensors")
        };
        if self.last_checkpoint_step == Some(self.step) {
            if requested {
                self.note(NoteKind::Checkpoint, detail)?;
            }
            return Ok(());
        }
        self.last_checkpoint_step = Some(self.step);
        // The note goes first, so that the checkpoint's logs include it: a
        // run resumed from it does not lose it, nor write it twice.
        self.note(NoteKind::Checkpoint, detail)?;
        let (weights, state) = self.checkpoint_files()?;
        self.run.checkpoint(&stem, &weights, &state, true)?;
        Ok(())
    }

    /// `keep_best`: the best model so far as `checkpoints/best.safetensors`.
    fn checkpoint_best(&mut self) -> Result<()> {
        let (weights, state) = self.checkpoint_files()?;
        self.run.checkpoint("best", &weights, &state, false)?;
        Ok(())
    }
}

fn sq_norm(grads: &[Vec<f32>]) -> f64 {
    grads
        .iter()
        .flatten()
        .map(|g| (*g as f64) * (*g as f64))
        .sum()
}
