//! Per-org, per-minute request limits by tier: in-process (GCRA via governor) on a
//! single node, or shared by every server process through a GCRA script in Redis.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use switchboard_domain::tier::Tier;

type Keyed = governor::RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// The outcome of counting one request against its org's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full allowance is available again.
    pub reset_after: u64,
    /// Seconds until the next request would be allowed (0 when allowed).
    pub retry_after: u64,
}

/// Counts requests per org. Unlimited tiers are never counted.
pub enum RateLimiter {
    Local(Box<LocalLimits>),
    Redis(RedisLimits),
}

/// One keyed limiter per limited tier, so each org runs at its tier's quota.
pub struct LocalLimits {
    by_tier: Vec<(Tier, Keyed)>,
    clock: DefaultClock,
}

pub struct RedisLimits {
    conn: redis::aio::ConnectionManager,
    script: redis::Script,
}

/// GCRA in Redis, atomic per org key. Uses the server's clock so every process
/// agrees on time. Returns {allowed, remaining, retry_after_ms, reset_after_ms}.
const GCRA_LUA: &str = r"
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local tolerance = interval * limit
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(tolerance))
local remaining = math.floor((tolerance - (new_tat - now)) / interval)
return {1, remaining, 0, new_tat - now}
";

impl RateLimiter {
    pub fn local() -> Self {
        let by_tier = Tier::ALL
            .into_iter()
            .filter_map(|tier| {
                let per_minute = NonZeroU32::new(tier.requests_per_minute()?)?;
                let limiter = governor::RateLimiter::<String, DefaultKeyedStateStore<String>, DefaultClock>::keyed(
                    Quota::per_minute(per_minute),
                );
                Some((tier, limiter.with_middleware::<StateInformationMiddleware>()))
            })
            .collect();
        RateLimiter::Local(Box::new(LocalLimits { by_tier, clock: DefaultClock::default() }))
    }

    /// Connects to Redis; the limit is then shared by every process using it.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let conn = redis::aio::ConnectionManager::new(client).await?;
        Ok(RateLimiter::Redis(RedisLimits { conn, script: redis::Script::new(GCRA_LUA) }))
    }

    /// Counts one request of `org_id`; `None` for tiers without a limit.
    pub async fn check(&self, org_id: &str, tier: Tier) -> Option<Decision> {
        let limit = tier.requests_per_minute()?;
        Some(match self {
            RateLimiter::Local(local) => local.check(org_id, tier, limit),
            RateLimiter::Redis(redis) => redis.check(org_id, limit).await,
        })
    }

    /// Drops state of orgs that have been quiet long enough to be back at full
    /// allowance, so memory does not grow with every org ever seen.
    pub fn forget_idle(&self) {
        if let RateLimiter::Local(local) = self {
            for (_, limiter) in &local.by_tier {
                limiter.retain_recent();
            }
        }
    }
}

/// Seconds for `used` requests' worth of allowance to come back.
fn refill_seconds(used: u32, limit: u32) -> u64 {
    (u64::from(used) * 60).div_ceil(u64::from(limit.max(1)))
}

impl LocalLimits {
    fn check(&self, org_id: &str, tier: Tier, limit: u32) -> Decision {
        let Some((_, limiter)) = self.by_tier.iter().find(|(t, _)| *t == tier) else {
            return Decision { allowed: true, limit, remaining: limit, reset_after: 0, retry_after: 0 };
        };
        match limiter.check_key(&org_id.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_after: refill_seconds(limit - remaining, limit),
                    retry_after: 0,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_after: refill_seconds(limit, limit),
                    retry_after: ceil_secs(wait),
                }
            }
        }
    }
}

impl RedisLimits {
    async fn check(&self, org_id: &str, limit: u32) -> Decision {
        let interval_ms = 60_000 / u64::from(limit.max(1));
        let mut conn = self.conn.clone();
        let result: Result<(i64, i64, i64, i64), _> = self
            .script
            .key(format!("switchboard:ratelimit:{org_id}"))
            .arg(interval_ms)
            .arg(limit)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok((allowed, remaining, retry_ms, reset_ms)) => Decision {
                allowed: allowed == 1,
                limit,
                remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                reset_after: ceil_secs(Duration::from_millis(reset_ms.max(0) as u64)),
                retry_after: ceil_secs(Duration::from_millis(retry_ms.max(0) as u64)),
            },
            Err(err) => {
                // Fail open: a Redis outage must not take the API down with it.
                tracing::warn!(error = %err, "rate limit check failed; allowing the request");
                Decision { allowed: true, limit, remaining: limit, reset_after: 0, retry_after: 0 }
            }
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_limit_counts_per_org_and_refuses_past_the_quota() {
        let limiter = RateLimiter::local();
        for i in 0..300 {
            let d = limiter.check("org_a", Tier::Payg).await.unwrap_or_else(|| panic!("payg is limited"));
            assert!(d.allowed, "request {i} should pass");
            assert_eq!(d.remaining, 299 - i);
        }
        let refused = limiter.check("org_a", Tier::Payg).await.unwrap_or_else(|| panic!("payg is limited"));
        assert!(!refused.allowed);
        assert!(refused.retry_after >= 1);
        let other = limiter.check("org_b", Tier::Payg).await.unwrap_or_else(|| panic!("payg is limited"));
        assert!(other.allowed, "another org has its own allowance");
        assert!(limiter.check("org_c", Tier::Enterprise).await.is_none());
    }

    #[test]
    fn refill_is_proportional() {
        assert_eq!(refill_seconds(300, 300), 60);
        assert_eq!(refill_seconds(1, 300), 1);
        assert_eq!(refill_seconds(0, 300), 0);
    }
}
