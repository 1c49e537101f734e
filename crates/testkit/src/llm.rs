//! A scripted OpenAI-compatible chat-completions server.
//!
//! [`ScriptedLlm`] is a real HTTP server on `127.0.0.1:0` that answers
//! `POST /v1/chat/completions` (and `/chat/completions`) with the [`Reply`]s it was given,
//! one per request, in order. Streamed requests (`"stream": true`) get server-sent events
//! the way OpenAI sends them: text word by word, tool-call arguments in fragments, a
//! `finish_reason` chunk and `data: [DONE]`. Other requests get a plain JSON completion.
//! Nothing sleeps unless a reply asks for it, so the peer also serves benchmarks.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the server answers once the scripted replies are used up, so a test that makes
/// one request too many gets a recognisable reply instead of a hang.
pub const FALLBACK_TEXT: &str = "I have nothing more to add.";

/// How many fragments a tool call's arguments are streamed in.
const ARGUMENT_FRAGMENTS: usize = 3;

/// One scripted answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Assistant text; streamed one word per chunk.
    Text(String),
    /// Tool calls as `(function name, arguments)`; arguments are streamed in fragments.
    ToolCalls(Vec<(String, Value)>),
    /// A JSON object as the reply content (what `response_format` extraction expects).
    Json(Value),
    /// An OpenAI-style error body with this status. A 401 echoes the caller's bearer
    /// token in its message, as careless providers do, so tests can check it is redacted.
    Status(u16),
    /// Accepts the request and never answers (until the server is dropped).
    Hang,
    /// Waits this long, then gives the inner reply.
    Delayed(Duration, Box<Reply>),
    /// Streams the text's chunks, then neither finishes nor closes: a provider stalled mid-reply.
    Stalled(String),
    /// Serves this exact body as an event stream, for protocol edge cases.
    RawSse(String),
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRequest {
    /// The request path, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Value,
}

/// The script and the log of what was received, shared with the request handlers.
#[derive(Debug, Default)]
struct Script {
    replies: VecDeque<Reply>,
    received: Vec<ReceivedRequest>,
}

#[derive(Debug)]
struct Shared {
    script: Mutex<Script>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    /// A poisoned lock only means another handler panicked; the script is still usable.
    fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs the request and takes the reply due for it; returns the request's 1-based number.
    fn take_reply(&self, request: ReceivedRequest) -> (usize, Reply) {
        let mut script = self.script();
        script.received.push(request);
        let reply = script.replies.pop_front().unwrap_or_else(|| Reply::Text(FALLBACK_TEXT.to_owned()));
        (script.received.len(), reply)
    }

    /// Resolves when the server is dropped, so hanging replies end with it.
    async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        let _closed = shutdown.wait_for(|stop| *stop).await;
    }
}

/// A running scripted LLM server; stops when dropped.
#[derive(Debug)]
pub struct ScriptedLlm {
    address: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

impl ScriptedLlm {
    /// Starts a server that answers with `replies`, in order. Panics if no local port can
    /// be bound, which only happens on a broken test machine.
    pub async fn start(replies: Vec<Reply>) -> Self {
        match Self::try_start(replies).await {
            Ok(server) => server,
            Err(error) => panic!("scripted LLM server could not bind 127.0.0.1:0: {error}"),
        }
    }

    /// Like [`ScriptedLlm::start`], returning the bind error instead of panicking.
    pub async fn try_start(replies: Vec<Reply>) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (stop, shutdown) = watch::channel(false);
        let script = Mutex::new(Script { replies: replies.into(), received: Vec::new() });
        let shared = Arc::new(Shared { script, shutdown });
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/chat/completions", post(complete))
            .with_state(Arc::clone(&shared));
        let until_dropped = Arc::clone(&shared);
        tokio::spawn(async move {
            let server = axum::serve(listener, app);
            let _ended = server.with_graceful_shutdown(async move { until_dropped.shutting_down().await }).await;
        });
        Ok(Self { address, shared, stop })
    }

    /// The API root to configure as the endpoint's base URL: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// Every request body received, in order, so tests can assert on the messages and tools sent.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.script().received.iter().map(|request| request.body.clone()).collect()
    }

    /// Every request with its path and `Authorization` header, in order.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.script().received.clone()
    }

    /// Appends a reply to the script, for tests that decide the next answer as they go.
    pub fn push(&self, reply: Reply) {
        self.shared.script().replies.push_back(reply);
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// What a reply needs to know about the request it answers.
struct Exchange {
    streaming: bool,
    model: String,
    number: usize,
    authorization: Option<String>,
}

impl Exchange {
    fn completion_id(&self) -> String {
        format!("chatcmpl-scripted-{}", self.number)
    }

    fn tool_call_id(&self, index: usize) -> String {
        format!("call_{}_{index}", self.number)
    }
}

async fn complete(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error_response(StatusCode::BAD_REQUEST, "request body is not JSON".to_owned());
    };
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let model = body.get("model").and_then(Value::as_str).unwrap_or("scripted").to_owned();
    let request = ReceivedRequest { path: uri.path().to_owned(), authorization: authorization.clone(), body };
    let (number, mut reply) = shared.take_reply(request);
    while let Reply::Delayed(delay, inner) = reply {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    answer(reply, &Exchange { streaming, model, number, authorization }, &shared).await
}

async fn answer(reply: Reply, exchange: &Exchange, shared: &Arc<Shared>) -> Response {
    match reply {
        Reply::Text(text) => text_answer(exchange, &text),
        Reply::Json(value) => text_answer(exchange, &value.to_string()),
        Reply::ToolCalls(calls) => tool_calls_answer(exchange, &calls),
        Reply::Status(code) => status_answer(exchange, code),
        Reply::RawSse(body) => event_stream(Body::from(body)),
        Reply::Stalled(text) => {
            let chunks = text_chunks(exchange, &text);
            let rest = Arc::clone(shared);
            let stall = stream::once(async move {
                rest.shutting_down().await;
                Ok::<_, Infallible>(Bytes::new())
            });
            event_stream(Body::from_stream(stream::iter(chunks.into_iter().map(Ok)).chain(stall)))
        }
        Reply::Hang | Reply::Delayed(..) => {
            shared.shutting_down().await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn text_answer(exchange: &Exchange, text: &str) -> Response {
    if !exchange.streaming {
        return completion(exchange, json!({"role": "assistant", "content": text}), "stop");
    }
    let mut chunks = text_chunks(exchange, text);
    chunks.push(chunk(exchange, json!({}), Some("stop")));
    chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
    event_stream(Body::from_stream(stream::iter(chunks.into_iter().map(Ok::<_, Infallible>))))
}

/// The role chunk, then one chunk per word (spaces kept, so the words add up to `text`).
fn text_chunks(exchange: &Exchange, text: &str) -> Vec<Bytes> {
    let mut chunks = vec![chunk(exchange, json!({"role": "assistant", "content": ""}), None)];
    chunks.extend(text.split_inclusive(' ').map(|word| chunk(exchange, json!({"content": word}), None)));
    chunks
}

fn tool_calls_answer(exchange: &Exchange, calls: &[(String, Value)]) -> Response {
    if !exchange.streaming {
        let tool_calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(index, (name, arguments))| {
                json!({"id": exchange.tool_call_id(index), "type": "function",
                       "function": {"name": name, "arguments": arguments.to_string()}})
            })
            .collect();
        return completion(
            exchange,
            json!({"role": "assistant", "content": null, "tool_calls": tool_calls}),
            "tool_calls",
        );
    }
    let mut chunks = vec![chunk(exchange, json!({"role": "assistant", "content": null}), None)];
    for (index, (name, arguments)) in calls.iter().enumerate() {
        chunks.extend(tool_call_chunks(exchange, index, name, &arguments.to_string()));
    }
    chunks.push(chunk(exchange, json!({}), Some("tool_calls")));
    chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
    event_stream(Body::from_stream(stream::iter(chunks.into_iter().map(Ok::<_, Infallible>))))
}

/// A call's opening chunk (id, name, empty arguments), then its arguments in fragments.
fn tool_call_chunks(exchange: &Exchange, index: usize, name: &str, arguments: &str) -> Vec<Bytes> {
    let opening = json!({"tool_calls": [{"index": index, "id": exchange.tool_call_id(index), "type": "function",
                                         "function": {"name": name, "arguments": ""}}]});
    let mut chunks = vec![chunk(exchange, opening, None)];
    for fragment in fragments(arguments, ARGUMENT_FRAGMENTS) {
        let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]});
        chunks.push(chunk(exchange, delta, None));
    }
    chunks
}

/// Splits `text` into about `parts` pieces on character boundaries.
fn fragments(text: &str, parts: usize) -> Vec<&str> {
    let step = text.chars().count().div_ceil(parts.max(1)).max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.char_indices().nth(step).map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

fn status_answer(exchange: &Exchange, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = if status == StatusCode::UNAUTHORIZED {
        let token = exchange.authorization.as_deref().unwrap_or_default().trim_start_matches("Bearer ");
        format!("Incorrect API key provided: {token}")
    } else {
        format!("scripted failure with status {code}")
    };
    error_response(status, message)
}

fn error_response(status: StatusCode, message: String) -> Response {
    let body = json!({"error": {"message": message, "type": "scripted_error", "param": null, "code": null}});
    (status, axum::Json(body)).into_response()
}

/// One `data:` event carrying a `chat.completion.chunk` with a single choice.
fn chunk(exchange: &Exchange, delta: Value, finish_reason: Option<&str>) -> Bytes {
    let chunk = json!({
        "id": exchange.completion_id(),
        "object": "chat.completion.chunk",
        "created": unix_seconds(),
        "model": exchange.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    });
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// A whole non-streamed `chat.completion`.
fn completion(exchange: &Exchange, message: Value, finish_reason: &str) -> Response {
    let body = json!({
        "id": exchange.completion_id(),
        "object": "chat.completion",
        "created": unix_seconds(),
        "model": exchange.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    });
    axum::Json(body).into_response()
}

fn event_stream(body: Body) -> Response {
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_add_up_to_the_text_on_char_boundaries() {
        let text = "{\"ville\":\"Montr\u{e9}al\"}";
        let pieces = fragments(text, 3);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), text);
        assert!(fragments("", 3).is_empty());
        assert_eq!(fragments("ab", 3), ["a", "b"]);
    }
}
