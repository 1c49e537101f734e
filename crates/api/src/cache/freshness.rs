//! Which cached copies may still be used: every load takes a ticket before it
//! reads the database, and every invalidation raises a floor that older tickets
//! fall below, so a load racing a change can never bring the old value back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;

/// Taken before a load reads the database; a copy is good while its ticket is
/// at or above every floor that covers it, and younger than the TTL.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    seq: u64,
    /// Taken before the read, so a copy never outlives the floors that reject it.
    pub at: Instant,
}

/// What an invalidation covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every cached key (revocations are rare; one floor is enough).
    Keys,
    /// One org's row.
    Org(String),
    /// Every cached agent of one org.
    Agents(String),
    /// Everything (a node that may have missed notices).
    All,
}

#[derive(Default)]
pub struct Freshness {
    counter: AtomicU64,
    all: AtomicU64,
    keys: AtomicU64,
    orgs: Floors,
    agents: Floors,
}

/// Per-org floors, with when each was raised so old ones can be forgotten.
#[derive(Default)]
struct Floors(DashMap<String, (u64, Instant)>);

impl Floors {
    fn raise(&self, org_id: &str, to: u64) {
        let now = Instant::now();
        self.0.entry(org_id.to_owned()).and_modify(|f| *f = (f.0.max(to), now)).or_insert((to, now));
    }

    fn admits(&self, org_id: &str, ticket: Ticket) -> bool {
        self.0.get(org_id).is_none_or(|floor| ticket.seq >= floor.0)
    }
}

impl Freshness {
    /// A ticket for a load about to read the database.
    pub fn ticket(&self) -> Ticket {
        Ticket { seq: self.counter.load(Ordering::SeqCst), at: Instant::now() }
    }

    /// Called after the change committed: copies loaded before now are stale.
    pub fn invalidate(&self, scope: &Scope) {
        let floor = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        match scope {
            Scope::Keys => drop(self.keys.fetch_max(floor, Ordering::SeqCst)),
            Scope::Org(id) => self.orgs.raise(id, floor),
            Scope::Agents(id) => self.agents.raise(id, floor),
            Scope::All => drop(self.all.fetch_max(floor, Ordering::SeqCst)),
        }
    }

    fn above_all(&self, ticket: Ticket) -> bool {
        ticket.seq >= self.all.load(Ordering::SeqCst)
    }

    pub fn key_ok(&self, ticket: Ticket) -> bool {
        self.above_all(ticket) && ticket.seq >= self.keys.load(Ordering::SeqCst)
    }

    pub fn org_ok(&self, org_id: &str, ticket: Ticket) -> bool {
        self.above_all(ticket) && self.orgs.admits(org_id, ticket)
    }

    pub fn agent_ok(&self, org_id: &str, ticket: Ticket) -> bool {
        self.above_all(ticket) && self.agents.admits(org_id, ticket)
    }

    /// Forgets per-org floors older than `ttl`: every copy they could reject
    /// has expired by then.
    pub fn forget_older_than(&self, ttl: Duration) {
        for floors in [&self.orgs, &self.agents] {
            floors.0.retain(|_, (_, raised)| raised.elapsed() < ttl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_that_started_before_an_invalidation_is_stale() {
        let fresh = Freshness::default();
        let before = fresh.ticket();
        fresh.invalidate(&Scope::Org("org_a".into()));
        let after = fresh.ticket();
        assert!(!fresh.org_ok("org_a", before));
        assert!(fresh.org_ok("org_a", after));
        assert!(fresh.org_ok("org_b", before), "other orgs keep their copies");
        assert!(fresh.agent_ok("org_a", before), "an org row change leaves its agents alone");
        assert!(fresh.key_ok(before));
    }

    #[test]
    fn scopes_reach_what_they_cover() {
        let fresh = Freshness::default();
        let before = fresh.ticket();
        fresh.invalidate(&Scope::Agents("org_a".into()));
        assert!(!fresh.agent_ok("org_a", before));
        assert!(fresh.org_ok("org_a", before));
        fresh.invalidate(&Scope::Keys);
        assert!(!fresh.key_ok(before));
        assert!(fresh.org_ok("org_a", before));
        fresh.invalidate(&Scope::All);
        assert!(!fresh.org_ok("org_b", before));
        assert!(fresh.key_ok(fresh.ticket()) && fresh.org_ok("org_b", fresh.ticket()));
    }

    #[test]
    fn a_late_lower_floor_never_lowers_a_higher_one() {
        let fresh = Freshness::default();
        let at = Instant::now();
        fresh.orgs.raise("org_a", 5);
        fresh.orgs.raise("org_a", 3);
        assert!(!fresh.org_ok("org_a", Ticket { seq: 4, at }));
        assert!(fresh.org_ok("org_a", Ticket { seq: 5, at }));
    }

    #[test]
    fn old_floors_are_forgotten() {
        let fresh = Freshness::default();
        fresh.invalidate(&Scope::Org("org_a".into()));
        fresh.forget_older_than(Duration::from_secs(60));
        assert_eq!(fresh.orgs.0.len(), 1);
        fresh.forget_older_than(Duration::ZERO);
        assert!(fresh.orgs.0.is_empty());
    }
}
