//! Checks an experiment and fills in every default that depends on other keys.

use std::path::Path;

use super::limits;
use super::reference::validate_reference;
use super::spec::*;

/// A validation failure at a key path.
pub struct Invalid {
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

pub(super) fn invalid(key: impl Into<String>, message: impl Into<String>, hint: &str) -> Invalid {
    Invalid {
        key: key.into(),
        message: message.into(),
        hint: (!hint.is_empty()).then(|| hint.to_string()),
    }
}

/// Validates `exp` in place: resolves paths against `base`, reads the CSV header to
/// resolve columns, and fills key-dependent defaults.
pub fn validate(exp: &mut Experiment, base: &Path) -> Result<(), Invalid> {
    limits::check_name(&exp.name)?;
    // Before any key is added to or multiplied by another.
    limits::check_bounds(exp)?;
    validate_data(exp, base)?;
    validate_text(exp)?;
    validate_task(exp)?;
    validate_model(exp)?;
    validate_train(&exp.train)?;
    validate_reference(exp)?;
    limits::check_memory(exp)?;
    Ok(())
}

fn validate_data(exp: &mut Experiment, base: &Path) -> Result<(), Invalid> {
    let d = &mut exp.data;
    for (key, v) in [
        ("data.window", d.window),
        ("data.horizon", d.horizon),
        ("data.stride", d.stride),
        ("data.features", d.features),
    ] {
        if v == 0 {
            return Err(invalid(key, "must be at least 1 (got 0)", ""));
        }
    }
    let [tr, va, te] = d.split;
    if d.split.iter().any(|f| !f.is_finite() || *f < 0.0) || tr <= 0.0 || va <= 0.0 {
        return Err(invalid(
            "data.split",
            format!(
                "fractions must be non-negative with train and valid above 0 (got {:?})",
                d.split
            ),
            "e.g. split = [0.7, 0.2, 0.1]",
        ));
    }
    if ((tr + va + te) - 1.0).abs() > 1e-6 {
        return Err(invalid(
            "data.split",
            format!(
                "fractions must add up to 1 (they add up to {})",
                tr + va + te
            ),
            "e.g. split = [0.7, 0.2, 0.1]",
        ));
    }
    match d.source {
        Source::Csv | Source::Text => {
            if d.generator.is_some() {
                return Err(invalid(
                    "data.generator",
                    "only synthetic data has a generator",
                    "remove `generator`, or set source = \"synthetic\"",
                ));
            }
            let Some(path) = d.path.clone() else {
                return Err(invalid(
                    "data.path",
                    "CSV data needs a path",
                    "add path = \"../assets/sunspots_monthly.csv\" (relative to the experiment file)",
                ));
            };
            let full = if path.is_absolute() {
                path
            } else {
                base.join(path)
            };
            let opened = crate::fsio::open_regular(&full, crate::fsio::memory_limit(), "data file");
            match opened {
                Ok(_) => {}
                Err(e) if !full.exists() => {
                    return Err(invalid(
                        "data.path",
                        format!("file not found: {}", e.path.display()),
                        "paths are relative to the experiment file's directory",
                    ));
                }
                Err(e) => {
                    let hint = e.hint().unwrap_or_default();
                    return Err(invalid("data.path", e.to_string(), &hint));
                }
            }
            let full = full.canonicalize().unwrap_or(full);
            if d.layout == Layout::Series && d.source == Source::Csv {
                resolve_columns(d, &full)?;
            }
            d.path = Some(full);
            let text = d.source == Source::Text || d.layout == Layout::Sentences;
            d.normalize.get_or_insert(if text {
                Normalize::None
            } else {
                Normalize::Zscore
            });
        }
        Source::Synthetic => {
            let Some(generator) = d.generator else {
                return Err(invalid(
                    "data.generator",
                    "synthetic data needs a generator",
                    "generator = \"two_sines\" | \"sine\" | \"adding\"",
                ));
            };
            if d.path.is_some() {
                return Err(invalid(
                    "data.path",
                    "synthetic data reads no file",
                    "remove `path`, or set source = \"csv\"",
                ));
            }
            if d.transform != Transform::None {
                return Err(invalid(
                    "data.transform",
                    "`transform` applies to CSV data; synthetic data is generated in its own units",
                    "remove `transform`, or set source = \"csv\"",
                ));
            }
            if d.count < 10 {
                return Err(invalid(
                    "data.count",
                    format!("need at least 10 sequences to split (got {})", d.count),
                    "",
                ));
            }
            let needed = match generator {
                Generator::Adding => d.window,
                _ if exp.task.strategy == Strategy::Seq2seq => d.window + d.horizon,
                _ => d.window + d.horizon,
            };
            let length = *d.length.get_or_insert(needed);
            if length < needed {
                return Err(invalid(
                    "data.length",
                    format!(
                        "sequences of {length} steps are too short for window {} + horizon {}",
                        d.window,
                        if generator == Generator::Adding {
                            0
                        } else {
                            d.horizon
                        }
                    ),
                    "raise `length` or lower `window`/`horizon`",
                ));
            }
            if generator == Generator::Adding && exp.task.kind != TaskKind::Regress {
                return Err(invalid(
                    "task.kind",
                    "the adding problem has explicit targets",
                    "set kind = \"regress\" in [task]",
                ));
            }
            d.normalize.get_or_insert(Normalize::None);
        }
    }
    if d.layout == Layout::Rows && d.source == Source::Csv && !d.columns.is_empty() {
        return Err(invalid(
            "data.columns",
            "`columns` applies to the series layout only",
            "in the rows layout every numeric column is part of the sequence; use `features`",
        ));
    }
    Ok(())
}

/// Reads the CSV header (and first row) to check and default `columns` and `target`.
fn resolve_columns(d: &mut DataSpec, path: &Path) -> Result<(), Invalid> {
    let (file, _) = crate::fsio::open_regular(path, crate::fsio::memory_limit(), "data file")
        .map_err(|e| invalid("data.path", e.to_string(), &e.hint().unwrap_or_default()))?;
    let mut reader = csv::Reader::from_reader(file);
    let record = reader
        .headers()
        .map_err(|e| {
            invalid(
                "data.path",
                format!("{}: bad CSV header: {e}", path.display()),
                "",
            )
        })?
        .clone();
    let header: Vec<String> = record.iter().map(str::to_string).collect();
    let list = header.join(", ");
    if let Some(c) = d
        .columns
        .iter()
        .enumerate()
        .find_map(|(i, c)| d.columns[..i].contains(c).then_some(c))
    {
        return Err(invalid(
            "data.columns",
            format!("names column `{c}` twice"),
            "name each input column once",
        ));
    }
    if d.columns.is_empty() {
        // Judged on every row, so that a missing first value does not hide a column.
        d.columns =
            crate::data::numeric_columns(path, &record, reader.records()).map_err(|e| Invalid {
                key: "data.path".into(),
                hint: e.hint.clone(),
                message: crate::data::DataError { hint: None, ..e }.to_string(),
            })?;
        if d.columns.is_empty() {
            return Err(invalid(
                "data.columns",
                format!("no numeric column in {} (columns: {list})", path.display()),
                "name the input columns, e.g. columns = [\"sunspots\"]",
            ));
        }
    }
    for c in &d.columns {
        if !header.contains(c) {
            return Err(invalid(
                "data.columns",
                format!("no column `{c}` in {} (columns: {list})", path.display()),
                "",
            ));
        }
    }
    let target = d.target.get_or_insert_with(|| d.columns[0].clone());
    if !header.contains(target) {
        return Err(invalid(
            "data.target",
            format!(
                "no column `{target}` in {} (columns: {list})",
                path.display()
            ),
            "",
        ));
    }
    Ok(())
}

/// Text tasks: the data, task and model keys that go together, and their defaults.
fn validate_text(exp: &mut Experiment) -> Result<(), Invalid> {
    let kind = exp.task.kind;
    let d = &mut exp.data;
    let sentences = d.source == Source::Csv && d.layout == Layout::Sentences;
    let text_file = d.source == Source::Text;
    match kind {
        TaskKind::Classify if !sentences => {
            return Err(invalid(
                "task.kind",
                "`classify` reads labelled sentences",
                "set source = \"csv\" and layout = \"sentences\" in [data]",
            ));
        }
        TaskKind::Generate if !text_file => {
            return Err(invalid(
                "task.kind",
                "`generate` reads a text file one character at a time",
                "set source = \"text\" and path = \"…txt\" in [data]",
            ));
        }
        TaskKind::Forecast | TaskKind::Regress if sentences || text_file => {
            return Err(invalid(
                "task.kind",
                "text data is for kind = \"classify\" (sentences) or \"generate\" (a text file)",
                "",
            ));
        }
        _ => {}
    }
    let text = sentences || text_file;
    if text && d.transform != Transform::None {
        return Err(invalid(
            "data.transform",
            "`transform` applies to numeric series; text is read as tokens",
            "remove `transform`",
        ));
    }
    if text {
        if exp.task.strategy != Strategy::OneStep {
            return Err(invalid(
                "task.strategy",
                "text tasks have no forecasting strategy",
                "remove `strategy`",
            ));
        }
        if d.horizon != 1 {
            return Err(invalid(
                "data.horizon",
                "text tasks predict one token ahead",
                "remove `horizon`",
            ));
        }
        match exp.model.embedding {
            None => {
                return Err(invalid(
                    "model.embedding",
                    "text tasks need an embedding: the layers read learned word or character vectors",
                    "add embedding = 32 to [model]",
                ));
            }
            Some(0) => return Err(invalid("model.embedding", "must be at least 1 (got 0)", "")),
            Some(_) => {}
        }
        if exp.model.layers.is_empty() {
            return Err(invalid(
                "model.layers",
                "text tasks need at least one recurrent layer",
                "",
            ));
        }
    } else if exp.model.embedding.is_some() {
        return Err(invalid(
            "model.embedding",
            "an embedding reads tokens; this experiment's inputs are numbers",
            "remove `embedding`, or use a text task (kind = \"classify\" or \"generate\")",
        ));
    }
    if sentences {
        if d.columns.len() > 1 {
            return Err(invalid(
                "data.columns",
                "sentences come from one text column",
                "e.g. columns = [\"text\"]",
            ));
        }
        if d.columns.is_empty() {
            d.columns.push(DEFAULT_TEXT_COLUMN.into());
        }
        d.target.get_or_insert_with(|| DEFAULT_LABEL_COLUMN.into());
        d.vocab_size.get_or_insert(DEFAULT_VOCAB);
        d.min_count.get_or_insert(DEFAULT_MIN_COUNT);
        if d.vocab_size == Some(0) || d.vocab_size == Some(1) {
            return Err(invalid(
                "data.vocab_size",
                "must be at least 2 (the unknown-word token and a word)",
                "",
            ));
        }
    } else if d.vocab_size.is_some() || d.min_count.is_some() {
        let key = if d.vocab_size.is_some() {
            "data.vocab_size"
        } else {
            "data.min_count"
        };
        return Err(invalid(
            key,
            "applies to layout = \"sentences\" only",
            "remove it",
        ));
    }
    let t = &mut exp.task;
    if kind != TaskKind::Classify && !(t.classes.is_empty() && t.probes.is_empty()) {
        let key = if t.classes.is_empty() {
            "task.probes"
        } else {
            "task.classes"
        };
        return Err(invalid(
            key,
            "applies to kind = \"classify\" only",
            "remove it",
        ));
    }
    if kind == TaskKind::Generate {
        let temperature = *t.temperature.get_or_insert(0.8);
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(invalid(
                "task.temperature",
                "must be a number ≥ 0 (0 = always the likeliest)",
                "e.g. temperature = 0.8",
            ));
        }
        if *t.sample_length.get_or_insert(300) == 0 {
            return Err(invalid(
                "task.sample_length",
                "must be at least 1 (got 0)",
                "",
            ));
        }
        t.prime.get_or_insert_with(|| "\n".into());
    } else if t.temperature.is_some() || t.sample_length.is_some() || t.prime.is_some() {
        let key = if t.temperature.is_some() {
            "task.temperature"
        } else if t.sample_length.is_some() {
            "task.sample_length"
        } else {
            "task.prime"
        };
        return Err(invalid(
            key,
            "applies to kind = \"generate\" only",
            "remove it",
        ));
    }
    Ok(())
}

fn validate_task(exp: &Experiment) -> Result<(), Invalid> {
    let d = &exp.data;
    super::inputs::validate(exp)?;
    if matches!(exp.task.kind, TaskKind::Classify | TaskKind::Generate) {
        return Ok(());
    }
    if exp.task.kind == TaskKind::Regress {
        if d.generator != Some(Generator::Adding) {
            return Err(invalid(
                "task.kind",
                "`regress` needs explicit targets, which only generator = \"adding\" provides for now",
                "use kind = \"forecast\" for series data",
            ));
        }
        return Ok(());
    }
    match exp.task.strategy {
        Strategy::OneStep if d.horizon != 1 => Err(invalid(
            "data.horizon",
            format!(
                "the one-step strategy predicts 1 step (horizon = {})",
                d.horizon
            ),
            "set horizon = 1, or strategy = \"iterative\", \"vector\", \"seq2seq\" or \"encoder-decoder\" in [task]",
        )),
        Strategy::Iterative => {
            let single = match d.source {
                Source::Synthetic => true,
                Source::Text => false,
                Source::Csv => match d.layout {
                    Layout::Series => {
                        d.columns.len() == 1 && d.target.as_ref() == d.columns.first()
                    }
                    Layout::Rows => d.features == 1,
                    Layout::Sentences => false,
                },
            };
            if single {
                Ok(())
            } else {
                Err(invalid(
                    "task.strategy",
                    "the iterative strategy feeds predictions back as input, so the input must be the target series alone",
                    "use one input column equal to `target`, or strategy = \"vector\"",
                ))
            }
        }
        _ => Ok(()),
    }
}

fn validate_model(exp: &mut Experiment) -> Result<(), Invalid> {
    if exp.model.layers.is_empty() && exp.every_step() {
        return Err(invalid(
            "model.layers",
            "a model without recurrent layers (the linear baseline) has no per-step outputs for seq2seq",
            "add [[model.layers]], or use strategy = \"vector\"",
        ));
    }
    for (i, l) in exp.model.layers.iter().enumerate() {
        validate_layer(&exp.task, l, &|k: &str| format!("model.layers[{i}].{k}"))?;
    }
    super::decoder::validate(exp)?;
    for (i, l) in exp.model.decoder.iter().enumerate() {
        validate_layer(&exp.task, l, &|k: &str| format!("model.decoder[{i}].{k}"))?;
    }
    Ok(())
}

/// One recurrent layer's settings; `key` names its keys.
pub(super) fn validate_layer(
    task: &TaskSpec,
    l: &LayerSpec,
    key: &dyn Fn(&str) -> String,
) -> Result<(), Invalid> {
    {
        if l.units == 0 {
            return Err(invalid(key("units"), "must be at least 1 (got 0)", ""));
        }
        if !(0.0..1.0).contains(&l.dropout) {
            return Err(invalid(
                key("dropout"),
                format!("must be in [0, 1) (got {})", l.dropout),
                "",
            ));
        }
        if l.cell != Cell::Rnn && l.activation.is_some() {
            return Err(invalid(
                key("activation"),
                format!(
                    "{} cells have fixed activations; `activation` is for cell = \"rnn\"",
                    l.cell.name()
                ),
                "remove `activation`",
            ));
        }
        if !matches!(l.cell, Cell::Lstm | Cell::MinLstm) && l.forget_bias.is_some() {
            return Err(invalid(
                key("forget_bias"),
                "`forget_bias` applies to LSTM and minLSTM layers only",
                "remove it, or set cell = \"lstm\" or \"minlstm\"",
            ));
        }
        if !(0.0..1.0).contains(&l.recurrent_dropout) {
            return Err(invalid(
                key("recurrent_dropout"),
                format!("must be in [0, 1) (got {})", l.recurrent_dropout),
                "",
            ));
        }
        if l.recurrent_dropout > 0.0 && !l.cell.recurrent_weights() {
            return Err(invalid(
                key("recurrent_dropout"),
                format!(
                    "{} layers have no recurrent weights: their gates read only x_t, so there is no recurrent product to drop inputs of",
                    l.cell.name()
                ),
                "use `dropout` (on the layer's outputs) instead",
            ));
        }
        if l.norm.is_some() && !l.cell.recurrent_weights() {
            return Err(invalid(
                key("norm"),
                format!(
                    "{} layers have no recurrent pre-activation to normalise: their gates read only x_t, and layer normalisation inside the cell applies to rnn, lstm and gru",
                    l.cell.name()
                ),
                "remove `norm`, or use cell = \"rnn\", \"lstm\" or \"gru\"",
            ));
        }
        if l.bidirectional {
            let forecast_hint = "remove `bidirectional`, or use strategy = \"vector\" or \"one-step\" (the whole window is the past)";
            let leak = match task.kind {
                TaskKind::Generate => Some((
                    "text generation predicts each character from the ones before it; a backward pass would read the character it must predict",
                    "remove `bidirectional` (classifying sentences may use it: the whole sentence is known)",
                )),
                TaskKind::Forecast if task.strategy == Strategy::Iterative => Some((
                    "the iterative strategy feeds each prediction back as the next input, one step at a time; a backward pass would need the inputs after it, which are not known yet",
                    forecast_hint,
                )),
                TaskKind::Forecast if task.strategy == Strategy::Seq2seq => Some((
                    "seq2seq predicts the next values at every step from the steps so far; a backward pass would let step t read the inputs after it, which hold the very values it must predict",
                    forecast_hint,
                )),
                _ => None,
            };
            if let Some((why, fix)) = leak {
                return Err(invalid(
                    key("bidirectional"),
                    format!("a bidirectional layer would leak the future here: {why}"),
                    fix,
                ));
            }
        }
    }
    Ok(())
}

fn validate_train(t: &TrainSpec) -> Result<(), Invalid> {
    if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
        return Err(invalid(
            "train.learning_rate",
            format!("must be a positive number (got {})", t.learning_rate),
            "typical values: 0.001 for Adam, 0.01–0.1 for SGD",
        ));
    }
    if !(0.0..1.0).contains(&t.momentum) {
        return Err(invalid(
            "train.momentum",
            format!("must be in [0, 1) (got {})", t.momentum),
            "",
        ));
    }
    if t.batch_size == 0 {
        return Err(invalid(
            "train.batch_size",
            "must be at least 1 (got 0)",
            "",
        ));
    }
    if t.epochs == 0 {
        return Err(invalid("train.epochs", "must be at least 1 (got 0)", ""));
    }
    if !(t.clip_grad_norm.is_finite() && t.clip_grad_norm >= 0.0) {
        return Err(invalid(
            "train.clip_grad_norm",
            format!(
                "must be 0 (off) or a positive number (got {})",
                t.clip_grad_norm
            ),
            "",
        ));
    }
    Ok(())
}
