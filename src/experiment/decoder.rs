//! Validation of the encoder–decoder strategy: its decoder stack
//! (`[[model.decoder]]`, filled in from the encoder when not given) and its
//! teacher forcing (`task.teacher_forcing`, `task.teacher_forcing_end`).

use super::spec::*;
use super::validate::{Invalid, invalid};

/// The decoder and teacher-forcing keys; fills in a decoder not given.
pub(super) fn validate(exp: &mut Experiment) -> Result<(), Invalid> {
    let t = &exp.task;
    let enc_dec = t.kind == TaskKind::Forecast && t.strategy == Strategy::EncoderDecoder;
    if !enc_dec {
        if !exp.model.decoder.is_empty() {
            return Err(invalid(
                "model.decoder",
                "only the encoder–decoder strategy has a decoder",
                "set strategy = \"encoder-decoder\" in [task], or remove [[model.decoder]]",
            ));
        }
        for (key, set) in [
            ("task.teacher_forcing", t.teacher_forcing != 1.0),
            ("task.teacher_forcing_end", t.teacher_forcing_end.is_some()),
        ] {
            if set {
                return Err(invalid(
                    key,
                    "teacher forcing is how the encoder–decoder strategy's decoder is trained; this experiment has no decoder",
                    "remove it, or set strategy = \"encoder-decoder\" in [task]",
                ));
            }
        }
        return Ok(());
    }
    for (key, p) in [
        ("task.teacher_forcing", Some(t.teacher_forcing)),
        ("task.teacher_forcing_end", t.teacher_forcing_end),
    ] {
        if let Some(p) = p
            && !(0.0..=1.0).contains(&p)
        {
            return Err(invalid(
                key,
                format!("must be a probability, between 0 and 1 (got {p})"),
                "1 = always the true previous value (teacher forcing), 0 = always the model's own prediction",
            ));
        }
    }
    if exp.model.layers.is_empty() {
        return Err(invalid(
            "model.layers",
            "the encoder–decoder strategy needs an encoder: at least one recurrent layer",
            "add [[model.layers]]",
        ));
    }
    if exp.target_input().is_none() {
        return Err(invalid(
            "data.target",
            "the decoder starts from the target's last value in the window and is fed its own forecasts in its place, so the target must be an input column",
            "add the target to data.columns",
        ));
    }
    let d = &exp.data;
    if !d.future_columns.is_empty() && d.window < d.horizon {
        return Err(invalid(
            "data.window",
            format!(
                "decoder step k reads the known-future columns from the window's row T − H + k (the columns are led by the horizon), so the window ({}) must be at least the horizon ({})",
                d.window, d.horizon
            ),
            "raise data.window to the horizon or more",
        ));
    }
    if exp.model.decoder.is_empty() {
        // The encoder's layers, each reading forwards only.
        exp.model.decoder = exp
            .model
            .layers
            .iter()
            .map(|l| LayerSpec {
                bidirectional: false,
                ..*l
            })
            .collect();
    }
    for (i, l) in exp.model.decoder.iter().enumerate() {
        if l.bidirectional {
            return Err(invalid(
                format!("model.decoder[{i}].bidirectional"),
                "the decoder unrolls the forecast one step at a time; a backward pass would read the steps after the one it predicts, which are not known yet",
                "remove `bidirectional` (the encoder may be bidirectional: the window is the past)",
            ));
        }
    }
    Ok(())
}
