//! The load generator the HTTP benchmarks share: keep-alive clients that
//! repeat a request through a warm-up and a measured window, and the latency
//! summary of what they saw.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

/// One load client's request, repeated until the window closes.
pub trait Load: Send + 'static {
    /// Sends once and reads the answer; `Err` names the kind of error
    /// (`HTTP <status>`, `timeout`, `connect`, `transport`, ...).
    fn once(&mut self, client: &reqwest::Client) -> impl Future<Output = Result<(), String>> + Send;
}

/// When requests count: started at or after `from`, finished by `until`.
#[derive(Clone, Copy)]
pub struct Window {
    pub from: Instant,
    pub until: Instant,
}

impl Window {
    /// A window of `duration` that opens after `warmup` from now.
    pub fn after(warmup: Duration, duration: Duration) -> Self {
        let from = Instant::now() + warmup;
        Window { from, until: from + duration }
    }
}

/// What the clients saw inside the window.
#[derive(Default)]
pub struct Samples {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, u64>,
}

impl Samples {
    fn merge(&mut self, other: Samples) {
        self.latencies_us.extend(other.latencies_us);
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }
}

/// The numbers of one scenario. Latencies are of successful requests only.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latencies {
    /// Successful requests completed inside the measured window.
    pub requests: u64,
    /// Failed requests inside the measured window.
    pub errors: u64,
    /// Errors by kind: `HTTP <status>`, `timeout`, `connect`, `transport`, `store`.
    pub error_kinds: BTreeMap<String, u64>,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A client of the load generator: HTTP/1.1 keep-alive, no proxy.
pub fn load_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build an HTTP client")
}

/// The kind of a failed request.
pub fn error_kind(err: reqwest::Error) -> String {
    if err.is_timeout() {
        "timeout".into()
    } else if err.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

/// Runs one client per load until the window closes; what they saw together.
pub async fn run_clients<L: Load>(loads: Vec<L>, window: Window) -> anyhow::Result<Samples> {
    let clients: Vec<_> = loads.into_iter().map(|load| tokio::spawn(drive(load, window))).collect();
    let mut samples = Samples::default();
    for client in clients {
        samples.merge(client.await.context("a load client panicked")??);
    }
    Ok(samples)
}

/// One client: repeats its request until the window closes.
async fn drive<L: Load>(mut load: L, window: Window) -> anyhow::Result<Samples> {
    let client = load_client()?;
    let mut samples = Samples::default();
    loop {
        let started = Instant::now();
        if started >= window.until {
            return Ok(samples);
        }
        let outcome = load.once(&client).await;
        let finished = Instant::now();
        if started < window.from || finished > window.until {
            continue;
        }
        match outcome {
            Ok(()) => samples.latencies_us.push(u64::try_from((finished - started).as_micros()).unwrap_or(u64::MAX)),
            Err(kind) => *samples.errors.entry(kind).or_default() += 1,
        }
    }
}

/// Throughput and latency percentiles of a measured window of `duration`.
pub fn summarize(mut samples: Samples, duration: Duration) -> Latencies {
    samples.latencies_us.sort_unstable();
    let sorted = &samples.latencies_us;
    let ms = |us: u64| us as f64 / 1000.0;
    let requests = sorted.len() as u64;
    Latencies {
        requests,
        errors: samples.errors.values().sum(),
        error_kinds: samples.errors,
        requests_per_second: requests as f64 / duration.as_secs_f64(),
        p50_ms: ms(percentile(sorted, 50.0)),
        p90_ms: ms(percentile(sorted, 90.0)),
        p99_ms: ms(percentile(sorted, 99.0)),
        max_ms: ms(sorted.last().copied().unwrap_or(0)),
    }
}

/// The nearest-rank `p`th percentile (0–100) of sorted values (zero when
/// there are none).
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied().unwrap_or_default()
}

/// The 1, 5 and 15 minute load averages; `None` off Linux.
pub fn load_average() -> Option<String> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// The report line of the machine's load average before and after a run.
pub fn load_average_line(before: Option<&str>, after: Option<&str>) -> String {
    format!("  load avg:    {} before, {} after", before.unwrap_or("unknown"), after.unwrap_or("unknown"))
}

/// `errors in <scenario>: <kind> xN, ...` lines for scenarios that had errors.
pub fn error_lines<'a>(rows: impl IntoIterator<Item = (&'a str, &'a Latencies)>) -> String {
    let mut out = String::new();
    for (name, latencies) in rows.into_iter().filter(|(_, l)| l.errors > 0) {
        let kinds: Vec<String> = latencies.error_kinds.iter().map(|(kind, n)| format!("{kind} x{n}")).collect();
        out.push_str(&format!("errors in {name}: {}\n", kinds.join(", ")));
    }
    out
}

/// Prints a load benchmark's report: the table on stdout, or with `json` the
/// JSON report on stdout and the table on stderr.
pub fn print_report(table: &str, report: &impl Serialize, json: bool) -> anyhow::Result<()> {
    if json {
        eprint!("{table}");
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50);
        assert_eq!(percentile(&values, 90.0), 90);
        assert_eq!(percentile(&values, 99.0), 99);
        assert_eq!(percentile(&values, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile::<u64>(&[], 50.0), 0);
        assert_eq!(percentile(&[0.5, 1.5], 50.0), 0.5);
    }

    #[test]
    fn a_summary_counts_successes_and_errors() {
        let mut samples = Samples { latencies_us: vec![3000, 1000, 2000], errors: BTreeMap::new() };
        samples.merge(Samples { latencies_us: vec![4000], errors: BTreeMap::from([("HTTP 500".to_owned(), 2)]) });
        let summary = summarize(samples, Duration::from_secs(2));
        assert_eq!(summary.requests, 4);
        assert_eq!(summary.errors, 2);
        assert!((summary.requests_per_second - 2.0).abs() < 1e-9);
        assert!((summary.p50_ms - 2.0).abs() < 1e-9);
        assert!((summary.max_ms - 4.0).abs() < 1e-9);
        assert_eq!(error_lines([("get", &summary)]), "errors in get: HTTP 500 x2\n");
    }
}
