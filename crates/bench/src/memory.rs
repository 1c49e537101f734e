//! `switchboard-bench memory`: `POST /v1/calls/start` latency and throughput
//! through the real HTTP server with many remembered customers (1,000,000 by
//! default), loaded first with bulk INSERTs. Two scenarios: returning callers
//! (ANI + external id of a random stored customer, scored `very_high`) and
//! new callers (an unseen number: a customer is created).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_domain::memory::VariableWrite;
use switchboard_domain::memory::customer_ref::new_customer_ref;
use switchboard_domain::memory::hints::{Identifier, IdentifierKind};
use switchboard_store::Store;
use switchboard_store::memory::{ImportedCustomer, MemoryScope};

use crate::load::{
    Latencies, Load, Window, error_kind, error_lines, load_average, load_average_line, load_client, run_clients,
    summarize,
};
use crate::scratch_db::Database;
use crate::server::BenchServer;
use switchboard::Config;

/// Customers per import transaction.
const SEED_BATCH: u64 = 10_000;
/// Stored customer `i` calls from `+1` followed by this plus `i` (10 digits).
const STORED_NUMBERS: u64 = 2_000_000_000;
/// New callers call from numbers above this: client `c` from
/// `NEW_NUMBERS + c * 10^7` on.
const NEW_NUMBERS: u64 = 3_000_000_000;
/// The client id of the preflight request; load clients are 0..10,000.
const PREFLIGHT_CLIENT: u64 = 99_999;

/// What to run.
#[derive(Debug, Clone)]
pub struct MemoryBenchOptions {
    /// A PostgreSQL server to create a throwaway database on; a temporary
    /// SQLite file when `None`.
    pub database_url: Option<String>,
    /// Customers to store before measuring.
    pub customers: u64,
    /// Measured time per scenario.
    pub duration: Duration,
    /// Time per scenario before measuring starts, not counted.
    pub warmup: Duration,
    /// Simultaneous keep-alive clients.
    pub concurrency: usize,
}

impl Default for MemoryBenchOptions {
    fn default() -> Self {
        Self {
            database_url: None,
            customers: 1_000_000,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            concurrency: 32,
        }
    }
}

/// The outcome of a run.
#[derive(Debug, Serialize)]
pub struct MemoryBenchReport {
    pub database: String,
    pub build: &'static str,
    pub cpus: usize,
    pub customers: u64,
    /// Rows written while seeding: customers, identifiers, variables, intents.
    pub seed_rows: u64,
    pub seed_seconds: f64,
    pub concurrency: usize,
    pub seconds: f64,
    pub scenarios: Vec<Scenario>,
    pub load_average_before: Option<String>,
    pub load_average_after: Option<String>,
}

/// One scenario's numbers; latencies are of 200 responses only.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub id: &'static str,
    pub name: &'static str,
    #[serde(flatten)]
    pub latencies: Latencies,
}

/// Runs the benchmark and prints the table (and with `json` the JSON report
/// on stdout, the table on stderr).
pub async fn run_and_print(options: &MemoryBenchOptions, json: bool) -> anyhow::Result<()> {
    let report = run(options).await?;
    crate::load::print_report(&render_table(&report), &report, json)
}

/// Creates a throwaway database, seeds it, measures, drops it.
pub async fn run(options: &MemoryBenchOptions) -> anyhow::Result<MemoryBenchReport> {
    if options.concurrency == 0 || options.duration.is_zero() || options.customers == 0 {
        bail!("--customers, --seconds and --concurrency must be at least 1");
    }
    if options.customers > NEW_NUMBERS - STORED_NUMBERS {
        bail!("--customers must be at most {}", NEW_NUMBERS - STORED_NUMBERS);
    }
    Database::run_with(options.database_url.as_deref(), async |database| run_on(database, options).await).await
}

async fn run_on(database: &Database, options: &MemoryBenchOptions) -> anyhow::Result<MemoryBenchReport> {
    let load_average_before = load_average();
    let config = Config { database_url: database.url().to_owned(), ..Config::default() };
    let credits = config.billing.starting_credits;
    let server = BenchServer::start(config, "Bench", credits).await?;
    let measured = seed_and_measure(&server, options).await;
    let stopped = server.stop().await;
    let (seed_rows, seed_seconds, scenarios) = measured?;
    stopped?;
    Ok(MemoryBenchReport {
        database: database.label(),
        build: if cfg!(debug_assertions) { "debug" } else { "release" },
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        customers: options.customers,
        seed_rows,
        seed_seconds,
        concurrency: options.concurrency,
        seconds: options.duration.as_secs_f64(),
        scenarios,
        load_average_before,
        load_average_after: load_average(),
    })
}

async fn seed_and_measure(
    server: &BenchServer,
    options: &MemoryBenchOptions,
) -> anyhow::Result<(u64, f64, Vec<Scenario>)> {
    let started = Instant::now();
    let seed_rows = seed(&server.state.store, &server.org_id, &server.project_id, options.customers).await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    let mut scenarios = Vec::new();
    for kind in [Kind::Returning, Kind::New] {
        scenarios.push(measure(server, kind, options).await?);
    }
    Ok((seed_rows, seed_seconds, scenarios))
}

/// Number `i` of the stored customers.
fn stored_ani(i: u64) -> String {
    format!("+1{}", STORED_NUMBERS + i)
}

fn stored_customer_id(i: u64) -> String {
    format!("C{i:07}")
}

/// Loads `count` customers with an ANI, an external id, three variables and,
/// for one in ten, an open intent; returns the rows written.
async fn seed(store: &Store, org_id: &str, project_id: &str, count: u64) -> anyhow::Result<u64> {
    let scope = MemoryScope { org_id, project_id };
    let mut rows = 0;
    let mut next = 0;
    while next < count {
        let batch: Vec<ImportedCustomer> = (next..count.min(next + SEED_BATCH)).map(seeded_customer).collect();
        rows += batch.iter().map(|c| 1 + c.identifiers.len() + c.variables.len() + c.open_intents.len()).sum::<usize>()
            as u64;
        store.memory_import_customers(scope, &batch).await.context("cannot seed customers")?;
        next += batch.len() as u64;
        if next.is_multiple_of(100_000) || next == count {
            eprintln!("bench: {next} of {count} customers stored");
        }
    }
    Ok(rows)
}

fn seeded_customer(i: u64) -> ImportedCustomer {
    let variable = |key: &str, value: String| VariableWrite {
        key: key.into(),
        value,
        source: Some("crm_sync".into()),
        ttl_seconds: 30 * 86_400,
    };
    ImportedCustomer {
        customer_ref: new_customer_ref(),
        identifiers: vec![
            Identifier { kind: IdentifierKind::Ani, name: String::new(), value: stored_ani(i) },
            Identifier { kind: IdentifierKind::ExternalId, name: "customer_id".into(), value: stored_customer_id(i) },
        ],
        variables: vec![
            variable("name", format!("Customer {i}")),
            variable("email", format!("customer{i}@example.com")),
            variable("tier", if i.is_multiple_of(3) { "gold" } else { "standard" }.into()),
        ],
        open_intents: if i.is_multiple_of(10) { vec!["refund_request".into()] } else { Vec::new() },
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Returning,
    New,
}

impl Kind {
    fn id(self) -> &'static str {
        match self {
            Kind::Returning => "returning",
            Kind::New => "new",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Returning => "POST /v1/calls/start, returning caller",
            Kind::New => "POST /v1/calls/start, new caller",
        }
    }
}

/// What one load client sends: a unique `call_id` each time, and the hints of
/// a random stored customer or of a number never seen.
struct Requests {
    kind: Kind,
    client: u64,
    customers: u64,
    sent: u64,
    rng: u64,
}

impl Requests {
    fn new(kind: Kind, client: u64, customers: u64) -> Self {
        Requests { kind, client, customers, sent: 0, rng: 0x9E37_79B9_7F4A_7C15 ^ (client + 1) }
    }

    /// xorshift64*: enough spread to pick customers, no dependency.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn next_body(&mut self) -> Value {
        self.sent += 1;
        let call_id = format!("bench_{}_{}_{}", self.kind.id(), self.client, self.sent);
        match self.kind {
            Kind::Returning => {
                let i = self.random() % self.customers;
                json!({"call_id": call_id, "identity_hints": {"ani": stored_ani(i),
                    "external_ids": {"customer_id": stored_customer_id(i)}}, "telco": {"line_type": "mobile"}})
            }
            Kind::New => {
                let number = NEW_NUMBERS + self.client * 10_000_000 + self.sent;
                json!({"call_id": call_id, "identity_hints": {"ani": format!("+1{number}")}})
            }
        }
    }
}

/// Checks one request of the scenario, then runs every client through the
/// warm-up and the measured window.
async fn measure(server: &BenchServer, kind: Kind, options: &MemoryBenchOptions) -> anyhow::Result<Scenario> {
    eprintln!(
        "bench: {}: {} s warm-up + {} s, {} clients",
        kind.name(),
        options.warmup.as_secs_f64(),
        options.duration.as_secs_f64(),
        options.concurrency
    );
    let url = Arc::new(format!("{}/v1/calls/start", server.base));
    let auth = Arc::new(format!("Bearer {}", server.key));
    preflight(&url, &auth, kind, options.customers).await?;
    let window = Window::after(options.warmup, options.duration);
    let clients = (0..options.concurrency as u64)
        .map(|client| Client {
            url: Arc::clone(&url),
            auth: Arc::clone(&auth),
            requests: Requests::new(kind, client, options.customers),
        })
        .collect();
    let samples = run_clients(clients, window).await?;
    Ok(Scenario { id: kind.id(), name: kind.name(), latencies: summarize(samples, options.duration) })
}

/// One load client: `POST /v1/calls/start` with its own callers.
struct Client {
    url: Arc<String>,
    auth: Arc<String>,
    requests: Requests,
}

impl Load for Client {
    async fn once(&mut self, client: &reqwest::Client) -> Result<(), String> {
        let body = self.requests.next_body();
        let response = client
            .post(self.url.as_str())
            .header("authorization", self.auth.as_str())
            .json(&body)
            .send()
            .await
            .map_err(error_kind)?;
        let status = response.status();
        response.bytes().await.map_err(error_kind)?;
        if status.is_success() { Ok(()) } else { Err(format!("HTTP {}", status.as_u16())) }
    }
}

/// One request before measuring: a returning caller must be recognised.
async fn preflight(url: &str, auth: &str, kind: Kind, customers: u64) -> anyhow::Result<()> {
    let mut requests = Requests::new(kind, PREFLIGHT_CLIENT, customers);
    let response = load_client()?
        .post(url)
        .header("authorization", auth)
        .json(&requests.next_body())
        .send()
        .await
        .context("POST /v1/calls/start failed")?;
    let status = response.status();
    let body: Value = response.json().await.context("POST /v1/calls/start answered no JSON")?;
    if !status.is_success() {
        bail!("POST /v1/calls/start answered {status}: {body}");
    }
    let expected = match kind {
        Kind::Returning => "very_high",
        Kind::New => "low",
    };
    if body["identity"]["level"] != expected {
        bail!("a {} caller was scored {} instead of {expected}", kind.id(), body["identity"]);
    }
    Ok(())
}

/// The human-readable report.
pub fn render_table(report: &MemoryBenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Switchboard caller-memory benchmark");
    let _ = writeln!(out, "  database:    {}", report.database);
    let _ = writeln!(
        out,
        "  customers:   {} stored ({} rows in {:.1} s, {:.0} rows/s)",
        report.customers,
        report.seed_rows,
        report.seed_seconds,
        report.seed_rows as f64 / report.seed_seconds.max(1e-9)
    );
    let _ = writeln!(
        out,
        "  load:        {} keep-alive clients, {} s measured per scenario",
        report.concurrency, report.seconds
    );
    let _ = writeln!(out, "  machine:     {} CPUs, {} build", report.cpus, report.build);
    let load = load_average_line(report.load_average_before.as_deref(), report.load_average_after.as_deref());
    let _ = writeln!(out, "{load}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<40} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "scenario", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for row in &report.scenarios {
        let s = &row.latencies;
        let _ = writeln!(
            out,
            "{:<40} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            row.name, s.requests, s.errors, s.requests_per_second, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms
        );
    }
    out.push_str(&error_lines(report.scenarios.iter().map(|s| (s.name, &s.latencies))));
    let _ = writeln!(out, "\nnote: load generator and server share this process and its CPUs.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_numbers_are_e164_and_distinct_from_new_ones() {
        assert_eq!(stored_ani(0), "+12000000000");
        assert_eq!(stored_ani(999_999), "+12000999999");
        assert!(switchboard_domain::phone::E164::parse(&stored_ani(999_999)).is_some());
        let mut new = Requests::new(Kind::New, 31, 10);
        let body = new.next_body();
        let ani = body["identity_hints"]["ani"].as_str().unwrap_or_default();
        assert!(switchboard_domain::phone::E164::parse(ani).is_some(), "{ani}");
        assert!(ani > stored_ani(NEW_NUMBERS - STORED_NUMBERS - 1).as_str());
    }

    #[test]
    fn returning_callers_are_stored_customers_with_unique_call_ids() {
        let mut requests = Requests::new(Kind::Returning, 3, 1000);
        let a = requests.next_body();
        let b = requests.next_body();
        assert_ne!(a["call_id"], b["call_id"]);
        let ani = a["identity_hints"]["ani"].as_str().unwrap_or_default();
        let i: u64 = ani[2..].parse::<u64>().unwrap_or(u64::MAX) - STORED_NUMBERS;
        assert!(i < 1000);
        assert_eq!(a["identity_hints"]["external_ids"]["customer_id"], stored_customer_id(i));
    }
}
