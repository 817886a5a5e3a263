//! Evaluation of text models: accuracy or bits per character beside the
//! baseline that ignores word order, classified sentences and sampled text.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Evaluation;
use crate::data::text::{Parts, Text, sample, softmax};
use crate::events::{TextKind, TextSample};
use crate::experiment::Experiment;
use crate::model::{Model, State};

/// Sentences (or stream chunks) per forward pass during evaluation.
const EVAL_BATCH: usize = 256;
/// Validation sentences shown beside the probes.
const SHOWN_SENTENCES: usize = 6;

/// Evaluates a text model on part `i` (1 = valid, 2 = test). The loss is the
/// mean cross-entropy in nats; classify adds accuracy and the majority-class
/// accuracy, generate bits per character and the unigram bits per character.
pub fn evaluate(model: &Model, exp: &Experiment, text: &Text, part: usize) -> Evaluation {
    let window = exp.data.window;
    let batch = match text.parts {
        Parts::Sentences(_) => EVAL_BATCH,
        Parts::Stream(_) => exp.train.batch_size,
    };
    let (mut nats, mut hits, mut count) = (0.0f64, 0usize, 0usize);
    let mut state = State::new();
    for indices in text.eval_plan(part, batch, window) {
        let b = text.gather(part, &indices, batch, window);
        let logits = match text.parts {
            Parts::Sentences(_) => model.predict(&b.x, b.n, b.steps),
            Parts::Stream(_) => model.predict_from(&b.x, b.n, b.steps, &mut state),
        };
        for (row, &class) in logits.chunks_exact(model.output).zip(&b.y) {
            let p = softmax(row);
            nats -= p[class as usize].max(1e-30).ln();
            let best = p
                .iter()
                .enumerate()
                .fold(0, |a, (i, v)| if *v > p[a] { i } else { a });
            hits += usize::from(best == class as usize);
            count += 1;
        }
    }
    let loss = nats / count.max(1) as f64;
    let metrics = match text.parts {
        Parts::Sentences(_) => vec![
            ("accuracy".into(), hits as f64 / count.max(1) as f64),
            ("cross_entropy".into(), loss),
            ("majority_accuracy".into(), text.baseline(part)),
        ],
        Parts::Stream(_) => vec![
            ("bits_per_char".into(), loss / std::f64::consts::LN_2),
            ("unigram_bits_per_char".into(), text.baseline(part)),
        ],
    };
    Evaluation { loss, metrics }
}

/// What the dashboard shows of a text model at step `step`: the probes and a
/// few validation sentences with their predicted class, or a sample of
/// `task.sample_length` characters from `task.prime` at `temperature`.
pub fn samples(
    model: &Model,
    exp: &Experiment,
    text: &Text,
    step: u64,
    temperature: f64,
) -> Vec<TextSample> {
    match &text.parts {
        Parts::Sentences(parts) => {
            let valid = &parts[1];
            let shown = (0..SHOWN_SENTENCES.min(valid.len())).map(|i| {
                (
                    TextKind::Valid,
                    valid.texts[i].clone(),
                    Some(valid.labels[i]),
                )
            });
            let probes = exp
                .task
                .probes
                .iter()
                .map(|p| (TextKind::Probe, p.clone(), None));
            // Probes first: on a short panel they are what the user asked to see.
            probes
                .chain(shown)
                .map(|(kind, sentence, truth)| {
                    let ids = text.vocab.encode_words(&sentence, exp.data.window);
                    let x: Vec<f32> = ids.iter().map(|&i| i as f32).collect();
                    let p = softmax(&model.predict(&x, 1, ids.len()));
                    let best = p
                        .iter()
                        .enumerate()
                        .fold(0, |a, (i, v)| if *v > p[a] { i } else { a });
                    TextSample {
                        kind,
                        text: sentence,
                        truth: truth.map(|c| text.classes[c as usize].clone()),
                        predicted: text.classes[best].clone(),
                        probability: Some(p[best]),
                        temperature: None,
                    }
                })
                .collect()
        }
        Parts::Stream(_) => {
            let prime = exp.task.prime.clone().unwrap_or_else(|| "\n".into());
            let length = exp.task.sample_length.unwrap_or(300);
            let mut rng = ChaCha8Rng::seed_from_u64(exp.seed ^ step.wrapping_mul(0x9e37_79b9));
            vec![TextSample {
                kind: TextKind::Sample,
                predicted: generate(model, text, &prime, length, temperature, &mut rng),
                text: prime,
                truth: None,
                probability: None,
                temperature: Some(temperature),
            }]
        }
    }
}

/// `length` characters sampled one at a time after reading `prime`.
pub fn generate(
    model: &Model,
    text: &Text,
    prime: &str,
    length: usize,
    temperature: f64,
    rng: &mut ChaCha8Rng,
) -> String {
    let mut ids = text.vocab.encode_chars(prime);
    if ids.is_empty() {
        ids.push(0);
    }
    let mut state = State::new();
    let x: Vec<f32> = ids.iter().map(|&i| i as f32).collect();
    let logits = model.predict_from(&x, 1, x.len(), &mut state);
    let mut last = logits[logits.len() - model.output..].to_vec();
    let mut out = String::with_capacity(length);
    for _ in 0..length {
        let id = sample(&last, temperature, rng);
        out.push_str(&text.vocab.tokens[id as usize]);
        last = model.predict_from(&[id as f32], 1, 1, &mut state);
    }
    out
}
