//! The monthly memory quota of an org: every successful `/v1/calls/start` and
//! `/v1/calls/end` uses one call of the calendar month (UTC); failed requests
//! and replays use none. Unlimited unless an operator sets a number.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The period a use counts in: the UTC calendar month of `now_ms`, `YYYY-MM`.
pub fn month_of(now_ms: i64) -> String {
    match Timestamp::from_millisecond(now_ms) {
        Ok(ts) => ts.to_zoned(TimeZone::UTC).strftime("%Y-%m").to_string(),
        Err(_) => "1970-01".to_owned(),
    }
}

/// An org's quota and what it has used this month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaStatus {
    /// Calls per month; `None` is unlimited.
    pub calls_per_month: Option<i64>,
    pub used: i64,
}

impl QuotaStatus {
    /// Calls left this month; `None` when unlimited.
    pub fn remaining(&self) -> Option<i64> {
        self.calls_per_month.map(|limit| (limit - self.used).max(0))
    }
}

/// The message of the 402 answered when the quota is used up (seed text).
pub fn exhausted_message(remaining: i64) -> String {
    format!("Monthly quota exhausted. Your account has {remaining} API calls remaining.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        assert_eq!(month_of(1_770_000_000_000), "2026-02");
        // 2026-01-31T23:59:59.999Z and one millisecond later.
        assert_eq!(month_of(1_769_903_999_999), "2026-01");
        assert_eq!(month_of(1_769_904_000_000), "2026-02");
    }

    #[test]
    fn remaining_never_goes_below_zero() {
        assert_eq!(QuotaStatus { calls_per_month: None, used: 5 }.remaining(), None);
        assert_eq!(QuotaStatus { calls_per_month: Some(10), used: 4 }.remaining(), Some(6));
        assert_eq!(QuotaStatus { calls_per_month: Some(3), used: 4 }.remaining(), Some(0));
    }

    #[test]
    fn the_message_is_the_seed_text() {
        assert_eq!(exhausted_message(0), "Monthly quota exhausted. Your account has 0 API calls remaining.");
    }
}
