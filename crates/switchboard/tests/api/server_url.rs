//! The server_url protocol in real calls: `call.started` configures the call,
//! every request is signed both ways, transcripts are pushed, and a failing
//! server_url falls back to the agent with the reason on the call.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_runtime::outbound::{verify_standard, verify_switchboard};
use switchboard_testkit::server_url::{Answer, ServerUrlPeer};

use crate::common::TestServer;

async fn server() -> TestServer {
    TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await
}

/// Creates an agent pointing at `peer`; returns (agent id, webhook secret).
async fn agent_for(s: &TestServer, peer: &ServerUrlPeer) -> (String, String) {
    let resp = s
        .post(
            "/v1/agents",
            json!({"name": "Hooked", "server_url": peer.url(), "first_message": "Hello from the agent.",
                   "silence_timeout_seconds": 600}),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    (
        resp.body["id"].as_str().unwrap_or_default().to_owned(),
        resp.body["webhook_secret"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn call_started_configures_the_call_and_every_request_is_signed() {
    let peer = ServerUrlPeer::start(Answer::Json(json!({
        "first_message": "Hi Jane, thanks for calling Acme!",
        "metadata": {"tier": "gold"},
        "max_duration": 60,
        "unknown_future_field": true
    })))
    .await;
    let s = server().await;
    let (agent, secret) = agent_for(&s, &peer).await;
    let call = s.inbound_call(&agent, json!([{"say": "Where is my order?"}, {"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["config_source"], "server_url");
    assert_eq!(c["server_url_error"], Value::Null);
    assert_eq!(c["transcript"][0]["content"], "Hi Jane, thanks for calling Acme!");
    assert_eq!(c["metadata"]["tier"], "gold");

    let started = peer.events("call.started");
    assert_eq!(started.len(), 1);
    let body = &started[0].body;
    assert_eq!(body["call_id"], call.as_str());
    assert_eq!(body["agent_id"], agent.as_str());
    assert_eq!(body["from"], "+31612345678");
    assert_eq!(body["direction"], "inbound");
    assert_eq!(body["agent"]["first_message"], "Hello from the agent.");
    assert_eq!(started[0].header("x-call-id"), Some(call.as_str()));
    assert_eq!(started[0].header("x-switchboard-event"), Some("call.started"));

    // Transcript updates are fire-and-forget: wait until all have arrived.
    let utterances = c["transcript"].as_array().map_or(0, Vec::len);
    let mut updates = Vec::new();
    for _ in 0..200 {
        updates = peer.events("transcript.updated");
        if updates.len() >= utterances {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent: Vec<(String, String)> = updates
        .iter()
        .map(|u| {
            (u.body["role"].as_str().unwrap_or_default().into(), u.body["content"].as_str().unwrap_or_default().into())
        })
        .collect();
    let recorded: Vec<(String, String)> = c["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["role"].as_str().unwrap_or_default().into(), t["content"].as_str().unwrap_or_default().into()))
        .collect();
    assert_eq!(sent, recorded, "one transcript.updated per utterance, in order");

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    for request in peer.received() {
        let ts = request.header("x-switchboard-timestamp").unwrap_or_default().to_owned();
        let sig = request.header("x-switchboard-signature").unwrap_or_default().to_owned();
        assert!(
            verify_switchboard(&secret, &ts, &sig, &request.raw, now, 300),
            "{} signed (switchboard)",
            request.event()
        );
        let (id, wts, wsig) = (
            request.header("webhook-id").unwrap_or_default(),
            request.header("webhook-timestamp").unwrap_or_default(),
            request.header("webhook-signature").unwrap_or_default(),
        );
        assert!(
            verify_standard(&secret, id, wts, wsig, &request.raw, now, 300),
            "{} signed (standard)",
            request.event()
        );
        assert!(!verify_switchboard("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &ts, &sig, &request.raw, now, 300));
    }
}

#[tokio::test]
async fn a_failing_server_url_falls_back_to_the_agent_and_says_why() {
    let s = server().await;
    for (answer, reason) in [
        (Answer::Status(500), "server_url answered HTTP 500"),
        (Answer::Raw("not json".into()), "server_url answer is not valid JSON"),
        (
            Answer::Json(json!({"max_duration": 5})),
            "server_url answer was refused: max_duration: Must be between 60 and 7200.",
        ),
    ] {
        let peer = ServerUrlPeer::start(answer).await;
        let (agent, _) = agent_for(&s, &peer).await;
        let call = s.inbound_call(&agent, json!([{"say": "Hello?"}, {"hangup": true}])).await;
        let c = s.finished_call(&call).await;
        assert_eq!(c["config_source"], "agent_fallback", "{reason}");
        assert!(
            c["server_url_error"].as_str().is_some_and(|e| e.starts_with(reason)),
            "{reason}: {}",
            c["server_url_error"]
        );
        assert_eq!(c["transcript"][0]["content"], "Hello from the agent.");
        assert_eq!(c["status"], "completed");
    }
}

#[tokio::test]
async fn a_slow_server_url_is_given_five_seconds() {
    let peer = ServerUrlPeer::start(Answer::Delayed(Duration::from_secs(8), Box::new(Answer::Json(json!({}))))).await;
    let s = server().await;
    let (agent, _) = agent_for(&s, &peer).await;
    let started = std::time::Instant::now();
    // The caller stays on the line past the timeout: 3 s of real time waiting
    // for a greeting, then 2.5 s more (at 100x).
    let call = s.inbound_call(&agent, json!([{"wait": 250}, {"say": "Hello?"}, {"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["config_source"], "agent_fallback");
    assert_eq!(c["server_url_error"], "server_url timed out after 5s");
    assert!(started.elapsed() < Duration::from_secs(8), "the call did not wait for the slow answer");
    assert_eq!(c["transcript"][0]["content"], "Hello from the agent.");
}

#[tokio::test]
async fn a_caller_who_hangs_up_during_call_started_ends_the_call_at_once() {
    let peer = ServerUrlPeer::start(Answer::Delayed(Duration::from_secs(8), Box::new(Answer::Json(json!({}))))).await;
    let s = server().await;
    let (agent, _) = agent_for(&s, &peer).await;
    let started = std::time::Instant::now();
    // The caller waits up to 3 s of real time for a greeting that does not
    // come and hangs up: the call ends then, not when call.started would have
    // timed out (5 s) or answered (8 s).
    let call = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert!(started.elapsed() < Duration::from_secs(5), "the call did not wait for call.started");
    assert_eq!(c["ended_reason"], "caller-hangup");
    assert_eq!(c["config_source"], "agent_fallback");
    assert_eq!(c["server_url_error"], "the call ended before the server_url answered");
    assert_eq!(c["transcript"], json!([]), "no greeting was played");
}

#[tokio::test]
async fn agents_without_a_server_url_use_their_own_configuration() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "Plain", "first_message": "Plain hello."})).await;
    let call = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["config_source"], "agent");
    assert_eq!(c["server_url_error"], Value::Null);
}

#[tokio::test]
async fn the_embedded_brain_extracts_what_the_call_collected() {
    let peer = ServerUrlPeer::start(Answer::Json(json!({
        "metadata": {"account_tier": "gold", "crm_id": 7},
        "extraction": {"type": "object", "properties": {"account_tier": {"type": "string"}, "reason": {"type": "string"}}}
    })))
    .await;
    let s = server().await;
    let (agent, _) = agent_for(&s, &peer).await;
    let call = s.inbound_call(&agent, json!([{"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["brain"], "embedded");
    assert_eq!(c["extracted_data"], json!({"account_tier": "gold"}));
}

/// A server_url whose host resolves to an internal address is refused
/// without saying which address that is.
#[tokio::test]
async fn a_blocked_server_url_does_not_reveal_its_address() {
    let s = TestServer::start_with(|c| {
        c.dev = false;
        c.runtime.clock_speed = 100.0;
    })
    .await;
    let agent = s.create_agent(json!({"name": "Internal", "server_url": "https://localhost:9/hook"})).await;
    let call = s.inbound_call(&agent, json!([{"say": "Hello?"}, {"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["config_source"], "agent_fallback");
    let error = c["server_url_error"].as_str().unwrap_or_default();
    assert!(error.contains("not allowed"), "{error}");
    for secret in ["127.0.0.1", "::1", "resolves", "loopback"] {
        assert!(!error.contains(secret), "{error} reveals {secret}");
    }
}
