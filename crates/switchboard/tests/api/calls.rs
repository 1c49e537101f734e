//! Live calls on the simulated carrier through the Calls API: every status,
//! disposition and ended reason, control commands, limits, costs and credits.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchboard::admin;
use switchboard_domain::call::{CallRecord, Direction, Ringing};

use switchboard_testkit::webhook_receiver::{Delivery, WebhookReceiver};

use crate::common::{Resp, TestServer, assert_error};

/// Call time runs 100× faster than wall time in these tests.
const SPEED: f64 = 100.0;

async fn server() -> TestServer {
    TestServer::start_with(|c| c.runtime.clock_speed = SPEED).await
}

/// Places an outbound call and returns its id.
async fn dial(s: &TestServer, agent: &str, to: &str, script: Option<Value>) -> String {
    let mut body = json!({"agent_id": agent, "to": to, "metadata": {"crm_id": "c-42"}});
    if let Some(script) = script {
        body["simulation"] = json!({"script": script});
    }
    let resp = s.post("/v1/calls", body).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(resp.body["status"], "ringing");
    resp.body["call_id"].as_str().expect("call id").to_owned()
}

/// Injects an inbound call and returns its id.
async fn ring_in(s: &TestServer, agent: &str, script: Value) -> Resp {
    s.post("/v1/simulator/calls", json!({"agent_id": agent, "from": "+31612345678", "script": script})).await
}

/// Waits (in wall time) until the call has ended and returns its full record.
async fn ended(s: &TestServer, call: &str) -> Value {
    for _ in 0..400 {
        let status = s.get(&format!("/v1/calls/{call}/status")).await;
        let state = status.body["status"].as_str().unwrap_or_default().to_owned();
        if state != "ringing" && state != "in-progress" {
            let detail = s.get(&format!("/v1/calls/{call}")).await;
            assert_eq!(detail.status, 200);
            return detail.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("call {call} did not end");
}

/// Waits until the call is answered.
async fn answered(s: &TestServer, call: &str) {
    for _ in 0..400 {
        if s.get(&format!("/v1/calls/{call}/status")).await.body["status"] == "in-progress" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("call {call} was not answered");
}

fn assert_outcome(call: &Value, status: &str, disposition: &str, reason: Value) {
    assert_eq!(call["status"], status, "{call}");
    assert_eq!(call["disposition"], disposition, "{call}");
    assert_eq!(call["ended_reason"], reason, "{call}");
}

#[tokio::test]
async fn an_answered_outbound_call_is_recorded_priced_and_debited() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "Caller", "first_message": "Hi, this is Acme calling."})).await;
    let before = s.get("/v1/credits").await.body["balance"].as_f64().expect("balance");
    let wall = std::time::Instant::now();
    let call = dial(&s, &agent, "+31612345678", None).await;
    let c = ended(&s, &call).await;
    let wall = wall.elapsed().as_secs_f64();
    assert_outcome(&c, "completed", "answered", json!("caller-hangup"));
    assert_eq!(c["agent_id"], agent.as_str());
    assert_eq!(c["direction"], "outbound");
    assert_eq!(c["to_number"], "+31612345678");
    assert_eq!(c["metadata"]["crm_id"], "c-42");
    assert_eq!(c["brain"], "embedded");
    let transcript = c["transcript"].as_array().expect("transcript");
    let roles: Vec<&str> = transcript.iter().filter_map(|t| t["role"].as_str()).collect();
    assert_eq!(roles, ["assistant", "user", "assistant", "user", "assistant"]);
    assert_eq!(transcript[0]["content"], "Hi, this is Acme calling.");
    assert_eq!(transcript[1]["content"], "Hello, who is this?");
    let stamps: Vec<f64> = transcript.iter().filter_map(|t| t["timestamp"].as_f64()).collect();
    // Seconds from the answer, in order; the greeting starts right away.
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]) && stamps[0] < 1.0, "{stamps:?}");
    assert_eq!(c["turn_count"], 2);
    let turns = c["latency_data"]["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 2);
    for (i, turn) in turns.iter().enumerate() {
        assert_eq!(turn["turn"], i + 1);
        let (llm, start, ttfb) =
            (turn["llm_ttfb_ms"].as_u64(), turn["tts_start_ms"].as_u64(), turn["tts_ttfb_ms"].as_u64());
        assert!(llm <= start && start <= ttfb, "{turn}");
    }

    let seconds = c["duration_seconds"].as_i64().expect("duration");
    // In call time: at least what the script takes to say, at most the real
    // time the test waited scaled by the clock (however slow the machine).
    assert!(seconds >= 5 && seconds as f64 <= wall * SPEED + 1.0, "{seconds} s of call time in {wall} s");
    let minutes = ((seconds as f64 / 60.0) * 100.0).round() / 100.0;
    assert_eq!(c["minutes_used"], minutes);
    assert_eq!(c["rate_per_minute"], 0.15);
    let cost = (minutes * 0.15 * 1e6).round() / 1e6;
    assert_eq!(c["call_cost"], cost);
    assert_eq!(c["total_cost"], cost);
    let after = s.get("/v1/credits").await.body["balance"].as_f64().expect("balance");
    assert!((before - after - cost).abs() < 1e-9, "debited {} for a {cost} call", before - after);

    let list = s.get("/v1/calls").await;
    let listed = &list.body["calls"][0];
    assert_eq!(listed["call_id"], call.as_str());
    assert!(listed.get("transcript").is_none() && listed.get("latency_data").is_none());
}

#[tokio::test]
async fn magic_numbers_give_busy_no_answer_failed_and_voicemail() {
    let s = server().await;
    let agent = s
        .create_agent(json!({"name": "VM", "voicemail": {"detection": true, "action": "leave_message", "message": "Please call us back."}}))
        .await;
    let busy = dial(&s, &agent, "+15550100002", None).await;
    let no_answer = dial(&s, &agent, "+15550100003", None).await;
    let failed = dial(&s, &agent, "+15550100005", None).await;
    let voicemail = dial(&s, &agent, "+15550100004", None).await;
    assert_outcome(&ended(&s, &busy).await, "busy", "busy", Value::Null);
    assert_outcome(&ended(&s, &no_answer).await, "no-answer", "no-answer", json!("timeout"));
    let f = ended(&s, &failed).await;
    assert_outcome(&f, "failed", "failed", json!("error"));
    assert_eq!(f["duration_seconds"], 0);
    assert_eq!(f["total_cost"], 0.0);
    let vm = ended(&s, &voicemail).await;
    assert_outcome(&vm, "completed", "voicemail", json!("agent-hangup"));
    assert_eq!(vm["transcript"][0]["content"], "Please call us back.");

    let hangup_agent =
        s.create_agent(json!({"name": "VM2", "voicemail": {"detection": true, "action": "hangup"}})).await;
    let vm2 = dial(&s, &hangup_agent, "+15550100004", None).await;
    let vm2 = ended(&s, &vm2).await;
    assert_outcome(&vm2, "completed", "voicemail", json!("agent-hangup"));
    assert_eq!(vm2["transcript"], json!([]));
}

#[tokio::test]
async fn the_api_ends_live_calls_and_cancels_ringing_ones() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600})).await;
    let call = dial(&s, &agent, "+31612345678", Some(json!([{"say": "Hello?"}, {"wait": 3000}]))).await;
    answered(&s, &call).await;
    let status = s.get(&format!("/v1/calls/{call}/status")).await;
    assert_eq!(status.body["status"], "in-progress");
    assert_eq!(status.body["ended_at"], Value::Null);
    let end = s.post(&format!("/v1/calls/{call}/end"), json!({})).await;
    assert_eq!(end.status, 200);
    assert_eq!(end.body, json!({"success": true}));
    assert_outcome(&ended(&s, &call).await, "completed", "answered", json!("api"));
    let again = s.post(&format!("/v1/calls/{call}/end"), json!({})).await;
    assert_error(&again, 409, "CALL_NOT_IN_PROGRESS");
    assert_eq!(again.body["message"], "Call is not in progress");

    // A call still ringing is canceled. No-answer numbers ring 30 s of call
    // time: at 10× that leaves 3 s of wall time to end it.
    let slow = TestServer::start_with(|c| c.runtime.clock_speed = 10.0).await;
    let slow_agent = slow.create_agent(json!({"name": "A"})).await;
    let ringing = dial(&slow, &slow_agent, "+15550100003", None).await;
    assert_eq!(slow.get(&format!("/v1/calls/{ringing}/status")).await.body["status"], "ringing");
    assert_eq!(slow.post(&format!("/v1/calls/{ringing}/end"), json!({})).await.status, 200);
    assert_outcome(&ended(&slow, &ringing).await, "canceled", "no-answer", json!("api"));
    assert_error(&s.post("/v1/calls/call_missing/end", json!({})).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn transfers_validate_fail_and_complete() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600})).await;
    let call = dial(&s, &agent, "+31612345678", Some(json!([{"say": "Put me through please"}, {"wait": 3000}]))).await;
    answered(&s, &call).await;
    for bad in [json!({}), json!({"destination": "0612345678"}), json!({"destination": "+31 6 12"})] {
        let resp = s.post(&format!("/v1/calls/{call}/transfer"), bad).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert_eq!(resp.body["message"], "destination must be a valid E.164 phone number");
    }
    let refused = s.post(&format!("/v1/calls/{call}/transfer"), json!({"destination": "+31850000005"})).await;
    assert_error(&refused, 422, "TRANSFER_FAILED");
    assert_eq!(refused.body["message"], "Transfer failed: destination unreachable");
    let ok = s.post(&format!("/v1/calls/{call}/transfer"), json!({"destination": "+31850099999"})).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body, json!({"success": true, "destination": "+31850099999"}));
    let c = ended(&s, &call).await;
    assert_outcome(&c, "completed", "transferred", json!("transfer"));
    assert_eq!(c["transferred_to"], "+31850099999");
    assert_eq!(c["transfer_duration_seconds"], 20);
    assert_eq!(c["transfer_cost"], 0.0495, "0.33 min at 0.15");
    let total = c["call_cost"].as_f64().unwrap_or(0.0) + 0.0495;
    assert!((c["total_cost"].as_f64().unwrap_or(0.0) - total).abs() < 1e-9, "{c}");
    let late = s.post(&format!("/v1/calls/{call}/transfer"), json!({"destination": "+31850099999"})).await;
    assert_error(&late, 409, "CALL_NOT_IN_PROGRESS");
}

#[tokio::test]
async fn gather_collects_digits_once_at_a_time() {
    // At 10x the caller keys their PIN 40 s (4 s of real time) after saying
    // hi: room for the test to start the gather first however busy the
    // machine is.
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 10.0).await;
    let rx = WebhookReceiver::start().await;
    let agent =
        s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600, "webhook_url": rx.url("/agent")})).await;
    let call = ring_in(&s, &agent, json!([{"say": "Hi"}, {"wait": 40}, {"dtmf": "1234#"}, {"wait": 3000}])).await;
    let call = call.body["call_id"].as_str().expect("id").to_owned();
    answered(&s, &call).await;
    let bad = s
        .post(&format!("/v1/calls/{call}/gather"), json!({"prompt": "x", "max_digits": 30, "timeout_seconds": 2}))
        .await;
    assert_error(&bad, 400, "VALIDATION_ERROR");
    assert!(bad.body["details"]["max_digits"].is_string() && bad.body["details"]["timeout_seconds"].is_string());
    let started = s
        .post(
            &format!("/v1/calls/{call}/gather"),
            json!({"prompt": "Enter your PIN.", "max_digits": 8, "timeout_seconds": 60}),
        )
        .await;
    assert_eq!(started.status, 202, "{}", started.body);
    assert_eq!(started.body, json!({"message": "Gather initiated", "call_id": call}));
    let second = s.post(&format!("/v1/calls/{call}/gather"), json!({"prompt": "Again"})).await;
    assert_error(&second, 409, "GATHER_IN_PROGRESS");
    assert_eq!(second.body["message"], "A gather operation is already in progress for this call");
    // A gather is refused while one runs: retry until the first has finished
    // (the caller keys 1234#), then start one nobody answers, and a third once
    // that one has timed out.
    let next_gather = |prompt: &'static str| {
        let (s, call) = (&s, call.clone());
        async move {
            let until = std::time::Instant::now() + Duration::from_secs(30);
            while std::time::Instant::now() < until {
                let resp =
                    s.post(&format!("/v1/calls/{call}/gather"), json!({"prompt": prompt, "timeout_seconds": 5})).await;
                if resp.status == 202 {
                    return;
                }
                assert_error(&resp, 409, "GATHER_IN_PROGRESS");
                // Slow enough to stay inside the org's per-minute rate limit.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the previous gather never finished");
        }
    };
    next_gather("Anything else?").await;
    next_gather("Still there?").await;
    assert_eq!(s.post(&format!("/v1/calls/{call}/end"), json!({})).await.status, 200);
    let c = ended(&s, &call).await;
    let results = c["metadata"]["gather_results"].as_array().expect("gather results");
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[0]["status"], "completed", "{results:?}");
    assert_eq!(results[0]["input"], "1234");
    assert_eq!(results[0]["prompt"], "Enter your PIN.");
    assert_eq!(results[1]["status"], "timeout");
    assert_eq!(results[1]["input"], Value::Null);
    let late = s.post(&format!("/v1/calls/{call}/gather"), json!({"prompt": "Hello?"})).await;
    assert_error(&late, 409, "CALL_NOT_IN_PROGRESS");
    assert_eq!(late.body["message"], "Call is not active");
    // The webhook carries the seed's flat payload at the top level (and the
    // same fields in `data`, like every other event).
    let gathers = |d: &[Delivery]| -> Vec<Value> {
        d.iter().filter(|x| x.event() == "call.gather.completed").map(|x| x.body.clone()).collect()
    };
    let got = gathers(&rx.wait_until(Duration::from_secs(30), |d| gathers(d).len() == 3).await);
    let first = got.iter().find(|b| b["status"] == "completed").expect("a completed gather");
    let flat = json!({"event": "call.gather.completed", "call_id": call, "agent_id": agent, "status": "completed", "input": "1234"});
    for (field, value) in flat.as_object().expect("object") {
        assert_eq!(&first[field], value, "{field} in {first}");
        assert!(field == "event" || &first["data"][field] == value, "{field} in data of {first}");
    }
    let timeout = got.iter().find(|b| b["status"] == "timeout").expect("a timed-out gather");
    assert!(timeout.as_object().is_some_and(|o| o.contains_key("input")) && timeout["input"].is_null(), "{timeout}");
}

#[tokio::test]
async fn silence_max_duration_and_goodbyes_end_calls() {
    let s = server().await;
    let quiet = s.create_agent(json!({"name": "Q", "silence_timeout_seconds": 5})).await;
    let call = ring_in(&s, &quiet, json!([])).await.body["call_id"].as_str().expect("id").to_owned();
    let c = ended(&s, &call).await;
    assert_outcome(&c, "completed", "answered", json!("silence-timeout"));
    assert_eq!(c["direction"], "inbound");

    let short = s.create_agent(json!({"name": "S", "max_duration": 60, "silence_timeout_seconds": 600})).await;
    let call = ring_in(&s, &short, json!([{"say": "I will stay on the line"}, {"wait": 600}])).await;
    let c = ended(&s, call.body["call_id"].as_str().expect("id")).await;
    assert_outcome(&c, "completed", "answered", json!("max-duration"));
    assert_eq!(c["duration_seconds"], 60, "cut at exactly 60 s of call time, however late the timer ran");

    let polite = s.create_agent(json!({"name": "P", "end_call_enabled": true})).await;
    let call = ring_in(&s, &polite, json!([{"say": "Just checking, bye!"}, {"wait": 600}])).await;
    let c = ended(&s, call.body["call_id"].as_str().expect("id")).await;
    assert_outcome(&c, "completed", "answered", json!("agent-hangup"));
    let last = c["transcript"].as_array().and_then(|t| t.last().cloned()).unwrap_or_default();
    assert_eq!(last["role"], "assistant");
    assert!(last["content"].as_str().is_some_and(|t| t.contains("Goodbye")));
}

#[tokio::test]
async fn credits_cap_a_call_and_paused_orgs_cannot_call() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600})).await;
    // EUR 0.15 left at 0.15 a minute: one minute of talk.
    admin::add_credits(s.store(), &s.boot.org_id, -99.85).await.expect("drain");
    let call = ring_in(&s, &agent, json!([{"say": "Tell me everything"}, {"wait": 600}])).await;
    let c = ended(&s, call.body["call_id"].as_str().expect("id")).await;
    assert_outcome(&c, "completed", "answered", json!("max-duration"));
    assert_eq!(c["duration_seconds"], 60, "{c}");
    let credits = s.get("/v1/credits").await;
    assert!(credits.body["balance"].as_f64().is_some_and(|b| b <= 0.0001), "{}", credits.body);
    assert_eq!(credits.body["is_paused"], true);
    assert_error(
        &s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612345678"})).await,
        402,
        "INSUFFICIENT_CREDITS",
    );
}

#[tokio::test]
async fn the_concurrent_call_limit_refuses_outbound_and_rejects_inbound() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600})).await;
    let hold = json!([{"wait": 3000}]);
    let mut calls = Vec::new();
    for _ in 0..10 {
        calls.push(dial(&s, &agent, "+31612345678", Some(hold.clone())).await);
    }
    let over = s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612345678"})).await;
    assert_error(&over, 429, "CONCURRENT_CALL_LIMIT");
    let inbound = ring_in(&s, &agent, json!([{"say": "hello"}])).await;
    assert_eq!(inbound.status, 201);
    assert_outcome(&inbound.body, "rejected", "rejected", Value::Null);
    let rejected = inbound.body["call_id"].as_str().expect("id");
    assert_eq!(s.get(&format!("/v1/calls/{rejected}")).await.body["status"], "rejected");

    // The agent cannot be deleted while it has live calls.
    assert_error(&s.delete(&format!("/v1/agents/{agent}")).await, 409, "AGENT_HAS_ACTIVE_CALLS");
    for call in &calls {
        s.post(&format!("/v1/calls/{call}/end"), json!({})).await;
    }
    for call in &calls {
        ended(&s, call).await;
    }
    assert_eq!(s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612345678"})).await.status, 201);
}

#[tokio::test]
async fn archived_agents_take_no_calls() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "Old"})).await;
    s.post(&format!("/v1/agents/{agent}/archive"), json!({})).await;
    let out = s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612345678"})).await;
    assert_error(&out, 409, "AGENT_UNAVAILABLE");
    let inbound = ring_in(&s, &agent, json!([{"say": "hello"}])).await;
    assert_outcome(&inbound.body, "rejected", "rejected", Value::Null);
    let inactive = s.create_agent(json!({"name": "Off", "is_active": false})).await;
    assert_error(
        &s.post("/v1/calls", json!({"agent_id": inactive, "to": "+31612345678"})).await,
        409,
        "AGENT_UNAVAILABLE",
    );
}

#[tokio::test]
async fn bad_call_requests_are_refused() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "A"})).await;
    let bad = s.post("/v1/calls", json!({"agent_id": agent, "to": "0612345678", "from_number": "x"})).await;
    assert_error(&bad, 400, "VALIDATION_ERROR");
    assert!(bad.body["details"]["to"].is_string() && bad.body["details"]["from_number"].is_string());
    let script = s
        .post(
            "/v1/calls",
            json!({"agent_id": agent, "to": "+31612345678", "simulation": {"script": [{"dtmf": "12x"}]}}),
        )
        .await;
    assert_error(&script, 400, "VALIDATION_ERROR");
    let unknown = s.post("/v1/calls", json!({"agent_id": "agent_missing", "to": "+31612345678"})).await;
    assert_error(&unknown, 404, "NOT_FOUND");
    assert_eq!(unknown.body["message"], "Agent not found");
    assert_error(&s.get("/v1/calls/call_missing").await, 404, "NOT_FOUND");
    assert_eq!(s.get("/v1/calls/call_missing").await.body["message"], "Call not found");
}

#[tokio::test]
async fn recordings_say_why_they_are_missing() {
    let s = server().await;
    let plain = s.create_agent(json!({"name": "A"})).await;
    let recorded = s.create_agent(json!({"name": "R", "recording": true})).await;
    let a = ended(&s, &dial(&s, &plain, "+15550100005", None).await).await;
    let b = ended(&s, &dial(&s, &recorded, "+15550100005", None).await).await;
    assert_eq!(b["recording_enabled"], true);
    let not_enabled = s.get(&format!("/v1/calls/{}/recording", a["call_id"].as_str().unwrap_or_default())).await;
    assert_error(&not_enabled, 404, "RECORDING_NOT_ENABLED");
    assert_eq!(not_enabled.body["message"], "Recording was not enabled for this call");
    let path = format!("/v1/calls/{}/recording", b["call_id"].as_str().unwrap_or_default());
    let pending = s.get(&path).await;
    assert_error(&pending, 404, "RECORDING_NOT_AVAILABLE");
    assert_eq!(pending.body["message"], "Recording not yet available");
    assert_error(&s.get(&format!("{path}?expires_in=10")).await, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn lists_filter_and_the_summary_adds_up() {
    let s = server().await;
    let a = s.create_agent(json!({"name": "A"})).await;
    let b = s.create_agent(json!({"name": "B"})).await;
    let mut ids = Vec::new();
    for (agent, to) in [(&a, "+31612345678"), (&a, "+15550100002"), (&b, "+15550100003"), (&b, "+31612345679")] {
        ids.push(dial(&s, agent, to, None).await);
    }
    let mut calls = Vec::new();
    for id in &ids {
        calls.push(ended(&s, id).await);
    }
    let of_a = s.get(&format!("/v1/calls?agent_id={a}")).await;
    assert_eq!(of_a.body["calls"].as_array().map(Vec::len), Some(2));
    let busy = s.get("/v1/calls?status=busy").await;
    assert_eq!(busy.body["calls"][0]["call_id"], ids[1].as_str());
    let answered = s.get("/v1/calls?disposition=answered").await;
    assert_eq!(answered.body["calls"].as_array().map(Vec::len), Some(2));
    let today = switchboard_domain::time::iso(s.store().clock().now_ms())[..10].to_owned();
    let dated = s.get(&format!("/v1/calls?from_date={today}&to_date={today}&limit=3")).await;
    assert_eq!(dated.body["calls"].as_array().map(Vec::len), Some(3));
    let next = dated.body["next_cursor"].as_str().expect("cursor");
    let rest = s.get(&format!("/v1/calls?from_date={today}&after={next}")).await;
    assert_eq!(rest.body["calls"].as_array().map(Vec::len), Some(1));
    assert_eq!(s.get("/v1/calls?from_date=2001-01-01&to_date=2001-01-02").await.body["calls"], json!([]));
    for bad in [
        "status=done",
        "disposition=maybe",
        "from_date=yesterday",
        "limit=0",
        "from_date=2026-02-01&to_date=2026-01-01",
    ] {
        assert_error(&s.get(&format!("/v1/calls?{bad}")).await, 400, "VALIDATION_ERROR");
    }

    let summary = s.get(&format!("/v1/calls/summary?from_date={today}&to_date={today}")).await;
    let sum = &summary.body;
    assert_eq!(sum["total_calls"], 4);
    assert_eq!(sum["completed_calls"], 2);
    assert_eq!(sum["answered_calls"], 2);
    assert_eq!(sum["no_answer_calls"], 1);
    assert_eq!(sum["failed_calls"], 0);
    let duration: i64 = calls.iter().filter_map(|c| c["duration_seconds"].as_i64()).sum();
    assert_eq!(sum["total_duration_seconds"], duration);
    let cost: f64 = calls.iter().filter_map(|c| c["total_cost"].as_f64()).sum();
    assert!((sum["total_cost"].as_f64().unwrap_or(-1.0) - cost).abs() < 1e-9);
    let minutes: f64 = calls.iter().filter_map(|c| c["minutes_used"].as_f64()).sum();
    assert!((sum["total_minutes_used"].as_f64().unwrap_or(-1.0) - minutes).abs() < 1e-9);
    assert_eq!(sum["filters"], json!({"from_date": today, "to_date": today}));
    let only_b = s.get(&format!("/v1/calls/summary?agent_id={b}")).await;
    assert_eq!(only_b.body["total_calls"], 2);
    assert_eq!(only_b.body["filters"]["agent_id"], b.as_str());
    // The summary takes the list's filters and counts what the list shows.
    for query in [format!("agent_id={a}"), "status=busy".into(), "disposition=answered".into()] {
        let listed = s.get(&format!("/v1/calls?{query}")).await.body["calls"].as_array().map(Vec::len);
        let summed = s.get(&format!("/v1/calls/summary?{query}")).await;
        assert_eq!(summed.status, 200, "{query}: {}", summed.body);
        assert_eq!(summed.body["total_calls"].as_u64(), listed.map(|n| n as u64), "{query}");
    }
    // An agent it does not know is never answered with zeros; nor is a
    // numeric id, an unknown parameter or a cursor that is not one.
    let unknown = switchboard_domain::ids::IdKind::Agent.new_id();
    for path in ["/v1/calls", "/v1/calls/summary"] {
        let missing = s.get(&format!("{path}?agent_id={unknown}")).await;
        assert_error(&missing, 404, "NOT_FOUND");
        assert_eq!(missing.body["message"], "Agent not found");
        let numeric = s.get(&format!("{path}?agent_id=1")).await;
        assert_error(&numeric, 400, "VALIDATION_ERROR");
        assert!(numeric.body["details"]["agent_id"].is_string(), "{}", numeric.body);
        let extra = s.get(&format!("{path}?agent={a}&page=2")).await;
        assert_error(&extra, 400, "VALIDATION_ERROR");
        let details = extra.body["details"].as_object().expect("details");
        assert_eq!(details.keys().collect::<Vec<_>>(), ["agent", "page"], "{}", extra.body);
        assert!(
            details["page"].as_str().is_some_and(|m| m.contains("agent_id")),
            "names what it takes: {}",
            extra.body
        );
    }
    for bad in ["after=nonsense", "after=agent_01jd0000000000000000000000", "after=1"] {
        let resp = s.get(&format!("/v1/calls?{bad}")).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"]["after"].is_string(), "{bad}: {}", resp.body);
    }
    let unknown_param = s.get(&format!("/v1/calls/{}?expand=transcript", ids[0])).await;
    assert_error(&unknown_param, 400, "VALIDATION_ERROR");
    assert!(unknown_param.body["details"]["expand"].is_string());

    // Another project sees none of these calls.
    let other = admin::bootstrap(s.store(), "Other", 100.0).await.expect("org");
    let foreign = s.call(Method::GET, &format!("/v1/calls/{}", ids[0]), Some(&other.project_key), None).await;
    assert_error(&foreign, 404, "NOT_FOUND");
    let foreign_list = s.call(Method::GET, "/v1/calls", Some(&other.project_key), None).await;
    assert_eq!(foreign_list.body["calls"], json!([]));
    let foreign_end = s.call(Method::POST, &format!("/v1/calls/{}/end", ids[0]), Some(&other.project_key), None).await;
    assert_error(&foreign_end, 404, "NOT_FOUND");
}

#[tokio::test]
async fn a_restarting_node_closes_only_the_calls_it_held() {
    let s = TestServer::start_with(|c| c.node_id = Some("node-a".into())).await;
    let agent = s.create_agent(json!({"name": "A"})).await;
    let live = |id: &str, node: &str| {
        CallRecord::ringing(Ringing {
            id: id.into(),
            org_id: s.boot.org_id.clone(),
            project_id: s.boot.project_id.clone(),
            agent_id: Some(agent.clone()),
            direction: Direction::Outbound,
            from_number: "+15550000000".into(),
            to_number: "+31612345678".into(),
            rate_per_minute: 150_000,
            recording_enabled: false,
            metadata: json!({}),
            node_id: Some(node.into()),
            at: s.store().clock().now_ms(),
        })
    };
    s.store().insert_call(&live("call_mine", "node-a")).await.expect("insert");
    s.store().insert_call(&live("call_theirs", "node-b")).await.expect("insert");
    let closed = s.store().close_abandoned_calls(&s.config.node_id(), None).await.expect("close");
    assert_eq!(closed, ["call_mine"]);
    let mine = s.get("/v1/calls/call_mine").await.body;
    assert_eq!((mine["status"].as_str(), mine["ended_reason"].as_str()), (Some("failed"), Some("error")));
    assert_eq!(s.get("/v1/calls/call_theirs").await.body["status"], "ringing", "another node's call is its own");
}

#[tokio::test]
async fn metrics_show_live_calls_turn_latency_and_the_lag_of_call_writes() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600})).await;
    let call = ring_in(&s, &agent, json!([{"say": "Hello there"}, {"hangup": true}])).await;
    ended(&s, call.body["call_id"].as_str().expect("id")).await;
    let text = s.request(Method::GET, "/metrics").send().await.expect("metrics").text().await.unwrap_or_default();
    for name in ["switchboard_live_calls", "switchboard_turn_latency_seconds", "switchboard_call_write_lag_seconds"] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test]
async fn concurrent_calls_share_the_balance_and_never_overdraw_it() {
    // A minute is 6 s here: no call asks for its second minute (2 s before
    // the first runs out) before all twelve requests have been answered.
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 10.0).await;
    let agent = s.create_agent(json!({"name": "A", "silence_timeout_seconds": 600})).await;
    // EUR 0.45 at 0.15 a minute: three minutes for all calls together.
    admin::add_credits(s.store(), &s.boot.org_id, -99.55).await.expect("drain");
    let script = json!([{"say": "Tell me everything"}, {"wait": 600}]);
    let answers = futures_util::future::join_all((0..12).map(|_| {
        s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612345678", "simulation": {"script": script}}))
    }))
    .await;
    let started: Vec<String> = answers
        .iter()
        .filter(|a| a.status == 201)
        .map(|a| a.body["call_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        started.len(),
        3,
        "three first minutes fit in the balance: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    // The rest are refused for want of credit, or over the payg tier's ten
    // concurrent calls.
    for refused in answers.iter().filter(|a| a.status != 201) {
        match refused.status {
            402 => assert_error(refused, 402, "INSUFFICIENT_CREDITS"),
            _ => assert_error(refused, 429, "CONCURRENT_CALL_LIMIT"),
        }
    }
    assert!(answers.iter().any(|a| a.status == 402));
    let mut billed = 0.0;
    for id in &started {
        let c = ended(&s, id).await;
        assert_outcome(&c, "completed", "answered", json!("max-duration"));
        billed += c["total_cost"].as_f64().unwrap_or(0.0);
    }
    let balance = s.get("/v1/credits").await.body["balance"].as_f64().unwrap_or(-1.0);
    assert!(balance >= 0.0, "the balance never goes below zero: {balance}");
    assert!((0.45 - billed - balance).abs() < 1e-9, "the ledger adds up: billed {billed}, left {balance}");
    assert!(billed > 0.44, "the calls used what there was: {billed}");
}

#[tokio::test]
async fn a_call_the_balance_cannot_pay_a_first_minute_for_is_refused_or_rejected() {
    let s = server().await;
    let agent = s.create_agent(json!({"name": "A"})).await;
    admin::add_credits(s.store(), &s.boot.org_id, -99.95).await.expect("drain to EUR 0.05");
    let refused = s.post("/v1/calls", json!({"agent_id": agent, "to": "+31612345678"})).await;
    assert_error(&refused, 402, "INSUFFICIENT_CREDITS");
    let inbound = ring_in(&s, &agent, json!([{"say": "Hello?"}])).await;
    assert_eq!(inbound.body["status"], "rejected", "{}", inbound.body);
    assert_eq!(s.get("/v1/credits").await.body["balance"], 0.05, "nothing was spent");
}

#[tokio::test]
async fn the_call_object_documents_what_its_duration_and_times_measure() {
    let s = TestServer::start().await;
    let doc = s.call(Method::GET, "/v1/openapi.json", None, None).await.body;
    let call = &doc["components"]["schemas"]["Call"]["properties"];
    let described = |field: &str, words: &[&str]| {
        let text = call[field]["description"].as_str().unwrap_or_default().to_lowercase();
        assert!(words.iter().all(|w| text.contains(w)), "{field}: {text:?} should mention {words:?}");
    };
    described("duration_seconds", &["answer", "never answered", "transfer"]);
    described("started_at", &["placed", "rang in"]);
    described("answered_at", &["never"]);
    described("ended_at", &["live"]);
}
