//! The model described for people: the stack in one line, and a
//! Keras-style summary table with PyTorch's parameter counts.

use super::Model;
use crate::experiment::{Cell, LayerSpec};

impl Model {
    /// The stack in one line, e.g. `lstm(64) → gru(32) → dense(1)`, or
    /// for an encoder–decoder `encoder[lstm(64)] → decoder[lstm(64)] →
    /// dense(1) × 24 steps`.
    pub fn describe(&self) -> String {
        let names = |layers: &[LayerSpec]| -> Vec<String> {
            layers
                .iter()
                .map(|l| {
                    let bi = if l.bidirectional { "bi-" } else { "" };
                    match l.cell {
                        Cell::Rnn => format!("{bi}rnn-{}({})", activation_name(l), l.units),
                        c => format!("{bi}{}({})", c.name(), l.units),
                    }
                })
                .collect()
        };
        if let Some(dec) = &self.decoder {
            return format!(
                "encoder[{}] → decoder[{}] → dense({}) × {} steps",
                names(&self.layers).join(" → "),
                names(&dec.layers).join(" → "),
                self.heads(),
                dec.horizon
            );
        }
        let mut parts = names(&self.layers);
        if parts.is_empty() {
            parts.push("flatten".into());
        }
        if let Some(width) = self.embedding {
            parts.insert(0, format!("embedding({}×{width})", self.input));
        }
        parts.push(format!("dense({})", self.output));
        parts.join(" → ")
    }

    /// A Keras-style summary table: per layer its cell, input, units and parameters.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{:<10} {:<12} {:>6} {:>6} {:>10}\n",
            "layer", "cell", "input", "units", "params"
        );
        let groups = self.param_groups();
        let mut fan_in = self.input;
        if let Some(width) = self.embedding {
            out += &format!(
                "{:<10} {:<12} {fan_in:>6} {width:>6} {:>10}\n",
                "embedding",
                "embedding",
                fan_in * width
            );
            fan_in = width;
        }
        let layers = self.named_layers();
        for ((name, range), (_, l)) in groups.iter().zip(&layers) {
            if let Some(dec) = &self.decoder
                && name == "decoder.0"
            {
                // The previous value, the known-future inputs and the context.
                fan_in += dec.known();
            }
            let count: usize = self.params[range.clone()]
                .iter()
                .map(|p| p.data.len())
                .sum();
            let mut cell = match l.cell {
                Cell::Rnn => format!("rnn ({})", activation_name(l)),
                c => c.name().to_string(),
            };
            if l.bidirectional {
                cell += " ×2";
            }
            out += &format!(
                "{name:<10} {cell:<12} {fan_in:>6} {:>6} {count:>10}\n",
                l.units
            );
            fan_in = l.width();
        }
        let (name, range) = &groups[layers.len()];
        let count: usize = self.params[range.clone()]
            .iter()
            .map(|p| p.data.len())
            .sum();
        let (dense, outputs) = match &self.decoder {
            Some(_) => ("dense (each step)", self.heads()),
            None if self.every_step => ("dense (each step)", self.output),
            None => ("dense", self.output),
        };
        out += &format!("{name:<10} {dense:<12} {fan_in:>6} {outputs:>6} {count:>10}\n");
        out += &format!("total parameters: {}\n", self.parameter_count());
        out
    }
}

fn activation_name(l: &LayerSpec) -> &'static str {
    match l.activation() {
        crate::experiment::Activation::Tanh => "tanh",
        crate::experiment::Activation::Relu => "relu",
    }
}
