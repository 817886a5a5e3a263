//! `rnnlab bench --sweep`: shapes a user trains beyond the standard
//! configurations, so that a slow untuned shape shows up beside PyTorch.
//!
//! One factor at a time around a base (2 layers of 256 units, T = 100,
//! batch 64, 32 inputs) for every cell and activation: batch 1 and 256,
//! T = 1,000, 1,024 units, 4 layers of 64 and one layer of 512; and the
//! long-sequence shape the memory target names (LSTM 2×256, T = 1,000,
//! batch 64).

use crate::experiment::{Activation, Cell};

use super::Config;

/// A cell with its activation (simple RNNs have two).
const CELLS: [(Cell, Activation); 4] = [
    (Cell::Lstm, Activation::Tanh),
    (Cell::Gru, Activation::Tanh),
    (Cell::Rnn, Activation::Tanh),
    (Cell::Rnn, Activation::Relu),
];

/// (layers, units, input, T, batch) around the base, for every cell.
const SHAPES: [(usize, usize, usize, usize, usize); 7] = [
    (2, 256, 32, 100, 64),  // the base
    (2, 256, 32, 100, 1),   // one sequence at a time (online, predict)
    (2, 256, 32, 100, 256), // a large batch
    (2, 256, 32, 1000, 16), // a long sequence
    (2, 1024, 32, 50, 32),  // wide layers: W_hh (16 MiB for an LSTM) past L2
    (4, 64, 32, 100, 64),   // a deep stack of narrow layers
    (1, 512, 32, 200, 32),  // one layer
];

/// Every shape of the sweep, in order; names such as `lstm-2x256-t100-b64`.
pub fn grid() -> Vec<Config> {
    let mut out = Vec::new();
    for (cell, activation) in CELLS {
        for (layers, units, input, steps, batch) in SHAPES {
            out.push(Config {
                name: "",
                cell,
                activation,
                layers,
                units,
                input,
                steps,
                batch,
            });
        }
    }
    // Training memory on a long sequence (issue 18's memory target).
    out.push(Config {
        name: "",
        cell: Cell::Lstm,
        activation: Activation::Tanh,
        layers: 2,
        units: 256,
        input: 32,
        steps: 1000,
        batch: 64,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::grid;

    #[test]
    fn the_grid_spans_what_users_train_with_unique_names() {
        let g = grid();
        let names: std::collections::BTreeSet<String> = g.iter().map(|c| c.label()).collect();
        assert_eq!(names.len(), g.len(), "names are unique");
        assert!(names.contains("lstm-2x256-t100-b64"));
        assert!(names.contains("rnn-relu-2x1024-t50-b32"));
        assert_eq!(g.iter().map(|c| c.steps).max(), Some(1000));
        assert_eq!(g.iter().map(|c| c.units).max(), Some(1024));
        assert_eq!(g.iter().map(|c| c.batch).min(), Some(1));
        assert_eq!(g.iter().map(|c| c.batch).max(), Some(256));
        assert_eq!(
            g.iter()
                .map(|c| c.layers)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            3
        );
    }
}
