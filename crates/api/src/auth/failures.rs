//! Failed-authentication counting, per client address and per key head, so
//! that guessing keys stays expensive without locking valid keys out.
//!
//! - **Per address**: after `limit` failures in the window, further *invalid*
//!   keys from the address answer 429 until the oldest failure ages out. A
//!   valid key is always looked up first and let through, so one bad client
//!   behind a shared address (NAT, proxy) cannot lock out its neighbours.
//! - **Per key head** (the kind prefix and the first 8 hex of the key): after
//!   `limit` failures in the window, every key with that head is refused
//!   without a lookup, from any address. Guesses at one key whose start is
//!   known all share its head, so spreading them over many addresses does not
//!   help; an unrelated key shares a head with odds of one in four billion.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use switchboard_domain::keys::KeyKind;

/// Key heads tracked at once. Past this, heads not yet tracked are not
/// counted (until [`AuthFailures::forget_idle`] frees room), so a flood of
/// random keys cannot grow memory without bound.
const MAX_TRACKED_HEADS: usize = 100_000;

/// Hex characters of a key, after its kind prefix, that make its head.
const HEAD_HEX: usize = 8;

pub struct AuthFailures {
    limit: usize,
    window: Duration,
    by_ip: DashMap<IpAddr, VecDeque<Instant>>,
    by_head: DashMap<String, Window>,
}

/// The failures of one key head in a fixed window.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    count: usize,
}

/// The head of a well-formed key: its kind prefix and first hex characters.
pub fn key_head(raw: &str, kind: KeyKind) -> &str {
    raw.get(..kind.prefix().len() + HEAD_HEX).unwrap_or(raw)
}

impl AuthFailures {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit: limit as usize, window, by_ip: DashMap::new(), by_head: DashMap::new() }
    }

    /// Seconds until invalid keys from the IP are answered 401 again, when
    /// it is locked out.
    pub fn locked_for(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut entry = self.by_ip.get_mut(&ip)?;
        Self::prune(&mut entry, now, self.window);
        if entry.len() < self.limit {
            return None;
        }
        let oldest = *entry.front()?;
        Some(self.seconds_until(oldest, now))
    }

    /// Seconds until keys with this head are looked up again, when too many
    /// of them failed.
    pub fn head_locked_for(&self, head: &str) -> Option<u64> {
        let now = Instant::now();
        let window = *self.by_head.get(head)?;
        (self.limit > 0 && window.count >= self.limit && now.duration_since(window.started) < self.window)
            .then(|| self.seconds_until(window.started, now))
    }

    /// Counts one failed attempt from `ip` with a key of this head.
    pub fn record(&self, ip: IpAddr, head: &str) {
        let now = Instant::now();
        {
            let mut entry = self.by_ip.entry(ip).or_default();
            Self::prune(&mut entry, now, self.window);
            if entry.len() < self.limit {
                entry.push_back(now);
            }
        }
        if let Some(mut window) = self.by_head.get_mut(head) {
            if now.duration_since(window.started) >= self.window {
                *window = Window { started: now, count: 0 };
            }
            window.count = (window.count + 1).min(self.limit);
        } else if self.by_head.len() < MAX_TRACKED_HEADS {
            self.by_head.insert(head.to_owned(), Window { started: now, count: 1 });
        }
    }

    /// Forgets addresses and key heads with no recent failure.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        self.by_ip.retain(|_, failures| {
            Self::prune(failures, now, self.window);
            !failures.is_empty()
        });
        self.by_head.retain(|_, window| now.duration_since(window.started) < self.window);
    }

    fn seconds_until(&self, since: Instant, now: Instant) -> u64 {
        (since + self.window).saturating_duration_since(now).as_secs().max(1)
    }

    fn prune(failures: &mut VecDeque<Instant>, now: Instant, window: Duration) {
        while failures.front().is_some_and(|t| now.duration_since(*t) >= window) {
            failures.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "sb_live_0123abcd";

    #[test]
    fn locks_out_after_the_limit() {
        let failures = AuthFailures::new(3, Duration::from_secs(900));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for i in 0..2 {
            failures.record(ip, &format!("sb_live_0000000{i}"));
            assert_eq!(failures.locked_for(ip), None);
        }
        failures.record(ip, "sb_live_00000002");
        assert!(failures.locked_for(ip).is_some_and(|s| s > 890));
        assert_eq!(failures.locked_for(other), None);
        assert_eq!(failures.head_locked_for("sb_live_00000000"), None, "three heads, one failure each");
    }

    #[test]
    fn a_key_head_locks_out_across_addresses() {
        let failures = AuthFailures::new(3, Duration::from_secs(900));
        for i in 0..3u8 {
            assert_eq!(failures.head_locked_for(HEAD), None);
            failures.record(IpAddr::from([10, 0, 0, i]), HEAD);
        }
        assert!(failures.head_locked_for(HEAD).is_some_and(|s| s > 890));
        assert_eq!(failures.head_locked_for("sb_live_0123abce"), None);
        assert_eq!(failures.locked_for(IpAddr::from([10, 0, 0, 0])), None);
    }

    #[test]
    fn heads_are_the_prefix_and_eight_hex() {
        let key = switchboard_domain::keys::generate(KeyKind::Org).raw;
        assert_eq!(key_head(&key, KeyKind::Org), &key[..15]);
        assert_eq!(key_head("sb_live_0123abcdef", KeyKind::Project), HEAD);
    }

    #[test]
    fn failures_age_out() {
        let failures = AuthFailures::new(1, Duration::from_millis(1));
        let ip: IpAddr = [10, 0, 0, 1].into();
        failures.record(ip, HEAD);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(failures.locked_for(ip), None);
        assert_eq!(failures.head_locked_for(HEAD), None);
        failures.forget_idle();
        assert!(failures.by_ip.is_empty());
        assert!(failures.by_head.is_empty());
    }
}
