//! [`DataError`]: what is wrong with the data, where, and how to fix it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why data could not be loaded: the file, 1-based line and column when known,
/// what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    /// The file being read, if any.
    pub file: Option<PathBuf>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
    /// Column name, or 1-based column number when the file has no header.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl DataError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        DataError {
            file: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Names the file.
    pub fn in_file(mut self, path: &Path) -> Self {
        self.file = Some(path.to_path_buf());
        self
    }

    /// Names the 1-based line.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// Names the column.
    pub fn in_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }

    /// Adds the fix.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            write!(f, ": ")?;
        } else if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(column) = &self.column {
            write!(f, "column `{column}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}

impl From<crate::fsio::FileError> for DataError {
    fn from(e: crate::fsio::FileError) -> DataError {
        let hint = e.hint();
        let err = DataError::new(e.reason()).in_file(&e.path);
        match hint {
            Some(hint) => err.with_hint(hint),
            None => err,
        }
    }
}

/// Checks that the data file `path` is a regular file that fits in memory
/// before a reader opens it by name.
pub(super) fn check_file(path: &std::path::Path) -> Result<(), DataError> {
    crate::fsio::open_regular(path, crate::fsio::memory_limit(), "data file")?;
    Ok(())
}

impl crate::error::Failure for DataError {
    fn kind(&self) -> crate::error::Kind {
        crate::error::Kind::BadInput
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_column_and_fix() {
        let e = DataError::new("empty value")
            .in_file(Path::new("assets/co2.csv"))
            .at_line(61)
            .in_column("co2_ppm")
            .with_hint("set data.missing = \"interpolate\" or \"drop\"");
        assert_eq!(
            e.to_string(),
            "assets/co2.csv:61: column `co2_ppm`: empty value; set data.missing = \"interpolate\" or \"drop\""
        );
        assert_eq!(DataError::new("bad").to_string(), "bad");
    }
}
