//! `switchboard-bench webhooks`: deliveries per second from the outbox to a
//! receiver that only counts, beside a minimal signing sender pushing the same
//! bodies to the same receiver at the same per-endpoint concurrency (the
//! ceiling of this machine), and the delay from an event's commit to its first
//! attempt at a steady rate; on a throwaway SQLite or PostgreSQL database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;
use switchboard_domain::events::EventType;
use switchboard_runtime::outbound::{OutboundClient, OutboundPolicy, signature_headers};
use switchboard_runtime::webhooks::{Webhooks, WorkerSettings};
use switchboard_store::events::NewEvent;
use switchboard_store::webhooks::{HookScope, NewWebhook};
use switchboard_store::{Clock, Store};

use crate::load::percentile;
use crate::receiver::CountingReceiver;
use crate::scratch_db::Database;
use switchboard::admin;

#[derive(Debug, Clone)]
pub struct WebhookBenchOptions {
    /// A PostgreSQL server to run on; default a temporary SQLite file.
    pub database_url: Option<String>,
    /// Events written before the clock starts, for the throughput run.
    pub events: usize,
    /// Events per second written for the latency run, and for how long.
    pub paced_rate: u32,
    pub paced_seconds: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookBenchReport {
    pub database: String,
    pub build: &'static str,
    /// Deliveries the worker has out at once, and to one endpoint.
    pub concurrency: usize,
    pub per_endpoint: usize,
    /// Throughput run: every event committed first, then delivered.
    pub burst_events: usize,
    pub burst_seconds: f64,
    pub deliveries_per_second: f64,
    /// The minimal signing sender on the same bodies, at `per_endpoint`.
    pub ceiling_per_second: f64,
    /// `deliveries_per_second / ceiling_per_second`.
    pub ratio: f64,
    /// Latency run: events at a steady rate; commit → first attempt received.
    pub paced_events: usize,
    pub paced_rate: u32,
    pub delay_ms_p50: f64,
    pub delay_ms_p99: f64,
    pub delay_ms_max: f64,
}

const BUILD: &str = if cfg!(debug_assertions) { "debug" } else { "release" };
const WRITERS: usize = 4;
/// How long any phase may take before the bench gives up.
const LIMIT: Duration = Duration::from_secs(600);

pub async fn run_and_print(options: &WebhookBenchOptions, json: bool) -> anyhow::Result<()> {
    let report = run(options).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("switchboard-bench webhooks — {} build, {}", report.build, report.database);
    println!(
        "burst: {} events delivered in {:.2} s = {:.0} deliveries/s ({} out at once, {} per endpoint)",
        report.burst_events,
        report.burst_seconds,
        report.deliveries_per_second,
        report.concurrency,
        report.per_endpoint
    );
    println!(
        "ceiling: a minimal signing sender, same bodies and receiver, {} at once: {:.0}/s; platform/ceiling = {:.2}",
        report.per_endpoint, report.ceiling_per_second, report.ratio
    );
    println!(
        "paced: {} events at {}/s, commit → first attempt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        report.paced_events, report.paced_rate, report.delay_ms_p50, report.delay_ms_p99, report.delay_ms_max
    );
    Ok(())
}

/// Runs the bench on a fresh database.
pub async fn run(options: &WebhookBenchOptions) -> anyhow::Result<WebhookBenchReport> {
    if options.events == 0 || options.paced_rate == 0 {
        bail!("give at least one event and a rate above zero");
    }
    Database::run_with(options.database_url.as_deref(), async |database| run_on(database, options).await).await
}

async fn run_on(database: &Database, options: &WebhookBenchOptions) -> anyhow::Result<WebhookBenchReport> {
    let store = Store::connect(database.url(), Clock::system()).await.context("cannot open the bench database")?;
    store.migrate().await.context("cannot migrate the bench database")?;
    let boot = admin::bootstrap(&store, "Bench", 0.0).await?;
    let receiver = CountingReceiver::start().await?;
    let url = receiver.url();
    let hook = NewWebhook { url: url.clone(), events: vec!["*".into()], description: None, enabled: true };
    let hook = store.create_webhook(HookScope { org_id: &boot.org_id, project_id: None }, &hook).await?;
    let client = OutboundClient::new(OutboundPolicy { allow_private: true, ..OutboundPolicy::default() })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let settings = WorkerSettings::default();
    let (concurrency, per_endpoint) = (settings.concurrency, settings.per_endpoint);

    // Throughput: every event committed before the worker starts.
    write_events(&store, &boot.org_id, options.events).await?;
    let worker = Webhooks::new(store.clone(), client, settings).spawn_worker();
    let started = Instant::now();
    receiver.wait_for(options.events, LIMIT).await?;
    let burst_seconds = started.elapsed().as_secs_f64();

    // Latency: a steady stream, each event's commit time kept.
    let paced_events = options.paced_rate as usize * options.paced_seconds.max(1) as usize;
    let mut committed = HashMap::with_capacity(paced_events);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(options.paced_rate)));
    for i in 0..paced_events {
        tick.tick().await;
        let id = store.emit_event(event(&boot.org_id, i)).await?;
        committed.insert(id, Instant::now());
    }
    receiver.wait_for(options.events + paced_events, LIMIT).await?;
    worker.abort();
    let mut delays: Vec<f64> = receiver
        .arrivals()
        .iter()
        .filter_map(|(id, at)| committed.get(id).map(|c| at.saturating_duration_since(*c).as_secs_f64() * 1000.0))
        .collect();
    delays.sort_by(f64::total_cmp);

    // The ceiling: the same bodies, signed with the same secret, sent as fast
    // as a bare client can to the same receiver.
    let bodies: Vec<(String, Bytes)> = (0..options.events)
        .map(|i| {
            let id = format!("whe_ceiling{i}");
            let body = json!({"id": id, "event": "sms.sent", "data": event(&boot.org_id, i).data});
            (id, Bytes::from(body.to_string()))
        })
        .collect();
    let before = receiver.count();
    let started = Instant::now();
    minimal_sender(&url, &hook.secret, bodies, per_endpoint).await?;
    receiver.wait_for(before + options.events, LIMIT).await?;
    let ceiling_seconds = started.elapsed().as_secs_f64();

    store.close().await;
    let deliveries_per_second = options.events as f64 / burst_seconds;
    let ceiling_per_second = options.events as f64 / ceiling_seconds;
    Ok(WebhookBenchReport {
        database: database.label(),
        build: BUILD,
        concurrency,
        per_endpoint,
        burst_events: options.events,
        burst_seconds,
        deliveries_per_second,
        ceiling_per_second,
        ratio: deliveries_per_second / ceiling_per_second,
        paced_events,
        paced_rate: options.paced_rate,
        delay_ms_p50: percentile(&delays, 50.0),
        delay_ms_p99: percentile(&delays, 99.0),
        delay_ms_max: delays.last().copied().unwrap_or(0.0),
    })
}

/// Commits `count` events from a few writers at once.
async fn write_events(store: &Store, org: &str, count: usize) -> anyhow::Result<()> {
    let per_writer = count.div_ceil(WRITERS);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, org) = (store.clone(), org.to_owned());
        let count = per_writer.min(count.saturating_sub(w * per_writer));
        writers.push(tokio::spawn(async move {
            for i in 0..count {
                store.emit_event(event(&org, i)).await?;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    Ok(())
}

/// Signs and POSTs every body, `concurrency` at once, with a plain client.
async fn minimal_sender(
    url: &str,
    secret: &str,
    bodies: Vec<(String, Bytes)>,
    concurrency: usize,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let url = Arc::<str>::from(url);
    let failures = futures_util::stream::iter(bodies)
        .map(|(id, body)| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let timestamp = Clock::system().now_ms() / 1000;
                let headers = signature_headers(secret, &id, timestamp, &body).ok()?;
                let mut request = client.post(&*url).header("content-type", "application/json");
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let ok = request.body(body).send().await.is_ok_and(|r| r.status().is_success());
                (!ok).then_some(())
            }
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(std::future::ready)
        .count()
        .await;
    if failures > 0 {
        bail!("the minimal sender failed {failures} times");
    }
    Ok(())
}

fn event(org: &str, i: usize) -> NewEvent {
    NewEvent {
        event: EventType::SmsSent,
        org_id: org.to_owned(),
        project_id: None,
        agent_id: None,
        call_id: None,
        data: json!({"message_id": format!("sms_{i}"), "to": "+31612345678", "cost_eur": 0.14}),
    }
}
