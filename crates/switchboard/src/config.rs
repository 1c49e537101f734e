//! Server configuration, layered: built-in defaults → `switchboard.toml` →
//! `SWITCHBOARD_*` environment variables (nested with `__`) → command-line flags.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use switchboard_api::ApiSettings;
use switchboard_domain::memory::MemoryRules;
use switchboard_domain::webhooks::RetryPolicy;
use switchboard_runtime::knowledge::KnowledgeSettings;
use switchboard_runtime::llm::config::{LlmSettings, LlmTarget};
use switchboard_runtime::messaging::{ChannelSettings, SmtpSecurity, SmtpSettings};
use switchboard_runtime::numbers::CarrierSettings;
use switchboard_runtime::speech::{SpeechProvider, VoiceSettings};
use switchboard_runtime::webhooks::WorkerSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// `sqlite://path` (default) or `postgres://…`.
    pub database_url: String,
    /// When set, rate limits are shared by every server using this Redis.
    pub redis_url: Option<String>,
    /// Development mode: http and loopback callback URLs allowed; prints a key.
    pub dev: bool,
    /// What this node runs: `all` (default), `api`, `runtime` or `worker`.
    pub role: Role,
    /// This node's name among the nodes sharing the database; the calls it
    /// holds carry it. Default: the host name.
    pub node_id: Option<String>,
    /// The address carriers (Twilio) reach this server at, e.g.
    /// `https://sb.example.com`: their webhooks are signed over it and media
    /// streams connect to it. Default in `--dev`: `http://<listen address>`.
    pub public_url: Option<String>,
    pub billing: Billing,
    pub http: Http,
    pub auth: Auth,
    pub runtime: Runtime,
    pub outbound: Outbound,
    pub llm: Llm,
    /// Caller memory: `[memory]` (`default_ttl_seconds`, `max_ttl_seconds`),
    /// `[memory.weights]` (`ani_mobile`, `ani_landline`, `ani_voip`,
    /// `ani_unknown`, `external_id`, `customer_ref`, `recency`, `recency_days`)
    /// and `[memory.thresholds]` (`very_high`, `high`, `medium`, `reuse`, `confirm`).
    pub memory: MemoryRules,
    pub knowledge: Knowledge,
    pub webhooks: Webhooks,
    pub email: Email,
    pub carrier: Carrier,
    pub voice: Voice,
}

/// Speech: `[voice]`. The local sidecar (Whisper tiny.en and a piper voice,
/// run as a separate process on loopback) serves every direction no
/// OpenAI-compatible provider is configured for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Voice {
    /// Whether the sidecar is installed (once per version, from PyPI) and run.
    pub sidecar: bool,
    /// Where sidecar installs live; default the per-user cache
    /// (`$XDG_CACHE_HOME/switchboard/voice` or `~/.cache/switchboard/voice`).
    pub dir: Option<PathBuf>,
    /// The Python that builds the sidecar's virtualenv.
    pub python: PathBuf,
    /// Speech-to-text provider (`POST /v1/audio/transcriptions`); replaces the sidecar's.
    pub stt: Option<VoiceProvider>,
    /// Text-to-speech provider (`POST /v1/audio/speech`); replaces the sidecar's.
    pub tts: Option<VoiceProvider>,
}

/// An OpenAI-compatible speech provider: `[voice.stt]` or `[voice.tts]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VoiceProvider {
    pub base_url: String,
    /// Set it through `SWITCHBOARD_VOICE__STT__API_KEY` (or `…__TTS__…`).
    pub api_key: Option<Secret>,
    pub model: Option<String>,
    /// Text-to-speech: the voice used when a call names none.
    pub voice: Option<String>,
}

impl Default for Voice {
    fn default() -> Self {
        let settings = VoiceSettings::default();
        Self { sidecar: settings.sidecar, dir: settings.dir, python: settings.python, stt: None, tts: None }
    }
}

impl Voice {
    /// The runtime's view of the speech settings.
    pub fn settings(&self) -> VoiceSettings {
        let provider = |p: &VoiceProvider| SpeechProvider {
            base_url: p.base_url.clone(),
            api_key: p.api_key.as_ref().map(|k| k.0.clone()),
            model: p.model.clone(),
            voice: p.voice.clone(),
        };
        VoiceSettings {
            sidecar: self.sidecar,
            dir: self.dir.clone(),
            python: self.python.clone(),
            stt: self.stt.as_ref().map(provider),
            tts: self.tts.as_ref().map(provider),
        }
    }
}

/// The simulated carrier and its worker, and imported carrier numbers: `[carrier]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Carrier {
    /// Encrypts carrier credentials at rest (Twilio auth tokens): 32 bytes as
    /// 64 hex digits or base64. Set it through `SWITCHBOARD_CARRIER__SECRET_KEY`.
    /// Without it numbers cannot be imported, except in `--dev`, where a key is
    /// generated and kept beside the database (`carrier-secret.key`, mode 0600).
    pub secret_key: Option<Secret>,
    /// How long the review of a submitted address takes (0: it lands on the
    /// next worker round or status check).
    pub address_review_seconds: f64,
    /// How often due address reviews are landed and due numbers renewed.
    pub poll_interval_ms: u64,
}

impl Default for Carrier {
    fn default() -> Self {
        let settings = CarrierSettings::default();
        Self {
            secret_key: None,
            address_review_seconds: settings.review_delay.as_secs_f64(),
            poll_interval_ms: millis(settings.poll_interval),
        }
    }
}

impl Carrier {
    fn settings(&self) -> CarrierSettings {
        CarrierSettings {
            review_delay: Duration::from_secs_f64(self.address_review_seconds.max(0.0)),
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(10)),
        }
    }
}

/// Webhook delivery: `[webhooks]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Webhooks {
    /// Delay before each retry, in seconds; when used up the delivery fails.
    pub retry_delays_seconds: Vec<f64>,
    /// An endpoint failing for this long without a success is disabled.
    pub disable_after_seconds: f64,
    /// Time allowed for one attempt.
    pub attempt_timeout_seconds: f64,
    /// Deliveries sent at once on this server, all endpoints together.
    pub concurrency: usize,
    /// Deliveries sent to one endpoint at once.
    pub per_endpoint: usize,
    /// How often due retries are looked for.
    pub poll_interval_ms: u64,
    /// How long a delivery being sent is reserved for its server; after a
    /// crash it is sent again once this has passed.
    pub lease_seconds: f64,
}

impl Default for Webhooks {
    fn default() -> Self {
        let settings = WorkerSettings::default();
        Self {
            retry_delays_seconds: settings.policy.delays_ms.iter().map(|ms| *ms as f64 / 1000.0).collect(),
            disable_after_seconds: settings.policy.disable_after_ms as f64 / 1000.0,
            attempt_timeout_seconds: settings.attempt_timeout.as_secs_f64(),
            concurrency: settings.concurrency,
            per_endpoint: settings.per_endpoint,
            poll_interval_ms: millis(settings.poll_interval),
            lease_seconds: settings.lease.as_secs_f64(),
        }
    }
}

/// A duration in whole milliseconds, for a setting.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Webhooks {
    fn settings(&self) -> WorkerSettings {
        let ms = |s: f64| (s.max(0.0) * 1000.0).round() as i64;
        WorkerSettings {
            policy: RetryPolicy {
                delays_ms: self.retry_delays_seconds.iter().map(|s| ms(*s)).collect(),
                disable_after_ms: ms(self.disable_after_seconds),
                ..RetryPolicy::default()
            },
            attempt_timeout: Duration::from_secs_f64(self.attempt_timeout_seconds.max(0.001)),
            concurrency: self.concurrency.max(1),
            per_endpoint: self.per_endpoint.max(1),
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(10)),
            // A claimed job may wait for one attempt to its endpoint before
            // its own: the lease covers both, or it would be sent twice.
            lease: Duration::from_secs_f64(self.lease_seconds.max(self.attempt_timeout_seconds * 2.0 + 1.0)),
        }
    }
}

/// The email channel of `/v1/messages`: `[email]`, an SMTP server. Email is
/// off (409 `EMAIL_NOT_CONFIGURED`) until `host` and `from` are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Email {
    pub host: Option<String>,
    pub port: u16,
    /// `starttls` (default, port 587), `tls` (port 465) or `none` (trusted relays and tests only).
    pub security: EmailSecurity,
    pub username: Option<String>,
    /// Set it through `SWITCHBOARD_EMAIL__PASSWORD`.
    pub password: Option<Secret>,
    /// The sender, `"Name <address>"` or an address.
    pub from: Option<String>,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EmailSecurity {
    Starttls,
    Tls,
    None,
}

impl Default for Email {
    fn default() -> Self {
        Self {
            host: None,
            port: 587,
            security: EmailSecurity::Starttls,
            username: None,
            password: None,
            from: None,
            timeout_seconds: 10,
        }
    }
}

impl Email {
    fn settings(&self) -> Option<SmtpSettings> {
        Some(SmtpSettings {
            host: self.host.clone()?,
            port: self.port,
            security: match self.security {
                EmailSecurity::Starttls => SmtpSecurity::StartTls,
                EmailSecurity::Tls => SmtpSecurity::Tls,
                EmailSecurity::None => SmtpSecurity::None,
            },
            username: self.username.clone(),
            password: self.password.as_ref().map(|p| p.0.clone()),
            from: self.from.clone()?,
            timeout: Duration::from_secs(self.timeout_seconds.max(1)),
        })
    }
}

/// Knowledge-base crawls: `[knowledge]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Knowledge {
    /// How often the worker looks for due scheduled crawls (queued crawls
    /// start at once).
    pub poll_interval_ms: u64,
    /// Longest one crawl may run; it keeps what it found by then.
    pub crawl_timeout_seconds: u64,
    /// Time allowed for each page request.
    pub request_timeout_seconds: u64,
    /// The longest robots.txt `Crawl-delay` honoured between requests.
    pub max_crawl_delay_seconds: u64,
    /// Crawls one server runs at once.
    pub max_concurrent_crawls: usize,
}

impl Default for Knowledge {
    fn default() -> Self {
        let settings = KnowledgeSettings::default();
        Self {
            poll_interval_ms: millis(settings.poll_interval),
            crawl_timeout_seconds: settings.crawl_timeout.as_secs(),
            request_timeout_seconds: settings.request_timeout.as_secs(),
            max_crawl_delay_seconds: settings.max_crawl_delay.as_secs(),
            max_concurrent_crawls: settings.max_concurrent_crawls,
        }
    }
}

impl Knowledge {
    fn settings(&self) -> KnowledgeSettings {
        KnowledgeSettings {
            poll_interval: Duration::from_millis(self.poll_interval_ms.max(10)),
            crawl_timeout: Duration::from_secs(self.crawl_timeout_seconds.max(1)),
            request_timeout: Duration::from_secs(self.request_timeout_seconds.max(1)),
            max_crawl_delay: Duration::from_secs(self.max_crawl_delay_seconds),
            max_concurrent_crawls: self.max_concurrent_crawls.max(1),
        }
    }
}

/// The language model (OpenAI-compatible chat completions) of the server, and
/// per org and per project (`[llm.orgs.<org_id>]`, `[llm.projects.<project_id>]`).
/// An agent's own `llm` settings come first, then the project's, the org's and
/// the server's, field by field; a key is only sent to the base URL beside it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Llm {
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// Set it through `SWITCHBOARD_LLM__API_KEY`; it is never returned by the API.
    pub api_key: Option<Secret>,
    pub orgs: HashMap<String, LlmLevel>,
    pub projects: HashMap<String, LlmLevel>,
}

/// The model settings of one org or project.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LlmLevel {
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<Secret>,
}

impl LlmLevel {
    fn target(&self) -> LlmTarget {
        LlmTarget {
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            api_key: self.api_key.as_ref().map(|k| k.0.clone()),
        }
    }
}

impl Llm {
    /// The runtime's view of every configured level.
    pub fn settings(&self) -> LlmSettings {
        let server =
            LlmLevel { base_url: self.base_url.clone(), model: self.model.clone(), api_key: self.api_key.clone() };
        LlmSettings {
            server: server.target(),
            orgs: self.orgs.iter().map(|(id, level)| (id.clone(), level.target())).collect(),
            projects: self.projects.iter().map(|(id, level)| (id.clone(), level.target())).collect(),
        }
    }
}

/// A secret setting: printed as `<redacted>`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Outbound {
    /// Hosts (`host`, `host:port`) or networks (CIDR) that server_url, webhook
    /// and LLM requests may reach although they are private. `dev` allows all
    /// private and loopback addresses.
    pub allow_list: Vec<String>,
}

/// What a node runs. Nodes of every role share one database (and Redis).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The API, the call runtime and the background workers: one process.
    #[default]
    All,
    /// The REST API; call requests (placing, injecting, test sessions) are
    /// answered 503 `RUNTIME_UNAVAILABLE` and belong on a runtime node.
    Api,
    /// The REST API with the call runtime: calls start and run here.
    Runtime,
    /// Background work only (webhook delivery, crawls, number renewals,
    /// settlement); serves `/v1/health` and `/metrics`.
    Worker,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Api => "api",
            Role::Runtime => "runtime",
            Role::Worker => "worker",
        }
    }

    /// Whether the node serves the REST API.
    pub const fn serves_api(self) -> bool {
        !matches!(self, Role::Worker)
    }

    /// Whether calls start and run on the node.
    pub const fn runs_calls(self) -> bool {
        matches!(self, Role::All | Role::Runtime)
    }

    /// Whether the background workers run on the node.
    pub const fn runs_workers(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Runtime {
    /// How fast call time runs against wall time on the simulated carrier: 1 is
    /// real time; tests run calls at 50 or more.
    pub clock_speed: f64,
    /// How often the node records that it is alive; calls it held when it
    /// stopped are billed up to its last heartbeat.
    pub heartbeat_seconds: f64,
}

/// Call time per wall time on the simulated carrier in `serve --dev`.
pub const DEV_CLOCK_SPEED: f64 = 3.0;

impl Default for Runtime {
    fn default() -> Self {
        Self { clock_speed: 1.0, heartbeat_seconds: 10.0 }
    }
}

impl Runtime {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs_f64(self.heartbeat_seconds.clamp(0.05, 3600.0))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Billing {
    /// Credits (EUR) a new org starts with.
    pub starting_credits: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Http {
    pub max_body_bytes: usize,
    /// Body limit of document uploads (knowledge-base and address documents).
    pub max_upload_bytes: usize,
    pub request_timeout_seconds: u64,
    pub idempotency_ttl_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Auth {
    /// Failed authentications within the window, from one IP or with keys
    /// that start alike, before further invalid keys are refused (valid keys
    /// from a locked-out IP still pass).
    pub failure_limit: u32,
    pub failure_window_seconds: u64,
    /// How often `last_used_at` of keys is written.
    pub key_use_flush_seconds: u64,
    /// Longest a cached key, org or agent is used when a change by another
    /// process was not announced over Redis; 0 turns the caches off.
    pub cache_ttl_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/switchboard.db".into(),
            redis_url: None,
            dev: false,
            role: Role::All,
            node_id: None,
            public_url: None,
            billing: Billing::default(),
            http: Http::default(),
            auth: Auth::default(),
            runtime: Runtime::default(),
            outbound: Outbound::default(),
            llm: Llm::default(),
            memory: MemoryRules::default(),
            knowledge: Knowledge::default(),
            webhooks: Webhooks::default(),
            email: Email::default(),
            carrier: Carrier::default(),
            voice: Voice::default(),
        }
    }
}

impl Default for Billing {
    fn default() -> Self {
        Self { starting_credits: 100.0 }
    }
}

impl Default for Http {
    fn default() -> Self {
        let api = ApiSettings::default();
        Self {
            max_body_bytes: api.max_body_bytes,
            max_upload_bytes: api.max_upload_bytes,
            request_timeout_seconds: api.request_timeout.as_secs(),
            idempotency_ttl_seconds: api.idempotency_ttl.as_secs(),
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        let api = ApiSettings::default();
        Self {
            failure_limit: api.auth_failure_limit,
            failure_window_seconds: api.auth_failure_window.as_secs(),
            key_use_flush_seconds: 10,
            cache_ttl_ms: millis(api.cache_ttl),
        }
    }
}

impl Config {
    /// The configuration from `file` and the environment over the defaults;
    /// in development mode (`dev`, or `dev = true` in the file or the
    /// environment) over the development defaults ([`Config::development`]).
    pub fn load(file: Option<&Path>, dev: bool) -> Result<Self, Box<figment::Error>> {
        let file = file.map_or_else(|| PathBuf::from("switchboard.toml"), Path::to_path_buf);
        let layered = |defaults: Config| {
            Figment::from(Serialized::defaults(defaults))
                .merge(Toml::file(&file))
                .merge(Env::prefixed("SWITCHBOARD_").split("__"))
                .extract::<Config>()
                .map_err(Box::new)
        };
        let config = layered(Config::default())?;
        if !(dev || config.dev) {
            return Ok(config);
        }
        layered(Config::development())
    }

    /// The defaults of `serve --dev`: addresses are reviewed at once,
    /// simulated calls run three times faster than real time (slow enough to
    /// follow in the logs and webhooks, fast enough not to wait on), and the
    /// local voice is set up and run.
    pub fn development() -> Self {
        let mut config = Config { dev: true, ..Config::default() };
        config.carrier.address_review_seconds = 0.0;
        config.runtime.clock_speed = DEV_CLOCK_SPEED;
        config.voice.sidecar = true;
        config
    }

    pub fn api_settings(&self) -> ApiSettings {
        ApiSettings {
            dev: self.dev,
            max_body_bytes: self.http.max_body_bytes,
            max_upload_bytes: self.http.max_upload_bytes,
            request_timeout: Duration::from_secs(self.http.request_timeout_seconds),
            idempotency_ttl: Duration::from_secs(self.http.idempotency_ttl_seconds),
            auth_failure_limit: self.auth.failure_limit,
            auth_failure_window: Duration::from_secs(self.auth.failure_window_seconds),
            cache_ttl: Duration::from_millis(self.auth.cache_ttl_ms),
            memory: self.memory.clone(),
        }
    }

    /// Knowledge-base crawls and uploads.
    pub fn knowledge_settings(&self) -> KnowledgeSettings {
        self.knowledge.settings()
    }

    /// Webhook delivery.
    pub fn webhook_settings(&self) -> WorkerSettings {
        self.webhooks.settings()
    }

    /// Message channels and the models agents write messages with.
    pub fn channel_settings(&self) -> ChannelSettings {
        ChannelSettings { email: self.email.settings(), llm: self.llm.settings() }
    }

    /// The carrier's address reviews and renewals.
    pub fn carrier_settings(&self) -> CarrierSettings {
        self.carrier.settings()
    }

    /// This node's id: configured, or the host name.
    pub fn node_id(&self) -> String {
        self.node_id.clone().filter(|id| !id.trim().is_empty()).unwrap_or_else(host_name)
    }

    /// The folder beside the SQLite file (for dev credentials); `./data` otherwise.
    pub fn data_dir(&self) -> PathBuf {
        let path = self.database_url.strip_prefix("sqlite://").or_else(|| self.database_url.strip_prefix("sqlite:"));
        path.map(|p| p.split('?').next().unwrap_or(p))
            .and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("./data"))
    }
}

/// The machine's host name (`local` where it cannot be read).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "local".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment::Error
    fn file_then_env_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("switchboard.toml", "listen = \"0.0.0.0:9000\"\n[billing]\nstarting_credits = 5.0\n")?;
            jail.set_env("SWITCHBOARD_BILLING__STARTING_CREDITS", "7.5");
            jail.set_env("SWITCHBOARD_DATABASE_URL", "postgres://db/x");
            let config = Config::load(None, false).map_err(|e| e.to_string())?;
            assert_eq!(config.listen, "0.0.0.0:9000");
            assert_eq!(config.billing.starting_credits, 7.5);
            assert_eq!(config.database_url, "postgres://db/x");
            assert_eq!(config.auth.failure_limit, 100);
            assert_eq!((config.dev, config.runtime.clock_speed), (false, 1.0));
            // --dev changes the defaults, not what the file or environment set.
            let dev = Config::load(None, true).map_err(|e| e.to_string())?;
            assert!(dev.dev);
            assert_eq!((dev.runtime.clock_speed, dev.carrier.address_review_seconds), (DEV_CLOCK_SPEED, 0.0));
            assert_eq!((dev.listen.as_str(), dev.billing.starting_credits), ("0.0.0.0:9000", 7.5));
            jail.set_env("SWITCHBOARD_RUNTIME__CLOCK_SPEED", "1");
            assert_eq!(Config::load(None, true).map_err(|e| e.to_string())?.runtime.clock_speed, 1.0);
            // `dev = true` in the environment is development mode too.
            jail.set_env("SWITCHBOARD_DEV", "true");
            assert_eq!(Config::load(None, false).map_err(|e| e.to_string())?.carrier.address_review_seconds, 0.0);
            Ok(())
        });
    }

    #[test]
    fn each_default_is_the_default_of_the_setting_it_configures() {
        let config = Config::default();
        let same = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| assert_eq!(format!("{a:?}"), format!("{b:?}"));
        same(&config.api_settings(), &ApiSettings::default());
        same(&config.knowledge_settings(), &KnowledgeSettings::default());
        same(&config.webhook_settings(), &WorkerSettings::default());
        same(&config.carrier_settings(), &CarrierSettings::default());
    }

    #[test]
    fn development_mode_changes_only_what_its_defaults_name() {
        let (dev, plain) = (Config::development(), Config::default());
        assert!(dev.dev && !plain.dev);
        assert_eq!(dev.carrier.address_review_seconds, 0.0);
        assert!(plain.carrier.address_review_seconds > 0.0);
        assert_eq!((dev.runtime.clock_speed, plain.runtime.clock_speed), (DEV_CLOCK_SPEED, 1.0));
        assert_eq!(dev.listen, plain.listen);
        assert!(dev.voice.sidecar && !plain.voice.sidecar);
    }

    /// Every setting's dotted name (`webhooks.per_endpoint`); a map with no
    /// entries by default (`llm.orgs`) is one setting.
    fn setting_names(value: &serde_json::Value, prefix: &str, names: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(fields) if !fields.is_empty() => {
                for (key, value) in fields {
                    let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    setting_names(value, &name, names);
                }
            }
            _ => names.push(prefix.to_owned()),
        }
    }

    #[test]
    fn the_readme_documents_every_setting() {
        let readme = include_str!("../../../README.md");
        let mut names = Vec::new();
        setting_names(&serde_json::to_value(Config::default()).unwrap(), "", &mut names);
        assert!(names.len() > 40, "{names:?}");
        let missing: Vec<&String> = names.iter().filter(|n| !readme.contains(&format!("`{n}`"))).collect();
        assert!(missing.is_empty(), "settings missing from the README's table: {missing:?}");
    }

    #[test]
    fn data_dir_follows_the_sqlite_file() {
        let config = Config { database_url: "sqlite:///tmp/x/sb.db?mode=rwc".into(), ..Config::default() };
        assert_eq!(config.data_dir(), PathBuf::from("/tmp/x"));
        let config = Config { database_url: "postgres://h/db".into(), ..Config::default() };
        assert_eq!(config.data_dir(), PathBuf::from("./data"));
    }
}
