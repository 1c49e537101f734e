//! The HTTP layer of the language-model client: sends requests and feeds response bytes
//! to the sans-io parsers, on a task per streamed reply.

use std::time::Duration;

use reqwest::{Response, Url};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};

use super::error::excerpt;
use super::stream::ChatStreamParser;
use super::wire::{self, Completion};
use super::{ChatMessage, ChatRequest, LlmEndpoint, LlmError, StreamEvent};
use crate::outbound::OutboundError;

/// The most of an error body read to describe a failure, and of a body's tail read after `[DONE]`.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// The largest non-streamed completion accepted.
const MAX_COMPLETION_BYTES: usize = 4 * 1024 * 1024;
/// The path every OpenAI-compatible server serves completions at, below its API root.
const COMPLETIONS_PATH: &str = "/chat/completions";

/// What a streamed reply delivers: events in order, ending with `Finished` or an error.
pub type ReplyEvents = mpsc::UnboundedReceiver<Result<StreamEvent, LlmError>>;

/// Talks to OpenAI-compatible chat-completions servers. Cheap to clone; the HTTP client is
/// injected so that provider traffic goes through the same guarded, pooled client as all
/// other outbound HTTP.
#[derive(Debug, Clone)]
pub struct LlmClient {
    http: reqwest::Client,
}

impl LlmClient {
    /// Wraps the client every request is sent with.
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Streams a reply: `Token` events as text arrives, then exactly one `Finished` (or
    /// one error, after which nothing follows). The first event is sent as soon as the
    /// first token is read, so the caller can measure time-to-first-token on it.
    ///
    /// Returns an error at once when the server cannot be reached, answers a non-2xx
    /// status, or sends no response headers within `timeout`. After that, `timeout` is the
    /// longest silence allowed between two pieces of the body. Dropping the receiver
    /// (the caller barged in) stops reading and closes the request.
    pub async fn stream(
        &self,
        endpoint: &LlmEndpoint,
        request: ChatRequest,
        timeout: Duration,
    ) -> Result<ReplyEvents, LlmError> {
        let body = wire::stream_body(&endpoint.model, &request);
        let response = self.send(endpoint, &body, Instant::now() + timeout).await?;
        let (events, receiver) = mpsc::unbounded_channel();
        tokio::spawn(read_reply(response, timeout, move |event| events.send(event).is_ok()));
        Ok(receiver)
    }

    /// Like [`LlmClient::stream`], but reads the reply on the caller's own task
    /// and hands each event to `deliver` as soon as it is parsed, with no task or
    /// channel in between; a failure to reach the model is delivered as the only
    /// event. `deliver` answers false to stop reading (the request is closed).
    pub async fn stream_each(
        &self,
        endpoint: &LlmEndpoint,
        request: ChatRequest,
        timeout: Duration,
        mut deliver: impl FnMut(Result<StreamEvent, LlmError>) -> bool,
    ) {
        let body = wire::stream_body(&endpoint.model, &request);
        match self.send(endpoint, &body, Instant::now() + timeout).await {
            Ok(response) => read_reply(response, timeout, deliver).await,
            Err(error) => {
                deliver(Err(error));
            }
        }
    }

    /// Asks for a JSON reply matching `schema` (post-call extraction) without streaming,
    /// and returns the JSON object the model answered. `timeout` bounds the whole exchange.
    pub async fn extract_json(
        &self,
        endpoint: &LlmEndpoint,
        messages: Vec<ChatMessage>,
        schema: &Value,
        timeout: Duration,
    ) -> Result<Value, LlmError> {
        let deadline = Instant::now() + timeout;
        let body = wire::extraction_body(&endpoint.model, &messages, schema);
        let response = self.send(endpoint, &body, deadline).await?;
        let bytes = timeout_at(deadline, read_capped(response, MAX_COMPLETION_BYTES))
            .await
            .map_err(|_| LlmError::Timeout)??;
        parse_extraction(&bytes)
    }

    /// Posts `body` to the endpoint and returns the response once its headers arrived
    /// with a success status.
    async fn send(&self, endpoint: &LlmEndpoint, body: &Value, deadline: Instant) -> Result<Response, LlmError> {
        let mut request = self.http.post(completions_url(&endpoint.base_url)?).json(body);
        if let Some(key) = &endpoint.api_key {
            request = request.bearer_auth(key);
        }
        let response =
            timeout_at(deadline, request.send()).await.map_err(|_| LlmError::Timeout)?.map_err(transport_error)?;
        if !response.status().is_success() {
            return Err(http_error(response, endpoint.api_key.as_deref(), deadline).await);
        }
        Ok(response)
    }
}

/// `{base_url}/chat/completions`; a base URL that already names that path is kept as it is.
fn completions_url(base_url: &str) -> Result<Url, LlmError> {
    let base = base_url.trim().trim_end_matches('/');
    let text = if base.ends_with(COMPLETIONS_PATH) { base.to_owned() } else { format!("{base}{COMPLETIONS_PATH}") };
    let url = Url::parse(&text).map_err(|error| LlmError::InvalidEndpoint(format!("{error}: {base}")))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        scheme => Err(LlmError::InvalidEndpoint(format!("unsupported scheme {scheme}"))),
    }
}

/// Reads the body of a streamed reply, handing each event to `deliver`, until
/// `Finished`, an error, or `deliver` answering false.
async fn read_reply(
    mut response: Response,
    idle: Duration,
    mut deliver: impl FnMut(Result<StreamEvent, LlmError>) -> bool,
) {
    let mut parser = ChatStreamParser::new();
    while !parser.is_finished() {
        match next_events(&mut response, &mut parser, idle).await {
            Ok(events) => {
                for event in events {
                    if !deliver(Ok(event)) {
                        return;
                    }
                }
            }
            Err(error) => {
                deliver(Err(error));
                return;
            }
        }
    }
    drain(response, idle).await;
}

/// Reads what little follows `[DONE]` (usually just the end of the chunked body), so the
/// connection goes back to the pool and the next turn skips a new TCP and TLS handshake.
async fn drain(mut response: Response, idle: Duration) {
    let mut left = MAX_ERROR_BODY_BYTES;
    while let Ok(Ok(Some(bytes))) = timeout(idle, response.chunk()).await {
        left = match left.checked_sub(bytes.len()) {
            Some(left) => left,
            None => return,
        };
    }
}

/// Waits (at most `idle`) for the next piece of the body and parses it.
async fn next_events(
    response: &mut Response,
    parser: &mut ChatStreamParser,
    idle: Duration,
) -> Result<Vec<StreamEvent>, LlmError> {
    match timeout(idle, response.chunk()).await {
        Err(_) => Err(LlmError::Timeout),
        Ok(Err(error)) => Err(transport_error(error)),
        Ok(Ok(Some(bytes))) => parser.feed(&bytes),
        Ok(Ok(None)) => parser.finish(),
    }
}

/// Reads a whole body, refusing one larger than `limit`.
async fn read_capped(mut response: Response, limit: usize) -> Result<Vec<u8>, LlmError> {
    let mut body = Vec::new();
    while let Some(bytes) = response.chunk().await.map_err(transport_error)? {
        if body.len() + bytes.len() > limit {
            return Err(LlmError::Protocol(format!("response body larger than {limit} bytes")));
        }
        body.extend_from_slice(&bytes);
    }
    Ok(body)
}

/// Turns a non-2xx response into [`LlmError::Http`] with a short message from its body.
async fn http_error(response: Response, api_key: Option<&str>, deadline: Instant) -> LlmError {
    let status = response.status();
    let body = match timeout_at(deadline, read_capped(response, MAX_ERROR_BODY_BYTES)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) | Err(_) => Vec::new(),
    };
    let mut message = error_body_message(&body);
    if let Some(key) = api_key.filter(|key| !key.is_empty()) {
        message = message.replace(key, "<redacted>");
    }
    if message.trim().is_empty() {
        message = status.canonical_reason().unwrap_or("no error body").to_owned();
    }
    LlmError::Http { status: status.as_u16(), message: excerpt(&message) }
}

/// The provider's own words from an error body: `{"error": {"message": ...}}`,
/// `{"error": "..."}`, `{"message": ...}`, or the raw text.
fn error_body_message(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return String::from_utf8_lossy(body).into_owned();
    };
    match json.get("error").or_else(|| json.get("message")) {
        Some(error) => wire::error_object_message(error),
        None => json.to_string(),
    }
}

/// Maps a transport failure; the URL is left out of the message and the error's causes
/// are kept, because reqwest's own top-level text ("error sending request") says little.
/// A destination the outbound guard refused is named as customers may see it: never
/// with the address its host resolved to.
fn transport_error(error: reqwest::Error) -> LlmError {
    if error.is_timeout() {
        return LlmError::Timeout;
    }
    let error = error.without_url();
    if let Some(blocked) = OutboundError::refusal_in(&error) {
        return LlmError::Connect(blocked.to_string());
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    LlmError::Connect(excerpt(&message))
}

/// The JSON object in a non-streamed completion's first message, tolerating a Markdown
/// code fence around it (some models add one even in JSON mode).
fn parse_extraction(body: &[u8]) -> Result<Value, LlmError> {
    let completion: Completion =
        serde_json::from_slice(body).map_err(|error| LlmError::Protocol(format!("malformed completion: {error}")))?;
    let content = completion
        .choices
        .into_iter()
        .next()
        .and_then(|choice| choice.message.content)
        .ok_or_else(|| LlmError::Protocol("completion has no message content".into()))?;
    let value: Value = serde_json::from_str(strip_code_fence(&content))
        .map_err(|error| LlmError::Protocol(format!("extraction reply is not JSON: {error}")))?;
    if !value.is_object() {
        return Err(LlmError::Protocol("extraction reply is not a JSON object".into()));
    }
    Ok(value)
}

fn strip_code_fence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(inner) = trimmed.strip_prefix("```").and_then(|rest| rest.strip_suffix("```")) else {
        return trimmed;
    };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_url_appends_the_path_once() {
        let expect = "https://api.example.com/v1/chat/completions";
        assert_eq!(completions_url("https://api.example.com/v1").unwrap().as_str(), expect);
        assert_eq!(completions_url("https://api.example.com/v1/").unwrap().as_str(), expect);
        assert_eq!(completions_url(expect).unwrap().as_str(), expect);
        assert!(matches!(completions_url("not a url"), Err(LlmError::InvalidEndpoint(_))));
        assert!(matches!(completions_url("ftp://example.com"), Err(LlmError::InvalidEndpoint(_))));
    }

    #[test]
    fn error_bodies_yield_the_provider_message() {
        assert_eq!(error_body_message(br#"{"error":{"message":"bad key","type":"auth"}}"#), "bad key");
        assert_eq!(error_body_message(br#"{"error":"quota"}"#), "quota");
        assert_eq!(error_body_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(error_body_message(b"<html>502</html>"), "<html>502</html>");
    }

    #[test]
    fn extraction_reads_the_object_inside_a_code_fence() {
        let body = br#"{"choices":[{"message":{"role":"assistant","content":"```json\n{\"a\":1}\n```"}}]}"#;
        assert_eq!(parse_extraction(body).unwrap(), serde_json::json!({"a": 1}));
        let not_object = br#"{"choices":[{"message":{"content":"[1]"}}]}"#;
        assert!(matches!(parse_extraction(not_object), Err(LlmError::Protocol(_))));
    }
}
