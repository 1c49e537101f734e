//! `switchboard-bench api`: throughput and latency of a bare axum handler, an
//! authenticated `GET /v1/agents/:id` and an authenticated `POST /v1/agents` on the
//! real server, measured one after another in one process on a throwaway database.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use reqwest::Url;
use serde::Serialize;
use switchboard_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::load::{
    Latencies, Load, Window, error_kind, error_lines, load_average, load_average_line, load_client, run_clients,
    summarize,
};
use crate::scratch_db::Database;
use crate::server::BenchServer;
use switchboard::Config;

/// The throughput goal we report against: authenticated reads reach at least
/// this share of the bare handler's requests per second.
pub const READ_GOAL: f64 = 0.5;

/// The body `POST /v1/agents` sends.
const CREATE_BODY: &str = r#"{"name":"Bench"}"#;

/// What one run measures and for how long.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// A PostgreSQL server to create a throwaway database on; a temporary
    /// SQLite file when `None`.
    pub database_url: Option<String>,
    /// Measured time per scenario.
    pub duration: Duration,
    /// Time per scenario before measuring starts, not counted.
    pub warmup: Duration,
    /// Simultaneous clients, each with its own keep-alive connection.
    pub concurrency: usize,
    /// Also measure the store reads of an authenticated GET without HTTP.
    pub diagnose: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            database_url: None,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            concurrency: 32,
            diagnose: false,
        }
    }
}

/// The outcome of a run, printed as a table or as JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub database: String,
    pub build: &'static str,
    pub cpus: usize,
    pub concurrency: usize,
    pub warmup_seconds: f64,
    pub seconds: f64,
    /// The bench org's tier (enterprise: no per-org request limit).
    pub org_tier: &'static str,
    /// `auth.cache_ttl_ms` of the server: how long cached keys, orgs and agents
    /// are used (0: every request reads the database).
    pub cache_ttl_ms: u64,
    pub scenarios: Vec<ScenarioReport>,
    /// Authenticated read req/s divided by bare handler req/s.
    pub read_vs_bare: f64,
    pub read_goal: f64,
    pub read_goal_met: bool,
    /// Extra measurements with `--diagnose`.
    pub diagnostics: Vec<ScenarioReport>,
    /// `/proc/loadavg` (1, 5, 15 min) before and after the run: other work on
    /// the machine skews every number.
    pub load_average_before: Option<String>,
    pub load_average_after: Option<String>,
    pub notes: Vec<String>,
}

impl Report {
    /// The scenario with this id (`bare`, `get_agent`, `create_agent`).
    pub fn scenario(&self, id: &str) -> Option<&ScenarioReport> {
        self.scenarios.iter().find(|s| s.id == id)
    }
}

/// One scenario's numbers. Latencies are of successful (2xx) requests only.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub id: &'static str,
    pub name: &'static str,
    #[serde(flatten)]
    pub latencies: Latencies,
    /// CPU time of this whole process (server, load generator, SQLite) per
    /// successful request in the window; a database server's own CPU is not in it.
    pub cpu_us_per_request: Option<f64>,
}

/// Runs the benchmark and prints it: the table on stdout, or with `json` the
/// JSON report on stdout and the table on stderr.
pub async fn run_and_print(options: &BenchOptions, json: bool) -> anyhow::Result<()> {
    let report = run(options).await?;
    crate::load::print_report(&render_table(&report), &report, json)
}

/// Sets up a database and both servers, measures every scenario, tears down.
pub async fn run(options: &BenchOptions) -> anyhow::Result<Report> {
    check_options(options)?;
    Database::run_with(options.database_url.as_deref(), async |database| run_on(database, options).await).await
}

fn check_options(options: &BenchOptions) -> anyhow::Result<()> {
    if options.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if options.duration.is_zero() {
        bail!("--seconds must be at least 1");
    }
    Ok(())
}

async fn run_on(database: &Database, options: &BenchOptions) -> anyhow::Result<Report> {
    let load_average_before = load_average();
    let server = RealServer::start(database.url()).await?;
    let cache_ttl_ms = server.cache_ttl_ms;
    let measured = measure_all(&server, options).await;
    let stopped = server.stop().await;
    let (scenarios, diagnostics) = measured?;
    stopped?;
    let read_vs_bare = throughput_ratio(&scenarios, "get_agent", "bare");
    Ok(Report {
        database: database.label(),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        concurrency: options.concurrency,
        warmup_seconds: options.warmup.as_secs_f64(),
        seconds: options.duration.as_secs_f64(),
        org_tier: "enterprise",
        cache_ttl_ms,
        scenarios,
        read_vs_bare,
        read_goal: READ_GOAL,
        read_goal_met: read_vs_bare >= READ_GOAL,
        diagnostics,
        load_average_before,
        load_average_after: load_average(),
        notes: vec![
            "The bench org is set to the enterprise tier, which has no per-org request limit \
             (payg would answer 429 after 300 requests a minute)."
                .into(),
            "Load generator and servers share this process and its CPUs; every scenario \
             pays the same client-side cost."
                .into(),
            "Latency percentiles are of successful (2xx) requests; errors are counted apart.".into(),
            "CPU us/req is this process's CPU time (all threads) per successful request.".into(),
        ],
    })
}

/// The three scenarios, then (with `diagnose`) the store reads alone.
async fn measure_all(
    server: &RealServer,
    options: &BenchOptions,
) -> anyhow::Result<(Vec<ScenarioReport>, Vec<ScenarioReport>)> {
    let agent_id = server.create_agent().await?;
    let agent_json = server.fetch_agent(&agent_id).await?;
    let bare = BareServer::start(agent_json).await?;
    let bare_target = Target::Http(HttpTarget::get(bare.base.join(&format!("/v1/agents/{agent_id}"))?, None));
    let bare_result = measure("bare", "bare axum handler (no auth, no DB)", bare_target, options).await;
    let bare_stopped = bare.stop().await;
    let mut scenarios = vec![bare_result?];
    bare_stopped?;
    scenarios.push(
        measure("get_agent", "GET /v1/agents/:id (authenticated)", server.get_target(&agent_id)?, options).await?,
    );
    scenarios.push(measure("create_agent", "POST /v1/agents (authenticated)", server.create_target()?, options).await?);
    let diagnostics = if options.diagnose { diagnose(server, &agent_id, options).await? } else { Vec::new() };
    Ok((scenarios, diagnostics))
}

/// The database work of an authenticated GET, without HTTP: how fast the
/// store alone can go at the same concurrency.
async fn diagnose(server: &RealServer, agent_id: &str, options: &BenchOptions) -> anyhow::Result<Vec<ScenarioReport>> {
    let probe = |agent: Option<&str>| {
        Target::Store(StoreProbe {
            store: server.server.state.store.clone(),
            key_hash: switchboard_domain::keys::hash(&server.server.key),
            project_id: server.server.project_id.clone(),
            agent_id: agent.map(str::to_owned),
        })
    };
    Ok(vec![
        measure("store_key", "store only: key_by_hash", probe(None), options).await?,
        measure("store_key_agent", "store only: key_by_hash + agent", probe(Some(agent_id)), options).await?,
    ])
}

fn throughput_ratio(scenarios: &[ScenarioReport], id: &str, baseline: &str) -> f64 {
    let rps = |id: &str| scenarios.iter().find(|s| s.id == id).map_or(0.0, |s| s.latencies.requests_per_second);
    let base = rps(baseline);
    if base > 0.0 { rps(id) / base } else { 0.0 }
}

// ---------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------

/// The real Switchboard server with every layer, started like the test harness
/// starts it, with a bootstrapped enterprise org.
struct RealServer {
    server: BenchServer,
    base: Url,
    cache_ttl_ms: u64,
    client: reqwest::Client,
}

impl RealServer {
    async fn start(database_url: &str) -> anyhow::Result<Self> {
        let config = Config { database_url: database_url.to_owned(), ..Config::default() };
        let cache_ttl_ms = config.auth.cache_ttl_ms;
        let credits = config.billing.starting_credits;
        let server = BenchServer::start(config, "Bench", credits).await?;
        let base = Url::parse(&server.base)?;
        Ok(RealServer { server, base, cache_ttl_ms, client: load_client()? })
    }

    fn auth(&self) -> anyhow::Result<HeaderValue> {
        Ok(HeaderValue::from_str(&format!("Bearer {}", self.server.key))?)
    }

    fn get_target(&self, agent_id: &str) -> anyhow::Result<Target> {
        let url = self.base.join(&format!("/v1/agents/{agent_id}"))?;
        Ok(Target::Http(HttpTarget::get(url, Some(self.auth()?))))
    }

    fn create_target(&self) -> anyhow::Result<Target> {
        Ok(Target::Http(HttpTarget {
            method: Method::POST,
            url: self.base.join("/v1/agents")?,
            auth: Some(self.auth()?),
            body: Some(Bytes::from_static(CREATE_BODY.as_bytes())),
        }))
    }

    /// Creates the agent the read scenarios fetch; returns its id.
    async fn create_agent(&self) -> anyhow::Result<String> {
        let Target::Http(create) = self.create_target()? else {
            bail!("create target is HTTP");
        };
        let body = create.preflight(&self.client).await?;
        let agent: serde_json::Value = serde_json::from_slice(&body)?;
        agent["id"].as_str().map(str::to_owned).context("POST /v1/agents answered without an id")
    }

    /// The exact bytes `GET /v1/agents/:id` answers, for the bare handler.
    async fn fetch_agent(&self, agent_id: &str) -> anyhow::Result<Bytes> {
        let Target::Http(get) = self.get_target(agent_id)? else {
            bail!("get target is HTTP");
        };
        get.preflight(&self.client).await
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.server.stop().await
    }
}

/// A tiny router with no auth, no DB and no middleware, serving fixed bytes on
/// the same path as `GET /v1/agents/:id`.
struct BareServer {
    base: Url,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl BareServer {
    async fn start(body: Bytes) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base = Url::parse(&format!("http://{}", listener.local_addr()?))?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, bare_router(body))
                .with_graceful_shutdown(async {
                    stopped.await.ok();
                })
                .await
        });
        Ok(BareServer { base, shutdown, task })
    }

    async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.send(()).ok();
        Ok(self.task.await.context("the bare server task failed")??)
    }
}

fn bare_router(body: Bytes) -> Router {
    Router::new().route(
        "/v1/agents/{agent_id}",
        axum::routing::get(move |Path(_agent_id): Path<String>| {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        }),
    )
}

// ---------------------------------------------------------------------------
// The load generator
// ---------------------------------------------------------------------------

/// What every client of a scenario repeats.
enum Target {
    Http(HttpTarget),
    Store(StoreProbe),
}

struct HttpTarget {
    method: Method,
    url: Url,
    auth: Option<HeaderValue>,
    body: Option<Bytes>,
}

/// Direct store calls, to see the database's share of a request.
struct StoreProbe {
    store: Store,
    key_hash: String,
    project_id: String,
    agent_id: Option<String>,
}

impl HttpTarget {
    fn get(url: Url, auth: Option<HeaderValue>) -> Self {
        HttpTarget { method: Method::GET, url, auth, body: None }
    }

    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let mut req = client.request(self.method.clone(), self.url.clone());
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        if let Some(body) = &self.body {
            req = req.header(CONTENT_TYPE, "application/json").body(body.clone());
        }
        req
    }

    /// Sends once and reads the body; `Err` names the kind of error.
    async fn once(&self, client: &reqwest::Client) -> Result<(), String> {
        let response = self.request(client).send().await.map_err(error_kind)?;
        let status = response.status();
        response.bytes().await.map_err(error_kind)?;
        if status.is_success() { Ok(()) } else { Err(format!("HTTP {}", status.as_u16())) }
    }

    /// One request before measuring, so a misconfigured scenario fails loudly.
    async fn preflight(&self, client: &reqwest::Client) -> anyhow::Result<Bytes> {
        let response =
            self.request(client).send().await.with_context(|| format!("{} {} failed", self.method, self.url))?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("{} {} answered {status}: {}", self.method, self.url.path(), String::from_utf8_lossy(&body));
        }
        Ok(body)
    }
}

impl StoreProbe {
    async fn once(&self) -> Result<(), String> {
        let owner = self.store.key_by_hash(&self.key_hash).await.map_err(|e| format!("store: {e}"))?;
        if let Some(agent_id) = &self.agent_id {
            let project = owner.key.project_id.as_deref().unwrap_or(&self.project_id);
            self.store.agent(project, agent_id).await.map_err(|e| format!("store: {e}"))?;
        }
        Ok(())
    }
}

impl Target {
    async fn once(&self, client: &reqwest::Client) -> Result<(), String> {
        match self {
            Target::Http(http) => http.once(client).await,
            Target::Store(probe) => probe.once().await,
        }
    }

    async fn preflight(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        match self {
            Target::Http(http) => http.preflight(client).await.map(drop),
            Target::Store(probe) => probe.once().await.map_err(anyhow::Error::msg),
        }
    }
}

/// One load client's share of a scenario.
struct Client(Arc<Target>);

impl Load for Client {
    async fn once(&mut self, client: &reqwest::Client) -> Result<(), String> {
        self.0.once(client).await
    }
}

/// Runs one scenario: a preflight request, then `concurrency` clients for the
/// warm-up and the measured window.
async fn measure(
    id: &'static str,
    name: &'static str,
    target: Target,
    options: &BenchOptions,
) -> anyhow::Result<ScenarioReport> {
    eprintln!(
        "bench: {name}: {} s warm-up + {} s, {} clients",
        options.warmup.as_secs_f64(),
        options.duration.as_secs_f64(),
        options.concurrency
    );
    target.preflight(&load_client()?).await.with_context(|| format!("scenario {name}"))?;
    let target = Arc::new(target);
    let window = Window::after(options.warmup, options.duration);
    let clients = (0..options.concurrency).map(|_| Client(Arc::clone(&target))).collect();
    let (samples, cpu) = tokio::join!(run_clients(clients, window), cpu_during(window));
    let latencies = summarize(samples?, options.duration);
    let cpu_us_per_request =
        cpu.filter(|_| latencies.requests > 0).map(|cpu| cpu.as_secs_f64() * 1e6 / latencies.requests as f64);
    Ok(ScenarioReport { id, name, latencies, cpu_us_per_request })
}

/// The CPU time this process uses between the window's start and end.
async fn cpu_during(window: Window) -> Option<Duration> {
    tokio::time::sleep_until(window.from.into()).await;
    let start = process_cpu();
    tokio::time::sleep_until(window.until.into()).await;
    Some(process_cpu()?.saturating_sub(start?))
}

/// User + system CPU time of every thread of this process, from
/// `/proc/self/stat` (fields 14 and 15, in USER_HZ = 100 ticks); `None` off Linux.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// The human-readable report.
pub fn render_table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Switchboard API benchmark");
    let _ = writeln!(out, "  database:    {}", report.database);
    let _ = writeln!(
        out,
        "  load:        {} keep-alive clients, {} s measured per scenario after {} s warm-up",
        report.concurrency, report.seconds, report.warmup_seconds
    );
    let _ = writeln!(out, "  machine:     {} CPUs, {} build", report.cpus, report.build);
    let _ = writeln!(out, "  org tier:    {}", report.org_tier);
    let _ = writeln!(out, "  caches:      keys, orgs and agents, TTL {} ms (auth.cache_ttl_ms)", report.cache_ttl_ms);
    let load = load_average_line(report.load_average_before.as_deref(), report.load_average_after.as_deref());
    let _ = writeln!(out, "{load}");
    let _ = writeln!(out);
    write_rows(&mut out, &report.scenarios);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "authenticated read / bare handler throughput: {:.1}% (goal >= {:.0}%: {})",
        report.read_vs_bare * 100.0,
        report.read_goal * 100.0,
        if report.read_goal_met { "met" } else { "NOT met" }
    );
    if !report.diagnostics.is_empty() {
        let _ = writeln!(out, "\ndiagnostics (same concurrency, no HTTP):");
        write_rows(&mut out, &report.diagnostics);
    }
    write_errors(&mut out, report);
    let _ = writeln!(out);
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn write_rows(out: &mut String, rows: &[ScenarioReport]) {
    let _ = writeln!(
        out,
        "{:<36} {:>9} {:>7} {:>10} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "scenario", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "CPU us/req"
    );
    for row in rows {
        let s = &row.latencies;
        let _ = writeln!(
            out,
            "{:<36} {:>9} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10}",
            row.name,
            s.requests,
            s.errors,
            s.requests_per_second,
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.max_ms,
            row.cpu_us_per_request.map_or_else(|| "-".to_owned(), |us| format!("{us:.0}"))
        );
    }
}

fn write_errors(out: &mut String, report: &Report) {
    out.push_str(&error_lines(report.scenarios.iter().chain(&report.diagnostics).map(|s| (s.name, &s.latencies))));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_zero_without_a_baseline() {
        let row = |id, rps| ScenarioReport {
            id,
            name: "x",
            latencies: Latencies { requests: 1, requests_per_second: rps, ..Latencies::default() },
            cpu_us_per_request: None,
        };
        let rows = [row("bare", 1000.0), row("get_agent", 600.0)];
        assert!((throughput_ratio(&rows, "get_agent", "bare") - 0.6).abs() < 1e-9);
        assert_eq!(throughput_ratio(&rows[1..], "get_agent", "bare"), 0.0);
    }
}
