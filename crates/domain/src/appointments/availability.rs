//! Availability: when a project (or one of its agents) takes appointments —
//! working hours per weekday in a time zone, slot length, a buffer between
//! appointments, minimum notice and maximum advance — and the pure rules that
//! turn it and the booked times into free slots or a booking's refusal.
//! Working hours are civil times resolved in the zone day by day, so slots
//! follow daylight-saving changes.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{MINUTE_MS, overlaps, time_zone};
use crate::validation::{FieldErrors, in_range};

const DAY_MS: i64 = 24 * 60 * MINUTE_MS;
/// The earliest reminder: 30 days before the start.
pub const MAX_REMINDER_MINUTES: i64 = 30 * 24 * 60;

/// One stretch of working time in a day, `HH:MM` to `HH:MM` (`24:00` is the
/// end of the day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    #[schema(example = "09:00")]
    pub start: String,
    #[schema(example = "17:00")]
    pub end: String,
}

/// Working hours per weekday; a day that is missing or empty is closed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    #[serde(default)]
    pub monday: Vec<Hours>,
    #[serde(default)]
    pub tuesday: Vec<Hours>,
    #[serde(default)]
    pub wednesday: Vec<Hours>,
    #[serde(default)]
    pub thursday: Vec<Hours>,
    #[serde(default)]
    pub friday: Vec<Hours>,
    #[serde(default)]
    pub saturday: Vec<Hours>,
    #[serde(default)]
    pub sunday: Vec<Hours>,
}

impl WorkingHours {
    fn days(&self) -> [(&'static str, &Vec<Hours>); 7] {
        [
            ("monday", &self.monday),
            ("tuesday", &self.tuesday),
            ("wednesday", &self.wednesday),
            ("thursday", &self.thursday),
            ("friday", &self.friday),
            ("saturday", &self.saturday),
            ("sunday", &self.sunday),
        ]
    }

    fn of(&self, day: Weekday) -> &[Hours] {
        match day {
            Weekday::Monday => &self.monday,
            Weekday::Tuesday => &self.tuesday,
            Weekday::Wednesday => &self.wednesday,
            Weekday::Thursday => &self.thursday,
            Weekday::Friday => &self.friday,
            Weekday::Saturday => &self.saturday,
            Weekday::Sunday => &self.sunday,
        }
    }
}

/// When appointments can be booked. The defaults are VoxForge's: Monday to
/// Friday 09:00–17:00, 30-minute slots, 15 minutes between appointments,
/// 24 hours' notice, 30 days ahead (in UTC until a zone is set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// IANA time zone of the working hours.
    #[schema(example = "Europe/Amsterdam")]
    pub time_zone: String,
    pub working_hours: WorkingHours,
    /// Length of a slot and the step between offered starts, 5–480 minutes.
    pub slot_minutes: i64,
    /// Free time kept before and after every appointment, 0–240 minutes.
    pub buffer_minutes: i64,
    /// How soon the earliest bookable start is, 0–43200 minutes (30 days).
    pub min_notice_minutes: i64,
    /// How far ahead a start can be booked, 1–365 days.
    pub max_advance_days: i64,
    /// When the contact gets an SMS reminder: minutes before the start, up to
    /// 3 offsets of 5–43200 (30 days). Empty (the default) sends none.
    #[serde(default)]
    pub reminder_offsets_minutes: Vec<i64>,
}

impl Default for Availability {
    fn default() -> Self {
        let office = || vec![Hours { start: "09:00".into(), end: "17:00".into() }];
        Availability {
            time_zone: "UTC".into(),
            working_hours: WorkingHours {
                monday: office(),
                tuesday: office(),
                wednesday: office(),
                thursday: office(),
                friday: office(),
                saturday: Vec::new(),
                sunday: Vec::new(),
            },
            slot_minutes: 30,
            buffer_minutes: 15,
            min_notice_minutes: 24 * 60,
            max_advance_days: 30,
            reminder_offsets_minutes: Vec::new(),
        }
    }
}

/// Minutes since midnight of `HH:MM` (00:00 to 24:00).
fn minute_of_day(s: &str) -> Option<i64> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (((0..24).contains(&h) && (0..60).contains(&m)) || minutes == 24 * 60).then_some(minutes)
}

/// Why a booking does not fit the availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The time is outside what is bookable (hours, notice, advance): the
    /// message is for `start_time`.
    Unbookable(String),
    /// Another active appointment overlaps it or sits within the buffer.
    Taken(String),
}

/// The free slots of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySlots {
    pub date: Date,
    /// Slot starts, epoch milliseconds.
    pub starts: Vec<i64>,
}

impl Availability {
    /// The field errors of these settings (empty when valid).
    pub fn check(&self) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.check("time_zone", time_zone(&self.time_zone).map(drop));
        errors.check("slot_minutes", in_range(self.slot_minutes, 5, 480));
        errors.check("buffer_minutes", in_range(self.buffer_minutes, 0, 240));
        errors.check("min_notice_minutes", in_range(self.min_notice_minutes, 0, 43_200));
        errors.check("max_advance_days", in_range(self.max_advance_days, 1, 365));
        let offsets = &self.reminder_offsets_minutes;
        if offsets.len() > 3 {
            errors.add("reminder_offsets_minutes", "At most 3 reminders.");
        } else if let Some(bad) = offsets.iter().find(|&&m| in_range(m, 5, MAX_REMINDER_MINUTES).is_err()) {
            errors
                .add("reminder_offsets_minutes", format!("{bad}: each must be between 5 and {MAX_REMINDER_MINUTES}."));
        }
        for (day, hours) in self.working_hours.days() {
            if hours.len() > 8 {
                errors.add(format!("working_hours.{day}"), "At most 8 stretches a day.");
            }
            let mut previous_end = -1;
            for (i, stretch) in hours.iter().enumerate() {
                let field = format!("working_hours.{day}[{i}]");
                match (minute_of_day(&stretch.start), minute_of_day(&stretch.end)) {
                    (Some(start), Some(end)) if start < end && start >= previous_end => previous_end = end,
                    (Some(start), Some(end)) if start < end => {
                        errors.add(field, "Stretches must be in order and must not overlap.");
                    }
                    (Some(_), Some(_)) => errors.add(field, "end must be after start."),
                    _ => errors.add(field, "start and end must be HH:MM (00:00 to 24:00)."),
                }
            }
        }
        errors
    }

    /// The zone of the working hours (UTC if the stored name is unknown).
    pub fn zone(&self) -> TimeZone {
        time_zone(&self.time_zone).unwrap_or(TimeZone::UTC)
    }

    /// The working stretches of a local date as epoch-millisecond ranges.
    fn windows(&self, tz: &TimeZone, date: Date) -> Vec<(i64, i64)> {
        let at = |minutes: i64| {
            let civil = date.to_datetime(Time::midnight()).checked_add(Span::new().minutes(minutes)).ok()?;
            tz.to_zoned(civil).ok().map(|z| z.timestamp().as_millisecond())
        };
        self.working_hours
            .of(date.weekday())
            .iter()
            .filter_map(|h| Some((at(minute_of_day(&h.start)?)?, at(minute_of_day(&h.end)?)?)))
            .filter(|(start, end)| start < end)
            .collect()
    }

    /// Whether a start respects the notice and the advance limit.
    fn in_horizon(&self, start_ms: i64, now_ms: i64) -> Result<(), String> {
        if start_ms < now_ms + self.min_notice_minutes * MINUTE_MS {
            Err(format!("Must be at least {} minutes from now.", self.min_notice_minutes))
        } else if start_ms > now_ms + self.max_advance_days * DAY_MS {
            Err(format!("Can be booked at most {} days ahead.", self.max_advance_days))
        } else {
            Ok(())
        }
    }

    /// Whether `[start, end)` keeps the buffer from every busy range.
    fn clear_of(&self, start_ms: i64, end_ms: i64, busy: &[(i64, i64)]) -> bool {
        let buffer = self.buffer_minutes * MINUTE_MS;
        !busy.iter().any(|&(b_start, b_end)| overlaps(start_ms - buffer, end_ms + buffer, b_start, b_end))
    }

    /// The free slots of `days` local dates from `first`, each `duration_ms`
    /// long, starting every `slot_minutes` from the start of a working
    /// stretch, at least the notice after `now_ms`, within the advance limit,
    /// and the buffer away from every `busy` range.
    pub fn free_slots(
        &self,
        first: Date,
        days: i64,
        duration_ms: i64,
        now_ms: i64,
        busy: &[(i64, i64)],
    ) -> Vec<DaySlots> {
        let tz = self.zone();
        let step = self.slot_minutes * MINUTE_MS;
        let mut out = Vec::new();
        let mut date = first;
        for _ in 0..days {
            let mut starts = Vec::new();
            for (window_start, window_end) in self.windows(&tz, date) {
                let mut start = window_start;
                while start + duration_ms <= window_end {
                    let end = start + duration_ms;
                    if self.in_horizon(start, now_ms).is_ok() && self.clear_of(start, end, busy) {
                        starts.push(start);
                    }
                    start += step;
                }
            }
            out.push(DaySlots { date, starts });
            let Ok(next) = date.tomorrow() else { break };
            date = next;
        }
        out
    }

    /// Whether `[start, end)` can be booked at `now_ms` beside the `busy`
    /// ranges: within one working stretch of its local day, within notice and
    /// advance, and the buffer away from other appointments.
    pub fn check_booking(&self, start_ms: i64, end_ms: i64, now_ms: i64, busy: &[(i64, i64)]) -> Result<(), Refusal> {
        self.in_horizon(start_ms, now_ms).map_err(Refusal::Unbookable)?;
        let tz = self.zone();
        let date = Timestamp::from_millisecond(start_ms).map(|t| t.to_zoned(tz.clone()).date());
        let inside = date.is_ok_and(|date| {
            self.windows(&tz, date).iter().any(|&(w_start, w_end)| w_start <= start_ms && end_ms <= w_end)
        });
        if !inside {
            return Err(Refusal::Unbookable(format!(
                "Outside the working hours ({}); send \"force\": true to book it anyway.",
                self.time_zone
            )));
        }
        if busy.iter().any(|&(b_start, b_end)| overlaps(start_ms, end_ms, b_start, b_end)) {
            return Err(Refusal::Taken("Another appointment holds this time.".into()));
        }
        if !self.clear_of(start_ms, end_ms, busy) {
            return Err(Refusal::Taken(format!(
                "Too close to another appointment: {} minutes are kept free between appointments.",
                self.buffer_minutes
            )));
        }
        Ok(())
    }

    /// The epoch-millisecond range that covers every working stretch of
    /// `days` local dates from `first`, widened by the buffer: the booked
    /// times that can affect their slots.
    pub fn span_of(&self, first: Date, days: i64) -> (i64, i64) {
        let tz = self.zone();
        let day_start =
            |date: Date| tz.to_zoned(date.to_datetime(Time::midnight())).map_or(0, |z| z.timestamp().as_millisecond());
        let last = first.checked_add(Span::new().days(days)).unwrap_or(first);
        let buffer = self.buffer_minutes * MINUTE_MS;
        (day_start(first) - buffer, day_start(last) + buffer)
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::time::{iso, parse_iso};

    fn ms(s: &str) -> i64 {
        parse_iso(s).unwrap()
    }

    fn shown(day: &DaySlots) -> Vec<String> {
        day.starts.iter().map(|&s| iso(s)).collect()
    }

    fn hours(start: &str, end: &str) -> Vec<Hours> {
        vec![Hours { start: start.into(), end: end.into() }]
    }

    /// Open every day in `zone`, no buffer, no notice.
    fn open(zone: &str, start: &str, end: &str) -> Availability {
        let h = hours(start, end);
        Availability {
            time_zone: zone.into(),
            working_hours: WorkingHours {
                monday: h.clone(),
                tuesday: h.clone(),
                wednesday: h.clone(),
                thursday: h.clone(),
                friday: h.clone(),
                saturday: h.clone(),
                sunday: h,
            },
            slot_minutes: 60,
            buffer_minutes: 0,
            min_notice_minutes: 0,
            max_advance_days: 365,
            reminder_offsets_minutes: Vec::new(),
        }
    }

    /// A time before every date the tests ask about, within a year of them.
    fn new_year() -> i64 {
        ms("2027-01-01T00:00:00Z")
    }

    #[test]
    fn the_defaults_are_valid_office_hours() {
        let a = Availability::default();
        assert!(a.check().is_empty());
        // 2027-03-01 is a Monday: 09:00 to 16:30 every 30 minutes, in UTC.
        let days = a.free_slots(date(2027, 3, 1), 7, 30 * MINUTE_MS, ms("2027-02-25T00:00:00Z"), &[]);
        assert_eq!(days.len(), 7);
        assert_eq!(days[0].starts.len(), 16);
        assert_eq!(iso(days[0].starts[0]), "2027-03-01T09:00:00.000Z");
        assert_eq!(iso(*days[0].starts.last().unwrap()), "2027-03-01T16:30:00.000Z");
        assert!(days[5].starts.is_empty() && days[6].starts.is_empty(), "closed at the weekend");
    }

    #[test]
    fn slots_follow_the_zone_across_daylight_saving_changes() {
        let a = open("America/New_York", "09:00", "11:00");
        // US clocks go forward on Sunday 2027-03-14: 09:00 is 14:00Z before, 13:00Z after.
        let days = a.free_slots(date(2027, 3, 13), 2, 60 * MINUTE_MS, new_year(), &[]);
        assert_eq!(shown(&days[0]), ["2027-03-13T14:00:00.000Z", "2027-03-13T15:00:00.000Z"]);
        assert_eq!(shown(&days[1]), ["2027-03-14T13:00:00.000Z", "2027-03-14T14:00:00.000Z"]);
    }

    #[test]
    fn a_stretch_across_the_change_is_as_long_as_the_clock_says() {
        // 00:00–04:00 in Amsterdam: on 2027-03-28 02:00 does not exist (3 real
        // hours), on 2027-10-31 02:00–03:00 happens twice (5 real hours).
        let a = open("Europe/Amsterdam", "00:00", "04:00");
        let spring = a.free_slots(date(2027, 3, 28), 1, 60 * MINUTE_MS, new_year(), &[]);
        assert_eq!(
            shown(&spring[0]),
            ["2027-03-27T23:00:00.000Z", "2027-03-28T00:00:00.000Z", "2027-03-28T01:00:00.000Z"]
        );
        let autumn = a.free_slots(date(2027, 10, 31), 1, 60 * MINUTE_MS, new_year(), &[]);
        assert_eq!(autumn[0].starts.len(), 5);
        assert_eq!(iso(autumn[0].starts[0]), "2027-10-30T22:00:00.000Z");
        assert_eq!(iso(autumn[0].starts[4]), "2027-10-31T02:00:00.000Z");
    }

    #[test]
    fn booked_times_and_their_buffer_are_not_offered() {
        let mut a = open("UTC", "09:00", "13:00");
        a.buffer_minutes = 15;
        let busy = [(ms("2027-03-01T10:00:00Z"), ms("2027-03-01T11:00:00Z"))];
        let days = a.free_slots(date(2027, 3, 1), 1, 60 * MINUTE_MS, new_year(), &busy);
        // 09:00 ends at 10:00, within 15 minutes of the booking; 11:00 starts right after it.
        assert_eq!(shown(&days[0]), ["2027-03-01T12:00:00.000Z"]);
        a.buffer_minutes = 0;
        let days = a.free_slots(date(2027, 3, 1), 1, 60 * MINUTE_MS, new_year(), &busy);
        assert_eq!(
            shown(&days[0]),
            ["2027-03-01T09:00:00.000Z", "2027-03-01T11:00:00.000Z", "2027-03-01T12:00:00.000Z"]
        );
    }

    #[test]
    fn notice_and_advance_bound_the_offered_starts() {
        let mut a = open("UTC", "09:00", "12:00");
        a.min_notice_minutes = 120;
        a.max_advance_days = 2;
        let now = ms("2027-03-01T08:30:00Z");
        let days = a.free_slots(date(2027, 3, 1), 3, 60 * MINUTE_MS, now, &[]);
        assert_eq!(shown(&days[0]), ["2027-03-01T11:00:00.000Z"], "10:30 is the earliest start");
        assert_eq!(
            shown(&days[1]),
            ["2027-03-02T09:00:00.000Z", "2027-03-02T10:00:00.000Z", "2027-03-02T11:00:00.000Z"]
        );
        assert!(days[2].starts.is_empty(), "more than two days ahead");
    }

    #[test]
    fn a_booking_is_checked_against_hours_notice_and_neighbours() {
        let mut a = open("Europe/Amsterdam", "09:00", "17:00");
        a.buffer_minutes = 10;
        a.min_notice_minutes = 60;
        let now = ms("2027-06-01T06:00:00Z");
        // 09:00 Amsterdam is 07:00Z in summer.
        assert_eq!(a.check_booking(ms("2027-06-01T07:00:00Z"), ms("2027-06-01T07:30:00Z"), now, &[]), Ok(()));
        let early = a.check_booking(ms("2027-06-01T06:30:00Z"), ms("2027-06-01T07:00:00Z"), now, &[]);
        assert!(matches!(early, Err(Refusal::Unbookable(m)) if m.contains("60 minutes")));
        let late = a.check_booking(ms("2027-06-01T14:45:00Z"), ms("2027-06-01T15:15:00Z"), now, &[]);
        assert!(matches!(late, Err(Refusal::Unbookable(m)) if m.contains("working hours")));
        let busy = [(ms("2027-06-01T08:00:00Z"), ms("2027-06-01T08:30:00Z"))];
        let taken = a.check_booking(ms("2027-06-01T08:15:00Z"), ms("2027-06-01T08:45:00Z"), now, &busy);
        assert!(matches!(taken, Err(Refusal::Taken(m)) if m.contains("holds")));
        let close = a.check_booking(ms("2027-06-01T08:35:00Z"), ms("2027-06-01T09:00:00Z"), now, &busy);
        assert!(matches!(close, Err(Refusal::Taken(m)) if m.contains("10 minutes")));
        assert_eq!(a.check_booking(ms("2027-06-01T08:40:00Z"), ms("2027-06-01T09:00:00Z"), now, &busy), Ok(()));
    }

    #[test]
    fn bad_settings_name_their_field() {
        let mut a = Availability { time_zone: "Nowhere/Else".into(), slot_minutes: 1, ..Availability::default() };
        a.working_hours.monday = vec![
            Hours { start: "13:00".into(), end: "17:00".into() },
            Hours { start: "09:00".into(), end: "12:00".into() },
        ];
        a.working_hours.tuesday = hours("9am", "5pm");
        a.working_hours.wednesday = hours("17:00", "09:00");
        a.working_hours.thursday = hours("00:00", "24:00");
        a.reminder_offsets_minutes = vec![60, 1];
        let errors = a.check().into_map();
        let fields: Vec<_> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "reminder_offsets_minutes",
                "slot_minutes",
                "time_zone",
                "working_hours.monday[1]",
                "working_hours.tuesday[0]",
                "working_hours.wednesday[0]"
            ]
        );
    }

    #[test]
    fn the_span_covers_every_day_and_the_buffer() {
        let a = Availability { time_zone: "Europe/Amsterdam".into(), ..Availability::default() };
        let (from, to) = a.span_of(date(2027, 6, 1), 2);
        assert_eq!(iso(from), "2027-05-31T21:45:00.000Z");
        assert_eq!(iso(to), "2027-06-02T22:15:00.000Z");
    }
}
