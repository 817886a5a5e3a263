//! How an error ends a command. Every library error type says what kind of
//! failure it is, and so the process's exit code: bad input the user can fix
//! (an experiment, a data file, a run directory, an argument: exit 2), or a
//! failure of the run itself (exit 1). The command line converts only types
//! that implement [`Failure`], so a new error type cannot reach the user
//! without saying which it is.

/// Exit code of a run that failed or diverged.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of bad input: the message names the file, key and fix.
pub const EXIT_BAD_INPUT: u8 = 2;

/// The two ways a command can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Something the user gave is wrong (exit 2).
    BadInput,
    /// The work itself failed (exit 1).
    Failure,
}

impl Kind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::BadInput => EXIT_BAD_INPUT,
            Kind::Failure => EXIT_FAILURE,
        }
    }
}

/// An error that knows its [`Kind`].
pub trait Failure: std::error::Error + Send + Sync + 'static {
    fn kind(&self) -> Kind;
}

// The kernels depend on nothing else in the crate, so their errors are classified here.
impl Failure for crate::kernels::simd::SimdError {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}

impl Failure for crate::kernels::fp::SubnormalsError {
    fn kind(&self) -> Kind {
        Kind::BadInput
    }
}
