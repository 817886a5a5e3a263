//! The Markdown tables `rnnlab bench` prints.

use super::{Config, Peak, Stats, Timing, TorchTiming};

/// The two passes every configuration is timed on, with their FLOPs.
fn passes(config: &Config) -> [(&'static str, f64); 2] {
    [
        ("train step", config.train_flops()),
        ("inference", config.forward_flops()),
    ]
}

/// GFLOP/s of `flops` done in `ms` milliseconds.
fn gflops(flops: f64, ms: f64) -> f64 {
    flops / (ms * 1e-3) / 1e9
}

/// `% of peak` when the peak is known, else a dash.
fn of_peak(gflops: f64, peak: Option<f64>) -> String {
    peak.map_or("–".to_string(), |p| {
        format!("{:.0} %", 100.0 * gflops / p)
    })
}

/// A Markdown table of rnnlab's timings, two rows per configuration (training
/// step, inference); `% of peak` when the CPU's peak GFLOP/s is given.
pub fn table(timings: &[Timing], peak_gflops: Option<f64>) -> String {
    let mut out = String::from(
        "| config | input | T | batch | pass | median ms | p10–p90 ms | GFLOP/s | % of peak |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for t in timings {
        let c = &t.config;
        for ((pass, flops), s) in passes(c).into_iter().zip([t.train, t.infer]) {
            let g = gflops(flops, s.median);
            out += &format!(
                "| {} | {} | {} | {} | {pass} | {:.2} | {:.2}–{:.2} | {g:.1} | {} |\n",
                c.label(),
                c.input,
                c.steps,
                c.batch,
                s.median,
                s.p10,
                s.p90,
                of_peak(g, peak_gflops)
            );
        }
    }
    out
}

/// `median (p10–p90)` in milliseconds.
fn spread(s: &Stats) -> String {
    format!("{:.2} ({:.2}–{:.2})", s.median, s.p10, s.p90)
}

/// rnnlab beside PyTorch: a heading line, then a Markdown table with two rows
/// per configuration and the ratio of the medians (rnnlab / PyTorch; below 1
/// rnnlab is faster). `torch` must hold a timing for every configuration.
pub fn compare_table(
    timings: &[Timing],
    torch: &[TorchTiming],
    peak_gflops: Option<f64>,
    threads: usize,
) -> String {
    let version = torch.first().map_or("?", |t| t.version.as_str());
    let runs = timings.first().map_or(0, |t| t.runs);
    let mut out = format!(
        "rnnlab vs PyTorch {version}, {threads} thread(s), {runs} runs; ms as median (p10–p90); \
         ratio = rnnlab / PyTorch (below 1: rnnlab is faster)\n\n\
         | config | pass | rnnlab ms | PyTorch ms | ratio | rnnlab GFLOP/s | PyTorch GFLOP/s | rnnlab % of peak | PyTorch % of peak |\n\
         |---|---|---|---|---|---|---|---|---|\n"
    );
    for t in timings {
        let c = &t.config;
        let Some(p) = torch.iter().find(|p| p.name == c.label()) else {
            continue;
        };
        for ((pass, flops), (r, p)) in passes(c)
            .into_iter()
            .zip([(t.train, p.train), (t.infer, p.infer)])
        {
            let (gr, gp) = (gflops(flops, r.median), gflops(flops, p.median));
            out += &format!(
                "| {} | {pass} | {} | {} | {:.2} | {gr:.1} | {gp:.1} | {} | {} |\n",
                c.label(),
                spread(&r),
                spread(&p),
                r.median / p.median,
                of_peak(gr, peak_gflops),
                of_peak(gp, peak_gflops)
            );
        }
    }
    out
}

/// `peak (+added)` in MiB, or a dash where it was not measured.
fn mib(p: Option<Peak>) -> String {
    p.map_or("–".into(), |p| {
        format!("{:.0} (+{:.0})", p.process, p.added)
    })
}

/// Peak resident memory of each configuration, both sides: the process's
/// peak and what the measurement added to the process (model, optimizer
/// state, data and the activations kept for backpropagation); the ratio
/// is of the added memory (below 1: rnnlab needs less).
pub fn memory_table(timings: &[Timing], torch: &[TorchTiming]) -> String {
    let mut out = String::from(
        "Peak resident memory, MiB: the process's peak (+ what the measurement added to it); \
         ratio of the added memory = rnnlab / PyTorch\n\n\
         | config | rnnlab | PyTorch | ratio |\n|---|---|---|---|\n",
    );
    for t in timings {
        let p = torch.iter().find(|p| p.name == t.config.label());
        let theirs = p.and_then(|p| p.memory);
        let ratio = match (t.memory, theirs) {
            (Some(r), Some(p)) if p.added > 0.0 => format!("{:.2}", r.added / p.added),
            _ => "–".into(),
        };
        out += &format!(
            "| {} | {} | {} | {ratio} |\n",
            t.config.label(),
            mib(t.memory),
            mib(theirs)
        );
    }
    out
}
