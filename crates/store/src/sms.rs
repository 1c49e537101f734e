//! SMS as sent: one row per message with its route and price. Sending is
//! three steps: the debit of the org's credits and the row (`sending`) in one
//! transaction; the channel; then either `sent` with the `sms.sent` event and
//! (when the number belongs to a contact) the message in the contact's
//! conversation in one transaction, or `failed` with the price refunded.

use serde_json::json;
use switchboard_domain::events::EventType;
use switchboard_domain::ids::IdKind;
use switchboard_domain::messaging::{Channel, Sender};
use switchboard_domain::money::{Micros, to_eur};
use switchboard_domain::sms::SenderType;
use switchboard_domain::tier::Tier;

use crate::changes::Change;
use crate::events::{NewEvent, insert_event};
use crate::messages::{MessageRow, NewMessage, insert_message};
use crate::rows::{int, text};
use crate::{Error, Result, Store};

/// An SMS about to be recorded.
#[derive(Debug, Clone)]
pub struct NewSms {
    pub org_id: String,
    pub project_id: String,
    /// The agent that wrote it (through `/v1/messages`), if any.
    pub agent_id: Option<String>,
    pub to: String,
    /// The long-code sender (US/CA).
    pub from_number: Option<String>,
    /// The alphanumeric sender (EU/UK/AU).
    pub sender_name: Option<String>,
    pub sender_type: SenderType,
    pub country: String,
    pub body: String,
    pub price: Micros,
    /// How it shows in the recipient's conversation, when they are a contact:
    /// `ai`, `reply_to` and `agent_id` of the message (`/v1/sms` sends none).
    pub conversation: Option<ConversationMeta>,
}

/// The conversation fields of an SMS sent as a message.
#[derive(Debug, Clone, Default)]
pub struct ConversationMeta {
    pub contact_id: Option<String>,
    pub ai: bool,
    pub reply_to: Option<String>,
}

/// An SMS as stored.
#[derive(Debug, Clone)]
pub struct SmsRow {
    pub id: String,
    pub to: String,
    pub from_number: Option<String>,
    pub sender_name: Option<String>,
    pub sender_type: SenderType,
    pub country: String,
    pub body: String,
    pub cost: Micros,
    pub created_at: i64,
}

/// How reserving an SMS went.
#[derive(Debug, Clone)]
pub enum SmsOutcome {
    /// Paid and recorded as `sending`.
    Reserved(SmsRow),
    /// The org's balance cannot pay the price (enterprise orgs always can).
    InsufficientCredits,
}

impl Store {
    /// The project's oldest live number in one of `countries` (ISO codes), the
    /// sender of long-code messages written through `/v1/messages`.
    pub async fn long_code_sender(&self, project_id: &str, countries: &[&str]) -> Result<Option<String>> {
        let placeholders: Vec<String> = (0..countries.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT phone_number FROM phone_numbers WHERE project_id = $1 AND released_at IS NULL \
             AND country_code IN ({}) ORDER BY created_at, id LIMIT 1",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project_id);
        for country in countries {
            query = query.bind(*country);
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.as_ref().map(|r| text(r, "phone_number")).transpose()
    }

    /// Debits the price and records the SMS as `sending`, in one
    /// transaction; refused when the balance, less what live calls hold,
    /// cannot pay.
    pub async fn reserve_sms(&self, sms: &NewSms) -> Result<SmsOutcome> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let paid = sqlx::query(
            "UPDATE orgs SET balance_micros = balance_micros - $1, balance_updated_at = $2, updated_at = $2 \
             WHERE id = $3 AND (balance_micros - reserved_micros >= $1 OR tier = $4)",
        )
        .bind(sms.price)
        .bind(now)
        .bind(&sms.org_id)
        .bind(Tier::Enterprise.as_str())
        .execute(&mut *tx)
        .await?;
        if paid.rows_affected() == 0 {
            return Ok(SmsOutcome::InsufficientCredits);
        }
        let id = IdKind::Sms.new_id();
        sqlx::query(
            "INSERT INTO sms_messages (id, org_id, project_id, agent_id, to_number, from_number, sender_name, \
             sender_type, country, body, cost_micros, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'sending', $12)",
        )
        .bind(&id)
        .bind(&sms.org_id)
        .bind(&sms.project_id)
        .bind(sms.agent_id.as_deref())
        .bind(&sms.to)
        .bind(sms.from_number.as_deref())
        .bind(sms.sender_name.as_deref())
        .bind(sms.sender_type.as_str())
        .bind(&sms.country)
        .bind(&sms.body)
        .bind(sms.price)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.changes.notify(Change::Org(sms.org_id.clone()));
        Ok(SmsOutcome::Reserved(SmsRow {
            id,
            to: sms.to.clone(),
            from_number: sms.from_number.clone(),
            sender_name: sms.sender_name.clone(),
            sender_type: sms.sender_type,
            country: sms.country.clone(),
            body: sms.body.clone(),
            cost: sms.price,
            created_at: now,
        }))
    }

    /// Marks a reserved SMS `sent` once the channel took it, with its
    /// `sms.sent` event and, when the number is a contact's (or
    /// `conversation.contact_id` names one), its message in that
    /// conversation: all in one transaction.
    pub async fn confirm_sms(&self, sms: &NewSms, row: &SmsRow) -> Result<Option<MessageRow>> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE sms_messages SET status = 'sent' WHERE project_id = $1 AND id = $2 AND status = 'sending'",
        )
        .bind(&sms.project_id)
        .bind(&row.id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        let meta = sms.conversation.clone().unwrap_or_default();
        let contact_id = match meta.contact_id.clone() {
            Some(id) => Some(id),
            None => sqlx::query("SELECT id FROM contacts WHERE project_id = $1 AND phone = $2")
                .bind(&sms.project_id)
                .bind(&sms.to)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| text(&r, "id"))
                .transpose()?,
        };
        let message = match contact_id {
            Some(contact_id) => {
                let message = NewMessage {
                    contact_id,
                    channel: Channel::Sms,
                    sender: Sender::Agent,
                    content: sms.body.clone(),
                    subject: None,
                    ai: meta.ai,
                    agent_id: sms.agent_id.clone(),
                    reply_to: meta.reply_to,
                    delivered: true,
                };
                Some(
                    insert_message(&mut tx, &sms.org_id, &sms.project_id, &message, Some(&row.id), row.created_at)
                        .await?,
                )
            }
            None => None,
        };
        let data = json!({
            "message_id": row.id,
            "from": sms.from_number.as_deref().or(sms.sender_name.as_deref()),
            "to": sms.to,
            "country": sms.country,
            "sender_type": sms.sender_type.as_str(),
            "cost_eur": to_eur(sms.price),
        });
        let event = NewEvent {
            event: EventType::SmsSent,
            org_id: sms.org_id.clone(),
            project_id: Some(sms.project_id.clone()),
            agent_id: sms.agent_id.clone(),
            call_id: None,
            data,
        };
        insert_event(&mut tx, self.now(), &event).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(message)
    }

    /// Marks a reserved SMS the channel refused as failed and refunds its
    /// price. Only a message still `sending` changes (and is refunded, once):
    /// anything else is [`Error::NotFound`].
    pub async fn fail_sms(&self, org_id: &str, project_id: &str, id: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE sms_messages SET status = 'failed' \
             WHERE org_id = $1 AND project_id = $2 AND id = $3 AND status = 'sending' RETURNING cost_micros",
        )
        .bind(org_id)
        .bind(project_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound)?;
        let cost = int(&row, "cost_micros")?;
        sqlx::query(
            "UPDATE orgs SET balance_micros = balance_micros + $1, balance_updated_at = $2, updated_at = $2 WHERE id = $3",
        )
        .bind(cost)
        .bind(now)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.changes.notify(Change::Org(org_id.to_owned()));
        Ok(())
    }

    /// Fails and refunds SMS reserved more than `older_than_ms` ago and still
    /// `sending`: a process stopped between paying and the channel's answer.
    /// Returns how many it settled (at most 100 a round; safe to run on every
    /// node at once, each message is refunded once).
    pub async fn fail_stale_sms(&self, older_than_ms: i64) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT org_id, project_id, id FROM sms_messages \
             WHERE status = 'sending' AND created_at < $1 ORDER BY created_at LIMIT 100",
        )
        .bind(self.now() - older_than_ms)
        .fetch_all(&self.pool)
        .await?;
        let mut settled = 0;
        for row in rows {
            match self.fail_sms(&text(&row, "org_id")?, &text(&row, "project_id")?, &text(&row, "id")?).await {
                Ok(()) => settled += 1,
                Err(Error::NotFound) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(settled)
    }
}
