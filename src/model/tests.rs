//! Tests of the model: gradients against finite differences, narrow and
//! wide inputs, one thread against two, gradient flow, weights round trip.

use std::path::Path;

use super::*;
use crate::experiment::{Activation, Cell, Init};
use rand::Rng;

use super::forward::dropout_mask;

pub(super) fn layer(cell: Cell, units: usize) -> LayerSpec {
    LayerSpec {
        cell,
        units,
        activation: (cell == Cell::Rnn).then_some(Activation::Tanh),
        dropout: 0.0,
        init: Init::Pytorch,
        forget_bias: None,
        bidirectional: false,
        recurrent_dropout: 0.0,
        norm: None,
    }
}

/// (loss(θ + eps) − loss(θ − eps)) / 2·eps for element `j` of parameter `pi`.
pub(super) fn central_difference(
    model: &mut Model,
    pi: usize,
    j: usize,
    eps: f32,
    loss: impl Fn(&Model) -> f32,
) -> f32 {
    let orig = model.params[pi].data[j];
    model.params[pi].data[j] = orig + eps;
    let up = loss(model);
    model.params[pi].data[j] = orig - eps;
    let down = loss(model);
    model.params[pi].data[j] = orig;
    (up - down) / (2.0 * eps)
}

/// Asserts that the analytic gradient `grads` of `loss` matches central
/// differences with step `eps` at three elements of every tensor, within
/// `2e-3 + rel·|g|`; `what` names the case in a failure.
fn assert_matches_differences(
    model: &mut Model,
    grads: &[Vec<f32>],
    (eps, rel): (f32, f32),
    what: &str,
    loss: impl Fn(&Model) -> f32,
) {
    for (pi, grad) in grads.iter().enumerate() {
        let n = model.params[pi].data.len();
        for j in [0, n / 2, n - 1] {
            let fd = central_difference(model, pi, j, eps, &loss);
            let g = grad[j];
            assert!(
                (fd - g).abs() <= 2e-3 + rel * g.abs(),
                "{}[{j}] ({what}): analytic {g}, finite difference {fd}",
                model.params[pi].name
            );
        }
    }
}

/// Central finite differences against the analytic gradient of every
/// parameter tensor of a mixed stack, both head modes.
#[test]
fn gradients_match_finite_differences() {
    let layers = [
        layer(Cell::Lstm, 5),
        layer(Cell::Gru, 4),
        layer(Cell::Rnn, 3),
    ];
    for every_step in [false, true] {
        let (batch, steps, input, output) = (3, 6, 2, 2);
        let mut model = Model::new(&layers, input, output, every_step, 7);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = init::normal(&mut rng, steps * batch * input, 1.0);
        let rows = if every_step { steps * batch } else { batch };
        let y = init::normal(&mut rng, rows * output, 1.0);
        let (_, grads) = model.loss_and_grads(&x, &y, batch, steps, None);
        let what = format!("every_step {every_step}");
        assert_matches_differences(&mut model, &grads, (1e-2, 2e-2), &what, |m: &Model| {
            m.loss_and_grads(&x, &y, batch, steps, None).0
        });
    }
}

/// Recurrent dropout: with the random source fixed, the analytic gradient
/// of stacks of every recurrent cell (one bidirectional, both head modes,
/// two parts on two threads for the big one) against central differences.
#[test]
fn recurrent_dropout_gradients_match_finite_differences() {
    let with = |cell, units, bidirectional| LayerSpec {
        recurrent_dropout: 0.4,
        bidirectional,
        ..layer(cell, units)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let cases = [
        (
            vec![
                with(Cell::Lstm, 5, false),
                with(Cell::Gru, 4, true),
                with(Cell::Rnn, 3, false),
            ],
            3,
            6,
        ),
        (
            vec![with(Cell::Gru, 64, false), with(Cell::Lstm, 48, false)],
            16,
            40,
        ),
    ];
    for (layers, batch, steps) in cases {
        check_with_dropout(&pool, &layers, (batch, steps), (1e-2, 2e-2), |_, _| {});
    }
}

/// Layer normalisation in simple RNN (tanh and ReLU), LSTM and GRU layers
/// (some bidirectional, with recurrent dropout, both head modes, and
/// batches big enough to run as two parts on two threads): the analytic
/// gradient of every tensor, every γ and β included, against central
/// differences.
#[test]
fn layer_norm_gradients_match_finite_differences() {
    let cell_ln = |cell, units, act, bidirectional, recurrent_dropout| LayerSpec {
        norm: Some(crate::experiment::Norm::Layer),
        activation: (cell == Cell::Rnn).then_some(act),
        bidirectional,
        recurrent_dropout,
        ..layer(cell, units)
    };
    let ln = |units, act, bidirectional, recurrent_dropout| {
        cell_ln(Cell::Rnn, units, act, bidirectional, recurrent_dropout)
    };
    let tanh = Activation::Tanh;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let cases = [
        (
            vec![
                ln(5, Activation::Tanh, false, 0.0),
                ln(4, Activation::Relu, true, 0.3),
                layer(Cell::Gru, 3),
            ],
            3,
            6,
        ),
        (vec![ln(96, Activation::Tanh, false, 0.2)], 16, 12),
        (
            vec![
                cell_ln(Cell::Lstm, 5, tanh, false, 0.0),
                cell_ln(Cell::Gru, 4, tanh, true, 0.3),
                cell_ln(Cell::Lstm, 3, tanh, true, 0.0),
            ],
            3,
            6,
        ),
        (
            vec![
                cell_ln(Cell::Gru, 64, tanh, false, 0.2),
                cell_ln(Cell::Lstm, 48, tanh, false, 0.0),
            ],
            16,
            12,
        ),
    ];
    // γ and β away from 1 and 0, so that their gradients are tested.
    let spread = |model: &mut Model, rng: &mut ChaCha8Rng| {
        for p in model.params.iter_mut().filter(|p| p.name.contains(".ln_")) {
            let noise = init::normal(rng, p.data.len(), 0.3);
            for (v, n) in p.data.iter_mut().zip(noise) {
                *v += n;
            }
        }
    };
    for (layers, batch, steps) in cases {
        // A smaller step than for the plain cells: the normalisation curves
        // the loss more, and at 1e-2 the difference's truncation error shows (6 %).
        check_with_dropout(&pool, &layers, (batch, steps), (3e-3, 3e-2), spread);
    }
}

/// A stack on random inputs and targets (2 in, 2 out), both head modes,
/// with a fixed source for its dropout masks, on `pool`: its gradient
/// against central differences ([`assert_matches_differences`] with `tol`).
/// `prepare` may change the fresh model, drawing from the data's source first.
fn check_with_dropout(
    pool: &rayon::ThreadPool,
    layers: &[LayerSpec],
    (batch, steps): (usize, usize),
    tol: (f32, f32),
    prepare: impl Fn(&mut Model, &mut ChaCha8Rng),
) {
    for every_step in [false, true] {
        let (input, output) = (2, 2);
        let mut model = Model::new(layers, input, output, every_step, 7);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        prepare(&mut model, &mut rng);
        let x = init::normal(&mut rng, steps * batch * input, 1.0);
        let rows = if every_step { steps * batch } else { batch };
        let y = init::normal(&mut rng, rows * output, 1.0);
        let drop = ChaCha8Rng::seed_from_u64(11);
        let loss = |m: &Model| {
            pool.install(|| m.loss_and_grads(&x, &y, batch, steps, Some(&mut drop.clone())))
        };
        let (_, grads) = loss(&model);
        let what = format!("batch {batch}, every_step {every_step}");
        assert_matches_differences(&mut model, &grads, tol, &what, |m: &Model| loss(m).0);
    }
}

/// Recurrent dropout is variational: one mask per sequence on h_{t-1}
/// where it enters W_hh, the same at every step — a simple RNN written out
/// by hand with the mask drawn from the same random source agrees; and
/// without a random source (evaluation) nothing is dropped.
#[test]
fn recurrent_dropout_is_one_mask_per_sequence() {
    let l = LayerSpec {
        recurrent_dropout: 0.5,
        ..layer(Cell::Rnn, 4)
    };
    let (batch, steps, input) = (3, 5, 2);
    let model = Model::new(&[l], input, 1, true, 5);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let x = init::normal(&mut rng, steps * batch * input, 1.0);
    let y = vec![0.0; steps * batch];
    let p = |i: usize| &model.params[i].data;
    let (w_ih, w_hh, b_ih, b_hh, hw, hb) = (p(0), p(1), p(2), p(3), p(4), p(5));
    let hand = |mask: &[f32]| {
        let mut h = vec![0.0f32; batch * 4];
        let mut out = Vec::new();
        for t in 0..steps {
            let mut next = vec![0.0f32; batch * 4];
            for b in 0..batch {
                for u in 0..4 {
                    let mut a = b_ih[u] + b_hh[u];
                    for i in 0..input {
                        a += w_ih[u * input + i] * x[(t * batch + b) * input + i];
                    }
                    for v in 0..4 {
                        a += w_hh[u * 4 + v] * h[b * 4 + v] * mask[b * 4 + v];
                    }
                    next[b * 4 + u] = a.tanh();
                }
                out.push(hb[0] + (0..4).map(|v| hw[v] * next[b * 4 + v]).sum::<f32>());
            }
            h = next;
        }
        out
    };
    let loss_of = |out: &[f32]| out.iter().map(|o| o * o).sum::<f32>() / out.len() as f32;
    let mut drop = ChaCha8Rng::seed_from_u64(9);
    let mask = dropout_mask(&mut drop.clone(), batch * 4, 0.5);
    assert!(mask.contains(&0.0) && mask.contains(&2.0), "{mask:?}");
    let (loss, _) = model.loss_and_grads(&x, &y, batch, steps, Some(&mut drop));
    assert!((loss - loss_of(&hand(&mask))).abs() < 1e-5, "{loss}");
    let plain = model.predict(&x, batch, steps);
    let want = hand(&[1.0; 12]);
    assert!(plain.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5));
}

/// A text model: token ids through an embedding, LSTM → GRU, a softmax
/// head at every step with cross-entropy, starting from a carried state.
fn text_model(every_step: bool) -> Model {
    let (vocab, width, classes) = (7, 4, 5);
    let mut model = Model::new(
        &[layer(Cell::Lstm, 5), layer(Cell::Gru, 3)],
        width,
        classes,
        every_step,
        11,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let table = init::normal(&mut rng, vocab * width, 1.0);
    model.params.push(Param::new(
        "embedding.weight".into(),
        vec![vocab, width],
        table,
    ));
    (model.embedding, model.input, model.loss) = (Some(width), vocab, Loss::CrossEntropy);
    model
}

/// Finite differences for the embedding rows and every tensor of a text
/// model under cross-entropy, with and without a carried-in state; the
/// state left behind is the one a single pass over both chunks ends in.
#[test]
fn text_model_gradients_and_carried_state() {
    for every_step in [true, false] {
        let mut model = text_model(every_step);
        let (batch, steps) = (2, 4);
        // Token 6 never occurs: its embedding row gets no gradient.
        let x: Vec<f32> = [0, 3, 1, 1, 2, 5, 4, 0].map(|v| v as f32).to_vec();
        let rows = if every_step { steps * batch } else { batch };
        let y: Vec<f32> = (0..rows).map(|i| (i * 3 % 5) as f32).collect();
        let mut warm = State::new();
        model.predict_from(&x, batch, steps, &mut warm);
        assert_eq!(warm.len(), 2);
        assert_eq!(warm[0].c.len(), batch * 5, "an LSTM carries its cell");
        for start in [State::new(), warm.clone()] {
            let pass = |m: &Model| {
                let mut st = start.clone();
                let p = Pass {
                    state: Some(&mut st),
                    ..Pass::default()
                };
                m.train_pass(&x, &y, batch, steps, p)
            };
            let (_, grads, _) = pass(&model);
            let emb = grads.last().unwrap();
            assert!(emb[6 * 4..].iter().all(|g| *g == 0.0));
            let eps = 1e-2f32;
            for (pi, grad) in grads.iter().enumerate() {
                let n = model.params[pi].data.len();
                for j in [0, n / 3, n / 2, n - 5] {
                    let fd = central_difference(&mut model, pi, j, eps, |m| pass(m).0);
                    assert!(
                        (fd - grad[j]).abs() <= 1e-3 + 2e-2 * grad[j].abs(),
                        "{}[{j}] (every_step {every_step}): analytic {}, finite difference {fd}",
                        model.params[pi].name,
                        grad[j]
                    );
                }
            }
        }
        // Two chunks read one after the other end where one long pass ends.
        let mut two = State::new();
        let a = model.predict_from(&x, batch, steps, &mut two);
        let b = model.predict_from(&x, batch, steps, &mut two);
        let mut joined = x.clone();
        joined.extend_from_slice(&x);
        let mut one = State::new();
        let all = model.predict_from(&joined, batch, 2 * steps, &mut one);
        assert_eq!(two, one);
        if every_step {
            assert_eq!([a, b].concat(), all);
        } else {
            assert_eq!(b, all);
        }
    }
}

/// A layer projects a narrow input (see `recurrent::per_step_input`)
/// step by step, a wider one in one product over all steps: the same
/// model with one more input, always zero, takes the other path and
/// gives the same loss, gradients and states.
#[test]
fn narrow_and_wide_inputs_agree() {
    for first in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
        // The third layer, a GRU fed 80 values, is wide in both models.
        let layers = [
            layer(first, 24),
            layer(Cell::Lstm, 80),
            layer(Cell::Gru, 16),
        ];
        let input = recurrent::PER_STEP_INPUT
            .iter()
            .find(|(c, _)| *c == first)
            .map_or(0, |(_, n)| *n);
        let batch = recurrent::PER_STEP_MIN_BATCH;
        assert!(
            recurrent::per_step_input(first, input, batch)
                && !recurrent::per_step_input(first, input + 1, batch)
                && !recurrent::per_step_input(first, input, batch - 1)
        );
        let steps = 9;
        let narrow = Model::new(&layers, input, 2, true, 3);
        let mut wide = Model::new(&layers, input + 1, 2, true, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for (w, n) in wide.params.iter_mut().zip(&narrow.params) {
            if w.shape == n.shape {
                w.data.clone_from(&n.data);
            } else {
                // weight_ih of the first layer: the narrow one's columns, then any.
                for (row, src) in w
                    .data
                    .chunks_exact_mut(input + 1)
                    .zip(n.data.chunks_exact(input))
                {
                    row[..input].copy_from_slice(src);
                    row[input] = rng.gen_range(-1.0..1.0);
                }
            }
        }
        let x = init::normal(&mut rng, steps * batch * input, 1.0);
        let x_wide: Vec<f32> = x
            .chunks_exact(input)
            .flat_map(|row| row.iter().copied().chain([0.0]))
            .collect();
        let y = init::normal(&mut rng, steps * batch * 2, 1.0);
        let run = |model: &Model, x: &[f32]| {
            let mut state = State::new();
            let pass = Pass {
                state: Some(&mut state),
                ..Pass::default()
            };
            let (loss, grads, _) = model.train_pass(x, &y, batch, steps, pass);
            (loss, grads, state)
        };
        let (a, b) = (run(&narrow, &x), run(&wide, &x_wide));
        let close = |p: &[f32], q: &[f32]| {
            p.len() == q.len()
                && p.iter()
                    .zip(q)
                    .all(|(p, q)| (p - q).abs() <= 1e-6 + 1e-5 * p.abs().max(q.abs()))
        };
        assert!(close(&[a.0], &[b.0]), "{first:?}: loss {} vs {}", a.0, b.0);
        for ((ga, gb), p) in a.1.iter().zip(&b.1).zip(&narrow.params) {
            let gb: Vec<f32> = if ga.len() == gb.len() {
                gb.clone()
            } else {
                gb.chunks_exact(input + 1)
                    .flat_map(|r| r[..input].to_vec())
                    .collect()
            };
            assert!(close(ga, &gb), "{first:?}: {}", p.name);
        }
        for (sa, sb) in a.2.iter().zip(&b.2) {
            assert!(
                close(&sa.h, &sb.h) && close(&sa.c, &sb.c),
                "{first:?}: state"
            );
        }
    }
}

/// A plain LSTM's inference runs fused (AVX2 and AVX-512), projecting a
/// wide input step by step from 8 rows on and over all steps below: its
/// predictions are the training pass's to rounding, so the training loss
/// against them is nil.
#[test]
fn inference_matches_the_training_pass() {
    let layers = [layer(Cell::Lstm, 32), layer(Cell::Lstm, 48)];
    let (input, steps) = (300, 5);
    let model = Model::new(&layers, input, 2, true, 4);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    for batch in [recurrent::PER_STEP_MIN_BATCH, 3] {
        let x = init::normal(&mut rng, steps * batch * input, 1.0);
        let pred = model.predict(&x, batch, steps);
        let size = pred.iter().map(|p| p * p).sum::<f32>() / pred.len() as f32;
        let (loss, _, _) = model.train_pass(&x, &pred, batch, steps, Pass::default());
        assert!(
            size > 1e-3 && loss < 1e-10 * size,
            "batch {batch}: loss {loss} against predictions of mean square {size}"
        );
    }
}

/// With two or three threads a batch is cut into as many parts and each
/// runs its own recurrence: outputs, loss, gradients, flow and carried
/// state match one thread. (Every layer is large enough to be split: see
/// `parts::Parts`; 13 rows make parts of 6 + 7 and 4 + 4 + 5.)
#[test]
fn several_threads_match_one() {
    let layers = [
        layer(Cell::Lstm, 48),
        layer(Cell::Gru, 56),
        layer(Cell::Rnn, 96),
    ];
    for every_step in [false, true] {
        let model = Model::new(&layers, 3, 2, every_step, 9);
        let (batch, steps) = (13, 40);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let x = init::normal(&mut rng, steps * batch * 3, 1.0);
        let rows = if every_step { steps * batch } else { batch };
        let y = init::normal(&mut rng, rows * 2, 1.0);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut state = State::new();
                model.predict_from(&x, batch, steps, &mut state);
                let pass = Pass {
                    state: Some(&mut state),
                    flow: true,
                    ..Pass::default()
                };
                let (loss, grads, flow) = model.train_pass(&x, &y, batch, steps, pass);
                (loss, grads, flow, state)
            })
        };
        let one = run(1);
        for many in [run(2), run(3)] {
            let close = |a: &[f32], b: &[f32]| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(p, q)| (p - q).abs() <= 1e-6 + 1e-5 * p.abs().max(q.abs()))
            };
            assert!(close(&[one.0], &[many.0]));
            for (g1, g2) in one.1.iter().zip(&many.1) {
                assert!(close(g1, g2), "{g1:?}\n{g2:?}");
            }
            for (f1, f2) in one.2.iter().zip(&many.2) {
                assert!(close(f1, f2), "{f1:?}\n{f2:?}");
            }
            for (s1, s2) in one.3.iter().zip(&many.3) {
                assert!(close(&s1.h, &s2.h) && close(&s1.c, &s2.c));
            }
        }
    }
}

/// The linear model (no recurrent layers) is a dense layer on the
/// flattened window: output = W · [x_0; x_1; …] + b, sample by sample.
#[test]
fn linear_model_reads_the_flattened_window() {
    let (steps, batch, features) = (3, 2, 2);
    let mut model = Model::new(&[], steps * features, 1, false, 0);
    assert_eq!(model.describe(), "flatten → dense(1)");
    let w: Vec<f32> = (1..=6).map(|v| v as f32).collect();
    model.params[0].data = w.clone();
    model.params[1].data = vec![0.5];
    // Time-major input: x[t][b][f] = 10·b + 2·t + f.
    let mut x = Vec::new();
    for t in 0..steps {
        for b in 0..batch {
            for f in 0..features {
                x.push((10 * b + 2 * t + f) as f32);
            }
        }
    }
    let out = model.predict(&x, batch, steps);
    for (b, o) in out.iter().enumerate() {
        let flat: Vec<f32> = (0..steps * features).map(|i| (10 * b + i) as f32).collect();
        let want: f32 = flat.iter().zip(&w).map(|(a, c)| a * c).sum::<f32>() + 0.5;
        assert_eq!(*o, want);
    }
    let (_, grads) = model.loss_and_grads(&x, &[0.0, 0.0], batch, steps, None);
    assert_eq!(grads[0].len(), 6);
}

/// ‖∂L/∂h_t‖ at the last step equals ‖headᵀ·∂L/∂y‖, and through a tanh RNN
/// with small recurrent weights the gradient vanishes towards t = 0.
#[test]
fn gradient_flow_through_time() {
    let mut model = Model::new(&[layer(Cell::Rnn, 4)], 1, 1, false, 3);
    for v in &mut model.params[1].data {
        *v *= 0.3; // weight_hh: a contracting recurrence
    }
    let (batch, steps) = (2, 30);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = init::normal(&mut rng, steps * batch, 1.0);
    let y = vec![1.0, -1.0];
    let (loss, grads, flow) = model.loss_grads_flow(&x, &y, batch, steps, None);
    let (loss2, grads2) = model.loss_and_grads(&x, &y, batch, steps, None);
    assert_eq!((loss, &grads), (loss2, &grads2));
    assert_eq!(flow.len(), 1);
    assert_eq!(flow[0].len(), steps);
    let out = model.predict(&x, batch, steps);
    let w = &model.params[4].data; // head.weight (1 × 4)
    // dL/dy_b = 2 (y_b − t_b) / batch for the mean squared error.
    let last: f32 = (0..batch)
        .map(|b| {
            let g = 2.0 * (out[b] - y[b]) / batch as f32;
            w.iter().map(|wi| (wi * g) * (wi * g)).sum::<f32>()
        })
        .sum::<f32>()
        .sqrt();
    assert!(
        (flow[0][steps - 1] - last).abs() < 1e-6,
        "{} vs {last}",
        flow[0][steps - 1]
    );
    assert!(flow[0][0] < 1e-3 * flow[0][steps - 1], "{:?}", flow[0]);
}

#[test]
fn weights_round_trip_through_safetensors() {
    let layers = [layer(Cell::Gru, 4), layer(Cell::Lstm, 3)];
    let model = Model::new(&layers, 2, 1, false, 1);
    let bytes = model.to_safetensors(Default::default());
    let mut other = Model::new(&layers, 2, 1, false, 2);
    assert_ne!(other.params, model.params);
    other
        .load_safetensors(&bytes, Path::new("w.safetensors"))
        .unwrap();
    assert_eq!(other.params, model.params);
    let mut wrong = Model::new(&[layer(Cell::Gru, 5)], 2, 1, false, 1);
    let err = wrong
        .load_safetensors(&bytes, Path::new("w.safetensors"))
        .unwrap_err();
    assert!(err.to_string().contains("shape"), "{err}");
    let err = wrong
        .load_safetensors(b"garbage", Path::new("g.safetensors"))
        .unwrap_err();
    assert!(
        err.to_string().starts_with("g.safetensors: not a readable"),
        "{err}"
    );
}

/// The same weights and metadata give the same bytes (the header's
/// metadata in key order, whatever the map's), which safetensors reads back.
#[test]
fn checkpoints_are_the_same_bytes_every_time() {
    let model = Model::new(&[layer(Cell::Gru, 4)], 2, 1, false, 1);
    let meta = || {
        (0..20)
            .map(|i| (format!("key{i}"), format!("value {i}")))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let first = model.to_safetensors(meta());
    for _ in 0..5 {
        assert_eq!(model.to_safetensors(meta()), first);
    }
    let (n, read) = safetensors::SafeTensors::read_metadata(&first).unwrap();
    assert_eq!(n % 8, 0, "header padded to 8 bytes");
    let got = read.metadata().as_ref().unwrap();
    assert_eq!(got.len(), 20);
    assert_eq!(got["key7"], "value 7");
    let mut other = Model::new(&[layer(Cell::Gru, 4)], 2, 1, false, 9);
    other
        .load_safetensors(&first, Path::new("w.safetensors"))
        .unwrap();
    assert_eq!(other.params, model.params);
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let layers = [layer(Cell::Gru, 4)];
    let mut model = Model::new(&layers, 2, 1, false, 1);
    let before = model.params.clone();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut poisoned = model.clone();
        poisoned.params[1].data[3] = bad;
        let bytes = poisoned.to_safetensors(Default::default());
        let err = model
            .load_safetensors(&bytes, Path::new("w.safetensors"))
            .unwrap_err();
        let name = &poisoned.params[1].name;
        let text = err.to_string();
        assert!(text.starts_with("w.safetensors: tensor `"), "{text}");
        assert!(
            text.contains(&format!("`{name}` has 1 non-finite value(s)")),
            "{text}"
        );
        assert!(
            text.contains("at index 3") && text.contains("earlier checkpoint"),
            "{text}"
        );
        assert_eq!(
            model.params, before,
            "nothing is loaded from a refused file"
        );
    }
}

#[test]
fn summary_counts_parameters_like_pytorch() {
    // nn.LSTM(1, 20): 4·20·(1 + 20 + 2) = 1840; nn.GRU(20, 10): 3·10·(20 + 10 + 2) = 960; Linear(10, 1): 11.
    let model = Model::new(
        &[layer(Cell::Lstm, 20), layer(Cell::Gru, 10)],
        1,
        1,
        false,
        0,
    );
    assert_eq!(model.parameter_count(), 1840 + 960 + 11);
    assert_eq!(model.describe(), "lstm(20) → gru(10) → dense(1)");
    assert!(model.summary().contains("total parameters: 2811"));
}

/// Flushing subnormals (kernels::fp) changes no result that can be seen:
/// a short sequence never meets one, and on a long tanh recurrence, whose
/// gradient through time decays by about half a step (PyTorch's init) and
/// so passes through the subnormal range (1e-45..1e-38) on its way to 0
/// within the first 300 steps, the flushed values are far below the
/// resolution of the sums they join: loss and gradients are bit for bit
/// the same. (What flushing changes is the speed: `rnnlab bench --config
/// rnn-tanh`.)
#[test]
fn flushing_subnormals_changes_no_result() {
    for (steps, batch) in [(20, 4), (300, 2)] {
        let model = Model::new(
            &[layer(Cell::Rnn, 64), layer(Cell::Rnn, 64)],
            2,
            1,
            false,
            3,
        );
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let x = init::normal(&mut rng, steps * batch * 2, 1.0);
        let y = init::normal(&mut rng, batch, 1.0);
        let run = |flush: bool| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    crate::kernels::fp::set_flush(flush);
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(1)
                        .start_handler(move |_| crate::kernels::fp::set_flush(flush))
                        .build()
                        .unwrap();
                    pool.install(|| model.loss_and_grads(&x, &y, batch, steps, None))
                })
                .join()
                .unwrap()
            })
        };
        let (ieee, flushed) = (run(false), run(true));
        assert_eq!(ieee.0.to_bits(), flushed.0.to_bits(), "T = {steps}");
        assert_eq!(ieee.1, flushed.1, "T = {steps}");
    }
}
