//! A bounded map of cached copies, each kept with the ticket of the load that
//! made it: a copy is served only while younger than the TTL and while the
//! caller's freshness check admits its ticket.

use std::time::Duration;

use dashmap::DashMap;

use super::freshness::Ticket;

pub struct Entries<V> {
    ttl: Duration,
    capacity: usize,
    map: DashMap<String, (V, Ticket)>,
}

impl<V: Clone> Entries<V> {
    /// A zero `ttl` caches nothing.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self { ttl, capacity, map: DashMap::new() }
    }

    /// The copy under `key`, if it is young enough and `admits` accepts it.
    pub fn get(&self, key: &str, admits: impl FnOnce(&V, Ticket) -> bool) -> Option<V> {
        let entry = self.map.get(key)?;
        let (value, ticket) = entry.value();
        (ticket.at.elapsed() < self.ttl && admits(value, *ticket)).then(|| value.clone())
    }

    /// Keeps a copy loaded under `ticket`. When full, expired copies go first;
    /// if it is still full, the new copy is not kept.
    pub fn insert(&self, key: &str, value: V, ticket: Ticket) {
        if self.ttl.is_zero() {
            return;
        }
        if self.map.len() >= self.capacity && !self.map.contains_key(key) {
            self.sweep();
            if self.map.len() >= self.capacity {
                return;
            }
        }
        self.map.insert(key.to_owned(), (value, ticket));
    }

    /// Drops expired copies.
    pub fn sweep(&self) {
        self.map.retain(|_, (_, ticket)| ticket.at.elapsed() < self.ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::freshness::{Freshness, Scope};

    #[test]
    fn serves_copies_the_check_admits_until_the_ttl() {
        let fresh = Freshness::default();
        let entries = Entries::new(Duration::from_secs(60), 10);
        entries.insert("a", 1, fresh.ticket());
        assert_eq!(entries.get("a", |_, t| fresh.key_ok(t)), Some(1));
        assert_eq!(entries.get("b", |_, _| true), None);
        fresh.invalidate(&Scope::Keys);
        assert_eq!(entries.get("a", |_, t| fresh.key_ok(t)), None);
        entries.insert("a", 2, fresh.ticket());
        assert_eq!(entries.get("a", |_, t| fresh.key_ok(t)), Some(2));
    }

    #[test]
    fn expired_copies_are_not_served_and_are_swept() {
        let fresh = Freshness::default();
        let entries = Entries::new(Duration::from_millis(1), 10);
        entries.insert("a", 1, fresh.ticket());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(entries.get("a", |_, _| true), None);
        entries.sweep();
        assert!(entries.map.is_empty());
    }

    #[test]
    fn a_zero_ttl_keeps_nothing_and_a_full_map_takes_nothing_new() {
        let fresh = Freshness::default();
        let off = Entries::new(Duration::ZERO, 10);
        off.insert("a", 1, fresh.ticket());
        assert!(off.map.is_empty());
        let full = Entries::new(Duration::from_secs(60), 2);
        for key in ["a", "b", "c"] {
            full.insert(key, 1, fresh.ticket());
        }
        assert_eq!(full.get("c", |_, _| true), None);
        full.insert("a", 5, fresh.ticket());
        assert_eq!(full.get("a", |_, _| true), Some(5), "a kept key can still be refreshed");
    }
}
