//! The command line's error: a message chain (anyhow) and the exit code it
//! ends the process with. Library errors convert only through
//! [`Failure`](crate::error::Failure), so each brings its own code; errors
//! made here say theirs with [`bad_input!`] or [`fail!`].

use std::fmt;

use crate::error::{EXIT_BAD_INPUT, EXIT_FAILURE, Failure};

/// An error that ends a command, with its exit code.
pub struct CliError {
    pub error: anyhow::Error,
    pub code: u8,
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// Bad input (exit 2): the message should name the file or argument and the fix.
    pub fn bad_input(message: impl fmt::Display + Send + Sync + 'static) -> CliError {
        CliError {
            error: anyhow::Error::msg(message.to_string()),
            code: EXIT_BAD_INPUT,
        }
    }

    /// A failure of the work itself (exit 1).
    pub fn failure(message: impl fmt::Display + Send + Sync + 'static) -> CliError {
        CliError {
            error: anyhow::Error::msg(message.to_string()),
            code: EXIT_FAILURE,
        }
    }
}

impl<E: Failure> From<E> for CliError {
    fn from(e: E) -> CliError {
        CliError {
            code: e.kind().exit_code(),
            error: anyhow::Error::new(e),
        }
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (exit {})", self.error, self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

/// Context for errors that already know their exit code.
pub trait Context<T> {
    fn context(self, message: impl fmt::Display + Send + Sync + 'static) -> CliResult<T>;
    fn with_context<M: fmt::Display + Send + Sync + 'static>(
        self,
        message: impl FnOnce() -> M,
    ) -> CliResult<T>;
}

impl<T, E: Into<CliError>> Context<T> for Result<T, E> {
    fn context(self, message: impl fmt::Display + Send + Sync + 'static) -> CliResult<T> {
        self.map_err(|e| {
            let e = e.into();
            CliError {
                error: e.error.context(message),
                code: e.code,
            }
        })
    }

    fn with_context<M: fmt::Display + Send + Sync + 'static>(
        self,
        message: impl FnOnce() -> M,
    ) -> CliResult<T> {
        self.map_err(|e| {
            let e = e.into();
            CliError {
                error: e.error.context(message()),
                code: e.code,
            }
        })
    }
}

/// Returns a bad-input error (exit 2) from the enclosing function.
macro_rules! bad_input {
    ($($arg:tt)*) => {
        return Err($crate::cli::error::CliError::bad_input(format!($($arg)*)))
    };
}

/// Returns a failure (exit 1) from the enclosing function.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::cli::error::CliError::failure(format!($($arg)*)))
    };
}

pub(crate) use {bad_input, fail};
