//! The server_url client of one call: signed POSTs of `call.started`,
//! `tool.call` and `transcript.updated` through the SSRF-guarded client.

use std::time::Duration;

use bytes::Bytes;
use http::HeaderName;
use serde::Serialize;
use switchboard_domain::ids::IdKind;
use switchboard_domain::server_url::{CallConfig, CallStarted, ToolCallRequest, ToolCallResponse, TranscriptUpdated};
use tokio::sync::mpsc;

use crate::outbound::{OutboundClient, OutboundError, signature_headers};

/// How long `call.started` may take before the call goes on with the agent's
/// stored configuration.
pub const CALL_STARTED_TIMEOUT: Duration = Duration::from_secs(5);
const TRANSCRIPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Utterances waiting to be sent; past this a slow server misses updates
/// rather than holding memory.
const TRANSCRIPT_BACKLOG: usize = 64;

/// Why a server_url request did not give a usable answer; shown on the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerUrlError {
    #[error("server_url timed out after {0}s")]
    Timeout(u64),
    #[error("server_url unreachable: {0}")]
    Unreachable(String),
    #[error("server_url answered HTTP {0}")]
    Status(u16),
    #[error("server_url answer is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("server_url answer was refused: {0}")]
    Invalid(String),
}

/// The server_url of one call and what is needed to sign for it.
#[derive(Clone)]
pub struct ServerUrl {
    client: OutboundClient,
    url: String,
    secret: String,
    call_id: String,
}

impl std::fmt::Debug for ServerUrl {
    /// Never prints the signing secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerUrl").field("url", &self.url).field("call_id", &self.call_id).finish_non_exhaustive()
    }
}

impl ServerUrl {
    pub fn new(client: OutboundClient, url: String, secret: String, call_id: String) -> Self {
        Self { client, url, secret, call_id }
    }

    async fn post<T: Serialize>(&self, event: &str, body: &T, timeout: Duration) -> Result<Bytes, ServerUrlError> {
        let body = Bytes::from(serde_json::to_vec(body).map_err(|e| ServerUrlError::Invalid(e.to_string()))?);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let message_id = IdKind::WebhookEvent.new_id();
        let mut headers = signature_headers(&self.secret, &message_id, now, &body)
            .map_err(|e| ServerUrlError::Invalid(format!("cannot sign: {e:?}")))?;
        headers.push((HeaderName::from_static("x-call-id"), self.call_id.clone()));
        headers.push((HeaderName::from_static("x-switchboard-event"), event.to_owned()));
        let response = self.client.post_json(&self.url, &headers, body, timeout).await.map_err(|err| match err {
            OutboundError::Timeout => ServerUrlError::Timeout(timeout.as_secs()),
            other => ServerUrlError::Unreachable(other.to_string()),
        })?;
        if !(200..300).contains(&response.status) {
            return Err(ServerUrlError::Status(response.status));
        }
        Ok(response.body)
    }

    /// Asks for the call's configuration. Any failure (no answer in 5 s,
    /// non-2xx, bad JSON, invalid fields) is an error the call falls back on.
    pub async fn call_started(&self, body: &CallStarted) -> Result<CallConfig, ServerUrlError> {
        let bytes = self.post("call.started", body, CALL_STARTED_TIMEOUT).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(CallConfig::default());
        }
        let config: CallConfig =
            serde_json::from_slice(&bytes).map_err(|e| ServerUrlError::InvalidJson(trim_position(&e.to_string())))?;
        let problems = config.problems();
        if problems.is_empty() { Ok(config) } else { Err(ServerUrlError::Invalid(problems.join("; "))) }
    }

    /// Runs one tool on the server_url within the tool's timeout.
    pub async fn tool_call(
        &self,
        body: &ToolCallRequest,
        timeout: Duration,
    ) -> Result<ToolCallResponse, ServerUrlError> {
        let bytes = self.post("tool.call", body, timeout).await?;
        serde_json::from_slice(&bytes).map_err(|e| ServerUrlError::InvalidJson(trim_position(&e.to_string())))
    }

    /// Starts the ordered, fire-and-forget feed of `transcript.updated`.
    pub fn transcript_feed(&self) -> TranscriptFeed {
        let (tx, mut rx) = mpsc::channel::<TranscriptUpdated>(TRANSCRIPT_BACKLOG);
        let server = self.clone();
        tokio::spawn(async move {
            while let Some(update) = rx.recv().await {
                if let Err(err) = server.post("transcript.updated", &update, TRANSCRIPT_TIMEOUT).await {
                    tracing::debug!(call_id = server.call_id, error = %err, "transcript.updated not delivered");
                }
            }
        });
        TranscriptFeed { tx }
    }
}

/// Queue of `transcript.updated` posts of one call; sending never waits.
pub struct TranscriptFeed {
    tx: mpsc::Sender<TranscriptUpdated>,
}

impl TranscriptFeed {
    pub fn send(&self, update: TranscriptUpdated) {
        if self.tx.try_send(update).is_err() {
            tracing::debug!("transcript.updated dropped: the server_url is behind");
        }
    }
}

fn trim_position(message: &str) -> String {
    message.rfind(" at line ").map_or_else(|| message.to_owned(), |i| message[..i].to_owned())
}
