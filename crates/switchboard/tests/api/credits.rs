//! Credits and the paused-org write gate, driven through the admin commands.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard::admin;

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn credits_show_balance_tier_rate_and_limits() {
    let s = TestServer::start().await;
    let credits = s.get("/v1/credits").await;
    assert_eq!(credits.status, 200);
    assert_eq!(credits.body["balance"], 100.0);
    assert_eq!(credits.body["tier"], "payg");
    assert_eq!(credits.body["rate_per_minute"], 0.15);
    assert_eq!(credits.body["is_paused"], false);
    assert_eq!(credits.body["concurrent_limit"], 10);
    assert_eq!(credits.body["credits_expire_at"], Value::Null);
    assert!(credits.body["updated_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    admin::set_tier(s.store(), &s.boot.org_id, "growth").await.expect("set tier");
    admin::set_rate(s.store(), &s.boot.org_id, 0.25).await.expect("set rate");
    let credits = s.get("/v1/credits").await;
    assert_eq!(credits.body["tier"], "growth");
    assert_eq!(credits.body["rate_per_minute"], 0.25);
    assert_eq!(credits.body["concurrent_limit"], 100);
    // Org keys see the same org-level figures.
    let via_org = s.call(Method::GET, "/v1/credits", Some(s.org_key()), None).await;
    assert_eq!(via_org.body["tier"], "growth");
}

#[tokio::test]
async fn a_paused_org_can_read_but_not_write() {
    let s = TestServer::start().await;
    let agent = s.create_agent(json!({"name": "Before"})).await;
    admin::add_credits(s.store(), &s.boot.org_id, -100.0).await.expect("drain");
    let credits = s.get("/v1/credits").await;
    assert_eq!(credits.body["balance"], 0.0);
    assert_eq!(credits.body["is_paused"], true);

    assert_error(&s.post("/v1/agents", json!({"name": "x"})).await, 402, "INSUFFICIENT_CREDITS");
    assert_error(&s.patch(&format!("/v1/agents/{agent}"), json!({"name": "y"})).await, 402, "INSUFFICIENT_CREDITS");
    assert_error(&s.delete(&format!("/v1/agents/{agent}")).await, 402, "INSUFFICIENT_CREDITS");
    assert_eq!(s.get(&format!("/v1/agents/{agent}")).await.status, 200);
    assert_eq!(s.get("/v1/agents").await.status, 200);

    // Enterprise is never paused, whatever its balance.
    admin::set_tier(s.store(), &s.boot.org_id, "enterprise").await.expect("tier");
    let credits = s.get("/v1/credits").await;
    assert_eq!(credits.body["is_paused"], false);
    assert_eq!(credits.body["concurrent_limit"], Value::Null);
    assert_eq!(s.post("/v1/agents", json!({"name": "x"})).await.status, 201);

    // Topping up a payg org un-pauses it.
    admin::set_tier(s.store(), &s.boot.org_id, "payg").await.expect("tier");
    assert_eq!(s.post("/v1/agents", json!({"name": "x"})).await.status, 402);
    admin::add_credits(s.store(), &s.boot.org_id, 10.0).await.expect("top up");
    assert_eq!(s.post("/v1/agents", json!({"name": "x"})).await.status, 201);
}

#[tokio::test]
async fn admin_commands_refuse_bad_input() {
    let s = TestServer::start().await;
    assert!(admin::set_tier(s.store(), &s.boot.org_id, "gold").await.is_err());
    assert!(admin::set_tier(s.store(), "org_missing", "payg").await.is_err());
    assert!(admin::add_credits(s.store(), &s.boot.org_id, f64::NAN).await.is_err());
    assert!(admin::set_rate(s.store(), &s.boot.org_id, -1.0).await.is_err());
    assert!(admin::bootstrap(s.store(), " ", 100.0).await.is_err());
}

#[tokio::test]
async fn once_the_server_reports_the_org_paused_its_writes_are_refused_at_once() {
    let s = TestServer::start().await;
    s.create_agent(json!({"name": "Warm"})).await;
    // Another process (the admin command) drains the balance: this server's
    // cached org row does not know.
    let other = switchboard_store::Store::connect(&s.config.database_url, switchboard_store::Clock::system())
        .await
        .expect("a second connection");
    admin::add_credits(&other, &s.boot.org_id, -100.0).await.expect("drain");
    other.close().await;
    let credits = s.get("/v1/credits").await;
    assert_eq!(credits.body["is_paused"], true);
    assert_error(&s.post("/v1/agents", json!({"name": "After"})).await, 402, "INSUFFICIENT_CREDITS");
}
