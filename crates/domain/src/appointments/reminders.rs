//! SMS reminders before an appointment: which of the configured offsets are
//! due, and the text (one SMS, at most 160 characters).

use jiff::Timestamp;

use super::{AppointmentRecord, MINUTE_MS, time_zone};
use crate::sms::MAX_MESSAGE_CHARS;

/// The offsets (minutes before the start) whose moment has come, for an
/// appointment that has not started yet. Several can be due at once (a
/// booking made late): one SMS covers them all.
pub fn due_offsets(start_ms: i64, offsets: &[i64], now_ms: i64) -> Vec<i64> {
    if now_ms >= start_ms {
        return Vec::new();
    }
    offsets.iter().copied().filter(|&minutes| start_ms - minutes * MINUTE_MS <= now_ms).collect()
}

/// `Reminder: Check-up on Mon 1 Mar at 10:00 (Europe/Amsterdam).`, the
/// title shortened to fit one SMS.
pub fn text(appointment: &AppointmentRecord) -> String {
    let tz = time_zone(&appointment.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let when = Timestamp::from_millisecond(appointment.start_ms)
        .map(|t| t.to_zoned(tz).strftime("%a %-d %b at %H:%M").to_string())
        .unwrap_or_default();
    let tail = format!(" on {when} ({}).", appointment.time_zone);
    let head = "Reminder: ";
    let room = MAX_MESSAGE_CHARS.saturating_sub(head.chars().count() + tail.chars().count());
    let title: String = if appointment.title.chars().count() > room {
        // Plain dots keep the message in the GSM alphabet (one 160-character SMS).
        let mut cut: String = appointment.title.chars().take(room.saturating_sub(3)).collect();
        cut.push_str("...");
        cut
    } else {
        appointment.title.clone()
    };
    format!("{head}{title}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::appointments::Status;
    use crate::time::parse_iso;

    fn at(s: &str) -> i64 {
        parse_iso(s).unwrap()
    }

    #[test]
    fn offsets_are_due_from_their_moment_until_the_start() {
        let start = at("2027-03-01T10:00:00Z");
        let offsets = [1440, 60];
        assert!(due_offsets(start, &offsets, at("2027-02-28T09:59:00Z")).is_empty());
        assert_eq!(due_offsets(start, &offsets, at("2027-02-28T10:00:00Z")), [1440]);
        assert_eq!(due_offsets(start, &offsets, at("2027-03-01T09:30:00Z")), [1440, 60]);
        assert!(due_offsets(start, &offsets, start).is_empty(), "too late once it started");
    }

    #[test]
    fn the_text_is_local_and_fits_one_sms() {
        let mut a = AppointmentRecord {
            id: "appt_1".into(),
            org_id: "org_1".into(),
            project_id: "proj_1".into(),
            agent_id: None,
            call_id: None,
            contact_id: None,
            contact_name: None,
            contact_phone: Some("+31612345678".into()),
            contact_email: None,
            title: "Check-up".into(),
            notes: None,
            start_ms: at("2027-03-01T09:00:00Z"),
            end_ms: at("2027-03-01T09:30:00Z"),
            time_zone: "Europe/Amsterdam".into(),
            status: Status::Scheduled,
            cancel_reason: None,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(text(&a), "Reminder: Check-up on Mon 1 Mar at 10:00 (Europe/Amsterdam).");
        a.title = "x".repeat(300);
        let long = text(&a);
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS);
        assert!(long.contains("x... on Mon 1 Mar"));
    }
}
