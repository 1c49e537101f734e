//! Cross-cutting HTTP behaviour: the error format for every kind of bad input,
//! request ids, pagination, OpenAPI, docs and metrics.

use reqwest::Method;
use serde_json::json;

use crate::common::{TestServer, assert_error, send};

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_our_format() {
    let s = TestServer::start().await;
    assert_error(&s.get("/v1/nothing-here").await, 404, "NOT_FOUND");
    assert_error(&s.call(Method::GET, "/v2/agents", None, None).await, 404, "NOT_FOUND");
    assert_error(&s.call(Method::PUT, "/v1/agents", Some(s.key()), None).await, 405, "METHOD_NOT_ALLOWED");
    assert_error(&s.call(Method::DELETE, "/v1/credits", Some(s.key()), None).await, 405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn bad_bodies_are_400_validation_errors_naming_the_problem() {
    let s = TestServer::start().await;
    let malformed = send(
        s.request(Method::POST, "/v1/agents")
            .bearer_auth(s.key())
            .header("content-type", "application/json")
            .body("{\"name\":"),
    )
    .await;
    assert_error(&malformed, 400, "VALIDATION_ERROR");
    assert!(malformed.body["details"]["body"].as_str().is_some_and(|m| m.starts_with("Malformed JSON")));

    let wrong_type = send(
        s.request(Method::POST, "/v1/agents").bearer_auth(s.key()).header("content-type", "text/plain").body("{}"),
    )
    .await;
    assert_error(&wrong_type, 400, "VALIDATION_ERROR");
    assert!(wrong_type.body["details"]["Content-Type"].is_string());

    let no_type = send(s.request(Method::POST, "/v1/agents").bearer_auth(s.key()).body("{\"name\":\"a\"}")).await;
    assert_error(&no_type, 400, "VALIDATION_ERROR");

    let field_type = s.post("/v1/agents", json!({"name": "a", "max_duration": "long", "recording": 1})).await;
    assert_error(&field_type, 400, "VALIDATION_ERROR");
    assert!(field_type.body["details"]["max_duration"].as_str().is_some_and(|m| m.contains("invalid type")));

    let nested = s.post("/v1/agents", json!({"name": "a", "voicemail": {"action": "sing"}})).await;
    assert_error(&nested, 400, "VALIDATION_ERROR");
    assert!(nested.body["details"]["voicemail.action"].is_string(), "{}", nested.body);

    let unknown_field = s.post("/v1/agents", json!({"name": "a", "colour": "red"})).await;
    assert_error(&unknown_field, 400, "VALIDATION_ERROR");

    let not_object = s.post("/v1/agents", json!(["a"])).await;
    assert_error(&not_object, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn oversized_bodies_are_413_in_our_format() {
    let s = TestServer::start_with(|c| c.http.max_body_bytes = 4096).await;
    let big = "x".repeat(10_000);
    let resp = s.post("/v1/agents", json!({"name": "a", "system_prompt": big})).await;
    assert_error(&resp, 413, "PAYLOAD_TOO_LARGE");
    // Streamed without a length, the body is cut off as it arrives.
    let chunks: Vec<Result<String, std::io::Error>> = (0..10).map(|_| Ok("y".repeat(1000))).collect();
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = send(
        s.request(Method::POST, "/v1/agents")
            .bearer_auth(s.key())
            .header("content-type", "application/json")
            .body(stream),
    )
    .await;
    assert_error(&resp, 413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let s = TestServer::start().await;
    let mut seen = std::collections::HashSet::new();
    for resp in [
        s.get("/v1/agents").await,
        s.call(Method::GET, "/v1/agents", None, None).await,
        s.get("/v1/missing").await,
        s.call(Method::GET, "/v1/health", None, None).await,
    ] {
        let id = resp.header("x-request-id").expect("request id").to_owned();
        assert!(id.starts_with("req_"));
        assert!(seen.insert(id), "ids are unique");
    }
    // A request id sent by the client is kept.
    let resp = send(s.request(Method::GET, "/v1/health").header("x-request-id", "req_from_client")).await;
    assert_eq!(resp.header("x-request-id"), Some("req_from_client"));
}

#[tokio::test]
async fn lists_page_with_cursors() {
    let s = TestServer::start_with(|_| {}).await;
    switchboard::admin::set_tier(s.store(), &s.boot.org_id, "enterprise").await.expect("tier");
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(s.create_agent(json!({"name": format!("Agent {i:02}")})).await);
    }
    ids.reverse(); // newest first
    let first = s.get("/v1/agents").await;
    let page: Vec<&str> =
        first.body["agents"].as_array().expect("agents").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(page, ids[..20].iter().map(String::as_str).collect::<Vec<_>>());
    let cursor = first.body["next_cursor"].as_str().expect("more pages");
    assert_eq!(cursor, ids[19]);
    let second = s.get(&format!("/v1/agents?after={cursor}")).await;
    let page: Vec<&str> =
        second.body["agents"].as_array().expect("agents").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(page, ids[20..].iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(second.body["next_cursor"], serde_json::Value::Null);

    let exact = s.get("/v1/agents?limit=25").await;
    assert_eq!(exact.body["agents"].as_array().map(Vec::len), Some(25));
    assert_eq!(exact.body["next_cursor"], serde_json::Value::Null, "no cursor when nothing follows");
    assert_eq!(s.get("/v1/agents?limit=100").await.status, 200);
    for bad in ["limit=0", "limit=101", "limit=abc", "limit=-1", "archived=maybe"] {
        let resp = s.get(&format!("/v1/agents?{bad}")).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        let field = bad.split('=').next().unwrap_or_default();
        assert!(resp.body["details"][field].is_string(), "{bad}: {}", resp.body);
    }
}

#[tokio::test]
async fn openapi_docs_and_metrics_are_served() {
    let s = TestServer::start().await;
    let doc = s.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    let paths = doc.body["paths"].as_object().expect("paths");
    for path in [
        "/v1/health",
        "/v1/agents",
        "/v1/agents/{agent_id}",
        "/v1/agents/{agent_id}/clone",
        "/v1/agents/{agent_id}/archive",
        "/v1/agents/{agent_id}/restore",
        "/v1/agents/{agent_id}/rotate-webhook-secret",
        "/v1/agents/{agent_id}/audit-log",
        "/v1/org/projects",
        "/v1/org/projects/{project_id}",
        "/v1/org/projects/{project_id}/api-keys",
        "/v1/org/projects/{project_id}/api-keys/{key_id}",
        "/v1/org/api-keys",
        "/v1/org/api-keys/{key_id}",
        "/v1/project",
        "/v1/credits",
        "/v1/voices",
    ] {
        assert!(paths.contains_key(path), "OpenAPI documents {path}");
    }
    // The server_url protocol's formats are part of the document.
    let schemas = doc.body["components"]["schemas"].as_object().expect("schemas");
    for schema in [
        "CallStarted",
        "CallConfig",
        "ToolDef",
        "ToolCallRequest",
        "ToolCallResponse",
        "TranscriptUpdated",
        "IvrMenu",
        "ServerUrlMemory",
    ] {
        assert!(schemas.contains_key(schema), "{schema} documented");
    }
    // Every schema a document references is in it.
    let text = doc.body.to_string();
    for piece in text.split("\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or_default();
        assert!(schemas.contains_key(name), "{name} is referenced but not documented");
    }
    let create = &doc.body["paths"]["/v1/agents"]["post"]["responses"];
    for status in ["201", "400", "401", "402", "403", "429"] {
        assert!(create.get(status).is_some(), "POST /v1/agents documents {status}");
    }
    let docs = s.request(Method::GET, "/docs").send().await.expect("docs");
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap_or_default().contains("Switchboard API"), "docs render our spec");

    s.get("/v1/agents").await;
    let metrics = s.request(Method::GET, "/metrics").send().await.expect("metrics");
    let text = metrics.text().await.unwrap_or_default();
    assert!(text.contains("switchboard_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/v1/agents\""), "{text}");
}

/// PostgreSQL cannot store a NUL character in text; SQLite can. Either way a
/// NUL anywhere in a request's text is refused the same way, before any
/// query: a 400 naming the field in a body or a query string, a 404 in a path.
#[tokio::test]
async fn nul_characters_are_refused_before_they_reach_the_database() {
    let s = TestServer::start().await;
    let nul = "a\u{0}b";
    let agent = s.create_agent(json!({"name": "Kept"})).await;
    for (method, path, body, field) in [
        (Method::POST, "/v1/agents".to_owned(), json!({"name": nul}), "name"),
        (Method::POST, "/v1/agents".to_owned(), json!({"name": "a", "system_prompt": nul}), "system_prompt"),
        (
            Method::POST,
            "/v1/agents".to_owned(),
            json!({"name": "a", "voicemail": {"message": nul}}),
            "voicemail.message",
        ),
        (
            Method::POST,
            "/v1/agents".to_owned(),
            json!({"name": "a", "knowledge_base_ids": ["kb_1", nul]}),
            "knowledge_base_ids[1]",
        ),
        (Method::PATCH, format!("/v1/agents/{agent}"), json!({"first_message": nul}), "first_message"),
        (Method::POST, "/v1/contacts".to_owned(), json!({"name": nul, "phone": "+31612345678"}), "name"),
    ] {
        let resp = s.call(method, &path, Some(s.key()), Some(body)).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        let message = resp.body["details"][field].as_str().unwrap_or_default();
        assert!(message.contains("NUL"), "{path} {field}: {}", resp.body);
    }
    let hook = json!({"url": "https://example.com/h", "events": ["call.ended"], "description": nul});
    let resp = s.call(Method::POST, "/v1/webhooks", Some(s.org_key()), Some(hook)).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert!(resp.body["details"]["description"].is_string(), "{}", resp.body);

    // Caller memory answers in Sticky Calls' format: an issue list, with the same paths.
    for (body, path) in [
        (json!({"call_id": nul}), json!(["call_id"])),
        (
            json!({"call_id": "c1", "identity_hints": {"external_ids": {"crm": nul}}}),
            json!(["identity_hints", "external_ids", "crm"]),
        ),
        (
            json!({"call_id": "c1", "identity_hints": {"external_ids": {"c\u{0}rm": "1"}}}),
            json!(["identity_hints", "external_ids"]),
        ),
    ] {
        let resp = s.post("/v1/calls/start", body).await;
        assert_eq!((resp.status, resp.code()), (400, "VALIDATION_ERROR"), "{}", resp.body);
        assert_eq!(resp.body["details"]["issues"][0]["path"], path, "{}", resp.body);
    }

    // An escaped backslash before `u0000` is text, not a NUL.
    let text = s.post("/v1/agents", json!({"name": "a\\u0000b"})).await;
    assert_eq!(text.status, 201, "{}", text.body);
    assert_eq!(text.body["name"], "a\\u0000b");

    for (path, field) in [("/v1/agents?after=agent_%00", "after"), ("/v1/calls?agent_id=a%00b", "agent_id")] {
        let resp = s.get(path).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"][field].is_string(), "{path}: {}", resp.body);
    }
    for (method, path) in [
        (Method::GET, "/v1/agents/agent_%00"),
        (Method::DELETE, "/v1/agents/%00"),
        (Method::GET, "/v1/calls/call_%00x"),
        (Method::GET, "/v1/customers/a%00"),
        (Method::GET, "/v1/knowledge-bases/kb_%00/entries"),
    ] {
        assert_error(&s.call(method, path, Some(s.key()), None).await, 404, "NOT_FOUND");
    }
    let listed = s.get("/v1/agents").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["agents"].as_array().map(Vec::len), Some(2), "only Kept and the escaped name");
}

/// Anyone, without a key, can send any method to any path: the request
/// metrics label only the methods HTTP defines and the routes we serve, so
/// invented ones cannot add series.
#[tokio::test]
async fn metrics_labels_stay_bounded_whatever_the_request() {
    let s = TestServer::start().await;
    for i in 0..20 {
        let method = Method::from_bytes(format!("INVENTED{i}").as_bytes()).expect("an extension method");
        send(s.request(method.clone(), "/v1/agents").bearer_auth(s.key())).await;
        send(s.request(method, &format!("/v1/invented-path-{i}"))).await;
        send(s.request(Method::GET, &format!("/v1/invented-path-{i}"))).await;
    }
    let text = s.request(Method::GET, "/metrics").send().await.expect("metrics").text().await.unwrap_or_default();
    let series: Vec<&str> = text.lines().filter(|l| l.starts_with("switchboard_http_requests_total")).collect();
    assert!(!series.is_empty(), "{text}");
    for line in &series {
        assert!(!line.contains("INVENTED") && !line.contains("invented-path"), "{line}");
    }
    assert!(series.iter().any(|l| l.contains("method=\"other\"") && l.contains("route=\"/v1/agents\"")), "{text}");
}

/// Sends `request` as raw bytes on a new connection; returns all the server answers.
async fn raw_exchange(base: &str, request: Vec<u8>) -> String {
    let addr = base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
        stream.write_all(&request).expect("write");
        let mut out = Vec::new();
        stream.read_to_end(&mut out).ok();
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .expect("raw exchange")
}

/// The status line and the JSON body of a raw HTTP/1.1 exchange.
fn status_and_body(exchange: &str) -> (u16, serde_json::Value) {
    let status = exchange.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = exchange.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

/// Header values that are not text (bytes 0x80–0xFF, which HTTP/1.1 lets
/// through as obs-text) reach our code and get our error body. A control byte
/// never reaches it: hyper's parser refuses the request before any route
/// runs, and the listener gives that refusal our error body too.
#[tokio::test]
async fn header_values_that_are_not_text_are_answered_in_our_format() {
    let s = TestServer::start().await;
    let head = |lines: &str| format!("GET /v1/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{lines}\r\n");
    let key = format!("Authorization: Bearer {}\r\n", s.key());
    let org = format!("Authorization: Bearer {}\r\n", s.org_key());
    let post = |lines: &str| {
        format!(
            "POST /v1/agents HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{key}{lines}Content-Length: 12\r\n\r\n{{\"name\":\"a\"}}"
        )
    };
    for (request, status, code) in [
        (head("Authorization: Bearer sb_live_\u{e9}\r\n"), 401, "INVALID_API_KEY"),
        (head("X-Api-Key: \u{e9}\r\n"), 401, "INVALID_API_KEY"),
        (head(&format!("{org}X-Project-Id: proj_\u{e9}\r\n")), 404, "PROJECT_NOT_FOUND"),
        (post("Content-Type: application/\u{e9}json\r\n"), 400, "VALIDATION_ERROR"),
        (post("Content-Type: application/json\r\nIdempotency-Key: \u{e9}\r\n"), 400, "VALIDATION_ERROR"),
    ] {
        let exchange = raw_exchange(&s.base, request.clone().into_bytes()).await;
        let (got, body) = status_and_body(&exchange);
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{request:?}: {exchange}");
        assert_eq!(body["error"], body["message"], "{exchange}");
    }
    for line in ["X-Test: a\u{1}b\r\n", "X-Test: a\u{7f}b\r\n", "Authorization: Bearer \u{0}\r\n"] {
        let exchange = raw_exchange(&s.base, head(&format!("{key}{line}")).into_bytes()).await;
        let (status, body) = status_and_body(&exchange);
        assert_eq!((status, body["code"].as_str()), (400, Some("MALFORMED_REQUEST")), "{exchange}");
        assert_eq!(body["error"], body["message"], "{exchange}");
    }
    // Too many headers are refused by hyper too, in our format.
    let many: String = (0..120).map(|n| format!("X-Test-{n}: a\r\n")).collect();
    let exchange = raw_exchange(&s.base, head(&format!("{key}{many}")).into_bytes()).await;
    let (status, body) = status_and_body(&exchange);
    assert_eq!((status, body["code"].as_str()), (431, Some("HEADERS_TOO_LARGE")), "{exchange}");
    // Ordinary answers pass untouched.
    let exchange = raw_exchange(&s.base, head(&key).into_bytes()).await;
    assert_eq!(status_and_body(&exchange).0, 200, "{exchange}");
}
