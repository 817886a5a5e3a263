//! `cargo bench`: one training step (forward, MSE, backward, Adam) and one
//! inference pass (forward only) of every configuration of `rnnlab bench`,
//! timed by criterion. Matrix products use rayon's global pool: set
//! `RAYON_NUM_THREADS=2` to match `rnnlab bench` and the PyTorch reference.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo bench --bench step            # all
//! RAYON_NUM_THREADS=2 cargo bench --bench step -- gru     # filter by name
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rnnlab::cli::bench::{CONFIGS, Workload};

fn steps(c: &mut Criterion) {
    for config in CONFIGS {
        let mut group = c.benchmark_group(config.name);
        // The big LSTM takes about 0.2 s a step: keep the default sample
        // count for the small ones only.
        group.sample_size(if config.train_flops() > 1e10 { 10 } else { 30 });
        group.measurement_time(Duration::from_secs(5));
        let mut work = Workload::new(config);
        // Reported as elements/s = FLOP/s of the matrix products.
        group.throughput(Throughput::Elements(config.train_flops() as u64));
        group.bench_function("train step", |b| b.iter(|| black_box(work.train_step())));
        group.throughput(Throughput::Elements(config.forward_flops() as u64));
        group.bench_function("inference", |b| b.iter(|| black_box(work.infer())));
        group.finish();
    }
}

criterion_group!(benches, steps);
criterion_main!(benches);
