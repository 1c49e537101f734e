//! Webhook endpoints of the three levels: webhooks (CRUD; org-wide, or of one
//! project), the project's webhook setting, and the health of the agent's
//! `webhook_url`.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;
use switchboard_domain::keys;

use crate::rows::{flag, int, json, opt_int, opt_text, text, to_json};
use crate::{Error, Result, Store};

/// Whose webhooks a request sees: an org's org-wide ones, or one project's.
#[derive(Debug, Clone, Copy)]
pub struct HookScope<'a> {
    pub org_id: &'a str,
    pub project_id: Option<&'a str>,
}

impl HookScope<'_> {
    /// The `COALESCE(project_id, '')` value of the scope.
    fn project(&self) -> &str {
        self.project_id.unwrap_or("")
    }
}

/// An endpoint of an org, org-wide or of one project.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: String,
    pub org_id: String,
    /// The project whose events it receives; `None`: every project's.
    pub project_id: Option<String>,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: String,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const WEBHOOK_COLUMNS: &str = "id, org_id, project_id, url, events, description, enabled, secret, disabled_reason, \
    failing_since, created_at, updated_at";

/// A webhook of the scope: `$1` the org, `$2` the project (`''` org-wide).
const IN_SCOPE: &str = "org_id = $1 AND COALESCE(project_id, '') = $2";

fn webhook_row(row: &AnyRow) -> Result<WebhookRow> {
    Ok(WebhookRow {
        id: text(row, "id")?,
        org_id: text(row, "org_id")?,
        project_id: opt_text(row, "project_id")?,
        url: text(row, "url")?,
        events: json(row, "events")?,
        description: opt_text(row, "description")?,
        enabled: flag(row, "enabled")?,
        secret: text(row, "secret")?,
        disabled_reason: opt_text(row, "disabled_reason")?,
        failing_since: opt_int(row, "failing_since")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

/// What `POST /v1/webhooks` sets.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
}

/// What `PATCH /v1/webhooks/:id` changes; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// The project-level endpoint.
#[derive(Debug, Clone)]
pub struct ProjectWebhook {
    pub project_id: String,
    pub url: Option<String>,
    pub events: Vec<String>,
    pub enabled: bool,
    pub secret: Option<String>,
    pub disabled_reason: Option<String>,
}

/// What `PATCH /v1/project/webhook` changes; `url: Some(None)` removes it.
#[derive(Debug, Clone, Default)]
pub struct ProjectWebhookPatch {
    pub url: Option<Option<String>>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

impl Store {
    pub async fn create_webhook(&self, scope: HookScope<'_>, new: &NewWebhook) -> Result<WebhookRow> {
        let id = IdKind::Webhook.new_id();
        let now = self.now();
        sqlx::query(
            "INSERT INTO webhooks (id, org_id, project_id, url, events, description, enabled, secret, disabled_reason, \
             failing_since, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9, $9)",
        )
        .bind(&id)
        .bind(scope.org_id)
        .bind(scope.project_id)
        .bind(&new.url)
        .bind(to_json(&new.events))
        .bind(new.description.as_deref())
        .bind(i64::from(new.enabled))
        .bind(keys::generate_webhook_secret())
        .bind(now)
        .execute(&self.writer)
        .await?;
        self.webhook(scope, &id).await
    }

    pub async fn webhook(&self, scope: HookScope<'_>, id: &str) -> Result<WebhookRow> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE {IN_SCOPE} AND id = $3");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.org_id)
            .bind(scope.project())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        webhook_row(&row.ok_or(Error::NotFound)?)
    }

    /// A page of the scope's webhooks, newest first; one extra row tells whether more exist.
    pub async fn webhooks(&self, scope: HookScope<'_>, after: Option<&str>, limit: u32) -> Result<Vec<WebhookRow>> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE {IN_SCOPE} AND ($3 IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.org_id)
            .bind(scope.project())
            .bind(after)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    /// Applies a patch. Enabling an endpoint clears why it was disabled and its
    /// failure streak.
    pub async fn update_webhook(&self, scope: HookScope<'_>, id: &str, patch: &WebhookPatch) -> Result<WebhookRow> {
        let current = self.webhook(scope, id).await?;
        let enabled = patch.enabled.unwrap_or(current.enabled);
        let reenabled = enabled && !current.enabled;
        sqlx::query(
            "UPDATE webhooks SET url = $1, events = $2, description = $3, enabled = $4, \
             disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE disabled_reason END, \
             failing_since = CASE WHEN $5 = 1 THEN NULL ELSE failing_since END, updated_at = $6 \
             WHERE org_id = $7 AND id = $8",
        )
        .bind(patch.url.as_ref().unwrap_or(&current.url))
        .bind(to_json(patch.events.as_ref().unwrap_or(&current.events)))
        .bind(patch.description.clone().unwrap_or(current.description).as_deref())
        .bind(i64::from(enabled))
        .bind(i64::from(reenabled))
        .bind(self.now())
        .bind(scope.org_id)
        .bind(id)
        .execute(&self.writer)
        .await?;
        self.webhook(scope, id).await
    }

    /// Deletes the endpoint; its queued deliveries fail when their turn comes.
    pub async fn delete_webhook(&self, scope: HookScope<'_>, id: &str) -> Result<()> {
        let sql = format!("DELETE FROM webhooks WHERE {IN_SCOPE} AND id = $3");
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.org_id)
            .bind(scope.project())
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// Issues a new signing secret; the old one stops working at once.
    pub async fn rotate_webhook_secret(&self, scope: HookScope<'_>, id: &str) -> Result<WebhookRow> {
        let sql = format!("UPDATE webhooks SET secret = $3, updated_at = $4 WHERE {IN_SCOPE} AND id = $5");
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(scope.org_id)
            .bind(scope.project())
            .bind(keys::generate_webhook_secret())
            .bind(self.now())
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        self.webhook(scope, id).await
    }

    pub async fn project_webhook(&self, org_id: &str, project_id: &str) -> Result<ProjectWebhook> {
        let row = sqlx::query(
            "SELECT id, webhook_url, webhook_events, webhook_enabled, webhook_secret, webhook_disabled_reason \
             FROM projects WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(org_id)
        .bind(project_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound)?;
        let events: Option<Vec<String>> = crate::rows::opt_json(&row, "webhook_events")?;
        Ok(ProjectWebhook {
            project_id: text(&row, "id")?,
            url: opt_text(&row, "webhook_url")?,
            events: events.unwrap_or_else(|| vec!["*".into()]),
            enabled: flag(&row, "webhook_enabled")?,
            secret: opt_text(&row, "webhook_secret")?,
            disabled_reason: opt_text(&row, "webhook_disabled_reason")?,
        })
    }

    /// Sets the project's webhook. The first URL gets a signing secret; setting
    /// a URL enables the endpoint unless `enabled` says otherwise; removing the
    /// URL disables it. `rotate` issues a new secret.
    pub async fn update_project_webhook(
        &self,
        org_id: &str,
        project_id: &str,
        patch: &ProjectWebhookPatch,
        rotate: bool,
    ) -> Result<ProjectWebhook> {
        let current = self.project_webhook(org_id, project_id).await?;
        let url = patch.url.clone().unwrap_or(current.url.clone());
        let enabled = url.is_some() && patch.enabled.unwrap_or(current.enabled || patch.url.is_some());
        let secret = match (&current.secret, rotate) {
            (Some(secret), false) => secret.clone(),
            _ => keys::generate_webhook_secret(),
        };
        let healthy = enabled && (!current.enabled || patch.url.is_some());
        sqlx::query(
            "UPDATE projects SET webhook_url = $1, webhook_events = $2, webhook_enabled = $3, webhook_secret = $4, \
             webhook_disabled_reason = CASE WHEN $5 = 1 THEN NULL ELSE webhook_disabled_reason END, \
             webhook_failing_since = CASE WHEN $5 = 1 THEN NULL ELSE webhook_failing_since END, updated_at = $6 \
             WHERE org_id = $7 AND id = $8",
        )
        .bind(url.as_deref())
        .bind(to_json(patch.events.as_ref().unwrap_or(&current.events)))
        .bind(i64::from(enabled))
        .bind(secret)
        .bind(i64::from(healthy))
        .bind(self.now())
        .bind(org_id)
        .bind(project_id)
        .execute(&self.writer)
        .await?;
        self.project_webhook(org_id, project_id).await
    }
}
