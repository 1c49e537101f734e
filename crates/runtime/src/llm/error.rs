//! The one error type of the language-model client.

/// Why a completion failed; the caller decides per variant whether to retry, fall back
/// to the default brain, or apologise to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// The provider answered with a non-2xx status. `message` is a short excerpt of its
    /// error body, with the API key removed should the provider have echoed it.
    #[error("LLM provider answered {status}: {message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// A short, key-free summary of the provider's error body.
        message: String,
    },
    /// No answer (or no further stream data) within the allowed time.
    #[error("LLM provider did not answer in time")]
    Timeout,
    /// The request could not be sent or the connection broke (refused, DNS, TLS, reset,
    /// or refused by the outbound guard).
    #[error("LLM provider unreachable: {0}")]
    Connect(String),
    /// The provider answered, but not in the chat-completions format (bad JSON, an
    /// empty stream, an in-stream error object, an oversized line).
    #[error("LLM provider broke the protocol: {0}")]
    Protocol(String),
    /// The configured endpoint cannot be turned into a request URL.
    #[error("invalid LLM endpoint: {0}")]
    InvalidEndpoint(String),
}

/// The longest provider message kept in an error, in characters.
const EXCERPT_CHARS: usize = 200;

/// Shortens provider text for an error message, so a huge HTML error page does not end
/// up in a log line.
pub(super) fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
