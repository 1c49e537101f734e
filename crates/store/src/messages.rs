//! Messages of conversations: the rows written when a message is sent or
//! received, and the conversation history that merges them with the
//! contact's calls (joined by phone number at read time), newest first.

use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;
use switchboard_domain::messaging::{CallOutline, Channel, Sender, call_summary};

use crate::contacts::ContactRow;
use crate::events::Tx;
use crate::rows::{flag, int, opt_int, opt_json, opt_text, text};
use crate::{Error, Result, Store};

/// A message about to be recorded in a contact's conversation.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub contact_id: String,
    pub channel: Channel,
    pub sender: Sender,
    pub content: String,
    pub subject: Option<String>,
    pub ai: bool,
    pub agent_id: Option<String>,
    /// The inbound message this one answers.
    pub reply_to: Option<String>,
    pub delivered: bool,
}

/// A message as stored.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub contact_id: String,
    pub channel: Channel,
    pub sender: Sender,
    pub content: String,
    pub subject: Option<String>,
    pub ai: bool,
    pub agent_id: Option<String>,
    pub sms_id: Option<String>,
    pub reply_to: Option<String>,
    pub delivered: bool,
    pub created_at: i64,
}

/// One entry of a conversation's history: a message, or a call (its id is
/// the `call_` id and its content the call's summary).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub id: String,
    pub content: String,
    pub sender: Sender,
    pub channel: Channel,
    pub timestamp: i64,
}

const COLUMNS: &str =
    "id, contact_id, channel, sender_type, content, subject, ai, agent_id, sms_id, reply_to, delivered, created_at";

fn parse<T>(value: String, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<T> {
    parse(&value).ok_or_else(|| Error::Corrupt(format!("{what} {value}")))
}

fn message_row(row: &AnyRow) -> Result<MessageRow> {
    Ok(MessageRow {
        id: text(row, "id")?,
        contact_id: text(row, "contact_id")?,
        channel: parse(text(row, "channel")?, Channel::parse, "channel")?,
        sender: parse(text(row, "sender_type")?, Sender::parse, "sender_type")?,
        content: text(row, "content")?,
        subject: opt_text(row, "subject")?,
        ai: flag(row, "ai")?,
        agent_id: opt_text(row, "agent_id")?,
        sms_id: opt_text(row, "sms_id")?,
        reply_to: opt_text(row, "reply_to")?,
        delivered: flag(row, "delivered")?,
        created_at: int(row, "created_at")?,
    })
}

/// Writes a message inside the caller's transaction.
pub(crate) async fn insert_message(
    tx: &mut Tx,
    org_id: &str,
    project_id: &str,
    message: &NewMessage,
    sms_id: Option<&str>,
    now: i64,
) -> Result<MessageRow> {
    let id = IdKind::Message.new_id();
    sqlx::query(
        "INSERT INTO messages (id, org_id, project_id, contact_id, channel, sender_type, content, subject, ai, \
         agent_id, sms_id, reply_to, delivered, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(project_id)
    .bind(&message.contact_id)
    .bind(message.channel.as_str())
    .bind(message.sender.as_str())
    .bind(&message.content)
    .bind(message.subject.as_deref())
    .bind(i64::from(message.ai))
    .bind(message.agent_id.as_deref())
    .bind(sms_id)
    .bind(message.reply_to.as_deref())
    .bind(i64::from(message.delivered))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(MessageRow {
        id,
        contact_id: message.contact_id.clone(),
        channel: message.channel,
        sender: message.sender,
        content: message.content.clone(),
        subject: message.subject.clone(),
        ai: message.ai,
        agent_id: message.agent_id.clone(),
        sms_id: sms_id.map(str::to_owned),
        reply_to: message.reply_to.clone(),
        delivered: message.delivered,
        created_at: now,
    })
}

/// The calls of a contact: ended calls of the project from or to its phone.
const CONTACT_CALLS: &str = "FROM calls WHERE project_id = $1 AND ended_at IS NOT NULL \
    AND (from_number = $3 OR to_number = $3)";

impl Store {
    /// Records a message in a contact's conversation.
    pub async fn insert_message(&self, org_id: &str, project_id: &str, message: &NewMessage) -> Result<MessageRow> {
        let mut tx = self.begin_write().await?;
        let row = insert_message(&mut tx, org_id, project_id, message, None, self.now()).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// One message of a contact's conversation.
    pub async fn message(&self, project_id: &str, contact_id: &str, id: &str) -> Result<MessageRow> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE project_id = $1 AND contact_id = $2 AND id = $3");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(contact_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        message_row(&row)
    }

    /// The latest `limit` messages of a conversation (calls excluded), oldest first.
    pub async fn recent_messages(&self, project_id: &str, contact_id: &str, limit: i64) -> Result<Vec<MessageRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE project_id = $1 AND contact_id = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows =
            sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(contact_id).bind(limit).fetch_all(&self.pool).await?;
        let mut messages = rows.iter().map(message_row).collect::<Result<Vec<_>>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// A page of a contact's conversation across channels and calls, newest
    /// first, and the number of entries in the whole conversation.
    pub async fn conversation(
        &self,
        contact: &ContactRow,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<HistoryEntry>, i64)> {
        // Without a phone the contact has no calls; a phone never equals ''.
        let phone = contact.phone.as_deref().unwrap_or("");
        let union = format!(
            "SELECT id, content, sender_type, channel, created_at AS ts, \
             CAST(NULL AS TEXT) AS direction, CAST(NULL AS TEXT) AS status, \
             CAST(NULL AS BIGINT) AS duration_seconds, CAST(NULL AS TEXT) AS transcript, \
             CAST(NULL AS TEXT) AS extracted_data \
             FROM messages WHERE project_id = $1 AND contact_id = $2 \
             UNION ALL \
             SELECT id, CAST(NULL AS TEXT) AS content, CAST(NULL AS TEXT) AS sender_type, 'call' AS channel, \
             started_at AS ts, direction, status, duration_seconds, transcript, extracted_data {CONTACT_CALLS}"
        );
        let sql = format!("SELECT * FROM ({union}) AS history ORDER BY ts DESC, id DESC LIMIT $4 OFFSET $5");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&contact.project_id)
            .bind(&contact.id)
            .bind(phone)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let entries = rows.iter().map(history_entry).collect::<Result<Vec<_>>>()?;
        let count = format!(
            "SELECT (SELECT COUNT(*) FROM messages WHERE project_id = $1 AND contact_id = $2) \
             + (SELECT COUNT(*) {CONTACT_CALLS}) AS total"
        );
        let row = sqlx::query(AssertSqlSafe(count))
            .bind(&contact.project_id)
            .bind(&contact.id)
            .bind(phone)
            .fetch_one(&self.pool)
            .await?;
        Ok((entries, int(&row, "total")?))
    }
}

fn history_entry(row: &AnyRow) -> Result<HistoryEntry> {
    let id = text(row, "id")?;
    let timestamp = int(row, "ts")?;
    let channel = parse(text(row, "channel")?, Channel::parse, "channel")?;
    if channel != Channel::Call {
        return Ok(HistoryEntry {
            content: opt_text(row, "content")?.unwrap_or_default(),
            sender: parse(opt_text(row, "sender_type")?.unwrap_or_default(), Sender::parse, "sender_type")?,
            id,
            channel,
            timestamp,
        });
    }
    let inbound = opt_text(row, "direction")?.as_deref() == Some("inbound");
    let status = opt_text(row, "status")?.unwrap_or_default();
    let transcript: Value = opt_json(row, "transcript")?.unwrap_or(Value::Null);
    let extracted: Option<Value> = opt_json(row, "extracted_data")?;
    let outline = CallOutline {
        inbound,
        status: &status,
        duration_seconds: opt_int(row, "duration_seconds")?.unwrap_or(0),
        transcript: &transcript,
        extracted_data: extracted.as_ref(),
    };
    Ok(HistoryEntry {
        content: call_summary(&outline),
        // The side that placed the call: the contact for inbound calls.
        sender: if inbound { Sender::Contact } else { Sender::Agent },
        id,
        channel,
        timestamp,
    })
}
