//! `switchboard-bench api` end to end: a short run on a temporary SQLite file (or a
//! fresh PostgreSQL database when `SWITCHBOARD_TEST_DATABASE_URL` is set) must
//! measure every scenario without errors. It asserts nothing about speed.

use std::time::Duration;

use switchboard_bench::api::{self as bench, BenchOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_measures_every_scenario_without_errors() {
    let options = BenchOptions {
        database_url: std::env::var("SWITCHBOARD_TEST_DATABASE_URL").ok().filter(|url| !url.is_empty()),
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(200),
        concurrency: 2,
        diagnose: true,
    };
    let report = bench::run(&options).await.expect("the bench runs");
    for id in ["bare", "get_agent", "create_agent"] {
        let scenario = &report.scenario(id).expect("scenario reported").latencies;
        assert!(scenario.requests > 0, "{id}: no requests");
        assert!(scenario.requests_per_second > 0.0, "{id}: no throughput");
        assert_eq!(scenario.errors, 0, "{id}: {:?}", scenario.error_kinds);
        assert!(scenario.p50_ms <= scenario.p99_ms, "{id}: percentiles out of order");
    }
    assert_eq!(report.diagnostics.len(), 2);
    assert!(report.diagnostics.iter().all(|d| d.latencies.errors == 0 && d.latencies.requests > 0));
    assert!(report.read_vs_bare > 0.0);
    assert_eq!(report.org_tier, "enterprise");
    let table = bench::render_table(&report);
    assert!(table.contains("GET /v1/agents/:id"), "{table}");
    let json = serde_json::to_value(&report).expect("report serializes");
    assert_eq!(json["scenarios"].as_array().map(Vec::len), Some(3));
    assert!(json["scenarios"][0]["p99_ms"].is_number(), "latencies stay flat in the JSON: {json}");
}
