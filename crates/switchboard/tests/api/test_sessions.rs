//! Test sessions (`/v1/test/voice`): text conversations with an agent, on the
//! embedded brain and on a language model, without calls, server_url or billing.

use serde_json::json;
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
