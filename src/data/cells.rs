//! CSV cells: what counts as a missing value, parsing a cell into a number
//! with its place named, and telling a header row from a data row.

use std::path::Path;

use super::DataError;
use crate::experiment::{Missing, Transform};

/// Cell texts that mean "no value", compared without case after trimming:
/// pandas' default markers and the `-` and `?` of hand-made tables.
const MISSING: [&str; 12] = [
    "", "na", "n/a", "nan", "-nan", "null", "none", "-", "?", "#n/a", "#na", "<na>",
];

/// The markers as the hints list them.
pub(super) const MARKERS: &str = "empty, NA, N/A, NaN, null, None, - or ?";

/// Whether `text` is a missing-value marker.
pub(super) fn is_missing(text: &str) -> bool {
    let text = text.trim();
    MISSING.iter().any(|m| m.eq_ignore_ascii_case(text))
}

/// What a cell holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Cell {
    Number(f32),
    Missing,
    /// Anything else: a name, a typo, `inf`.
    Text,
}

/// Classifies a cell.
pub(super) fn classify(text: &str) -> Cell {
    match parse_text(text) {
        Ok(Some(v)) => Cell::Number(v),
        Ok(None) => Cell::Missing,
        Err(_) => Cell::Text,
    }
}

/// A cell's value: `Ok(None)` when missing, `Err(message)` when not a finite number.
pub(super) fn parse_text(text: &str) -> Result<Option<f32>, String> {
    if is_missing(text) {
        return Ok(None);
    }
    let text = text.trim();
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(format!(
            "`{text}` is not a finite number (f32 holds magnitudes up to 3.4e38)"
        )),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

/// Parses a cell, naming the place when it is not a number.
pub(super) fn parse(
    path: &Path,
    line: usize,
    column: &str,
    text: &str,
) -> Result<Option<f32>, DataError> {
    parse_text(text).map_err(|message| {
        DataError::new(message)
            .in_file(path)
            .at_line(line)
            .in_column(column)
            .with_hint(format!(
                "fix the value, or use a missing marker ({MARKERS}) with data.missing"
            ))
    })
}

/// Parses a cell under the `missing` policy (missing values are an error under
/// `Missing::Error`) and checks it against `transform`'s domain.
pub(super) fn cell(
    path: &Path,
    line: usize,
    column: &str,
    text: &str,
    missing: Missing,
    transform: Transform,
) -> Result<Option<f32>, DataError> {
    let value = parse(path, line, column, text)?;
    if let Some(v) = value {
        in_domain(path, line, column, v, transform)?;
    }
    if value.is_none() && missing == Missing::Error {
        let text = text.trim();
        let what = if text.is_empty() {
            "empty value".to_string()
        } else {
            format!("missing value `{text}`")
        };
        return Err(DataError::new(what)
            .in_file(path)
            .at_line(line)
            .in_column(column)
            .with_hint("set data.missing = \"interpolate\" or \"drop\""));
    }
    Ok(value)
}

/// Checks a value against `transform`'s domain, naming the place when it is outside.
pub(super) fn in_domain(
    path: &Path,
    line: usize,
    column: &str,
    value: f32,
    transform: Transform,
) -> Result<(), DataError> {
    transform.check(value).map_err(|(message, fix)| {
        DataError::new(message)
            .in_file(path)
            .at_line(line)
            .in_column(column)
            .with_hint(fix)
    })
}

/// Whether the first row of a headerless-or-not CSV is a header.
///
/// `given` is the user's answer (`Some(true)`: it is; `Some(false)`: it is
/// not). Without one, the row is a header when it has text and no number
/// (`t0,t1,t2`), data when it has numbers and missing markers only (`NA,2,3`:
/// a missing marker is never a header), and ambiguous when it has both
/// (`abc,2,3`): then the error names the file, line 1 and `fix`.
pub(super) fn is_header(
    path: &Path,
    line: usize,
    first: &csv::StringRecord,
    given: Option<bool>,
    fix: &str,
) -> Result<bool, DataError> {
    if let Some(given) = given {
        return Ok(given);
    }
    let cells: Vec<Cell> = first.iter().map(classify).collect();
    let text = cells.iter().position(|c| *c == Cell::Text);
    let number = cells.iter().position(|c| matches!(c, Cell::Number(_)));
    match (text, number) {
        (None, _) => Ok(false),
        (Some(_), None) => Ok(true),
        (Some(t), Some(n)) => Err(DataError::new(format!(
            "the first row mixes text (`{}` in column {}) and numbers (`{}` in column {}): it is neither clearly a header nor clearly data",
            first.get(t).unwrap_or("").trim(),
            t + 1,
            first.get(n).unwrap_or("").trim(),
            n + 1
        ))
        .in_file(path)
        .at_line(line)
        .with_hint(fix)),
    }
}

/// Refuses a header that names a column twice (the second would read as the
/// first) or whose names are all numbers (the file has no header row, and
/// its first data row would be lost).
pub(super) fn check_names(path: &Path, header: &csv::StringRecord) -> Result<(), DataError> {
    let line = header.position().map_or(1, |p| p.line() as usize);
    if header
        .iter()
        .all(|h| matches!(classify(h), Cell::Number(_)))
    {
        return Err(DataError::new(format!(
            "the first row ({}) is numbers, but the series layout reads it as the header",
            header.iter().collect::<Vec<_>>().join(",")
        ))
        .in_file(path)
        .at_line(line)
        .with_hint("add a header row naming the columns"));
    }
    for (i, name) in header.iter().enumerate() {
        if let Some(j) = header.iter().take(i).position(|h| h == name) {
            return Err(DataError::new(format!(
                "the header names column `{name}` twice (columns {} and {})",
                j + 1,
                i + 1
            ))
            .in_file(path)
            .at_line(line)
            .with_hint("give every column a distinct name in the header row"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn missing_markers_ignore_case_and_spaces() {
        for text in [
            "", " ", "NA", "na", "N/A", "n/a", "NaN", "nan", "-NaN", "NULL", "null", "None",
            "none", "-", "?", "#N/A", "<NA>", " NA ",
        ] {
            assert_eq!(classify(text), Cell::Missing, "{text:?}");
        }
        for text in ["inf", "-inf", "1e39", "abc", "--", "N/A/"] {
            assert_eq!(classify(text), Cell::Text, "{text:?}");
        }
        assert_eq!(classify(" -2.5e3 "), Cell::Number(-2500.0));
    }

    #[test]
    fn header_rule() {
        let p = Path::new("in.csv");
        let fix = "pass --header or --no-header";
        let yes = |cells: &[&str]| is_header(p, 1, &record(cells), None, fix).unwrap();
        assert!(yes(&["t0", "t1"]));
        assert!(yes(&["t0", ""]), "a name and an empty cell");
        assert!(!yes(&["1", "2"]));
        assert!(!yes(&["NA", "2"]), "a missing first cell is data");
        assert!(!yes(&["NA", "null"]), "missing markers are not a header");
        let e = is_header(p, 1, &record(&["abc", "2"]), None, fix).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.to_string().contains("`abc` in column 1"), "{e}");
        assert!(e.to_string().contains("--no-header"), "{e}");
        assert!(is_header(p, 1, &record(&["abc", "2"]), Some(true), fix).unwrap());
        assert!(!is_header(p, 1, &record(&["t0"]), Some(false), fix).unwrap());
    }

    #[test]
    fn header_names_are_distinct_and_not_all_numbers() {
        let p = Path::new("s.csv");
        assert!(check_names(p, &record(&["a", "b"])).is_ok());
        assert!(check_names(p, &record(&["year", "1"])).is_ok());
        let e = check_names(p, &record(&["x", "y", "x"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.csv:1: the header names column `x` twice (columns 1 and 3); give every column a distinct name in the header row"
        );
        let e = check_names(p, &record(&["1.5", "2"])).unwrap_err();
        assert!(e.to_string().contains("add a header row"), "{e}");
    }
}
