//! Go durations (`time.ParseDuration` / `Duration.String`).
//!
//! MCM's flags (`--machine-drain-timeout=2h`), the Machine's inline configuration
//! (`spec.drainTimeout: 2h0m0s`) and several status descriptions (`failed to join the
//! cluster in 20m0s minutes.`) use Go's duration syntax and Go's canonical printing.
//! A port has to accept exactly what Go accepts (`.5s`, `+5s`, `1h30m`, `300ms`,
//! `1µs`, no `d` unit, no spaces) and print exactly what Go prints, or the strings it
//! writes would differ from the ones the Go tools write and read.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOSECOND: u128 = 1;
const MICROSECOND: u128 = 1_000 * NANOSECOND;
const MILLISECOND: u128 = 1_000 * MICROSECOND;
const SECOND: u128 = 1_000 * MILLISECOND;
const MINUTE: u128 = 60 * SECOND;
const HOUR: u128 = 60 * MINUTE;

/// A Go `time.Duration`: signed nanoseconds, parsed and printed as Go does.
///
/// Negative values exist in Go and can be written into a Machine by hand, so they
/// parse; the controller's validation rejects them where MCM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration {
    nanos: i64,
}

/// Why a Go duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid Go duration {input:?}: {reason} (examples of valid values: 20m, 1h30m, 90s, 300ms)"
)]
pub struct ParseGoDurationError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl GoDuration {
    /// Zero.
    pub const ZERO: GoDuration = GoDuration { nanos: 0 };

    /// From signed nanoseconds.
    pub const fn from_nanos(nanos: i64) -> GoDuration {
        GoDuration { nanos }
    }

    /// From whole seconds (saturating at Go's range).
    pub const fn from_secs(secs: i64) -> GoDuration {
        GoDuration {
            nanos: secs.saturating_mul(1_000_000_000),
        }
    }

    /// From whole minutes (saturating).
    pub const fn from_mins(mins: i64) -> GoDuration {
        GoDuration::from_secs(mins.saturating_mul(60))
    }

    /// From a std duration (saturating at Go's maximum of about 292 years).
    pub fn from_std(duration: Duration) -> GoDuration {
        GoDuration {
            nanos: i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX),
        }
    }

    /// Signed nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// Whether the value is below zero.
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// As a std duration; `None` for negative values.
    pub fn to_std(self) -> Option<Duration> {
        u64::try_from(self.nanos).ok().map(Duration::from_nanos)
    }

    /// As a std duration, negative values clamped to zero.
    pub fn to_std_saturating(self) -> Duration {
        self.to_std().unwrap_or(Duration::ZERO)
    }

    /// Parses Go's syntax: an optional sign, then one or more decimal numbers with an
    /// optional fraction and a unit each (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`,
    /// `h`); the lone string `0` is also valid.
    pub fn parse(input: &str) -> Result<GoDuration, ParseGoDurationError> {
        let fail = |reason| ParseGoDurationError {
            input: input.to_owned(),
            reason,
        };
        let mut rest = input;
        let mut negative = false;
        if let Some(stripped) = rest.strip_prefix('-') {
            negative = true;
            rest = stripped;
        } else if let Some(stripped) = rest.strip_prefix('+') {
            rest = stripped;
        }
        if rest == "0" {
            return Ok(GoDuration::ZERO);
        }
        if rest.is_empty() {
            return Err(fail("empty value"));
        }
        let limit: u128 = 1 << 63;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let first = rest.as_bytes()[0];
            if !(first == b'.' || first.is_ascii_digit()) {
                return Err(fail("expected a number"));
            }
            let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let int_digits = &rest[..int_len];
            rest = &rest[int_len..];
            let mut frac_digits = "";
            if let Some(after_dot) = rest.strip_prefix('.') {
                let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
                frac_digits = &after_dot[..frac_len];
                rest = &after_dot[frac_len..];
            }
            if int_digits.is_empty() && frac_digits.is_empty() {
                return Err(fail("expected digits"));
            }
            let unit_len = rest
                .char_indices()
                .find(|(_, c)| *c == '.' || c.is_ascii_digit())
                .map_or(rest.len(), |(i, _)| i);
            let unit_text = &rest[..unit_len];
            rest = &rest[unit_len..];
            let unit = match unit_text {
                "" => return Err(fail("missing unit")),
                "ns" => NANOSECOND,
                "us" | "\u{00b5}s" | "\u{03bc}s" => MICROSECOND,
                "ms" => MILLISECOND,
                "s" => SECOND,
                "m" => MINUTE,
                "h" => HOUR,
                _ => return Err(fail("unknown unit (use ns, us, ms, s, m or h)")),
            };
            let mut whole: u128 = 0;
            for digit in int_digits.bytes() {
                whole = whole * 10 + u128::from(digit - b'0');
                if whole > limit {
                    return Err(fail("value out of range"));
                }
            }
            let mut part = whole
                .checked_mul(unit)
                .filter(|v| *v <= limit)
                .ok_or_else(|| fail("value out of range"))?;
            // Fraction, computed exactly as Go does it (digits that would overflow are
            // dropped; the scaling is done in float64), so that results agree to the
            // nanosecond: Go's own tests expect "0.3333333333333333333h" to be 20m.
            let mut frac: u64 = 0;
            let mut scale: f64 = 1.0;
            let mut overflow = false;
            for digit in frac_digits.bytes() {
                if overflow {
                    continue;
                }
                if frac > (i64::MAX as u64) / 10 {
                    overflow = true;
                    continue;
                }
                let next = frac * 10 + u64::from(digit - b'0');
                if u128::from(next) > limit {
                    overflow = true;
                    continue;
                }
                frac = next;
                scale *= 10.0;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let frac_nanos = (frac as f64 * (unit as f64 / scale)) as u128;
            part += frac_nanos;
            total += part;
            if total > limit {
                return Err(fail("value out of range"));
            }
        }
        let nanos = if negative {
            // -(1<<63) is representable; anything larger in magnitude was rejected.
            i64::try_from(-(total as i128)).map_err(|_| fail("value out of range"))?
        } else {
            i64::try_from(total).map_err(|_| fail("value out of range"))?
        };
        Ok(GoDuration { nanos })
    }
}

/// Writes the digits of `value / 10^precision`'s fraction, without trailing zeros,
/// preceded by a dot; returns the integer part. Mirrors Go's `fmtFrac`.
fn push_fraction(out: &mut String, value: u128, precision: u32) -> u128 {
    let divisor = 10u128.pow(precision);
    let frac = value % divisor;
    if frac != 0 {
        let mut digits = format!("{frac:0width$}", width = precision as usize);
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
    value / divisor
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = u128::from(self.nanos.unsigned_abs());
        let sign = if self.nanos < 0 { "-" } else { "" };
        if magnitude == 0 {
            return f.write_str("0s");
        }
        if magnitude < SECOND {
            let (precision, unit) = if magnitude < MICROSECOND {
                (0, "ns")
            } else if magnitude < MILLISECOND {
                (3, "\u{00b5}s")
            } else {
                (6, "ms")
            };
            let mut frac = String::new();
            let whole = push_fraction(&mut frac, magnitude, precision);
            return write!(f, "{sign}{whole}{frac}{unit}");
        }
        let mut frac = String::new();
        let whole_secs = push_fraction(&mut frac, magnitude, 9);
        let secs = whole_secs % 60;
        let total_mins = whole_secs / 60;
        let mut out = String::from(sign);
        if total_mins > 0 {
            let hours = total_mins / 60;
            let mins = total_mins % 60;
            if hours > 0 {
                out.push_str(&format!("{hours}h"));
            }
            out.push_str(&format!("{mins}m"));
        }
        out.push_str(&format!("{secs}{frac}s"));
        f.write_str(&out)
    }
}

impl FromStr for GoDuration {
    type Err = ParseGoDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GoDuration::parse(s)
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        GoDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl From<Duration> for GoDuration {
    fn from(value: Duration) -> Self {
        GoDuration::from_std(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> i64 {
        GoDuration::parse(s).unwrap().as_nanos()
    }

    #[test]
    fn parses_what_go_parses() {
        let s = 1_000_000_000i64;
        let table: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5 * s),
            ("30s", 30 * s),
            ("1478s", 1478 * s),
            ("-5s", -5 * s),
            ("+5s", 5 * s),
            ("-0", 0),
            ("+0", 0),
            ("5.0s", 5 * s),
            ("5.6s", 5 * s + 600_000_000),
            ("5.s", 5 * s),
            (".5s", 500_000_000),
            ("1.0s", s),
            ("1.00s", s),
            ("1.004s", s + 4_000_000),
            ("100.00100s", 100 * s + 1_000_000),
            ("10ns", 10),
            ("11us", 11_000),
            ("12\u{00b5}s", 12_000),
            ("12\u{03bc}s", 12_000),
            ("13ms", 13_000_000),
            ("14s", 14 * s),
            ("15m", 15 * 60 * s),
            ("16h", 16 * 3600 * s),
            ("3h30m", (3 * 3600 + 30 * 60) * s),
            ("10.5s4m", 4 * 60 * s + 10 * s + 500_000_000),
            ("-2m3.4s", -(2 * 60 * s + 3 * s + 400_000_000)),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("39h9m14.425s", 140_954_425_000_000),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * 60 * s),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("20m", 20 * 60 * s),
            ("96h", 96 * 3600 * s),
        ];
        for (input, expected) in table {
            assert_eq!(parse(input), *expected, "input {input}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        for input in [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "5 min",
            " 5m",
            "5m ",
            "1.5e3s",
            "9223372036854775808ns",
            "3000000h",
            "x5s",
            "5sx",
        ] {
            let error = GoDuration::parse(input).unwrap_err();
            assert_eq!(error.input, input);
            assert!(error.to_string().contains("20m"), "{error}");
        }
    }

    #[test]
    fn prints_what_go_prints() {
        let table: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{00b5}s"),
            (2_200_000, "2.2ms"),
            (3_300_000_000, "3.3s"),
            (4 * 60 * 1_000_000_000 + 5_000_000_000, "4m5s"),
            (4 * 60 * 1_000_000_000 + 5_001_000_000, "4m5.001s"),
            (
                5 * 3600 * 1_000_000_000 + 6 * 60 * 1_000_000_000 + 7_001_000_000,
                "5h6m7.001s",
            ),
            (8 * 60 * 1_000_000_000 + 1, "8m0.000000001s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            (20 * 60 * 1_000_000_000, "20m0s"),
            (2 * 3600 * 1_000_000_000, "2h0m0s"),
            (90 * 1_000_000_000, "1m30s"),
            (45 * 1_000_000_000, "45s"),
            (1_500_000_000, "1.5s"),
            (500_000_000, "500ms"),
            (-1_500_000_000, "-1.5s"),
            (96 * 3600 * 1_000_000_000, "96h0m0s"),
        ];
        for (nanos, expected) in table {
            assert_eq!(GoDuration::from_nanos(*nanos).to_string(), *expected);
        }
    }

    #[test]
    fn serde_uses_the_go_text() {
        let value: GoDuration = serde_json::from_str("\"5m\"").unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), "\"5m0s\"");
        assert!(serde_json::from_str::<GoDuration>("\"5 minutes\"").is_err());
    }

    proptest! {
        #[test]
        fn printing_then_parsing_round_trips(nanos in any::<i64>()) {
            let value = GoDuration::from_nanos(nanos);
            prop_assert_eq!(GoDuration::parse(&value.to_string()).unwrap(), value);
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = GoDuration::parse(&text);
        }
    }
}
