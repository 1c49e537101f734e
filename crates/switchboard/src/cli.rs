//! Command-line interface: `serve`, `migrate` and `admin …` (benchmarks are
//! the `switchboard-bench` binary).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde::Serialize;
use switchboard_store::Clock;
use tokio::net::TcpListener;

use crate::config::{Config, Role};
use crate::server::{open_store, run, shutdown_signal};
use crate::{admin, dev, voice};

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
    /// The local voice (speech-to-text and text-to-speech sidecar).
    Voice {
        #[command(subcommand)]
        command: VoiceCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum VoiceCommand {
    /// Install the local voice sidecar from PyPI into the per-user cache (or
    /// `voice.dir`) unless it is there already; prints where it lives.
    Install,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an org with a default project, an org key and a project key.
    Bootstrap {
        /// The new org's name.
        #[arg(long)]
        org_name: String,
        /// Print JSON (the only format; accepted for scripts that pass it).
        #[arg(long)]
        json: bool,
    },
    /// Print the keys of the development org that `serve --dev` uses (creating
    /// it if this database has none yet), as JSON.
    DevKeys {
        /// Mint new keys for the dev org and revoke the old ones.
        #[arg(long)]
        rotate: bool,
    },
    /// List every org of this database with its tier and balance, as JSON.
    ListOrgs,
    /// Set an org's tier: payg, starter, growth or enterprise.
    SetTier {
        /// The org's id (`org_…`).
        #[arg(long)]
        org: String,
        /// payg, starter, growth or enterprise.
        #[arg(long)]
        tier: String,
    },
    /// Add credits (EUR); a negative amount removes them.
    AddCredits {
        /// The org's id (`org_…`).
        #[arg(long)]
        org: String,
        /// EUR to add; negative to remove.
        #[arg(long, allow_hyphen_values = true)]
        amount: f64,
    },
    /// Set an org's voice rate per minute (EUR).
    SetRate {
        /// The org's id (`org_…`).
        #[arg(long)]
        org: String,
        /// EUR per minute of call.
        #[arg(long)]
        rate_per_minute: f64,
    },
    /// Set an org's monthly caller-memory quota: successful /v1/calls/start
    /// and /v1/calls/end requests per calendar month (UTC); 0 or `unlimited`
    /// removes the limit.
    SetMemoryQuota {
        /// The org's id (`org_…`).
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
    let dev = matches!(cli.command, Command::Serve { dev: true, .. });
    let mut config = Config::load(cli.config.as_deref(), dev).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
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
        Command::Voice { command: VoiceCommand::Install } => {
            println!("{}", voice::install(&config).await?.display());
            Ok(())
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
                AdminCommand::DevKeys { rotate } => {
                    let (dir, credits) = (config.data_dir(), config.billing.starting_credits);
                    print_json(&if rotate {
                        dev::rotate(&store, &dir, credits).await?
                    } else {
                        dev::credentials(&store, &dir, credits).await?
                    })
                }
                AdminCommand::ListOrgs => print_json(&admin::list_orgs(&store).await?),
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
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(&config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    if config.dev {
        // A person is watching: the first start installs the voice in the
        // foreground, with its progress; later starts find it at once.
        if config.voice.settings().needs_sidecar() && config.role.runs_calls() {
            voice::install(&config).await?;
        }
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
