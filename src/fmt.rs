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

/// A step number for people: `20,125`; from a million on, [`compact`] (`1.235M`).
pub fn step(n: u64) -> String {
    if n < 1_000_000 {
        thousands(n)
    } else {
        compact(n as f64)
    }
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

/// Display columns of `s`, counting one per character: every glyph the
/// dashboard and the logs use (`·`, `→`, `◆`, `▲`, box drawing, Braille) is
/// one column wide.
pub fn width(s: &str) -> usize {
    s.chars().count()
}

/// The longest of `variants` that fits in `max` columns (the first of equally
/// long ones), or `None` when none does. Variants are the same text in
/// shorter forms, so a text is shortened by choosing a form, never by cutting
/// it: a number is never cut in the middle.
pub fn fit<S: AsRef<str>>(variants: impl IntoIterator<Item = S>, max: usize) -> Option<S> {
    let mut best: Option<(usize, S)> = None;
    for v in variants {
        let w = width(v.as_ref());
        if w <= max && best.as_ref().is_none_or(|(bw, _)| w > *bw) {
            best = Some((w, v));
        }
    }
    best.map(|(_, v)| v)
}

/// Joins `parts` with `sep`, leaving out the least important parts until
/// the line fits in `max` columns. Each part has a rank: 0 is kept longest,
/// higher ranks go first (of equal ranks, the later part). The parts that
/// remain keep their order; the result may be empty.
pub fn fit_parts(parts: &[(u8, String)], sep: &str, max: usize) -> String {
    join_kept(parts, &fit_parts_kept(parts, sep, max), sep)
}

/// Which of `parts` [`fit_parts`] keeps.
pub fn fit_parts_kept(parts: &[(u8, String)], sep: &str, max: usize) -> Vec<bool> {
    let mut kept: Vec<bool> = parts.iter().map(|(_, p)| !p.is_empty()).collect();
    loop {
        if width(&join_kept(parts, &kept, sep)) <= max {
            return kept;
        }
        // The last of the highest-ranked parts still kept.
        let drop = (0..parts.len())
            .filter(|&i| kept[i])
            .max_by_key(|&i| (parts[i].0, i));
        match drop {
            Some(i) => kept[i] = false,
            None => return kept,
        }
    }
}

/// The parts marked `kept`, joined by `sep`.
pub fn join_kept(parts: &[(u8, String)], kept: &[bool], sep: &str) -> String {
    parts
        .iter()
        .zip(kept)
        .filter(|(_, k)| **k)
        .map(|((_, p), _)| p.as_str())
        .collect::<Vec<_>>()
        .join(sep)
}

/// `text` in at most `max` columns: whole if it fits, else cut after the
/// last whole word that leaves room for `ellipsis` (so a number or a name is
/// never cut in the middle); just the ellipsis, or nothing, when not even
/// one word fits.
pub fn words(text: &str, max: usize, ellipsis: &str) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(width(ellipsis));
    let mut out = String::new();
    for word in text.split(' ') {
        let next = if out.is_empty() {
            word.to_string()
        } else {
            format!("{out} {word}")
        };
        if width(&next) > room {
            break;
        }
        out = next;
    }
    // No dangling separator: `gru(20) →…` loses its arrow, `a, b:…` its colon.
    let mut kept: Vec<&str> = out.split(' ').collect();
    while kept
        .last()
        .is_some_and(|w| !w.chars().any(char::is_alphanumeric))
    {
        kept.pop();
    }
    let out = kept
        .join(" ")
        .trim_end_matches([',', ';', ':', ' '])
        .to_string();
    // After a number, a space: `now 0.005 …` cannot read as a cut `0.005…`.
    let gap = if out.ends_with(|c: char| c.is_ascii_digit()) {
        " "
    } else {
        ""
    };
    if width(ellipsis) > max {
        String::new()
    } else if out.is_empty() {
        ellipsis.to_string()
    } else if width(&out) + width(gap) + width(ellipsis) <= max {
        format!("{out}{gap}{ellipsis}")
    } else {
        // No room for the gap: one word less.
        words(&out[..out.rfind(' ').unwrap_or(0)], max, ellipsis)
    }
}

/// `text` in lines of at most `width` columns, broken between words (a
/// word longer than a line gets a line of its own, cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let next = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if next.chars().count() <= width || line.is_empty() {
            line = next.chars().take(width.max(1)).collect();
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.chars().take(width.max(1)).collect();
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// [`compact`] with at most `sig` significant digits (1 to 4): `0.00166`
/// for 0.0016573 at 3, `1.7e-3`… at fewer when the form is still too long.
pub fn compact_sig(v: f64, sig: usize) -> String {
    if !v.is_finite() || v == 0.0 {
        return compact(v);
    }
    let sig = sig.clamp(1, 4);
    let mut s = compact_digits(v, sig);
    for fewer in (1..sig).rev() {
        if s.len() <= 7 {
            break;
        }
        s = compact_digits(v, fewer);
    }
    s
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

    #[test]
    fn fit_picks_the_longest_variant_that_fits() {
        let v = ["valid 0.004321", "valid 0.0043", "v 0.0043"];
        assert_eq!(fit(v, 20), Some("valid 0.004321"));
        assert_eq!(fit(v, 13), Some("valid 0.0043"));
        assert_eq!(fit(v, 11), Some("v 0.0043"));
        assert_eq!(fit(v, 7), None);
        // Order does not matter, width does (in characters, not bytes).
        assert_eq!(fit(["a → b", "ab"], 5), Some("a → b"));
        assert_eq!(fit(vec![String::from("x")], 0), None);
    }

    #[test]
    fn fit_parts_drops_the_least_important_first() {
        let parts = [
            (0, "step 1/9".to_string()),
            (2, "20 samples/s".to_string()),
            (1, "0:01 < 0:09".to_string()),
            (2, "3 parameters".to_string()),
        ];
        let all = "step 1/9 · 20 samples/s · 0:01 < 0:09 · 3 parameters";
        assert_eq!(fit_parts(&parts, " · ", 80), all);
        assert_eq!(
            fit_parts(&parts, " · ", 45),
            "step 1/9 · 20 samples/s · 0:01 < 0:09"
        );
        assert_eq!(fit_parts(&parts, " · ", 30), "step 1/9 · 0:01 < 0:09");
        assert_eq!(fit_parts(&parts, " · ", 10), "step 1/9");
        assert_eq!(fit_parts(&parts, " · ", 3), "");
    }

    #[test]
    fn words_never_cut_a_word() {
        let t = "loss became NaN at step 121; try a lower learning_rate (now 0.005)";
        assert_eq!(words(t, 200, "…"), t);
        assert_eq!(words(t, 30, "…"), "loss became NaN at step 121 …");
        assert_eq!(words(t, 28, "…"), "loss became NaN at step…");
        assert_eq!(
            words(t, 60, "..."),
            "loss became NaN at step 121; try a lower learning_rate..."
        );
        assert_eq!(words("0.0012345", 5, "…"), "…");
        assert_eq!(
            words("gru(20) → gru(20) → dense(1)", 20, "…"),
            "gru(20) → gru(20)…"
        );
        assert_eq!(words("abc", 0, "…"), "");
    }

    #[test]
    fn compact_with_fewer_digits() {
        assert_eq!(compact_sig(0.001_657_3, 3), "0.00166");
        assert_eq!(compact_sig(0.001_657_3, 2), "0.0017");
        // Never more than compact's 7 characters.
        assert_eq!(compact_sig(0.001_657_3, 9), "0.00166");
        assert_eq!(compact_sig(12_345.0, 2), "12k");
        assert_eq!(compact_sig(0.0, 2), "0");
        assert_eq!(compact_sig(3e-4, 3), "3e-4");
    }
}
