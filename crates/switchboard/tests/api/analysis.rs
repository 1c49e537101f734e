//! Post-call analysis over HTTP: the rules without a model, the model's
//! analysis and its fallback, `analysis.complete` at a webhook, and
//! `POST /v1/calls/{id}/analyze` with its refusals.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::keys::KeyScope;
use switchboard_testkit::llm::{Reply, ScriptedLlm};
use switchboard_testkit::webhook_receiver::WebhookReceiver;

use crate::common::{TestServer, assert_error};

async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.runtime.clock_speed = 100.0;
        c.webhooks.poll_interval_ms = 10;
    })
    .await
}

/// Waits until the call's analysis is stored; returns the full call.
async fn analysed_call(s: &TestServer, call: &str) -> Value {
    for _ in 0..800 {
        let c = s.get(&format!("/v1/calls/{call}")).await.body;
        if c["analysis"].is_object() {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("call {call} was not analysed");
}

#[tokio::test]
async fn without_a_model_the_rules_read_the_caller() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "Sales", "first_message": "Hi, this is Acme about our new plan."})).await;
    let dnc = s.inbound_call(&agent, json!([{"say": "No. Please don't call me again."}, {"hangup": true}])).await;
    let declined = s.inbound_call(&agent, json!([{"say": "I'm not interested, sorry."}, {"hangup": true}])).await;

    let c = analysed_call(&s, &dnc).await;
    let a = &c["analysis"];
    assert_eq!(
        (&a["outcome"], &a["sentiment"], &a["source"]),
        (&json!("do_not_call"), &json!("negative"), &json!("rules"))
    );
    let summary = a["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("Please don't call me again."), "{summary}");
    assert_eq!((&a["success"], &a["model_error"]), (&Value::Null, &Value::Null));

    let a = analysed_call(&s, &declined).await["analysis"].clone();
    assert_eq!((&a["outcome"], &a["sentiment"]), (&json!("not_interested"), &json!("negative")));
    assert!(a["summary"].as_str().unwrap_or_default().contains("I'm not interested, sorry."), "{a}");

    let list = s.get("/v1/calls").await.body;
    let listed: Vec<&Value> = list["calls"].as_array().into_iter().flatten().collect();
    assert!(listed.iter().all(|c| c["analysis"]["outcome"].is_string()), "{list}");
}

async fn model_call(analysis: Value) -> (TestServer, String, ScriptedLlm) {
    let llm = ScriptedLlm::start(vec![Reply::Text("Tuesday at ten it is.".into()), Reply::Json(analysis)]).await;
    let s = server().await;
    let agent = s
        .create_agent(json!({
            "name": "Demo desk",
            "first_message": "Acme demos, how can I help?",
            "success_criteria": "The caller agrees to a demo.",
            "llm": {"base_url": llm.base_url(), "model": "test-model"}
        }))
        .await;
    let call = s.inbound_call(&agent, json!([{"say": "Can I see a demo on Tuesday?"}, {"hangup": true}])).await;
    (s, call, llm)
}

#[tokio::test]
async fn the_agent_s_model_writes_the_analysis() {
    let written = json!({"summary": "The caller asked for a demo on Tuesday and got one.", "sentiment": "positive",
        "outcome": "booked", "success": true, "success_reason": "A demo was agreed."});
    let (s, call, llm) = model_call(written.clone()).await;
    let a = analysed_call(&s, &call).await["analysis"].clone();
    for field in ["summary", "sentiment", "outcome", "success", "success_reason"] {
        assert_eq!(a[field], written[field], "{field}");
    }
    assert_eq!((&a["source"], &a["model_error"]), (&json!("model"), &Value::Null));
    let asked = llm.requests().last().cloned().unwrap_or_default();
    assert!(asked["response_format"]["json_schema"]["schema"]["properties"]["outcome"].is_object(), "{asked}");
    let prompt = asked["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
    assert!(prompt.contains("user: Can I see a demo on Tuesday?"), "{prompt}");
    assert!(prompt.contains("Success criteria: The caller agrees to a demo."), "{prompt}");
}

#[tokio::test]
async fn a_model_answer_that_is_not_an_analysis_falls_back_to_the_rules() {
    let (s, call, _llm) = model_call(json!({"mood": "great", "outcome": "party"})).await;
    let a = analysed_call(&s, &call).await["analysis"].clone();
    assert_eq!(a["source"], "rules");
    assert!(a["model_error"].as_str().unwrap_or_default().contains("not valid"), "{a}");
    assert!(a["summary"].as_str().unwrap_or_default().contains("Can I see a demo on Tuesday?"), "{a}");
    assert_eq!(a["outcome"], "completed");
}

#[tokio::test]
async fn analysis_complete_reaches_webhooks_and_analyze_runs_it_again() {
    let receiver = WebhookReceiver::start().await;
    let s = server().await;
    let hook = json!({"url": receiver.url("/hook"), "events": ["analysis.complete"]});
    assert_eq!(s.call(Method::POST, "/v1/webhooks", Some(s.org_key()), Some(hook)).await.status, 201);
    let agent = s.create_agent(json!({"name": "Support", "first_message": "Acme support."})).await;
    let call = s.inbound_call(&agent, json!([{"say": "Call me back tomorrow, thanks."}, {"hangup": true}])).await;

    let of_call = |d: &[switchboard_testkit::webhook_receiver::Delivery], n: usize| {
        d.iter().filter(|d| d.event() == "analysis.complete" && d.body["data"]["call_id"] == call.as_str()).count() >= n
    };
    let got = receiver.wait_until(Duration::from_secs(20), |d| of_call(d, 1)).await;
    let first = got.iter().find(|d| d.event() == "analysis.complete").expect("delivery");
    assert_eq!(first.body["data"]["outcome"], "callback_requested");
    assert_eq!(first.body["data"]["agent_id"], agent.as_str());
    let stored = analysed_call(&s, &call).await["analysis"].clone();
    assert_eq!(first.body["data"]["summary"], stored["summary"]);

    let again = s.post(&format!("/v1/calls/{call}/analyze"), json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!((&again.body["outcome"], &again.body["source"]), (&json!("callback_requested"), &json!("rules")));
    receiver.wait_until(Duration::from_secs(20), |d| of_call(d, 2)).await;
    assert_eq!(s.get(&format!("/v1/calls/{call}")).await.body["analysis"], again.body);
}

#[tokio::test]
async fn analyze_refuses_live_unanswered_and_other_projects_calls() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "Support", "first_message": "Acme support."})).await;

    let live = s.inbound_call(&agent, json!([{"wait": 600}])).await;
    assert_error(&s.post(&format!("/v1/calls/{live}/analyze"), json!({})).await, 409, "CALL_NOT_ENDED");
    assert_eq!(s.post(&format!("/v1/calls/{live}/end"), json!({})).await.status, 200);
    s.finished_call(&live).await;

    let busy = s.post("/v1/calls", json!({"agent_id": agent, "to": "+15550100002"})).await;
    assert_eq!(busy.status, 201, "{}", busy.body);
    let busy = busy.body["call_id"].as_str().unwrap_or_default().to_owned();
    let ended = s.finished_call(&busy).await;
    assert_eq!((&ended["status"], &ended["analysis"]), (&json!("busy"), &Value::Null));
    let refused = s.post(&format!("/v1/calls/{busy}/analyze"), json!({})).await;
    assert_error(&refused, 409, "CALL_NOT_ANSWERED");

    let other = s.store().create_project(&s.boot.org_id, "Other", None).await.expect("project");
    let (_, other_key) =
        s.store().create_project_key(&s.boot.org_id, &other.id, "k", KeyScope::Full).await.expect("key");
    let answered = s.inbound_call(&agent, json!([{"say": "Hello"}, {"hangup": true}])).await;
    analysed_call(&s, &answered).await;
    let theirs = s.call(Method::POST, &format!("/v1/calls/{answered}/analyze"), Some(&other_key), None).await;
    assert_error(&theirs, 404, "NOT_FOUND");
    assert_error(&s.post("/v1/calls/call_missing/analyze", json!({})).await, 404, "NOT_FOUND");
}
