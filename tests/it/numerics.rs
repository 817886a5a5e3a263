//! The recurrent stacks against PyTorch: outputs, loss and every parameter
//! gradient, from fixtures written by `tests/fixtures/make_fixtures.py`,
//! and against central finite differences; under every instruction set
//! this CPU has (`RNNLAB_SIMD`, read once per process, so each runs in a
//! process of its own) and with more threads than cores.

use std::path::Path;
use std::process::Command;

use rnnlab::experiment::LayerSpec;
use rnnlab::kernels::cell::split_layers;
use rnnlab::kernels::gemm::{Path as Product, taken};
use rnnlab::kernels::scan::chunked_scans;
use rnnlab::kernels::simd::{self, Isa};
use rnnlab::model::{Model, split_recurrences};
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

/// Set in the processes [`every_instruction_set_and_more_threads_than_cores`]
/// starts: they check which paths ran, which only a process running one
/// test can.
const CHILD: &str = "RNNLAB_NUMERICS_CHILD";

fn cases() -> (std::path::PathBuf, Vec<Case>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cases: Vec<Case> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(cases.len() >= 16, "every fixture case is listed");
    (dir, cases)
}

fn load(dir: &Path, case: &Case) -> (Model, Vec<u8>) {
    let path = dir.join(format!("{}.safetensors", case.name));
    let bytes = std::fs::read(&path).unwrap();
    let mut model = Model::new(&case.layers, case.input, case.output, case.every_step, 0);
    model.load_safetensors(&bytes, &path).unwrap();
    (model, bytes)
}

#[test]
fn stacks_match_pytorch() {
    let (dir, cases) = cases();
    for case in cases {
        let (model, bytes) = load(&dir, &case);
        let st = SafeTensors::deserialize(&bytes).unwrap();
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
    if std::env::var_os(CHILD).is_some() {
        // Alone in its process: the mid-size case took the paths it is
        // there for (the blocked GEMM only exists for AVX-512).
        assert!(split_recurrences() > 0, "no recurrence ran as two parts");
        assert!(chunked_scans() > 0, "no scan ran in chunks of time");
        // The mid-size LSTM's inference (its output above) ran fused, split
        // by units between threads, wherever the fused layer exists.
        assert_eq!(
            split_layers() > 0,
            simd::isa() != Isa::Portable,
            "the fused LSTM ran split by units exactly off the portable path"
        );
        let split = [
            Product::SplitRows,
            Product::SharedBand,
            Product::SplitColumns,
        ];
        assert!(
            split.iter().any(|&p| taken(p) > 0),
            "no product ran on two threads"
        );
        assert_eq!(
            taken(Product::Blocked) > 0,
            simd::isa() == Isa::Avx512,
            "the blocked GEMM ran exactly when AVX-512 is in use"
        );
    }
}

/// (loss(θ + eps) − loss(θ − eps)) / 2·eps for element `j` of parameter `pi`.
fn central_difference(model: &mut Model, pi: usize, j: usize, loss: impl Fn(&Model) -> f64) -> f32 {
    // Small, as the ReLU layer's and g's kinks must rarely lie within
    // ±eps; with the loss summed in f64 (`mse_f64`), the f32 predictions
    // then limit the difference to about 1e-4.
    let eps = 1e-3f32;
    let orig = model.params[pi].data[j];
    model.params[pi].data[j] = orig + eps;
    let up = loss(model);
    model.params[pi].data[j] = orig - eps;
    let down = loss(model);
    model.params[pi].data[j] = orig;
    ((up - down) / (2.0 * eps as f64)) as f32
}

/// The mean squared error of the model's predictions, summed in f64: an
/// f32 sum over thousands of outputs rounds by more than a difference
/// of the loss over ±eps can show.
fn mse_f64(m: &Model, x: &[f32], y: &[f32], batch: usize, steps: usize) -> f64 {
    let out = m.predict(x, batch, steps);
    let sum: f64 = out
        .iter()
        .zip(y)
        .map(|(o, y)| (*o as f64 - *y as f64).powi(2))
        .sum();
    sum / y.len() as f64
}

/// The analytic gradient against central differences, three elements of
/// every tensor: the mid-size stacks (which take the blocked, two-thread
/// and chunked-scan paths) and the small stacks of the newer layers
/// (minimal cells, bidirectional layers, layer normalisation in every
/// cell that has it, both head modes).
#[test]
fn mid_size_gradients_match_finite_differences() {
    let (dir, cases) = cases();
    for name in [
        "mid_mixed",
        "mid_min",
        "min_mixed",
        "bidir",
        "bidir_seq2seq",
        "ln_rnn",
        "mid_ln",
        "ln_gated",
        "mid_ln_gated",
    ] {
        let case = cases.iter().find(|c| c.name == name).unwrap();
        let (mut model, bytes) = load(&dir, case);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (x, y) = (tensor(&st, "input"), tensor(&st, "target"));
        let (b, t) = (case.batch, case.steps);
        let (_, grads) = model.loss_and_grads(&x, &y, b, t, None);
        for (pi, grad) in grads.iter().enumerate() {
            let n = grad.len();
            for j in [0, n / 2, n - 1] {
                let fd = central_difference(&mut model, pi, j, |m| mse_f64(m, &x, &y, b, t));
                let g = grad[j];
                assert!(
                    (fd - g).abs() <= 3e-4 + 2e-2 * g.abs(),
                    "{name} {}[{j}]: analytic {g}, finite difference {fd}",
                    model.params[pi].name
                );
            }
        }
    }
}

/// The two tests above again in a process per instruction set this CPU
/// has, each with three threads for two cores (more threads than cores):
/// CI runs them under AVX-512, AVX2 and portable alike.
#[test]
fn every_instruction_set_and_more_threads_than_cores() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    for isa in Isa::available() {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "--test-threads=1"])
            .args([
                "numerics::stacks_match_pytorch",
                "numerics::mid_size_gradients_match_finite_differences",
            ])
            .env(simd::ENV, isa.name())
            .env("RAYON_NUM_THREADS", "3")
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("2 passed"),
            "{}=${}:\n{stdout}\n{}",
            simd::ENV,
            isa.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
