//! `GET /v1/usage` through the real server: calls and SMS placed on chosen
//! days with the store's clock, then every summary and timeseries field per
//! day, ISO week and month bucket, the agent filter and breakdown, scoping by
//! key type, and the limits of the range.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::call::{CallCost, CallRecord, CallStatus, Direction, Disposition, EndedReason, Ringing};
use switchboard_domain::ids::IdKind;

use crate::common::{Resp, TestServer, assert_error, send};

/// Sets the store clock to `iso` (UTC).
fn set_clock(s: &TestServer, iso: &str) {
    let target = switchboard_domain::time::parse_iso(iso).expect("time");
    let now = s.store().clock().now_ms();
    s.store().clock().advance(target - now);
}

/// One call of a test: when, whose, how it ended and what it cost.
struct Placed<'a> {
    at: &'a str,
    project: &'a str,
    org: &'a str,
    agent: &'a str,
    status: CallStatus,
    disposition: Disposition,
    seconds: i64,
    cost: CallCost,
    transferred_to: Option<&'a str>,
}

async fn place(s: &TestServer, p: Placed<'_>) {
    set_clock(s, p.at);
    let mut call = CallRecord::ringing(Ringing {
        id: IdKind::Call.new_id(),
        org_id: p.org.to_owned(),
        project_id: p.project.to_owned(),
        agent_id: Some(p.agent.to_owned()),
        direction: Direction::Inbound,
        from_number: "+31612345678".into(),
        to_number: "+3197010000001".into(),
        rate_per_minute: 150_000,
        recording_enabled: false,
        metadata: json!({}),
        node_id: None,
        at: s.store().clock().now_ms(),
    });
    s.store().insert_call(&call).await.expect("insert call");
    call.status = p.status;
    call.disposition = Some(p.disposition);
    call.ended_reason = Some(EndedReason::CallerHangup);
    call.ended_at = Some(call.started_at + p.seconds * 1000);
    call.duration_seconds = p.seconds;
    call.cost = p.cost;
    call.transferred_to = p.transferred_to.map(str::to_owned);
    s.store().finish_call(&call).await.expect("finish call");
}

fn cost(centi_minutes: i64, call: i64, recording: i64, transfer: i64, discount: i64) -> CallCost {
    CallCost {
        centi_minutes,
        call_cost: call,
        recording_cost: recording,
        transfer_cost: transfer,
        llm_discount: discount,
        total_cost: call + recording + transfer - discount,
    }
}

async fn sms_at(s: &TestServer, at: &str, to: &str) {
    set_clock(s, at);
    let resp = s.post("/v1/sms", json!({"to": to, "message": "Usage test"})).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
}

/// The scenario: project 1 with agents Nova and Orion, calls and SMS in
/// January and February 2026 (and one call in March, outside the range).
async fn scenario(s: &TestServer) -> (String, String) {
    let nova = s.create_agent(json!({"name": "Nova"})).await;
    let orion = s.create_agent(json!({"name": "Orion"})).await;
    let (project, org) = (s.boot.project_id.as_str(), s.boot.org_id.as_str());
    let base = |at, agent, status, disposition, seconds, cost| Placed {
        at,
        project,
        org,
        agent,
        status,
        disposition,
        seconds,
        cost,
        transferred_to: None,
    };
    place(
        s,
        base(
            "2026-01-05T10:00:00Z",
            &nova,
            CallStatus::Completed,
            Disposition::Answered,
            120,
            cost(200, 300_000, 10_000, 0, 0),
        ),
    )
    .await;
    let transferred = cost(102, 153_000, 0, 50_000, 3_000);
    place(
        s,
        Placed {
            transferred_to: Some("+31201234567"),
            ..base("2026-01-07T10:00:00Z", &nova, CallStatus::Completed, Disposition::Transferred, 61, transferred)
        },
    )
    .await;
    place(s, base("2026-01-07T11:00:00Z", &orion, CallStatus::NoAnswer, Disposition::NoAnswer, 0, CallCost::default()))
        .await;
    place(s, base("2026-01-12T09:00:00Z", &orion, CallStatus::Failed, Disposition::Failed, 0, CallCost::default()))
        .await;
    place(
        s,
        base("2026-01-12T09:30:00Z", &orion, CallStatus::Completed, Disposition::Answered, 0, CallCost::default()),
    )
    .await;
    place(s, base("2026-02-03T12:00:00Z", &nova, CallStatus::Busy, Disposition::Busy, 0, CallCost::default())).await;
    place(
        s,
        base(
            "2026-03-01T00:00:00Z",
            &nova,
            CallStatus::Completed,
            Disposition::Answered,
            60,
            cost(100, 150_000, 0, 0, 0),
        ),
    )
    .await;
    sms_at(s, "2026-01-07T12:00:00Z", "+31612345678").await;
    sms_at(s, "2026-01-12T12:00:00Z", "+447700900123").await;
    sms_at(s, "2026-01-12T23:59:59Z", "+447700900123").await;
    sms_at(s, "2026-02-03T00:00:00Z", "+31612345678").await;
    (nova, orion)
}

fn bucket<'a>(usage: &'a Value, date: &str) -> &'a Value {
    usage["timeseries"].as_array().expect("timeseries").iter().find(|b| b["date"] == date).expect("bucket")
}

#[allow(clippy::too_many_arguments)]
fn assert_point(
    point: &Value,
    calls: i64,
    minutes: f64,
    total: f64,
    call: f64,
    recording: f64,
    transfer: f64,
    discount: f64,
    avg: f64,
    sms: i64,
    sms_cost: f64,
) {
    let expected = json!({"date": point["date"], "calls": calls, "minutes": minutes, "total_cost": total,
        "call_cost": call, "recording_cost": recording, "transfer_cost": transfer, "llm_discount": discount,
        "avg_duration_seconds": avg, "sms_count": sms, "sms_cost": sms_cost});
    assert_eq!(point, &expected);
}

async fn usage(s: &TestServer, query: &str) -> Resp {
    s.get(&format!("/v1/usage{query}")).await
}

#[tokio::test]
async fn every_field_per_day_week_and_month() {
    let s = TestServer::start().await;
    scenario(&s).await;
    let day = usage(&s, "?from=2026-01-05&to=2026-02-28").await;
    assert_eq!(day.status, 200, "{}", day.body);
    assert_eq!((day.body["from"].as_str(), day.body["to"].as_str()), (Some("2026-01-05"), Some("2026-02-28")));
    assert_eq!(day.body["granularity"], "day");
    assert!(day.body.get("by_agent").is_none(), "by_agent only with breakdown=agent");
    assert_eq!(
        day.body["summary"],
        json!({"total_calls": 6, "total_minutes": 3.02, "total_cost": 0.51, "call_cost": 0.453,
               "recording_cost": 0.01, "transfer_cost": 0.05, "llm_discount": 0.003, "sms_count": 4,
               "sms_cost": 0.46, "grand_total_cost": 0.97, "completed_calls": 3, "failed_calls": 1,
               "missed_calls": 2, "transferred_calls": 1, "avg_duration_seconds": 90.5})
    );
    let series = day.body["timeseries"].as_array().expect("timeseries");
    assert_eq!(series.len(), 55, "every day of the range, empty ones included");
    assert_eq!(series[0]["date"], "2026-01-05");
    assert_eq!(series[54]["date"], "2026-02-28");
    assert_point(bucket(&day.body, "2026-01-05"), 1, 2.0, 0.31, 0.3, 0.01, 0.0, 0.0, 120.0, 0, 0.0);
    assert_point(bucket(&day.body, "2026-01-06"), 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0);
    assert_point(bucket(&day.body, "2026-01-07"), 2, 1.02, 0.2, 0.153, 0.0, 0.05, 0.003, 61.0, 1, 0.14);
    assert_point(bucket(&day.body, "2026-01-12"), 2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2, 0.18);
    assert_point(bucket(&day.body, "2026-02-03"), 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1, 0.14);

    let week = usage(&s, "?from=2026-01-05&to=2026-02-28&granularity=week").await;
    assert_eq!(week.body["granularity"], "week");
    let labels: Vec<&str> =
        week.body["timeseries"].as_array().expect("weeks").iter().filter_map(|b| b["date"].as_str()).collect();
    assert_eq!(
        labels,
        [
            "2026-01-05",
            "2026-01-12",
            "2026-01-19",
            "2026-01-26",
            "2026-02-02",
            "2026-02-09",
            "2026-02-16",
            "2026-02-23"
        ]
    );
    assert_point(bucket(&week.body, "2026-01-05"), 3, 3.02, 0.51, 0.453, 0.01, 0.05, 0.003, 90.5, 1, 0.14);
    assert_point(bucket(&week.body, "2026-01-12"), 2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2, 0.18);
    assert_point(bucket(&week.body, "2026-01-19"), 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0);
    assert_point(bucket(&week.body, "2026-02-02"), 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1, 0.14);
    assert_eq!(week.body["summary"], day.body["summary"]);

    // A Wednesday start still buckets by the Monday of its ISO week, counting only days in range.
    let mid_week = usage(&s, "?from=2026-01-07&to=2026-01-07&granularity=week").await;
    assert_point(bucket(&mid_week.body, "2026-01-05"), 2, 1.02, 0.2, 0.153, 0.0, 0.05, 0.003, 61.0, 1, 0.14);
    assert_eq!(mid_week.body["timeseries"].as_array().map(Vec::len), Some(1));

    let month = usage(&s, "?from=2026-01-05&to=2026-03-01&granularity=month").await;
    let labels: Vec<&str> =
        month.body["timeseries"].as_array().expect("months").iter().filter_map(|b| b["date"].as_str()).collect();
    assert_eq!(labels, ["2026-01-01", "2026-02-01", "2026-03-01"]);
    assert_point(bucket(&month.body, "2026-01-01"), 5, 3.02, 0.51, 0.453, 0.01, 0.05, 0.003, 90.5, 3, 0.32);
    assert_point(bucket(&month.body, "2026-02-01"), 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1, 0.14);
    assert_point(bucket(&month.body, "2026-03-01"), 1, 1.0, 0.15, 0.15, 0.0, 0.0, 0.0, 60.0, 0, 0.0);
    assert_eq!(month.body["summary"]["total_calls"], 7, "to is inclusive");
}

#[tokio::test]
async fn agent_filter_and_breakdown() {
    let s = TestServer::start().await;
    let (nova, orion) = scenario(&s).await;
    let only_nova = usage(&s, &format!("?from=2026-01-01&to=2026-02-28&agent_id={nova}")).await;
    assert_eq!(only_nova.status, 200, "{}", only_nova.body);
    let summary = &only_nova.body["summary"];
    assert_eq!(summary["total_calls"], 3);
    assert_eq!(summary["completed_calls"], 2);
    assert_eq!(summary["missed_calls"], 1);
    assert_eq!(summary["total_cost"], 0.51);
    assert_eq!(summary["sms_count"], 0, "SMS sent through /v1/sms belong to no agent");
    assert_eq!(summary["grand_total_cost"], 0.51);

    let breakdown = usage(&s, "?from=2026-01-01&to=2026-02-28&breakdown=agent").await;
    assert_eq!(
        breakdown.body["by_agent"],
        json!([
            {"agent_id": nova, "agent_name": "Nova", "calls": 3, "minutes": 3.02, "total_cost": 0.51},
            {"agent_id": orion, "agent_name": "Orion", "calls": 3, "minutes": 0.0, "total_cost": 0.0}
        ])
    );
    let nobody =
        usage(&s, "?from=2026-01-01&to=2026-02-28&breakdown=agent&agent_id=agent_01aaaaaaaaaaaaaaaaaaaaaaaa").await;
    assert_eq!(nobody.body["by_agent"], json!([]));
    assert_eq!(nobody.body["summary"]["total_calls"], 0);
}

#[tokio::test]
async fn scoping_follows_the_key() {
    let s = TestServer::start().await;
    scenario(&s).await;
    let other = s.store().create_project(&s.boot.org_id, "Second", None).await.expect("project");
    place(
        &s,
        Placed {
            at: "2026-01-05T08:00:00Z",
            project: &other.id,
            org: &s.boot.org_id,
            agent: "agent_other",
            status: CallStatus::Completed,
            disposition: Disposition::Answered,
            seconds: 30,
            cost: cost(50, 75_000, 0, 0, 0),
            transferred_to: None,
        },
    )
    .await;
    let stranger = switchboard::admin::bootstrap(s.store(), "Other Org", 100.0).await.expect("org");
    place(
        &s,
        Placed {
            at: "2026-01-05T08:00:00Z",
            project: &stranger.project_id,
            org: &stranger.org_id,
            agent: "agent_stranger",
            status: CallStatus::Completed,
            disposition: Disposition::Answered,
            seconds: 30,
            cost: cost(50, 75_000, 0, 0, 0),
            transferred_to: None,
        },
    )
    .await;
    let range = "/v1/usage?from=2026-01-01&to=2026-02-28";
    let project = s.get(range).await;
    assert_eq!(project.body["summary"]["total_calls"], 6, "a project key sees its project");
    let org = s.call(Method::GET, range, Some(s.org_key()), None).await;
    assert_eq!(org.status, 200, "{}", org.body);
    assert_eq!(org.body["summary"]["total_calls"], 7, "an org key sees every project of its org, no other org");
    assert_eq!(org.body["summary"]["total_cost"], 0.585);
    assert_eq!(org.body["summary"]["sms_count"], 4);
    let second = send(s.request(Method::GET, range).bearer_auth(s.org_key()).header("x-project-id", &other.id)).await;
    assert_eq!(second.body["summary"]["total_calls"], 1, "X-Project-Id narrows an org key to that project");
    assert_eq!(second.body["summary"]["sms_count"], 0);
    let theirs = s.call(Method::GET, range, Some(&stranger.org_key), None).await;
    assert_eq!(theirs.body["summary"]["total_calls"], 1);
}

#[tokio::test]
async fn range_defaults_and_limits() {
    let s = TestServer::start().await;
    set_clock(&s, "2026-03-31T12:00:00Z");
    let default = usage(&s, "").await;
    assert_eq!(default.status, 200, "{}", default.body);
    assert_eq!((default.body["from"].as_str(), default.body["to"].as_str()), (Some("2026-03-01"), Some("2026-03-31")));
    assert_eq!(default.body["timeseries"].as_array().map(Vec::len), Some(31));
    assert_eq!(default.body["summary"]["avg_duration_seconds"], 0.0);
    let to_only = usage(&s, "?to=2026-01-31").await;
    assert_eq!(to_only.body["from"], "2026-01-01");

    let longest = usage(&s, "?from=2025-01-01&to=2026-01-01").await;
    assert_eq!(longest.status, 200, "366 days counting both ends: {}", longest.body);
    let too_long = usage(&s, "?from=2025-01-01&to=2026-01-02").await;
    assert_error(&too_long, 400, "VALIDATION_ERROR");
    assert!(too_long.body["details"]["to"].as_str().is_some_and(|m| m.contains("366")));
    for bad in
        ["?from=2026-02-02&to=2026-02-01", "?from=2026-2-1", "?to=yesterday", "?granularity=year", "?breakdown=project"]
    {
        assert_error(&usage(&s, bad).await, 400, "VALIDATION_ERROR");
    }
}

#[tokio::test]
async fn messaging_and_usage_routes_are_documented() {
    let s = TestServer::start().await;
    let doc = s.call(Method::GET, "/v1/openapi.json", None, None).await.body;
    let paths = &doc["paths"];
    for (path, method, statuses) in [
        ("/v1/sms", "post", &["201", "400", "402", "422"][..]),
        ("/v1/usage", "get", &["200", "400"][..]),
        ("/v1/contacts", "get", &["200"][..]),
        ("/v1/contacts", "post", &["201", "409"][..]),
        ("/v1/contacts/{contact_id}", "patch", &["200", "404", "409"][..]),
        ("/v1/contacts/{contact_id}/messages", "get", &["200", "404"][..]),
        ("/v1/messages", "post", &["201", "400", "402", "404", "409", "422"][..]),
        ("/v1/simulator/messages", "post", &["201", "400"][..]),
    ] {
        let responses = &paths[path][method]["responses"];
        for status in statuses {
            assert!(responses[*status].is_object(), "{method} {path} documents {status}: {responses}");
        }
    }
    let usage = &doc["components"]["schemas"]["Usage"]["properties"];
    for field in ["from", "to", "granularity", "summary", "timeseries", "by_agent"] {
        assert!(usage[field].is_object(), "Usage.{field}");
    }
}
