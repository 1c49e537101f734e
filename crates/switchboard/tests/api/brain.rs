//! The language-model brain in real calls, against a scripted OpenAI-compatible
//! server and a real server_url handler: tools through `tool.call`, the
//! built-in end_call and transfer_call, tool failures reaching the model, and
//! an unreachable model.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_testkit::llm::{Reply, ScriptedLlm};
use switchboard_testkit::server_url::{Answer, ServerUrlPeer};

use crate::common::{TestServer, call_requests, is_analysis};

async fn server() -> TestServer {
    TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await
}

fn policy_config() -> Answer {
    Answer::Json(json!({
        "system_prompt": "You are Acme's policy assistant.",
        "tools": [{
            "name": "get_policy",
            "description": "Look up a policy",
            "parameters": {"type": "object", "properties": {"policy_id": {"type": "string"}}},
            "timeout_seconds": 1
        }]
    }))
}

async fn llm_agent(s: &TestServer, llm: &ScriptedLlm, peer: &ServerUrlPeer) -> String {
    s.create_agent(json!({
        "name": "Policy bot",
        "first_message": "Acme insurance, how can I help?",
        "server_url": peer.url(),
        "end_call_enabled": true,
        "silence_timeout_seconds": 600,
        "llm": {"base_url": llm.base_url(), "model": "test-model", "temperature": 0.2}
    }))
    .await
}

#[tokio::test]
async fn the_model_calls_server_tools_and_ends_the_call() {
    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![("get_policy".into(), json!({"policy_id": "P1"}))]),
        Reply::Text("Your policy P1 covers water damage. Anything else?".into()),
        Reply::ToolCalls(vec![("end_call".into(), json!({"reason": "caller is done"}))]),
    ])
    .await;
    let peer = ServerUrlPeer::with_tools(
        policy_config(),
        vec![(
            "get_policy",
            Answer::Json(json!({"result": {"coverage": "water damage"}, "metadata": {"looked_up": "P1"}})),
        )],
    )
    .await;
    let s = server().await;
    let agent = llm_agent(&s, &llm, &peer).await;
    let call = s
        .inbound_call(
            &agent,
            json!([{"say": "What does my policy cover?"}, {"say": "Great, that's all"}, {"wait": 600}]),
        )
        .await;
    let c = s.finished_call(&call).await;

    assert_eq!(c["brain"], "llm");
    assert_eq!(c["config_source"], "server_url");
    assert_eq!(c["status"], "completed");
    assert_eq!(c["ended_reason"], "agent-hangup");
    assert_eq!(c["tool_call_count"], 2);
    assert_eq!(c["tools_called"], json!(["get_policy", "end_call"]));
    assert_eq!(c["metadata"]["looked_up"], "P1", "tool metadata lands on the call");
    let said: Vec<&str> =
        c["transcript"].as_array().into_iter().flatten().filter_map(|t| t["content"].as_str()).collect();
    assert_eq!(
        said,
        [
            "Acme insurance, how can I help?",
            "What does my policy cover?",
            "Your policy P1 covers water damage. Anything else?",
            "Great, that's all"
        ]
    );
    let turn = &c["latency_data"]["turns"][0];
    assert_eq!(turn["turn"], 1);
    assert!(turn["llm_ttfb_ms"].as_u64() <= turn["tts_start_ms"].as_u64(), "{turn}");
    // The turn is timed to the first audio the caller heard.
    assert!(turn["tts_start_ms"].as_u64() <= turn["tts_ttfb_ms"].as_u64(), "{turn}");

    // What the model was sent: prompt, greeting, caller, tools; then the tool result.
    let requests = call_requests(llm.requests());
    assert_eq!(requests.len(), 3);
    let first = &requests[0];
    assert_eq!(first["model"], "test-model");
    assert_eq!(first["temperature"], 0.2);
    assert_eq!(first["messages"][0], json!({"role": "system", "content": "You are Acme's policy assistant."}));
    assert_eq!(first["messages"][1]["content"], "Acme insurance, how can I help?");
    assert_eq!(first["messages"][2], json!({"role": "user", "content": "What does my policy cover?"}));
    let tools: Vec<&str> =
        first["tools"].as_array().into_iter().flatten().filter_map(|t| t["function"]["name"].as_str()).collect();
    assert_eq!(tools, ["get_policy", "end_call", "remember", "transfer_call"], "caller memory is on by default");
    let second = requests[1]["messages"].as_array().cloned().unwrap_or_default();
    let tool_message = second.iter().find(|m| m["role"] == "tool").expect("tool result sent back");
    assert!(tool_message["content"].as_str().is_some_and(|c| c.contains("water damage")), "{tool_message}");

    // What the server_url received for the tool: a signed tool.call.
    let tool_calls = peer.events("tool.call");
    assert_eq!(tool_calls.len(), 1);
    assert_eq!(tool_calls[0].body["name"], "get_policy");
    assert_eq!(tool_calls[0].body["arguments"], json!({"policy_id": "P1"}));
    assert_eq!(tool_calls[0].body["call_id"], call.as_str());
    assert_eq!(tool_message["tool_call_id"], tool_calls[0].body["tool_call_id"]);
    assert!(tool_calls[0].header("webhook-signature").is_some_and(|s| s.starts_with("v1,")));
}

#[tokio::test]
async fn tool_timeouts_and_errors_reach_the_model_as_errors() {
    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![("get_policy".into(), json!({"policy_id": "P1"}))]),
        Reply::Text("Sorry, I could not look that up just now.".into()),
        Reply::ToolCalls(vec![("get_policy".into(), json!({"policy_id": "P2"}))]),
        Reply::Text("That policy does not exist, it seems.".into()),
    ])
    .await;
    let peer = ServerUrlPeer::with_tools(
        policy_config(),
        vec![(
            "get_policy",
            Answer::Delayed(Duration::from_secs(3), Box::new(Answer::Json(json!({"result": "late"})))),
        )],
    )
    .await;
    let s = server().await;
    let agent = llm_agent(&s, &llm, &peer).await;
    let call = s.inbound_call(&agent, json!([{"say": "Check policy P1"}, {"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["tool_call_count"], 1);
    let second = llm.requests()[1]["messages"].as_array().cloned().unwrap_or_default();
    let tool = second.iter().find(|m| m["role"] == "tool").expect("tool message");
    assert_eq!(tool["content"], json!({"error": "server_url timed out after 1s"}).to_string());
    assert!(c["transcript"].to_string().contains("Sorry, I could not look that up just now."));
}

#[tokio::test]
async fn the_model_can_transfer_the_call() {
    let llm = ScriptedLlm::start(vec![Reply::ToolCalls(vec![(
        "transfer_call".into(),
        json!({"destination": "+31850099999"}),
    )])])
    .await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({}))).await;
    let s = server().await;
    let agent = llm_agent(&s, &llm, &peer).await;
    let call = s.inbound_call(&agent, json!([{"say": "Let me talk to a person"}, {"wait": 600}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["disposition"], "transferred");
    assert_eq!(c["ended_reason"], "transfer");
    assert_eq!(c["transferred_to"], "+31850099999");
    assert_eq!(c["tools_called"], json!(["transfer_call"]));
}

#[tokio::test]
async fn an_unreachable_model_gets_an_apology_not_silence() {
    let llm = ScriptedLlm::start(vec![Reply::Status(500)]).await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({}))).await;
    let s = server().await;
    let agent = llm_agent(&s, &llm, &peer).await;
    let call = s.inbound_call(&agent, json!([{"say": "Hello?"}, {"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["brain"], "llm");
    assert_eq!(c["status"], "completed");
    let last_agent_line = c["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["role"] == "assistant")
        .filter_map(|t| t["content"].as_str())
        .next_back()
        .unwrap_or_default()
        .to_owned();
    assert!(last_agent_line.contains("having trouble"), "{last_agent_line}");
}

fn refund_schema() -> Value {
    json!({"type": "object", "properties": {"reason": {"type": "string"}, "urgent": {"type": "boolean"}}, "required": ["reason"]})
}

async fn extraction_call(extracted: Value) -> (Value, ScriptedLlm) {
    let llm =
        ScriptedLlm::start(vec![Reply::Text("I have noted your refund request.".into()), Reply::Json(extracted)]).await;
    let peer = ServerUrlPeer::start(Answer::Json(json!({"extraction": refund_schema()}))).await;
    let s = server().await;
    let agent = llm_agent(&s, &llm, &peer).await;
    let call = s.inbound_call(&agent, json!([{"say": "I want a refund, it's urgent"}, {"hangup": true}])).await;
    (s.finished_call(&call).await, llm)
}

#[tokio::test]
async fn after_the_call_the_model_fills_the_extraction_schema() {
    let (c, llm) = extraction_call(json!({"reason": "refund", "urgent": true})).await;
    assert_eq!(c["extracted_data"], json!({"reason": "refund", "urgent": true}));
    assert_eq!(c["metadata"].get("extraction_error"), None);
    let last = call_requests(llm.requests()).last().cloned().unwrap_or_default();
    assert_eq!(last["response_format"]["json_schema"]["schema"], refund_schema());
    let transcript = last["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
    assert!(transcript.contains("user: I want a refund, it's urgent"), "{transcript}");
}

#[tokio::test]
async fn extracted_data_that_breaks_the_schema_is_not_stored() {
    let (c, _) = extraction_call(json!({"urgent": "yes"})).await;
    assert_eq!(c["extracted_data"], json!({}));
    let error = c["metadata"]["extraction_error"].as_str().unwrap_or_default();
    assert!(error.starts_with("extracted data does not match the schema"), "{error}");
    assert!(error.contains("reason") && error.contains("/urgent"), "{error}");
}

#[tokio::test]
async fn the_operators_key_goes_only_to_the_model_it_was_configured_for() {
    let server_model = ScriptedLlm::start(vec![Reply::Text("From the server's model.".into())]).await;
    let own_model = ScriptedLlm::start(vec![Reply::Text("From the agent's own model.".into())]).await;
    let s = TestServer::start_with(|c| {
        c.runtime.clock_speed = 100.0;
        c.llm.base_url = Some(server_model.base_url());
        c.llm.api_key = Some(switchboard::config::Secret("sk-operator".into()));
    })
    .await;
    let plain = s.create_agent(json!({"name": "Plain"})).await;
    let own = s.create_agent(json!({"name": "Own", "llm": {"base_url": own_model.base_url(), "model": "mine"}})).await;
    for agent in [&plain, &own] {
        let call = s.inbound_call(agent, json!([{"say": "Hello there"}, {"hangup": true}])).await;
        let c = s.finished_call(&call).await;
        assert_eq!(c["brain"], "llm");
    }
    let to_server: Vec<_> = server_model.received().into_iter().filter(|r| !is_analysis(&r.body)).collect();
    assert_eq!(to_server.len(), 1);
    assert_eq!(to_server[0].authorization.as_deref(), Some("Bearer sk-operator"));
    let to_own: Vec<_> = own_model.received().into_iter().filter(|r| !is_analysis(&r.body)).collect();
    assert_eq!(to_own.len(), 1);
    assert_eq!(to_own[0].authorization, None, "an agent's own URL never gets the operator's key");
    assert_eq!(to_own[0].body["model"], "mine");
}

#[tokio::test]
async fn a_simulated_caller_waits_for_a_slow_answer() {
    // 40 ms of real time is 4 s of call time at 100x: far past the caller's
    // half-second pause between turns, within their patience for an answer.
    let llm = ScriptedLlm::start(vec![
        Reply::Delayed(Duration::from_millis(40), Box::new(Reply::Text("It opens at nine.".into()))),
        Reply::Text("It closes at five.".into()),
    ])
    .await;
    let s = server().await;
    let agent = s
        .create_agent(json!({"name": "Slow", "first_message": "Hello.", "silence_timeout_seconds": 600,
            "llm": {"base_url": llm.base_url(), "model": "test-model"}}))
        .await;
    let call = s
        .inbound_call(
            &agent,
            json!([{"say": "When do you open?"}, {"say": "And when do you close?"}, {"hangup": true}]),
        )
        .await;
    let c = s.finished_call(&call).await;
    let lines: Vec<String> = c["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .map(|t| format!("{}: {}", t["role"].as_str().unwrap_or_default(), t["content"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        lines,
        [
            "assistant: Hello.",
            "user: When do you open?",
            "assistant: It opens at nine.",
            "user: And when do you close?",
            "assistant: It closes at five."
        ]
    );
    // The caller did not talk over the first answer, so both turns were
    // timed from the caller's words to the agent's speech.
    let turns = c["latency_data"]["turns"].as_array().cloned().unwrap_or_default();
    assert_eq!(turns.len(), 2, "{}", c["latency_data"]);
}
