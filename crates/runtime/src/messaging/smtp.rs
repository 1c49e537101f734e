//! The email channel: plain-text mail over SMTP (lettre on tokio with
//! rustls), with STARTTLS, implicit TLS or — for a relay on a trusted
//! network or a test server — no TLS.

use std::time::Duration;

use lettre::Address;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{ChannelError, ChannelProvider, OutboundMessage, SendFuture};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); the upgrade is required.
    #[default]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on a trusted network or a local test server.
    None,
}

/// Where and as whom email is sent.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender: `"Name <address>"` or a bare address.
    pub from: String,
    pub timeout: Duration,
}

/// Hand-written so a password never reaches a log line.
impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

/// Sends email through one SMTP server.
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

fn failed(reason: impl std::fmt::Display) -> ChannelError {
    ChannelError::Failed { channel: "email", reason: reason.to_string() }
}

impl SmtpChannel {
    pub fn new(settings: &SmtpSettings) -> Result<Self, ChannelError> {
        let from: Mailbox =
            settings.from.parse().map_err(|e| ChannelError::Rejected(format!("email.from is not a mailbox: {e}")))?;
        let builder = match settings.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host).map_err(failed)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(failed)?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
        if let Some(username) = &settings.username {
            builder =
                builder.credentials(Credentials::new(username.clone(), settings.password.clone().unwrap_or_default()));
        }
        Ok(Self { transport: builder.build(), from })
    }

    fn build(&self, message: &OutboundMessage) -> Result<Message, ChannelError> {
        let address: Address =
            message.to.parse().map_err(|e| ChannelError::Rejected(format!("Invalid recipient address: {e}")))?;
        let to = Mailbox::new(message.to_name.clone(), address);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone().unwrap_or_default())
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| ChannelError::Rejected(format!("Cannot build the email: {e}")))
    }
}

impl ChannelProvider for SmtpChannel {
    fn send<'a>(&'a self, message: &'a OutboundMessage) -> SendFuture<'a> {
        Box::pin(async move {
            let email = self.build(message)?;
            self.transport.send(email).await.map_err(failed)?;
            Ok(())
        })
    }
}
