//! Command-line interface: `serve`, `migrate`, `admin …` and `bench …`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use switchboard_store::Clock;
use tokio::net::TcpListener;

use crate::bench::{self, BenchOptions};
use crate::bench_calls::{self, CallBenchOptions};
use crate::bench_kb::{self, KbBenchOptions};
use crate::bench_memory::{self, MemoryBenchOptions};
use crate::bench_webhooks::{self, WebhookBenchOptions};
use crate::config::{Config, Role};
use crate::server::{open_store, run, shutdown_signal};
use crate::{admin, dev};

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "Self-hostable voice AI agent platform")]
pub struct Cli {
    /// Configuration file (default: ./switchboard.toml when present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://…
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API, the call runtime and the workers in one process.
    Serve {
        /// Development mode: allow http/loopback callback URLs; print a ready key.
        #[arg(long)]
        dev: bool,
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Share rate limits through this Redis.
        #[arg(long)]
        redis_url: Option<String>,
        /// What this node runs: all (default), api, runtime or worker.
        #[arg(long, value_enum)]
        role: Option<Role>,
        /// This node's id among the nodes sharing the database (default: the host name).
        #[arg(long)]
        node_id: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Operator commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Benchmarks, run on this machine.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
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
        #[arg(long, value_delimiter = ',', default_values_t = vec![250usize, 500, 1000, 2000, 3000])]
        steps: Vec<usize>,
        /// Caller turns per call.
        #[arg(long, default_value_t = 6)]
        turns: usize,
        /// Call time per wall time on the simulated carrier.
        #[arg(long, default_value_t = 5.0)]
        clock_speed: f64,
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

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an org with a default project, an org key and a project key.
    Bootstrap {
        #[arg(long)]
        org_name: String,
        /// Print JSON (the only format; accepted for scripts that pass it).
        #[arg(long)]
        json: bool,
    },
    /// Set an org's tier: payg, starter, growth or enterprise.
    SetTier {
        #[arg(long)]
        org: String,
        #[arg(long)]
        tier: String,
    },
    /// Add credits (EUR); a negative amount removes them.
    AddCredits {
        #[arg(long)]
        org: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: f64,
    },
    /// Set an org's voice rate per minute (EUR).
    SetRate {
        #[arg(long)]
        org: String,
        #[arg(long)]
        rate_per_minute: f64,
    },
    /// Set an org's monthly caller-memory quota: successful /v1/calls/start
    /// and /v1/calls/end requests per calendar month (UTC); 0 or `unlimited`
    /// removes the limit.
    SetMemoryQuota {
        #[arg(long)]
        org: String,
        /// A number of calls, 0, or `unlimited`.
        #[arg(long)]
        calls: String,
    },
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs a parsed command line.
pub async fn execute(cli: Cli) -> anyhow::Result<()> {
    let explicit_database_url = cli.database_url.clone();
    let mut config = Config::load(cli.config.as_deref()).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    if let Some(url) = cli.database_url {
        config.database_url = url;
    }
    match cli.command {
        Command::Serve { dev, listen, redis_url, role, node_id } => {
            config.dev |= dev;
            if let Some(role) = role {
                config.role = role;
            }
            if node_id.is_some() {
                config.node_id = node_id;
            }
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if redis_url.is_some() {
                config.redis_url = redis_url;
            }
            serve(config).await
        }
        Command::Migrate => {
            open_store(&config, Clock::system()).await?.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Admin { command } => {
            let store = open_store(&config, Clock::system()).await?;
            let result = match command {
                AdminCommand::Bootstrap { org_name, json: _ } => {
                    print_json(&admin::bootstrap(&store, &org_name, config.billing.starting_credits).await?)
                }
                AdminCommand::SetTier { org, tier } => print_json(&admin::set_tier(&store, &org, &tier).await?),
                AdminCommand::AddCredits { org, amount } => {
                    print_json(&admin::add_credits(&store, &org, amount).await?)
                }
                AdminCommand::SetRate { org, rate_per_minute } => {
                    print_json(&admin::set_rate(&store, &org, rate_per_minute).await?)
                }
                AdminCommand::SetMemoryQuota { org, calls } => {
                    print_json(&admin::set_memory_quota(&store, &org, &calls).await?)
                }
            };
            store.close().await;
            result
        }
        Command::Bench { command } => run_bench(command, explicit_database_url).await,
    }
}

/// Benchmarks ignore the configuration: only an explicit `--database-url`
/// (a PostgreSQL server to create a scratch database on) is taken.
async fn run_bench(command: BenchCommand, database_url: Option<String>) -> anyhow::Result<()> {
    match command {
        BenchCommand::Api { seconds, concurrency, json, diagnose } => {
            let options = BenchOptions {
                database_url,
                duration: Duration::from_secs(seconds),
                concurrency: usize::try_from(concurrency)?,
                diagnose,
                ..BenchOptions::default()
            };
            bench::run_and_print(&options, json).await
        }
        BenchCommand::Calls { steps, turns, clock_speed, json } => {
            let options = CallBenchOptions { database_url, steps, turns, clock_speed };
            bench_calls::run_and_print(&options, json).await
        }
        BenchCommand::Memory { customers, seconds, concurrency, json } => {
            let options = MemoryBenchOptions {
                database_url,
                customers,
                duration: Duration::from_secs(seconds),
                concurrency: usize::try_from(concurrency)?,
                ..MemoryBenchOptions::default()
            };
            bench_memory::run_and_print(&options, json).await
        }
        BenchCommand::Kb { entries, searches, json } => {
            let options = KbBenchOptions {
                database_url,
                entries: usize::try_from(entries)?,
                searches: usize::try_from(searches)?,
            };
            bench_kb::run_and_print(&options, json).await
        }
        BenchCommand::Webhooks { events, rate, seconds, json } => {
            let options = WebhookBenchOptions {
                database_url,
                events: usize::try_from(events)?,
                paced_rate: rate,
                paced_seconds: seconds,
            };
            bench_webhooks::run_and_print(&options, json).await
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(&config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    if config.dev {
        let store = open_store(&config, Clock::system()).await?;
        let creds = dev::credentials(&store, &config.data_dir(), config.billing.starting_credits).await?;
        store.close().await;
        println!("Switchboard (dev) listening on http://{addr}");
        println!("  API docs:     http://{addr}/docs");
        println!("  project key:  {}", creds.project_key);
        println!("  org key:      {}", creds.org_key);
        println!("  try:          curl -H 'Authorization: Bearer {}' http://{addr}/v1/agents", creds.project_key);
    } else {
        println!("Switchboard listening on http://{addr}");
    }
    tracing::info!(%addr, dev = config.dev, "listening");
    run(config, listener, shutdown_signal()).await
}
