//! Size limits: every key that sizes something has a fixed upper bound
//! (checked before any arithmetic on it), and the experiment as a whole
//! must fit in the memory this machine has available. Sizes are combined in
//! saturating `u64` arithmetic, so no value can overflow an estimate.

use std::io::Read;
use std::path::Path;

use super::spec::*;
use super::validate::Invalid;
use crate::fsio;

/// The largest number of time steps in a window, horizon, sequence or season.
pub const MAX_STEPS: usize = 1 << 24;
/// The largest number of hidden units in a layer, and of embedding dimensions.
pub const MAX_UNITS: usize = 1 << 20;
/// The most recurrent layers.
pub const MAX_LAYERS: usize = 1024;
/// The most input values per time step.
pub const MAX_FEATURES: usize = 1 << 16;
/// The most synthetic sequences.
pub const MAX_COUNT: usize = 1 << 32;
/// The largest word vocabulary.
pub const MAX_VOCAB: usize = 1 << 24;
/// The largest batch.
pub const MAX_BATCH: usize = 1 << 20;
/// The most epochs.
pub const MAX_EPOCHS: usize = 1_000_000;
/// The longest generated sample, in characters.
pub const MAX_SAMPLE: usize = 100_000;
/// The most worker threads.
pub const MAX_THREADS: usize = 1024;
/// The most quantile levels (`task.quantiles`): a head each.
pub const MAX_QUANTILES: usize = 99;
/// The longest experiment name, in bytes (it prefixes a directory name; a
/// name in a file system holds at most 255).
pub const MAX_NAME: usize = 200;

/// Samples per batch of an evaluation (`train::eval`).
const EVAL_BATCH: u64 = 256;
/// Assumed alphabet of a text file before it is read.
const ASSUMED_ALPHABET: u64 = 256;

fn too_large(key: String, v: usize, max: usize, hint: &str) -> Invalid {
    Invalid {
        key,
        message: format!("{v} is more than rnnlab allows ({max})"),
        hint: (!hint.is_empty()).then(|| hint.to_string()),
    }
}

/// The experiment's name: it prefixes the run directory's name.
pub(crate) fn check_name(name: &str) -> Result<(), Invalid> {
    let usable = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if usable {
        return Ok(());
    }
    let shown = if name.len() > 40 {
        let cut = (0..=40)
            .rev()
            .find(|&i| name.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}… ({} bytes)", &name[..cut], name.len())
    } else {
        name.to_string()
    };
    Err(Invalid {
        key: "name".into(),
        message: format!("`{shown}` is not a usable run name"),
        hint: Some(format!(
            "use up to {MAX_NAME} letters, digits, `-`, `_` or `.`, starting with a letter or digit; it prefixes the run directory"
        )),
    })
}

/// Fixed upper bounds of every size key; runs before anything adds or
/// multiplies them.
pub(crate) fn check_bounds(exp: &Experiment) -> Result<(), Invalid> {
    let d = &exp.data;
    let t = &exp.train;
    let mut checks: Vec<(String, usize, usize, &str)> = vec![
        ("data.window".into(), d.window, MAX_STEPS, ""),
        ("data.horizon".into(), d.horizon, MAX_STEPS, ""),
        ("data.season".into(), d.season, MAX_STEPS, ""),
        ("data.length".into(), d.length.unwrap_or(0), MAX_STEPS, ""),
        ("data.stride".into(), d.stride, MAX_COUNT, ""),
        ("data.features".into(), d.features, MAX_FEATURES, ""),
        ("data.count".into(), d.count, MAX_COUNT, ""),
        (
            "data.vocab_size".into(),
            d.vocab_size.unwrap_or(0),
            MAX_VOCAB,
            "",
        ),
        (
            "data.min_count".into(),
            d.min_count.unwrap_or(0),
            MAX_COUNT,
            "",
        ),
        (
            "task.sample_length".into(),
            exp.task.sample_length.unwrap_or(0),
            MAX_SAMPLE,
            "a sample is text to read at each evaluation; 300–2000 characters is typical",
        ),
        (
            "model.embedding".into(),
            exp.model.embedding.unwrap_or(0),
            MAX_UNITS,
            "",
        ),
        (
            "model.layers".into(),
            exp.model.layers.len(),
            MAX_LAYERS,
            "",
        ),
        ("train.batch_size".into(), t.batch_size, MAX_BATCH, ""),
        (
            "train.epochs".into(),
            t.epochs,
            MAX_EPOCHS,
            "train.max_steps caps the steps instead",
        ),
        (
            "train.early_stopping".into(),
            t.early_stopping,
            MAX_EPOCHS,
            "",
        ),
        (
            "evaluate.origins".into(),
            exp.evaluate.origins,
            MAX_EPOCHS,
            "",
        ),
        ("evaluate.step".into(), exp.evaluate.step, MAX_STEPS, ""),
        (
            "checkpoint.keep_last".into(),
            exp.checkpoint.keep_last,
            MAX_EPOCHS,
            "",
        ),
        (
            "train.threads".into(),
            t.threads,
            MAX_THREADS,
            "0 = one per CPU; more threads than cores only slows a step",
        ),
    ];
    for (i, &lag) in d.lags.iter().enumerate() {
        checks.push((format!("data.lags[{i}]"), lag, MAX_STEPS, ""));
    }
    checks.push(("data.lags".into(), d.lags.len(), MAX_FEATURES, ""));
    checks.push((
        "task.quantiles".into(),
        exp.task.quantiles.len(),
        MAX_QUANTILES,
        "a head per level; e.g. quantiles = [0.05, 0.1, 0.5, 0.9, 0.95]",
    ));
    for (i, l) in exp.model.layers.iter().enumerate() {
        checks.push((format!("model.layers[{i}].units"), l.units, MAX_UNITS, ""));
    }
    checks.push((
        "model.decoder".into(),
        exp.model.decoder.len(),
        MAX_LAYERS,
        "",
    ));
    for (i, l) in exp.model.decoder.iter().enumerate() {
        checks.push((format!("model.decoder[{i}].units"), l.units, MAX_UNITS, ""));
    }
    for (key, v, max, hint) in checks {
        if v > max {
            return Err(too_large(key, v, max, hint));
        }
    }
    Ok(())
}

/// Memory the experiment needs, in parts, each with the keys that drive it.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// (what, bytes, the key that drives it most, the keys in words).
    pub parts: Vec<(&'static str, u64, String, String)>,
}

impl Estimate {
    /// Bytes in all.
    pub fn total(&self) -> u64 {
        self.parts.iter().fold(0u64, |a, p| a.saturating_add(p.1))
    }

    /// "parameters … 1.2 MiB, activations … 3.0 KiB, data … 1.0 GiB".
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|(what, b, _, keys)| format!("{what} {} ({keys})", fsio::bytes(*b)))
            .collect();
        parts.join(", ")
    }
}

/// `a × b × …` saturating.
fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |a, &b| a.saturating_mul(b))
}

/// Estimates what training `exp` holds in memory at once: parameters with
/// their gradients, optimizer moments and checkpoint buffers; the
/// activations backpropagation through time keeps for a batch; the data
/// set, windowed. Rough (within a small factor) and never below the truth
/// by much: it is for refusing what cannot fit, not for planning.
pub fn estimate(exp: &Experiment) -> Estimate {
    let d = &exp.data;
    let u = |v: usize| v as u64;
    let text_stream = d.source == Source::Text;
    let sentences = d.source == Source::Csv && d.layout == Layout::Sentences;
    let (input, outputs) = if text_stream {
        (ASSUMED_ALPHABET, ASSUMED_ALPHABET)
    } else if sentences {
        (u(d.vocab_size()), u(exp.task.classes.len().max(2)))
    } else {
        (u(exp.input_features()), u(exp.head_size().max(1)))
    };
    // Parameters, and the key of the largest tensor group.
    let mut params = 0u64;
    let mut biggest = (0u64, String::from("model.layers"));
    let mut fan_in = match exp.model.embedding {
        Some(e) => {
            let table = mul(&[input, u(e)]);
            params = table;
            let key = if sentences {
                "data.vocab_size"
            } else {
                "model.embedding"
            };
            biggest = (table, key.into());
            u(e)
        }
        None if exp.model.layers.is_empty() => mul(&[input, u(d.window)]),
        None => input,
    };
    let mut state_per_step = 0u64;
    // An encoder–decoder's decoder follows the layers (the encoder): its
    // first layer reads the previous value, the known-future columns and
    // lags (at most every input) and the context; it keeps its state for
    // the horizon's steps (counted with the window's below, an
    // overestimate), and its head predicts one step's heads.
    let decoder = exp.model.decoder.iter().enumerate();
    let stacks = exp
        .model
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| ("layers", i, l));
    for (stack, i, l) in stacks.chain(decoder.map(|(i, l)| ("decoder", i, l))) {
        if stack == "decoder" && i == 0 {
            fan_in = fan_in.saturating_add(u(exp.input_features()).saturating_add(1));
        }
        let (g, h) = (u(l.cell.gates()), u(l.units));
        // W_ih and b_ih, and W_hh and b_hh but for the minimal cells, per direction.
        // Layer normalisation adds at most four gains and biases per row.
        let ln = if l.norm.is_some() { 4 } else { 0 };
        let per_row = if l.cell.recurrent_weights() {
            fan_in.saturating_add(h).saturating_add(2 + ln)
        } else {
            fan_in.saturating_add(1)
        };
        let n = mul(&[u(l.directions()), g, h, per_row]);
        params = params.saturating_add(n);
        if n > biggest.0 {
            biggest = (n, format!("model.{stack}[{i}].units"));
        }
        // Gates, state, cell and input kept per step for the backward pass;
        // with layer normalisation also both normalised projections.
        let kept = if l.norm.is_some() { 3 * g + 4 } else { g + 4 };
        state_per_step = state_per_step.saturating_add(mul(&[u(l.directions()), kept, h]));
        fan_in = u(l.width());
    }
    let head_outputs = if exp.model.decoder.is_empty() {
        outputs
    } else {
        u(exp.heads())
    };
    let head = mul(&[head_outputs, fan_in.saturating_add(1)]);
    params = params.saturating_add(head);
    if head > biggest.0 {
        biggest = (
            head,
            if exp.model.layers.is_empty() {
                "data.window"
            } else {
                "model.layers"
            }
            .into(),
        );
    }
    // Weights, gradients, two moments, and a checkpoint's encoded copies: 8 × f32.
    let model_bytes = mul(&[params, 32]);

    let t = &exp.train;
    let window = u(d.window);
    let per_sample_step = state_per_step
        .saturating_add(u(exp.input_features()))
        .saturating_add(if exp.every_step() { outputs } else { 0 });
    // Training: f32 values twice (the forward tape and the gradients flowing
    // back); an evaluation's larger batches keep about half as much, once.
    let activations = mul(&[u(t.batch_size), window, per_sample_step, 8]).saturating_add(mul(&[
        EVAL_BATCH,
        window,
        per_sample_step,
        2,
    ]));
    let activation_key = if window >= u(t.batch_size) {
        "data.window"
    } else {
        "train.batch_size"
    };

    let (data_bytes, data_key, data_words) = data_estimate(exp, outputs);
    Estimate {
        parts: vec![
            (
                "parameters with gradients and optimizer state",
                model_bytes,
                biggest.1,
                format!("{params} parameters × 32 B"),
            ),
            (
                "activations kept for a batch",
                activations,
                activation_key.into(),
                "train.batch_size × data.window × the layers' units".into(),
            ),
            ("data", data_bytes, data_key.into(), data_words),
        ],
    }
}

/// The data set in memory: raw values, their windows and the copies made while loading.
fn data_estimate(exp: &Experiment, outputs: u64) -> (u64, &'static str, String) {
    let d = &exp.data;
    let u = |v: usize| v as u64;
    let f = u(exp.input_features());
    let (window, horizon) = (u(d.window), u(d.horizon));
    let targets = if exp.every_step() {
        mul(&[window, outputs])
    } else {
        outputs
    };
    // One sample: its window of inputs, the target series over it (for the
    // baselines), its targets and the steps right after it.
    let sample = mul(&[window, f.saturating_add(1)])
        .saturating_add(targets)
        .saturating_add(horizon);
    let file = d.path.as_deref().map(file_size).unwrap_or(0);
    match (d.source, d.layout) {
        (Source::Synthetic, _) => {
            let length = u(d.length.unwrap_or(d.window + d.horizon));
            // Each sequence (inputs and truth, and the scaler's copy), its
            // sample, and the allocations' overhead.
            let per = mul(&[4, length, f])
                .saturating_add(sample)
                .saturating_add(16);
            // `length` defaults to what the window needs: then the window drives it.
            let key = if u(d.count) >= length {
                "data.count"
            } else if length <= window.saturating_add(horizon) {
                "data.window"
            } else {
                "data.length"
            };
            (
                mul(&[u(d.count), per, 4]),
                key,
                "data.count × (data.length + data.window) × features".into(),
            )
        }
        (Source::Text, _) => (
            mul(&[file, 16]),
            "data.path",
            "the text file's characters as ids".into(),
        ),
        (Source::Csv, Layout::Sentences) => {
            let rows = d.path.as_deref().map(count_lines).unwrap_or(0);
            (
                mul(&[file, 2]).saturating_add(mul(&[rows, window, 8])),
                "data.window",
                "rows × data.window tokens".into(),
            )
        }
        (Source::Csv, Layout::Series) => {
            let rows = d.path.as_deref().map(count_lines).unwrap_or(0);
            // Windows slide by `stride` along the one series.
            let samples = rows / u(d.stride).max(1) + 1;
            let raw = mul(&[rows, u(d.columns.len()).saturating_add(1), 12]);
            (
                raw.saturating_add(mul(&[samples, sample, 4])),
                "data.window",
                format!("{rows} rows / data.stride windows × data.window × columns"),
            )
        }
        (Source::Csv, Layout::Rows) => {
            let rows = d.path.as_deref().map(count_lines).unwrap_or(0);
            // At most one value per two bytes of the file, in three copies.
            (
                mul(&[file, 6]).saturating_add(mul(&[rows, sample, 4])),
                "data.window",
                format!("{rows} rows × data.window × data.features"),
            )
        }
    }
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Lines of a (validated, regular) file, counted in a stream.
fn count_lines(path: &Path) -> u64 {
    let Ok((mut file, _)) = fsio::open_regular(path, u64::MAX, "data file") else {
        return 0;
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => return lines + 1,
            Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64,
        }
    }
}

/// Refuses an experiment whose estimate exceeds the memory available.
pub(crate) fn check_memory(exp: &Experiment) -> Result<(), Invalid> {
    let (available, source) = match fsio::available_memory() {
        Some(m) => (m, "available now"),
        None => (fsio::ASSUMED_MEMORY, "assumed, as this system does not say"),
    };
    check_memory_within(exp, available, source)
}

fn check_memory_within(exp: &Experiment, available: u64, source: &str) -> Result<(), Invalid> {
    let est = estimate(exp);
    let total = est.total();
    if total <= available {
        return Ok(());
    }
    let Some((_, _, key, _)) = est.parts.iter().max_by_key(|p| p.1) else {
        return Ok(());
    };
    Err(Invalid {
        key: key.clone(),
        message: format!(
            "the experiment needs about {} of memory, more than the {} {source}: {}",
            fsio::bytes(total),
            fsio::bytes(available),
            est.describe()
        ),
        hint: Some(format!(
            "lower `{key}`, which drives the largest part, or run on a machine with more memory"
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Experiment;

    fn exp(extra: &str) -> Result<Experiment, String> {
        let text = format!(
            "name = \"t\"\n[data]\nsource = \"synthetic\"\ngenerator = \"sine\"\ncount = 100\n\
             window = 20\n[[model.layers]]\ncell = \"lstm\"\nunits = 8\n{extra}"
        );
        let dir = std::env::temp_dir();
        Experiment::from_str_at(&text, &dir.join("e.toml"), &dir, &[]).map_err(|e| e.to_string())
    }

    #[test]
    fn estimates_grow_with_the_keys_that_drive_them() {
        let small = estimate(&exp("").unwrap());
        // 4 gates × 8 units × (1 input + 8 + 2 biases) + head 1 × 9.
        assert!(small.parts[0].3.starts_with("361 parameters"), "{small:?}");
        assert!(small.total() < 10 << 20, "{small:?}");
        let wide = estimate(&exp("[train]\nbatch_size = 64").unwrap());
        assert_eq!(wide.parts[0], small.parts[0]);
        assert!(wide.total() >= small.total());
    }

    #[test]
    fn huge_sizes_are_refused_with_the_key_the_estimate_and_the_memory() {
        let e = exp("").unwrap();
        let mut big = e.clone();
        big.model.layers[0].units = MAX_UNITS;
        let err = check_memory_within(&big, 1 << 30, "available now").unwrap_err();
        assert_eq!(err.key, "model.layers[0].units");
        assert!(
            err.message.contains("more than the 1.0 GiB available now"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("parameters with gradients"),
            "{}",
            err.message
        );
        assert!(check_memory_within(&e, 1 << 30, "available now").is_ok());
        let mut long = e.clone();
        long.data.count = MAX_COUNT;
        let err = check_memory_within(&long, 1 << 30, "available now").unwrap_err();
        assert_eq!(err.key, "data.count");
    }

    #[test]
    fn the_largest_values_never_overflow_the_estimate() {
        let mut e = exp("").unwrap();
        e.data.window = usize::MAX;
        e.data.count = usize::MAX;
        e.model.layers[0].units = usize::MAX;
        e.train.batch_size = usize::MAX;
        assert_eq!(estimate(&e).total(), u64::MAX);
    }

    #[test]
    fn bounds_name_the_key_and_the_limit() {
        for (set, key) in [
            ("[train]\nthreads = 100000", "train.threads"),
            ("[train]\nepochs = 10000000", "train.epochs"),
            (
                "[train]\nbatch_size = 9223372036854775807",
                "train.batch_size",
            ),
        ] {
            let err = exp(set).unwrap_err();
            assert!(
                err.contains(&format!("`{key}`")) && err.contains("is more than rnnlab allows"),
                "{err}"
            );
        }
        let err = exp("").map(|_| ()).and_then(|_| {
            let text = "name = \"t\"\n[data]\nsource = \"synthetic\"\ngenerator = \"sine\"\nwindow = 9223372036854775807\n[[model.layers]]\ncell = \"gru\"\nunits = 2\n";
            let dir = std::env::temp_dir();
            Experiment::from_str_at(text, &dir.join("e.toml"), &dir, &[]).map(|_| ()).map_err(|e| e.to_string())
        });
        let err = err.unwrap_err();
        assert!(
            err.contains(
                "`data.window`: 9223372036854775807 is more than rnnlab allows (16777216)"
            ),
            "{err}"
        );
    }

    #[test]
    fn names_are_bounded_and_safe_in_a_directory_name() {
        assert!(check_name("quickstart-2.b_c").is_ok());
        for bad in [
            "",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "ü",
            &"a".repeat(MAX_NAME + 1),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(MAX_NAME)).is_ok());
        let e = check_name(&"a".repeat(300)).unwrap_err();
        assert!(e.message.contains("(300 bytes)") && e.hint.unwrap().contains("up to 200"));
    }
}
