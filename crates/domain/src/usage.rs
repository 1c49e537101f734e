//! Usage reporting rules (Staffify §12): the date range and its limit, the
//! day / ISO-week / month buckets, and how per-day aggregates (summed by the
//! database) roll up into the timeseries and the summary.

use jiff::ToSpan;
use jiff::civil::Date;

use crate::money::Micros;
use crate::validation::FieldErrors;

/// Longest range a report may span, counting both ends.
pub const MAX_RANGE_DAYS: i64 = 366;
/// Days before `to` that `from` defaults to.
pub const DEFAULT_RANGE_DAYS: i64 = 30;
/// Agents listed in `by_agent`.
pub const TOP_AGENTS: i64 = 20;
const DAY_MS: i64 = 86_400_000;

/// How the timeseries is bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// ISO weeks, labelled with their Monday.
    Week,
    /// Calendar months, labelled with their first day.
    Month,
}

impl Granularity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Granularity::Day, Granularity::Week, Granularity::Month].into_iter().find(|g| g.as_str() == s)
    }

    /// The label of the bucket `day` falls in.
    pub fn bucket(self, day: Date) -> Date {
        match self {
            Granularity::Day => day,
            Granularity::Week => {
                let back = i64::from(day.weekday().to_monday_zero_offset());
                day.checked_sub(back.days()).unwrap_or(day)
            }
            Granularity::Month => day.first_of_month(),
        }
    }

    /// The label of the bucket after the one labelled `label`.
    fn next(self, label: Date) -> Option<Date> {
        match self {
            Granularity::Day => label.tomorrow().ok(),
            Granularity::Week => label.checked_add(7.days()).ok(),
            Granularity::Month => label.checked_add(1.month()).ok(),
        }
    }
}

/// The inclusive UTC date range of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: Date,
    pub to: Date,
}

impl DateRange {
    /// The range of `from` / `to` (`YYYY-MM-DD`); `to` defaults to `today`
    /// and `from` to 30 days before `to`. Errors name the parameter.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: Date) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut date = |field: &str, value: Option<&str>| match value.map(parse_date) {
            None => None,
            Some(Some(d)) => Some(d),
            Some(None) => {
                errors.add(field, "Must be a date as YYYY-MM-DD.");
                None
            }
        };
        let (from, to) = (date("from", from), date("to", to));
        if !errors.is_empty() {
            return Err(errors);
        }
        let to = to.unwrap_or(today);
        let from = from.or_else(|| to.checked_sub(DEFAULT_RANGE_DAYS.days()).ok()).unwrap_or(to);
        if from > to {
            errors.add("from", "Must not be after `to`.");
        } else if days_between(from, to) + 1 > MAX_RANGE_DAYS {
            errors.add("to", format!("The range may span at most {MAX_RANGE_DAYS} days."));
        }
        errors.finish()?;
        Ok(DateRange { from, to })
    }

    /// Epoch-ms bounds: the start of `from` and the end of `to` (exclusive).
    pub fn bounds_ms(&self) -> (i64, i64) {
        (day_start_ms(self.from), day_start_ms(self.to) + DAY_MS)
    }

    /// Every bucket label of the range, in order, including empty ones. The
    /// first label may lie before `from` (a week starts on its Monday, a
    /// month on its first day), but only days of the range are counted.
    pub fn labels(&self, granularity: Granularity) -> Vec<Date> {
        let last = granularity.bucket(self.to);
        let mut labels = Vec::new();
        let mut label = Some(granularity.bucket(self.from));
        while let Some(current) = label.filter(|l| *l <= last) {
            labels.push(current);
            label = granularity.next(current);
        }
        labels
    }
}

fn parse_date(s: &str) -> Option<Date> {
    if s.len() != 10 {
        return None;
    }
    s.parse().ok()
}

fn days_between(from: Date, to: Date) -> i64 {
    (day_start_ms(to) - day_start_ms(from)) / DAY_MS
}

/// Epoch milliseconds at 00:00 UTC of `day`.
pub fn day_start_ms(day: Date) -> i64 {
    day.to_zoned(jiff::tz::TimeZone::UTC).map_or(0, |z| z.timestamp().as_millisecond())
}

/// The UTC date of a day number (days since 1970-01-01).
pub fn date_of_day(day_number: i64) -> Option<Date> {
    jiff::Timestamp::from_millisecond(day_number.checked_mul(DAY_MS)?)
        .ok()
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
}

/// Aggregates of one UTC day (or of any set of calls and messages), summed
/// by the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub calls: i64,
    /// Billable minutes × 100 (each call rounded to 2 decimals, then summed).
    pub centi_minutes: i64,
    pub call_cost: Micros,
    pub recording_cost: Micros,
    pub transfer_cost: Micros,
    pub llm_discount: Micros,
    pub total_cost: Micros,
    pub completed_calls: i64,
    pub failed_calls: i64,
    /// Busy, no-answer, canceled or rejected.
    pub missed_calls: i64,
    pub transferred_calls: i64,
    /// Completed calls with a duration above zero, and their seconds.
    pub timed_calls: i64,
    pub timed_seconds: i64,
    pub sms_count: i64,
    pub sms_cost: Micros,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.calls += o.calls;
        self.centi_minutes += o.centi_minutes;
        self.call_cost += o.call_cost;
        self.recording_cost += o.recording_cost;
        self.transfer_cost += o.transfer_cost;
        self.llm_discount += o.llm_discount;
        self.total_cost += o.total_cost;
        self.completed_calls += o.completed_calls;
        self.failed_calls += o.failed_calls;
        self.missed_calls += o.missed_calls;
        self.transferred_calls += o.transferred_calls;
        self.timed_calls += o.timed_calls;
        self.timed_seconds += o.timed_seconds;
        self.sms_count += o.sms_count;
        self.sms_cost += o.sms_cost;
    }

    /// Mean duration of completed calls longer than zero seconds, to one
    /// decimal; 0 when there are none.
    pub fn avg_duration_seconds(&self) -> f64 {
        if self.timed_calls == 0 {
            return 0.0;
        }
        (self.timed_seconds as f64 / self.timed_calls as f64 * 10.0).round() / 10.0
    }

    pub fn minutes(&self) -> f64 {
        self.centi_minutes as f64 / 100.0
    }

    /// Calls plus SMS: `total_cost + sms_cost`.
    pub fn grand_total_cost(&self) -> Micros {
        self.total_cost + self.sms_cost
    }
}

/// Rolls per-day tallies (day number, tally) into one tally per bucket label
/// of the range, empty buckets included, plus the total of the range. Days
/// outside the range are ignored.
pub fn roll_up(range: &DateRange, granularity: Granularity, days: &[(i64, Tally)]) -> (Vec<(Date, Tally)>, Tally) {
    let mut buckets: Vec<(Date, Tally)> =
        range.labels(granularity).into_iter().map(|label| (label, Tally::default())).collect();
    let mut total = Tally::default();
    for (day_number, tally) in days {
        let Some(day) = date_of_day(*day_number).filter(|d| *d >= range.from && *d <= range.to) else { continue };
        let label = granularity.bucket(day);
        if let Ok(i) = buckets.binary_search_by(|(l, _)| l.cmp(&label)) {
            buckets[i].1.add(tally);
        }
        total.add(tally);
    }
    (buckets, total)
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn day_number(s: &str) -> i64 {
        day_start_ms(d(s)) / DAY_MS
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        assert_eq!(Granularity::Week.bucket(d("2026-01-07")), d("2026-01-05"));
        assert_eq!(Granularity::Week.bucket(d("2026-01-05")), d("2026-01-05"));
        assert_eq!(Granularity::Week.bucket(d("2026-01-04")), d("2025-12-29"), "Sunday belongs to the week before");
        assert_eq!(Granularity::Month.bucket(d("2026-02-28")), d("2026-02-01"));
        assert_eq!(Granularity::Day.bucket(d("2026-02-28")), d("2026-02-28"));
    }

    #[test]
    fn ranges_default_and_are_limited() {
        let today = date(2026, 3, 31);
        let r = DateRange::parse(None, None, today).unwrap();
        assert_eq!((r.from, r.to), (date(2026, 3, 1), today));
        let r = DateRange::parse(Some("2025-01-01"), Some("2026-01-01"), today).unwrap();
        assert_eq!(r.from, date(2025, 1, 1), "366 days counting both ends");
        let err = DateRange::parse(Some("2025-01-01"), Some("2026-01-02"), today).unwrap_err();
        assert!(err.into_map().contains_key("to"));
        let err = DateRange::parse(Some("2026-02-02"), Some("2026-02-01"), today).unwrap_err();
        assert!(err.into_map().contains_key("from"));
        let err = DateRange::parse(Some("2026-2-1"), Some("tomorrow"), today).unwrap_err().into_map();
        assert!(err.contains_key("from") && err.contains_key("to"));
    }

    #[test]
    fn bounds_cover_whole_utc_days() {
        let r = DateRange { from: date(2026, 1, 1), to: date(2026, 1, 2) };
        assert_eq!(r.bounds_ms(), (1_767_225_600_000, 1_767_225_600_000 + 2 * DAY_MS));
    }

    #[test]
    fn labels_include_empty_buckets() {
        let r = DateRange { from: date(2026, 1, 7), to: date(2026, 2, 2) };
        assert_eq!(r.labels(Granularity::Day).len(), 27);
        let weeks = r.labels(Granularity::Week);
        assert_eq!(weeks.first(), Some(&date(2026, 1, 5)));
        assert_eq!(weeks.last(), Some(&date(2026, 2, 2)));
        assert_eq!(weeks.len(), 5);
        assert_eq!(r.labels(Granularity::Month), vec![date(2026, 1, 1), date(2026, 2, 1)]);
    }

    #[test]
    fn days_roll_up_into_buckets_and_a_total() {
        let r = DateRange { from: date(2026, 1, 5), to: date(2026, 1, 18) };
        let call = |seconds: i64, cost: i64| Tally {
            calls: 1,
            completed_calls: 1,
            timed_calls: i64::from(seconds > 0),
            timed_seconds: seconds,
            total_cost: cost,
            ..Tally::default()
        };
        let days = [
            (day_number("2026-01-05"), call(60, 150_000)),
            (day_number("2026-01-07"), call(121, 300_000)),
            (day_number("2026-01-12"), Tally { sms_count: 2, sms_cost: 280_000, ..Tally::default() }),
            (day_number("2026-01-30"), call(60, 1)),
        ];
        let (weeks, total) = roll_up(&r, Granularity::Week, &days);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].0, date(2026, 1, 5));
        assert_eq!((weeks[0].1.calls, weeks[0].1.total_cost), (2, 450_000));
        assert_eq!(weeks[0].1.avg_duration_seconds(), 90.5);
        assert_eq!((weeks[1].1.calls, weeks[1].1.sms_count), (0, 2));
        assert_eq!(weeks[1].1.avg_duration_seconds(), 0.0);
        assert_eq!((total.calls, total.grand_total_cost()), (2, 730_000), "days outside the range are ignored");
    }

    #[test]
    fn day_numbers_are_utc_dates() {
        assert_eq!(date_of_day(0), Some(date(1970, 1, 1)));
        assert_eq!(date_of_day(day_number("2026-01-07")), Some(date(2026, 1, 7)));
        assert_eq!(Granularity::parse("week"), Some(Granularity::Week));
        assert_eq!(Granularity::parse("year"), None);
    }
}
