//! Appointments: the stored record, its public view, its statuses and the
//! rules for its fields. Availability (working hours, free slots) and the
//! iCalendar feed have their own modules.

pub mod availability;
pub mod calendar;
pub mod reminders;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::time::iso;

/// Where an appointment stands. `scheduled` and `confirmed` are *active*:
/// they hold their time, and two active appointments of a project never
/// overlap. The others are closed and free their time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Scheduled,
    Confirmed,
    Completed,
    Cancelled,
    NoShow,
    /// Replaced by another appointment (as VoxForge records it); moving an
    /// appointment through the API keeps its id and its status instead.
    Rescheduled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Scheduled,
        Status::Confirmed,
        Status::Completed,
        Status::Cancelled,
        Status::NoShow,
        Status::Rescheduled,
    ];

    /// The statuses that hold their time, as stored.
    pub const ACTIVE: [&'static str; 2] = ["scheduled", "confirmed"];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Confirmed => "confirmed",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::NoShow => "no_show",
            Status::Rescheduled => "rescheduled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }

    pub const fn is_active(self) -> bool {
        matches!(self, Status::Scheduled | Status::Confirmed)
    }
}

/// An appointment as stored: times in epoch milliseconds (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct AppointmentRecord {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    pub contact_id: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub title: String,
    pub notes: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub time_zone: String,
    pub status: Status,
    pub cancel_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An appointment as the API shows it and as `appointment.*` events carry it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Appointment {
    /// `appt_…`
    pub id: String,
    /// The agent it is with (`agent_…`), if any.
    pub agent_id: Option<String>,
    /// The call it was booked in (`call_…`), if any.
    pub call_id: Option<String>,
    /// The project's contact (`contact_…`), if it was booked for one.
    pub contact_id: Option<String>,
    pub contact_name: Option<String>,
    /// E.164.
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub title: String,
    pub notes: Option<String>,
    /// ISO-8601 UTC.
    pub start_time: String,
    /// ISO-8601 UTC; after `start_time`.
    pub end_time: String,
    /// `end_time - start_time`.
    pub duration_minutes: i64,
    /// The IANA time zone the appointment is shown in, e.g. `Europe/Amsterdam`.
    pub time_zone: String,
    pub status: Status,
    /// Why it was cancelled, when it was.
    pub cancel_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl AppointmentRecord {
    pub fn view(&self) -> Appointment {
        Appointment {
            id: self.id.clone(),
            agent_id: self.agent_id.clone(),
            call_id: self.call_id.clone(),
            contact_id: self.contact_id.clone(),
            contact_name: self.contact_name.clone(),
            contact_phone: self.contact_phone.clone(),
            contact_email: self.contact_email.clone(),
            title: self.title.clone(),
            notes: self.notes.clone(),
            start_time: iso(self.start_ms),
            end_time: iso(self.end_ms),
            duration_minutes: (self.end_ms - self.start_ms) / MINUTE_MS,
            time_zone: self.time_zone.clone(),
            status: self.status,
            cancel_reason: self.cancel_reason.clone(),
            created_at: iso(self.created_at),
            updated_at: iso(self.updated_at),
        }
    }
}

pub const MINUTE_MS: i64 = 60_000;
/// The longest appointment: one day.
pub const MAX_DURATION_MS: i64 = 24 * 60 * MINUTE_MS;

/// The IANA time zone of this name, or the message for a bad one.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    if name.is_empty() {
        return Err("Must be an IANA time zone, e.g. Europe/Amsterdam.".into());
    }
    TimeZone::get(name).map_err(|_| format!("Unknown time zone `{name}`: use an IANA name, e.g. Europe/Amsterdam."))
}

/// A start and end in epoch milliseconds: the end after the start, at most a
/// day apart. Returns the message for the `end_time` field.
pub fn check_times(start_ms: i64, end_ms: i64) -> Result<(), String> {
    if end_ms <= start_ms {
        Err("Must be after start_time.".into())
    } else if end_ms - start_ms > MAX_DURATION_MS {
        Err("An appointment lasts at most 24 hours.".into())
    } else {
        Ok(())
    }
}

/// Whether `[a_start, a_end)` and `[b_start, b_end)` share any instant.
pub const fn overlaps(a_start: i64, a_end: i64, b_start: i64, b_end: i64) -> bool {
    a_start < b_end && b_start < a_end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_two_hold_time() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(status.is_active(), Status::ACTIVE.contains(&status.as_str()));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(Status::parse("canceled"), None);
    }

    #[test]
    fn times_and_zones_are_checked() {
        assert!(check_times(0, MINUTE_MS).is_ok());
        assert!(check_times(MINUTE_MS, MINUTE_MS).is_err());
        assert!(check_times(MINUTE_MS, 0).is_err());
        assert!(check_times(0, MAX_DURATION_MS + 1).is_err());
        assert!(time_zone("Europe/Amsterdam").is_ok());
        assert!(time_zone("Mars/Olympus").unwrap_err().contains("Mars/Olympus"));
        assert!(time_zone("").is_err());
    }

    #[test]
    fn touching_intervals_do_not_overlap() {
        assert!(!overlaps(0, 10, 10, 20));
        assert!(overlaps(0, 11, 10, 20));
        assert!(overlaps(5, 6, 0, 20));
    }
}
