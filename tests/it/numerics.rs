//! The recurrent stacks against PyTorch: outputs, loss and every parameter
//! gradient, from fixtures written by `tests/fixtures/make_fixtures.py`.

use std::path::Path;

use rnnlab::experiment::LayerSpec;
use rnnlab::model::Model;
use safetensors::SafeTensors;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    steps: usize,
    batch: usize,
    input: usize,
    output: usize,
    every_step: bool,
    layers: Vec<LayerSpec>,
}

fn tensor(st: &SafeTensors, name: &str) -> Vec<f32> {
    st.tensor(name)
        .unwrap_or_else(|_| panic!("fixture has no `{name}`"))
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * scale,
            "{what}[{i}]: rnnlab {g} vs PyTorch {w}"
        );
    }
}

#[test]
fn stacks_match_pytorch() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 7, "every fixture case is listed");
    for case in cases {
        let path = dir.join(format!("{}.safetensors", case.name));
        let bytes = std::fs::read(&path).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut model = Model::new(&case.layers, case.input, case.output, case.every_step, 0);
        model.load_safetensors(&bytes, &path).unwrap();
        let x = tensor(&st, "input");
        let y = tensor(&st, "target");
        let out = model.predict(&x, case.batch, case.steps);
        assert_close(
            &format!("{} output", case.name),
            &out,
            &tensor(&st, "output"),
        );
        let (loss, grads) = model.loss_and_grads(&x, &y, case.batch, case.steps, None);
        assert_close(
            &format!("{} loss", case.name),
            &[loss],
            &tensor(&st, "loss"),
        );
        for (p, g) in model.params.iter().zip(&grads) {
            let want = tensor(&st, &format!("grad.{}", p.name));
            assert_close(&format!("{} grad.{}", case.name, p.name), g, &want);
        }
    }
}
