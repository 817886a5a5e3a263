//! Text data: labelled sentences over a word vocabulary built on the training
//! part (`classify`), or one long text over its character alphabet
//! (`generate`), and the batches cut from them.
//!
//! Sentences are batched by length (every batch holds sentences of one
//! length), so no padding or masking is needed and the last state of each
//! sequence is its real last word. A text is cut into `batch` parallel
//! streams read chunk by chunk, so the state at the end of one chunk is the
//! right start for the next (truncated backpropagation through time).

use std::collections::HashMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::DataError;
use crate::experiment::{Experiment, Layout, Source};

/// The unknown-word token's id (sentences only).
pub const UNK: u32 = 0;
/// The unknown-word token.
pub const UNK_TOKEN: &str = "<unk>";

/// Tokens and their ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    /// Token of each id.
    pub tokens: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocab {
    fn new(tokens: Vec<String>) -> Vocab {
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Vocab { tokens, index }
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of `token`, if it has one.
    pub fn get(&self, token: &str) -> Option<u32> {
        self.index.get(token).copied()
    }

    /// Word ids of a sentence (unknown words → [`UNK`]), at most `max` of them, at least one.
    pub fn encode_words(&self, sentence: &str, max: usize) -> Vec<u32> {
        let mut ids: Vec<u32> = words(sentence)
            .iter()
            .take(max)
            .map(|w| self.get(w).unwrap_or(UNK))
            .collect();
        if ids.is_empty() {
            ids.push(UNK);
        }
        ids
    }

    /// Character ids of a text; characters outside the alphabet are skipped.
    pub fn encode_chars(&self, text: &str) -> Vec<u32> {
        let mut buf = [0u8; 4];
        text.chars()
            .filter_map(|c| self.get(c.encode_utf8(&mut buf)))
            .collect()
    }
}

/// Lower-cased words: runs of letters, digits and apostrophes; every other
/// visible character is a token of its own ("not good!" → not, good, !).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '\'' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Sentences of one part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sentences {
    /// Word ids per sentence (1 ..= window of them).
    pub tokens: Vec<Vec<u32>>,
    /// Class id per sentence.
    pub labels: Vec<u32>,
    /// The sentences as written.
    pub texts: Vec<String>,
}

impl Sentences {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// What the text is cut into.
#[derive(Debug, Clone, PartialEq)]
pub enum Parts {
    /// Labelled sentences (train, valid, test).
    Sentences([Sentences; 3]),
    /// One character-id stream per part (train, valid, test).
    Stream([Vec<u32>; 3]),
}

/// Text data ready for a model with an embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub vocab: Vocab,
    pub parts: Parts,
    /// Class names (classify) in class-id order; empty for a stream.
    pub classes: Vec<String>,
}

/// One batch: time-major ids `x` (`steps × n`, as `f32`), targets `y` (class
/// ids: one per sentence, or one per step and stream), `n` sequences of `steps`.
pub struct Batch {
    pub x: Vec<f32>,
    pub y: Vec<f32>,
    pub n: usize,
    pub steps: usize,
}

impl Text {
    /// Reads the text of a validated `classify` or `generate` experiment.
    pub fn load(exp: &Experiment) -> Result<Text, DataError> {
        let d = &exp.data;
        let path = d
            .path
            .as_deref()
            .ok_or_else(|| DataError::new("text data needs a path").with_hint("set data.path"))?;
        match (d.source, d.layout) {
            (Source::Text, _) => stream(exp, path),
            (Source::Csv, Layout::Sentences) => sentences(exp, path),
            _ => Err(DataError::new(
                "text tasks read sentences (layout = \"sentences\") or a text file (source = \"text\")",
            )),
        }
    }

    /// Sequences (sentences or streams) in part `i`.
    pub fn len(&self, part: usize) -> usize {
        match &self.parts {
            Parts::Sentences(p) => p[part].len(),
            Parts::Stream(p) => p[part].len(),
        }
    }

    /// The training batches of one epoch: sentences grouped by length,
    /// shuffled within and across lengths; or the chunks of the streams in
    /// order (the state carries from one to the next). Each batch lists
    /// sentence indices, or holds one chunk number.
    pub fn plan(&self, batch: usize, window: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
        match &self.parts {
            Parts::Sentences(p) => {
                let mut batches = Vec::new();
                for mut bucket in buckets(&p[0]) {
                    bucket.shuffle(rng);
                    batches.extend(bucket.chunks(batch).map(<[usize]>::to_vec));
                }
                batches.shuffle(rng);
                batches
            }
            Parts::Stream(p) => (0..chunks(p[0].len(), batch, window))
                .map(|k| vec![k])
                .collect(),
        }
    }

    /// Training batches per epoch (the same every epoch).
    pub fn batches_per_epoch(&self, batch: usize, window: usize) -> usize {
        match &self.parts {
            Parts::Sentences(p) => buckets(&p[0]).iter().map(|b| b.len().div_ceil(batch)).sum(),
            Parts::Stream(p) => chunks(p[0].len(), batch, window),
        }
    }

    /// Every batch of part `i` in evaluation order: sentences by length, at
    /// most `batch` per batch; or the stream chunks in order.
    pub fn eval_plan(&self, part: usize, batch: usize, window: usize) -> Vec<Vec<usize>> {
        match &self.parts {
            Parts::Sentences(p) => buckets(&p[part])
                .iter()
                .flat_map(|b| b.chunks(batch).map(<[usize]>::to_vec).collect::<Vec<_>>())
                .collect(),
            Parts::Stream(p) => (0..chunks(p[part].len(), batch, window))
                .map(|k| vec![k])
                .collect(),
        }
    }

    /// The batch `indices` of part `i` (a plan's entry), `batch` streams wide for a stream.
    pub fn gather(&self, part: usize, indices: &[usize], batch: usize, window: usize) -> Batch {
        match &self.parts {
            Parts::Sentences(p) => {
                let s = &p[part];
                let steps = s.tokens[indices[0]].len();
                let mut x = Vec::with_capacity(steps * indices.len());
                for t in 0..steps {
                    for &i in indices {
                        debug_assert_eq!(s.tokens[i].len(), steps, "a batch holds one length");
                        x.push(s.tokens[i][t] as f32);
                    }
                }
                let y = indices.iter().map(|&i| s.labels[i] as f32).collect();
                Batch {
                    x,
                    y,
                    n: indices.len(),
                    steps,
                }
            }
            Parts::Stream(p) => {
                let ids = &p[part];
                let (n, row) = streams(ids.len(), batch);
                let start = indices[0] * window;
                let steps = window.min(row - start);
                let (mut x, mut y) = (Vec::with_capacity(steps * n), Vec::with_capacity(steps * n));
                for t in 0..steps {
                    for b in 0..n {
                        let at = b * (row + 1) + start + t;
                        x.push(ids[at] as f32);
                        y.push(ids[at + 1] as f32);
                    }
                }
                Batch { x, y, n, steps }
            }
        }
    }

    /// The share of part `i` in the majority training class (classify), or the
    /// bits per character of the training characters' frequencies (generate):
    /// the figure a model that ignores order reaches.
    pub fn baseline(&self, part: usize) -> f64 {
        match &self.parts {
            Parts::Sentences(p) => {
                let majority = majority(&p[0].labels, self.classes.len());
                let hits = p[part].labels.iter().filter(|&&l| l == majority).count();
                hits as f64 / p[part].len().max(1) as f64
            }
            Parts::Stream(p) => {
                let mut counts = vec![1.0f64; self.vocab.len()]; // add-one smoothing
                for &id in &p[0] {
                    counts[id as usize] += 1.0;
                }
                let total: f64 = counts.iter().sum();
                let bits: f64 = p[part]
                    .iter()
                    .skip(1)
                    .map(|&id| -(counts[id as usize] / total).log2())
                    .sum();
                bits / (p[part].len().saturating_sub(1)).max(1) as f64
            }
        }
    }
}

/// The most frequent label (the lowest on ties).
fn majority(labels: &[u32], classes: usize) -> u32 {
    let mut counts = vec![0usize; classes.max(1)];
    for &l in labels {
        counts[l as usize] += 1;
    }
    let best = counts.iter().copied().max().unwrap_or(0);
    counts.iter().position(|&c| c == best).unwrap_or(0) as u32
}

/// Sentence indices grouped by length, shortest first.
fn buckets(s: &Sentences) -> Vec<Vec<usize>> {
    let mut by_len: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for (i, t) in s.tokens.iter().enumerate() {
        by_len.entry(t.len()).or_default().push(i);
    }
    by_len.into_values().collect()
}

/// (streams, inputs per stream) for a stream of `len` ids read `batch` wide:
/// each stream holds `row + 1` ids (inputs plus the last target).
fn streams(len: usize, batch: usize) -> (usize, usize) {
    let n = batch.min(len.saturating_sub(1) / 2).max(1);
    (n, (len / n).saturating_sub(1))
}

/// Chunks of `window` steps (the last may be shorter) per epoch over a stream.
fn chunks(len: usize, batch: usize, window: usize) -> usize {
    streams(len, batch).1.div_ceil(window)
}

/// Reads labelled sentences and builds the word vocabulary on the training part.
fn sentences(exp: &Experiment, path: &Path) -> Result<Text, DataError> {
    let d = &exp.data;
    let (text_col, label_col) = (d.text_column(), d.label_column());
    let err = |m: String| DataError::new(m).in_file(path);
    let mut reader = csv::Reader::from_path(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let header = reader
        .headers()
        .map_err(|e| err(format!("bad header: {e}")))?
        .clone();
    super::cells::check_names(path, &header)?;
    let find = |name: &str, key: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            let list: Vec<&str> = header.iter().collect();
            err(format!("no column `{name}` (columns: {})", list.join(", ")))
                .with_hint(format!("set data.{key} to one of the columns"))
        })
    };
    let (ti, li) = (find(text_col, "columns")?, find(label_col, "target")?);
    let (mut texts, mut raw_labels) = (Vec::new(), Vec::new());
    for (row, rec) in reader.records().enumerate() {
        let line = row + 2;
        let rec = rec.map_err(|e| err(format!("bad CSV record: {e}")).at_line(line))?;
        let label = rec.get(li).unwrap_or("").trim().to_string();
        if label.is_empty() {
            return Err(err("empty label".into())
                .at_line(line)
                .in_column(label_col)
                .with_hint("every sentence needs a label; remove the row or fill it in"));
        }
        texts.push(rec.get(ti).unwrap_or("").to_string());
        raw_labels.push(label);
    }
    let mut values: Vec<String> = raw_labels.clone();
    values.sort();
    values.dedup();
    if values.len() < 2 {
        return Err(err(format!(
            "column `{label_col}` has {} distinct label(s); classification needs at least 2",
            values.len()
        )));
    }
    let classes = if exp.task.classes.is_empty() {
        values.clone()
    } else if exp.task.classes.len() == values.len() {
        exp.task.classes.clone()
    } else {
        return Err(DataError::new(format!(
            "task.classes names {} classes but column `{label_col}` has {} labels ({})",
            exp.task.classes.len(),
            values.len(),
            values.join(", ")
        ))
        .with_hint("give one name per label value, in sorted order of the values"));
    };
    // A seeded random split: the file is ordered by source, not by time.
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(exp.seed ^ 0x5e47_e4ce));
    let sizes = split_sizes(texts.len(), d.split);
    for (i, name) in ["train", "valid", "test"].iter().enumerate() {
        if sizes[i] == 0 && (i < 2 || d.split[i] > 0.0) {
            return Err(err(format!(
                "the {name} part has no sentences (data.split gives it {} of {} sentences): there is nothing to {}",
                d.split[i],
                texts.len(),
                if i == 0 { "train on" } else { "evaluate" }
            ))
            .with_hint("add sentences, or give the part a larger share in data.split"));
        }
    }
    let train = &order[..sizes[0]];
    let mut counts: HashMap<String, usize> = HashMap::new();
    for &i in train {
        for w in words(&texts[i]) {
            *counts.entry(w).or_default() += 1;
        }
    }
    let min_count = d.min_count();
    let mut kept: Vec<(String, usize)> = counts
        .into_iter()
        .filter(|(_, c)| *c >= min_count)
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    kept.truncate(d.vocab_size().saturating_sub(1));
    let mut tokens = vec![UNK_TOKEN.to_string()];
    tokens.extend(kept.into_iter().map(|(w, _)| w));
    let vocab = Vocab::new(tokens);
    let mut at = 0;
    let parts = sizes.map(|n| {
        let mut part = Sentences::default();
        for &i in &order[at..at + n] {
            part.tokens.push(vocab.encode_words(&texts[i], d.window));
            part.labels
                .push(values.binary_search(&raw_labels[i]).unwrap_or(0) as u32);
            part.texts.push(texts[i].clone());
        }
        at += n;
        part
    });
    Ok(Text {
        vocab,
        parts: Parts::Sentences(parts),
        classes,
    })
}

/// Reads a text file; the alphabet is every character in it.
fn stream(exp: &Experiment, path: &Path) -> Result<Text, DataError> {
    let text = crate::fsio::read_text(path, crate::fsio::memory_limit(), "text file")?;
    let mut alphabet: Vec<char> = text.chars().collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    let vocab = Vocab::new(alphabet.iter().map(char::to_string).collect());
    let ids = vocab.encode_chars(&text);
    let sizes = split_sizes(ids.len(), exp.data.split);
    let mut at = 0;
    let parts = sizes.map(|n| {
        let part = ids[at..at + n].to_vec();
        at += n;
        part
    });
    let need = 2 * exp.data.window;
    for (name, p) in ["train", "valid", "test"].iter().zip(&parts) {
        let unused = p.is_empty() && *name == "test" && exp.data.split[2] == 0.0;
        if p.len() < need && !unused {
            return Err(DataError::new(format!(
                "the {name} part has {} characters, fewer than 2 × data.window = {need}",
                p.len()
            ))
            .in_file(path)
            .with_hint("use a longer text, change data.split or lower data.window"));
        }
    }
    Ok(Text {
        vocab,
        parts: Parts::Stream(parts),
        classes: Vec::new(),
    })
}

/// Part sizes for `n` items: train and valid rounded, test the rest.
fn split_sizes(n: usize, split: [f64; 3]) -> [usize; 3] {
    let train = ((n as f64) * split[0]).round() as usize;
    let valid = (((n as f64) * split[1]).round() as usize).min(n - train.min(n));
    [train.min(n), valid, n - train.min(n) - valid]
}

/// Samples a class id from `logits` at `temperature` (0 = the most likely).
pub fn sample(logits: &[f32], temperature: f64, rng: &mut impl Rng) -> u32 {
    let best =
        logits.iter().enumerate().fold(
            (0, f32::NEG_INFINITY),
            |a, (i, &v)| if v > a.1 { (i, v) } else { a },
        );
    if temperature <= 1e-6 {
        return best.0 as u32;
    }
    let weights: Vec<f64> = logits
        .iter()
        .map(|&v| ((v - best.1) as f64 / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut r = rng.r#gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        r -= w;
        if r <= 0.0 {
            return i as u32;
        }
    }
    best.0 as u32
}

/// Softmax probabilities of `logits`.
pub fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&v| (v as f64 - max).exp()).collect();
    let total: f64 = e.iter().sum();
    e.into_iter().map(|v| v / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_with_punctuation_apart() {
        assert_eq!(
            words("It's NOT good!! 10/10"),
            ["it's", "not", "good", "!", "!", "10", "/", "10"]
        );
        assert!(words("   ").is_empty());
    }

    #[test]
    fn unknown_words_read_as_unk_and_sentences_are_truncated() {
        let v = Vocab::new(vec![UNK_TOKEN.into(), "good".into(), "not".into()]);
        assert_eq!(v.encode_words("Not so good", 10), [2, UNK, 1]);
        assert_eq!(v.encode_words("Not so good", 2), [2, UNK]);
        assert_eq!(v.encode_words("", 2), [UNK], "never empty");
    }

    fn sentence_text(lengths: &[usize]) -> Text {
        let tokens: Vec<Vec<u32>> = lengths.iter().map(|&n| vec![1; n]).collect();
        let part = Sentences {
            labels: (0..tokens.len() as u32).map(|i| i % 2).collect(),
            texts: vec![String::new(); tokens.len()],
            tokens,
        };
        Text {
            vocab: Vocab::new(vec![UNK_TOKEN.into(), "a".into()]),
            parts: Parts::Sentences([part.clone(), part.clone(), part]),
            classes: vec!["0".into(), "1".into()],
        }
    }

    #[test]
    fn sentence_batches_hold_one_length_and_cover_every_sentence_once() {
        let text = sentence_text(&[3, 1, 3, 2, 3, 3, 1, 3]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let plan = text.plan(2, 50, &mut rng);
        assert_eq!(plan.len(), text.batches_per_epoch(2, 50));
        let mut seen: Vec<usize> = plan.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
        for b in &plan {
            let b = text.gather(0, b, 2, 50);
            assert_eq!(b.x.len(), b.n * b.steps);
            assert_eq!(b.y.len(), b.n);
        }
        assert_eq!(text.baseline(0), 0.5);
    }

    #[test]
    fn stream_chunks_continue_each_other_and_targets_are_the_next_id() {
        let ids: Vec<u32> = (0..23).collect();
        let text = Text {
            vocab: Vocab::new((0..23).map(|i| i.to_string()).collect()),
            parts: Parts::Stream([ids.clone(), ids.clone(), ids]),
            classes: Vec::new(),
        };
        // 2 streams of 11 ids: inputs 0..10 and 11..21, read 4 steps at a time.
        let plan = text.plan(2, 4, &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(plan, vec![vec![0], vec![1], vec![2]]);
        let first = text.gather(0, &plan[0], 2, 4);
        assert_eq!((first.n, first.steps), (2, 4));
        assert_eq!(first.x, [0., 11., 1., 12., 2., 13., 3., 14.]);
        assert_eq!(first.y, [1., 12., 2., 13., 3., 14., 4., 15.]);
        let second = text.gather(0, &plan[1], 2, 4);
        assert_eq!(
            second.x[..2],
            [4., 15.],
            "the next chunk starts where the last ended"
        );
        let last = text.gather(0, &plan[2], 2, 4);
        assert_eq!(last.steps, 2, "10 inputs per stream: 4 + 4 + 2");
        assert_eq!(last.y[last.y.len() - 1], 21.0);
    }

    #[test]
    fn sampling_follows_the_temperature() {
        let logits = [0.0, 2.0, 1.0];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(sample(&logits, 0.0, &mut rng), 1);
        let n = 4000;
        let hot = (0..n)
            .filter(|_| sample(&logits, 1.0, &mut rng) == 1)
            .count() as f64
            / n as f64;
        let p = softmax(&logits)[1];
        assert!((hot - p).abs() < 0.03, "{hot} vs {p}");
        let cold = (0..n)
            .filter(|_| sample(&logits, 0.25, &mut rng) == 1)
            .count() as f64
            / n as f64;
        assert!(cold > 0.95, "{cold}");
    }
}
