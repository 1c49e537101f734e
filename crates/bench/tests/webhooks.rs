//! `switchboard-bench webhooks` end to end on a small scale: every event is
//! delivered by the platform and by the minimal sender, and the figures are
//! consistent. It asserts nothing about speed.

use switchboard_bench::webhooks::{self as bench_webhooks, WebhookBenchOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhooks_bench_runs_end_to_end() {
    let options = WebhookBenchOptions {
        database_url: std::env::var("SWITCHBOARD_TEST_DATABASE_URL").ok().filter(|url| !url.is_empty()),
        events: 300,
        paced_rate: 50,
        paced_seconds: 1,
    };
    let report = bench_webhooks::run(&options).await.expect("the bench runs");
    assert_eq!(report.burst_events, 300);
    assert_eq!(report.paced_events, 50);
    assert!(report.deliveries_per_second > 0.0 && report.ceiling_per_second > 0.0);
    assert!((report.ratio - report.deliveries_per_second / report.ceiling_per_second).abs() < 1e-9);
    assert!(report.delay_ms_p50 <= report.delay_ms_p99 && report.delay_ms_p99 <= report.delay_ms_max);
    assert!(report.per_endpoint <= report.concurrency);
}
