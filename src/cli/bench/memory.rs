//! Peak resident memory of this process around one measurement (Linux):
//! writing `5` to `/proc/self/clear_refs` resets the high-water mark
//! (`VmHWM` in `/proc/self/status`) to the current resident size, so each
//! configuration's peak is its own even though they run one after another
//! in one process. `scripts/torch_bench.py` measures PyTorch the same way.

/// Resident memory in MiB: (now, peak since the last reset).
fn status() -> Option<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |key: &str| -> Option<f64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let kib: f64 = line[key.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the peak and returns the resident memory now, in MiB; `None`
/// where the system cannot (not Linux, or no `/proc`).
pub fn reset() -> Option<f64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status().map(|(now, _)| now)
}

/// The peak resident memory since [`reset`], in MiB.
pub fn peak() -> Option<f64> {
    status().map(|(_, peak)| peak)
}

/// The peak resident memory of one measurement: the whole process, and
/// what the measurement added to it (model, optimizer, data, activations).
#[derive(Debug, Clone, Copy, serde::Deserialize, serde::Serialize)]
pub struct Peak {
    /// The process's peak, MiB.
    pub process: f64,
    /// The peak less the resident memory before the measurement, MiB.
    pub added: f64,
}

/// Runs `f` and returns its result with the peak it reached.
pub fn around<T>(f: impl FnOnce() -> T) -> (T, Option<Peak>) {
    let before = reset();
    let out = f();
    let peak = before.zip(peak()).map(|(before, process)| Peak {
        process,
        added: (process - before).max(0.0),
    });
    (out, peak)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_large_allocation_shows_in_the_peak_and_a_reset_forgets_it() {
        let Some(_) = super::reset() else {
            return; // no /proc: nothing to measure
        };
        let (_, peak) = super::around(|| {
            let v = vec![1u8; 64 << 20];
            std::hint::black_box(&v);
        });
        let peak = peak.unwrap();
        assert!(peak.added >= 60.0, "{peak:?}");
        let (_, after) = super::around(|| ());
        assert!(after.unwrap().added < 32.0, "{after:?}");
    }
}
