//! Which vector instructions the kernels use: the best this CPU has, or a
//! narrower set chosen with `RNNLAB_SIMD=avx512|avx2|portable`, read once.
//! The override exists so that every path can be benchmarked and tested on
//! one machine; asking for instructions the CPU lacks gets what it has.

use std::sync::OnceLock;

/// The instruction sets the kernels are written for, widest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// No x86 vector kernels: matrixmultiply for the products and plain
    /// loops (auto-vectorised for the target's baseline) for the rest.
    Portable,
    /// AVX2 and FMA (8-wide).
    Avx2,
    /// AVX-512F (16-wide).
    Avx512,
}

/// The environment variable that narrows the instruction set.
pub const ENV: &str = "RNNLAB_SIMD";

/// A bad value of [`ENV`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{ENV}={value}: unknown instruction set\n  hint: use one of avx512, avx2, portable (or unset it for the best this CPU has)"
)]
pub struct SimdError {
    pub value: String,
}

impl Isa {
    /// The name used by [`ENV`] and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Portable => "portable",
        }
    }

    /// Parses a value of [`ENV`].
    pub fn parse(value: &str) -> Result<Isa, SimdError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "avx512" | "avx-512" => Ok(Isa::Avx512),
            "avx2" => Ok(Isa::Avx2),
            "portable" | "none" | "scalar" => Ok(Isa::Portable),
            _ => Err(SimdError {
                value: value.to_string(),
            }),
        }
    }

    /// The widest set this CPU runs.
    pub fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Every set this CPU runs, narrowest first (for tests that try each).
    pub fn available() -> Vec<Isa> {
        let best = Isa::best();
        [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|&i| i <= best)
            .collect()
    }
}

/// The instruction set of [`ENV`] if set (error if unknown), else the best.
pub fn from_env() -> Result<Isa, SimdError> {
    match std::env::var(ENV) {
        Ok(v) if !v.trim().is_empty() => Ok(Isa::parse(&v)?.min(Isa::best())),
        _ => Ok(Isa::best()),
    }
}

/// The instruction set the kernels use in this process, chosen on first
/// use. An unknown [`ENV`] value falls back to the best (the command line
/// refuses it before anything runs, see [`from_env`]).
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| from_env().unwrap_or_else(|_| Isa::best()))
}

/// The instructions the products of this process run on, for reports.
pub fn instructions() -> &'static str {
    match isa() {
        Isa::Avx512 => "AVX-512",
        Isa::Avx2 => "AVX2/FMA",
        Isa::Portable => "portable (matrixmultiply)",
    }
}

#[cfg(test)]
mod tests {
    use super::Isa;

    #[test]
    fn names_parse_back_and_the_best_is_available() {
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Portable] {
            assert_eq!(Isa::parse(isa.name()), Ok(isa));
        }
        assert!(
            Isa::parse("sse9")
                .unwrap_err()
                .to_string()
                .contains("avx512, avx2, portable")
        );
        assert_eq!(Isa::available().last(), Some(&Isa::best()));
        assert_eq!(Isa::available()[0], Isa::Portable);
    }
}
