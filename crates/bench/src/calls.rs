//! `switchboard-bench calls`: how many simulated calls this machine holds at
//! once with every call completing correctly, and what the platform adds to each
//! model turn. Calls run through the real server (HTTP injection, sessions,
//! simulated carrier, store) against a zero-latency scripted language model.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_domain::call::CallRecord;
use switchboard_testkit::llm::ScriptedLlm;
use tokio::sync::oneshot;

use crate::scratch_db::Database;
use crate::server::BenchServer;
use switchboard::Config;

/// What to run.
#[derive(Debug, Clone)]
pub struct CallBenchOptions {
    /// A PostgreSQL server to run on (in a fresh database, dropped at the
    /// end); default a SQLite file in a temporary folder.
    pub database_url: Option<String>,
    /// Numbers of concurrent calls to try, in order; the run stops at the first
    /// that does not complete correctly.
    pub steps: Vec<usize>,
    /// Caller turns per call.
    pub turns: usize,
    /// Call time per wall time on the simulated carrier.
    pub clock_speed: f64,
}

/// One step of the ramp.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub calls: usize,
    /// The most calls live at once, sampled from the registry.
    pub peak_live: usize,
    pub correct: usize,
    pub failures: Vec<String>,
    pub wall_seconds: f64,
    pub turns_measured: usize,
    /// From the caller's last word reaching the session to the first audio of
    /// the answer playing, in ms.
    pub turn_ms_p50: u64,
    pub turn_ms_p99: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallBenchReport {
    pub database: String,
    pub build: &'static str,
    pub clock_speed: f64,
    pub turns: usize,
    pub steps: Vec<StepReport>,
    /// The largest step where every call completed correctly.
    pub sustained: usize,
}

/// Inbound-call injections the harness keeps in flight at once.
const INJECTIONS_IN_FLIGHT: usize = 256;

const BUILD: &str = if cfg!(debug_assertions) { "debug" } else { "release" };

/// Runs the ramp and prints the report (JSON with `json`).
pub async fn run_and_print(options: &CallBenchOptions, json: bool) -> anyhow::Result<()> {
    let report = run(options).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "switchboard-bench calls — {} build, {}, {} turns a call, call clock ×{}",
        report.build, report.database, report.turns, report.clock_speed
    );
    println!(
        "{:>7} {:>9} {:>8} {:>7} {:>12} {:>12}",
        "calls", "peak live", "correct", "wall s", "turn p50 ms", "turn p99 ms"
    );
    for s in &report.steps {
        println!(
            "{:>7} {:>9} {:>8} {:>7.1} {:>12} {:>12}",
            s.calls, s.peak_live, s.correct, s.wall_seconds, s.turn_ms_p50, s.turn_ms_p99
        );
        for failure in s.failures.iter().take(5) {
            println!("        ! {failure}");
        }
    }
    println!("sustained: {} concurrent calls with every call correct", report.sustained);
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
    let llm = ScriptedLlm::start(Vec::new()).await;
    let server = Server::start(database.url(), &llm, options.clock_speed).await?;
    let mut steps = Vec::new();
    let mut sustained = 0;
    for &calls in &options.steps {
        let step = server.step(calls, options.turns).await?;
        let all_correct = step.correct == calls;
        steps.push(step);
        if !all_correct {
            break;
        }
        sustained = calls;
    }
    server.stop().await?;
    Ok(CallBenchReport {
        database: database.label(),
        build: BUILD,
        clock_speed: options.clock_speed,
        turns: options.turns,
        steps,
        sustained,
    })
}

struct Server {
    server: BenchServer,
    agent: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(database_url: &str, llm: &ScriptedLlm, clock_speed: f64) -> anyhow::Result<Self> {
        let mut config = Config { dev: true, database_url: database_url.to_owned(), ..Config::default() };
        config.runtime.clock_speed = clock_speed;
        config.llm.base_url = Some(llm.base_url());
        let server = BenchServer::start(config, "Bench calls", 1_000_000.0).await?;
        let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(256).build()?;
        let agent_body = json!({"name": "Bench agent", "first_message": "Hello, you are through to the bench.",
                                "silence_timeout_seconds": 600, "max_duration": 7200});
        let created =
            client.post(format!("{}/v1/agents", server.base)).bearer_auth(&server.key).json(&agent_body).send().await?;
        let created: Value = created.json().await?;
        let agent = created["id"].as_str().context("agent not created")?.to_owned();
        Ok(Server { server, agent, client })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }

    /// Starts `calls` inbound calls at once and checks every one of them.
    async fn step(&self, calls: usize, turns: usize) -> anyhow::Result<StepReport> {
        let mut script: Vec<Value> =
            (0..turns).map(|i| json!({"say": format!("Question number {i}, please answer it.")})).collect();
        script.push(json!({"hangup": true}));
        let body = json!({"agent_id": self.agent, "from": "+31612345678", "script": script});
        let started = Instant::now();
        let sampler = self.sample_live();
        let mut injections = tokio::task::JoinSet::new();
        // Injections in flight are bounded so the harness's own sockets do not
        // run into the file-descriptor limit; the calls themselves all overlap.
        let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(INJECTIONS_IN_FLIGHT));
        for _ in 0..calls {
            let (client, url, key, body) = (
                self.client.clone(),
                format!("{}/v1/simulator/calls", self.server.base),
                self.server.key.clone(),
                body.clone(),
            );
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
        self.wait_until_quiet(Duration::from_secs(600)).await;
        let peak_live = sampler.stop().await;
        let wall_seconds = started.elapsed().as_secs_f64();
        let mut turn_ms = Vec::new();
        let mut correct = 0;
        for id in &ids {
            let call = self.stored_end(id).await?;
            match check_call(&call, turns) {
                Ok(()) => correct += 1,
                Err(problem) => failures.push(format!("{id}: {problem}")),
            }
            turn_ms.extend(call.latency.turns.iter().map(|turn| turn.tts_ttfb_ms));
        }
        Ok(StepReport {
            calls,
            peak_live,
            correct,
            failures,
            wall_seconds,
            turns_measured: turn_ms.len(),
            turn_ms_p50: percentile(&mut turn_ms, 50.0),
            turn_ms_p99: percentile(&mut turn_ms, 99.0),
        })
    }

    /// A call once its end is stored (the registry lets go just before).
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

    /// Waits until no call of the org is live.
    async fn wait_until_quiet(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.server.state.calls.directory().count_for_org(&self.server.org_id) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Samples how many calls are live, every 20 ms, until stopped.
    fn sample_live(&self) -> Sampler {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (live, org) = (self.server.state.calls.directory().clone(), self.server.org_id.clone());
        let task = tokio::spawn(async move {
            let mut peak = 0;
            loop {
                peak = peak.max(live.count_for_org(&org));
                tokio::select! {
                    _ = &mut stopped => return peak,
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
        });
        Sampler { stop, task }
    }
}

struct Sampler {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<usize>,
}

impl Sampler {
    async fn stop(self) -> usize {
        self.stop.send(()).ok();
        self.task.await.unwrap_or(0)
    }
}

/// A call completed correctly: answered, every turn answered by the model and
/// heard by the caller, ended by the caller.
fn check_call(call: &CallRecord, turns: usize) -> Result<(), String> {
    use switchboard_domain::call::{Brain, CallStatus, EndedReason};
    if call.status != CallStatus::Completed || call.ended_reason != Some(EndedReason::CallerHangup) {
        return Err(format!("ended {:?}/{:?}", call.status, call.ended_reason));
    }
    if call.turn_count != turns as i64 || call.brain != Brain::Llm {
        return Err(format!("{} turns on the {} brain", call.turn_count, call.brain.as_str()));
    }
    let lines = call.transcript.len();
    if lines != 1 + 2 * turns {
        return Err(format!("{lines} transcript lines"));
    }
    let heard = call.latency.turns.len();
    if heard != turns {
        return Err(format!("the caller heard {heard} of {turns} answers start"));
    }
    if call.transcript.iter().any(|line| line.content.contains("having trouble")) {
        return Err("the model failed on a turn".into());
    }
    Ok(())
}

/// The nearest-rank `p`th percentile of unsorted values.
fn percentile(values: &mut [u64], p: f64) -> u64 {
    values.sort_unstable();
    crate::load::percentile(values, p)
}
