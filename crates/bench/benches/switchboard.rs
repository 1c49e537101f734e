//! The benchmarks' command line, run by `cargo bench -p switchboard-bench --
//! <bench> [options]`: each drives the real server on this machine, on a
//! throwaway database.

use std::time::Duration;

use clap::{Parser, Subcommand};
use switchboard_bench::api::{self, BenchOptions};
use switchboard_bench::calls::{self, CallBenchOptions};
use switchboard_bench::kb::{self, KbBenchOptions};
use switchboard_bench::memory::{self, MemoryBenchOptions};
use switchboard_bench::webhooks::{self, WebhookBenchOptions};
use tracing_subscriber::EnvFilter;

/// The server binary's allocator, so memory figures are the server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "cargo bench -p switchboard-bench --",
    version,
    about = "Benchmarks of Switchboard, run on this machine"
)]
struct Cli {
    /// A PostgreSQL server to run on, in a fresh database dropped at the end
    /// (postgres://…); default a SQLite file in a temporary folder. No
    /// configured database is ever used.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Requests/s and latency of a bare axum handler, an authenticated
    /// GET /v1/agents/:id and an authenticated POST /v1/agents, on a throwaway
    /// database: a temporary SQLite file, or with --database-url postgres://…
    /// a fresh database on that server, dropped at the end. The configured
    /// database is never used.
    Api {
        /// Measured seconds per scenario (after a 1 s warm-up).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        seconds: u64,
        /// Simultaneous keep-alive clients.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        concurrency: u32,
        /// Print the JSON report on stdout (the table goes to stderr).
        #[arg(long)]
        json: bool,
        /// Also measure the store reads of an authenticated GET without HTTP.
        #[arg(long)]
        diagnose: bool,
    },
    /// Concurrent simulated calls against a zero-latency scripted language
    /// model, through the real server: for each step, N calls at once, each
    /// checked for a correct end; reports the peak of live calls and the
    /// platform-added latency per model turn (p50/p99). Stops at the first
    /// step where a call goes wrong. SQLite in a temporary folder by default.
    Calls {
        /// Concurrent calls per step, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = vec![500usize, 1000, 2000, 3000])]
        steps: Vec<usize>,
        /// Caller turns per call.
        #[arg(long, default_value_t = 6)]
        turns: usize,
        /// Call time per wall time on the simulated carrier.
        #[arg(long, default_value_t = 5.0)]
        clock_speed: f64,
        /// Seconds (real time) every call of a step must be live together.
        #[arg(long, default_value_t = 60)]
        hold: u64,
        /// Bound of the p99 turn latency, ms.
        #[arg(long, default_value_t = 20)]
        turn_p99_ms: u64,
        /// Bound of the p99 lag from a call's end to its stored record, ms.
        #[arg(long, default_value_t = 1000)]
        end_lag_p99_ms: u64,
        /// Print the JSON report.
        #[arg(long)]
        json: bool,
    },
    /// Caller memory at scale: stores --customers customers (bulk INSERTs),
    /// then measures POST /v1/calls/start through the real server (p50/p90/p99,
    /// req/s) for returning callers (ANI + external id of a random stored
    /// customer) and new callers. A temporary SQLite file by default, or with
    /// --database-url postgres://… a fresh database on that server, dropped at
    /// the end.
    Memory {
        /// Customers to store before measuring.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
        customers: u64,
        /// Measured seconds per scenario (after a 1 s warm-up).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        seconds: u64,
        /// Simultaneous keep-alive clients.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        concurrency: u32,
        /// Print the JSON report on stdout (the table goes to stderr).
        #[arg(long)]
        json: bool,
    },
    /// Knowledge-base retrieval: recall@1 and MRR of paraphrased and spoken
    /// queries over a 200+ entry FAQ, and search latency (p50/p90/p99) with
    /// the knowledge base filled to --entries. SQLite in a temporary folder by
    /// default; with --database-url postgres://… a fresh database there.
    Kb {
        /// Entries in the knowledge base for the latency run.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=50_000))]
        entries: u64,
        /// Searches timed at that size.
        #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
        searches: u64,
        /// Print the JSON report.
        #[arg(long)]
        json: bool,
    },
    /// Webhook deliveries per second from the outbox to a local receiver
    /// (a burst of --events), and the delay from an event's commit to its
    /// first attempt (p50/p99) at a steady --rate for --seconds. SQLite in a
    /// temporary folder by default; with --database-url postgres://… a fresh
    /// database there.
    Webhooks {
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        events: u64,
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        rate: u32,
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
        /// Print the JSON report.
        #[arg(long)]
        json: bool,
    },
}

/// Benchmarks ignore the configuration: only an explicit `--database-url`
/// (a PostgreSQL server to create a scratch database on) is taken.
async fn run(command: Bench, database_url: Option<String>) -> anyhow::Result<()> {
    match command {
        Bench::Api { seconds, concurrency, json, diagnose } => {
            let options = BenchOptions {
                database_url,
                duration: Duration::from_secs(seconds),
                concurrency: usize::try_from(concurrency)?,
                diagnose,
                ..BenchOptions::default()
            };
            api::run_and_print(&options, json).await
        }
        Bench::Calls { steps, turns, clock_speed, hold, turn_p99_ms, end_lag_p99_ms, json } => {
            // The model runs in a process of its own, so its work is not the
            // server's.
            let model = ModelProcess::start()?;
            let options = CallBenchOptions {
                database_url,
                steps,
                turns,
                clock_speed,
                hold: Duration::from_secs(hold),
                model_url: Some(model.url.clone()),
                turn_p99_bound_ms: turn_p99_ms,
                end_lag_p99_bound_ms: end_lag_p99_ms,
            };
            calls::run_and_print(&options, json).await
        }
        Bench::Memory { customers, seconds, concurrency, json } => {
            let options = MemoryBenchOptions {
                database_url,
                customers,
                duration: Duration::from_secs(seconds),
                concurrency: usize::try_from(concurrency)?,
                ..MemoryBenchOptions::default()
            };
            memory::run_and_print(&options, json).await
        }
        Bench::Kb { entries, searches, json } => {
            let options = KbBenchOptions {
                database_url,
                entries: usize::try_from(entries)?,
                searches: usize::try_from(searches)?,
            };
            kb::run_and_print(&options, json).await
        }
        Bench::Webhooks { events, rate, seconds, json } => {
            let options = WebhookBenchOptions {
                database_url,
                events: usize::try_from(events)?,
                paced_rate: rate,
                paced_seconds: seconds,
            };
            webhooks::run_and_print(&options, json).await
        }
    }
}

/// The hidden first argument that makes this binary serve the scripted model.
const SCRIPTED_MODEL: &str = "__scripted-model";

/// The scripted model served by a child process (this binary again).
struct ModelProcess {
    url: String,
    child: std::process::Child,
}

impl ModelProcess {
    fn start() -> anyhow::Result<Self> {
        use std::io::BufRead;
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .arg(SCRIPTED_MODEL)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout of the model process"))?;
        let mut url = String::new();
        std::io::BufReader::new(stdout).read_line(&mut url)?;
        Ok(ModelProcess { url: url.trim().to_owned(), child })
    }
}

impl Drop for ModelProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Serves the scripted model until stdin closes (the parent went away).
async fn serve_scripted_model() -> anyhow::Result<()> {
    let model = switchboard_testkit::llm::ScriptedLlm::start(Vec::new()).await;
    println!("{}", model.base_url());
    tokio::task::spawn_blocking(|| {
        use std::io::Read;
        std::io::stdin().read_to_end(&mut Vec::new())
    })
    .await??;
    drop(model);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some(SCRIPTED_MODEL) {
        return serve_scripted_model().await;
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    run(cli.bench, cli.database_url).await
}
