//! Failed-authentication counting per client IP: after too many failures in the
//! window, the IP is locked out until the oldest failure ages out.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

pub struct AuthFailures {
    limit: usize,
    window: Duration,
    by_ip: DashMap<IpAddr, VecDeque<Instant>>,
}

impl AuthFailures {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit: limit as usize, window, by_ip: DashMap::new() }
    }

    /// Seconds until the IP may try again, when it is locked out.
    pub fn locked_for(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let mut entry = self.by_ip.get_mut(&ip)?;
        Self::prune(&mut entry, now, self.window);
        if entry.len() < self.limit {
            return None;
        }
        let oldest = *entry.front()?;
        let free_at = oldest + self.window;
        Some(free_at.saturating_duration_since(now).as_secs().max(1))
    }

    /// Counts one failed attempt.
    pub fn record(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut entry = self.by_ip.entry(ip).or_default();
        Self::prune(&mut entry, now, self.window);
        if entry.len() < self.limit {
            entry.push_back(now);
        }
    }

    /// Forgets IPs with no recent failure.
    pub fn forget_idle(&self) {
        let now = Instant::now();
        self.by_ip.retain(|_, failures| {
            Self::prune(failures, now, self.window);
            !failures.is_empty()
        });
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

    #[test]
    fn locks_out_after_the_limit() {
        let failures = AuthFailures::new(3, Duration::from_secs(900));
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..2 {
            failures.record(ip);
            assert_eq!(failures.locked_for(ip), None);
        }
        failures.record(ip);
        assert!(failures.locked_for(ip).is_some_and(|s| s > 890));
        assert_eq!(failures.locked_for(other), None);
    }

    #[test]
    fn failures_age_out() {
        let failures = AuthFailures::new(1, Duration::from_millis(1));
        let ip: IpAddr = [10, 0, 0, 1].into();
        failures.record(ip);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(failures.locked_for(ip), None);
        failures.forget_idle();
        assert!(failures.by_ip.is_empty());
    }
}
