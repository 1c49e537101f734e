//! Per-org rate limits by tier and their headers.

use reqwest::Method;
use switchboard::admin;

use crate::common::{TestServer, assert_error};

/// The most requests GCRA at `per_minute` may allow in `elapsed`: the burst plus
/// what refilled meanwhile (one request per 60/per_minute seconds).
fn allowance(per_minute: u64, elapsed: std::time::Duration) -> u64 {
    per_minute + (elapsed.as_millis() as u64 * per_minute).div_ceil(60_000) + 1
}

#[tokio::test]
async fn payg_allows_300_a_minute_then_429_with_retry_after() {
    let s = TestServer::start().await;
    let started = std::time::Instant::now();
    let first = s.get("/v1/voices?language=en-US").await;
    assert_eq!(first.header("x-ratelimit-limit"), Some("300"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("299"));
    // Project and org keys take turns: they draw on the org's one allowance, so
    // the bound below holds only if the limit is shared between them.
    let mut allowed = 1u64;
    let refused = loop {
        let resp = if allowed.is_multiple_of(2) {
            s.get("/v1/agents").await
        } else {
            s.call(Method::GET, "/v1/credits", Some(s.org_key()), None).await
        };
        if resp.status != 200 {
            break resp;
        }
        allowed += 1;
        assert!(allowed <= 700, "never limited");
    };
    assert!(allowed >= 300, "only {allowed} allowed before the limit");
    assert!(allowed <= allowance(300, started.elapsed()), "{allowed} allowed in {:?}", started.elapsed());
    assert_error(&refused, 429, "RATE_LIMIT_EXCEEDED");
    assert_eq!(refused.body["error"], "Rate limit exceeded");
    let retry = refused.body["retryAfter"].as_u64().expect("retryAfter");
    assert!((1..=60).contains(&retry), "retryAfter {retry}");
    assert_eq!(refused.header("retry-after"), Some(retry.to_string().as_str()));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(refused.header("x-ratelimit-tier"), Some("payg"));
    assert_eq!(refused.header("x-concurrent-call-limit"), Some("10"));
    let reset: u64 = refused.header("x-ratelimit-reset").and_then(|r| r.parse().ok()).expect("reset epoch");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    assert!(reset >= now && reset <= now + 61, "reset {reset} vs now {now}");

    // The limit is per org: another org in the same server has its own.
    let other = admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let fresh = s.call(Method::GET, "/v1/agents", Some(&other.project_key), None).await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.header("x-ratelimit-remaining"), Some("299"));
}

#[tokio::test]
async fn tiers_set_the_headers_and_enterprise_is_unlimited() {
    let s = TestServer::start().await;
    for (tier, limit, calls) in [("starter", "600", "50"), ("growth", "1200", "100")] {
        admin::set_tier(s.store(), &s.boot.org_id, tier).await.expect("tier");
        let resp = s.get("/v1/agents").await;
        assert_eq!(resp.header("x-ratelimit-limit"), Some(limit));
        assert_eq!(resp.header("x-ratelimit-tier"), Some(tier));
        assert_eq!(resp.header("x-concurrent-call-limit"), Some(calls));
    }
    admin::set_tier(s.store(), &s.boot.org_id, "enterprise").await.expect("tier");
    for _ in 0..400 {
        let resp = s.get("/v1/agents").await;
        assert_eq!(resp.status, 200);
        assert!(resp.header("x-ratelimit-limit").is_none());
        assert!(resp.header("x-ratelimit-remaining").is_none());
        assert!(resp.header("x-ratelimit-reset").is_none());
        assert_eq!(resp.header("x-ratelimit-tier"), Some("enterprise"));
        assert_eq!(resp.header("x-concurrent-call-limit"), Some("unlimited"));
    }
}

#[tokio::test]
async fn two_server_processes_share_the_limit_through_redis() {
    let Ok(redis_url) = std::env::var("SWITCHBOARD_TEST_REDIS_URL") else {
        eprintln!("SWITCHBOARD_TEST_REDIS_URL not set: the shared-limit test runs in the Redis suite of .ci/run");
        return;
    };
    let a = TestServer::start_with(|c| c.redis_url = Some(redis_url.clone())).await;
    // A second server process on the same database and the same Redis.
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", &a.config.database_url, "--redis-url", &redis_url])
        .current_dir(dir.path())
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start a second server process");
    let b_base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("{b_base}/v1/health")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "second server came up");

    // Requests alternating between the two processes draw on one allowance.
    let started = std::time::Instant::now();
    let mut allowed = 0u64;
    let refused = loop {
        let base = if allowed.is_multiple_of(2) { &a.base } else { &b_base };
        let resp = client.get(format!("{base}/v1/agents")).bearer_auth(a.key()).send().await.expect("request");
        if resp.status() != 200 {
            break resp.status().as_u16();
        }
        allowed += 1;
        if allowed > 700 {
            break 0;
        }
    };
    child.kill().ok();
    child.wait().ok();
    assert_eq!(refused, 429, "the shared limit refuses, after {allowed}");
    assert!(allowed >= 300, "only {allowed} allowed");
    // Each process alone would have allowed 300: together they allowed one
    // allowance plus what refilled while the test ran.
    assert!(allowed <= allowance(300, started.elapsed()), "{allowed} allowed in {:?}", started.elapsed());
}

#[tokio::test]
async fn memory_routes_answer_as_sticky_calls_and_run_ten_percent_past_the_limit() {
    let s = TestServer::start().await;
    for key in [None, Some("sb_live_nope")] {
        let refused = s.call(Method::POST, "/v1/calls/start", key, Some(serde_json::json!({}))).await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert_eq!(refused.body["error"], "Unauthorized");
        assert!(refused.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", refused.body);
    }
    let started = std::time::Instant::now();
    let mut allowed = 0u64;
    let refused = loop {
        // An empty body is a 400, which counts like any request.
        let resp = s.post("/v1/calls/start", serde_json::json!({})).await;
        if resp.status != 400 {
            break resp;
        }
        allowed += 1;
        assert!(allowed <= 700, "never limited");
    };
    assert!(allowed >= 330, "only {allowed} allowed: the 10% grace past 300 was not given");
    assert!(allowed <= allowance(330, started.elapsed()), "{allowed} allowed in {:?}", started.elapsed());
    assert_eq!(refused.status, 429, "{}", refused.body);
    let body = &refused.body;
    assert_eq!(body["error"], "Too Many Requests");
    assert_eq!(body["message"], "Rate limit exceeded for your tier. Limit: 300 requests/minute.");
    assert_eq!((&body["limit"], &body["currentUsage"]), (&serde_json::json!(300), &serde_json::json!(331)));
    let retry = body["retryAfter"].as_u64().expect("retryAfter");
    assert_eq!(refused.header("retry-after"), Some(retry.to_string().as_str()));
    let reset_at = body["resetAt"].as_str().expect("resetAt");
    let reset_ms = switchboard_domain::time::parse_iso(reset_at).expect("an ISO timestamp");
    let now_ms = s.store().clock().now_ms();
    assert!(reset_ms > now_ms && reset_ms <= now_ms + 67_000, "resetAt {reset_at}");
    // Past the grace band the org is over its limit everywhere.
    assert_error(&s.get("/v1/agents").await, 429, "RATE_LIMIT_EXCEEDED");
}
