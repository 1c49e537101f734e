//! Per-org, per-minute request limits by tier, counted with GCRA: in process on
//! a single node, or shared by every server process through a script in Redis.
//! Both run the one rule below ([`gcra`]); the Redis script only makes its
//! read-and-update atomic. Sticky Calls' memory routes may run 10% past the
//! limit before they are refused ([`Allowance::Grace`]), which is why the
//! tolerance is chosen per request rather than fixed per limiter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use switchboard_domain::tier::Tier;

/// How far past its org's limit a request may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// Refused once the tier's requests per minute are used.
    Standard,
    /// Refused only 10% past the limit (Sticky Calls: "requests 101–110 succeed").
    Grace,
}

impl Allowance {
    /// Requests that may be outstanding at once under a limit of `limit` a minute.
    const fn ceiling(self, limit: u32) -> u32 {
        match self {
            Allowance::Standard => limit,
            Allowance::Grace => limit + limit / 10,
        }
    }
}

/// The outcome of counting one request against its org's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The tier's limit per minute (without any grace).
    pub limit: u32,
    /// Requests left under the limit (0 in the grace band).
    pub remaining: u32,
    /// Requests counted in the last minute, this one included.
    pub used: u32,
    /// Milliseconds until the full allowance is available again.
    pub reset_after_ms: u64,
    /// Seconds until the next request would be allowed (0 when allowed).
    pub retry_after: u64,
}

impl Decision {
    /// Seconds until the full allowance is back, rounded up.
    pub fn reset_after(&self) -> u64 {
        self.reset_after_ms.div_ceil(1000)
    }
}

/// One GCRA step for a request at `now_ms` against the stored theoretical
/// arrival time `tat_ms`: the decision and, when allowed, the new `tat_ms`.
fn gcra(tat_ms: u64, now_ms: u64, limit: u32, allowance: Allowance) -> (Decision, Option<u64>) {
    let limit = limit.max(1);
    let interval = 60_000 / u64::from(limit);
    let tat = tat_ms.max(now_ms);
    let new_tat = tat + interval;
    let backlog = new_tat - now_ms;
    let tolerance = interval * u64::from(allowance.ceiling(limit));
    let allowed = backlog <= tolerance;
    let used = u32::try_from(backlog.div_ceil(interval)).unwrap_or(u32::MAX);
    let decision = Decision {
        allowed,
        limit,
        remaining: limit.saturating_sub(used),
        used,
        reset_after_ms: if allowed { backlog } else { tat - now_ms },
        retry_after: if allowed { 0 } else { (backlog - tolerance).div_ceil(1000).max(1) },
    };
    (decision, allowed.then_some(new_tat))
}

/// Counts requests per org. Unlimited tiers are never counted.
pub enum RateLimiter {
    Local(LocalLimits),
    Redis(RedisLimits),
}

/// Each org's theoretical arrival time, in ms since the limiter started.
pub struct LocalLimits {
    tats: DashMap<String, AtomicU64>,
    started: Instant,
}

pub struct RedisLimits {
    conn: redis::aio::ConnectionManager,
    script: redis::Script,
}

/// The atomic half of [`gcra`] in Redis, on the server's clock so every process
/// agrees on time: stores the new arrival time when the request fits under
/// `ceiling` and returns {stored arrival time, now}, in ms.
const GCRA_LUA: &str = r"
local interval = tonumber(ARGV[1])
local ceiling = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local tolerance = interval * ceiling
if tat + interval - now <= tolerance then
  redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(tolerance))
end
return {tat, now}
";

impl RateLimiter {
    pub fn local() -> Self {
        RateLimiter::Local(LocalLimits { tats: DashMap::new(), started: Instant::now() })
    }

    /// Connects to Redis; the limit is then shared by every process using it.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let conn = redis::aio::ConnectionManager::new(client).await?;
        Ok(RateLimiter::Redis(RedisLimits { conn, script: redis::Script::new(GCRA_LUA) }))
    }

    /// Counts one request of `org_id`; `None` for tiers without a limit.
    pub async fn check(&self, org_id: &str, tier: Tier, allowance: Allowance) -> Option<Decision> {
        let limit = tier.requests_per_minute()?;
        Some(match self {
            RateLimiter::Local(local) => local.check(org_id, limit, allowance),
            RateLimiter::Redis(redis) => redis.check(org_id, limit, allowance).await,
        })
    }

    /// Drops state of orgs that are back at full allowance, so memory does not
    /// grow with every org ever seen.
    pub fn forget_idle(&self) {
        if let RateLimiter::Local(local) = self {
            let now = local.now_ms();
            local.tats.retain(|_, tat| tat.load(Ordering::Relaxed) > now);
        }
    }
}

impl LocalLimits {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn check(&self, org_id: &str, limit: u32, allowance: Allowance) -> Decision {
        let now = self.now_ms();
        // The entry's shard lock makes the read-and-update atomic per org.
        let entry = self.tats.entry(org_id.to_owned()).or_insert_with(|| AtomicU64::new(0));
        let (decision, new_tat) = gcra(entry.load(Ordering::Relaxed), now, limit, allowance);
        if let Some(tat) = new_tat {
            entry.store(tat, Ordering::Relaxed);
        }
        decision
    }
}

impl RedisLimits {
    async fn check(&self, org_id: &str, limit: u32, allowance: Allowance) -> Decision {
        let interval_ms = 60_000 / u64::from(limit.max(1));
        let mut conn = self.conn.clone();
        let result: Result<(u64, u64), _> = self
            .script
            .key(format!("switchboard:ratelimit:{org_id}"))
            .arg(interval_ms)
            .arg(allowance.ceiling(limit.max(1)))
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok((tat, now)) => gcra(tat, now, limit, allowance).0,
            Err(err) => {
                // Fail open: a Redis outage must not take the API down with it.
                tracing::warn!(error = %err, "rate limit check failed; allowing the request");
                Decision { allowed: true, limit, remaining: limit, used: 0, reset_after_ms: 0, retry_after: 0 }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `n` requests at `now` through the pure rule; the last decision.
    fn burst(tat: &mut u64, now: u64, n: u32, limit: u32, allowance: Allowance) -> Decision {
        let mut last = None;
        for _ in 0..n {
            let (decision, new_tat) = gcra(*tat, now, limit, allowance);
            *tat = new_tat.unwrap_or(*tat);
            last = Some(decision);
        }
        last.unwrap_or_else(|| panic!("no request sent"))
    }

    #[test]
    fn a_minutes_allowance_passes_at_once_and_the_next_request_waits() {
        let mut tat = 0;
        let last = burst(&mut tat, 1_000, 100, 100, Allowance::Standard);
        assert!(last.allowed);
        assert_eq!((last.remaining, last.used), (0, 100));
        assert_eq!(last.reset_after(), 60);
        let refused = burst(&mut tat, 1_000, 1, 100, Allowance::Standard);
        assert!(!refused.allowed);
        assert_eq!((refused.used, refused.retry_after), (101, 1));
        // One interval (600 ms) later one more fits.
        assert!(burst(&mut tat, 1_600, 1, 100, Allowance::Standard).allowed);
    }

    #[test]
    fn the_grace_band_lets_ten_percent_more_through_then_blocks_hard() {
        let mut tat = 0;
        let at_limit = burst(&mut tat, 0, 100, 100, Allowance::Grace);
        assert!(at_limit.allowed && at_limit.remaining == 0);
        let in_grace = burst(&mut tat, 0, 10, 100, Allowance::Grace);
        assert!(in_grace.allowed, "requests 101–110 succeed");
        assert_eq!((in_grace.used, in_grace.remaining), (110, 0));
        let blocked = burst(&mut tat, 0, 1, 100, Allowance::Grace);
        assert!(!blocked.allowed, "request 111 is refused");
        assert_eq!((blocked.used, blocked.limit), (111, 100));
        // A standard request sees the same org over its limit.
        assert!(!burst(&mut tat, 0, 1, 100, Allowance::Standard).allowed);
        // The allowance comes back at the rate of the limit.
        let back = burst(&mut tat, 66_000, 1, 100, Allowance::Standard);
        assert!(back.allowed && back.remaining == 99);
    }

    #[test]
    fn retry_after_counts_the_wait_past_the_band() {
        let mut tat = 0;
        burst(&mut tat, 0, 330, 300, Allowance::Grace);
        let blocked = burst(&mut tat, 0, 1, 300, Allowance::Grace);
        assert_eq!(blocked.retry_after, 1, "200 ms until one more fits, rounded up");
        assert_eq!(blocked.reset_after(), 66);
    }

    #[tokio::test]
    async fn local_limit_counts_per_org_and_refuses_past_the_quota() {
        let limiter = RateLimiter::local();
        for i in 0..300 {
            let d = limiter.check("org_a", Tier::Payg, Allowance::Standard).await;
            let d = d.unwrap_or_else(|| panic!("payg is limited"));
            assert!(d.allowed, "request {i} should pass");
            assert_eq!(d.remaining, 299 - i);
        }
        let refused = limiter.check("org_a", Tier::Payg, Allowance::Standard).await;
        let refused = refused.unwrap_or_else(|| panic!("payg is limited"));
        assert!(!refused.allowed);
        assert!(refused.retry_after >= 1);
        let other = limiter.check("org_b", Tier::Payg, Allowance::Standard).await;
        assert!(other.is_some_and(|d| d.allowed), "another org has its own allowance");
        assert!(limiter.check("org_c", Tier::Enterprise, Allowance::Standard).await.is_none());
    }
}
