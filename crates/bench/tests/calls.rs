//! The calls benchmark runs end to end on a small ramp: every call completes
//! correctly and every model turn is measured. Nothing here asserts speed.

use switchboard_bench::calls::{CallBenchOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_ramp_completes_every_call_and_measures_every_turn() {
    let options = CallBenchOptions { database_url: None, steps: vec![3, 12], turns: 3, clock_speed: 100.0 };
    let report = run(&options).await.expect("bench runs");
    assert_eq!(report.sustained, 12, "{report:?}");
    for step in &report.steps {
        assert_eq!(step.correct, step.calls, "{:?}", step.failures);
        assert_eq!(step.turns_measured, step.calls * 3, "every model turn carries platform timings");
        assert!(step.peak_live >= 1 && step.peak_live <= step.calls);
        assert!(step.turn_ms_p50 <= step.turn_ms_p99);
    }
}
