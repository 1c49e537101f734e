//! Webhook delivery rules: the retry schedule, what an attempt's outcome means
//! for the delivery and its endpoint, and `Retry-After` parsing.

use std::collections::HashMap;

/// How deliveries are retried and when a failing endpoint is disabled.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay before each retry, in ms: after the first failure, the second, …
    /// When they are used up the delivery is failed.
    pub delays_ms: Vec<i64>,
    /// Each delay is spread by up to ± this fraction, so retries of many
    /// deliveries to one endpoint do not arrive in a burst.
    pub jitter: f64,
    /// An endpoint whose attempts have failed without a success for this long
    /// is disabled.
    pub disable_after_ms: i64,
    /// Longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after_ms: i64,
}

impl Default for RetryPolicy {
    /// 30 s, 5 min, 30 min, 2 h; disable after 5 days of failures.
    fn default() -> Self {
        RetryPolicy {
            delays_ms: vec![30_000, 300_000, 1_800_000, 7_200_000],
            jitter: 0.1,
            disable_after_ms: 5 * 24 * 3600 * 1000,
            max_retry_after_ms: 24 * 3600 * 1000,
        }
    }
}

/// What one attempt produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptResult {
    /// The response status, when a response arrived.
    pub status: Option<u16>,
    /// `Retry-After` of the response, already converted to ms from now.
    pub retry_after_ms: Option<i64>,
}

impl AttemptResult {
    pub fn succeeded(self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered; done.
    Delivered,
    /// Try again at this time (epoch ms).
    RetryAt(i64),
    /// No more attempts.
    Failed,
    /// The receiver answered 410 Gone: the endpoint is disabled and the
    /// delivery failed.
    Gone,
}

/// Decides the fate of a delivery after its `attempt`-th attempt (1-based).
/// `jitter_unit` is a uniform random number in [0, 1).
pub fn after_attempt(policy: &RetryPolicy, attempt: i64, result: AttemptResult, now_ms: i64, jitter_unit: f64) -> Next {
    if result.succeeded() {
        return Next::Delivered;
    }
    if result.status == Some(410) {
        return Next::Gone;
    }
    let Some(&base) = usize::try_from(attempt - 1).ok().and_then(|i| policy.delays_ms.get(i)) else {
        return Next::Failed;
    };
    let honours_retry_after = matches!(result.status, Some(429 | 503));
    let delay = match result.retry_after_ms {
        Some(wait) if honours_retry_after => wait.clamp(0, policy.max_retry_after_ms),
        _ => {
            let spread = (jitter_unit.clamp(0.0, 1.0) * 2.0 - 1.0) * policy.jitter;
            (base as f64 * (1.0 + spread)).round() as i64
        }
    };
    Next::RetryAt(now_ms + delay.max(0))
}

/// Whether an endpoint failing since `failing_since` (epoch ms) has failed long
/// enough to be disabled.
pub fn should_disable(policy: &RetryPolicy, failing_since: Option<i64>, now_ms: i64) -> bool {
    failing_since.is_some_and(|since| now_ms - since >= policy.disable_after_ms)
}

/// Parses `Retry-After` (delay-seconds or an HTTP date) into ms from `now_ms`.
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<i64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<i64>() {
        return (seconds >= 0).then(|| seconds.saturating_mul(1000));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp().as_millisecond();
    Some((at - now_ms).max(0))
}

/// The jobs a worker takes from the due ones, in order: at most `total`, and
/// no endpoint gets more than `per_endpoint` out, counting the `out` it
/// already has. Also says whether due jobs were left behind.
pub fn pick_due<T>(
    due: Vec<T>,
    endpoint: impl Fn(&T) -> &str,
    total: usize,
    per_endpoint: usize,
    out: &HashMap<String, usize>,
) -> (Vec<T>, bool) {
    let mut taken: HashMap<String, usize> = HashMap::new();
    let mut picked = Vec::new();
    let mut left = false;
    for job in due {
        let id = endpoint(&job);
        let has = out.get(id).copied().unwrap_or(0) + taken.get(id).copied().unwrap_or(0);
        if picked.len() >= total || has >= per_endpoint {
            left = true;
            continue;
        }
        *taken.entry(id.to_owned()).or_default() += 1;
        picked.push(job);
    }
    (picked, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_due_keeps_order_and_bounds_each_endpoint_and_the_total() {
        let due = vec![("d1", "a"), ("d2", "a"), ("d3", "b"), ("d4", "a"), ("d5", "c"), ("d6", "b")];
        let out = HashMap::from([("b".to_owned(), 1)]);
        let (picked, left) = pick_due(due.clone(), |job| job.1, 10, 2, &out);
        assert_eq!(picked.iter().map(|j| j.0).collect::<Vec<_>>(), ["d1", "d2", "d3", "d5"]);
        assert!(left);
        let (picked, left) = pick_due(due.clone(), |job| job.1, 2, 5, &HashMap::new());
        assert_eq!(picked.iter().map(|j| j.0).collect::<Vec<_>>(), ["d1", "d2"]);
        assert!(left);
        let (picked, left) = pick_due(due, |job| job.1, 6, 3, &HashMap::new());
        assert_eq!(picked.len(), 6);
        assert!(!left);
    }

    const NOW: i64 = 1_000_000_000;

    fn failed(status: Option<u16>) -> AttemptResult {
        AttemptResult { status, retry_after_ms: None }
    }

    #[test]
    fn any_2xx_is_delivered() {
        let p = RetryPolicy::default();
        for s in [200, 201, 204, 299] {
            assert_eq!(after_attempt(&p, 1, failed(Some(s)), NOW, 0.5), Next::Delivered);
        }
        assert_ne!(after_attempt(&p, 1, failed(Some(300)), NOW, 0.5), Next::Delivered);
    }

    #[test]
    fn schedule_is_30s_5m_30m_2h_then_failed() {
        let p = RetryPolicy::default();
        let at = |attempt| after_attempt(&p, attempt, failed(Some(500)), NOW, 0.5);
        assert_eq!(at(1), Next::RetryAt(NOW + 30_000));
        assert_eq!(at(2), Next::RetryAt(NOW + 300_000));
        assert_eq!(at(3), Next::RetryAt(NOW + 1_800_000));
        assert_eq!(at(4), Next::RetryAt(NOW + 7_200_000));
        assert_eq!(at(5), Next::Failed);
        assert_eq!(after_attempt(&p, 1, failed(None), NOW, 0.5), Next::RetryAt(NOW + 30_000));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let p = RetryPolicy::default();
        let low = after_attempt(&p, 1, failed(Some(500)), NOW, 0.0);
        let high = after_attempt(&p, 1, failed(Some(500)), NOW, 0.999_999);
        assert_eq!(low, Next::RetryAt(NOW + 27_000));
        assert_eq!(high, Next::RetryAt(NOW + 33_000));
    }

    #[test]
    fn gone_disables() {
        assert_eq!(after_attempt(&RetryPolicy::default(), 1, failed(Some(410)), NOW, 0.5), Next::Gone);
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_503_only() {
        let p = RetryPolicy::default();
        let with = |status, wait| AttemptResult { status: Some(status), retry_after_ms: Some(wait) };
        assert_eq!(after_attempt(&p, 1, with(429, 120_000), NOW, 0.5), Next::RetryAt(NOW + 120_000));
        assert_eq!(after_attempt(&p, 2, with(503, 1_000), NOW, 0.5), Next::RetryAt(NOW + 1_000));
        assert_eq!(after_attempt(&p, 1, with(500, 120_000), NOW, 0.5), Next::RetryAt(NOW + 30_000));
        let day = 24 * 3600 * 1000;
        assert_eq!(after_attempt(&p, 1, with(429, 9 * day), NOW, 0.5), Next::RetryAt(NOW + day));
        // Retry-After does not add attempts beyond the schedule.
        assert_eq!(after_attempt(&p, 5, with(429, 1_000), NOW, 0.5), Next::Failed);
    }

    #[test]
    fn disabled_after_five_days_of_failure() {
        let p = RetryPolicy::default();
        let day = 24 * 3600 * 1000;
        assert!(!should_disable(&p, None, NOW));
        assert!(!should_disable(&p, Some(NOW - 5 * day + 1), NOW));
        assert!(should_disable(&p, Some(NOW - 5 * day), NOW));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("120", NOW), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", NOW), Some(0));
        assert_eq!(parse_retry_after("-5", NOW), None);
        assert_eq!(parse_retry_after("soon", NOW), None);
        let now = 784_111_777_000; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now), Some(60_000));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:48:37 GMT", now), Some(0));
    }
}
