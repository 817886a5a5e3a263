//! Formatting numbers and durations for people: one home for the header,
//! the headless log, `rnnlab runs`, the charts and every other front end.

/// Formats seconds as `h:mm:ss` or `m:ss`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Seconds as `h:mm:ss` (always with hours, for tables); `?` if not a time.
pub fn hms(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".into();
    }
    let s = secs.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A `--set` key without its section, for column headers:
/// `train.learning_rate` → `learning_rate`, `model.layers.0.units` → `layers.0.units`.
pub fn short_key(key: &str) -> &str {
    key.split_once('.').map_or(key, |(_, rest)| rest)
}

/// A swept value as TOML text, short enough for a table cell: strings
/// without their quotes, a list of layers as its cells (`3 rnn`,
/// `lstm-gru`), anything else as written.
pub fn short_value(value: &str) -> String {
    let value = value.trim();
    if let Some(s) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        return s.to_string();
    }
    let layers = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|t| {
            t.get("v")?
                .as_array()?
                .iter()
                .map(|l| l.get("cell")?.as_str().map(String::from))
                .collect::<Option<Vec<String>>>()
        })
        .filter(|cells| !cells.is_empty());
    match layers {
        Some(cells) if cells.iter().all(|c| *c == cells[0]) => {
            format!("{} {}", cells.len(), cells[0])
        }
        Some(cells) => cells.join("-"),
        None => value.to_string(),
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats a number in at most 7 characters with up to 4 significant digits:
/// `0`, `0.002`, `12.5`, `1.5k`, `120k`, `3M`, `2.5G`, `1T`; exponent form below 0.001
/// and from 1e15 on (`1.5e-4`, `2e15`); `NaN`, `inf`, `-inf`. Only ASCII characters.
pub fn compact(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let mut s = compact_digits(v, 4);
    for sig in (1..4).rev() {
        if s.len() <= 7 {
            break;
        }
        s = compact_digits(v, sig);
    }
    s
}

/// [`compact`] of a finite non-zero `v` rounded to `sig` significant digits (≥ 1).
fn compact_digits(v: f64, sig: usize) -> String {
    let sci = format!("{:.*e}", sig - 1, v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if v < 0.0 { "-" } else { "" };
    let body = match exp {
        -3..=2 => with_point(&digits, exp),
        3..=14 => {
            let group = exp / 3;
            let suffix = match group {
                1 => 'k',
                2 => 'M',
                3 => 'G',
                _ => 'T',
            };
            format!("{}{suffix}", with_point(&digits, exp - 3 * group))
        }
        _ => format!("{}e{exp}", with_point(&digits, 0)),
    };
    format!("{sign}{body}")
}

/// The decimal `d₀.d₁d₂… × 10^exp` of a digit string, without trailing zeros.
fn with_point(digits: &str, exp: i32) -> String {
    let (int, frac) = if exp < 0 {
        let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
        ("0".to_string(), format!("{zeros}{digits}"))
    } else {
        let n = exp as usize + 1;
        let padded = format!("{digits:0<n$}");
        let (int, frac) = padded.split_at(n);
        (int.to_string(), frac.to_string())
    };
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats() {
        assert_eq!(clock(5.4), "0:05");
        assert_eq!(clock(125.0), "2:05");
        assert_eq!(clock(3725.0), "1:02:05");
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn compact_table() {
        let table: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (0.5, "0.5"),
            (0.002, "0.002"),
            (0.001234, "0.00123"),
            (1.5e-4, "1.5e-4"),
            (-1.5e-4, "-1.5e-4"),
            (0.1 + 0.2, "0.3"),
            (12.346, "12.35"),
            (500.0, "500"),
            (999.0, "999"),
            (1000.0, "1k"),
            (1500.0, "1.5k"),
            (-2500.0, "-2.5k"),
            (120_000.0, "120k"),
            (999_999.0, "1M"),
            (1_234_567.0, "1.235M"),
            (2.5e9, "2.5G"),
            (1e12, "1T"),
            (1e15, "1e15"),
            (-1.23456e-300, "-1e-300"),
            (f64::MAX, "1.8e308"),
            (f64::MIN_POSITIVE / 1e10, "2e-318"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for &(v, want) in table {
            assert_eq!(compact(v), want, "compact({v:e})");
        }
        for i in -330..330 {
            for m in [1.0, -1.23456789, 9.99999, -5.5] {
                let s = compact(m * 10f64.powi(i));
                assert!(s.len() <= 7 && s.is_ascii(), "{s}");
            }
        }
    }

    #[test]
    fn swept_values_are_short() {
        assert_eq!(super::short_value("\"adam\""), "adam");
        assert_eq!(super::short_value("0.003"), "0.003");
        assert_eq!(super::short_value("[1, 2]"), "[1, 2]");
        let layers = "[{ cell = \"rnn\", units = 20 }, { cell = \"rnn\", units = 20 }]";
        assert_eq!(super::short_value(layers), "2 rnn");
        let mixed = "[{ cell = \"lstm\", units = 20 }, { cell = \"gru\", units = 20 }]";
        assert_eq!(super::short_value(mixed), "lstm-gru");
    }
}
