//! `POST /v1/sms` through the real server: sender and price by destination
//! country, the limits on the message and the sender name, long-code senders
//! that must be live numbers of the project, the debit of the credits, 402,
//! and the `sms.sent` webhook.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::phone_numbers::NumberType;
use switchboard_store::phone_numbers::NewPhoneNumber;
use switchboard_testkit::webhook_receiver::WebhookReceiver;

use crate::common::{TestServer, assert_error};

/// Buys `number` for a project through the phone-number store (its first
/// 28-day cycle is charged); returns its id.
pub async fn own_number(s: &TestServer, project_id: &str, number: &str, country: &str) -> String {
    let new = NewPhoneNumber {
        project_id: project_id.to_owned(),
        phone_number: number.to_owned(),
        country_code: country.to_owned(),
        number_type: NumberType::Local,
        address_id: None,
        city_code: None,
    };
    let bought = s.store().purchase_number(&s.boot.org_id, &new).await.expect("purchase");
    bought.expect("the number is free and paid").id
}

async fn balance(s: &TestServer) -> f64 {
    s.get("/v1/credits").await.body["balance"].as_f64().expect("balance")
}

fn assert_close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

#[tokio::test]
async fn senders_and_prices_follow_the_destination_country() {
    let s = TestServer::start().await;
    own_number(&s, &s.boot.project_id, "+14155550100", "US").await;
    let start = balance(&s).await;
    let cases = [
        ("+31612345678", None, "NL", "alphanumeric", 0.14, "Switchboard"),
        ("+4915123456789", None, "DE", "alphanumeric", 0.14, "Switchboard"),
        ("+447700900123", None, "GB", "alphanumeric", 0.09, "Switchboard"),
        ("+61406823897", None, "AU", "alphanumeric", 0.09, "Switchboard"),
        ("+14155550123", Some("+14155550100"), "US", "long_code", 0.02, "+14155550100"),
        ("+16135550123", Some("+14155550100"), "CA", "long_code", 0.02, "+14155550100"),
    ];
    let mut spent = 0.0;
    for (to, from, country, sender_type, price, shown) in cases {
        let mut body = json!({"to": to, "message": "Your table is booked for 8pm."});
        if let Some(from) = from {
            body["from_number"] = json!(from);
        }
        let resp = s.post("/v1/sms", body).await;
        assert_eq!(resp.status, 201, "{to}: {}", resp.body);
        assert_eq!(resp.body["success"], true);
        assert!(resp.body["message_id"].as_str().is_some_and(|id| id.starts_with("sms_")), "{}", resp.body);
        assert_eq!(resp.body["to"], to);
        assert_eq!(resp.body["country"], country, "{to}");
        assert_eq!(resp.body["sender_type"], sender_type, "{to}");
        assert_eq!(resp.body["cost_eur"], price, "{to}");
        assert_eq!(resp.body["from"], shown, "{to}");
        spent += price;
    }
    assert_close(balance(&s).await, start - spent);

    // An EU send that also passes from_number still goes out alphanumeric,
    // with the sender name asked for.
    let resp = s
        .post(
            "/v1/sms",
            json!({"to": "+31612345678", "message": "Hi", "from_number": "+14155550100", "sender_name": "Acme Travel"}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.body["sender_type"], "alphanumeric");
    assert_eq!(resp.body["from"], "Acme Travel");
    let delivered = s.state.channels.simulated().deliveries();
    let last = delivered.last().expect("delivered through the simulated SMS provider");
    assert_eq!(last.message.to, "+31612345678");
    assert_eq!(last.message.from.as_deref(), Some("Acme Travel"));
    assert_eq!(last.message.body, "Hi");
}

#[tokio::test]
async fn message_and_sender_name_limits() {
    let s = TestServer::start().await;
    let ok = s.post("/v1/sms", json!({"to": "+31612345678", "message": "a".repeat(160)})).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let long = s.post("/v1/sms", json!({"to": "+31612345678", "message": "a".repeat(161)})).await;
    assert_error(&long, 400, "VALIDATION_ERROR");
    assert!(long.body["details"]["message"].is_string(), "{}", long.body);
    let empty = s.post("/v1/sms", json!({"to": "+31612345678", "message": ""})).await;
    assert_error(&empty, 400, "VALIDATION_ERROR");

    let eleven = s.post("/v1/sms", json!({"to": "+31612345678", "message": "Hi", "sender_name": "Acme Travel"})).await;
    assert_eq!(eleven.status, 201, "{}", eleven.body);
    let twelve = s.post("/v1/sms", json!({"to": "+31612345678", "message": "Hi", "sender_name": "Acme Travels"})).await;
    assert_error(&twelve, 400, "VALIDATION_ERROR");
    assert!(twelve.body["details"]["sender_name"].is_string(), "{}", twelve.body);
    let symbols = s.post("/v1/sms", json!({"to": "+31612345678", "message": "Hi", "sender_name": "Acme-Co"})).await;
    assert_error(&symbols, 400, "VALIDATION_ERROR");

    let bad_to = s.post("/v1/sms", json!({"to": "0612345678", "message": "Hi"})).await;
    assert_error(&bad_to, 400, "VALIDATION_ERROR");
    assert!(bad_to.body["details"]["to"].is_string());
    let missing = s.post("/v1/sms", json!({"to": "+31612345678"})).await;
    assert_error(&missing, 400, "VALIDATION_ERROR");
    let unknown_field = s.post("/v1/sms", json!({"to": "+31612345678", "message": "Hi", "media": "x"})).await;
    assert_error(&unknown_field, 400, "VALIDATION_ERROR");
    // Nothing refused was charged.
    assert_close(balance(&s).await, 100.0 - 0.28);
}

#[tokio::test]
async fn long_codes_need_a_live_number_of_the_project() {
    let s = TestServer::start().await;
    let missing = s.post("/v1/sms", json!({"to": "+14155550123", "message": "Hi"})).await;
    assert_error(&missing, 400, "VALIDATION_ERROR");
    assert_eq!(missing.body["details"]["from_number"], "Required for messages to the US and Canada.");

    let not_owned =
        s.post("/v1/sms", json!({"to": "+14155550123", "message": "Hi", "from_number": "+14155550100"})).await;
    assert_error(&not_owned, 400, "VALIDATION_ERROR");
    assert!(not_owned.body["details"]["from_number"].is_string());

    // Another project's number is not this project's.
    let other = s.store().create_project(&s.boot.org_id, "Other", None).await.expect("project");
    own_number(&s, &other.id, "+14155550100", "US").await;
    let foreign =
        s.post("/v1/sms", json!({"to": "+14155550123", "message": "Hi", "from_number": "+14155550100"})).await;
    assert_error(&foreign, 400, "VALIDATION_ERROR");

    // A non-US/CA number of the project cannot send as a long code.
    own_number(&s, &s.boot.project_id, "+3197010000001", "NL").await;
    let dutch =
        s.post("/v1/sms", json!({"to": "+14155550123", "message": "Hi", "from_number": "+3197010000001"})).await;
    assert_error(&dutch, 400, "VALIDATION_ERROR");

    let id = own_number(&s, &s.boot.project_id, "+14155550111", "US").await;
    let start = balance(&s).await;
    let sent = s.post("/v1/sms", json!({"to": "+14155550123", "message": "Hi", "from_number": "+14155550111"})).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    s.store().release_number(&s.boot.project_id, &id).await.expect("release");
    let released =
        s.post("/v1/sms", json!({"to": "+14155550123", "message": "Hi", "from_number": "+14155550111"})).await;
    assert_error(&released, 400, "VALIDATION_ERROR");
    assert_close(balance(&s).await, start - 0.02);
}

#[tokio::test]
async fn unsupported_countries_are_refused() {
    let s = TestServer::start().await;
    for to in ["+81312345678", "+41446681800", "+5511912345678"] {
        let resp = s.post("/v1/sms", json!({"to": to, "message": "Hi"})).await;
        assert_error(&resp, 400, "UNSUPPORTED_COUNTRY");
        assert!(resp.body["message"].as_str().is_some_and(|m| m.contains("not supported")), "{}", resp.body);
    }
    assert_close(balance(&s).await, 100.0);
}

#[tokio::test]
async fn a_balance_that_cannot_pay_is_402_and_enterprise_always_pays() {
    let s = TestServer::start().await;
    switchboard::admin::add_credits(s.store(), &s.boot.org_id, -99.9).await.expect("drain to 0.10");
    let first = s.post("/v1/sms", json!({"to": "+447700900123", "message": "Hi"})).await;
    assert_eq!(first.status, 201, "0.09 of 0.10: {}", first.body);
    let second = s.post("/v1/sms", json!({"to": "+447700900123", "message": "Hi"})).await;
    assert_error(&second, 402, "INSUFFICIENT_CREDITS");
    assert_close(balance(&s).await, 0.01);
    let none_sent = s.state.channels.simulated().deliveries().len();
    assert_eq!(none_sent, 1, "the refused message never reached the provider");

    switchboard::admin::set_tier(s.store(), &s.boot.org_id, "enterprise").await.expect("enterprise");
    let enterprise = s.post("/v1/sms", json!({"to": "+31612345678", "message": "Hi"})).await;
    assert_eq!(enterprise.status, 201, "{}", enterprise.body);
    assert_close(balance(&s).await, 0.01 - 0.14);
}

#[tokio::test]
async fn sms_sent_reaches_the_webhook_and_another_project_cannot_use_the_org_key_without_a_project() {
    let rx = WebhookReceiver::start().await;
    let s = TestServer::start_with(|c| c.webhooks.poll_interval_ms = 10).await;
    let hook = s
        .call(
            Method::POST,
            "/v1/webhooks",
            Some(s.org_key()),
            Some(json!({"url": rx.url("/h"), "events": ["sms.sent"]})),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let sent = s.post("/v1/sms", json!({"to": "+31612345678", "message": "See you at 8"})).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let got = rx.wait_until(Duration::from_secs(20), |d| !d.is_empty()).await;
    let delivery = got.first().expect("sms.sent delivered");
    assert_eq!(delivery.event(), "sms.sent");
    assert_eq!(delivery.body["project_id"], s.boot.project_id.as_str());
    let data: &Value = &delivery.body["data"];
    assert_eq!(data["message_id"], sent.body["message_id"]);
    assert_eq!(data["to"], "+31612345678");
    assert_eq!(data["from"], "Switchboard");
    assert_eq!(data["country"], "NL");
    assert_eq!(data["sender_type"], "alphanumeric");
    assert_eq!(data["cost_eur"], 0.14);

    let org_only =
        s.call(Method::POST, "/v1/sms", Some(s.org_key()), Some(json!({"to": "+31612345678", "message": "x"})));
    assert_error(&org_only.await, 400, "PROJECT_ID_REQUIRED");
}

#[tokio::test]
async fn a_message_the_provider_refuses_is_refunded_and_never_reported_sent() {
    let rx = WebhookReceiver::start().await;
    let s = TestServer::start_with(|c| c.webhooks.poll_interval_ms = 10).await;
    let hook = s
        .call(
            Method::POST,
            "/v1/webhooks",
            Some(s.org_key()),
            Some(json!({"url": rx.url("/h"), "events": ["sms.sent"]})),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.body);
    let contact = s.post("/v1/contacts", json!({"phone": switchboard_runtime::messaging::UNDELIVERABLE})).await;
    let contact = contact.body["id"].as_str().expect("contact").to_owned();
    let refused =
        s.post("/v1/sms", json!({"to": switchboard_runtime::messaging::UNDELIVERABLE, "message": "Hi"})).await;
    assert_error(&refused, 422, "DELIVERY_FAILED");
    assert_close(balance(&s).await, 100.0);
    // Nothing landed in the contact's conversation, which therefore does not exist yet.
    assert_error(&s.get(&format!("/v1/contacts/{contact}/messages")).await, 404, "NOT_FOUND");
    let usage = s.get("/v1/usage").await;
    assert_eq!(usage.body["summary"]["sms_count"], 0);
    // The next message is delivered and is the only one reported.
    let sent = s.post("/v1/sms", json!({"to": "+31612345678", "message": "Hi"})).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let got = rx.wait_until(Duration::from_secs(20), |d| !d.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = if got.len() == 1 { rx.received() } else { got };
    assert_eq!(got.len(), 1, "only the delivered message fires sms.sent");
    assert_eq!(got[0].body["data"]["to"], "+31612345678");
    assert_eq!(s.get("/v1/usage").await.body["summary"]["sms_count"], 1);
}

#[tokio::test]
async fn a_message_left_sending_by_a_stopped_process_is_failed_and_refunded_once() {
    use switchboard_runtime::messaging::STALE_AFTER;
    use switchboard_store::sms::{NewSms, SmsOutcome};
    let s = TestServer::start_with(|c| c.auth.key_use_flush_seconds = 1).await;
    // As a process that paid for a message and stopped before the channel
    // answered would leave it.
    let route = switchboard_domain::sms::route("+31612345678").expect("an EU route");
    let new = NewSms {
        org_id: s.boot.org_id.clone(),
        project_id: s.boot.project_id.clone(),
        agent_id: None,
        to: "+31612345678".into(),
        from_number: None,
        sender_name: Some("Switchboard".into()),
        sender_type: route.sender_type,
        country: route.country,
        body: "Hi".into(),
        price: route.price,
        conversation: None,
    };
    let SmsOutcome::Reserved(_) = s.store().reserve_sms(&new).await.expect("reserve") else {
        panic!("the balance pays the message");
    };
    assert_close(balance(&s).await, 99.86);
    // A recent send may still be under way: it is left alone.
    assert_eq!(s.store().fail_stale_sms(STALE_AFTER.as_millis() as i64).await.expect("sweep"), 0);
    assert_close(balance(&s).await, 99.86);

    s.store().clock().advance(STALE_AFTER.as_millis() as i64 + 1000);
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while balance(&s).await < 100.0 && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_close(balance(&s).await, 100.0);
    // Settled once: no later sweep refunds it again, and it never counts as sent.
    assert_eq!(s.store().fail_stale_sms(0).await.expect("sweep"), 0);
    assert_close(balance(&s).await, 100.0);
    assert_eq!(s.get("/v1/usage").await.body["summary"]["sms_count"], 0);
    // Two servers sweeping the same message at once refund it once.
    let SmsOutcome::Reserved(_) = s.store().reserve_sms(&new).await.expect("reserve") else {
        panic!("the balance pays the message");
    };
    s.store().clock().advance(1000);
    let (a, b) = tokio::join!(s.store().fail_stale_sms(0), s.store().fail_stale_sms(0));
    assert_eq!(a.expect("sweep") + b.expect("sweep"), 1);
    assert_close(balance(&s).await, 100.0);
}
