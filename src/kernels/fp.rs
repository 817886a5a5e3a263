//! Subnormal numbers flushed to zero on the threads that compute.
//!
//! A vanishing gradient — the lesson of the adding problem — decays
//! geometrically through time until its values fall below `f32::MIN_POSITIVE`
//! (about 1.2e-38), into the subnormal range, where every x86 core takes a
//! microcode assist on each operation and runs an order of magnitude slower.
//! PyTorch offers `torch.set_flush_denormal(True)` for this; rnnlab sets the
//! same two bits on every thread that trains or predicts:
//!
//! - FTZ (flush to zero): a result that would be subnormal is 0;
//! - DAZ (denormals are zero): a subnormal input is read as 0.
//!
//! Numerically, values of magnitude below ~1.2e-38 become 0 (the gradient
//! flow panel already shows such values as 0); normal values are untouched,
//! so a computation that never meets a subnormal is bit for bit the same.
//! `RNNLAB_SUBNORMALS=keep`, read once, leaves IEEE gradual underflow on
//! (for the benchmark's "with subnormals" column, or to check a result).
//!
//! On aarch64 the FZ bit of FPCR does both; elsewhere this is a no-op.

use std::sync::OnceLock;

/// The environment variable that keeps subnormals (`keep`) instead of
/// flushing them (`flush`, the default).
pub const ENV: &str = "RNNLAB_SUBNORMALS";

/// A bad value of [`ENV`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{ENV}={value}: unknown setting\n  hint: use flush (the default: values below ~1.2e-38 become 0, fast) or keep (IEEE gradual underflow, slow on vanishing gradients)"
)]
pub struct SubnormalsError {
    pub value: String,
}

/// Whether [`ENV`] asks to flush (`Ok(true)`), to keep, or is unknown.
pub fn from_env() -> Result<bool, SubnormalsError> {
    match std::env::var(ENV) {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "flush" | "ftz" | "zero" => Ok(true),
            "keep" | "ieee" => Ok(false),
            _ => Err(SubnormalsError { value: v }),
        },
        Err(_) => Ok(true),
    }
}

/// Whether this process flushes subnormals, chosen on first use (an
/// unknown [`ENV`] value is refused by the command line before anything
/// runs; here it means the default).
pub fn flushing() -> bool {
    static FLUSH: OnceLock<bool> = OnceLock::new();
    *FLUSH.get_or_init(|| from_env().unwrap_or(true))
}

/// Sets this thread's floating-point mode as [`flushing`] says: call it at
/// the start of every thread that computes (the trainer's pool does it in
/// its start handler, see [`pool`]).
pub fn init_thread() {
    set_flush(flushing());
}

/// A thread-pool builder whose threads flush subnormals as [`init_thread`]
/// says: every pool that trains, evaluates or predicts is made with it.
pub fn pool(threads: usize) -> rayon::ThreadPoolBuilder {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(|_| init_thread())
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
mod arch {
    /// MXCSR bit 15: flush to zero.
    const FTZ: u32 = 1 << 15;
    /// MXCSR bit 6: denormals are zero.
    const DAZ: u32 = 1 << 6;

    fn get() -> u32 {
        let mut csr: u32 = 0;
        // SAFETY: STMXCSR stores the 32-bit control register into the
        // local `csr`; every x86-64 CPU (and every x86 one with SSE, which
        // Rust's i686 targets require) has it.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
        }
        csr
    }

    pub fn set(on: bool) {
        let csr = if on {
            get() | FTZ | DAZ
        } else {
            get() & !(FTZ | DAZ)
        };
        // SAFETY: LDMXCSR loads a value read from the register itself with
        // only the FTZ and DAZ bits changed; DAZ exists on every CPU with
        // SSE2 (all x86-64), so no reserved bit is set. It changes only this
        // thread's rounding of subnormals.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags));
        }
    }

    pub fn get_flush() -> bool {
        get() & (FTZ | DAZ) == FTZ | DAZ
    }
}

#[cfg(target_arch = "aarch64")]
mod arch {
    /// FPCR bit 24: flush-to-zero mode (inputs and results).
    const FZ: u64 = 1 << 24;

    fn get() -> u64 {
        let fpcr: u64;
        // SAFETY: reading FPCR has no side effect and is allowed at EL0.
        unsafe {
            std::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
        fpcr
    }

    pub fn set(on: bool) {
        let fpcr = if on { get() | FZ } else { get() & !FZ };
        // SAFETY: writes back the value just read with only FZ changed;
        // FPCR is per thread and writable at EL0.
        unsafe {
            std::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nomem, nostack, preserves_flags));
        }
    }

    pub fn get_flush() -> bool {
        get() & FZ != 0
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
mod arch {
    pub fn set(_on: bool) {}

    pub fn get_flush() -> bool {
        false
    }
}

/// Turns flushing on or off for the calling thread.
pub fn set_flush(on: bool) {
    arch::set(on);
}

/// Whether the calling thread flushes subnormals.
pub fn flush_enabled() -> bool {
    arch::get_flush()
}

#[cfg(test)]
mod tests {
    use super::{flush_enabled, pool, set_flush};

    /// The smallest normal f32 halved: subnormal under IEEE rules.
    fn halve(x: f32) -> f32 {
        std::hint::black_box(x) * std::hint::black_box(0.5)
    }

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn flushing_turns_subnormal_results_and_inputs_into_zero() {
        std::thread::spawn(|| {
            set_flush(false);
            assert!(!flush_enabled());
            let sub = halve(f32::MIN_POSITIVE);
            assert!(sub > 0.0 && !sub.is_normal(), "gradual underflow: {sub:e}");
            set_flush(true);
            assert!(flush_enabled());
            assert_eq!(halve(f32::MIN_POSITIVE), 0.0, "a subnormal result is 0");
            // A subnormal operand (made above) reads as 0.
            assert_eq!(
                std::hint::black_box(sub) * std::hint::black_box(1.0f32),
                0.0
            );
            // Normal values are untouched.
            assert_eq!(halve(3.0), 1.5);
            set_flush(false);
            assert!(halve(f32::MIN_POSITIVE) > 0.0);
        })
        .join()
        .unwrap();
    }

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn the_pools_threads_flush() {
        let p = pool(2).build().unwrap();
        let flags: Vec<bool> = p.broadcast(|_| flush_enabled());
        assert_eq!(flags, vec![super::flushing(); 2]);
    }
}
