//! Durations as text (`"250ms"`, `"2s"`, `"1m30s"`) in JSON configuration, because people write
//! fault files by hand and `{"secs":0,"nanos":250000000}` is not something anyone types.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Parses `"250ms"`, `"2s"`, `"1m30s"`, `"0"`; the error says what is accepted.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("invalid duration {text:?} ({e}); write it like \"250ms\", \"2s\" or \"1m30s\"")
    })
}

/// Formats a duration the way [`parse`] reads it.
pub fn format(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_owned();
    }
    humantime::format_duration(duration)
        .to_string()
        .replace(' ', "")
}

/// `#[serde(with = "duration_text")]` for `Duration` fields.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*d))
}

/// `#[serde(with = "duration_text")]` for `Duration` fields.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// `#[serde(with = "duration_text::option")]` for `Option<Duration>` fields.
pub mod option {
    use super::*;

    /// Serializes `Some(d)` as text and `None` as null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&super::format(*d)),
            None => s.serialize_none(),
        }
    }

    /// Reads text or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| super::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["250ms", "2s", "1m30s", "0s", "1h"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&format(d)).unwrap(), d, "{text}");
        }
        assert_eq!(format(Duration::from_millis(1500)), "1s500ms");
    }

    #[test]
    fn bad_text_explains_the_format() {
        let err = parse("fast").unwrap_err();
        assert!(err.contains("\"250ms\""), "{err}");
    }
}
