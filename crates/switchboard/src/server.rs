//! `switchboard serve`: connects the store, applies migrations, starts the
//! background tasks and serves the API until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use switchboard_api::ratelimit::RateLimiter;
use switchboard_api::{AppState, router};
use switchboard_domain::voices::local_catalogue;
use switchboard_runtime::LiveCalls;
use switchboard_runtime::call::CallClock;
use switchboard_runtime::engine::CallEngine;
use switchboard_runtime::outbound::{OutboundClient, OutboundPolicy};
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

/// Builds the shared state: store, rate limiter (Redis when configured), registry.
pub async fn build_state(config: &Config, store: Store) -> anyhow::Result<AppState> {
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
    let outbound = OutboundClient::new(OutboundPolicy {
        allow_private: config.dev,
        allow_list: config.outbound.allow_list.clone(),
        ..OutboundPolicy::default()
    })
    .context("invalid outbound.allow_list")?;
    let engine = CallEngine::new(
        store.clone(),
        LiveCalls::new(),
        CallClock::new(config.runtime.clock_speed),
        outbound,
        config.llm.settings(),
    )
    .with_memory(config.memory.clone());
    config.memory.check().map_err(anyhow::Error::msg).context("invalid [memory] settings")?;
    switchboard_runtime::channels::Channels::check(&config.api_settings().channels)
        .context("invalid [email] settings")?;
    let state = AppState::new(store, config.api_settings(), limiter, engine, local_catalogue());
    if let Some(url) = &config.redis_url {
        state
            .cache
            .connect_redis(url)
            .await
            .with_context(|| format!("cannot subscribe to Redis at {}", redact(url)))?;
    }
    Ok(state)
}

fn which_espeak() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|dir| dir.join("espeak-ng")).find(|p| p.is_file()))
}

/// Periodic upkeep: writing key use, settling SMS a stopped process left
/// `sending`, forgetting idle limiter state and expired cache entries, purging
/// expired idempotency keys.
fn spawn_upkeep(state: AppState, flush_every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(flush_every);
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            rounds += 1;
            if let Err(err) = state.key_use.flush(&state.store).await {
                tracing::warn!(error = %err, "could not record key use");
            }
            state.engine.test_sessions().expire_idle();
            match switchboard_runtime::channels::settle_stale_sms(&state.store).await {
                Ok(n) if n > 0 => {
                    tracing::warn!(count = n, "failed and refunded SMS left sending by a stopped process")
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "could not settle stale SMS"),
            }
            if rounds.is_multiple_of(30) {
                state.limiter.forget_idle();
                state.auth_failures.forget_idle();
                state.cache.sweep();
                match state.store.purge_idempotency().await {
                    Ok(n) if n > 0 => tracing::debug!(purged = n, "expired idempotency keys"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "could not purge idempotency keys"),
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

/// Serves prepared state (tests keep a clone to reach the live-call registry
/// and the clock).
pub async fn serve_state(
    config: &Config,
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Calls a previous process left open can no longer be controlled or
    // billed: close them as failed. (One node owns every call today; with
    // several nodes this must be narrowed to the node's own calls.)
    match state.store.close_abandoned_calls().await {
        Ok(closed) if !closed.is_empty() => {
            tracing::warn!(count = closed.len(), "closed calls left open by a previous run")
        }
        Ok(_) => {}
        Err(err) => return Err(err).context("cannot close abandoned calls"),
    }
    let upkeep = spawn_upkeep(state.clone(), Duration::from_secs(config.auth.key_use_flush_seconds.max(1)));
    let knowledge = state.knowledge.spawn_worker();
    let webhooks = state.webhooks.spawn_worker();
    let numbers = state.numbers.spawn_worker();
    let app = router(state.clone());
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .context("server failed")?;
    upkeep.abort();
    knowledge.abort();
    webhooks.abort();
    numbers.abort();
    if let Err(err) = state.key_use.flush(&state.store).await {
        tracing::warn!(error = %err, "could not record key use at shutdown");
    }
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
