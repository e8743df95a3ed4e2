//! Timestamps as the schema writes them: RFC 3339 in UTC, ending in `Z`.

use std::time::{Duration, UNIX_EPOCH};

/// `nanos` since the Unix epoch as RFC 3339 with nanoseconds
/// (`2026-12-07T04:24:43.123456789Z`).
pub(crate) fn rfc3339(nanos: u64) -> String {
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(nanos)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_nanos() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_796_617_483_123_456_789),
            "2026-12-07T04:24:43.123456789Z"
        );
    }
}
