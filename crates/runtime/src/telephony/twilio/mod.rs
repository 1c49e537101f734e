//! Twilio: the voice webhook (`POST /v1/telephony/twilio/voice`), authenticated with the
//! dialled number's auth token and answered with TwiML that connects a media stream, and
//! the stream itself (`/v1/telephony/twilio/stream`), which becomes an inbound call.
//!
//! - [`signature`]: the `X-Twilio-Signature` check;
//! - [`twiml`]: the documents the webhook answers;
//! - [`media`]: the Media Streams messages, sans-io;
//! - [`stream`]: one stream from its `start` to its end.

pub mod media;
pub mod signature;
pub mod stream;
pub mod twiml;

use super::Telephony;
use super::stream_tokens::StreamGrant;

/// The `provider` of numbers imported from Twilio.
pub const PROVIDER: &str = "twilio";
/// Where the voice webhook is served.
pub const VOICE_PATH: &str = "/v1/telephony/twilio/voice";
/// Where media streams connect.
pub const STREAM_PATH: &str = "/v1/telephony/twilio/stream";
/// The stream parameter carrying the token.
pub const TOKEN_PARAMETER: &str = "token";

/// What the caller hears when the voice is not ready.
const VOICE_UNAVAILABLE: &str =
    "Sorry, we cannot take your call right now. Please try again in a few minutes. Goodbye.";

/// Whether `sid` looks like a Twilio account SID.
pub fn is_account_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("AC") && sid[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether `token` looks like a Twilio auth token.
pub fn is_auth_token(token: &str) -> bool {
    token.len() == 32 && token.chars().all(|c| c.is_ascii_hexdigit())
}

/// Why the voice webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Not signed by the dialled number's Twilio account (or not a number imported here).
    #[error("The request is not signed by the Twilio account of the dialled number.")]
    Forbidden,
    /// The server does not know its public URL, so no signature can be checked.
    #[error("Set public_url to the address Twilio reaches this server at.")]
    NoPublicUrl,
}

impl Telephony {
    /// Answers Twilio's voice webhook for an inbound call: `path_and_query` as requested,
    /// the `X-Twilio-Signature` header, and the form's parameters. Returns TwiML.
    pub async fn twilio_voice(
        &self,
        path_and_query: &str,
        signature: Option<&str>,
        params: &[(String, String)],
    ) -> Result<String, WebhookError> {
        let public_url = self.public_url().ok_or(WebhookError::NoPublicUrl)?.to_owned();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        let to = param("To");
        let number = match self.0.store.carrier_number(PROVIDER, &to).await {
            Ok(Some(number)) => number,
            Ok(None) => return Err(WebhookError::Forbidden),
            Err(err) => {
                tracing::error!(error = %err, "cannot look up the dialled number");
                return Err(WebhookError::Forbidden);
            }
        };
        let Some(token) = self.0.secrets.as_ref().and_then(|s| s.open(&number.secret_sealed, &number.number.id).ok())
        else {
            tracing::error!(phone_number_id = number.number.id, "the number's Twilio credentials do not open");
            return Err(WebhookError::Forbidden);
        };
        let url = format!("{public_url}{path_and_query}");
        let signed = signature.is_some_and(|sig| signature::verify(&token, &url, params, sig));
        if !signed || param("AccountSid") != number.account_id {
            tracing::warn!(phone_number_id = number.number.id, "Twilio voice webhook with a bad signature");
            return Err(WebhookError::Forbidden);
        }
        if !self.voice_ready() {
            tracing::warn!(phone_number_id = number.number.id, "inbound call turned away: the voice is not ready");
            return Ok(twiml::say_and_hang_up(VOICE_UNAVAILABLE));
        }
        let grant = StreamGrant {
            org_id: number.number.org_id.clone(),
            project_id: number.number.project_id.clone(),
            carrier_call_id: param("CallSid"),
            from: param("From"),
            to,
        };
        let token = self.0.tokens.mint(grant);
        let stream_url = format!("{}{STREAM_PATH}", websocket_base(&public_url));
        Ok(twiml::connect_stream(&stream_url, &[(TOKEN_PARAMETER, &token)]))
    }
}

/// `https://…` → `wss://…`, `http://…` → `ws://…`.
fn websocket_base(public_url: &str) -> String {
    if let Some(rest) = public_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = public_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        public_url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_have_twilios_shapes() {
        assert!(is_account_sid(&format!("AC{}", "a1".repeat(16))));
        assert!(!is_account_sid("AC123"));
        assert!(!is_account_sid(&format!("XX{}", "a1".repeat(16))));
        assert!(is_auth_token(&"0f".repeat(16)));
        assert!(!is_auth_token("secret"));
    }

    #[test]
    fn stream_urls_follow_the_public_scheme() {
        assert_eq!(websocket_base("https://sb.example.com"), "wss://sb.example.com");
        assert_eq!(websocket_base("http://127.0.0.1:8080"), "ws://127.0.0.1:8080");
    }
}
