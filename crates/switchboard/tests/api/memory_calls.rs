//! Caller memory inside platform calls: the caller is recognised by number,
//! the server_url is told what is remembered, what a call extracts is saved,
//! and the next call from the same number is greeted by name.

use serde_json::{Value, json};
use switchboard_testkit::llm::{Reply, ScriptedLlm};
use switchboard_testkit::server_url::{Answer, ServerUrlPeer};

use crate::common::{TestServer, call_requests};

async fn first_line(s: &TestServer, call: &str) -> String {
    let c = s.finished_call(call).await;
    c["transcript"][0]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_returning_caller_is_recognised_and_greeted_by_name() {
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({
        "extraction": {"type": "object", "properties": {"name": {"type": "string"}}},
        "metadata": {"name": "Jane"}
    })))
    .await;
    let agent = s
        .create_agent(json!({"name": "Front desk", "server_url": peer.url(), "first_message": "How can I help?"}))
        .await;

    let first = s.inbound_call(&agent, json!([{"say": "Hi, it's Jane"}, {"hangup": true}])).await;
    assert_eq!(first_line(&s, &first).await, "How can I help?", "a stranger gets the plain greeting");
    let second = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    assert_eq!(first_line(&s, &second).await, "Welcome back, Jane. How can I help?");

    let started: Vec<Value> =
        peer.received().into_iter().filter(|r| r.event() == "call.started").map(|r| r.body).collect();
    assert_eq!(started.len(), 2);
    assert!(started[0]["caller"]["customer_ref"].is_null(), "{}", started[0]["caller"]);
    assert_eq!(started[0]["caller"]["identity"]["recommendation"], "ignore");
    let caller = &started[1]["caller"];
    let customer = caller["customer_ref"].as_str().expect("recognised").to_owned();
    assert_eq!(caller["variables"]["name"], "Jane");
    assert_eq!(caller["identity"]["recommendation"], "reuse");
    assert!(caller["identity"]["sources"].as_array().is_some_and(|s| s.contains(&json!("ani:mobile"))), "{caller}");

    let record = s.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(record.status, 200, "{}", record.body);
    assert!(record.body.to_string().contains("extraction"), "the variable's source is kept: {}", record.body);

    // Another number is a stranger.
    let body = json!({"agent_id": agent, "from": "+31687654321", "script": [{"hangup": true}]});
    let other = s.post("/v1/simulator/calls", body).await;
    assert_eq!(other.status, 201, "{}", other.body);
    let other = other.body["call_id"].as_str().expect("call id").to_owned();
    assert_eq!(first_line(&s, &other).await, "How can I help?");
}

/// The customer record behind the first recognised caller of a call.started.
async fn customer_of(s: &TestServer, started: &Value) -> Value {
    let customer = started["caller"]["customer_ref"].as_str().expect("a recognised caller");
    let record = s.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(record.status, 200, "{}", record.body);
    record.body
}

#[tokio::test]
async fn the_remember_tool_saves_facts_and_intents_for_the_next_call() {
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![(
            "remember".into(),
            json!({"key": "name", "value": "Jane", "intent": "reschedule_appointment"}),
        )]),
        Reply::Text("Thanks Jane, I will pass that on to the clinic.".into()),
        // A bad call reaches the model as the tool's error.
        Reply::ToolCalls(vec![("remember".into(), json!({"key": "preferred_day"}))]),
        Reply::ToolCalls(vec![("remember".into(), json!({"key": "preferred_day", "value": "Tuesday"}))]),
        Reply::Text("Noted, Tuesday it is.".into()),
        Reply::Text("Of course, Jane, Tuesday again.".into()),
    ])
    .await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({}))).await;
    let agent = s
        .create_agent(json!({
            "name": "Clinic", "first_message": "Clinic, how can I help?", "server_url": peer.url(),
            "silence_timeout_seconds": 600,
            "llm": {"base_url": llm.base_url(), "model": "test-model"}
        }))
        .await;

    let script = json!([{"say": "This is Jane, I need to move my appointment"}, {"say": "Tuesdays suit me"},
        {"hangup": true}]);
    let first = s.inbound_call(&agent, script).await;
    s.finished_call(&first).await;
    let requests = llm.requests();
    let offered: Vec<&str> =
        requests[0]["tools"].as_array().expect("tools").iter().filter_map(|t| t["function"]["name"].as_str()).collect();
    assert!(offered.contains(&"remember"), "remember is offered when memory is on: {offered:?}");
    let tool_results: Vec<String> = requests
        .iter()
        .flat_map(|r| r["messages"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(tool_results.iter().any(|r| r.contains("key and value go together")), "{tool_results:?}");

    let second = s.inbound_call(&agent, json!([{"say": "Same as last time please"}, {"hangup": true}])).await;
    assert_eq!(first_line(&s, &second).await, "Welcome back, Jane. Clinic, how can I help?");
    let started: Vec<Value> = peer.events("call.started").into_iter().map(|r| r.body).collect();
    let caller = &started[1]["caller"];
    assert_eq!(caller["variables"], json!({"name": "Jane", "preferred_day": "Tuesday"}));
    assert_eq!(caller["open_intents"][0]["intent"], "reschedule_appointment");
    assert_eq!(caller["open_intents"][0]["attempt_count"], 1);
    let customer = customer_of(&s, &started[1]).await;
    assert_eq!(customer["variables"]["name"]["source"], "agent_collected");
    // The model is told what is remembered on the second call.
    let last = call_requests(llm.requests()).last().cloned().unwrap_or_default();
    let system = last["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
    assert!(system.contains("name: Jane") && system.contains("reschedule_appointment"), "{system}");
}

#[tokio::test]
async fn memory_from_the_server_url_is_saved_and_external_ids_recognise_the_caller() {
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    let peer = ServerUrlPeer::with_tools(
        Answer::Json(json!({
            "memory": {"external_ids": {"crm_id": "C-1042"}, "intent": "upgrade_plan",
                       "variables": {"name": "Jane"}},
            "tools": [{"name": "upgrade"}]
        })),
        vec![(
            "upgrade",
            Answer::Json(json!({"result": "done", "memory": {"intent": "upgrade_plan",
            "intent_status": "resolved", "variables": {"plan": "gold"}}})),
        )],
    )
    .await;
    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![("upgrade".into(), json!({}))]),
        Reply::Text("You are on gold now.".into()),
    ])
    .await;
    let agent = s
        .create_agent(json!({"name": "Plans", "first_message": "Hello.", "server_url": peer.url(),
            "silence_timeout_seconds": 600, "llm": {"base_url": llm.base_url(), "model": "test-model"}}))
        .await;

    let first = s.inbound_call(&agent, json!([{"say": "Upgrade me please"}, {"hangup": true}])).await;
    s.finished_call(&first).await;

    // The same person from another number. The number alone is unknown; the
    // CRM id the server_url names matches (0.4: "confirm", so no greeting by
    // name yet), and the call links the new number to the customer ...
    let from_new_number = || async {
        let body = json!({"agent_id": agent, "from": "+31687654321", "script": [{"hangup": true}]});
        let call = s.post("/v1/simulator/calls", body).await;
        assert_eq!(call.status, 201, "{}", call.body);
        call.body["call_id"].as_str().expect("call id").to_owned()
    };
    let second = from_new_number().await;
    assert_eq!(first_line(&s, &second).await, "Hello.");
    let started: Vec<Value> = peer.events("call.started").into_iter().map(|r| r.body).collect();
    assert!(started[1]["caller"]["customer_ref"].is_null(), "the new number alone is unknown");
    // ... so the next call from it is recognised by number and greeted by name.
    let third = from_new_number().await;
    assert_eq!(first_line(&s, &third).await, "Welcome back, Jane. Hello.");
    let started: Vec<Value> = peer.events("call.started").into_iter().map(|r| r.body).collect();
    let customer = customer_of(&s, &started[2]).await;
    assert_eq!(customer["variables"]["plan"]["value"], "gold", "set by the tool's answer: {customer}");
    assert_eq!(customer["variables"]["plan"]["source"], "server_url");
    let ids = customer["identities"].as_array().expect("identities");
    assert!(ids.iter().any(|i| i["type"] == "external_id" && i["name"] == "crm_id" && i["value"] == "C-1042"));
    assert!(
        ids.iter().any(|i| i["type"] == "ani" && i["value"] == "+31687654321"),
        "the new number is linked: {ids:?}"
    );
    // The tool resolved the intent in the first call; the second call (from
    // the server_url's call.started) opened it again.
    let upgrade =
        customer["intents"].as_array().expect("intents").iter().find(|i| i["intent"] == "upgrade_plan").cloned();
    assert_eq!(upgrade.expect("upgrade_plan")["status"], "open");
}

#[tokio::test]
async fn a_server_url_memory_answer_over_the_limits_falls_back_to_the_agent() {
    let s = TestServer::start().await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({"first_message": "From the server.",
        "memory": {"variables": {"note": "x".repeat(1025)}}})))
    .await;
    let agent =
        s.create_agent(json!({"name": "Strict", "first_message": "From the agent.", "server_url": peer.url()})).await;
    let call = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["transcript"][0]["content"], "From the agent.");
    assert!(c["server_url_error"].as_str().is_some_and(|e| e.contains("memory.variables.note")), "{c}");
}

#[tokio::test]
async fn a_call_whose_memory_cannot_be_saved_still_ends_and_is_billed() {
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({}))).await;
    let agent = s.create_agent(json!({"name": "Front desk", "server_url": peer.url()})).await;
    // The org's memory allowance is used up: the call's memory is dropped
    // from its end's transaction, the end itself is written.
    s.store().set_memory_quota(&s.boot.org_id, Some(0)).await.expect("quota");
    let before = s.get("/v1/credits").await.body["balance"].as_f64().unwrap_or_default();
    let call = s.inbound_call(&agent, json!([{"say": "Hi, it's Jane"}, {"hangup": true}])).await;
    let ended = s.finished_call(&call).await;
    assert_eq!(ended["status"], "completed", "{ended}");
    let cost = ended["total_cost"].as_f64().unwrap_or_default();
    assert!(cost > 0.0, "{ended}");
    let after = s.get("/v1/credits").await.body["balance"].as_f64().unwrap_or_default();
    assert!((before - cost - after).abs() < 1e-9, "billed once: {before} - {cost} = {after}");
    // With room again, the next call from the number is a stranger (nothing
    // was remembered), and the one after is recognised.
    s.store().set_memory_quota(&s.boot.org_id, None).await.expect("quota");
    for _ in 0..2 {
        let next = s.inbound_call(&agent, json!([{"hangup": true}])).await;
        s.finished_call(&next).await;
    }
    let started: Vec<Value> = peer.events("call.started").into_iter().map(|r| r.body).collect();
    assert_eq!(started.len(), 3);
    assert!(started[1]["caller"]["customer_ref"].is_null(), "{}", started[1]["caller"]);
    assert!(started[2]["caller"]["customer_ref"].is_string(), "{}", started[2]["caller"]);
}
