//! Sending one SMS end to end: paid from the org's credits, handed to the SMS
//! channel, recorded `sent` (with its event and conversation message) or
//! `failed` and refunded; and settling those a stopped process left half-sent.

use std::time::Duration;

use switchboard_domain::messaging::Channel;
use switchboard_store::sms::{NewSms, SmsOutcome, SmsRow};
use switchboard_store::{Error as StoreError, Store};

use super::{ChannelError, Channels, OutboundMessage};

/// The longest the SMS channel may take to accept a message.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// After how long a message still `sending` can only belong to a process that
/// stopped mid-send: well past [`SEND_TIMEOUT`], so no live send is cut off.
pub const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// Why an SMS was not sent. Nothing is owed for it.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The org's balance cannot pay the price.
    #[error("Insufficient credits to send this SMS.")]
    InsufficientCredits,
    /// The channel refused the message or did not answer; it was refunded.
    #[error(transparent)]
    Refused(ChannelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An SMS the channel took.
#[derive(Debug, Clone)]
pub struct SentSms {
    pub row: SmsRow,
    /// The contact whose conversation it joined, if any.
    pub contact_id: Option<String>,
    /// Its message in that conversation.
    pub message_id: Option<String>,
}

impl Channels {
    /// Pays for `sms`, hands it to the SMS channel and records it sent with
    /// its `sms.sent` event; a refused message is marked failed and refunded.
    pub async fn send_sms(&self, store: &Store, sms: &NewSms) -> Result<SentSms, SmsError> {
        let row = match store.reserve_sms(sms).await? {
            SmsOutcome::Reserved(row) => row,
            SmsOutcome::InsufficientCredits => return Err(SmsError::InsufficientCredits),
        };
        let outbound = OutboundMessage {
            to: row.to.clone(),
            to_name: None,
            from: row.from_number.clone().or_else(|| row.sender_name.clone()),
            subject: None,
            body: row.body.clone(),
        };
        let sent = match tokio::time::timeout(SEND_TIMEOUT, self.send(Channel::Sms, &outbound)).await {
            Ok(sent) => sent,
            Err(_) => Err(ChannelError::Failed {
                channel: Channel::Sms.as_str(),
                reason: format!("no answer within {} s", SEND_TIMEOUT.as_secs()),
            }),
        };
        if let Err(refused) = sent {
            store.fail_sms(&sms.org_id, &sms.project_id, &row.id).await?;
            return Err(SmsError::Refused(refused));
        }
        let message = store.confirm_sms(sms, &row).await?;
        let (contact_id, message_id) = message.map(|m| (m.contact_id, m.id)).unzip();
        Ok(SentSms { row, contact_id, message_id })
    }
}

/// Fails and refunds the SMS that have been `sending` longer than
/// [`STALE_AFTER`]; returns how many. Run periodically by the server.
pub async fn settle_stale_sms(store: &Store) -> Result<usize, StoreError> {
    store.fail_stale_sms(STALE_AFTER.as_millis() as i64).await
}
