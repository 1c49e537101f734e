//! Where a spoken call's speech comes from: the configured OpenAI-compatible providers,
//! else the local sidecar at the address it has now (it may move when it restarts, so it
//! is resolved per call).

use std::sync::Arc;

use tokio::sync::watch;

use crate::call::transports::spoken::LineSpeech;
use crate::outbound::OutboundClient;
use crate::speech::sidecar::{VoiceState, sidecar_client};
use crate::speech::{OpenAiSynthesizer, OpenAiTranscriber, SpeechEndpoint, VoiceSettings};

/// The node's voice, as spoken calls use it.
#[derive(Clone)]
pub struct LineVoices {
    settings: VoiceSettings,
    /// The supervised sidecar's state, when this node runs it.
    sidecar: Option<watch::Receiver<VoiceState>>,
    /// Reaches the sidecar on loopback.
    sidecar_client: Option<OutboundClient>,
    /// Reaches configured providers, under the operator's outbound rules.
    providers: OutboundClient,
}

impl LineVoices {
    /// `providers` should be built with [`crate::speech::speech_policy`].
    pub fn new(
        settings: VoiceSettings,
        sidecar: Option<watch::Receiver<VoiceState>>,
        providers: OutboundClient,
    ) -> Self {
        let sidecar_client = match sidecar_client() {
            Ok(client) => Some(client),
            Err(err) => {
                tracing::warn!(error = %err, "no client for the voice sidecar");
                None
            }
        };
        LineVoices { settings, sidecar, sidecar_client, providers }
    }

    fn sidecar_url(&self) -> Option<String> {
        self.sidecar.as_ref().and_then(|state| state.borrow().base_url().map(str::to_owned))
    }

    fn client_for(&self, endpoint: &SpeechEndpoint, sidecar_url: Option<&str>) -> Option<OutboundClient> {
        if sidecar_url.is_some_and(|url| url == endpoint.base_url) {
            self.sidecar_client.clone()
        } else {
            Some(self.providers.clone())
        }
    }

    /// The speech of a call starting now; `None` while no voice is ready (the sidecar is
    /// still starting, or neither it nor a provider is configured).
    pub fn speech(&self) -> Option<LineSpeech> {
        let sidecar_url = self.sidecar_url();
        let stt = self.settings.stt_endpoint(sidecar_url.as_deref())?;
        let tts = self.settings.tts_endpoint(sidecar_url.as_deref())?;
        let stt_client = self.client_for(&stt, sidecar_url.as_deref())?;
        let tts_client = self.client_for(&tts, sidecar_url.as_deref())?;
        Some(LineSpeech {
            stt: Arc::new(OpenAiTranscriber::new(stt_client, stt)),
            tts: Arc::new(OpenAiSynthesizer::new(tts_client, tts)),
            voice: None,
            language: None,
        })
    }
}
