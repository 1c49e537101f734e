//! Agents of a project and their audit log; every change and its audit entry are
//! written in one transaction.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::agent::AgentSettings;
use switchboard_domain::ids::IdKind;
use switchboard_domain::keys;
use switchboard_domain::validation::FieldErrors;

use crate::rows::{flag, int, json, opt_int, opt_json, opt_text, text, to_json};
use crate::{Error, Result, Store};

#[derive(Debug, Clone)]
pub struct AgentRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub settings: AgentSettings,
    pub webhook_secret: String,
    pub archived_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One change to an agent: who (key id), when, what, and field → from/to.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: String,
    pub agent_id: String,
    pub key_id: Option<String>,
    pub action: String,
    pub changes: Value,
    pub created_at: i64,
}

const AGENT_COLUMNS: &str = "id, org_id, project_id, name, language, voice, max_duration, recording, \
    end_call_enabled, server_url, webhook_url, webhook_secret, system_prompt, first_message, llm, \
    silence_timeout_seconds, voicemail, knowledge_base_ids, is_active, archived_at, created_at, updated_at, \
    appointments_enabled, success_criteria";

impl AgentRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(AgentRow {
            id: text(row, "id")?,
            org_id: text(row, "org_id")?,
            project_id: text(row, "project_id")?,
            settings: AgentSettings {
                name: text(row, "name")?,
                language: text(row, "language")?,
                voice: text(row, "voice")?,
                max_duration: int(row, "max_duration")?,
                recording: flag(row, "recording")?,
                end_call_enabled: flag(row, "end_call_enabled")?,
                appointments_enabled: flag(row, "appointments_enabled")?,
                server_url: opt_text(row, "server_url")?,
                webhook_url: opt_text(row, "webhook_url")?,
                system_prompt: opt_text(row, "system_prompt")?,
                first_message: opt_text(row, "first_message")?,
                success_criteria: opt_text(row, "success_criteria")?,
                llm: opt_json(row, "llm")?,
                silence_timeout_seconds: int(row, "silence_timeout_seconds")?,
                voicemail: json(row, "voicemail")?,
                knowledge_base_ids: json(row, "knowledge_base_ids")?,
                is_active: flag(row, "is_active")?,
            },
            webhook_secret: text(row, "webhook_secret")?,
            archived_at: opt_int(row, "archived_at")?,
            created_at: int(row, "created_at")?,
            updated_at: int(row, "updated_at")?,
        })
    }
}

/// Which agents a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFilter {
    Active,
    Archived,
}

type Tx = sqlx::Transaction<'static, sqlx::Any>;

async fn insert_agent(tx: &mut Tx, org_id: &str, project_id: &str, s: &AgentSettings, now: i64) -> Result<String> {
    let id = IdKind::Agent.new_id();
    sqlx::query(
        "INSERT INTO agents (id, org_id, project_id, name, language, voice, max_duration, recording, \
         end_call_enabled, server_url, webhook_url, webhook_secret, system_prompt, first_message, llm, \
         silence_timeout_seconds, voicemail, knowledge_base_ids, is_active, archived_at, created_at, updated_at, \
         appointments_enabled, success_criteria) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, NULL, $20, $20, \
         $21, $22)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(project_id)
    .bind(&s.name)
    .bind(&s.language)
    .bind(&s.voice)
    .bind(s.max_duration)
    .bind(i64::from(s.recording))
    .bind(i64::from(s.end_call_enabled))
    .bind(s.server_url.as_deref())
    .bind(s.webhook_url.as_deref())
    .bind(keys::generate_webhook_secret())
    .bind(s.system_prompt.as_deref())
    .bind(s.first_message.as_deref())
    .bind(s.llm.as_ref().map(to_json))
    .bind(s.silence_timeout_seconds)
    .bind(to_json(&s.voicemail))
    .bind(to_json(&s.knowledge_base_ids))
    .bind(i64::from(s.is_active))
    .bind(now)
    .bind(i64::from(s.appointments_enabled))
    .bind(s.success_criteria.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Writes an agent's settings. A new `webhook_url` starts with a clean
/// delivery record (a disabled old URL does not disable the new one).
async fn write_settings(tx: &mut Tx, project_id: &str, id: &str, s: &AgentSettings, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE agents SET \
         webhook_disabled_reason = CASE WHEN webhook_url IS DISTINCT FROM $8 THEN NULL \
         ELSE webhook_disabled_reason END, \
         webhook_failing_since = CASE WHEN webhook_url IS DISTINCT FROM $8 THEN NULL ELSE webhook_failing_since END, \
         name = $1, language = $2, voice = $3, max_duration = $4, recording = $5, \
         end_call_enabled = $6, server_url = $7, webhook_url = $8, system_prompt = $9, first_message = $10, \
         llm = $11, silence_timeout_seconds = $12, voicemail = $13, knowledge_base_ids = $14, is_active = $15, \
         updated_at = $16, appointments_enabled = $19, success_criteria = $20 WHERE project_id = $17 AND id = $18",
    )
    .bind(&s.name)
    .bind(&s.language)
    .bind(&s.voice)
    .bind(s.max_duration)
    .bind(i64::from(s.recording))
    .bind(i64::from(s.end_call_enabled))
    .bind(s.server_url.as_deref())
    .bind(s.webhook_url.as_deref())
    .bind(s.system_prompt.as_deref())
    .bind(s.first_message.as_deref())
    .bind(s.llm.as_ref().map(to_json))
    .bind(s.silence_timeout_seconds)
    .bind(to_json(&s.voicemail))
    .bind(to_json(&s.knowledge_base_ids))
    .bind(i64::from(s.is_active))
    .bind(now)
    .bind(project_id)
    .bind(id)
    .bind(i64::from(s.appointments_enabled))
    .bind(s.success_criteria.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn audit(
    tx: &mut Tx,
    project_id: &str,
    agent_id: &str,
    key_id: Option<&str>,
    action: &str,
    changes: Value,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_audit (id, agent_id, project_id, key_id, action, changes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(IdKind::AuditEntry.new_id())
    .bind(agent_id)
    .bind(project_id)
    .bind(key_id)
    .bind(action)
    .bind(changes.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn agent_in(tx: &mut Tx, project_id: &str, id: &str) -> Result<AgentRow> {
    let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE project_id = $1 AND id = $2");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(project_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(Error::NotFound)?;
    AgentRow::from_row(&row)
}

fn changes_json(changes: BTreeMap<String, (Value, Value)>) -> Value {
    Value::Object(changes.into_iter().map(|(field, (from, to))| (field, json!({"from": from, "to": to}))).collect())
}

impl Store {
    /// A page of a project's agents, newest first, starting after `after`.
    /// Fetches one row more than `limit` so the caller can tell if more exist.
    pub async fn agents(
        &self,
        project_id: &str,
        filter: ArchiveFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AgentRow>> {
        let archived = match filter {
            ArchiveFilter::Active => "archived_at IS NULL",
            ArchiveFilter::Archived => "archived_at IS NOT NULL",
        };
        let sql = format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE project_id = $1 AND {archived} AND ($2 = '' OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(AgentRow::from_row).collect()
    }

    pub async fn agent(&self, project_id: &str, id: &str) -> Result<AgentRow> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        AgentRow::from_row(&row)
    }

    pub async fn create_agent(
        &self,
        org_id: &str,
        project_id: &str,
        settings: &AgentSettings,
        key_id: Option<&str>,
    ) -> Result<AgentRow> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let id = insert_agent(&mut tx, org_id, project_id, settings, now).await?;
        let initial = creation_changes(settings);
        audit(&mut tx, project_id, &id, key_id, "created", initial, now).await?;
        let row = agent_in(&mut tx, project_id, &id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Applies `change` to the agent's current settings under the write lock, so
    /// concurrent updates never overwrite each other; `change` may refuse.
    pub async fn update_agent(
        &self,
        project_id: &str,
        id: &str,
        key_id: Option<&str>,
        change: impl FnOnce(&AgentSettings) -> Result<AgentSettings, FieldErrors>,
    ) -> Result<Result<AgentRow, FieldErrors>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = agent_in(&mut tx, project_id, id).await?;
        let next = match change(&current.settings) {
            Ok(next) => next,
            Err(errors) => return Ok(Err(errors)),
        };
        let changes = current.settings.changes(&next);
        if changes.is_empty() {
            return Ok(Ok(current));
        }
        write_settings(&mut tx, project_id, id, &next, now).await?;
        audit(&mut tx, project_id, id, key_id, "updated", changes_json(changes), now).await?;
        let row = agent_in(&mut tx, project_id, id).await?;
        tx.commit().await?;
        Ok(Ok(row))
    }

    /// Deletes an agent and its audit log.
    pub async fn delete_agent(&self, project_id: &str, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM agents WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        sqlx::query("DELETE FROM agent_audit WHERE project_id = $1 AND agent_id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Copies an agent with all its settings and knowledge-base links under a new
    /// id and a new webhook secret; `name` overrides the copy's name.
    pub async fn clone_agent(
        &self,
        project_id: &str,
        id: &str,
        name: Option<String>,
        key_id: Option<&str>,
    ) -> Result<AgentRow> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let source = agent_in(&mut tx, project_id, id).await?;
        let mut settings = source.settings.clone();
        settings.name = name.unwrap_or_else(|| format!("{} (copy)", source.settings.name));
        let new_id = insert_agent(&mut tx, &source.org_id, project_id, &settings, now).await?;
        let mut changes = creation_changes(&settings);
        if let Value::Object(map) = &mut changes {
            map.insert("cloned_from".into(), json!({"from": null, "to": source.id}));
        }
        audit(&mut tx, project_id, &new_id, key_id, "cloned", changes, now).await?;
        let row = agent_in(&mut tx, project_id, &new_id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Replaces the agent's webhook secret; the old one stops working at once.
    pub async fn rotate_agent_secret(&self, project_id: &str, id: &str, key_id: Option<&str>) -> Result<AgentRow> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = agent_in(&mut tx, project_id, id).await?;
        let secret = keys::generate_webhook_secret();
        sqlx::query("UPDATE agents SET webhook_secret = $1, updated_at = $2 WHERE project_id = $3 AND id = $4")
            .bind(&secret)
            .bind(now)
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let changes = json!({"webhook_secret_hint": {
            "from": keys::secret_hint(&current.webhook_secret), "to": keys::secret_hint(&secret)}});
        audit(&mut tx, project_id, id, key_id, "webhook_secret_rotated", changes, now).await?;
        let row = agent_in(&mut tx, project_id, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Archives (`archived = true`) or restores an agent. Archiving an archived
    /// agent keeps its original `archived_at` and records nothing.
    pub async fn set_agent_archived(
        &self,
        project_id: &str,
        id: &str,
        archived: bool,
        key_id: Option<&str>,
    ) -> Result<AgentRow> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let current = agent_in(&mut tx, project_id, id).await?;
        if current.archived_at.is_some() == archived {
            return Ok(current);
        }
        let archived_at = archived.then_some(now);
        sqlx::query("UPDATE agents SET archived_at = $1, updated_at = $2 WHERE project_id = $3 AND id = $4")
            .bind(archived_at)
            .bind(now)
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let (action, from, to) = if archived {
            ("archived", Value::Null, json!(now))
        } else {
            ("restored", json!(current.archived_at), Value::Null)
        };
        audit(&mut tx, project_id, id, key_id, action, json!({"archived_at": {"from": from, "to": to}}), now).await?;
        let row = agent_in(&mut tx, project_id, id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// A page of an agent's audit log, newest first.
    pub async fn agent_audit(
        &self,
        project_id: &str,
        agent_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditRow>> {
        self.agent(project_id, agent_id).await?;
        let rows = sqlx::query(
            "SELECT id, agent_id, key_id, action, changes, created_at FROM agent_audit \
             WHERE project_id = $1 AND agent_id = $2 AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4",
        )
        .bind(project_id)
        .bind(agent_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AuditRow {
                    id: text(row, "id")?,
                    agent_id: text(row, "agent_id")?,
                    key_id: opt_text(row, "key_id")?,
                    action: text(row, "action")?,
                    changes: json(row, "changes")?,
                    created_at: int(row, "created_at")?,
                })
            })
            .collect()
    }
}

/// The audit entry of a new agent: every field, from nothing to its value.
fn creation_changes(settings: &AgentSettings) -> Value {
    match serde_json::to_value(settings) {
        Ok(Value::Object(map)) => {
            Value::Object(map.into_iter().map(|(field, to)| (field, json!({"from": null, "to": to}))).collect())
        }
        _ => json!({}),
    }
}
