//! `switchboard serve`: connects the store, applies migrations, builds the
//! services, starts what the node's role runs and serves until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard_api::listener::{Listener, PeerAddr};
use switchboard_api::ratelimit::RateLimiter;
use switchboard_api::state::Services;
use switchboard_api::{AppState, router, worker_router};
use switchboard_domain::voices::local_catalogue;
use switchboard_runtime::call::service::CallSettings;
use switchboard_runtime::call::transports::simulated::SimulatedCarrier;
use switchboard_runtime::call::{CallClock, CallService, LocalDirectory};
use switchboard_runtime::knowledge::KnowledgeService;
use switchboard_runtime::messaging::Channels;
use switchboard_runtime::numbers::Numbers;
use switchboard_runtime::outbound::{OutboundClient, OutboundPolicy};
use switchboard_runtime::speech::sidecar::SupervisedSidecar;
use switchboard_runtime::speech::speech_policy;
use switchboard_runtime::telephony::secrets::CarrierSecrets;
use switchboard_runtime::telephony::voice::LineVoices;
use switchboard_runtime::telephony::{Telephony, TelephonySettings};
use switchboard_runtime::webhooks::Webhooks;
use switchboard_store::journal::CallJournal;
use switchboard_store::{Clock, Store, redact};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;

/// Opens the database named by the configuration and brings its schema up to date.
pub async fn open_store(config: &Config, clock: Clock) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url, clock)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&config.database_url)))?;
    store.migrate().await.context("cannot apply migrations")?;
    Ok(store)
}

/// Builds every service the node runs and the API's state over them: the one
/// place where services and their settings meet.
pub async fn build_state(config: &Config, store: Store) -> anyhow::Result<AppState> {
    switchboard_api::metrics::install();
    let limiter = match &config.redis_url {
        Some(url) => {
            RateLimiter::redis(url).await.with_context(|| format!("cannot connect to Redis at {}", redact(url)))?
        }
        None => RateLimiter::local(),
    };
    if which_espeak().is_none() {
        tracing::warn!(
            "espeak-ng is not installed: voices are listed but audio rendering needs it (apt-get install espeak-ng)"
        );
    }
    config.memory.check().map_err(anyhow::Error::msg).context("invalid [memory] settings")?;
    let channel_settings = config.channel_settings();
    Channels::check(&channel_settings).context("invalid [email] settings")?;
    let policy = OutboundPolicy {
        allow_private: config.dev,
        allow_list: config.outbound.allow_list.clone(),
        ..OutboundPolicy::default()
    };
    let outbound = OutboundClient::new(policy.clone()).context("invalid outbound.allow_list")?;
    let calls = CallService::new(
        store.clone(),
        CallJournal::start(store.clone()),
        Arc::new(LocalDirectory::new()),
        outbound.clone(),
        Arc::new(SimulatedCarrier),
        CallSettings {
            clock: CallClock::new(config.runtime.clock_speed),
            llm: config.llm.settings(),
            memory: Some(config.memory.clone()),
            node_id: config.node_id(),
            runs_calls: config.role.runs_calls(),
        },
    );
    let voice = crate::voice::supervised(config)?;
    let voices = LineVoices::new(
        config.voice.settings(),
        voice.as_ref().map(SupervisedSidecar::subscribe),
        OutboundClient::new(speech_policy(&policy)).context("invalid outbound.allow_list")?,
    );
    let telephony = Telephony::new(
        store.clone(),
        calls.clone(),
        TelephonySettings { public_url: config.public_url.clone(), secrets: carrier_secrets(config)?, voices },
    );
    let services = Services {
        calls,
        knowledge: KnowledgeService::new(store.clone(), outbound.clone(), config.knowledge_settings()),
        webhooks: Webhooks::new(store.clone(), outbound.clone(), config.webhook_settings()),
        channels: Channels::new(&channel_settings, outbound),
        numbers: Numbers::simulated(store.clone(), config.carrier_settings()),
        voices: local_catalogue(),
        voice,
        telephony,
    };
    let state = AppState::new(store, config.api_settings(), limiter, services);
    if let Some(url) = &config.redis_url {
        state
            .cache
            .connect_redis(url)
            .await
            .with_context(|| format!("cannot subscribe to Redis at {}", redact(url)))?;
    }
    Ok(state)
}

/// Where a development server keeps the carrier secret it generated.
const DEV_CARRIER_KEY_FILE: &str = "carrier-secret.key";

/// The key that seals carrier credentials: configured, or in `--dev` generated
/// once and kept beside the database (mode 0600); `None` otherwise, and
/// imports are refused until one is set.
fn carrier_secrets(config: &Config) -> anyhow::Result<Option<CarrierSecrets>> {
    if let Some(key) = &config.carrier.secret_key {
        return CarrierSecrets::from_config(&key.0).map(Some).context("invalid carrier.secret_key");
    }
    if !config.dev {
        return Ok(None);
    }
    let dir = config.data_dir();
    let path = dir.join(DEV_CARRIER_KEY_FILE);
    let saved = || {
        let saved = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        CarrierSecrets::from_config(&saved).map(Some).with_context(|| format!("invalid key in {}", path.display()))
    };
    if path.exists() {
        return saved();
    }
    let key = CarrierSecrets::generate_key();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    match write_private(&path, &key) {
        Ok(()) => CarrierSecrets::from_config(&key).map(Some).context("generated carrier key"),
        // Another server on the same data dir wrote it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => saved(),
        Err(err) => Err(err).with_context(|| format!("cannot write {}", path.display())),
    }
}

/// Creates a file only its owner can read, whole or not at all: it is written
/// beside `path` first and linked into place, so a concurrent reader never
/// sees it half-written and an existing file is never replaced
/// (`AlreadyExists`).
#[cfg(unix)]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // Unique among writers now: no other thread of this process runs this
    // between its create and its link (nothing here awaits).
    let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_digit(), "");
    let draft = path.with_extension(format!("draft-{}-{thread}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&draft)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .and_then(|()| std::fs::hard_link(&draft, path));
    std::fs::remove_file(&draft).ok();
    written
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)?.write_all(contents.as_bytes())
}

fn which_espeak() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("espeak-ng")).find(|p| p.is_file()))
}

/// The node says it is alive every `every`: the calls it held when it stopped
/// are billed up to its last heartbeat.
fn spawn_heartbeat(store: Store, node_id: String, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(err) = store.node_heartbeat(&node_id).await {
                tracing::warn!(error = %err, "could not record the node's heartbeat");
            }
        }
    })
}

/// Periodic upkeep, by role: writing key use, forgetting idle limiter state
/// and expired cache entries (API nodes); expiring idle test sessions (call
/// runtimes); settling SMS a stopped process left `sending`, sending due
/// appointment reminders and purging expired idempotency keys (workers).
fn spawn_upkeep(config: &Config, state: AppState, flush_every: Duration) -> JoinHandle<()> {
    let role = config.role;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(flush_every);
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            rounds += 1;
            if role.serves_api() {
                if let Err(err) = state.key_use.flush(&state.store).await {
                    tracing::warn!(error = %err, "could not record key use");
                }
                if rounds.is_multiple_of(30) {
                    state.limiter.forget_idle();
                    state.auth_failures.forget_idle();
                    state.cache.sweep();
                }
            }
            if role.runs_calls() {
                state.calls.tests().expire_idle();
            }
            if role.runs_workers() {
                match switchboard_runtime::messaging::settle_stale_sms(&state.store).await {
                    Ok(n) if n > 0 => {
                        tracing::warn!(count = n, "failed and refunded SMS left sending by a stopped process")
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "could not settle stale SMS"),
                }
                if let Err(err) =
                    switchboard_runtime::appointments::reminders::send_due(&state.store, &state.channels).await
                {
                    tracing::warn!(error = %err, "could not send appointment reminders");
                }
                if rounds.is_multiple_of(30) {
                    match state.store.purge_idempotency().await {
                        Ok(n) if n > 0 => tracing::debug!(purged = n, "expired idempotency keys"),
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "could not purge idempotency keys"),
                    }
                }
            }
        }
    })
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes
/// in-flight requests, writes pending key use and closes the database.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&config, Clock::system()).await?;
    serve_with(config, store, listener, shutdown).await
}

/// Like [`run`], with an already opened store.
pub async fn serve_with(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = build_state(&config, store).await?;
    serve_state(&config, state, listener, shutdown).await
}

/// Serves prepared state (tests keep a clone to reach the services and the
/// clock), running what the node's role asks for.
pub async fn serve_state(
    config: &Config,
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let role = config.role;
    let node_id = config.node_id();
    // The last moment this node was known alive before it stopped, read
    // before this start overwrites it.
    let last_alive = state.store.node_heartbeat_at(&node_id).await.context("cannot read the node")?;
    state.store.node_started(&node_id, role.as_str()).await.context("cannot record the node")?;
    if role.runs_calls() {
        // Calls this node left open when it stopped can no longer be
        // controlled: close them, billed for the time they ran while the node
        // was alive. Other nodes' calls are theirs.
        match state.store.close_abandoned_calls(&node_id, last_alive).await {
            Ok(closed) if !closed.is_empty() => {
                tracing::warn!(count = closed.len(), node_id, "closed calls this node left open when it stopped")
            }
            Ok(_) => {}
            Err(err) => return Err(err).context("cannot close abandoned calls"),
        }
    }
    if config.dev
        && let Ok(addr) = listener.local_addr()
    {
        // Carriers reach a development server where it listens, unless told otherwise.
        state.telephony.default_public_url(&format!("http://{addr}"));
    }
    let mut tasks = vec![
        spawn_upkeep(config, state.clone(), Duration::from_secs(config.auth.key_use_flush_seconds.max(1))),
        spawn_heartbeat(state.store.clone(), node_id.clone(), config.runtime.heartbeat()),
    ];
    if role.runs_workers() {
        tasks.push(state.knowledge.spawn_worker());
        tasks.push(state.webhooks.spawn_worker());
        tasks.push(state.numbers.spawn_worker());
    }
    let app = if role.serves_api() { router(state.clone()) } else { worker_router(state.clone()) };
    tracing::info!(role = role.as_str(), node_id, "serving");
    axum::serve(Listener(listener), app.into_make_service_with_connect_info::<PeerAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed")?;
    for task in tasks {
        task.abort();
    }
    if let Err(err) = state.key_use.flush(&state.store).await {
        tracing::warn!(error = %err, "could not record key use at shutdown");
    }
    // What live calls wrote is committed before the database closes.
    state.calls.flush().await;
    state.store.close().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
