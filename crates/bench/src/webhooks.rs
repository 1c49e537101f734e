//! `switchboard-bench webhooks`: deliveries per second from the outbox to a
//! local receiver, and the delay from an event's commit to its first attempt,
//! on a throwaway SQLite or PostgreSQL database.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;
use switchboard_domain::events::EventType;
use switchboard_runtime::outbound::{OutboundClient, OutboundPolicy};
use switchboard_runtime::webhooks::{Webhooks, WorkerSettings};
use switchboard_store::events::NewEvent;
use switchboard_store::webhooks::{HookScope, NewWebhook};
use switchboard_store::{Clock, Store};
use switchboard_testkit::webhook_receiver::WebhookReceiver;

use crate::load::percentile;
use crate::scratch_db::Database;
use switchboard::admin;

#[derive(Debug, Clone)]
pub struct WebhookBenchOptions {
    /// A PostgreSQL server to run on; default a temporary SQLite file.
    pub database_url: Option<String>,
    /// Events written at once for the throughput run.
    pub events: usize,
    /// Events per second written for the latency run, and for how long.
    pub paced_rate: u32,
    pub paced_seconds: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookBenchReport {
    pub database: String,
    pub build: &'static str,
    pub concurrency: usize,
    /// Throughput run: every event written as fast as writers can, delivered.
    pub burst_events: usize,
    pub burst_seconds: f64,
    pub deliveries_per_second: f64,
    /// Latency run: events at a steady rate; commit → first attempt received.
    pub paced_events: usize,
    pub paced_rate: u32,
    pub delay_ms_p50: f64,
    pub delay_ms_p99: f64,
    pub delay_ms_max: f64,
}

const BUILD: &str = if cfg!(debug_assertions) { "debug" } else { "release" };
const WRITERS: usize = 4;

pub async fn run_and_print(options: &WebhookBenchOptions, json: bool) -> anyhow::Result<()> {
    let report =
        Database::run_with(options.database_url.as_deref(), async |database| run_on(database, options).await).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("switchboard-bench webhooks — {} build, {}", report.build, report.database);
    println!(
        "burst: {} events delivered in {:.2} s = {:.0} deliveries/s ({} in flight)",
        report.burst_events, report.burst_seconds, report.deliveries_per_second, report.concurrency
    );
    println!(
        "paced: {} events at {}/s, commit → first attempt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        report.paced_events, report.paced_rate, report.delay_ms_p50, report.delay_ms_p99, report.delay_ms_max
    );
    Ok(())
}

async fn run_on(database: &Database, options: &WebhookBenchOptions) -> anyhow::Result<WebhookBenchReport> {
    if options.events == 0 || options.paced_rate == 0 {
        bail!("give at least one event and a rate above zero");
    }
    let store = Store::connect(database.url(), Clock::system()).await.context("cannot open the bench database")?;
    store.migrate().await.context("cannot migrate the bench database")?;
    let boot = admin::bootstrap(&store, "Bench", 0.0).await?;
    let receiver = WebhookReceiver::start().await;
    let hook = NewWebhook { url: receiver.url("/bench"), events: vec!["*".into()], description: None, enabled: true };
    store.create_webhook(HookScope { org_id: &boot.org_id, project_id: None }, &hook).await?;
    let client = OutboundClient::new(OutboundPolicy { allow_private: true, ..OutboundPolicy::default() })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let settings = WorkerSettings::default();
    let concurrency = settings.concurrency;
    let worker = Webhooks::new(store.clone(), client, settings).spawn_worker();

    // Throughput: write everything at once, wait until all arrived.
    let started = Instant::now();
    let per_writer = options.events.div_ceil(WRITERS);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, org) = (store.clone(), boot.org_id.clone());
        let count = per_writer.min(options.events.saturating_sub(w * per_writer));
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
    let limit = Duration::from_secs(600);
    receiver.wait_until(limit, |d| d.len() >= options.events).await;
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
    let received = receiver.wait_until(limit, |d| d.len() >= options.events + paced_events).await;
    worker.abort();
    let mut delays: Vec<f64> = received
        .iter()
        .filter_map(|d| committed.get(d.id()).map(|at| d.at.saturating_duration_since(*at).as_secs_f64() * 1000.0))
        .collect();
    delays.sort_by(f64::total_cmp);
    store.close().await;
    Ok(WebhookBenchReport {
        database: database.label(),
        build: BUILD,
        concurrency,
        burst_events: options.events,
        burst_seconds,
        deliveries_per_second: options.events as f64 / burst_seconds,
        paced_events,
        paced_rate: options.paced_rate,
        delay_ms_p50: percentile(&delays, 50.0),
        delay_ms_p99: percentile(&delays, 99.0),
        delay_ms_max: delays.last().copied().unwrap_or(0.0),
    })
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
