//! The language-model client against a real scripted OpenAI-compatible server.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_runtime::llm::{
    ChatMessage, ChatOutcome, ChatRequest, LlmClient, LlmEndpoint, LlmError, StreamEvent, ToolCall, ToolSpec,
};
use switchboard_testkit::llm::{FALLBACK_TEXT, Reply, ScriptedLlm};

const PATIENT: Duration = Duration::from_secs(10);
const IMPATIENT: Duration = Duration::from_millis(300);

fn client() -> LlmClient {
    LlmClient::new(reqwest::Client::new())
}

fn endpoint(server: &ScriptedLlm, api_key: Option<&str>) -> LlmEndpoint {
    LlmEndpoint { base_url: server.base_url(), api_key: api_key.map(str::to_owned), model: "gpt-test".into() }
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest { messages: vec![ChatMessage::User(text.into())], ..ChatRequest::default() }
}

/// Runs one streamed request and collects every event until the channel closes.
async fn stream_all(server: &ScriptedLlm, timeout: Duration) -> Result<Vec<Result<StreamEvent, LlmError>>, LlmError> {
    let mut events = client().stream(&endpoint(server, None), ask("hello"), timeout).await?;
    let mut all = Vec::new();
    while let Some(event) = events.recv().await {
        all.push(event);
    }
    Ok(all)
}

/// The tokens of a successful stream and its final outcome, checking that `Finished` is last and only once.
fn split_finished(events: Vec<Result<StreamEvent, LlmError>>) -> (Vec<String>, ChatOutcome) {
    let mut events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    let Some(StreamEvent::Finished(outcome)) = events.pop() else { panic!("last event is not Finished: {events:?}") };
    let tokens = events
        .into_iter()
        .map(|event| match event {
            StreamEvent::Token(token) => token,
            StreamEvent::Finished(_) => panic!("Finished before the end"),
        })
        .collect();
    (tokens, outcome)
}

#[tokio::test]
async fn streamed_text_arrives_as_several_tokens_then_the_full_text() {
    let text = "Hello, this is Sarah from the dental clinic. How can I help?";
    let server = ScriptedLlm::start(vec![Reply::Text(text.into())]).await;

    let (tokens, outcome) = split_finished(stream_all(&server, PATIENT).await.unwrap());

    assert!(tokens.len() > 3, "expected word-sized tokens, got {tokens:?}");
    assert_eq!(tokens.concat(), text);
    assert_eq!(outcome, ChatOutcome { content: text.into(), tool_calls: vec![], finish_reason: Some("stop".into()) });
}

#[tokio::test]
async fn streamed_tool_calls_are_assembled_from_fragments() {
    let booking = json!({"day": "mardi", "time": "10:00", "note": "caf\u{e9} \u{1f4de}"});
    let server = ScriptedLlm::start(vec![Reply::ToolCalls(vec![
        ("book_appointment".into(), booking.clone()),
        ("end_call".into(), json!({})),
    ])])
    .await;

    let (tokens, outcome) = split_finished(stream_all(&server, PATIENT).await.unwrap());

    assert!(tokens.is_empty());
    assert_eq!(outcome.content, "");
    assert_eq!(outcome.finish_reason.as_deref(), Some("tool_calls"));
    let names: Vec<&str> = outcome.tool_calls.iter().map(|call| call.name.as_str()).collect();
    assert_eq!(names, ["book_appointment", "end_call"]);
    assert!(outcome.tool_calls.iter().all(|call| !call.id.is_empty()));
    assert_ne!(outcome.tool_calls[0].id, outcome.tool_calls[1].id);
    assert_eq!(serde_json::from_str::<Value>(&outcome.tool_calls[0].arguments).unwrap(), booking);
    assert_eq!(serde_json::from_str::<Value>(&outcome.tool_calls[1].arguments).unwrap(), json!({}));
}

#[tokio::test]
async fn the_request_carries_the_openai_wire_format_and_the_bearer_key() {
    let server = ScriptedLlm::start(vec![Reply::Text("Booked.".into())]).await;
    let parameters = json!({"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]});
    let request = ChatRequest {
        messages: vec![
            ChatMessage::System("You are a receptionist.".into()),
            ChatMessage::User("Tuesday please".into()),
            ChatMessage::Assistant {
                content: None,
                tool_calls: vec![ToolCall {
                    id: "call_9".into(),
                    name: "book".into(),
                    arguments: "{\"day\":\"tuesday\"}".into(),
                }],
            },
            ChatMessage::Tool { tool_call_id: "call_9".into(), content: "{\"ok\":true}".into() },
            ChatMessage::Assistant { content: Some("Done.".into()), tool_calls: vec![] },
        ],
        tools: vec![ToolSpec {
            name: "book".into(),
            description: "Books a slot.".into(),
            parameters: parameters.clone(),
        }],
        temperature: Some(0.3),
    };

    let mut events = client().stream(&endpoint(&server, Some("sk-test-123")), request, PATIENT).await.unwrap();
    while events.recv().await.is_some() {}

    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/v1/chat/completions");
    assert_eq!(received[0].authorization.as_deref(), Some("Bearer sk-test-123"));
    assert_eq!(
        received[0].body,
        json!({
            "model": "gpt-test",
            "stream": true,
            "temperature": 0.3,
            "messages": [
                {"role": "system", "content": "You are a receptionist."},
                {"role": "user", "content": "Tuesday please"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_9", "type": "function", "function": {"name": "book", "arguments": "{\"day\":\"tuesday\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_9", "content": "{\"ok\":true}"},
                {"role": "assistant", "content": "Done."},
            ],
            "tools": [{"type": "function", "function": {"name": "book", "description": "Books a slot.", "parameters": parameters}}],
        })
    );
    assert_eq!(server.requests(), vec![received[0].body.clone()]);
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent() {
    let server = ScriptedLlm::start(vec![]).await;
    let (_, outcome) = split_finished(stream_all(&server, PATIENT).await.unwrap());
    assert_eq!(outcome.content, FALLBACK_TEXT);
    assert_eq!(server.received()[0].authorization, None);
}

#[tokio::test]
async fn a_server_error_becomes_an_http_error() {
    let server = ScriptedLlm::start(vec![Reply::Status(500)]).await;
    let error = stream_all(&server, PATIENT).await.unwrap_err();
    let LlmError::Http { status: 500, message } = &error else { panic!("{error:?}") };
    assert!(message.contains("scripted failure"), "{message}");
}

#[tokio::test]
async fn an_unauthorized_answer_never_repeats_the_key() {
    let server = ScriptedLlm::start(vec![Reply::Status(401)]).await;
    let key = "sk-secret-key-that-must-not-leak";
    let error = client().stream(&endpoint(&server, Some(key)), ask("hi"), PATIENT).await.unwrap_err();
    let LlmError::Http { status: 401, message } = &error else { panic!("{error:?}") };
    assert!(message.contains("Incorrect API key"), "{message}");
    assert!(!message.contains(key), "{message}");
    assert!(!error.to_string().contains(key));
    assert!(!format!("{:?}", endpoint(&server, Some(key))).contains(key));
}

#[tokio::test]
async fn a_hanging_server_hits_the_timeout() {
    let server = ScriptedLlm::start(vec![Reply::Hang]).await;
    assert_eq!(stream_all(&server, IMPATIENT).await.unwrap_err(), LlmError::Timeout);
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_a_timeout_and_a_faster_one_is_not() {
    let slow = Reply::Delayed(Duration::from_secs(5), Box::new(Reply::Text("late".into())));
    let quick = Reply::Delayed(Duration::from_millis(20), Box::new(Reply::Text("on time".into())));
    let server = ScriptedLlm::start(vec![slow, quick]).await;

    assert_eq!(stream_all(&server, IMPATIENT).await.unwrap_err(), LlmError::Timeout);
    let (_, outcome) = split_finished(stream_all(&server, PATIENT).await.unwrap());
    assert_eq!(outcome.content, "on time");
}

#[tokio::test]
async fn tokens_are_delivered_before_the_stream_ends() {
    // The server sends two words and then stalls: the tokens must already be out, which
    // is what lets speech start before the model has finished.
    let server = ScriptedLlm::start(vec![Reply::Stalled("Hello there".into())]).await;

    let events = stream_all(&server, IMPATIENT).await.unwrap();

    assert_eq!(
        events,
        [Ok(StreamEvent::Token("Hello ".into())), Ok(StreamEvent::Token("there".into())), Err(LlmError::Timeout)]
    );
}

#[tokio::test]
async fn a_stream_closed_without_done_still_finishes() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cut\"}}]}\n\n".to_owned();
    let server = ScriptedLlm::start(vec![Reply::RawSse(body)]).await;
    let (tokens, outcome) = split_finished(stream_all(&server, PATIENT).await.unwrap());
    assert_eq!(tokens, ["cut"]);
    assert_eq!(outcome.content, "cut");
    assert_eq!(outcome.finish_reason, None);
}

#[tokio::test]
async fn a_stream_without_any_chunk_is_a_protocol_error() {
    let server = ScriptedLlm::start(vec![Reply::RawSse(": keep-alive\n\n".into())]).await;
    let events = stream_all(&server, PATIENT).await.unwrap();
    assert!(matches!(events.as_slice(), [Err(LlmError::Protocol(_))]), "{events:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = LlmEndpoint { base_url: format!("http://127.0.0.1:{port}/v1"), api_key: None, model: "m".into() };
    let error = client().stream(&endpoint, ask("hi"), PATIENT).await.unwrap_err();
    assert!(matches!(error, LlmError::Connect(_)), "{error:?}");
}

#[tokio::test]
async fn the_unversioned_path_is_served_too() {
    let server = ScriptedLlm::start(vec![Reply::Text("ok".into())]).await;
    let base_url = server.base_url().trim_end_matches("/v1").to_owned();
    let endpoint = LlmEndpoint { base_url, api_key: None, model: "m".into() };
    let mut events = client().stream(&endpoint, ask("hi"), PATIENT).await.unwrap();
    while events.recv().await.is_some() {}
    assert_eq!(server.received()[0].path, "/chat/completions");
}

#[tokio::test]
async fn extract_json_returns_the_object_and_asks_for_the_schema() {
    let extracted = json!({"name": "Ada", "wants_callback": true});
    let server = ScriptedLlm::start(vec![Reply::Json(extracted.clone())]).await;
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}});
    let messages = vec![ChatMessage::System("Extract.".into()), ChatMessage::User("transcript".into())];

    let value = client().extract_json(&endpoint(&server, Some("k")), messages, &schema, PATIENT).await.unwrap();

    assert_eq!(value, extracted);
    let body = &server.requests()[0];
    assert_eq!(body["stream"], json!(false));
    assert_eq!(body["model"], json!("gpt-test"));
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "extraction", "schema": schema, "strict": false}})
    );
    assert_eq!(body["messages"][1], json!({"role": "user", "content": "transcript"}));
}

#[tokio::test]
async fn extract_json_reports_errors_and_timeouts() {
    let server = ScriptedLlm::start(vec![Reply::Status(503), Reply::Hang, Reply::Text("not json".into())]).await;
    let (client, endpoint, schema) = (client(), endpoint(&server, None), json!({}));
    let extract = |timeout| client.extract_json(&endpoint, vec![], &schema, timeout);

    assert!(matches!(extract(PATIENT).await, Err(LlmError::Http { status: 503, .. })));
    assert_eq!(extract(IMPATIENT).await, Err(LlmError::Timeout));
    assert!(matches!(extract(PATIENT).await, Err(LlmError::Protocol(_))));
}
