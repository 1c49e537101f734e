//! The zero-dependency fallback voice: the `espeak-ng` binary (Debian package `espeak-ng`)
//! run as a subprocess per synthesis, text on its stdin and a WAV file on its stdout.
//! espeak-ng is GPL, so it is only ever run, never linked.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::openai::{MAX_AUDIO_RESPONSE_BYTES, MAX_SPEECH_INPUT_CHARS};
use super::{PcmAudio, SpeechError, SpeechFuture, TextToSpeech, excerpt, wav};

/// The most of espeak-ng's error output kept for an error message.
const MAX_DIAGNOSTIC_BYTES: u64 = 64 * 1024;

/// How espeak-ng is run. The defaults are tuned for recognisability over a phone line:
/// US English, a little slower than espeak's 175 words per minute, with short pauses
/// between words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakSettings {
    /// The binary, looked up on `PATH` when it is a bare name.
    pub binary: PathBuf,
    /// The espeak voice used when a synthesis names none (`en-us`, `en-gb`, `en-us+f3`, ...).
    pub voice: String,
    /// Speaking rate in words per minute (espeak's `-s`, 80 to 450).
    pub words_per_minute: u16,
    /// Extra pause between words in units of 10 ms (espeak's `-g`).
    pub word_gap: u16,
    /// Time allowed for one synthesis.
    pub timeout: Duration,
}

impl Default for EspeakSettings {
    fn default() -> Self {
        Self {
            binary: PathBuf::from("espeak-ng"),
            voice: "en-us".into(),
            words_per_minute: 150,
            word_gap: 2,
            timeout: Duration::from_secs(20),
        }
    }
}

/// Text-to-speech with espeak-ng. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct EspeakSynthesizer {
    settings: EspeakSettings,
}

impl EspeakSynthesizer {
    pub fn new(settings: EspeakSettings) -> Self {
        Self { settings }
    }

    async fn speak(&self, text: &str, voice: Option<&str>) -> Result<PcmAudio, SpeechError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SpeechError::Invalid("nothing to say".into()));
        }
        if text.chars().count() > MAX_SPEECH_INPUT_CHARS {
            return Err(SpeechError::Invalid(format!("text longer than {MAX_SPEECH_INPUT_CHARS} characters")));
        }
        let voice = voice.unwrap_or(&self.settings.voice);
        check_voice_name(voice)?;
        let mut command = Command::new(&self.settings.binary);
        command
            .args(arguments(voice, self.settings.words_per_minute, self.settings.word_gap))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let run = async {
            let mut child = command.spawn().map_err(|err| match err.kind() {
                ErrorKind::NotFound => {
                    SpeechError::Engine("espeak-ng is not installed (Debian package espeak-ng)".into())
                }
                _ => SpeechError::Engine(format!("cannot run espeak-ng: {err}")),
            })?;
            let (Some(mut stdin), Some(stdout), Some(stderr)) =
                (child.stdin.take(), child.stdout.take(), child.stderr.take())
            else {
                return Err(SpeechError::Engine("espeak-ng started without its pipes".into()));
            };
            let feed = async move {
                stdin.write_all(text.as_bytes()).await?;
                stdin.shutdown().await
            };
            let mut wav_bytes = Vec::new();
            let mut stdout = stdout.take(MAX_AUDIO_RESPONSE_BYTES as u64 + 1);
            let read = stdout.read_to_end(&mut wav_bytes);
            let mut diagnostics = Vec::new();
            let mut stderr = stderr.take(MAX_DIAGNOSTIC_BYTES);
            let read_err = stderr.read_to_end(&mut diagnostics);
            let (fed, read, _) = tokio::join!(feed, read, read_err);
            fed.and(read).map_err(|err| SpeechError::Engine(format!("espeak-ng pipe failed: {err}")))?;
            if wav_bytes.len() > MAX_AUDIO_RESPONSE_BYTES {
                return Err(SpeechError::Engine("espeak-ng produced too much audio".into()));
            }
            let status = child.wait().await.map_err(|err| SpeechError::Engine(err.to_string()))?;
            if !status.success() {
                let said = String::from_utf8_lossy(&diagnostics);
                return Err(SpeechError::Engine(format!("espeak-ng failed ({status}): {}", excerpt(&said))));
            }
            wav::decode(&wav_bytes).map_err(|err| SpeechError::Engine(format!("espeak-ng output: {err}")))
        };
        tokio::time::timeout(self.settings.timeout, run).await.unwrap_or(Err(SpeechError::Timeout))
    }
}

impl TextToSpeech for EspeakSynthesizer {
    fn synthesize<'a>(&'a self, text: &'a str, voice: Option<&'a str>) -> SpeechFuture<'a, PcmAudio> {
        Box::pin(self.speak(text, voice))
    }
}

/// The command line: the text comes on stdin (never as an argument, where a leading `-`
/// would read as an option), the WAV file goes to stdout.
fn arguments(voice: &str, words_per_minute: u16, word_gap: u16) -> Vec<String> {
    vec![
        "--stdout".into(),
        "--stdin".into(),
        "-b".into(),
        "1".into(),
        "-v".into(),
        voice.into(),
        "-s".into(),
        words_per_minute.clamp(80, 450).to_string(),
        "-g".into(),
        word_gap.to_string(),
    ]
}

/// espeak voice names are language tags with optional `+variant`: nothing else reaches the
/// command line.
fn check_voice_name(voice: &str) -> Result<(), SpeechError> {
    let valid = !voice.is_empty()
        && voice.len() <= 64
        && !voice.starts_with('-')
        && voice.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+'));
    if valid { Ok(()) } else { Err(SpeechError::Invalid(format!("`{voice}` is not an espeak-ng voice name"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_names_cannot_smuggle_options() {
        for good in ["en-us", "en-us+f3", "en_GB", "de"] {
            assert!(check_voice_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-w /tmp/x", "--stdout", "en us", "en;rm", "../x", &"a".repeat(65)] {
            assert!(check_voice_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arguments_map_voice_and_rate() {
        let args = arguments("en-gb", 1000, 3);
        assert_eq!(args, ["--stdout", "--stdin", "-b", "1", "-v", "en-gb", "-s", "450", "-g", "3"]);
    }

    #[tokio::test]
    async fn a_missing_binary_is_named() {
        let synthesizer = EspeakSynthesizer::new(EspeakSettings {
            binary: PathBuf::from("/nonexistent/espeak-ng"),
            ..EspeakSettings::default()
        });
        let err = synthesizer.synthesize("hello", None).await.unwrap_err();
        assert_eq!(err, SpeechError::Engine("espeak-ng is not installed (Debian package espeak-ng)".into()));
        assert!(matches!(synthesizer.synthesize("  ", None).await, Err(SpeechError::Invalid(_))));
    }
}
