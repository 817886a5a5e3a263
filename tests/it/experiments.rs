//! Every experiment shipped in `experiments/` parses, validates, loads its
//! data and builds its model; every sweep file in `experiments/sweeps/`
//! validates and plans trials.

use std::path::Path;

use rnnlab::experiment::Experiment;
use rnnlab::model::Model;

#[test]
fn every_shipped_experiment_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut checked = Vec::new();
    let mut files = Vec::new();
    let mut dirs = vec![dir.clone()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    for path in files {
        let dir = path.parent().unwrap().to_path_buf();
        if dir.ends_with("sweeps") {
            // Sweep files: valid sweeps over valid experiments, with a plan.
            let sweep = rnnlab::sweep::Sweep::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                !rnnlab::sweep::plan(&sweep).is_empty(),
                "{}",
                path.display()
            );
            checked.push(path.file_name().unwrap().to_string_lossy().to_string());
            continue;
        }
        let exp = Experiment::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
        let data = rnnlab::data::load(&exp).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let valid = data.text.as_ref().map_or(data.valid.len, |t| t.len(1));
        assert!(
            data.batches_per_epoch(exp.train.batch_size) > 0 && valid > 0,
            "{}",
            path.display()
        );
        let model = Model::for_experiment(&exp, data.text.as_ref());
        assert!(model.parameter_count() > 0);
        // The resolved experiment written to a run directory reads back the same.
        let again = Experiment::from_str_at(&exp.to_toml(), &path, &dir, &[])
            .unwrap_or_else(|e| panic!("resolved form of {}: {e}", path.display()));
        assert_eq!(again, exp, "{}", path.display());
        checked.push(path.file_name().unwrap().to_string_lossy().to_string());
    }
    assert!(
        checked.contains(&"quickstart.toml".to_string()),
        "{checked:?}"
    );
    assert!(checked.len() >= 6 + 12, "{checked:?}");
    for name in [
        "12-seq2seq-gru.toml",
        "sentiment-gru.toml",
        "chars-lstm.toml",
    ] {
        assert!(checked.contains(&name.to_string()), "{checked:?}");
    }
}
