//! The encoder–decoder (sequence to sequence: Sutskever et al. 2014, Cho et
//! al. 2014): an encoder stack reads the window and its last layer's output
//! at the last step is the *context*; a decoder stack then unrolls the
//! horizon one step at a time, its input at step k being the value before
//! step k (the window's last value at k = 0), the step's known-future
//! inputs, and the context, and the dense head reads each decoder step.
//!
//! The context enters every decoder step as input (Cho et al.'s decoder)
//! rather than as the decoder's initial state, so the encoder learns
//! through it. In training the value before step k is the truth (teacher
//! forcing) or, with probability [`super::Pass::own_rate`], the model's own
//! prediction (scheduled sampling, Bengio et al. 2015; the predictions come
//! from a forecast made with the same weights before the pass, without a
//! gradient through them). In forecasting it is always the model's own.

use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::recurrent::{FlowSink, Mat};
use super::{Loss, Model, State, Tensors, init, sequence};
use crate::experiment::{Experiment, LayerSpec, Strategy, TaskKind};

/// The decoder stack and what it reads besides the encoder's context.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoder {
    /// Its recurrent layers (one direction each).
    pub layers: Vec<LayerSpec>,
    /// Steps it unrolls.
    pub horizon: usize,
    /// The target's index among the input features: its value at the
    /// window's last step is the first step's previous value.
    pub target: usize,
    /// The input features holding known-future values led by the horizon
    /// (`{c}_lead{H}`): step k reads them at the window's row `T − H + k`.
    pub future: Vec<usize>,
    /// The lags of the target (`data.lags`) known over the whole horizon
    /// (at least the horizon, at most the window): step k reads the target
    /// `L` steps before it, at the window's row `T + k − L`.
    pub lags: Vec<usize>,
}

impl Decoder {
    /// The decoder of an encoder–decoder forecast; `None` for any other
    /// experiment. Validation has made sure the target is an input, the
    /// decoder's layers are listed and the window covers the horizon when
    /// there are known-future inputs.
    pub fn for_experiment(exp: &Experiment) -> Option<Decoder> {
        if exp.task.kind != TaskKind::Forecast || exp.task.strategy != Strategy::EncoderDecoder {
            return None;
        }
        let d = &exp.data;
        let leads = d.columns.len() + d.lags.len() + 2 * d.calendar.len();
        Some(Decoder {
            layers: exp.model.decoder.clone(),
            horizon: d.horizon,
            target: exp.target_input()?,
            future: (leads..leads + d.future_columns.len()).collect(),
            lags: d
                .lags
                .iter()
                .copied()
                .filter(|&l| l >= d.horizon && l <= d.window)
                .collect(),
        })
    }

    /// Values of a decoder step's input before the context: the previous
    /// value, the known-future inputs and the known lags.
    pub fn known(&self) -> usize {
        1 + self.future.len() + self.lags.len()
    }
}

impl Model {
    /// A freshly initialised encoder–decoder reading `input` values per
    /// step, with `heads` head outputs per forecast value (see
    /// [`Model::heads`]); parameters `encoder.{k}.*`, `decoder.{k}.*`,
    /// `head.*`.
    pub fn encoder_decoder(
        encoder: &[LayerSpec],
        decoder: Decoder,
        input: usize,
        heads: usize,
        seed: u64,
    ) -> Model {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1417_ba5e);
        let mut params = Vec::new();
        let context = init::stack(&mut rng, encoder, input, "encoder", &mut params);
        let fan_in = decoder.known() + context;
        let width = init::stack(&mut rng, &decoder.layers, fan_in, "decoder", &mut params);
        init::head(&mut rng, &decoder.layers, heads, width, &mut params);
        Model {
            layers: encoder.to_vec(),
            input,
            output: heads * decoder.horizon,
            every_step: false,
            embedding: None,
            loss: Loss::Mse,
            levels: Vec::new(),
            params,
            decoder: Some(decoder),
            calibration: None,
            dev: Cpu::default(),
        }
    }

    /// The head output fed back as the next step's value: the median's,
    /// the Gaussian's mean, or the only one.
    fn point_head(&self) -> usize {
        match self.loss {
            Loss::Pinball => self.levels.iter().position(|&q| q == 0.5).unwrap_or(0),
            _ => 0,
        }
    }

    /// Appends sequence `b`'s known inputs of decoder step `k` to `out`:
    /// `prev`, then the known-future values and the target's lagged values
    /// from the window `x`.
    fn known_inputs(
        &self,
        dec: &Decoder,
        x: &[f32],
        (batch, steps): (usize, usize),
        (k, b): (usize, usize),
        prev: f32,
        out: &mut Vec<f32>,
    ) {
        out.push(prev);
        let at = |row: usize, c: usize| x[(row * batch + b) * self.input + c];
        if !dec.future.is_empty() {
            let row = steps + k - dec.horizon;
            out.extend(dec.future.iter().map(|&c| at(row, c)));
        }
        out.extend(dec.lags.iter().map(|&l| at(steps + k - l, dec.target)));
    }

    /// The target's value at the window's last step, per sequence.
    fn last_values(&self, dec: &Decoder, x: &[f32], (batch, steps): (usize, usize)) -> Vec<f32> {
        (0..batch)
            .map(|b| x[((steps - 1) * batch + b) * self.input + dec.target])
            .collect()
    }

    /// The teacher-forced pass of training: the encoder over the window
    /// `x` (`raw`, its values), then every decoder step at once, step k+1
    /// fed `fed[b·H + k]`. Returns `B × (heads·H)`, laid out as a vector
    /// forecast's outputs.
    pub(super) fn encode_decode<T: Tape<f32, Cpu>>(
        &self,
        ts: &Tensors,
        x: Mat<T>,
        (raw, fed): (&[f32], &[f32]),
        (batch, steps): (usize, usize),
        mut dropout: Option<&mut ChaCha8Rng>,
        flow: &[FlowSink],
    ) -> Mat<T> {
        let dec = self.decoder.as_ref().expect("an encoder-decoder model");
        let h = dec.horizon;
        let mut sinks = flow.iter();
        let encoder = (&self.layers[..], &ts.layers[..]);
        let ctx = self.stack(
            encoder,
            x,
            (batch, steps),
            (true, false),
            &mut dropout,
            &mut sinks,
            None,
        );
        let last = self.last_values(dec, raw, (batch, steps));
        let mut known = Vec::with_capacity(h * batch * dec.known());
        for k in 0..h {
            for (b, &first) in last.iter().enumerate() {
                let prev = if k == 0 { first } else { fed[b * h + k - 1] };
                self.known_inputs(dec, raw, (batch, steps), (k, b), prev, &mut known);
            }
        }
        let known: Mat<T> = self
            .dev
            .tensor_from_vec(known, (h * batch, dec.known()))
            .retaped::<T>();
        let input = sequence::concat_columns(known, sequence::repeat_steps(ctx, h));
        let out = self.stack(
            (&dec.layers, &ts.decoder),
            input,
            (batch, h),
            (false, true),
            &mut dropout,
            &mut sinks,
            None,
        );
        sequence::steps_to_rows(self.head(ts, out), batch)
    }

    /// The values fed to decoder steps 1..H in training, `B × H` (the last
    /// of each row unused): the truth `y`, each replaced with probability
    /// `own_rate` by the model's own forecast of it.
    #[allow(clippy::too_many_arguments)] // the pass's parts, spelled out
    pub(super) fn fed_values(
        &self,
        ts: &Tensors,
        x: &[f32],
        y: &[f32],
        (batch, steps): (usize, usize),
        own_rate: f64,
        rng: &mut Option<&mut ChaCha8Rng>,
    ) -> Vec<f32> {
        let mut fed = y.to_vec();
        let Some(rng) = rng.as_deref_mut().filter(|_| own_rate > 0.0) else {
            return fed;
        };
        let own = self.forecast_free(ts, x, batch, steps);
        let (h, l, p) = (fed.len() / batch.max(1), self.heads(), self.point_head());
        for b in 0..batch {
            for k in 0..h {
                if rng.r#gen::<f64>() < own_rate {
                    fed[b * h + k] = own[(b * l + p) * h + k];
                }
            }
        }
        fed
    }

    /// The forecast: the encoder over the window `x`, then the decoder one
    /// step at a time, each step fed the previous step's prediction (its
    /// point head). Returns `B × (heads·H)` as [`Model::encode_decode`].
    pub(super) fn forecast_free(
        &self,
        ts: &Tensors,
        x: &[f32],
        batch: usize,
        steps: usize,
    ) -> Vec<f32> {
        let dec = self.decoder.as_ref().expect("an encoder-decoder model");
        let (h, l, p) = (dec.horizon, self.heads(), self.point_head());
        let none: [FlowSink; 0] = [];
        let input = self.input_tensor(x, batch, steps);
        let ctx = self
            .stack(
                (&self.layers, &ts.layers),
                input,
                (batch, steps),
                (true, false),
                &mut None,
                &mut none.iter(),
                None,
            )
            .as_vec();
        let c = ctx.len() / batch.max(1);
        let width = dec.known() + c;
        let mut prev = self.last_values(dec, x, (batch, steps));
        let mut state = State::new();
        let mut out = vec![0.0; batch * l * h];
        let mut step = Vec::with_capacity(batch * width);
        for k in 0..h {
            step.clear();
            for b in 0..batch {
                self.known_inputs(dec, x, (batch, steps), (k, b), prev[b], &mut step);
                step.extend_from_slice(&ctx[b * c..(b + 1) * c]);
            }
            let input = self.dev.tensor_from_vec(step.clone(), (batch, width));
            let o = self.stack(
                (&dec.layers, &ts.decoder),
                input,
                (batch, 1),
                (false, true),
                &mut None,
                &mut none.iter(),
                Some(&mut state),
            );
            let z = self.head(ts, o).as_vec();
            for b in 0..batch {
                for lvl in 0..l {
                    out[(b * l + lvl) * h + k] = z[b * l + lvl];
                }
                prev[b] = z[b * l + p];
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{central_difference, layer};
    use super::*;
    use crate::experiment::Cell;

    /// Sequences of 6 steps with 3 inputs: the target, a known-future
    /// column led by the horizon (3) and a lag of 4; batch 3.
    const SHAPE: (usize, usize, usize) = (3, 6, 3);

    fn model(loss: Loss, levels: &[f32]) -> Model {
        let mut bi = layer(Cell::Lstm, 4);
        bi.bidirectional = true;
        let dec = Decoder {
            layers: vec![layer(Cell::Gru, 3), layer(Cell::Lstm, 2)],
            horizon: 3,
            target: 0,
            future: vec![1],
            lags: vec![4],
        };
        let heads = match loss {
            Loss::Pinball => levels.len(),
            Loss::Gaussian => 2,
            _ => 1,
        };
        let mut m = Model::encoder_decoder(&[bi, layer(Cell::Gru, 3)], dec, SHAPE.2, heads, 5);
        m.loss = loss;
        m.levels = levels.to_vec();
        m
    }

    fn data(seed: u64) -> (Vec<f32>, Vec<f32>) {
        let (batch, steps, input) = SHAPE;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = init::normal(&mut rng, steps * batch * input, 1.0);
        let y = init::normal(&mut rng, batch * 3, 1.0);
        (x, y)
    }

    #[test]
    fn names_shapes_and_summary() {
        let m = model(Loss::Pinball, &[0.1, 0.5, 0.9]);
        let names: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names[0], "encoder.0.weight_ih");
        assert!(names.contains(&"encoder.0.weight_hh_reverse"));
        assert!(names.contains(&"decoder.1.weight_hh"));
        // The decoder's first layer reads the previous value, the known-future
        // column, the lag and the context (the GRU's 3 units).
        let d0 = m.params.iter().find(|p| p.name == "decoder.0.weight_ih");
        assert_eq!(d0.map(|p| p.shape.clone()), Some(vec![9, 6]));
        let head = &m.params[m.head_index()];
        assert_eq!(
            (head.name.as_str(), head.shape.clone()),
            ("head.weight", vec![3, 2])
        );
        assert_eq!(m.output, 9, "three levels of three steps");
        assert_eq!(
            m.describe(),
            "encoder[bi-lstm(4) → gru(3)] → decoder[gru(3) → lstm(2)] → dense(3) × 3 steps"
        );
        assert!(
            m.summary()
                .contains("decoder.0  gru               6      3")
        );
        let groups: Vec<String> = m.param_groups().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            groups,
            ["encoder.0", "encoder.1", "decoder.0", "decoder.1", "head"]
        );
        assert_eq!(
            m.flow_names(),
            [
                "encoder.0",
                "encoder.0.reverse",
                "encoder.1",
                "decoder.0",
                "decoder.1"
            ]
        );
    }

    /// Fed its own predictions, the teacher-forced pass (all decoder steps
    /// at once) gives the forecast made one step at a time: the two paths
    /// read the same inputs at every step. Every cell as the decoder (the
    /// minimal cells' scan and the layer-normalised cells carry their state
    /// from one single-step call to the next as well).
    #[test]
    fn teacher_forcing_with_own_predictions_is_the_forecast() {
        let (batch, steps, _) = SHAPE;
        let mut ln_lstm = layer(Cell::Lstm, 3);
        ln_lstm.norm = Some(crate::experiment::Norm::Layer);
        let mut relu = layer(Cell::Rnn, 3);
        relu.activation = Some(crate::experiment::Activation::Relu);
        let decoders = [
            vec![layer(Cell::MinGru, 3), layer(Cell::MinLstm, 2)],
            vec![ln_lstm, relu],
        ];
        // (loss, quantile levels, another decoder stack)
        type Case<'a> = (Loss, Vec<f32>, Option<&'a Vec<LayerSpec>>);
        let mut cases: Vec<Case> = vec![
            (Loss::Mse, vec![], None),
            (Loss::Pinball, vec![0.1, 0.5, 0.9], None),
            (Loss::Gaussian, vec![], None),
        ];
        cases.extend(decoders.iter().map(|d| (Loss::Mse, vec![], Some(d))));
        for (loss, levels, decoder) in cases {
            let mut m = model(loss, &levels);
            if let Some(layers) = decoder {
                let dec = Decoder {
                    layers: layers.clone(),
                    ..m.decoder.clone().unwrap()
                };
                m = Model::encoder_decoder(&m.layers, dec, SHAPE.2, 1, 9);
            }
            let loss = format!(
                "{loss:?} {:?}",
                decoder.map(|d| d.iter().map(|l| l.cell).collect::<Vec<_>>())
            );
            let (x, y) = data(1);
            let ts = m.tensors();
            let free = m.forecast_free(&ts, &x, batch, steps);
            assert_eq!(free, m.predict(&x, batch, steps));
            let fed = m.fed_values(
                &ts,
                &x,
                &y,
                (batch, steps),
                1.0,
                &mut Some(&mut ChaCha8Rng::seed_from_u64(0)),
            );
            let forced = m
                .encode_decode(
                    &ts,
                    m.input_tensor(&x, batch, steps),
                    (&x, &fed),
                    (batch, steps),
                    None,
                    &[],
                )
                .as_vec();
            for (a, b) in free.iter().zip(&forced) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{loss:?}: forecast {a}, teacher-forced {b}"
                );
            }
            // Fed the truth instead, steps after the first differ.
            let truth = m
                .encode_decode(
                    &ts,
                    m.input_tensor(&x, batch, steps),
                    (&x, &y),
                    (batch, steps),
                    None,
                    &[],
                )
                .as_vec();
            assert!(free.iter().zip(&truth).any(|(a, b)| (a - b).abs() > 1e-4));
        }
    }

    #[test]
    fn own_rate_mixes_truth_and_own_predictions() {
        let (batch, steps, _) = SHAPE;
        let m = model(Loss::Mse, &[]);
        let (x, y) = data(2);
        let ts = m.tensors();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let none = m.fed_values(&ts, &x, &y, (batch, steps), 0.0, &mut Some(&mut rng));
        assert_eq!(none, y);
        let own = m.forecast_free(&ts, &x, batch, steps);
        let all = m.fed_values(&ts, &x, &y, (batch, steps), 1.0, &mut Some(&mut rng));
        assert_eq!(all, own);
        let half = m.fed_values(&ts, &x, &y, (batch, steps), 0.5, &mut Some(&mut rng));
        let from_truth = half.iter().zip(&y).filter(|(a, b)| a == b).count();
        assert!(
            from_truth > 0 && from_truth < y.len(),
            "{from_truth} of {}",
            y.len()
        );
    }

    /// Central finite differences against the analytic gradient of every
    /// tensor, through the decoder, the repeated context and the encoder.
    /// The encoder's gradients are small (1e-4–1e-3 here), so the
    /// tolerance is tight: 1e-4 + 2 % (an error in the context's gradient
    /// from one decoder step fails it).
    #[test]
    fn gradients_match_finite_differences() {
        let (batch, steps, _) = SHAPE;
        for (loss, levels) in [(Loss::Mse, vec![]), (Loss::Gaussian, vec![])] {
            let mut m = model(loss, &levels);
            let (x, y) = data(3);
            let y: Vec<f32> = y.iter().map(|v| 4.0 * v).collect();
            let (_, grads) = m.loss_and_grads(&x, &y, batch, steps, None);
            for (pi, grad) in grads.iter().enumerate() {
                let n = grad.len();
                for j in [0, n / 3, n / 2, n - 1] {
                    let fd = central_difference(&mut m, pi, j, 1e-2, |m: &Model| {
                        m.loss_and_grads(&x, &y, batch, steps, None).0
                    });
                    let g = grad[j];
                    assert!(
                        (fd - g).abs() <= 1e-4 + 2e-2 * g.abs(),
                        "{}[{j}] ({loss:?}): analytic {g}, finite difference {fd}",
                        m.params[pi].name
                    );
                }
            }
        }
    }
}
