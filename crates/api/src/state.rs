//! Shared state of the API: the store, limiters, the services handlers call
//! (built by the binary), and the settings that shape request handling.

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::memory::MemoryRules;
use switchboard_domain::voices::Voice;
use switchboard_runtime::call::CallService;
use switchboard_runtime::knowledge::KnowledgeService;
use switchboard_runtime::messaging::Channels;
use switchboard_runtime::numbers::Numbers;
use switchboard_runtime::speech::sidecar::{SupervisedSidecar, VoiceState};
use switchboard_runtime::telephony::Telephony;
use switchboard_runtime::webhooks::Webhooks;
use switchboard_store::Store;

use crate::auth::failures::AuthFailures;
use crate::auth::key_use::KeyUse;
use crate::cache::ReadCache;
use crate::ratelimit::RateLimiter;

/// How the API behaves; built from the server's configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Development mode: callback URLs may be plain http and point at loopback.
    pub dev: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest body of a document upload (`POST …/documents`), in bytes.
    pub max_upload_bytes: usize,
    /// Longest a request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_ttl: Duration,
    /// Failed authentications from one IP (or with one key start) before
    /// further invalid keys are refused, and the window they are counted in.
    pub auth_failure_limit: u32,
    pub auth_failure_window: Duration,
    /// Longest a cached key, org or agent is used; zero caches nothing.
    pub cache_ttl: Duration,
    /// Caller-memory scoring weights, bands and TTLs.
    pub memory: MemoryRules,
}

/// Room for a 10 MiB document and the multipart framing around it.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 11 * 1024 * 1024;

impl ApiSettings {
    /// The body limit of a request to `path`: document uploads (every
    /// `POST /v1/…/documents` route) get the upload limit, everything else the
    /// general one.
    pub fn body_limit(&self, path: &str) -> usize {
        if path.starts_with("/v1/") && path.ends_with("/documents") {
            self.max_upload_bytes
        } else {
            self.max_body_bytes
        }
    }
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            dev: false,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            request_timeout: Duration::from_secs(30),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            auth_failure_limit: 100,
            auth_failure_window: Duration::from_secs(15 * 60),
            cache_ttl: Duration::from_secs(5),
            memory: MemoryRules::default(),
        }
    }
}

/// The services handlers call, built by whoever runs the API.
pub struct Services {
    /// Places, accepts and controls calls; runs test sessions.
    pub calls: CallService,
    /// Knowledge-base crawls and uploads.
    pub knowledge: KnowledgeService,
    /// Webhook delivery, test sends and redelivery.
    pub webhooks: Webhooks,
    /// How messages leave on each channel (SMS, email, ...), and the message writer.
    pub channels: Channels,
    /// Phone numbers and addresses over the carrier.
    pub numbers: Numbers,
    pub voices: Vec<Voice>,
    /// The local voice sidecar under supervision, when this node runs it.
    pub voice: Option<SupervisedSidecar>,
    /// Imported carrier numbers, carrier webhooks and media streams.
    pub telephony: Telephony,
}

/// Everything a handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub settings: ApiSettings,
    pub limiter: RateLimiter,
    pub auth_failures: AuthFailures,
    pub key_use: KeyUse,
    /// Keys, orgs and agents of the request path, invalidated on change.
    pub cache: Arc<ReadCache>,
    pub calls: CallService,
    pub voices: Vec<Voice>,
    pub knowledge: KnowledgeService,
    pub webhooks: Webhooks,
    pub channels: Channels,
    pub numbers: Numbers,
    pub voice: Option<SupervisedSidecar>,
    pub telephony: Telephony,
}

impl AppState {
    pub fn new(store: Store, settings: ApiSettings, limiter: RateLimiter, services: Services) -> Self {
        let auth_failures = AuthFailures::new(settings.auth_failure_limit, settings.auth_failure_window);
        let cache = ReadCache::new(settings.cache_ttl, &store);
        let Services { calls, knowledge, webhooks, channels, numbers, voices, voice, telephony } = services;
        AppState(Arc::new(Inner {
            store,
            settings,
            limiter,
            auth_failures,
            key_use: KeyUse::default(),
            cache,
            calls,
            voices,
            knowledge,
            webhooks,
            channels,
            numbers,
            voice,
            telephony,
        }))
    }
}

impl AppState {
    /// The local voice as health reports it: `off` when this node does not
    /// run the sidecar, else `installing`, `starting`, `ready` or `down`.
    pub fn voice_status(&self) -> &'static str {
        match self.voice.as_ref().map(SupervisedSidecar::state) {
            None => "off",
            Some(VoiceState::Installing) => "installing",
            Some(VoiceState::Starting) => "starting",
            Some(VoiceState::Ready { .. }) => "ready",
            Some(VoiceState::Down { .. }) => "down",
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
