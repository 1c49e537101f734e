//! Real carriers: numbers a customer imports from the carrier they already have, the
//! carrier's webhooks (authenticated with that number's credentials), and the media
//! streams that carry the calls as audio, each becoming a call through
//! [`CallService::accept`] on a [spoken line](crate::call::transports::spoken).
//!
//! - [`twilio`]: request signatures, TwiML, the Media Streams codec and the stream pump;
//! - [`secrets`]: carrier credentials sealed at rest;
//! - [`stream_tokens`]: single-use, expiring tokens binding a stream to its call;
//! - [`voice`]: the speech providers of a call.

pub mod secrets;
pub mod stream_tokens;
pub mod twilio;
pub mod voice;

use std::sync::{Arc, OnceLock};

use switchboard_domain::ids::IdKind;
use switchboard_domain::phone::{E164, country_of};
use switchboard_domain::phone_numbers::NumberType;
use switchboard_store::Store;
use switchboard_store::carrier_numbers::{ImportRefusal, ImportedNumber};
use switchboard_store::phone_numbers::PhoneNumberRow;

use self::secrets::CarrierSecrets;
use self::stream_tokens::StreamTokens;
use self::voice::LineVoices;
use crate::call::CallService;
use crate::call::service::Tenant;

/// How the node meets carriers.
pub struct TelephonySettings {
    /// The address carriers reach this server at (`https://…`); without it, carrier
    /// webhooks cannot be authenticated and are refused until
    /// [`Telephony::default_public_url`] supplies one.
    pub public_url: Option<String>,
    /// Seals carrier credentials; without it numbers cannot be imported.
    pub secrets: Option<CarrierSecrets>,
    pub voices: LineVoices,
}

/// A number to import from Twilio.
#[derive(Debug, Clone)]
pub struct TwilioImport {
    /// E.164.
    pub phone_number: String,
    /// `AC` + 32 hex digits.
    pub account_sid: String,
    pub auth_token: String,
    pub agent_id: Option<String>,
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// (field, why) for each wrong field.
    #[error("invalid request")]
    Invalid(Vec<(String, String)>),
    #[error("Agent not found")]
    AgentNotFound,
    #[error("Only an active, unarchived agent can take a number.")]
    AgentUnavailable,
    #[error("This number is already in use on Switchboard.")]
    Taken,
    #[error("Importing numbers needs the server's carrier secret: set [carrier] secret_key.")]
    NotConfigured,
    #[error("the carrier credentials could not be sealed")]
    Seal,
    #[error(transparent)]
    Store(#[from] switchboard_store::Error),
}

/// Carriers on this node. Cheap to clone.
#[derive(Clone)]
pub struct Telephony(Arc<Inner>);

struct Inner {
    store: Store,
    calls: CallService,
    secrets: Option<CarrierSecrets>,
    public_url: OnceLock<String>,
    voices: LineVoices,
    tokens: StreamTokens,
}

impl Telephony {
    pub fn new(store: Store, calls: CallService, settings: TelephonySettings) -> Self {
        let public_url = OnceLock::new();
        if let Some(url) = settings.public_url.filter(|u| !u.trim().is_empty()) {
            public_url.set(url.trim().trim_end_matches('/').to_owned()).ok();
        }
        Telephony(Arc::new(Inner {
            store,
            calls,
            secrets: settings.secrets,
            public_url,
            voices: settings.voices,
            tokens: StreamTokens::default(),
        }))
    }

    /// Sets the public URL when none was configured (development servers use the address
    /// they listen on); a configured one is kept.
    pub fn default_public_url(&self, url: &str) {
        self.0.public_url.set(url.trim_end_matches('/').to_owned()).ok();
    }

    /// The address carriers reach this server at, once known.
    pub fn public_url(&self) -> Option<&str> {
        self.0.public_url.get().map(String::as_str)
    }

    /// Whether spoken calls can be answered now.
    pub fn voice_ready(&self) -> bool {
        self.0.voices.speech().is_some()
    }

    /// Imports a number the customer owns at Twilio into the tenant's project; the auth
    /// token is sealed before it is stored.
    pub async fn import_twilio(&self, tenant: Tenant<'_>, import: TwilioImport) -> Result<PhoneNumberRow, ImportError> {
        let mut problems = Vec::new();
        let country = match E164::parse(&import.phone_number) {
            Some(_) => country_of(&import.phone_number),
            None => {
                problems.push(("phone_number".to_owned(), switchboard_domain::phone::E164_PROBLEM.to_owned()));
                None
            }
        };
        if !twilio::is_account_sid(&import.account_sid) {
            let why = "A Twilio account SID: AC followed by 32 hex digits.";
            problems.push(("twilio_account_sid".to_owned(), why.to_owned()));
        }
        if !twilio::is_auth_token(&import.auth_token) {
            let why = "The account's auth token: 32 hex digits, as the Twilio console shows it.";
            problems.push(("twilio_auth_token".to_owned(), why.to_owned()));
        }
        if !problems.is_empty() {
            return Err(ImportError::Invalid(problems));
        }
        let secrets = self.0.secrets.as_ref().ok_or(ImportError::NotConfigured)?;
        let store = &self.0.store;
        if let Some(agent_id) = &import.agent_id {
            let agent = store.agent(tenant.project_id, agent_id).await.map_err(|err| match err {
                switchboard_store::Error::NotFound => ImportError::AgentNotFound,
                other => ImportError::Store(other),
            })?;
            if agent.archived_at.is_some() || !agent.settings.is_active {
                return Err(ImportError::AgentUnavailable);
            }
        }
        let id = IdKind::PhoneNumber.new_id();
        let secret_sealed = secrets.seal(&import.auth_token, &id).map_err(|_| ImportError::Seal)?;
        let new = ImportedNumber {
            id,
            project_id: tenant.project_id.to_owned(),
            phone_number: import.phone_number,
            country_code: country.unwrap_or_default(),
            number_type: NumberType::Local,
            agent_id: import.agent_id,
            provider: twilio::PROVIDER.to_owned(),
            account_id: import.account_sid,
            secret_sealed,
        };
        match store.import_number(tenant.org_id, &new).await? {
            Ok(row) => Ok(row),
            Err(ImportRefusal::Taken) => Err(ImportError::Taken),
        }
    }
}
