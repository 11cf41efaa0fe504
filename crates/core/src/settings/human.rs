//! Serde adapters for values that accept a plain integer or a human form.

use std::fmt;

use serde::de::{self, Visitor};

/// Parses a human duration into milliseconds: an integer is milliseconds, a string such
/// as `"10s"` or `"1m 30s"` goes through humantime.
pub(crate) fn parse_millis(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    humantime::parse_duration(text)
        .map(|d| d.as_millis().try_into().unwrap_or(u64::MAX))
        .map_err(|e| {
            format!("{text:?} is not a duration ({e}); write milliseconds or a form like \"10s\"")
        })
}

/// Parses a human size into bytes: an integer is bytes, a string such as `"8MiB"` or
/// `"512 KB"` goes through bytesize.
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Ok(n);
    }
    text.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("{text:?} is not a size ({e}); write bytes or a form like \"8MiB\""))
}

/// A visitor for `u64 | string`, the string parsed by `parse`.
struct Human {
    parse: fn(&str) -> Result<u64, String>,
    expecting: &'static str,
}

impl Visitor<'_> for Human {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("must not be negative, got {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

/// `#[serde(with = "human::millis")]`: milliseconds, or a human duration.
pub(crate) mod millis {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(super::Human {
            parse: super::parse_millis,
            expecting: "milliseconds or a duration such as \"10s\"",
        })
    }
}

/// `#[serde(with = "human::bytes")]`: bytes, or a human size.
pub(crate) mod bytes {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_any(super::Human {
            parse: super::parse_bytes,
            expecting: "bytes or a size such as \"8MiB\"",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_millis("250"), Ok(250));
        assert_eq!(parse_millis("10s"), Ok(10_000));
        assert_eq!(parse_millis("1m 30s"), Ok(90_000));
        assert!(parse_millis("soon").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024"), Ok(1024));
        assert_eq!(parse_bytes("8MiB"), Ok(8 * 1024 * 1024));
        assert_eq!(parse_bytes("1 KB"), Ok(1000));
        assert!(parse_bytes("big").is_err());
    }
}
