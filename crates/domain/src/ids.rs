//! Public identifiers: `<prefix>_<ulid>` — time-sortable, unguessable, URL-safe.
//!
//! The suffix is a lowercase ULID (48-bit millisecond time + 80 random bits), so ids
//! sort by creation time as plain strings and serve directly as list cursors.
//! Within one process ids are strictly increasing even inside one millisecond
//! (a monotonic generator), so "newest first" never reorders rapid writes.

use std::sync::Mutex;

use ulid::{Generator, Ulid};

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

/// The next ULID of this process, greater than every one before it.
fn next_ulid() -> Ulid {
    let mut guard = GENERATOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let generator = guard.get_or_insert_with(Generator::new);
    // Overflow needs 2^80 ids in one millisecond; a fresh random one is then fine.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// The kinds of object that carry a public id, each with its prefix (DESIGN §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Org,
    Project,
    Key,
    Agent,
    AuditEntry,
    Call,
    KnowledgeBase,
    KnowledgeBaseEntry,
    PhoneNumber,
    Address,
    Webhook,
    WebhookEvent,
    /// One event's delivery job to one endpoint (internal; shown in delivery logs).
    WebhookDelivery,
    Sms,
    Message,
    Contact,
    Campaign,
    Appointment,
    TestSession,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Org => "org",
            IdKind::Project => "proj",
            IdKind::Key => "key",
            IdKind::Agent => "agent",
            IdKind::AuditEntry => "aud",
            IdKind::Call => "call",
            IdKind::KnowledgeBase => "kb",
            IdKind::KnowledgeBaseEntry => "kbe",
            IdKind::PhoneNumber => "pn",
            IdKind::Address => "addr",
            IdKind::Webhook => "wh",
            IdKind::WebhookEvent => "whe",
            IdKind::WebhookDelivery => "whd",
            IdKind::Sms => "sms",
            IdKind::Message => "msg",
            IdKind::Contact => "contact",
            IdKind::Campaign => "camp",
            IdKind::Appointment => "appt",
            IdKind::TestSession => "test",
        }
    }

    /// A fresh id of this kind.
    pub fn new_id(self) -> String {
        format!("{}_{}", self.prefix(), next_ulid().to_string().to_ascii_lowercase())
    }

    /// Whether `s` has the shape of an id of this kind (prefix and a ULID suffix).
    pub fn matches(self, s: &str) -> bool {
        s.strip_prefix(self.prefix())
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|suffix| suffix.len() == 26 && Ulid::from_string(suffix).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_prefix_and_sort_by_time() {
        let a = IdKind::Agent.new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = IdKind::Agent.new_id();
        assert!(a.starts_with("agent_"));
        assert_eq!(a.len(), "agent_".len() + 26);
        assert!(a < b, "{a} should sort before {b}");
        assert_eq!(a, a.to_ascii_lowercase());
    }

    #[test]
    fn ids_within_one_millisecond_still_increase() {
        let ids: Vec<String> = (0..1000).map(|_| IdKind::Call.new_id()).collect();
        let bad: Vec<_> = ids.windows(2).filter(|w| w[0] >= w[1]).collect();
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn matches_checks_prefix_and_suffix() {
        let id = IdKind::Project.new_id();
        assert!(IdKind::Project.matches(&id));
        assert!(!IdKind::Agent.matches(&id));
        assert!(!IdKind::Project.matches("proj_123"));
        assert!(!IdKind::Project.matches("proj"));
    }
}
