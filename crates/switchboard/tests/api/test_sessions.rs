//! Test sessions (`/v1/test/voice`): text conversations with an agent, on the
//! embedded brain and on a language model, without calls, server_url or billing.

use serde_json::{Value, json};
use switchboard_testkit::llm::{Reply, ScriptedLlm};
use switchboard_testkit::server_url::{Answer, ServerUrlPeer};

use crate::common::{TestServer, assert_error};

#[tokio::test]
async fn an_embedded_session_greets_answers_ends_and_is_deleted() {
    let s = TestServer::start().await;
    let agent = s.create_agent(json!({"name": "Desk", "first_message": "Desk here.", "end_call_enabled": true})).await;
    let started = s.post("/v1/test/voice", json!({"agent_id": agent})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["greeting"], "Desk here.");
    let id = started.body["session_id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("test_"));

    let path = format!("/v1/test/voice/{id}/message");
    let reply = s.post(&path, json!({"message": "What are your hours?"})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["ended"], false);
    assert!(reply.body["response"].as_str().is_some_and(|r| r.contains("language model")));
    assert!(reply.body.get("tool_calls").is_none());
    let bye = s.post(&path, json!({"message": "ok bye"})).await;
    assert_eq!(bye.body["ended"], true);

    let overridden =
        s.post("/v1/test/voice", json!({"agent_id": agent, "first_message": "Override!", "language": "nl-NL"})).await;
    assert_eq!(overridden.body["greeting"], "Override!");

    assert_eq!(s.delete(&format!("/v1/test/voice/{id}")).await.status, 204);
    let gone = s.post(&path, json!({"message": "hello?"})).await;
    assert_error(&gone, 404, "NOT_FOUND");
    assert_eq!(gone.body["message"], "Session not found");
    assert_error(&s.delete(&format!("/v1/test/voice/{id}")).await, 404, "NOT_FOUND");
    assert_eq!(s.get("/v1/calls").await.body["calls"], json!([]), "a test session is not a call");
}

#[tokio::test]
async fn sessions_are_scoped_validated_and_expire_after_three_idle_minutes() {
    let s = TestServer::start().await;
    let agent = s.create_agent(json!({"name": "A"})).await;
    let missing = s.post("/v1/test/voice", json!({"agent_id": "agent_missing"})).await;
    assert_error(&missing, 404, "NOT_FOUND");
    assert_eq!(missing.body["message"], "Agent not found");
    assert_error(
        &s.post("/v1/test/voice", json!({"agent_id": agent, "language": "klingon"})).await,
        400,
        "VALIDATION_ERROR",
    );

    let id =
        s.post("/v1/test/voice", json!({"agent_id": agent})).await.body["session_id"].as_str().expect("id").to_owned();
    let path = format!("/v1/test/voice/{id}/message");
    assert_error(&s.post(&path, json!({"message": " "})).await, 400, "VALIDATION_ERROR");
    let other = switchboard::admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let foreign = s.call(reqwest::Method::POST, &path, Some(&other.project_key), Some(json!({"message": "hi"}))).await;
    assert_error(&foreign, 404, "NOT_FOUND");

    s.store().clock().advance(170_000);
    assert_eq!(s.post(&path, json!({"message": "still here"})).await.status, 200, "activity keeps it alive");
    s.store().clock().advance(181_000);
    let expired = s.post(&path, json!({"message": "hello?"})).await;
    assert_error(&expired, 404, "NOT_FOUND");
    assert_eq!(expired.body["message"], "Session not found");
}

#[tokio::test]
async fn a_model_session_uses_only_the_given_prompt_and_never_calls_the_server_url() {
    let llm = ScriptedLlm::start(vec![
        Reply::Text("Happy to help with your claim.".into()),
        Reply::ToolCalls(vec![("end_call".into(), json!({"reason": "done"}))]),
        Reply::Text("Second session reply.".into()),
    ])
    .await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({"first_message": "from server_url"}))).await;
    let s = TestServer::start().await;
    let agent = s
        .create_agent(json!({"name": "Claims", "system_prompt": "STORED PROMPT", "server_url": peer.url(),
                             "end_call_enabled": true, "llm": {"base_url": llm.base_url(), "model": "m"}}))
        .await;
    let id = s.post("/v1/test/voice", json!({"agent_id": agent, "system_prompt": "You test claims."})).await.body["session_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/test/voice/{id}/message");
    let reply = s.post(&path, json!({"message": "I want to file a claim"})).await;
    assert_eq!(reply.body["response"], "Happy to help with your claim.");
    assert_eq!(reply.body["ended"], false);
    let done = s.post(&path, json!({"message": "that's it"})).await;
    assert_eq!(done.body["ended"], true);
    assert_eq!(done.body["tool_calls"], json!([{"name": "end_call", "arguments": {"reason": "done"}}]));

    let first = &llm.requests()[0];
    assert_eq!(first["messages"][0], json!({"role": "system", "content": "You test claims."}));
    assert!(!first.to_string().contains("STORED PROMPT"));

    // Without a prompt in the request, none is sent at all.
    let bare =
        s.post("/v1/test/voice", json!({"agent_id": agent})).await.body["session_id"].as_str().expect("id").to_owned();
    s.post(&format!("/v1/test/voice/{bare}/message"), json!({"message": "hi"})).await;
    let last = llm.requests().last().cloned().unwrap_or_default();
    assert_ne!(last["messages"][0]["role"], "system");
    assert!(!last.to_string().contains("STORED PROMPT"));
    assert!(peer.received().is_empty(), "test sessions make no server_url calls");
}

fn policy_tool() -> Value {
    json!({"name": "get_policy", "description": "Look up a policy",
           "parameters": {"type": "object", "properties": {"policy_id": {"type": "string"}}}})
}

#[tokio::test]
async fn with_use_server_url_a_session_runs_call_started_and_server_tools_like_a_call() {
    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![("get_policy".into(), json!({"policy_id": "P1"}))]),
        Reply::Text("Your policy P1 covers water damage.".into()),
    ])
    .await;
    let peer = ServerUrlPeer::with_tools(
        Answer::Json(json!({"first_message": "Claims desk, configured by your server.", "tools": [policy_tool()]})),
        vec![("get_policy", Answer::Json(json!({"result": {"coverage": "water damage"}})))],
    )
    .await;
    let s = TestServer::start().await;
    let agent = s
        .create_agent(json!({"name": "Claims", "server_url": peer.url(), "first_message": "Stored greeting.",
                             "llm": {"base_url": llm.base_url(), "model": "m"}}))
        .await;
    let started = s.post("/v1/test/voice", json!({"agent_id": agent, "use_server_url": true})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["greeting"], "Claims desk, configured by your server.");
    let id = started.body["session_id"].as_str().expect("id").to_owned();

    let reply = s.post(&format!("/v1/test/voice/{id}/message"), json!({"message": "What does P1 cover?"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["response"], "Your policy P1 covers water damage.");
    assert_eq!(reply.body["ended"], false);
    assert_eq!(reply.body["tool_calls"], json!([{"name": "get_policy", "arguments": {"policy_id": "P1"}}]));

    let configured = peer.events("call.started");
    assert_eq!(configured.len(), 1);
    assert_eq!(configured[0].body["call_id"], id.as_str());
    assert_eq!(configured[0].body["agent_id"], agent.as_str());
    let tools = peer.events("tool.call");
    assert_eq!(tools.len(), 1, "the tool ran on the server_url");
    assert_eq!(tools[0].body["name"], "get_policy");
    assert_eq!(tools[0].body["arguments"], json!({"policy_id": "P1"}));
    assert!(tools[0].header("webhook-signature").is_some_and(|sig| sig.starts_with("v1,")));
    let second = &llm.requests()[1];
    let tool_result = second["messages"].as_array().into_iter().flatten().find(|m| m["role"] == "tool");
    assert!(tool_result.is_some_and(|m| m["content"].as_str().is_some_and(|c| c.contains("water damage"))));
    assert_eq!(s.get("/v1/calls").await.body["calls"], json!([]), "a test session is not a call");
}

#[tokio::test]
async fn a_session_plays_the_server_urls_menu_and_a_transfer_ends_it() {
    let menu = json!({"prompt": "Press 1 for sales.", "timeout_seconds": 10, "max_repeats": 1, "options": [
        {"digit": "1", "words": ["sales"], "action": "transfer", "destination": "+31850000001", "say": "Connecting you."}
    ]});
    let peer = ServerUrlPeer::start(Answer::Json(json!({"ivr": menu}))).await;
    let s = TestServer::start().await;
    let agent = s.create_agent(json!({"name": "Desk", "server_url": peer.url()})).await;
    let started = s.post("/v1/test/voice", json!({"agent_id": agent, "use_server_url": true})).await;
    assert_eq!(started.body["greeting"], "Press 1 for sales.");
    let id = started.body["session_id"].as_str().expect("id").to_owned();
    let wrong = s.post(&format!("/v1/test/voice/{id}/message"), json!({"message": "banana"})).await;
    assert_eq!(wrong.body["response"], "Sorry, I didn't get that. Press 1 for sales.");
    let chosen = s.post(&format!("/v1/test/voice/{id}/message"), json!({"message": "sales please"})).await;
    assert_eq!(chosen.body["response"], "Connecting you.");
    assert_eq!(chosen.body["ended"], true);
    let after = s.post(&format!("/v1/test/voice/{id}/message"), json!({"message": "hello?"})).await;
    assert_eq!(after.body, json!({"response": "", "ended": true}));
}

#[tokio::test]
async fn a_session_from_a_remembered_number_greets_the_caller_by_name_and_saves_nothing() {
    let s = TestServer::start().await;
    let ani = "+31612345678";
    let start = s.post("/v1/calls/start", json!({"call_id": "seed", "identity_hints": {"ani": ani}})).await;
    assert_eq!(start.status, 200, "{}", start.body);
    let customer_ref = start.body["customer_ref"].clone();
    let end = s
        .post("/v1/calls/end", json!({"call_id": "seed", "customer_ref": customer_ref, "variables": {"name": "Jane"}}))
        .await;
    assert_eq!(end.status, 200, "{}", end.body);
    let seeded = s.post("/v1/calls/start", json!({"call_id": "check", "identity_hints": {"ani": ani}})).await;
    let customer = seeded.body["customer_ref"].as_str().expect("known").to_owned();
    let before = s.get(&format!("/v1/customers/{customer}")).await.body;

    let agent = s.create_agent(json!({"name": "Desk", "first_message": "How can I help?"})).await;
    let known = s.post("/v1/test/voice", json!({"agent_id": agent, "from_number": ani})).await;
    assert_eq!(known.body["greeting"], "Welcome back, Jane. How can I help?");
    let id = known.body["session_id"].as_str().expect("id").to_owned();
    s.post(&format!("/v1/test/voice/{id}/message"), json!({"message": "bye"})).await;
    assert_eq!(s.delete(&format!("/v1/test/voice/{id}")).await.status, 204);
    assert_eq!(s.get(&format!("/v1/customers/{customer}")).await.body, before, "a test session saves nothing");

    let stranger = s.post("/v1/test/voice", json!({"agent_id": agent})).await;
    assert_eq!(stranger.body["greeting"], "How can I help?");
    assert_error(
        &s.post("/v1/test/voice", json!({"agent_id": agent, "from_number": "0612"})).await,
        400,
        "VALIDATION_ERROR",
    );
}
