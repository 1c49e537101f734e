//! `cargo bench -p switchboard-bench -- calls`: how many simulated calls this
//! machine holds at once, for how long, and how well. Calls run through the
//! real server (HTTP injection, sessions, simulated carrier, call journal)
//! against a zero-latency scripted language model, served by another process
//! when run from the command line. A step passes when every call ends
//! correctly, all of them were live together for the hold time, the turn
//! latency (the caller's last word to the first audio of the answer) stays
//! within its bound at p99, and so does the lag from a call's end to its
//! record in the database.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use switchboard_domain::call::{Brain, CallRecord, CallStatus, EndedReason};
use switchboard_testkit::llm::ScriptedLlm;
use tokio::sync::oneshot;

use crate::load::percentile;
use crate::scratch_db::Database;
use crate::server::BenchServer;
use switchboard::Config;

/// What to run.
#[derive(Debug, Clone)]
pub struct CallBenchOptions {
    /// A PostgreSQL server to run on (in a fresh database, dropped at the
    /// end); default a SQLite file in a temporary folder.
    pub database_url: Option<String>,
    /// Numbers of concurrent calls to try, in order; the run stops at the
    /// first step that fails.
    pub steps: Vec<usize>,
    /// Caller turns per call.
    pub turns: usize,
    /// Call time per wall time on the simulated carrier.
    pub clock_speed: f64,
    /// How long (real time) every call of a step must be live together.
    pub hold: Duration,
    /// The scripted model's base URL when another process serves it; `None`
    /// starts one in this process.
    pub model_url: Option<String>,
    /// The most the p99 turn latency may be, in ms.
    pub turn_p99_bound_ms: u64,
    /// The most the p99 lag from a call's end to its stored record may be, in ms.
    pub end_lag_p99_bound_ms: u64,
}

/// One step of the ramp.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub calls: usize,
    /// The most calls live at once, sampled from the live-call directory.
    pub peak_live: usize,
    /// How long (real time) every call of the step was live together.
    pub held_seconds: f64,
    pub correct: usize,
    pub wall_seconds: f64,
    pub turns_measured: usize,
    /// The caller's last word (as the transport heard it) to the first audio
    /// of the answer, in ms.
    pub turn_ms_p50: u64,
    pub turn_ms_p99: u64,
    /// A call's end (as its session stamped it) to its record in the database, in ms.
    pub end_lag_ms_p50: i64,
    pub end_lag_ms_p99: i64,
    /// Resident memory of the process (server and harness) before the step,
    /// at its highest while the calls were live, and once they had all ended,
    /// in MiB; `None` where `/proc` cannot tell.
    pub rss_mib_before: Option<f64>,
    pub rss_mib_peak: Option<f64>,
    pub rss_mib_after: Option<f64>,
    /// Memory the step held per call at its peak, in KiB.
    pub rss_kib_per_call: Option<f64>,
    /// Why the step failed: wrong calls, a bound missed.
    pub failures: Vec<String>,
}

impl StepReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CallBenchReport {
    pub database: String,
    pub build: &'static str,
    pub clock_speed: f64,
    pub turns: usize,
    pub hold_seconds: f64,
    /// Where the model ran: `separate process` or `this process`.
    pub model: &'static str,
    pub steps: Vec<StepReport>,
    /// The largest step that passed.
    pub sustained: usize,
    /// Resident memory `IDLE_AFTER` after the last step's calls ended, in
    /// MiB: what the allocator gave back once the calls were gone.
    pub rss_mib_idle: Option<f64>,
}

/// How long after the last step the idle memory is read.
const IDLE_AFTER: Duration = Duration::from_secs(15);

/// Inbound-call injections the harness keeps in flight at once.
const INJECTIONS_IN_FLIGHT: usize = 256;
/// How often the live-call count is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

const BUILD: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// Runs the ramp and prints the report (JSON with `json`).
pub async fn run_and_print(options: &CallBenchOptions, json: bool) -> anyhow::Result<()> {
    let report = run(options).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "switchboard-bench calls — {} build, {}, {} turns a call, call clock ×{}, hold {} s, model in {}",
        report.build, report.database, report.turns, report.clock_speed, report.hold_seconds, report.model
    );
    println!(
        "{:>6} {:>6} {:>7} {:>7} {:>6} {:>9} {:>9} {:>10} {:>10} {:>22}",
        "calls",
        "peak",
        "held s",
        "correct",
        "wall s",
        "turn p50",
        "turn p99",
        "end p50",
        "end p99",
        "RSS MiB before/peak/after"
    );
    for s in &report.steps {
        let mib = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.0}"));
        println!(
            "{:>6} {:>6} {:>7.1} {:>7} {:>6.0} {:>6} ms {:>6} ms {:>7} ms {:>7} ms {:>22}",
            s.calls,
            s.peak_live,
            s.held_seconds,
            s.correct,
            s.wall_seconds,
            s.turn_ms_p50,
            s.turn_ms_p99,
            s.end_lag_ms_p50,
            s.end_lag_ms_p99,
            format!("{}/{}/{}", mib(s.rss_mib_before), mib(s.rss_mib_peak), mib(s.rss_mib_after))
        );
        for failure in s.failures.iter().take(5) {
            println!("        ! {failure}");
        }
    }
    println!("sustained: {} concurrent calls passed every bound", report.sustained);
    if let Some(idle) = report.rss_mib_idle {
        println!("resident memory {} s after the last calls ended: {idle:.0} MiB", IDLE_AFTER.as_secs());
    }
    Ok(())
}

/// Runs the ramp.
pub async fn run(options: &CallBenchOptions) -> anyhow::Result<CallBenchReport> {
    if options.steps.is_empty() || options.turns == 0 {
        bail!("give at least one step and one turn");
    }
    Database::run_with(options.database_url.as_deref(), async |database| run_on(database, options).await).await
}

async fn run_on(database: &Database, options: &CallBenchOptions) -> anyhow::Result<CallBenchReport> {
    let in_process = match &options.model_url {
        Some(_) => None,
        None => Some(ScriptedLlm::start(Vec::new()).await),
    };
    let model_url = match (&options.model_url, &in_process) {
        (Some(url), _) => url.clone(),
        (None, Some(llm)) => llm.base_url(),
        (None, None) => bail!("no model"),
    };
    let server = Server::start(database, &model_url, options.clock_speed).await?;
    let mut steps = Vec::new();
    let mut sustained = 0;
    for &calls in &options.steps {
        let step = server.step(calls, options).await?;
        let passed = step.passed();
        steps.push(step);
        if !passed {
            break;
        }
        sustained = calls;
    }
    tokio::time::sleep(IDLE_AFTER).await;
    let rss_mib_idle = resident_mib();
    server.stop().await?;
    Ok(CallBenchReport {
        database: database.label(),
        build: BUILD,
        clock_speed: options.clock_speed,
        turns: options.turns,
        hold_seconds: options.hold.as_secs_f64(),
        model: if in_process.is_some() { "this process" } else { "separate process" },
        steps,
        sustained,
        rss_mib_idle,
    })
}

struct Server {
    server: BenchServer,
    agent: String,
    client: reqwest::Client,
    /// A connection of the bench's own, to read what reached the database.
    pool: sqlx::AnyPool,
}

impl Server {
    async fn start(database: &Database, model_url: &str, clock_speed: f64) -> anyhow::Result<Self> {
        let mut config = Config { dev: true, database_url: database.url().to_owned(), ..Config::default() };
        config.runtime.clock_speed = clock_speed;
        config.llm.base_url = Some(model_url.to_owned());
        let server = BenchServer::start(config, "Bench calls", 1_000_000.0).await?;
        let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(256).build()?;
        let agent_body = json!({"name": "Bench agent", "first_message": "Hello, you are through to the bench.",
                                "silence_timeout_seconds": 600, "max_duration": 7200});
        let created =
            client.post(format!("{}/v1/agents", server.base)).bearer_auth(&server.key).json(&agent_body).send().await?;
        let created: Value = created.json().await?;
        let agent = created["id"].as_str().context("agent not created")?.to_owned();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(database.url()).await?;
        Ok(Server { server, agent, client, pool })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.pool.close().await;
        self.server.stop().await
    }

    /// The caller of every call: asks `turns` questions spread over long
    /// enough for all `calls` of the step to be live together for the hold
    /// time (with room for injecting them), then hangs up.
    fn script(options: &CallBenchOptions, calls: usize) -> Value {
        let injecting = Duration::from_secs(2) + Duration::from_millis(2) * calls as u32;
        let lasting = options.hold.mul_f64(1.2) + injecting;
        let pause = lasting.mul_f64(options.clock_speed).as_secs_f64() / options.turns as f64;
        let mut steps = Vec::new();
        for i in 0..options.turns {
            steps.push(json!({"say": format!("Question number {i}, please answer it.")}));
            steps.push(json!({"wait": pause.min(3600.0)}));
        }
        steps.push(json!({"hangup": true}));
        Value::Array(steps)
    }

    /// Starts `calls` inbound calls at once and checks every one of them.
    async fn step(&self, calls: usize, options: &CallBenchOptions) -> anyhow::Result<StepReport> {
        let script = Self::script(options, calls);
        let rss_before = resident_mib();
        let started = Instant::now();
        let sampler = self.sample_live();
        let mut injections = tokio::task::JoinSet::new();
        // Injections in flight are bounded so the harness's own sockets do not
        // run into the file-descriptor limit; the calls themselves all overlap.
        let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(INJECTIONS_IN_FLIGHT));
        for n in 0..calls {
            // Every call is a different caller, as calls at once are.
            let body = json!({"agent_id": self.agent, "from": format!("+3161{n:07}"), "script": script});
            let (client, url, key) =
                (self.client.clone(), format!("{}/v1/simulator/calls", self.server.base), self.server.key.clone());
            let in_flight = in_flight.clone();
            injections.spawn(async move {
                let _permit = in_flight.acquire_owned().await?;
                let resp = client.post(url).bearer_auth(key).json(&body).send().await?;
                let status = resp.status();
                let value: Value = resp.json().await?;
                anyhow::ensure!(status.as_u16() == 201, "injection answered {status}: {value}");
                value["call_id"].as_str().map(str::to_owned).context("no call id")
            });
        }
        let mut ids = Vec::with_capacity(calls);
        let mut failures = Vec::new();
        while let Some(joined) = injections.join_next().await {
            match joined.context("injection task")? {
                Ok(id) => ids.push(id),
                Err(err) => failures.push(err.to_string()),
            }
        }
        self.wait_until_quiet(options.hold * 4 + Duration::from_secs(600)).await;
        let (live, rss_peak) = sampler.stop().await;
        let wall_seconds = started.elapsed().as_secs_f64();
        let mut turn_ms = Vec::new();
        let mut correct = 0;
        for id in &ids {
            let call = self.stored_end(id).await?;
            match check_call(&call, options.turns) {
                Ok(()) => correct += 1,
                Err(problem) => failures.push(format!("{id}: {problem}")),
            }
            turn_ms.extend(call.latency.turns.iter().map(|turn| turn.tts_ttfb_ms));
        }
        let mut end_lag = self.end_lags(&ids).await?;
        let rss_after = resident_mib();
        turn_ms.sort_unstable();
        end_lag.sort_unstable();
        let peak_live = live.iter().copied().max().unwrap_or(0);
        let held_seconds = held(&live, calls).as_secs_f64();
        let report = StepReport {
            calls,
            peak_live,
            held_seconds,
            correct,
            wall_seconds,
            turns_measured: turn_ms.len(),
            turn_ms_p50: percentile(&turn_ms, 50.0),
            turn_ms_p99: percentile(&turn_ms, 99.0),
            end_lag_ms_p50: percentile(&end_lag, 50.0),
            end_lag_ms_p99: percentile(&end_lag, 99.0),
            rss_mib_before: rss_before,
            rss_mib_peak: rss_peak,
            rss_mib_after: rss_after,
            rss_kib_per_call: rss_before.zip(rss_peak).map(|(before, peak)| (peak - before) * 1024.0 / calls as f64),
            failures,
        };
        Ok(with_bounds(report, options))
    }

    /// A call once its end is stored (the directory lets go just before).
    async fn stored_end(&self, id: &str) -> anyhow::Result<CallRecord> {
        for _ in 0..600 {
            let call = self.server.state.store.call(&self.server.project_id, id).await?;
            if call.ended_at.is_some() {
                return Ok(call);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("call {id} never stored its end")
    }

    /// For each call, how long after its end (`ended_at`, stamped by its
    /// session) its record was written (`updated_at`, stamped in the writing
    /// transaction), in ms.
    async fn end_lags(&self, ids: &[String]) -> anyhow::Result<Vec<i64>> {
        let rows =
            sqlx::query("SELECT id, ended_at, updated_at FROM calls WHERE project_id = $1 AND ended_at IS NOT NULL")
                .bind(&self.server.project_id)
                .fetch_all(&self.pool)
                .await?;
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut lags = Vec::with_capacity(ids.len());
        for row in &rows {
            let id: String = row.try_get("id")?;
            if wanted.contains(id.as_str()) {
                let (ended, written): (i64, i64) = (row.try_get("ended_at")?, row.try_get("updated_at")?);
                lags.push(written - ended);
            }
        }
        Ok(lags)
    }

    /// Waits until no call of the org is live.
    async fn wait_until_quiet(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.server.state.calls.directory().count_for_org(&self.server.org_id) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Samples how many calls are live, and the most memory resident, until stopped.
    fn sample_live(&self) -> Sampler {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (directory, org) = (self.server.state.calls.directory().clone(), self.server.org_id.clone());
        let task = tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut peak: Option<f64> = None;
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tokio::select! {
                    _ = &mut stopped => return (samples, peak),
                    _ = tick.tick() => {
                        samples.push(directory.count_for_org(&org));
                        if let Some(now) = resident_mib() {
                            peak = Some(peak.map_or(now, |peak| peak.max(now)));
                        }
                    }
                }
            }
        });
        Sampler { stop, task }
    }
}

/// The longest time (from samples `SAMPLE_EVERY` apart) every one of `calls`
/// was live at once.
fn held(samples: &[usize], calls: usize) -> Duration {
    let longest = samples.split(|live| *live < calls).map(<[usize]>::len).max().unwrap_or(0);
    SAMPLE_EVERY * longest.saturating_sub(1) as u32
}

/// The step with the bounds it missed among its failures.
fn with_bounds(mut step: StepReport, options: &CallBenchOptions) -> StepReport {
    if step.correct < step.calls {
        step.failures.insert(0, format!("{} of {} calls went wrong", step.calls - step.correct, step.calls));
    }
    let hold = options.hold.as_secs_f64();
    if step.held_seconds < hold {
        step.failures.push(format!("all calls were live together for {:.1} s, not {hold} s", step.held_seconds));
    }
    if step.turn_ms_p99 > options.turn_p99_bound_ms {
        step.failures.push(format!("turn p99 {} ms > {} ms", step.turn_ms_p99, options.turn_p99_bound_ms));
    }
    if step.end_lag_ms_p99 > options.end_lag_p99_bound_ms as i64 {
        step.failures.push(format!("end lag p99 {} ms > {} ms", step.end_lag_ms_p99, options.end_lag_p99_bound_ms));
    }
    step
}

struct Sampler {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<(Vec<usize>, Option<f64>)>,
}

impl Sampler {
    /// The live-call samples and the highest resident memory seen, in MiB.
    async fn stop(self) -> (Vec<usize>, Option<f64>) {
        self.stop.send(()).ok();
        self.task.await.unwrap_or_default()
    }
}

/// This process's resident memory in MiB (`VmRSS` of `/proc/self/status`),
/// or `None` where there is no such file.
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_rss_kib(&status).map(|kib| kib as f64 / 1024.0)
}

/// The `VmRSS:` line of a `/proc/<pid>/status` text, in KiB.
fn vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|line| line.strip_prefix("VmRSS:"))?;
    line.trim().strip_suffix("kB")?.trim().parse().ok()
}

/// A call completed correctly: answered, every turn answered by the model and
/// heard by the caller, ended by the caller.
fn check_call(call: &CallRecord, turns: usize) -> Result<(), String> {
    if call.status != CallStatus::Completed || call.ended_reason != Some(EndedReason::CallerHangup) {
        return Err(format!("ended {:?}/{:?}", call.status, call.ended_reason));
    }
    if call.turn_count != turns as i64 || call.brain != Brain::Llm {
        return Err(format!("{} turns on the {} brain", call.turn_count, call.brain.as_str()));
    }
    if call.transcript.len() != 1 + 2 * turns {
        return Err(format!("{} transcript lines", call.transcript.len()));
    }
    if call.latency.turns.len() != turns {
        return Err(format!("the caller heard {} of {turns} answers start", call.latency.turns.len()));
    }
    if call.transcript.iter().any(|line| line.content.contains("having trouble")) {
        return Err("the model failed on a turn".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_is_the_longest_run_of_samples_with_every_call_live() {
        assert_eq!(held(&[0, 3, 5, 5, 5, 4, 5, 5, 0], 5), SAMPLE_EVERY * 2);
        assert_eq!(held(&[1, 2], 5), Duration::ZERO);
        assert_eq!(held(&[], 5), Duration::ZERO);
    }

    #[test]
    fn resident_memory_is_read_from_the_vm_rss_line() {
        let status = "Name:\tswitchboard\nVmHWM:\t  900000 kB\nVmRSS:\t  123456 kB\nThreads:\t9\n";
        assert_eq!(vm_rss_kib(status), Some(123_456));
        assert_eq!(vm_rss_kib("Name:\tx\n"), None);
        assert!(resident_mib().is_none_or(|mib| mib > 0.0));
    }
}
