//! Reading numeric CSV files: the series layout (named columns), the rows layout
//! (one sequence per row) and sequences to predict, with missing-value handling.

use std::path::Path;

use super::DataError;
use super::cells::{Cell, MARKERS, cell, check_names, classify, in_domain, is_header, parse};
use crate::experiment::{Missing, Transform};

/// How to settle an ambiguous first row of a rows-layout file.
const ROWS_FIX: &str =
    "make line 1 a header of names only, or a data row of numbers and missing markers";

/// A series-layout CSV: the input columns and the target column, row-aligned.
#[derive(Debug)]
pub(super) struct SeriesTable {
    /// rows × columns input values, row-major.
    pub inputs: Vec<f32>,
    /// The target column, one value per row.
    pub target: Vec<f32>,
    /// The file line of each row kept (rows may be dropped as missing).
    pub lines: Vec<usize>,
    /// Each row kept: its 0-based data record (`data.end_row` counts them).
    pub records: Vec<usize>,
    /// Data records read (with an `end`, at most that many).
    pub read: usize,
}

/// Reads the text of column `name` on each of `lines` (as
/// [`SeriesTable::lines`] gives them), in order.
pub(super) fn read_column_text(
    path: &Path,
    name: &str,
    lines: &[usize],
) -> Result<Vec<String>, DataError> {
    let mut reader = open(path, true)?;
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let Some(i) = header.iter().position(|h| h == name) else {
        let list: Vec<&str> = header.iter().collect();
        return Err(
            DataError::new(format!("no column `{name}` (columns: {})", list.join(", ")))
                .in_file(path)
                .with_hint("check data.time_column"),
        );
    };
    let mut out = Vec::with_capacity(lines.len());
    let mut want = lines.iter().peekable();
    let mut record = csv::StringRecord::new();
    while want.peek().is_some()
        && reader
            .read_record(&mut record)
            .map_err(|e| csv_error(path, e))?
    {
        if want.peek() == Some(&&line_of(&record)) {
            want.next();
            out.push(record.get(i).unwrap_or("").trim().to_string());
        }
    }
    Ok(out)
}

/// A rows-layout CSV: one sequence per row, `width` values each.
#[derive(Debug)]
pub(super) struct RowsTable {
    /// rows × width values, row-major.
    pub values: Vec<f32>,
    /// Values per row.
    pub width: usize,
}

/// Reads `columns` and `target` of a CSV with a header row, resolving missing
/// values and checking every value against `transform`'s domain.
pub(super) fn read_series(
    path: &Path,
    columns: &[String],
    target: &str,
    missing: Missing,
    transform: Transform,
) -> Result<SeriesTable, DataError> {
    read_series_until(path, columns, target, missing, transform, None)
}

/// As [`read_series`], reading no data record after the first `end` (none
/// fills a missing value before the cut).
pub(super) fn read_series_until(
    path: &Path,
    columns: &[String],
    target: &str,
    missing: Missing,
    transform: Transform,
    end: Option<usize>,
) -> Result<SeriesTable, DataError> {
    let mut reader = open(path, true)?;
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    check_names(path, &header)?;
    let mut names: Vec<&str> = columns.iter().map(String::as_str).collect();
    if !names.contains(&target) {
        names.push(target);
    }
    let index = names
        .iter()
        .map(|name| {
            header.iter().position(|h| h == *name).ok_or_else(|| {
                let list: Vec<&str> = header.iter().collect();
                DataError::new(format!("no column `{name}` (columns: {})", list.join(", ")))
                    .in_file(path)
                    .with_hint("check data.columns, data.future_columns and data.target")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut cells: Vec<Vec<Option<f32>>> = vec![Vec::new(); names.len()];
    let mut lines = Vec::new();
    let mut records = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut read = 0;
    let mut next =
        |r: &mut csv::StringRecord| reader.read_record(r).map_err(|e| csv_error(path, e));
    while end != Some(read) && next(&mut record)? {
        read += 1;
        let line = line_of(&record);
        let mut row = Vec::with_capacity(names.len());
        for (name, &i) in names.iter().zip(&index) {
            let text = record.get(i).unwrap_or("");
            row.push(cell(path, line, name, text, missing, transform)?);
        }
        if missing == Missing::Drop && row.iter().any(Option::is_none) {
            continue;
        }
        lines.push(line);
        records.push(read - 1);
        for (column, value) in cells.iter_mut().zip(row) {
            column.push(value);
        }
    }
    if cells[0].is_empty() {
        return Err(DataError::new("no data rows").in_file(path));
    }
    let filled = names
        .iter()
        .zip(&cells)
        .map(|(name, column)| {
            fill(column).ok_or_else(|| {
                DataError::new("every value is missing")
                    .in_file(path)
                    .in_column(*name)
                    .with_hint("choose another column in data.columns / data.target")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rows = filled[0].len();
    let inputs = (0..rows)
        .flat_map(|r| filled[..columns.len()].iter().map(move |c| c[r]))
        .collect();
    let t = names.iter().position(|n| *n == target).unwrap_or(0);
    Ok(SeriesTable {
        inputs,
        target: filled[t].clone(),
        lines,
        records,
        read,
    })
}

/// Reads a rows-layout CSV; missing values are interpolated along each row's
/// time steps; every value is checked against `transform`'s domain.
pub(super) fn read_rows(
    path: &Path,
    features: usize,
    missing: Missing,
    transform: Transform,
) -> Result<RowsTable, DataError> {
    let records = data_records(path, None, ROWS_FIX)?;
    let Some((_, first)) = records.first() else {
        return Err(DataError::new("no data rows").in_file(path));
    };
    let width = first.len();
    if width % features != 0 {
        return Err(DataError::new(format!(
            "rows have {width} values, not a multiple of data.features = {features}"
        ))
        .in_file(path)
        .with_hint("each row is one sequence, time-major: steps × features values"));
    }
    let mut values = Vec::with_capacity(records.len() * width);
    for (line, record) in &records {
        if record.len() != width {
            return Err(DataError::new(format!(
                "{} values, but the first row has {width}",
                record.len()
            ))
            .in_file(path)
            .at_line(*line)
            .with_hint("every row must be a sequence of the same length"));
        }
        let row = record
            .iter()
            .enumerate()
            .map(|(j, text)| cell(path, *line, &(j + 1).to_string(), text, missing, transform))
            .collect::<Result<Vec<_>, _>>()?;
        if missing == Missing::Drop && row.iter().any(Option::is_none) {
            continue;
        }
        let mut filled = vec![0.0; width];
        for f in 0..features {
            let series: Vec<Option<f32>> = row.iter().skip(f).step_by(features).copied().collect();
            let series = fill(&series).ok_or_else(|| {
                DataError::new(format!("every value of feature {f} is missing"))
                    .in_file(path)
                    .at_line(*line)
                    .with_hint("remove the row or set data.missing = \"drop\"")
            })?;
            for (s, v) in series.into_iter().enumerate() {
                filled[s * features + f] = v;
            }
        }
        values.extend(filled);
    }
    Ok(RowsTable { values, width })
}

/// Reads sequences to predict: each CSV row is one sequence, time-major,
/// `window × features` values (extra columns are ignored). `header` says
/// whether the first row is a header; `None` lets the first row decide (see
/// [`is_header`]: names only → header; numbers and missing markers → data;
/// both → an error asking for `--header` or `--no-header`). Values are in
/// original units, so each must be in the domain of the run's `transform`.
pub fn read_sequences(
    path: &Path,
    window: usize,
    features: usize,
    transform: Transform,
    header: Option<bool>,
) -> Result<Vec<f32>, DataError> {
    let need = window * features;
    let records = data_records(
        path,
        header,
        "pass --header if line 1 names the columns, or --no-header if it is a sequence (and fix its values)",
    )?;
    if records.is_empty() {
        return Err(DataError::new("no sequences")
            .in_file(path)
            .with_hint("write one sequence per row, time-major"));
    }
    let mut values = Vec::with_capacity(records.len() * need);
    for (line, record) in &records {
        if record.len() < need {
            return Err(DataError::new(format!(
                "{} values, fewer than window × features = {window} × {features} = {need}",
                record.len()
            ))
            .in_file(path)
            .at_line(*line)
            .with_hint(
                "each row is one sequence, time-major: step 0's features, then step 1's, …",
            ));
        }
        for (j, text) in record.iter().take(need).enumerate() {
            let column = (j + 1).to_string();
            let value = parse(path, *line, &column, text)?.ok_or_else(|| {
                DataError::new("missing value")
                    .in_file(path)
                    .at_line(*line)
                    .in_column(column.as_str())
                    .with_hint("every step of a sequence needs a value")
            })?;
            in_domain(path, *line, &column, value, transform)?;
            values.push(value);
        }
    }
    Ok(values)
}

fn open(path: &Path, headers: bool) -> Result<csv::Reader<std::fs::File>, DataError> {
    csv::ReaderBuilder::new()
        .has_headers(headers)
        .flexible(!headers)
        .from_path(path)
        .map_err(|e| csv_error(path, e))
}

fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let line = e.position().map(|p| p.line() as usize);
    let err = DataError::new(format!("cannot read the CSV: {e}")).in_file(path);
    match line {
        Some(line) => err.at_line(line),
        None => err,
    }
}

fn line_of(record: &csv::StringRecord) -> usize {
    record.position().map_or(0, |p| p.line() as usize)
}

/// The data rows with their 1-based lines, without the header row if there
/// is one (`header`, or else the first row decides; `fix` settles an ambiguous one).
fn data_records(
    path: &Path,
    header: Option<bool>,
    fix: &str,
) -> Result<Vec<(usize, csv::StringRecord)>, DataError> {
    let mut out = Vec::new();
    for (i, record) in open(path, false)?.records().enumerate() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = line_of(&record);
        if i == 0 && is_header(path, line, &record, header, fix)? {
            continue;
        }
        out.push((line, record));
    }
    Ok(out)
}

/// The numeric columns of a series-layout CSV, judged on every row: a column
/// is numeric when each of its cells is a number or a missing marker and at
/// least one is a number; a column of text only (dates, labels) is not. A
/// column of numbers and text, or of missing markers only, is refused: which
/// the user meant cannot be told.
pub fn numeric_columns(
    path: &Path,
    header: &csv::StringRecord,
    records: impl Iterator<Item = csv::Result<csv::StringRecord>>,
) -> Result<Vec<String>, DataError> {
    check_names(path, header)?;
    // Per column: the first number and the first text, with their lines.
    let mut number: Vec<Option<(usize, String)>> = vec![None; header.len()];
    let mut text: Vec<Option<(usize, String)>> = vec![None; header.len()];
    let mut rows = 0;
    for record in records {
        let record = record.map_err(|e| csv_error(path, e))?;
        rows += 1;
        let line = line_of(&record);
        for (j, cell) in record.iter().enumerate().take(header.len()) {
            let slot = match classify(cell) {
                Cell::Number(_) => &mut number[j],
                Cell::Text => &mut text[j],
                Cell::Missing => continue,
            };
            slot.get_or_insert_with(|| (line, cell.trim().to_string()));
        }
    }
    if rows == 0 {
        return Err(DataError::new("no data rows").in_file(path));
    }
    let mut numeric = Vec::new();
    for (j, name) in header.iter().enumerate() {
        match (&number[j], &text[j]) {
            (Some((n_line, n)), Some((line, t))) => {
                return Err(DataError::new(format!(
                    "the column mixes numbers (`{n}` on line {n_line}) and text (`{t}`): is it an input?"
                ))
                .in_file(path)
                .at_line(*line)
                .in_column(name)
                .with_hint(format!(
                    "fix `{t}` or write a missing marker ({MARKERS}) there, or name the input columns in data.columns"
                )));
            }
            (Some(_), None) => numeric.push(name.to_string()),
            (None, Some(_)) => {}
            (None, None) => {
                return Err(DataError::new("every value is missing")
                    .in_file(path)
                    .in_column(name)
                    .with_hint("remove the column, or name the input columns in data.columns"));
            }
        }
    }
    Ok(numeric)
}

/// Fills missing values by linear interpolation between the nearest known
/// neighbours (the nearest known value at the edges); `None` when all are missing.
fn fill(values: &[Option<f32>]) -> Option<Vec<f32>> {
    let known: Vec<(usize, f32)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    let (&(_, first), &(last_i, last)) = (known.first()?, known.last()?);
    let mut out = vec![first; values.len()];
    for pair in known.windows(2) {
        let ((a, va), (b, vb)) = (pair[0], pair[1]);
        out[a] = va;
        // In f64: between -3e38 and 3e38 the f32 difference would overflow.
        let (va, vb) = (f64::from(va), f64::from(vb));
        for (i, slot) in out.iter_mut().enumerate().take(b).skip(a + 1) {
            *slot = (va + (vb - va) * (i - a) as f64 / (b - a) as f64) as f32;
        }
    }
    for slot in &mut out[last_i..] {
        *slot = last;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    const GAPPY: &str = "date,a,b\nd1,1,10\nd2,,20\nd3,NA,30\nd4,4,null\nd5,5,50\n";

    #[test]
    fn fill_interpolates_and_holds_edges() {
        let v = fill(&[None, Some(1.0), None, None, Some(4.0), None]).unwrap();
        assert_eq!(v, vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert!(fill(&[None, None]).is_none());
        let v = fill(&[Some(3e38), Some(-3e38), None, Some(3e38)]).unwrap();
        assert_eq!(
            v,
            vec![3e38, -3e38, 0.0, 3e38],
            "no overflow near f32's limit"
        );
    }

    #[test]
    fn series_missing_error_names_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "s.csv", GAPPY);
        let e =
            read_series(&path, &cols(&["a"]), "a", Missing::Error, Transform::None).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.column.as_deref(), Some("a"));
        assert!(
            e.to_string()
                .contains("s.csv:3: column `a`: empty value; set data.missing")
        );
    }

    #[test]
    fn series_interpolate_and_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "s.csv", GAPPY);
        let t = read_series(
            &path,
            &cols(&["a", "b"]),
            "b",
            Missing::Interpolate,
            Transform::None,
        )
        .unwrap();
        assert_eq!(t.inputs, vec![1., 10., 2., 20., 3., 30., 4., 40., 5., 50.]);
        assert_eq!(t.target, vec![10., 20., 30., 40., 50.]);
        let t = read_series(&path, &cols(&["a"]), "b", Missing::Drop, Transform::None).unwrap();
        assert_eq!(t.inputs, vec![1., 5.]);
        assert_eq!(t.target, vec![10., 50.]);
    }

    #[test]
    fn non_numeric_cell_is_an_error_whatever_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "s.csv", "a\n1\n2\nabc\n");
        let e = read_series(&path, &cols(&["a"]), "a", Missing::Drop, Transform::None).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(4), Some("a")));
        assert!(e.message.contains("`abc` is not a number"), "{e}");
    }

    #[test]
    fn all_missing_column_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "s.csv", "a,b\n1,\n2,\n");
        let e = read_series(
            &path,
            &cols(&["a"]),
            "b",
            Missing::Interpolate,
            Transform::None,
        )
        .unwrap_err();
        assert_eq!(e.column.as_deref(), Some("b"));
    }

    #[test]
    fn rows_detect_header_and_check_width() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "r.csv", "x0,y0,x1,y1\n1,2,3,4\n5,,7,8\n");
        let t = read_rows(&path, 2, Missing::Interpolate, Transform::None).unwrap();
        assert_eq!(
            (t.width, t.values),
            (4, vec![1., 2., 3., 4., 5., 8., 7., 8.])
        );
        let e = read_rows(&path, 3, Missing::Error, Transform::None).unwrap_err();
        assert!(e.message.contains("not a multiple of data.features = 3"));
        let path = write(&dir, "r2.csv", "1,2\n3\n");
        assert_eq!(
            read_rows(&path, 1, Missing::Error, Transform::None)
                .unwrap_err()
                .line,
            Some(2)
        );
    }

    #[test]
    fn values_outside_the_transform_domain_are_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "s.csv", "month,n\nm1,5\nm2,\nm3,0\n");
        let t = read_series(
            &path,
            &cols(&["n"]),
            "n",
            Missing::Interpolate,
            Transform::Log1p,
        );
        assert_eq!(t.unwrap().target, vec![5., 2.5, 0.]);
        let e = read_series(
            &path,
            &cols(&["n"]),
            "n",
            Missing::Interpolate,
            Transform::Log,
        )
        .unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(4), Some("n")));
        assert!(e.to_string().contains("s.csv:4: column `n`: `0` cannot be transformed: data.transform = \"log\" needs values > 0; fix the value"), "{e}");
        let path = write(&dir, "r.csv", "1,2\n3,-4\n");
        let e = read_rows(&path, 1, Missing::Error, Transform::Log).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(2), Some("2")));
        let e = read_sequences(&path, 2, 1, Transform::Log, None).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(2), Some("2")));
    }

    #[test]
    fn numeric_columns_are_judged_on_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let survey = |text: &str| {
            let path = write(&dir, "s.csv", text);
            let mut reader = csv::Reader::from_path(&path).unwrap();
            let header = reader.headers().unwrap().clone();
            numeric_columns(&path, &header, reader.records())
        };
        let text = "date,a,b,c\n2000-01,NA,null,x\n2000-02,2,,y\n2000-03,3,1e3,\n";
        assert_eq!(survey(text).unwrap(), ["a", "b"]);
        let e = survey("date,a\nd1,1\nd2,l2\n").unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("a")));
        assert!(
            e.message
                .contains("mixes numbers (`1` on line 2) and text (`l2`)"),
            "{e}"
        );
        let e = survey("a,b\n1,\n2,?\n").unwrap_err();
        assert_eq!(e.column.as_deref(), Some("b"));
        assert!(e.message.contains("every value is missing"), "{e}");
        let e = survey("a,a\n1,2\n").unwrap_err();
        assert!(e.message.contains("names column `a` twice"), "{e}");
        assert!(
            survey("a,b\n")
                .unwrap_err()
                .message
                .contains("no data rows")
        );
    }

    #[test]
    fn a_first_row_with_a_missing_value_is_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "r.csv", "NA,2\n3,4\n");
        let t = read_rows(&path, 1, Missing::Interpolate, Transform::None).unwrap();
        assert_eq!(
            t.values,
            vec![2., 2., 3., 4.],
            "two rows, none taken for a header"
        );
        let path = write(&dir, "r.csv", "x,2\n3,4\n");
        let e = read_rows(&path, 1, Missing::Interpolate, Transform::None).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(
            e.to_string().contains("make line 1 a header of names only"),
            "{e}"
        );
        let path = write(&dir, "s.csv", "a,a\n1,2\n");
        let e = read_series(&path, &cols(&["a"]), "a", Missing::Error, Transform::None);
        assert_eq!(e.unwrap_err().line, Some(1));
    }

    #[test]
    fn sequences_to_predict() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "p.csv", "1,2,3,99\n4,5,6,99\n");
        assert_eq!(
            read_sequences(&path, 3, 1, Transform::None, None).unwrap(),
            vec![1., 2., 3., 4., 5., 6.]
        );
        let e = read_sequences(&path, 5, 1, Transform::None, None).unwrap_err();
        assert_eq!(e.line, Some(1));
        let path = write(&dir, "q.csv", "t0,t1\n1,x\n");
        let e = read_sequences(&path, 2, 1, Transform::None, None).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (Some(2), Some("2")));
    }
}
