//! Calendar features from a timestamp column: the position in the day, the
//! week, the year and the month, each as a sine/cosine pair (so that 23:30
//! lies next to 00:00 and December next to January). A timestamp says
//! where a row lies in time and nothing about the target, so the features
//! of a row can be computed for any row, past or future, without leaking.
//!
//! Timestamps are read as written (no time zone, no daylight-saving
//! shifts): `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DDTHH:MM:SS`, with
//! fractional seconds or a trailing `Z` or offset ignored.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::DataError;
use crate::experiment::Calendar;

/// Parses a timestamp; `None` if it is not one of the accepted forms.
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    let rest = &text[10..];
    if rest.is_empty() {
        return date.and_hms_opt(0, 0, 0);
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    // HH:MM[:SS[.fff]] then an optional zone, which is ignored.
    let clock: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':' || *c == '.')
        .collect();
    let zone = &rest[clock.len()..];
    if !(zone.is_empty() || zone == "Z" || zone.starts_with(['+', '-'])) {
        return None;
    }
    let mut parts = clock.split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let s: u32 = match parts.next() {
        Some(sec) => sec.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(date.and_time(NaiveTime::from_hms_opt(h, m, s)?))
}

/// The fraction of its cycle (0 ≤ f < 1) at which `t` lies for `which`.
pub fn phase(t: &NaiveDateTime, which: Calendar) -> f64 {
    let day_fraction = t.num_seconds_from_midnight() as f64 / 86_400.0;
    match which {
        Calendar::HourOfDay => day_fraction,
        Calendar::DayOfWeek => (t.weekday().num_days_from_monday() as f64 + day_fraction) / 7.0,
        Calendar::DayOfYear => {
            let days = if t.date().leap_year() { 366.0 } else { 365.0 };
            (t.ordinal0() as f64 + day_fraction) / days
        }
        Calendar::Month => {
            let first = NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap_or_default();
            let next = if t.month() == 12 {
                NaiveDate::from_ymd_opt(t.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(t.year(), t.month() + 1, 1)
            }
            .unwrap_or_default();
            let days = (next - first).num_days() as f64;
            (t.month0() as f64 + (t.day0() as f64 + day_fraction) / days) / 12.0
        }
    }
}

/// The names of the columns `which` adds, in order: `{feature}_sin`, `_cos`.
pub fn names(which: &[Calendar]) -> Vec<String> {
    which
        .iter()
        .flat_map(|c| [format!("{}_sin", c.name()), format!("{}_cos", c.name())])
        .collect()
}

/// Parses `texts` (the time column, with each row's file line), checks
/// that time strictly increases, and returns rows × 2·`which` values.
pub fn features(
    texts: &[String],
    lines: &[usize],
    which: &[Calendar],
    column: &str,
) -> Result<Vec<f32>, DataError> {
    let mut out = Vec::with_capacity(texts.len() * 2 * which.len());
    let mut last: Option<(NaiveDateTime, usize)> = None;
    for (text, &line) in texts.iter().zip(lines) {
        let Some(t) = parse(text) else {
            return Err(
                DataError::new(format!("line {line}: `{text}` is not a timestamp"))
                    .in_column(column)
                    .with_hint(
                        "write timestamps as YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DDTHH:MM:SS",
                    ),
            );
        };
        if let Some((before, at)) = last
            && t <= before
        {
            let what = if t == before {
                "repeats"
            } else {
                "goes back from"
            };
            return Err(DataError::new(format!(
                "line {line}: {t} {what} line {at}'s {before}; a series' rows must be in increasing time"
            ))
            .in_column(column)
            .with_hint("sort the file by time and remove duplicate rows"));
        }
        last = Some((t, line));
        for &c in which {
            let angle = std::f64::consts::TAU * phase(&t, c);
            out.push(angle.sin() as f32);
            out.push(angle.cos() as f32);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> NaiveDateTime {
        parse(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn timestamps_in_the_usual_forms() {
        assert_eq!(t("2000-06-05"), t("2000-06-05 00:00"));
        assert_eq!(t("2000-06-05T13:30:00"), t("2000-06-05 13:30"));
        assert_eq!(t("2000-06-05T13:30:00.250Z"), t("2000-06-05 13:30"));
        assert_eq!(t("2000-06-05 13:30+02:00"), t("2000-06-05 13:30"));
        for bad in [
            "2000-13-01",
            "2000-02-30",
            "05/06/2000",
            "2000-06-05 25:00",
            "2000-06-05x",
            "2000-06-05 13",
            "",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn phases_at_their_boundaries() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(
            phase(&t("2000-06-05 12:00"), Calendar::HourOfDay),
            0.5
        ));
        // 2000-06-05 is a Monday: the week starts there.
        assert!(close(phase(&t("2000-06-05"), Calendar::DayOfWeek), 0.0));
        assert!(close(
            phase(&t("2000-06-11 12:00"), Calendar::DayOfWeek),
            6.5 / 7.0
        ));
        // Leap years: 31 December is day 366 of 366; 29 February exists.
        assert!(close(
            phase(&t("2000-12-31"), Calendar::DayOfYear),
            365.0 / 366.0
        ));
        assert!(close(
            phase(&t("2001-12-31"), Calendar::DayOfYear),
            364.0 / 365.0
        ));
        assert!(close(
            phase(&t("2000-03-01"), Calendar::DayOfYear),
            60.0 / 366.0
        ));
        assert!(parse("2001-02-29").is_none());
        // The middle of February 2000 (29 days) and the start of December.
        assert!(close(
            phase(&t("2000-02-15 12:00"), Calendar::Month),
            (1.0 + 14.5 / 29.0) / 12.0
        ));
        assert!(close(phase(&t("2000-12-01"), Calendar::Month), 11.0 / 12.0));
    }

    #[test]
    fn features_are_pairs_and_time_must_increase() {
        let texts: Vec<String> = ["2000-06-05 00:00", "2000-06-05 06:00"]
            .map(String::from)
            .to_vec();
        let f = features(&texts, &[2, 3], &[Calendar::HourOfDay], "time").unwrap();
        assert!((f[0] - 0.0).abs() < 1e-6 && (f[1] - 1.0).abs() < 1e-6);
        assert!(
            (f[2] - 1.0).abs() < 1e-6 && f[3].abs() < 1e-6,
            "06:00 is a quarter of the day"
        );
        let dup: Vec<String> = ["2000-06-05", "2000-06-05"].map(String::from).to_vec();
        let e = features(&dup, &[2, 3], &[Calendar::DayOfWeek], "date")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3: 2000-06-05 00:00:00 repeats line 2's"),
            "{e}"
        );
        let back: Vec<String> = ["2000-06-05", "2000-06-04"].map(String::from).to_vec();
        let e = features(&back, &[2, 3], &[Calendar::DayOfWeek], "date")
            .unwrap_err()
            .to_string();
        assert!(e.contains("goes back from"), "{e}");
        let bad: Vec<String> = ["2000-06-05", "June 6"].map(String::from).to_vec();
        let e = features(&bad, &[2, 3], &[Calendar::Month], "date")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3: `June 6` is not a timestamp"), "{e}");
    }
}
