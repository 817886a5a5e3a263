//! Parsing the run directory's rows: numbers (plain decimals fast and
//! exactly as `from_str`), headers, and the rows of `eval.csv`, `events.csv`
//! and `flow.csv`. `metrics.csv` rows are parsed by [`super::rows`].

use serde::Deserialize;
use serde::de::IntoDeserializer;

use crate::events::*;
use crate::run::format::{EVAL_HEAD, FLOW_GATE, FLOW_TIME, METRICS_HEAD};

pub(super) fn number<T: std::str::FromStr>(field: &[u8], what: &str) -> Result<T, String> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "{what}: `{}` is not a number",
                String::from_utf8_lossy(field)
            )
        })
}

/// The length of the field at the start of `s`: up to a `,`, `\r`, `\n` or
/// the end. Scans eight bytes at a time.
pub(super) fn field_len(s: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let has = |w: u64, b: u8| {
        let x = w ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut i = 0;
    while let Some(bytes) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
        let found = has(w, b',') | has(w, b'\n') | has(w, b'\r');
        if found != 0 {
            return i + found.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    i + s[i..]
        .iter()
        .position(|&b| matches!(b, b',' | b'\n' | b'\r'))
        .unwrap_or(s.len() - i)
}

/// Parses a number exactly as `f64::from_str` does, plain decimals fast.
pub(super) fn float(field: &str) -> Option<f64> {
    clinger(field.as_bytes()).or_else(|| field.parse().ok())
}

/// Parses a number exactly as `f32::from_str` does, short plain decimals fast.
pub(super) fn float32(field: &str) -> Option<f32> {
    const POW10: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];
    match decimal(field.as_bytes()) {
        // Both exact in f32, so the quotient is correctly rounded (Clinger).
        Some((negative, w, scale)) if w <= 1 << 24 && scale < POW10.len() => {
            let v = w as f32 / POW10[scale];
            Some(if negative { -v } else { v })
        }
        _ => field.parse().ok(),
    }
}

/// A plain decimal whose digits fit in 2^53, fast and exactly: an exact
/// integer divided by an exact power of ten is correctly rounded (Clinger).
pub(super) fn clinger(field: &[u8]) -> Option<f64> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let (negative, w, scale) = decimal(field)?;
    if w > 1 << 53 || scale >= POW10.len() {
        return None;
    }
    let v = w as f64 / POW10[scale];
    Some(if negative { -v } else { v })
}

/// A plain decimal of at most 17 characters (`-`, digits and one `.`): its
/// sign, its digits as an integer and how many follow the point.
pub(super) fn decimal(field: &[u8]) -> Option<(bool, u64, usize)> {
    // Longer fields rarely fit (shortest round-trip output has up to 17
    // digits); leave them to `from_str` at once.
    if field.len() > 17 {
        return None;
    }
    let (negative, digits) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, field),
    };
    let (mut w, mut scale, mut dot, mut any) = (0u64, 0, false, false);
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                w = w * 10 + u64::from(b - b'0');
                scale += usize::from(dot);
                any = true;
            }
            b'.' if !dot => dot = true,
            _ => return None,
        }
    }
    any.then_some((negative, w, scale))
}

/// The gradient-norm groups named by the `metrics.csv` header.
pub(super) fn metrics_header(rec: &[u8]) -> Result<Vec<String>, String> {
    header(rec, &METRICS_HEAD)?
        .into_iter()
        .map(|c| match c.strip_prefix("grad_norm.") {
            Some(name) => Ok(name.to_string()),
            None => Err(format!("unexpected column `{c}`")),
        })
        .collect()
}

/// Checks a header's first columns; returns the rest.
pub(super) fn header(rec: &[u8], expected: &[&str]) -> Result<Vec<String>, String> {
    let mut cols = csv_fields(rec)?;
    if cols.len() < expected.len() || cols[..expected.len()] != *expected {
        return Err(format!(
            "not the header this file should have (`{}`…)",
            expected.join(",")
        ));
    }
    Ok(cols.split_off(expected.len()))
}

/// The layout of `flow.csv`: `step`, the gate columns, then each layer's time steps.
pub(super) struct FlowColumns {
    gates: Vec<String>,
    /// (layer, time steps) in column order.
    layers: Vec<(String, usize)>,
}

impl FlowColumns {
    pub(super) fn parse(rec: &[u8]) -> Result<FlowColumns, String> {
        let mut c = FlowColumns {
            gates: Vec::new(),
            layers: Vec::new(),
        };
        for col in header(rec, &["step"])? {
            if let Some(g) = col.strip_prefix(FLOW_GATE) {
                if !c.layers.is_empty() {
                    return Err(format!("gate column `{col}` after the time columns"));
                }
                c.gates.push(g.to_string());
                continue;
            }
            let parsed = col
                .strip_prefix(FLOW_TIME)
                .and_then(|rest| rest.rsplit_once(".t"))
                .and_then(|(layer, t)| Some((layer, t.parse::<usize>().ok()?)));
            let Some((layer, t)) = parsed else {
                return Err(format!("unexpected column `{col}`"));
            };
            match c.layers.last_mut() {
                Some((name, n)) if name == layer && *n == t => *n += 1,
                _ if t == 0 => c.layers.push((layer.to_string(), 1)),
                _ => return Err(format!("column `{col}` out of order")),
            }
        }
        Ok(c)
    }

    pub(super) fn row(&self, rec: &[u8]) -> Result<FlowStats, String> {
        let f: Vec<&[u8]> = rec.split(|&b| b == b',').collect();
        let width = 1 + self.gates.len() + self.layers.iter().map(|(_, n)| n).sum::<usize>();
        if f.len() != width {
            return Err(format!("{} fields, expected {width}", f.len()));
        }
        let gates = self
            .gates
            .iter()
            .zip(&f[1..])
            .map(|(g, v)| Ok((g.clone(), number(v, g)?)))
            .collect::<Result<_, String>>()?;
        let mut at = 1 + self.gates.len();
        let mut time = Vec::with_capacity(self.layers.len());
        for (layer, n) in &self.layers {
            // A sequence shorter than the window leaves the rest of its cells empty.
            let norms = f[at..at + n]
                .iter()
                .take_while(|v| !v.is_empty())
                .map(|v| number(v, layer))
                .collect::<Result<_, String>>()?;
            time.push((layer.clone(), norms));
            at += n;
        }
        Ok(FlowStats {
            step: number(f[0], "step")?,
            time,
            gates,
        })
    }
}

pub(super) fn eval_row(rec: &[u8], names: &[String]) -> Result<EvalStats, String> {
    let f: Vec<&[u8]> = rec.split(|&b| b == b',').collect();
    if f.len() != EVAL_HEAD.len() + names.len() {
        return Err(format!(
            "{} fields, expected {}",
            f.len(),
            EVAL_HEAD.len() + names.len()
        ));
    }
    let metrics = names
        .iter()
        .zip(&f[EVAL_HEAD.len()..])
        .map(|(n, v)| Ok((n.clone(), number(v, n)?)))
        .collect::<Result<_, String>>()?;
    Ok(EvalStats {
        step: number(f[0], "step")?,
        epoch: number(f[1], "epoch")?,
        wall_s: number(f[2], "wall_s")?,
        valid_loss: number(f[3], "valid_loss")?,
        metrics,
    })
}

pub(super) fn note_row(rec: &[u8]) -> Result<Note, String> {
    let f = csv_fields(rec)?;
    let [step, wall_s, kind, detail] =
        <[String; 4]>::try_from(f).map_err(|f| format!("{} fields, expected 4", f.len()))?;
    let kind = NoteKind::deserialize(kind.as_str().into_deserializer())
        .map_err(|_: serde::de::value::Error| format!("unknown event kind `{kind}`"))?;
    Ok(Note {
        step: number(step.as_bytes(), "step")?,
        wall_s: number(wall_s.as_bytes(), "wall_s")?,
        kind,
        detail,
    })
}

/// Splits a CSV record into fields, unquoting `"…"` (with `""` for a
/// quote), with csv-core. (The step rows of `metrics.csv`, a million lines
/// in a long run, have their own faster parser in [`super::rows`]; these
/// records are few.)
pub(super) fn csv_fields(rec: &[u8]) -> Result<Vec<String>, String> {
    if rec.is_empty() {
        return Ok(vec![String::new()]);
    }
    // Every quote of a well-formed record is one of a pair.
    if rec.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
        return Err("unterminated quoted field".into());
    }
    thread_local! {
        /// Building a reader builds its state machine: once per thread, not per record.
        static READER: std::cell::RefCell<csv_core::Reader> =
            std::cell::RefCell::new(csv_core::Reader::new());
    }
    READER.with_borrow_mut(|reader| {
        reader.reset();
        split_record(reader, rec)
    })
}

/// [`csv_fields`] with a reader at the start of a record.
fn split_record(reader: &mut csv_core::Reader, rec: &[u8]) -> Result<Vec<String>, String> {
    let mut out = vec![0u8; rec.len() + 1];
    let mut ends = vec![0usize; rec.len() + 1];
    let (mut input, mut written, mut fields) = (rec, 0, 0);
    loop {
        let (result, read, wrote, ended) =
            reader.read_record(input, &mut out[written..], &mut ends[fields..]);
        input = &input[read..];
        written += wrote;
        fields += ended;
        match result {
            csv_core::ReadRecordResult::InputEmpty if input.is_empty() => {
                // No terminator in `rec`: an empty read ends the record.
                let (result, _, _, ended) =
                    reader.read_record(&[], &mut out[written..], &mut ends[fields..]);
                fields += ended;
                if !matches!(result, csv_core::ReadRecordResult::Record) {
                    return Err("unreadable record".into());
                }
                break;
            }
            csv_core::ReadRecordResult::Record => break,
            csv_core::ReadRecordResult::InputEmpty => {}
            _ => return Err("unreadable record".into()),
        }
    }
    let text = std::str::from_utf8(&out[..written]).map_err(|_| "not UTF-8 text".to_string())?;
    let mut start = 0;
    Ok(ends[..fields]
        .iter()
        .map(|&end| {
            let field = text[start..end].to_string();
            start = end;
            field
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{csv_fields, float, float32};

    #[test]
    fn csv_records_unquote_like_rfc_4180() {
        let f = |s: &str| csv_fields(s.as_bytes());
        assert_eq!(f("1,2.5,tune,x").unwrap(), ["1", "2.5", "tune", "x"]);
        assert_eq!(
            f("3,0.1,note,\"a, \"\"b\"\"\"").unwrap(),
            ["3", "0.1", "note", "a, \"b\""]
        );
        assert_eq!(f("a,,").unwrap(), ["a", "", ""]);
        assert_eq!(f("").unwrap(), [""]);
        assert!(f("1,\"open").unwrap_err().contains("unterminated"));
        assert!(csv_fields(b"\xff,1").unwrap_err().contains("UTF-8"));
    }

    /// The fast paths parse exactly as `from_str` does: shortest forms of
    /// f32 and f64 values, and short decimals of every scale.
    #[test]
    fn numbers_parse_exactly_as_from_str_does() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let bits = next();
            let v = f32::from_bits(bits as u32);
            if v.is_finite() {
                assert_eq!(
                    float32(&v.to_string()).map(f32::to_bits),
                    Some(v.to_bits()),
                    "{v}"
                );
            }
            let digits = format!("{}", bits % 10u64.pow((bits >> 60) as u32 % 12 + 1));
            let at = (bits >> 40) as usize % (digits.len() + 1);
            let text = format!("{}.{}", &digits[..at], &digits[at..]);
            let want32: f32 = text.parse().unwrap();
            assert_eq!(
                float32(&text).map(f32::to_bits),
                Some(want32.to_bits()),
                "{text}"
            );
            let want64: f64 = text.parse().unwrap();
            assert_eq!(
                float(&text).map(f64::to_bits),
                Some(want64.to_bits()),
                "{text}"
            );
        }
        assert_eq!(float32("-0.5"), Some(-0.5));
        assert!(float32("NaN").is_some_and(f32::is_nan));
        assert_eq!(
            (float32("1e-7"), float32("x"), float32(".")),
            (Some(1e-7), None, None)
        );
    }
}
