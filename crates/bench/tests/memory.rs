//! `switchboard-bench memory` end to end on 20,000 customers: both scenarios
//! are measured without errors. It asserts nothing about speed.

use std::time::Duration;

use switchboard_bench::memory::{self as bench_memory, MemoryBenchOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_bench_runs_end_to_end() {
    let options = MemoryBenchOptions {
        database_url: std::env::var("SWITCHBOARD_TEST_DATABASE_URL").ok().filter(|url| !url.is_empty()),
        customers: 20_000,
        duration: Duration::from_secs(1),
        warmup: Duration::from_millis(200),
        concurrency: 2,
    };
    let report = bench_memory::run(&options).await.expect("the bench runs");
    assert_eq!(report.customers, 20_000);
    assert_eq!(report.seed_rows, 20_000 * 6 + 2_000, "customer, 2 identifiers, 3 variables; an intent for 1 in 10");
    let ids: Vec<&str> = report.scenarios.iter().map(|s| s.id).collect();
    assert_eq!(ids, ["returning", "new"]);
    for scenario in &report.scenarios {
        let numbers = &scenario.latencies;
        assert!(numbers.requests > 0, "{}: no requests", scenario.id);
        assert_eq!(numbers.errors, 0, "{}: {:?}", scenario.id, numbers.error_kinds);
        assert!(numbers.p50_ms <= numbers.p99_ms);
    }
    assert!(bench_memory::render_table(&report).contains("POST /v1/calls/start, returning caller"));
}
