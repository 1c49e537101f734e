//! Caller memory through the real server: `/v1/calls/start`, `/v1/calls/end`
//! (the seed's exact bodies, both forms), identity scoring, intents, variable
//! TTLs on the store's clock, duplicates, idempotency, the monthly quota,
//! `/v1/customers` (scoping, GDPR erasure) and the store API the call runtime
//! will use without HTTP, and a short run of `bench memory`.

use std::process::Command;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::memory::hints::IdentityHints;
use switchboard_domain::memory::validate::{end_request, start_request};
use switchboard_domain::memory::{LineType, MemoryRules, Recommendation};
use switchboard_store::memory::{EndOutcome, MemoryScope, StartOutcome};

use crate::common::{Resp, TestServer, assert_error, assert_sticky_error, send, test_database_url};

const ANI: &str = "+14155551234";
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

async fn start(s: &TestServer, body: Value) -> Resp {
    s.post("/v1/calls/start", body).await
}

async fn end(s: &TestServer, body: Value) -> Resp {
    s.post("/v1/calls/end", body).await
}

/// Starts a call and returns its `customer_ref`.
async fn started(s: &TestServer, body: Value) -> (String, Value) {
    let resp = start(s, body).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    (resp.body["customer_ref"].as_str().expect("customer_ref").to_owned(), resp.body)
}

async fn ended(s: &TestServer, body: Value) -> Value {
    let resp = end(s, body).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    resp.body
}

fn advance(s: &TestServer, ms: i64) {
    s.store().clock().advance(ms);
}

/// Asserts the seed's 400 body and returns its issues as (path joined by '.', message).
#[track_caller]
fn issues(resp: &Resp) -> Vec<(String, String)> {
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert_eq!(resp.body["error"], "Bad Request", "{}", resp.body);
    assert_eq!(resp.body["message"], "Validation failed", "{}", resp.body);
    assert_eq!(resp.code(), "VALIDATION_ERROR");
    resp.body["details"]["issues"]
        .as_array()
        .expect("details.issues")
        .iter()
        .map(|i| {
            let path: Vec<&str> = i["path"].as_array().expect("path").iter().filter_map(Value::as_str).collect();
            (path.join("."), i["message"].as_str().expect("message").to_owned())
        })
        .collect()
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[tokio::test]
async fn the_quick_start_first_call_then_the_same_number_a_minute_later() {
    let s = TestServer::start().await;
    let first = start(&s, json!({"call_id": "call_001", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let customer_ref = first.body["customer_ref"].as_str().expect("customer_ref").to_owned();
    assert!(is_uuid(&customer_ref), "{customer_ref}");
    assert!(first.body["call_start"].as_str().is_some_and(|t| t.len() == 24 && t.ends_with('Z')));
    assert_eq!(first.body["call_id"], "call_001");
    assert_eq!(
        first.body["identity"],
        json!({"confidence": 0.0, "level": "low", "sources": [], "recommendation": "ignore"})
    );
    assert_eq!(first.body["open_intents"], json!([]));
    assert_eq!(first.body["variables"], json!({}));

    advance(&s, 15_000);
    let end_resp = ended(
        &s,
        json!({
            "call_id": "call_001", "customer_ref": customer_ref, "intent": "demo_call", "intent_status": "resolved",
            "variables": {"name": "John Doe", "email": "john@example.com"}
        }),
    )
    .await;
    assert_eq!(end_resp["customer_ref"], customer_ref.as_str());
    assert_eq!(end_resp["call_start"], first.body["call_start"]);
    assert_eq!(end_resp["duration_seconds"], 15);
    assert_eq!(end_resp["intents_updated"], 1);
    assert_eq!(end_resp["variables_updated"], 2);
    let keys: Vec<&str> = end_resp.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 7, "exactly the seed's fields: {keys:?}");

    advance(&s, MINUTE_MS);
    let (again_ref, again) = started(&s, json!({"call_id": "call_002", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(again_ref, customer_ref);
    assert_eq!(
        again["identity"],
        json!({"confidence": 0.4, "level": "low", "sources": ["ani:unknown", "recency:1day"], "recommendation": "confirm"})
    );
    assert_eq!(again["open_intents"], json!([]), "a resolved intent is not open");
    assert_eq!(
        again["variables"],
        json!({
            "name": {"value": "John Doe", "source": null, "ttl_seconds": 2592000},
            "email": {"value": "john@example.com", "source": null, "ttl_seconds": 2592000}
        })
    );
}

#[tokio::test]
async fn the_seed_returning_customer_and_intent_attempts() {
    let s = TestServer::start().await;
    let hints = json!({"ani": ANI, "external_ids": {"customer_id": "12345"}});
    let call = |id: &str| json!({"call_id": id, "identity_hints": hints, "telco": {"line_type": "mobile"}});
    let (customer_ref, _) = started(&s, call("c1")).await;
    let advanced = ended(
        &s,
        json!({
            "call_id": "c1", "customer_ref": customer_ref,
            "intent_updates": [
                {"intent": "refund_request", "status": "open"},
                {"intent": "account_upgrade", "status": "open"}
            ],
            "variable_updates": {
                "name": {"value": "John Doe", "source": "agent_collected", "ttl_seconds": 7776000},
                "vip_tier": {"value": "Gold", "source": "crm_sync", "ttl_seconds": 2592000}
            }
        }),
    )
    .await;
    assert_eq!((advanced["intents_updated"].as_i64(), advanced["variables_updated"].as_i64()), (Some(2), Some(2)));

    advance(&s, 3_600_000);
    let (same, second) = started(&s, call("c2")).await;
    assert_eq!(same, customer_ref);
    assert_eq!(
        second["identity"],
        json!({"confidence": 0.9, "level": "very_high", "sources": ["ani:mobile", "external_id", "recency:1day"],
               "recommendation": "reuse"})
    );
    assert_eq!(
        second["variables"]["name"],
        json!({"value": "John Doe", "source": "agent_collected", "ttl_seconds": 7776000})
    );
    assert_eq!(second["variables"]["vip_tier"]["source"], "crm_sync");
    let mut open = second["open_intents"].as_array().expect("open_intents").clone();
    open.sort_by_key(|i| i["intent"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        open,
        vec![
            json!({"intent": "account_upgrade", "status": "open", "attempt_count": 1}),
            json!({"intent": "refund_request", "status": "open", "attempt_count": 1}),
        ]
    );

    // Still open after this call: two attempts. The upgrade is abandoned.
    ended(
        &s,
        json!({"call_id": "c2", "customer_ref": customer_ref, "intent_updates": [
            {"intent": "refund_request", "status": "open"},
            {"intent": "account_upgrade", "status": "abandoned"}
        ]}),
    )
    .await;
    let (_, third) = started(&s, call("c3")).await;
    assert_eq!(third["open_intents"], json!([{"intent": "refund_request", "status": "open", "attempt_count": 2}]));

    // Resolved with the seed's resolution: it leaves the list.
    ended(
        &s,
        json!({"call_id": "c3", "customer_ref": customer_ref, "intent_updates": [
            {"intent": "refund_request", "status": "resolved",
             "resolution": {"type": "processed", "external_reference": "refund_12345"}}
        ]}),
    )
    .await;
    let (_, fourth) = started(&s, call("c4")).await;
    assert_eq!(fourth["open_intents"], json!([]));

    let customer = s.get(&format!("/v1/customers/{customer_ref}")).await;
    assert_eq!(customer.status, 200, "{}", customer.body);
    let refund = customer.body["intents"]
        .as_array()
        .expect("intents")
        .iter()
        .find(|i| i["intent"] == "refund_request")
        .expect("refund_request kept in the history")
        .clone();
    assert_eq!(refund["status"], "resolved");
    assert_eq!(refund["attempt_count"], 3);
    assert_eq!(refund["resolution"], json!({"type": "processed", "external_reference": "refund_12345"}));
}

#[tokio::test]
async fn variables_expire_with_their_ttl_on_the_store_clock() {
    let s = TestServer::start().await;
    let (customer_ref, _) = started(&s, json!({"call_id": "t1", "identity_hints": {"ani": ANI}})).await;
    ended(
        &s,
        json!({
            "call_id": "t1", "customer_ref": customer_ref,
            "variables": {"name": "Ann"},
            "variable_updates": {"otp_hint": {"value": "blue", "ttl_seconds": 60},
                                 "plan": {"value": "pro", "ttl_seconds": 7776000}}
        }),
    )
    .await;
    advance(&s, 59_000);
    let (_, before) = started(&s, json!({"call_id": "t2", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(before["variables"]["otp_hint"]["value"], "blue");

    advance(&s, 1_000);
    let (_, after) = started(&s, json!({"call_id": "t3", "identity_hints": {"ani": ANI}})).await;
    let keys: Vec<&String> = after["variables"].as_object().expect("variables").keys().collect();
    assert_eq!(keys, ["name", "plan"], "an expired variable is never returned");
    let customer = s.get(&format!("/v1/customers/{customer_ref}")).await;
    assert!(customer.body["variables"]["otp_hint"].is_null(), "{}", customer.body);

    // 30 days later only the 90-day variable is left.
    advance(&s, 30 * DAY_MS);
    let (_, later) = started(&s, json!({"call_id": "t4", "identity_hints": {"ani": ANI}})).await;
    let keys: Vec<&String> = later["variables"].as_object().expect("variables").keys().collect();
    assert_eq!(keys, ["plan"]);
    assert_eq!(later["identity"]["sources"], json!(["ani:unknown"]), "t3 was 30 days ago: not recent");

    // Rewriting a key restarts its TTL.
    ended(&s, json!({"call_id": "t4", "customer_ref": customer_ref, "variables": {"name": "Ann B."}})).await;
    advance(&s, 29 * DAY_MS);
    let (_, rewritten) = started(&s, json!({"call_id": "t5", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(rewritten["variables"]["name"]["value"], "Ann B.");
    assert_eq!(rewritten["identity"]["sources"], json!(["ani:unknown"]), "29 days is not recent");
    assert_eq!(rewritten["identity"]["confidence"], 0.4);
}

#[tokio::test]
async fn validation_errors_have_the_seed_shape() {
    let s = TestServer::start().await;
    let missing = start(&s, json!({"identity_hints": {"ani": ANI}})).await;
    assert_eq!(issues(&missing), [("call_id".into(), "Required field 'call_id' is missing".into())]);
    assert!(missing.header("x-request-id").is_some());

    let no_hint = start(&s, json!({"call_id": "c", "identity_hints": {"dnis": "+18005550100"}})).await;
    assert_eq!(
        no_hint.body["details"],
        json!({"issues": [{"path": ["identity_hints"],
                           "message": "identity_hints must include ani, external_ids, or customer_ref"}]})
    );
    let long = start(&s, json!({"call_id": "x".repeat(129), "identity_hints": {"ani": "555"}})).await;
    let found = issues(&long);
    assert_eq!(found[0], ("call_id".into(), "call_id must be at most 128 characters".into()));
    assert_eq!(found[1].0, "identity_hints.ani");
    assert_eq!(start(&s, json!({"call_id": "x".repeat(128), "identity_hints": {"ani": ANI}})).await.status, 200);

    let wrong_type = start(&s, json!({"call_id": "c", "identity_hints": {"ani": 14155551234_i64}})).await;
    assert_eq!(issues(&wrong_type)[0].0, "identity_hints.ani");
    let bad_enum =
        start(&s, json!({"call_id": "c", "identity_hints": {"ani": ANI}, "telco": {"line_type": "fax"}})).await;
    assert_eq!(issues(&bad_enum)[0].0, "telco.line_type");
    let unknown = start(&s, json!({"call_id": "c", "ani": ANI, "identity_hints": {"ani": ANI}})).await;
    assert!(issues(&unknown)[0].1.contains("unknown field `ani`"), "{}", unknown.body);
    let malformed = send(
        s.request(Method::POST, "/v1/calls/start")
            .bearer_auth(s.key())
            .header("content-type", "application/json")
            .body("{\"call_id\":"),
    )
    .await;
    let found = issues(&malformed);
    assert_eq!(found[0].0, "", "a body-level issue has an empty path");
    assert!(found[0].1.starts_with("Malformed JSON"), "{found:?}");

    let bad_end = end(
        &s,
        json!({
            "call_id": "c", "customer_ref": "r",
            "intent": "i".repeat(129),
            "variables": {"k".repeat(129): "v", "big": "v".repeat(1025)},
            "variable_updates": {"forever": {"value": "v", "ttl_seconds": 7776001}}
        }),
    )
    .await;
    let paths: Vec<String> = issues(&bad_end).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        ["intent", "variables.big", &format!("variables.{}", "k".repeat(129)), "variable_updates.forever.ttl_seconds"]
    );
    let nobody = end(&s, json!({"call_id": "c"})).await;
    assert_eq!(issues(&nobody), [("customer_ref".into(), "customer_ref or identity_hints must be provided".into())]);
    let status = end(&s, json!({"call_id": "c", "customer_ref": "r", "intent_status": "closed"})).await;
    assert_eq!(issues(&status)[0].0, "intent_status");
    let usage = s.store().memory_quota(&s.boot.org_id).await.expect("quota");
    assert_eq!(usage.used, 1, "only the one successful start counts");
}

#[tokio::test]
async fn a_repeated_call_id_replays_the_same_request_and_refuses_another() {
    let s = TestServer::start().await;
    let body = json!({"call_id": "dup", "identity_hints": {"ani": ANI, "external_ids": {"crm": "1"}}});
    let first = start(&s, body.clone()).await;
    assert_eq!(first.status, 200);
    advance(&s, 5_000);
    // Same fields in another order: the same request.
    let reordered = json!({"identity_hints": {"external_ids": {"crm": "1"}, "ani": ANI}, "call_id": "dup"});
    let again = start(&s, reordered).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, first.body, "the original response, call_start included");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let other = start(&s, json!({"call_id": "dup", "identity_hints": {"ani": "+14155550000"}})).await;
    assert_sticky_error(&other, 409, "DUPLICATE_CALL_ID");

    let customer_ref = first.body["customer_ref"].as_str().expect("ref");
    let end_body = json!({"call_id": "dup", "customer_ref": customer_ref, "variables": {"a": "1"}});
    let done = end(&s, end_body.clone()).await;
    assert_eq!(done.status, 200);
    assert_eq!(done.body["duration_seconds"], 5);
    advance(&s, 5_000);
    let replay = end(&s, end_body).await;
    assert_eq!(replay.body, done.body);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let different = end(&s, json!({"call_id": "dup", "customer_ref": customer_ref, "variables": {"a": "2"}})).await;
    assert_sticky_error(&different, 409, "CALL_ALREADY_ENDED");
    let again_start = start(&s, body).await;
    assert_eq!(again_start.body, first.body, "an ended call still replays its start");

    let usage = s.store().memory_quota(&s.boot.org_id).await.expect("quota");
    assert_eq!(usage.used, 2, "one start and one end; replays and conflicts are free");
}

#[tokio::test]
async fn idempotency_key_makes_end_retries_safe() {
    let s = TestServer::start().await;
    let (customer_ref, _) = started(&s, json!({"call_id": "ik", "identity_hints": {"ani": ANI}})).await;
    let body = json!({"call_id": "ik", "customer_ref": customer_ref, "intent": "billing_inquiry"});
    let send_end = |key: &'static str, body: Value| {
        send(s.request(Method::POST, "/v1/calls/end").bearer_auth(s.key()).header("idempotency-key", key).json(&body))
    };
    let first = send_end("end_call_ik_attempt1", body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let retry = send_end("end_call_ik_attempt1", body).await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let reused = send_end("end_call_ik_attempt1", json!({"call_id": "ik", "customer_ref": customer_ref})).await;
    assert_sticky_error(&reused, 422, "IDEMPOTENCY_KEY_REUSED");
    let usage = s.store().memory_quota(&s.boot.org_id).await.expect("quota");
    assert_eq!(usage.used, 2);
}

#[tokio::test]
async fn the_monthly_quota_counts_successes_and_answers_402() {
    let s = TestServer::start().await;
    let org = s.boot.org_id.clone();
    let quota = switchboard::admin::set_memory_quota(s.store(), &org, "3").await.expect("set quota");
    assert_eq!((quota.calls_per_month, quota.used, quota.remaining), (Some(3), 0, Some(3)));

    let (customer_ref, first) = started(&s, json!({"call_id": "q1", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(start(&s, json!({"call_id": "q-bad", "identity_hints": {}})).await.status, 400);
    ended(&s, json!({"call_id": "q1", "customer_ref": customer_ref})).await;
    started(&s, json!({"call_id": "q2", "identity_hints": {"ani": ANI}})).await;

    let refused = start(&s, json!({"call_id": "q3", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(refused.status, 402, "{}", refused.body);
    assert_eq!(refused.body["error"], "Payment Required");
    assert_eq!(refused.body["message"], "Monthly quota exhausted. Your account has 0 API calls remaining.");
    assert_eq!(refused.body["quota_remaining"], 0);
    assert_eq!(refused.body["billing_account_id"], org.as_str());
    assert_eq!(refused.code(), "MEMORY_QUOTA_EXHAUSTED");
    assert_eq!(end(&s, json!({"call_id": "q2", "customer_ref": customer_ref})).await.status, 402);
    // Nothing of the refused start was kept: the call_id is still free.
    let replay = start(&s, json!({"call_id": "q1", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(replay.body, first, "a replay needs no quota");
    let status = s.store().memory_quota(&org).await.expect("quota");
    assert_eq!((status.used, status.remaining()), (3, Some(0)));

    let cleared = switchboard::admin::set_memory_quota(s.store(), &org, "unlimited").await.expect("clear");
    assert_eq!(cleared.calls_per_month, None);
    assert_eq!(start(&s, json!({"call_id": "q3", "identity_hints": {"ani": ANI}})).await.status, 200);

    // Uses while unlimited count when a quota is set again: 4 of 4 are used.
    let again = switchboard::admin::set_memory_quota(s.store(), &org, "4").await.expect("set");
    assert_eq!((again.used, again.remaining), (4, Some(0)));
    assert_eq!(start(&s, json!({"call_id": "q5", "identity_hints": {"ani": ANI}})).await.status, 402);
    // A new month starts from zero.
    advance(&s, 32 * DAY_MS);
    assert_eq!(start(&s, json!({"call_id": "q4", "identity_hints": {"ani": ANI}})).await.status, 200);
    assert_eq!(s.store().memory_quota(&org).await.expect("quota").used, 1);
}

#[tokio::test]
async fn customers_are_project_scoped_readable_and_erasable() {
    let s = TestServer::start().await;
    let (customer_ref, _) = started(
        &s,
        json!({"call_id": "g1", "identity_hints": {"ani": ANI, "dnis": "+18005550100",
               "external_ids": {"customer_id": "12345"}}, "telco": {"line_type": "mobile"}}),
    )
    .await;
    advance(&s, 30_000);
    ended(
        &s,
        json!({"call_id": "g1", "customer_ref": customer_ref, "intent": "refund_request", "intent_status": "open",
                     "variable_updates": {"name": {"value": "John Doe", "source": "agent_collected"}}}),
    )
    .await;

    let path = format!("/v1/customers/{customer_ref}");
    let got = s.get(&path).await;
    assert_eq!(got.status, 200, "{}", got.body);
    let c = &got.body;
    assert_eq!(c["customer_ref"], customer_ref.as_str());
    let mut identities = c["identities"].as_array().expect("identities").clone();
    identities.iter_mut().for_each(|i| {
        i.as_object_mut().map(|o| o.remove("created_at"));
    });
    assert_eq!(
        identities,
        vec![
            json!({"type": "ani", "name": null, "value": ANI}),
            json!({"type": "external_id", "name": "customer_id", "value": "12345"})
        ]
    );
    assert_eq!(c["variables"]["name"]["source"], "agent_collected");
    assert_eq!(c["variables"]["name"]["ttl_seconds"], 2592000);
    assert_eq!(c["intents"][0]["intent"], "refund_request");
    assert_eq!(c["intents"][0]["status"], "open");
    assert_eq!(c["recent_calls"][0]["call_id"], "g1");
    assert_eq!(c["recent_calls"][0]["dnis"], "+18005550100");
    assert_eq!(c["recent_calls"][0]["duration_seconds"], 30);

    // Org key: with X-Project-Id like every project route; another project sees nothing.
    let org_get =
        send(s.request(Method::GET, &path).bearer_auth(s.org_key()).header("x-project-id", &s.boot.project_id)).await;
    assert_eq!(org_get.status, 200);
    assert_error(&s.call(Method::GET, &path, Some(s.org_key()), None).await, 400, "PROJECT_ID_REQUIRED");
    let other = s.call(Method::POST, "/v1/org/projects", Some(s.org_key()), Some(json!({"name": "Other"}))).await;
    let other_id = other.body["id"].as_str().expect("project id").to_owned();
    let other_get =
        send(s.request(Method::GET, &path).bearer_auth(s.org_key()).header("x-project-id", &other_id)).await;
    assert_error(&other_get, 404, "NOT_FOUND");
    let other_start = send(
        s.request(Method::POST, "/v1/calls/start")
            .bearer_auth(s.org_key())
            .header("x-project-id", &other_id)
            .json(&json!({"call_id": "g1", "identity_hints": {"ani": ANI}})),
    )
    .await;
    assert_eq!(other_start.status, 200, "call_ids and callers are per project: {}", other_start.body);
    assert_ne!(other_start.body["customer_ref"], customer_ref.as_str());
    assert_eq!(other_start.body["identity"]["confidence"], 0.0);
    let other_delete =
        send(s.request(Method::DELETE, &path).bearer_auth(s.org_key()).header("x-project-id", &other_id)).await;
    assert_error(&other_delete, 404, "NOT_FOUND");

    // Erasure: everything goes, the call_id is free, the number is a stranger.
    let deleted = s.delete(&path).await;
    assert_eq!(deleted.status, 204);
    assert_error(&s.get(&path).await, 404, "NOT_FOUND");
    assert_error(&s.delete(&path).await, 404, "NOT_FOUND");
    let (fresh, again) = started(
        &s,
        json!({"call_id": "g1", "identity_hints": {"ani": ANI,
        "external_ids": {"customer_id": "12345"}}}),
    )
    .await;
    assert_ne!(fresh, customer_ref);
    assert_eq!(again["identity"]["confidence"], 0.0);
    assert_eq!(again["variables"], json!({}));
    assert_eq!(again["open_intents"], json!([]));
    assert_error(&s.get("/v1/customers/not-a-customer").await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn erasure_also_forgets_idempotent_replays_that_name_the_customer() {
    let s = TestServer::start().await;
    let start_with_key = |key: &'static str| {
        send(
            s.request(Method::POST, "/v1/calls/start")
                .bearer_auth(s.key())
                .header("idempotency-key", key)
                .json(&json!({"call_id": "e1", "identity_hints": {"ani": ANI}})),
        )
    };
    let first = start_with_key("start-e1").await;
    let customer_ref = first.body["customer_ref"].as_str().expect("ref").to_owned();
    assert_eq!(s.delete(&format!("/v1/customers/{customer_ref}")).await.status, 204);
    let after = start_with_key("start-e1").await;
    assert_eq!(after.status, 200);
    assert!(after.header("idempotent-replayed").is_none(), "the stored reply was erased too");
    assert_ne!(after.body["customer_ref"], customer_ref.as_str());
}

#[tokio::test]
async fn a_standalone_end_matches_or_creates_and_end_hints_link_identifiers() {
    let s = TestServer::start().await;
    // No start: the server creates the customer from the hints.
    let standalone = ended(
        &s,
        json!({"call_id": "batch_1", "identity_hints": {"ani": ANI, "external_ids": {"crm_id": "A7"}},
               "intent": "follow_up_required", "intent_status": "open", "variables": {"summary": "Called back"}}),
    )
    .await;
    assert_eq!(standalone["duration_seconds"], 0);
    assert_eq!(standalone["call_start"], standalone["call_end"]);
    let customer_ref = standalone["customer_ref"].as_str().expect("ref").to_owned();
    let (same, start_body) =
        started(&s, json!({"call_id": "s1", "identity_hints": {"external_ids": {"crm_id": "A7"}}})).await;
    assert_eq!(same, customer_ref);
    assert_eq!(start_body["identity"]["sources"], json!(["external_id", "recency:1day"]));
    assert_eq!(start_body["open_intents"][0]["intent"], "follow_up_required");
    assert_eq!(start_body["variables"]["summary"]["value"], "Called back");

    // Hints on an end link identifiers nobody owns: the account number now recognises the caller.
    ended(
        &s,
        json!({"call_id": "s1", "customer_ref": customer_ref,
                     "identity_hints": {"external_ids": {"account_number": "ACC-9"}}}),
    )
    .await;
    let (by_account, _) =
        started(&s, json!({"call_id": "s2", "identity_hints": {"external_ids": {"account_number": "ACC-9"}}})).await;
    assert_eq!(by_account, customer_ref);

    // A started call belongs to its customer; a standalone end needs a known customer_ref.
    let (other_ref, _) = started(&s, json!({"call_id": "s3", "identity_hints": {"ani": "+31612345678"}})).await;
    assert_ne!(other_ref, customer_ref);
    let mismatch = end(&s, json!({"call_id": "s3", "customer_ref": customer_ref})).await;
    assert_eq!(issues(&mismatch)[0].0, "customer_ref");
    let unknown = end(&s, json!({"call_id": "s9", "customer_ref": "00000000-0000-7000-8000-000000000000"})).await;
    assert_sticky_error(&unknown, 404, "NOT_FOUND");
    // An ANI owned by one customer is never moved to another.
    ended(&s, json!({"call_id": "s3", "customer_ref": other_ref, "identity_hints": {"ani": ANI}})).await;
    let (ani_owner, _) = started(&s, json!({"call_id": "s4", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(ani_owner, customer_ref);
}

#[tokio::test]
async fn customer_ref_hints_weigh_most_and_weak_matches_link_nothing() {
    let s = TestServer::start().await;
    let (customer_ref, _) = started(&s, json!({"call_id": "r1", "identity_hints": {"ani": ANI}})).await;
    let (by_ref, named) = started(&s, json!({"call_id": "r2", "identity_hints": {"customer_ref": customer_ref}})).await;
    assert_eq!(by_ref, customer_ref);
    assert_eq!(named["identity"]["confidence"], 1.0);
    assert_eq!(named["identity"]["sources"], json!(["customer_ref", "recency:1day"]));

    // A voip ANI alone is 0.2 (`ignore`): the caller's new external id is not linked to them.
    let (weak, weak_body) = started(
        &s,
        json!({"call_id": "r3", "identity_hints": {"ani": ANI, "external_ids": {"crm": "X"}},
               "telco": {"line_type": "voip"}}),
    )
    .await;
    assert_eq!(weak, customer_ref);
    assert_eq!(weak_body["identity"]["confidence"], 0.2);
    assert_eq!(weak_body["identity"]["recommendation"], "ignore");
    let (by_crm, crm_body) =
        started(&s, json!({"call_id": "r4", "identity_hints": {"external_ids": {"crm": "X"}}})).await;
    assert_ne!(by_crm, customer_ref, "an unlinked external id is a new caller");
    assert_eq!(crm_body["identity"]["confidence"], 0.0);
}

#[tokio::test]
async fn the_store_api_serves_the_call_runtime_without_http() {
    let s = TestServer::start().await;
    let store = s.store();
    let scope = MemoryScope { org_id: &s.boot.org_id, project_id: &s.boot.project_id };
    let rules = MemoryRules::default();
    let hints = IdentityHints { ani: Some(ANI.into()), line_type: LineType::Mobile, ..IdentityHints::default() };

    let nobody = store.memory_lookup(scope, &hints, &rules).await.expect("lookup");
    assert_eq!(nobody.customer_ref, None);
    assert_eq!(nobody.identity.confidence, 0.0);

    let start_body = serde_json::from_value(json!({"call_id": "rt1", "identity_hints": {"ani": ANI}})).expect("wire");
    let req = start_request(start_body).expect("valid");
    let StartOutcome::Started(started) = store.memory_start_call(scope, &req, "fp1", &rules).await.expect("start")
    else {
        panic!("not started");
    };
    let end_body = serde_json::from_value(json!({"call_id": "rt1", "customer_ref": started.customer_ref,
        "intent": "callback", "intent_status": "open", "variables": {"name": "Mia"}}))
    .expect("wire");
    let req = end_request(end_body, &rules).expect("valid");
    let outcome = store.memory_record_call(scope, &req, "fp2", &rules).await.expect("end");
    assert!(matches!(outcome, EndOutcome::Ended(ref e) if e.variables_updated == 1), "{outcome:?}");

    let found = store.memory_lookup(scope, &hints, &rules).await.expect("lookup");
    assert_eq!(found.customer_ref.as_deref(), Some(started.customer_ref.as_str()));
    assert_eq!(found.identity.confidence, 0.5);
    assert_eq!(found.identity.recommendation, Recommendation::Reuse);
    assert_eq!(found.open_intents.len(), 1);
    assert_eq!(found.variables["name"].value, "Mia");
    let usage = store.memory_quota(&s.boot.org_id).await.expect("quota");
    assert_eq!(usage.used, 2, "lookups are free; start and end count");
    let other_project = MemoryScope { org_id: &s.boot.org_id, project_id: "proj_other" };
    let elsewhere = store.memory_lookup(other_project, &hints, &rules).await.expect("lookup");
    assert_eq!(elsewhere.customer_ref, None, "another project does not see this caller");
}

#[tokio::test]
async fn scoring_follows_the_memory_settings() {
    let s = TestServer::start_with(|c| {
        c.memory.weights.ani_unknown = 0.6;
        c.memory.weights.recency = 0.1;
        c.memory.thresholds.reuse = 0.8;
        c.memory.default_ttl_seconds = 100;
    })
    .await;
    let (customer_ref, _) = started(&s, json!({"call_id": "w1", "identity_hints": {"ani": ANI}})).await;
    ended(&s, json!({"call_id": "w1", "customer_ref": customer_ref, "variables": {"a": "1"}})).await;
    let (_, again) = started(&s, json!({"call_id": "w2", "identity_hints": {"ani": ANI}})).await;
    assert_eq!(again["identity"]["confidence"], 0.7);
    assert_eq!(again["identity"]["level"], "high");
    assert_eq!(again["identity"]["recommendation"], "confirm");
    assert_eq!(again["variables"]["a"]["ttl_seconds"], 100);
}

#[tokio::test]
async fn read_only_keys_may_read_customers_but_not_record_calls() {
    let s = TestServer::start().await;
    let (customer_ref, _) = started(&s, json!({"call_id": "ro1", "identity_hints": {"ani": ANI}})).await;
    let created = s
        .call(
            Method::POST,
            &format!("/v1/org/projects/{}/api-keys", s.boot.project_id),
            Some(s.org_key()),
            Some(json!({"name": "dashboard", "scope": "read"})),
        )
        .await;
    let read_key = created.body["key"].as_str().expect("key").to_owned();
    let get = s.call(Method::GET, &format!("/v1/customers/{customer_ref}"), Some(&read_key), None).await;
    assert_eq!(get.status, 200);
    let refused = s
        .call(
            Method::POST,
            "/v1/calls/start",
            Some(&read_key),
            Some(json!({"call_id": "ro2", "identity_hints": {"ani": ANI}})),
        )
        .await;
    assert_sticky_error(&refused, 403, "READ_ONLY_KEY");
    assert_error(
        &s.call(Method::DELETE, &format!("/v1/customers/{customer_ref}"), Some(&read_key), None).await,
        403,
        "READ_ONLY_KEY",
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_memory_routes() {
    let s = TestServer::start().await;
    let doc = s.call(Method::GET, "/v1/openapi.json", None, None).await.body;
    let paths = &doc["paths"];
    assert!(paths["/v1/calls/start"]["post"].is_object());
    assert!(paths["/v1/calls/end"]["post"].is_object());
    assert!(paths["/v1/customers/{customer_ref}"]["get"].is_object());
    assert!(paths["/v1/customers/{customer_ref}"]["delete"].is_object());
    let start_400 = &paths["/v1/calls/start"]["post"]["responses"]["400"]["content"]["application/json"]["schema"];
    assert_eq!(start_400["$ref"], "#/components/schemas/MemoryErrorBody");
    let schemas = &doc["components"]["schemas"];
    for name in ["StartBody", "EndBody", "CallStartResponse", "CallEndResponse", "Customer", "MemoryErrorBody"] {
        assert!(schemas[name].is_object(), "{name} missing");
    }
    let start_200 = &paths["/v1/calls/start"]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(start_200["$ref"], "#/components/schemas/CallStartResponse");
    let response_fields = schemas["CallStartResponse"]["required"].as_array().expect("required").clone();
    assert_eq!(
        response_fields,
        ["call_id", "customer_ref", "call_start", "identity", "open_intents", "variables"].map(Value::from)
    );
    // Only what a client must send is required; optional fields may be left out.
    assert_eq!(schemas["StartBody"]["required"], json!(["call_id", "identity_hints"]));
    assert_eq!(schemas["EndBody"]["required"], json!(["call_id"]));
    assert!(schemas["IdentityHintsBody"]["required"].is_null(), "{}", schemas["IdentityHintsBody"]);
    // The platform call routes beside them still work: GET /v1/calls/{id} is untouched.
    assert_error(&s.get("/v1/calls/call_missing").await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn admin_set_memory_quota_prints_json() {
    let dir = tempfile::tempdir().expect("dir");
    let db = test_database_url(&dir).await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .current_dir(dir.path())
            .env("SWITCHBOARD_DATABASE_URL", &db)
            .env("SWITCHBOARD_LOG", "warn")
            .output()
            .expect("run the switchboard binary")
    };
    let json_of = |out: std::process::Output| -> Value {
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("stdout is JSON")
    };
    let boot = json_of(run(&["admin", "bootstrap", "--org-name", "Acme"]));
    let org = boot["org_id"].as_str().expect("org_id").to_owned();
    let set = json_of(run(&["admin", "set-memory-quota", "--org", &org, "--calls", "1000"]));
    assert_eq!(set["org_id"], org.as_str());
    assert_eq!(set["calls_per_month"], 1000);
    assert_eq!(set["used"], 0);
    assert_eq!(set["remaining"], 1000);
    assert!(set["month"].as_str().is_some_and(|m| m.len() == 7));
    for clear in ["0", "unlimited"] {
        let cleared = json_of(run(&["admin", "set-memory-quota", "--org", &org, "--calls", clear]));
        assert_eq!(cleared["calls_per_month"], Value::Null);
        assert_eq!(cleared["remaining"], Value::Null);
    }
    for bad in [vec!["--org", org.as_str(), "--calls", "-5"], vec!["--org", "org_missing", "--calls", "5"]] {
        let mut args = vec!["admin", "set-memory-quota"];
        args.extend(bad.iter().copied());
        let out = run(&args);
        assert!(!out.status.success(), "{bad:?} should fail");
        assert!(!out.stderr.is_empty(), "{bad:?} says why");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_call_id_record_one_call() {
    let s = TestServer::start().await;
    let same = json!({"call_id": "race", "identity_hints": {"ani": ANI}});
    let responses = join_all((0..8).map(|_| start(&s, same.clone()))).await;
    assert!(responses.iter().all(|r| r.status == 200), "{:?}", responses.iter().map(|r| &r.body).collect::<Vec<_>>());
    assert!(responses.iter().all(|r| r.body == responses[0].body), "every answer is the one recorded");
    assert_eq!(responses.iter().filter(|r| r.header("idempotent-replayed").is_none()).count(), 1);

    let different =
        (0..8).map(|i| start(&s, json!({"call_id": "race2", "identity_hints": {"ani": format!("+3161234567{i}")}})));
    let statuses: Vec<u16> = join_all(different).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&st| st == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&st| st == 409).count(), 7, "{statuses:?}");

    let customer_ref = responses[0].body["customer_ref"].as_str().expect("ref");
    let ends = (0..6)
        .map(|i| end(&s, json!({"call_id": "race", "customer_ref": customer_ref, "variables": {"n": i.to_string()}})));
    let statuses: Vec<u16> = join_all(ends).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&st| st == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&st| st == 409).count(), 5, "{statuses:?}");
    assert_eq!(s.store().memory_quota(&s.boot.org_id).await.expect("quota").used, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quota_holds_under_concurrent_calls() {
    let s = TestServer::start().await;
    let org = s.boot.org_id.clone();
    switchboard::admin::set_memory_quota(s.store(), &org, "5").await.expect("set quota");
    let starts = (0..12).map(|i| start(&s, json!({"call_id": format!("cq{i}"), "identity_hints": {"ani": ANI}})));
    let statuses: Vec<u16> = join_all(starts).await.iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&st| st == 200).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&st| st == 402).count(), 7, "{statuses:?}");
    assert_eq!(s.store().memory_quota(&org).await.expect("quota").used, 5);
}
