//! Retrieval: the search endpoint with spoken queries, the embedded brain
//! answering a simulated caller from the knowledge base, the language model
//! calling `knowledge_base_search`, and test sessions doing the same.

use serde_json::{Value, json};
use switchboard_testkit::llm::{Reply, ScriptedLlm};

use super::{add_entry, create_kb, id};
use crate::common::{TestServer, assert_error};

const HOURS: &str = "We are open from nine to five on weekdays and from ten to four on Sundays.";
const PARKING: &str = "Parking is free for three hours behind the store.";
const RETURNS: &str = "You can return any item within 30 days for a full refund.";

/// A knowledge base with a few store facts; returns its id.
async fn store_faq(s: &TestServer) -> String {
    let kb = id(&create_kb(s, json!({"name": "Store FAQ"})).await);
    add_entry(s, &kb, "What are your opening hours?", HOURS).await;
    add_entry(s, &kb, "Where can I park?", PARKING).await;
    add_entry(s, &kb, "What is your return policy?", RETURNS).await;
    kb
}

fn lines(call: &Value) -> Vec<(String, String)> {
    call["transcript"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["role"].as_str().unwrap_or_default().into(), t["content"].as_str().unwrap_or_default().into()))
        .collect()
}

#[tokio::test]
async fn search_understands_spoken_queries() {
    let s = TestServer::start().await;
    let kb = store_faq(&s).await;
    let path = format!("/v1/knowledge-bases/{kb}/search");
    let resp = s.post(&path, json!({"query": "Uh, when are you guys, like, open on Sundays?"})).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.body["query"], "when are you guys open on sundays");
    let top = &resp.body["results"][0];
    assert_eq!(top["answer"], HOURS);
    assert_eq!(top["knowledge_base_id"], kb.as_str());
    assert_eq!(top["origin"], "manual");
    assert!(top["score"].as_f64().is_some_and(|score| score > 0.5 && score <= 1.0), "{top}");

    let money = s.post(&path, json!({"query": "how do I get my money back?", "limit": 1})).await;
    assert_eq!(money.body["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(money.body["results"][0]["answer"], RETURNS, "a synonym finds the refund entry");
    let spelled = s.post(&path, json!({"query": "Can I return it after thirty days?"})).await;
    assert_eq!(spelled.body["results"][0]["answer"], RETURNS, "number words match digits");

    let nothing = s.post(&path, json!({"query": "um, you know, what is it"})).await;
    assert_eq!(nothing.status, 200);
    assert_eq!(nothing.body["results"], json!([]));
    assert_error(&s.post(&path, json!({"query": " "})).await, 400, "VALIDATION_ERROR");
    assert_error(&s.post(&path, json!({"query": "hours", "limit": 21})).await, 400, "VALIDATION_ERROR");
    assert_error(&s.post(&path, json!({"query": "hours", "limti": 2})).await, 400, "VALIDATION_ERROR");
    let other_kb = id(&create_kb(&s, json!({"name": "Empty"})).await);
    let elsewhere = s.post(&format!("/v1/knowledge-bases/{other_kb}/search"), json!({"query": "opening hours"})).await;
    assert_eq!(elsewhere.body["results"], json!([]), "a search stays in its knowledge base");
}

#[tokio::test]
async fn the_embedded_brain_answers_a_caller_from_the_knowledge_base() {
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    let kb = store_faq(&s).await;
    let agent = s
        .create_agent(
            json!({"name": "Front desk", "first_message": "Acme, how can I help?", "knowledge_base_ids": [kb]}),
        )
        .await;
    let call = s
        .inbound_call(
            &agent,
            json!([{"say": "Um, what are your opening hours on, like, Sunday?"}, {"say": "Can you fix my car engine?"}, {"hangup": true}]),
        )
        .await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["brain"], "embedded");
    let said = lines(&c);
    assert_eq!(said[0], ("assistant".into(), "Acme, how can I help?".into()));
    assert_eq!(said[2], ("assistant".into(), HOURS.into()), "{said:?}");
    assert_eq!(said[3].1, "Can you fix my car engine?");
    assert!(said[4].1.contains("language model"), "no entry covers it: the polite fallback ({said:?})");
    let kb_name = s.get(&format!("/v1/knowledge-bases/{kb}")).await.body["name"].as_str().expect("name").to_owned();
    assert!(said[4].1.contains(&format!("questions about {kb_name}")), "it names what can be asked ({said:?})");
}

#[tokio::test]
async fn the_model_searches_the_knowledge_base_with_the_built_in_tool() {
    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![("knowledge_base_search".into(), json!({"query": "where to park", "limit": 2}))]),
        Reply::Text("You can park for free behind the store.".into()),
    ])
    .await;
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    let kb = store_faq(&s).await;
    let agent = s
        .create_agent(json!({"name": "Desk", "knowledge_base_ids": [kb], "silence_timeout_seconds": 600,
                             "llm": {"base_url": llm.base_url(), "model": "test-model"}}))
        .await;
    let call = s.inbound_call(&agent, json!([{"say": "Is there parking?"}, {"hangup": true}])).await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["brain"], "llm");
    assert_eq!(c["tools_called"], json!(["knowledge_base_search"]));
    assert!(lines(&c).contains(&("assistant".into(), "You can park for free behind the store.".into())));

    let requests = llm.requests();
    let tools: Vec<&str> =
        requests[0]["tools"].as_array().into_iter().flatten().filter_map(|t| t["function"]["name"].as_str()).collect();
    assert!(tools.contains(&"knowledge_base_search"), "{tools:?}");
    let messages = requests[1]["messages"].as_array().cloned().unwrap_or_default();
    let tool = messages.iter().find(|m| m["role"] == "tool").expect("the tool result went back to the model");
    let result: Value = serde_json::from_str(tool["content"].as_str().unwrap_or_default()).expect("JSON result");
    assert_eq!(result["results"][0]["question"], "Where can I park?");
    assert_eq!(result["results"][0]["answer"], PARKING);
    assert!(result["results"].as_array().is_some_and(|r| r.len() <= 2), "the limit is honoured");
}

#[tokio::test]
async fn agents_without_knowledge_bases_are_not_offered_the_tool() {
    let llm = ScriptedLlm::start(vec![Reply::Text("Hello!".into())]).await;
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    let agent = s.create_agent(json!({"name": "Plain", "llm": {"base_url": llm.base_url()}})).await;
    let call = s.inbound_call(&agent, json!([{"say": "Hi"}, {"hangup": true}])).await;
    s.finished_call(&call).await;
    let tools = llm.requests()[0]["tools"].to_string();
    assert!(!tools.contains("knowledge_base_search"), "{tools}");
}

#[tokio::test]
async fn test_sessions_answer_from_the_knowledge_base_on_both_brains() {
    let s = TestServer::start().await;
    let kb = store_faq(&s).await;
    let agent = s.create_agent(json!({"name": "Desk", "knowledge_base_ids": [kb]})).await;
    let session =
        s.post("/v1/test/voice", json!({"agent_id": agent})).await.body["session_id"].as_str().expect("id").to_owned();
    let reply = s.post(&format!("/v1/test/voice/{session}/message"), json!({"message": "uh, where do I park?"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["response"], PARKING);

    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![("knowledge_base_search".into(), json!({"query": "return policy"}))]),
        Reply::Text("Thirty days, full refund.".into()),
    ])
    .await;
    let smart =
        s.create_agent(json!({"name": "Smart", "knowledge_base_ids": [kb], "llm": {"base_url": llm.base_url()}})).await;
    let session =
        s.post("/v1/test/voice", json!({"agent_id": smart})).await.body["session_id"].as_str().expect("id").to_owned();
    let reply = s.post(&format!("/v1/test/voice/{session}/message"), json!({"message": "Can I return this?"})).await;
    assert_eq!(reply.body["response"], "Thirty days, full refund.");
    assert_eq!(reply.body["tool_calls"][0]["name"], "knowledge_base_search");
    let messages = llm.requests()[1]["messages"].to_string();
    assert!(messages.contains("within 30 days for a full refund"), "the search really ran: {messages}");
}
