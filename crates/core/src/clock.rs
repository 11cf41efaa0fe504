//! Timestamps as the contract writes them: RFC 3339, UTC, millisecond precision.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const RFC3339_MILLIS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Formats an instant as `2026-11-25T10:00:00.123Z`.
pub fn format(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(RFC3339_MILLIS)
        .expect("a UTC timestamp always formats")
}

/// The current time, formatted with [`format()`].
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Milliseconds since the Unix epoch, for arithmetic on stored timestamps.
pub fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Formats milliseconds since the Unix epoch with [`format()`].
pub fn format_millis(millis: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_millis_in_utc_with_z() {
        assert_eq!(format_millis(1_764_064_800_123), "2025-11-25T10:00:00.123Z");
    }
}
