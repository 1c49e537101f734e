//! The iCalendar feed of a project's appointments (RFC 5545): one VEVENT per
//! appointment with times in UTC, text escaped and lines folded at 75
//! octets with CRLF endings, so calendar apps can subscribe to it.

use jiff::Timestamp;
use rand::RngCore;

use super::{AppointmentRecord, Status};

/// A fresh secret for a feed's address: `cal_` + 64 random hex digits. Only
/// its hash (`keys::hash`) is stored.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("cal_{}", hex::encode(bytes))
}

/// Whether `s` has the shape of a feed token (so others are refused unread).
pub fn is_token(s: &str) -> bool {
    s.strip_prefix("cal_").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The product that wrote the feed (`PRODID`).
const PRODID: &str = "PRODID:-//Switchboard//Appointments//EN";
/// The longest line, in octets, before it is folded.
const MAX_LINE: usize = 75;

/// `20270301T090000Z`.
fn utc(ms: i64) -> String {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH).strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines
/// escaped.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.replace("\r\n", "\n").chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' | '\r' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded (§3.1): no line longer than 75 octets, a
/// continuation starting with one space, never splitting a character.
fn line(out: &mut String, content: &str) {
    let mut room = MAX_LINE;
    let mut used = 0;
    for c in content.chars() {
        if used + c.len_utf8() > room {
            out.push_str("\r\n ");
            used = 1;
            room = MAX_LINE;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Cancelled | Status::Rescheduled => "CANCELLED",
        Status::Scheduled | Status::Confirmed | Status::Completed | Status::NoShow => "CONFIRMED",
    }
}

/// The description of an event: the contact, then the notes.
fn description(appointment: &AppointmentRecord) -> String {
    let contact: Vec<&str> = [&appointment.contact_name, &appointment.contact_phone, &appointment.contact_email]
        .into_iter()
        .filter_map(|v| v.as_deref())
        .collect();
    let mut parts = Vec::new();
    if !contact.is_empty() {
        parts.push(format!("Contact: {}", contact.join(", ")));
    }
    if let Some(notes) = appointment.notes.as_deref().filter(|n| !n.is_empty()) {
        parts.push(notes.to_owned());
    }
    parts.join("\n")
}

/// The feed: a calendar named `name` holding `appointments`, stamped `now_ms`.
/// `uid_domain` makes the event UIDs globally unique (`appt_…@domain`).
pub fn feed(name: &str, uid_domain: &str, appointments: &[AppointmentRecord], now_ms: i64) -> String {
    let mut out = String::new();
    for content in ["BEGIN:VCALENDAR", "VERSION:2.0", PRODID, "CALSCALE:GREGORIAN", "METHOD:PUBLISH"] {
        line(&mut out, content);
    }
    line(&mut out, &format!("X-WR-CALNAME:{}", text(name)));
    let stamp = utc(now_ms);
    for a in appointments {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}@{}", a.id, uid_domain));
        line(&mut out, &format!("DTSTAMP:{stamp}"));
        line(&mut out, &format!("DTSTART:{}", utc(a.start_ms)));
        line(&mut out, &format!("DTEND:{}", utc(a.end_ms)));
        line(&mut out, &format!("CREATED:{}", utc(a.created_at)));
        line(&mut out, &format!("LAST-MODIFIED:{}", utc(a.updated_at)));
        line(&mut out, &format!("SUMMARY:{}", text(&a.title)));
        let description = description(a);
        if !description.is_empty() {
            line(&mut out, &format!("DESCRIPTION:{}", text(&description)));
        }
        line(&mut out, &format!("STATUS:{}", status(a.status)));
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_iso;

    fn appointment(title: &str, notes: Option<&str>, status: Status) -> AppointmentRecord {
        AppointmentRecord {
            id: "appt_01".into(),
            org_id: "org_1".into(),
            project_id: "proj_1".into(),
            agent_id: None,
            call_id: None,
            contact_id: None,
            contact_name: Some("Ana Silva".into()),
            contact_phone: Some("+31612345678".into()),
            contact_email: None,
            title: title.into(),
            notes: notes.map(str::to_owned),
            start_ms: parse_iso("2027-03-01T09:00:00Z").unwrap(),
            end_ms: parse_iso("2027-03-01T09:30:00Z").unwrap(),
            time_zone: "Europe/Amsterdam".into(),
            status,
            cancel_reason: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn events_carry_utc_times_escaped_text_and_status() {
        let notes = "Bring: ID, papers; and\\or\nthe form";
        let ics = feed("Clinic; main", "example.com", &[appointment("Check-up", Some(notes), Status::Cancelled)], 0);
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(!ics.replace("\r\n", "").contains('\n'), "every line ends in CRLF");
        for expected in [
            "X-WR-CALNAME:Clinic\\; main",
            "UID:appt_01@example.com",
            "DTSTAMP:19700101T000000Z",
            "DTSTART:20270301T090000Z",
            "DTEND:20270301T093000Z",
            "SUMMARY:Check-up",
            "DESCRIPTION:Contact: Ana Silva\\, +31612345678\\nBring: ID\\, papers\\; and\\\\or\\nthe form",
            "STATUS:CANCELLED",
        ] {
            let unfolded = ics.replace("\r\n ", "");
            assert!(unfolded.contains(&format!("{expected}\r\n")), "missing {expected} in {ics}");
        }
        let scheduled = feed("c", "h", &[appointment("x", None, Status::Scheduled)], 0);
        assert!(scheduled.contains("STATUS:CONFIRMED\r\n") && !scheduled.contains("DESCRIPTION:Contact: Ana Silva\\n"));
    }

    #[test]
    fn tokens_are_random_and_recognisable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(is_token(&a) && is_token(&b));
        assert!(!is_token("cal_123") && !is_token(&a.replace("cal_", "key_")));
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let title = "Ünïcödé ".repeat(30);
        let ics = feed("c", "h", &[appointment(&title, None, Status::Scheduled)], 0);
        assert!(ics.split("\r\n").all(|l| l.len() <= 75), "{ics}");
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{title}\r\n")));
    }
}
