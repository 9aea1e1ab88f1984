//! Human-readable durations for configuration files: `"30s"`, `"10m"`,
//! `"24h"`, `"90d"`, `"1h30m"`, `"250ms"`, or a plain whole number of seconds.
//!
//! A duration is one or more `<digits><unit>` parts, largest unit first, each
//! unit at most once, optionally separated by spaces. The units are `d`
//! (86,400 s), `h`, `m`, `s`, `ms`, `us` and `ns`. A text of digits alone is
//! seconds. Negative, fractional and empty durations are refused, and so is
//! one past [`std::time::Duration::MAX`].
//!
//! [`format()`] writes the shortest text [`parse`] reads back to the same
//! value, and [`serialize`] / [`deserialize`] plug both into serde
//! (`#[serde(with = "number_manager::duration")]`); deserializing also takes
//! a non-negative integer (seconds).
//!
//! ```
//! use std::time::Duration;
//! use number_manager::duration;
//!
//! assert_eq!(duration::parse("1h30m").unwrap(), Duration::from_secs(5400));
//! assert_eq!(duration::parse("90d").unwrap(), Duration::from_secs(90 * 86_400));
//! assert_eq!(duration::parse("45").unwrap(), Duration::from_secs(45));
//! assert_eq!(duration::format(Duration::from_millis(1500)), "1s500ms");
//! assert!(duration::parse("30m1h").is_err());
//! ```

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

use crate::error::{Error, Result};

/// The units, largest first, with their length in nanoseconds.
const UNITS: [(&str, u128); 7] = [
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Reads a duration (see the [module](self) for the grammar). A refused text
/// is a `validation error` on `duration` saying what is wrong with it.
pub fn parse(text: &str) -> Result<Duration> {
    parse_nanos(text)
        .and_then(from_nanos)
        .map_err(|why| Error::validation("duration", "format", format!("{text:?}: {why}")))
}

/// Writes `d` as its parts, largest unit first (`"1h30m"`, `"2s500ms"`;
/// zero is `"0s"`). [`parse`] reads it back to `d` exactly.
pub fn format(d: Duration) -> String {
    let mut left = d.as_nanos();
    if left == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, nanos) in UNITS {
        let count = left / nanos;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(unit);
            left %= nanos;
        }
    }
    out
}

/// Serializes a duration as its [`format()`] text.
pub fn serialize<S: Serializer>(
    d: &Duration,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*d))
}

/// Deserializes a duration from a [`parse`] text or a non-negative integer of
/// seconds.
pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"30s\", \"10m\", \"1h30m\" or \"90d\", or a whole number of seconds")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Duration, E> {
        parse_nanos(v)
            .and_then(from_nanos)
            .map_err(|why| E::custom(format!("invalid duration {v:?}: {why}")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Duration, E> {
        Ok(Duration::from_secs(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Duration, E> {
        u64::try_from(v).map(Duration::from_secs).map_err(|_| {
            E::custom(format!(
                "invalid duration {v}: durations are never negative"
            ))
        })
    }
}

/// The total of `text`'s parts in nanoseconds, or why it is not a duration.
fn parse_nanos(text: &str) -> std::result::Result<u128, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return number(text)?
            .checked_mul(NANOS_PER_SEC)
            .ok_or_else(|| "too long".into());
    }
    let mut rest = text;
    let mut total: u128 = 0;
    // Index into UNITS of the last unit seen: each part must use a smaller one.
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "expected a number at {rest:?} (durations are like \"1h30m\", never negative or fractional)"
            ));
        }
        let (count, tail) = rest.split_at(digits);
        if tail.starts_with(['.', ',']) {
            return Err("fractions are not allowed (write \"1h30m\", not \"1.5h\")".into());
        }
        let letters = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(letters);
        let Some(index) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(if unit.is_empty() {
                format!("{count} has no unit (d, h, m, s, ms, us or ns)")
            } else {
                format!("unknown unit {unit:?} (d, h, m, s, ms, us or ns)")
            });
        };
        if last.is_some_and(|l| index <= l) {
            return Err(format!(
                "unit {unit:?} out of order (largest unit first, each once)"
            ));
        }
        last = Some(index);
        let part = number(count)?
            .checked_mul(UNITS[index].1)
            .ok_or("too long")?;
        total = total.checked_add(part).ok_or("too long")?;
        rest = tail.trim_start();
    }
    Ok(total)
}

/// A run of ASCII digits as a number (u64, so every part fits in u128 nanoseconds).
fn number(digits: &str) -> std::result::Result<u128, String> {
    digits
        .parse::<u64>()
        .map(u128::from)
        .map_err(|_| format!("{digits} is too large"))
}

fn from_nanos(nanos: u128) -> std::result::Result<Duration, String> {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| "too long".to_string())?;
    // The remainder is below one second, so it fits in u32.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).map_err(|_| "too long".to_string())?;
    Ok(Duration::new(secs, sub))
}

/// `d` as a chrono duration, saturating at chrono's largest.
pub(crate) fn signed(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `t + d`, saturating at the calendar's end.
pub(crate) fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t - d`, saturating at the calendar's start.
pub(crate) fn before(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_sub_signed(signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_documented_forms() {
        assert_eq!(parse("30s").unwrap(), secs(30));
        assert_eq!(parse("10m").unwrap(), secs(600));
        assert_eq!(parse("24h").unwrap(), secs(86_400));
        assert_eq!(parse("90d").unwrap(), secs(90 * 86_400));
        assert_eq!(parse("1h30m").unwrap(), secs(5_400));
        assert_eq!(parse("1h 30m").unwrap(), secs(5_400));
        assert_eq!(parse(" 45 ").unwrap(), secs(45));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1s5us7ns").unwrap(), Duration::new(1, 5_007));
        assert_eq!(parse("1d2h3m4s").unwrap(), secs(86_400 + 7_200 + 180 + 4));
    }

    #[test]
    fn refusals_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("  ", "empty"),
            ("-5s", "expected a number"),
            ("1.5h", "fractions are not allowed"),
            ("10x", "unknown unit \"x\""),
            ("10 m", "has no unit"),
            ("30m1h", "out of order"),
            ("1h1h", "out of order"),
            ("h", "expected a number"),
            ("99999999999999999999s", "too large"),
            ("18446744073709551615d", "too long"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
        assert_eq!(
            parse(&format!("{}s", u64::MAX)).unwrap(),
            Duration::from_secs(u64::MAX)
        );
        assert!(parse(&format!("{}s1s", u64::MAX)).is_err());
        assert!(parse(&format!("{}s1000ms", u64::MAX)).is_err());
    }

    #[test]
    fn formats_largest_unit_first() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(secs(5_400)), "1h30m");
        assert_eq!(format(secs(90 * 86_400)), "90d");
        assert_eq!(format(Duration::from_millis(200)), "200ms");
        assert_eq!(format(Duration::new(61, 1)), "1m1s1ns");
    }

    #[test]
    fn serde_takes_text_and_integers() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct T {
            #[serde(with = "super")]
            d: Duration,
        }
        let t: T = serde_json::from_str(r#"{"d": "1h30m"}"#).unwrap();
        assert_eq!(t.d, secs(5_400));
        let t: T = serde_json::from_str(r#"{"d": 90}"#).unwrap();
        assert_eq!(t.d, secs(90));
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"d":"1m30s"}"#);
        let err = serde_json::from_str::<T>(r#"{"d": -1}"#).err().unwrap();
        assert!(err.to_string().contains("never negative"), "{err}");
        let err = serde_json::from_str::<T>(r#"{"d": "10x"}"#).err().unwrap();
        assert!(err.to_string().contains("unknown unit"), "{err}");
        let err = serde_json::from_str::<T>(r#"{"d": 1.5}"#).err().unwrap();
        assert!(err.to_string().contains("a duration such as"), "{err}");
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Utc::now();
        assert_eq!(after(t, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(before(t, Duration::MAX), DateTime::<Utc>::MIN_UTC);
        assert_eq!(after(t, secs(60)), t + chrono::Duration::seconds(60));
        assert_eq!(before(t, secs(60)), t - chrono::Duration::seconds(60));
        assert_eq!(signed(Duration::MAX), chrono::Duration::MAX);
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse(&format(d)).unwrap(), d);
        }

        #[test]
        fn parts_add_up(d in 0u64..1_000, h in 0u64..1_000, m in 0u64..1_000, s in 0u64..1_000) {
            let text = format!("{d}d{h}h{m}m{s}s");
            prop_assert_eq!(parse(&text).unwrap(), Duration::from_secs(((d * 24 + h) * 60 + m) * 60 + s));
        }

        #[test]
        fn plain_integers_are_seconds(s in any::<u64>()) {
            prop_assert_eq!(parse(&s.to_string()).unwrap(), Duration::from_secs(s));
        }

        #[test]
        fn any_text_is_parsed_or_refused_without_panicking(text in "\\PC{0,24}") {
            let _ = parse(&text);
        }
    }
}
