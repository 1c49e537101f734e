//! Time as stored (epoch milliseconds) and as shown (ISO-8601 UTC).

use jiff::Timestamp;

/// Renders epoch milliseconds as ISO-8601 UTC with millisecond precision,
/// e.g. `2026-06-01T09:14:22.000Z`.
pub fn iso(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => String::from("1970-01-01T00:00:00.000Z"),
    }
}

/// Parses an ISO-8601 / RFC 3339 timestamp into epoch milliseconds.
pub fn parse_iso(s: &str) -> Option<i64> {
    s.parse::<Timestamp>().ok().map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_milliseconds() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_780_305_262_000), "2026-06-01T09:14:22.000Z");
        assert_eq!(parse_iso("2026-06-01T09:14:22Z"), Some(1_780_305_262_000));
        assert_eq!(parse_iso("yesterday"), None);
    }
}
