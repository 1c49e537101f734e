//! The calls benchmark runs end to end on a small ramp: every call completes
//! correctly and every model turn is measured. Nothing here asserts speed.

use switchboard_bench::calls::{CallBenchOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_ramp_completes_every_call_and_measures_every_turn() {
    // Bounds no machine misses: this run checks the bench, not the speed.
    let options = CallBenchOptions {
        database_url: None,
        steps: vec![3, 12],
        turns: 3,
        clock_speed: 100.0,
        hold: std::time::Duration::from_secs(1),
        model_url: None,
        turn_p99_bound_ms: 60_000,
        end_lag_p99_bound_ms: 60_000,
    };
    let report = run(&options).await.expect("bench runs");
    assert_eq!(report.sustained, 12, "{report:?}");
    for step in &report.steps {
        assert!(step.passed(), "{:?}", step.failures);
        assert_eq!(step.correct, step.calls);
        assert_eq!(step.turns_measured, step.calls * 3, "every model turn is timed");
        assert_eq!(step.peak_live, step.calls, "all calls were live together");
        assert!(step.held_seconds >= 1.0, "{}", step.held_seconds);
        assert!(step.turn_ms_p50 <= step.turn_ms_p99);
        assert!(step.end_lag_ms_p50 <= step.end_lag_ms_p99 && step.end_lag_ms_p50 >= 0);
    }
}
