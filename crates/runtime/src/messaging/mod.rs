//! Channel providers: how a message leaves Switchboard on each channel. SMS,
//! WhatsApp, Facebook and Instagram go to the simulated provider by default
//! (it records the delivery, like a carrier's test mode); email goes out over
//! real SMTP when `[email]` is configured. The writer lets an agent's
//! language model compose a message from an instruction.

mod simulated;
mod sms;
mod smtp;
mod writer;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use switchboard_domain::messaging::Channel;

pub use simulated::{SimulatedChannel, SimulatedDelivery, UNDELIVERABLE};
pub use sms::{STALE_AFTER, SentSms, SmsError, settle_stale_sms};
pub use smtp::{SmtpChannel, SmtpSecurity, SmtpSettings};
pub use writer::{Composition, MessageWriter, WriteError};

use crate::llm::config::LlmSettings;
use crate::outbound::OutboundClient;

/// A message on its way out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// The contact's phone (E.164) or email address, as the channel needs.
    pub to: String,
    /// The contact's name, for channels that show one (email).
    pub to_name: Option<String>,
    /// The sender shown where the channel has one: a number or a brand name.
    pub from: Option<String>,
    /// Email only.
    pub subject: Option<String>,
    pub body: String,
}

/// Why a channel did not take a message.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The server has no provider for this channel.
    #[error("The {0} channel is not configured on this server.")]
    NotConfigured(&'static str),
    /// The message was refused as built (e.g. a malformed address).
    #[error("{0}")]
    Rejected(String),
    /// The provider could not be reached or failed.
    #[error("The {channel} provider failed: {reason}")]
    Failed { channel: &'static str, reason: String },
}

/// A future a provider returns; boxed so providers can be trait objects.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ChannelError>> + Send + 'a>>;

/// One channel's way out.
pub trait ChannelProvider: Send + Sync {
    /// Hands the message to the channel; `Ok` once the channel accepted it.
    fn send<'a>(&'a self, message: &'a OutboundMessage) -> SendFuture<'a>;
}

/// How the channels are set up, from the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct ChannelSettings {
    /// SMTP for the email channel; without it email is not configured.
    pub email: Option<SmtpSettings>,
    /// The language models agents write messages with (same levels as calls).
    pub llm: LlmSettings,
}

/// Every channel's provider and the message writer. Cheap to clone.
#[derive(Clone)]
pub struct Channels {
    providers: HashMap<Channel, Arc<dyn ChannelProvider>>,
    simulated: Arc<SimulatedChannel>,
    writer: MessageWriter,
}

impl Channels {
    /// The simulated provider on every text channel, SMTP on email when
    /// configured. Settings that [`Channels::check`] refuses leave email
    /// unconfigured (the server checks them at startup).
    pub fn new(settings: &ChannelSettings, outbound: OutboundClient) -> Self {
        let simulated = Arc::new(SimulatedChannel::default());
        let mut providers: HashMap<Channel, Arc<dyn ChannelProvider>> = HashMap::new();
        for channel in [Channel::Sms, Channel::Whatsapp, Channel::Facebook, Channel::Instagram] {
            providers.insert(channel, Arc::new(simulated.for_channel(channel)));
        }
        match settings.email.as_ref().map(SmtpChannel::new) {
            Some(Ok(email)) => {
                providers.insert(Channel::Email, Arc::new(email));
            }
            Some(Err(err)) => tracing::error!(error = %err, "email channel disabled"),
            None => {}
        }
        Self { providers, simulated, writer: MessageWriter::new(settings.llm.clone(), outbound) }
    }

    /// Whether the settings can be used as they are.
    pub fn check(settings: &ChannelSettings) -> Result<(), ChannelError> {
        settings.email.as_ref().map(SmtpChannel::new).transpose().map(|_| ())
    }

    pub fn is_configured(&self, channel: Channel) -> bool {
        self.providers.contains_key(&channel)
    }

    /// Sends `message` on `channel`.
    pub async fn send(&self, channel: Channel, message: &OutboundMessage) -> Result<(), ChannelError> {
        let provider = self.providers.get(&channel).ok_or(ChannelError::NotConfigured(channel.as_str()))?;
        provider.send(message).await
    }

    /// What the simulated provider delivered, oldest first.
    pub fn simulated(&self) -> &SimulatedChannel {
        &self.simulated
    }

    pub fn writer(&self) -> &MessageWriter {
        &self.writer
    }
}
