//! Speech over the OpenAI-compatible audio API: `POST /audio/transcriptions` (a WAV file
//! built in memory, sent as a multipart form) and `POST /audio/speech` (JSON in, WAV out),
//! both through the SSRF-guarded outbound client.

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PcmAudio, SpeechEndpoint, SpeechError, SpeechFuture, SpeechToText, TextToSpeech, excerpt, wav};
use crate::outbound::{OutboundClient, OutboundError, OutboundPolicy, OutboundResponse};

/// The largest audio response accepted: several minutes of 24 kHz speech.
pub const MAX_AUDIO_RESPONSE_BYTES: usize = 32 * 1024 * 1024;
/// The largest upload OpenAI's transcription endpoint takes; longer utterances are refused
/// before sending.
pub const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;
/// The longest text OpenAI's speech endpoint takes, in characters.
pub const MAX_SPEECH_INPUT_CHARS: usize = 4096;
/// Time allowed for one request when the caller sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

const TRANSCRIPTIONS_PATH: &str = "/audio/transcriptions";
const SPEECH_PATH: &str = "/audio/speech";

/// The outbound policy for speech providers: the operator's `base` (same address rules as
/// every other outbound request), with a response cap large enough for synthesized audio.
pub fn speech_policy(base: &OutboundPolicy) -> OutboundPolicy {
    OutboundPolicy { max_response_bytes: base.max_response_bytes.max(MAX_AUDIO_RESPONSE_BYTES), ..base.clone() }
}

/// Speech-to-text through `POST {base_url}/audio/transcriptions`. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OpenAiTranscriber {
    client: OutboundClient,
    endpoint: SpeechEndpoint,
    timeout: Duration,
}

impl OpenAiTranscriber {
    /// A transcriber sending through `client`, which should be built with [`speech_policy`].
    pub fn new(client: OutboundClient, endpoint: SpeechEndpoint) -> Self {
        Self { client, endpoint, timeout: DEFAULT_TIMEOUT }
    }

    /// Replaces the time allowed for one transcription (upload, recognition and answer).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn transcribe_audio(&self, audio: &PcmAudio, language: Option<&str>) -> Result<String, SpeechError> {
        if audio.samples.is_empty() {
            return Err(SpeechError::Invalid("the utterance has no audio".into()));
        }
        let file = wav::encode(audio);
        if file.len() > MAX_UPLOAD_BYTES {
            return Err(SpeechError::Invalid(format!("the utterance is larger than {MAX_UPLOAD_BYTES} bytes")));
        }
        let mut fields = vec![("model", self.endpoint.model.clone()), ("response_format", "json".to_owned())];
        if let Some(language) = language {
            fields.push(("language", iso_639_1(language)?));
        }
        let form = MultipartForm::new(&fields, "utterance.wav", "audio/wav", &file);
        let mut headers = auth_headers(&self.endpoint);
        headers.push((CONTENT_TYPE, form.content_type()));
        let url = endpoint_url(&self.endpoint.base_url, TRANSCRIPTIONS_PATH);
        let response = self
            .client
            .post_json(&url, &headers, Bytes::from(form.body), self.timeout)
            .await
            .map_err(outbound_error)?;
        parse_transcription(&checked(response, &self.endpoint)?.body)
    }
}

impl SpeechToText for OpenAiTranscriber {
    fn transcribe<'a>(&'a self, audio: &'a PcmAudio, language: Option<&'a str>) -> SpeechFuture<'a, String> {
        Box::pin(self.transcribe_audio(audio, language))
    }
}

/// Text-to-speech through `POST {base_url}/audio/speech`, asking for WAV (the one format
/// every compatible server offers that says its own sample rate). Cheap to clone.
#[derive(Debug, Clone)]
pub struct OpenAiSynthesizer {
    client: OutboundClient,
    endpoint: SpeechEndpoint,
    timeout: Duration,
}

impl OpenAiSynthesizer {
    /// A synthesizer sending through `client`, which should be built with [`speech_policy`].
    pub fn new(client: OutboundClient, endpoint: SpeechEndpoint) -> Self {
        Self { client, endpoint, timeout: DEFAULT_TIMEOUT }
    }

    /// Replaces the time allowed for one synthesis.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn synthesize_text(&self, text: &str, voice: Option<&str>) -> Result<PcmAudio, SpeechError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SpeechError::Invalid("nothing to say".into()));
        }
        if text.chars().count() > MAX_SPEECH_INPUT_CHARS {
            return Err(SpeechError::Invalid(format!("text longer than {MAX_SPEECH_INPUT_CHARS} characters")));
        }
        let voice = voice
            .or(self.endpoint.voice.as_deref())
            .ok_or_else(|| SpeechError::Invalid("no voice named and none configured".into()))?;
        let body = json!({
            "model": self.endpoint.model,
            "input": text,
            "voice": voice,
            "response_format": "wav",
        });
        let url = endpoint_url(&self.endpoint.base_url, SPEECH_PATH);
        let headers = auth_headers(&self.endpoint);
        let response = self
            .client
            .post_json(&url, &headers, Bytes::from(body.to_string()), self.timeout)
            .await
            .map_err(outbound_error)?;
        let response = checked(response, &self.endpoint)?;
        wav::decode(&response.body).map_err(|err| SpeechError::Protocol(err.to_string()))
    }
}

impl TextToSpeech for OpenAiSynthesizer {
    fn synthesize<'a>(&'a self, text: &'a str, voice: Option<&'a str>) -> SpeechFuture<'a, PcmAudio> {
        Box::pin(self.synthesize_text(text, voice))
    }
}

/// `{base_url}{path}`; a base URL that already ends with the path is kept as it is.
fn endpoint_url(base_url: &str, path: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.ends_with(path) { base.to_owned() } else { format!("{base}{path}") }
}

fn auth_headers(endpoint: &SpeechEndpoint) -> Vec<(HeaderName, String)> {
    match endpoint.api_key.as_deref().filter(|key| !key.is_empty()) {
        Some(key) => vec![(AUTHORIZATION, format!("Bearer {key}"))],
        None => Vec::new(),
    }
}

/// OpenAI takes ISO 639-1 codes: `en-US` is sent as `en`.
fn iso_639_1(language: &str) -> Result<String, SpeechError> {
    let primary = language.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    if (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_lowercase()) {
        Ok(primary)
    } else {
        Err(SpeechError::Invalid(format!("`{language}` is not a language tag")))
    }
}

/// The guard's and the transport's failures, in this module's terms; none carries a key.
fn outbound_error(err: OutboundError) -> SpeechError {
    match err {
        OutboundError::Timeout => SpeechError::Timeout,
        OutboundError::InvalidUrl(message) => SpeechError::Invalid(format!("endpoint URL: {message}")),
        OutboundError::TooLarge => SpeechError::Protocol("response body exceeded the size limit".into()),
        OutboundError::Blocked(_) | OutboundError::Connect(_) | OutboundError::Http(_) => {
            SpeechError::Connect(err.to_string())
        }
    }
}

/// The response when it is a success, else [`SpeechError::Http`] with the provider's own
/// words, the API key removed should it have echoed it.
fn checked(response: OutboundResponse, endpoint: &SpeechEndpoint) -> Result<OutboundResponse, SpeechError> {
    if response.is_success() {
        return Ok(response);
    }
    let mut message = error_body_message(&response.body);
    if let Some(key) = endpoint.api_key.as_deref().filter(|key| !key.is_empty()) {
        message = message.replace(key, "<redacted>");
    }
    if message.trim().is_empty() {
        message = http::StatusCode::from_u16(response.status)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("no error body")
            .to_owned();
    }
    Err(SpeechError::Http { status: response.status, message: excerpt(&message) })
}

/// The provider's own words from an error body: `{"error": {"message": ...}}`,
/// `{"error": "..."}`, `{"message": ...}`, or the raw text.
fn error_body_message(body: &[u8]) -> String {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return String::from_utf8_lossy(body).into_owned();
    };
    let error = json.get("error").unwrap_or(&json);
    match error {
        Value::String(text) => text.clone(),
        Value::Object(fields) => match fields.get("message") {
            Some(Value::String(text)) => text.clone(),
            _ => error.to_string(),
        },
        other => other.to_string(),
    }
}

/// The recognised text of a `json` (or `verbose_json`) transcription.
fn parse_transcription(body: &[u8]) -> Result<String, SpeechError> {
    #[derive(Deserialize)]
    struct Transcription {
        text: String,
    }
    let parsed: Transcription =
        serde_json::from_slice(body).map_err(|err| SpeechError::Protocol(format!("malformed transcription: {err}")))?;
    Ok(parsed.text.trim().to_owned())
}

/// A `multipart/form-data` body: text fields, then one file.
struct MultipartForm {
    boundary: String,
    body: Vec<u8>,
}

impl MultipartForm {
    fn new(fields: &[(&str, String)], file_name: &str, file_type: &str, file: &[u8]) -> Self {
        let boundary = format!("switchboard-{:032x}", rand::random::<u128>());
        let mut body = Vec::with_capacity(file.len() + 512);
        for (name, value) in fields {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
                 Content-Type: {file_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Self { boundary, body }
    }

    fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(key: Option<&str>) -> SpeechEndpoint {
        SpeechEndpoint {
            base_url: "https://api.example.com/v1".into(),
            api_key: key.map(Into::into),
            model: "whisper-1".into(),
            voice: None,
        }
    }

    fn response(status: u16, body: &str) -> OutboundResponse {
        OutboundResponse {
            status,
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn urls_get_the_path_once() {
        let expect = "https://api.example.com/v1/audio/speech";
        assert_eq!(endpoint_url("https://api.example.com/v1", SPEECH_PATH), expect);
        assert_eq!(endpoint_url("https://api.example.com/v1/ ", SPEECH_PATH), expect);
        assert_eq!(endpoint_url(expect, SPEECH_PATH), expect);
        assert_eq!(
            endpoint_url("http://127.0.0.1:9/v1", TRANSCRIPTIONS_PATH),
            "http://127.0.0.1:9/v1/audio/transcriptions"
        );
    }

    #[test]
    fn multipart_body_is_well_formed() {
        let fields = [("model", "whisper-1".to_owned()), ("language", "en".to_owned())];
        let form = MultipartForm::new(&fields, "utterance.wav", "audio/wav", b"RIFF\x00\x01");
        let boundary = form.boundary.clone();
        assert!(form.content_type().ends_with(&format!("boundary={boundary}")));
        let mut expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nen\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"utterance.wav\"\r\n\
             Content-Type: audio/wav\r\n\r\n"
        )
        .into_bytes();
        expected.extend_from_slice(b"RIFF\x00\x01");
        expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert_eq!(form.body, expected);
        let other = MultipartForm::new(&fields, "a.wav", "audio/wav", b"");
        assert_ne!(other.boundary, boundary, "boundaries are random");
    }

    #[test]
    fn transcriptions_parse() {
        assert_eq!(parse_transcription(br#"{"text":" Hello there. "}"#).unwrap(), "Hello there.");
        let verbose = br#"{"task":"transcribe","language":"english","duration":1.2,"text":"Hi","segments":[]}"#;
        assert_eq!(parse_transcription(verbose).unwrap(), "Hi");
        assert!(matches!(parse_transcription(b"Hi\n"), Err(SpeechError::Protocol(_))));
        assert!(matches!(parse_transcription(br#"{"txt":"Hi"}"#), Err(SpeechError::Protocol(_))));
    }

    #[test]
    fn error_bodies_yield_the_provider_message_without_the_key() {
        let key = "sk-live-123";
        let body = format!(r#"{{"error":{{"message":"Incorrect API key provided: {key}","type":"x","code":"y"}}}}"#);
        let err = checked(response(401, &body), &endpoint(Some(key))).unwrap_err();
        assert_eq!(err, SpeechError::Http { status: 401, message: "Incorrect API key provided: <redacted>".into() });
        assert!(!err.to_string().contains(key));
        assert_eq!(error_body_message(br#"{"error":"quota"}"#), "quota");
        assert_eq!(error_body_message(br#"{"message":"nope"}"#), "nope");
        assert_eq!(error_body_message(b"<html>502</html>"), "<html>502</html>");
        let empty = checked(response(503, ""), &endpoint(None)).unwrap_err();
        assert_eq!(empty, SpeechError::Http { status: 503, message: "Service Unavailable".into() });
        assert!(checked(response(200, "{}"), &endpoint(None)).is_ok());
    }

    #[test]
    fn languages_become_iso_639_1() {
        assert_eq!(iso_639_1("en-US").unwrap(), "en");
        assert_eq!(iso_639_1("EN_gb").unwrap(), "en");
        assert_eq!(iso_639_1("yue").unwrap(), "yue");
        assert!(iso_639_1("").is_err());
        assert!(iso_639_1("english").is_err());
        assert!(iso_639_1("e1").is_err());
    }

    #[test]
    fn only_a_configured_key_is_sent() {
        assert!(auth_headers(&endpoint(None)).is_empty());
        assert!(auth_headers(&endpoint(Some(""))).is_empty());
        assert_eq!(auth_headers(&endpoint(Some("k"))), vec![(AUTHORIZATION, "Bearer k".to_owned())]);
    }

    #[test]
    fn speech_policy_keeps_the_address_rules() {
        let base = OutboundPolicy { allow_list: vec!["10.0.0.0/8".into()], ..OutboundPolicy::default() };
        let policy = speech_policy(&base);
        assert_eq!(policy.allow_list, base.allow_list);
        assert!(!policy.allow_private);
        assert_eq!(policy.max_response_bytes, MAX_AUDIO_RESPONSE_BYTES);
    }
}
