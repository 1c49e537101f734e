//! Roles of a node: an `api` node answers call requests with 503 and points
//! at a runtime node, a `worker` node serves only health and metrics, and
//! every node records itself in the database.

use serde_json::json;
use sqlx::Row;
use switchboard::config::Role;

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn an_api_node_serves_the_api_but_runs_no_calls() {
    let s = TestServer::start_with(|c| c.role = Role::Api).await;
    let agent = s.create_agent(json!({"name": "A"})).await;
    let placed = s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612345678"})).await;
    assert_error(&placed, 503, "RUNTIME_UNAVAILABLE");
    let injected =
        s.post("/v1/simulator/calls", json!({"agent_id": agent, "from": "+31612345678", "script": []})).await;
    assert_error(&injected, 503, "RUNTIME_UNAVAILABLE");
    assert_error(&s.post("/v1/test/voice", json!({"agent_id": agent})).await, 503, "RUNTIME_UNAVAILABLE");
    assert_eq!(s.get("/v1/calls").await.status, 200);
}

#[tokio::test]
async fn a_worker_node_serves_health_and_metrics_only_and_every_node_is_recorded() {
    let s = TestServer::start_with(|c| {
        c.role = Role::Worker;
        c.node_id = Some("worker-1".into());
    })
    .await;
    assert_error(&s.get("/v1/agents").await, 404, "NOT_FOUND");
    let health = s.call(reqwest::Method::GET, "/v1/health", None, None).await;
    assert_eq!(health.body["status"], "healthy");
    assert_eq!(s.request(reqwest::Method::GET, "/metrics").send().await.expect("metrics").status(), 200);

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&s.config.database_url).await.expect("database");
    let row = sqlx::query("SELECT role FROM nodes WHERE id = 'worker-1'").fetch_one(&pool).await.expect("node row");
    assert_eq!(row.get::<String, _>("role"), "worker");
    pool.close().await;
}
