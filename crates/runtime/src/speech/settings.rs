//! What the operator configures about speech: the local sidecar (whether it runs, where it
//! is installed) and OpenAI-compatible providers that replace it, one per direction.

use std::fmt;
use std::path::PathBuf;

use super::SpeechEndpoint;
use super::sidecar::{SIDECAR_STT_MODEL, SIDECAR_TTS_MODEL, SIDECAR_VOICE};

/// The model asked for when a provider's settings name none: OpenAI's names.
pub const DEFAULT_STT_MODEL: &str = "whisper-1";
/// See [`DEFAULT_STT_MODEL`].
pub const DEFAULT_TTS_MODEL: &str = "tts-1";
/// The voice asked for when a text-to-speech provider's settings name none.
pub const DEFAULT_TTS_VOICE: &str = "alloy";

/// An OpenAI-compatible speech server the operator configured (OpenAI, Groq, a local
/// Whisper server, ...).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SpeechProvider {
    /// The API root, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as a bearer token; never logged.
    pub api_key: Option<String>,
    /// The model name; the OpenAI default of the direction when absent.
    pub model: Option<String>,
    /// Text-to-speech only: the voice used when a call names none.
    pub voice: Option<String>,
}

/// Hand-written so that printing settings never shows the key.
impl fmt::Debug for SpeechProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpeechProvider")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("voice", &self.voice)
            .finish()
    }
}

/// The server's speech configuration (`[voice]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceSettings {
    /// Whether the local sidecar is installed and started when a direction has no provider.
    pub sidecar: bool,
    /// `voice.dir`: where sidecar installs live; the per-user cache directory when absent
    /// (see [`super::sidecar::default_root`]).
    pub dir: Option<PathBuf>,
    /// The Python that builds the sidecar's virtualenv.
    pub python: PathBuf,
    /// Speech-to-text provider; replaces the sidecar's Whisper when set.
    pub stt: Option<SpeechProvider>,
    /// Text-to-speech provider; replaces the sidecar's piper voice when set.
    pub tts: Option<SpeechProvider>,
}

impl Default for VoiceSettings {
    fn default() -> Self {
        // Off until spoken calls use it everywhere; development servers turn it on.
        Self { sidecar: false, dir: None, python: PathBuf::from("python3"), stt: None, tts: None }
    }
}

impl VoiceSettings {
    /// Whether the sidecar has to run: it is enabled and some direction has no provider.
    pub fn needs_sidecar(&self) -> bool {
        self.sidecar && (self.stt.is_none() || self.tts.is_none())
    }

    /// Where speech-to-text goes: the configured provider, else the sidecar at
    /// `sidecar_base_url` when it is enabled and running; `None` when neither.
    pub fn stt_endpoint(&self, sidecar_base_url: Option<&str>) -> Option<SpeechEndpoint> {
        match &self.stt {
            Some(provider) => Some(provider.endpoint(DEFAULT_STT_MODEL, None)),
            None => self.sidecar_endpoint(sidecar_base_url, SIDECAR_STT_MODEL, None),
        }
    }

    /// Where text-to-speech goes, like [`Self::stt_endpoint`].
    pub fn tts_endpoint(&self, sidecar_base_url: Option<&str>) -> Option<SpeechEndpoint> {
        match &self.tts {
            Some(provider) => Some(provider.endpoint(DEFAULT_TTS_MODEL, Some(DEFAULT_TTS_VOICE))),
            None => self.sidecar_endpoint(sidecar_base_url, SIDECAR_TTS_MODEL, Some(SIDECAR_VOICE)),
        }
    }

    fn sidecar_endpoint(&self, base_url: Option<&str>, model: &str, voice: Option<&str>) -> Option<SpeechEndpoint> {
        let base_url = base_url.filter(|_| self.sidecar)?;
        Some(SpeechEndpoint {
            base_url: base_url.to_owned(),
            api_key: None,
            model: model.to_owned(),
            voice: voice.map(str::to_owned),
        })
    }
}

impl SpeechProvider {
    fn endpoint(&self, default_model: &str, default_voice: Option<&str>) -> SpeechEndpoint {
        SpeechEndpoint {
            base_url: self.base_url.clone(),
            api_key: self.api_key.clone(),
            model: self.model.clone().unwrap_or_else(|| default_model.to_owned()),
            voice: self.voice.clone().or_else(|| default_voice.map(str::to_owned)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> SpeechProvider {
        SpeechProvider {
            base_url: "https://api.openai.com/v1".into(),
            api_key: Some("sk-x".into()),
            model: None,
            voice: None,
        }
    }

    #[test]
    fn the_sidecar_serves_directions_without_a_provider() {
        let settings = VoiceSettings { sidecar: true, tts: Some(provider()), ..VoiceSettings::default() };
        assert!(settings.needs_sidecar());
        let stt = settings.stt_endpoint(Some("http://127.0.0.1:5000/v1")).unwrap();
        assert_eq!((stt.base_url.as_str(), stt.model.as_str()), ("http://127.0.0.1:5000/v1", SIDECAR_STT_MODEL));
        assert_eq!(stt.api_key, None);
        let tts = settings.tts_endpoint(Some("http://127.0.0.1:5000/v1")).unwrap();
        assert_eq!(tts.base_url, "https://api.openai.com/v1");
        assert_eq!((tts.model.as_str(), tts.voice.as_deref()), (DEFAULT_TTS_MODEL, Some(DEFAULT_TTS_VOICE)));
        assert_eq!(tts.api_key.as_deref(), Some("sk-x"));
    }

    #[test]
    fn without_sidecar_or_provider_there_is_no_endpoint() {
        let settings = VoiceSettings { sidecar: false, ..VoiceSettings::default() };
        assert!(!settings.needs_sidecar());
        assert_eq!(settings.stt_endpoint(Some("http://127.0.0.1:5000/v1")), None);
        let on = VoiceSettings { sidecar: true, ..VoiceSettings::default() };
        assert_eq!(on.tts_endpoint(None), None, "sidecar not running yet");
        let both =
            VoiceSettings { sidecar: true, stt: Some(provider()), tts: Some(provider()), ..VoiceSettings::default() };
        assert!(!both.needs_sidecar());
    }

    #[test]
    fn debug_hides_the_key() {
        assert!(!format!("{:?}", provider()).contains("sk-x"));
    }
}
