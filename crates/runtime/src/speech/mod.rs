//! Speech providers: speech-to-text and text-to-speech behind two small interfaces.
//!
//! A call's transport turns the caller's audio into utterances and the agent's text into
//! audio through these. The pieces:
//! - [`SpeechToText`] and [`TextToSpeech`], object-safe so a call holds whichever the
//!   agent's configuration picked;
//! - [`openai`]: both over the OpenAI-compatible audio API (OpenAI, Groq, local Whisper
//!   servers, and our own sidecar), sent through the SSRF-guarded outbound client;
//! - [`espeak`]: the `espeak-ng` binary as a subprocess, the zero-dependency fallback voice;
//! - [`sidecar`]: installs, starts and supervises the local voice sidecar (`voice/` in this
//!   repository: faster-whisper and piper) that serves the OpenAI-compatible endpoints on
//!   loopback;
//! - [`wav`]: WAV files in and out of memory;
//! - [`settings`]: what the operator configures.

pub mod espeak;
pub mod openai;
pub mod settings;
pub mod sidecar;
pub mod wav;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use espeak::{EspeakSettings, EspeakSynthesizer};
pub use openai::{OpenAiSynthesizer, OpenAiTranscriber, speech_policy};
pub use settings::{SpeechProvider, VoiceSettings};

/// Mono signed 16-bit PCM: what the media pipeline hands to speech-to-text and gets back
/// from text-to-speech, at whatever rate the provider speaks (the pipeline resamples).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PcmAudio {
    /// The samples, in order.
    pub samples: Vec<i16>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl PcmAudio {
    /// Length in seconds, for real-time factors and usage.
    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 { 0.0 } else { self.samples.len() as f64 / f64::from(self.sample_rate) }
    }
}

/// Why a speech request failed. Messages never carry an API key, a URL's credentials or
/// query, or audio; they are fit for a call's log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpeechError {
    /// The provider answered with a non-2xx status; `message` is a short, key-free excerpt
    /// of its error body.
    #[error("speech provider answered {status}: {message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The provider's own words, shortened.
        message: String,
    },
    /// No complete answer within the allowed time.
    #[error("speech provider did not answer in time")]
    Timeout,
    /// The provider could not be reached (refused, DNS, TLS, or refused by the outbound guard).
    #[error("speech provider unreachable: {0}")]
    Connect(String),
    /// The provider answered, but not with what the API promises (bad JSON, not a WAV file,
    /// a body over the size limit).
    #[error("speech provider broke the protocol: {0}")]
    Protocol(String),
    /// The request was refused before sending: empty or oversized input, a malformed voice
    /// name, an unusable endpoint URL.
    #[error("invalid speech request: {0}")]
    Invalid(String),
    /// A local engine is missing or failed (the `espeak-ng` binary, the sidecar).
    #[error("speech engine failed: {0}")]
    Engine(String),
}

/// A future a provider returns; boxed so providers can be trait objects.
pub type SpeechFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SpeechError>> + Send + 'a>>;

/// Turns one utterance (the audio between the VAD's start and end of speech) into text.
pub trait SpeechToText: Send + Sync {
    /// Transcribes `audio`; `language` is a BCP 47 tag such as `en` or `en-US`, or `None`
    /// to let the provider decide.
    fn transcribe<'a>(&'a self, audio: &'a PcmAudio, language: Option<&'a str>) -> SpeechFuture<'a, String>;
}

/// Turns text (one clause of a reply) into audio.
pub trait TextToSpeech: Send + Sync {
    /// Speaks `text` with `voice` (the provider's own voice name), or with the provider's
    /// configured voice when `None`.
    fn synthesize<'a>(&'a self, text: &'a str, voice: Option<&'a str>) -> SpeechFuture<'a, PcmAudio>;
}

/// An OpenAI-compatible speech server and what to ask it for: the configured provider, or
/// the local sidecar.
#[derive(Clone, PartialEq, Eq)]
pub struct SpeechEndpoint {
    /// The API root that `/audio/transcriptions` and `/audio/speech` are appended to, e.g.
    /// `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when present; never logged or echoed in errors.
    pub api_key: Option<String>,
    /// The model name passed through (`whisper-1`, `gpt-4o-mini-tts`, ...).
    pub model: String,
    /// The voice used when a synthesis names none (text-to-speech only).
    pub voice: Option<String>,
}

/// Hand-written so that printing an endpoint never shows the key.
impl fmt::Debug for SpeechEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpeechEndpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("voice", &self.voice)
            .finish()
    }
}

/// The longest provider message kept in an error, in characters.
const EXCERPT_CHARS: usize = 200;

/// Shortens provider text for an error message.
fn excerpt(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_debug_hides_the_key() {
        let endpoint = SpeechEndpoint {
            base_url: "https://api.example.com/v1".into(),
            api_key: Some("sk-secret".into()),
            model: "whisper-1".into(),
            voice: None,
        };
        let printed = format!("{endpoint:?}");
        assert!(!printed.contains("sk-secret"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("  short "), "short");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS + 1);
    }

    #[test]
    fn duration_is_samples_over_rate() {
        let audio = PcmAudio { samples: vec![0; 8000], sample_rate: 16000 };
        assert!((audio.duration_secs() - 0.5).abs() < f64::EPSILON);
        assert_eq!(PcmAudio::default().duration_secs(), 0.0);
    }
}
