//! API keys: creation (the raw key is returned once), lookup by hash, revocation,
//! and batched `last_used_at` updates.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;
use switchboard_domain::keys::{self, KeyKind, KeyScope, NewKey};

use crate::changes::Change;
use crate::orgs::{ORG_COLUMNS, OrgRow};
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Error, Result, Store};

#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub org_id: String,
    pub project_id: Option<String>,
    pub kind: KeyKind,
    pub name: String,
    pub scope: KeyScope,
    pub hint: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl KeyRow {
    fn from_row(row: &AnyRow, prefix: &str) -> Result<Self> {
        let col = |c: &str| format!("{prefix}{c}");
        let kind = text(row, &col("kind"))?;
        let scope = text(row, &col("scope"))?;
        Ok(KeyRow {
            id: text(row, &col("id"))?,
            org_id: text(row, &col("org_id"))?,
            project_id: opt_text(row, &col("project_id"))?,
            kind: KeyKind::parse(&kind).ok_or_else(|| Error::Corrupt(format!("key kind {kind}")))?,
            name: text(row, &col("name"))?,
            scope: KeyScope::parse(&scope).ok_or_else(|| Error::Corrupt(format!("key scope {scope}")))?,
            hint: text(row, &col("key_hint"))?,
            created_at: int(row, &col("created_at"))?,
            last_used_at: opt_int(row, &col("last_used_at"))?,
        })
    }
}

const KEY_COLUMNS: &str = "k.id AS k_id, k.org_id AS k_org_id, k.project_id AS k_project_id, k.kind AS k_kind, \
    k.name AS k_name, k.scope AS k_scope, k.key_hint AS k_key_hint, k.created_at AS k_created_at, \
    k.last_used_at AS k_last_used_at";

/// A presented key that exists and is not revoked, with the org it belongs to.
/// For a project key, `project_id` is its (live) project.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub key: KeyRow,
    pub org: OrgRow,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: &str,
    project_id: Option<&str>,
    kind: KeyKind,
    name: &str,
    scope: KeyScope,
    key: &NewKey,
    now: i64,
) -> Result<String> {
    let id = IdKind::Key.new_id();
    sqlx::query(
        "INSERT INTO api_keys (id, org_id, project_id, kind, name, scope, key_hash, key_hint, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(project_id)
    .bind(kind.as_str())
    .bind(name)
    .bind(scope.as_str())
    .bind(&key.hash)
    .bind(&key.hint)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

impl Store {
    /// Finds the live key with this hash. A project key whose project was deleted
    /// is not found (its revocation and the deletion share a transaction anyway).
    pub async fn key_by_hash(&self, hash: &str) -> Result<KeyOwner> {
        let sql = format!(
            "SELECT {KEY_COLUMNS}, k.key_hash AS k_key_hash, {ORG_COLUMNS} FROM api_keys k \
             JOIN orgs o ON o.id = k.org_id \
             LEFT JOIN projects p ON p.id = k.project_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.project_id IS NULL OR p.deleted_at IS NULL)"
        );
        let row =
            sqlx::query(AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await?.ok_or(Error::NotFound)?;
        // The index found the row; compare the full hash in constant time anyway.
        if !keys::hashes_equal(&text(&row, "k_key_hash")?, hash) {
            return Err(Error::NotFound);
        }
        Ok(KeyOwner { key: KeyRow::from_row(&row, "k_")?, org: OrgRow::from_row(&row, "o_")? })
    }

    /// Creates a key for a live project of the org; returns it with its raw value.
    pub async fn create_project_key(
        &self,
        org_id: &str,
        project_id: &str,
        name: &str,
        scope: KeyScope,
    ) -> Result<(KeyRow, String)> {
        let project = self.project(org_id, project_id).await?;
        let key = keys::generate(KeyKind::Project);
        let mut tx = self.begin_write().await?;
        let id =
            insert_key(&mut tx, org_id, Some(&project.id), KeyKind::Project, name, scope, &key, self.now()).await?;
        tx.commit().await?;
        Ok((self.key(org_id, &id).await?, key.raw))
    }

    /// Creates an org-level key; returns it with its raw value.
    pub async fn create_org_key(&self, org_id: &str, name: &str, scope: KeyScope) -> Result<(KeyRow, String)> {
        let key = keys::generate(KeyKind::Org);
        let mut tx = self.begin_write().await?;
        let id = insert_key(&mut tx, org_id, None, KeyKind::Org, name, scope, &key, self.now()).await?;
        tx.commit().await?;
        Ok((self.key(org_id, &id).await?, key.raw))
    }

    async fn key(&self, org_id: &str, id: &str) -> Result<KeyRow> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 AND k.id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        KeyRow::from_row(&row, "k_")
    }

    /// The live keys of a project, newest first.
    pub async fn project_keys(&self, org_id: &str, project_id: &str) -> Result<Vec<KeyRow>> {
        let project = self.project(org_id, project_id).await?;
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 AND k.project_id = $2 \
             AND k.revoked_at IS NULL ORDER BY k.id DESC"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(org_id).bind(&project.id).fetch_all(&self.pool).await?;
        rows.iter().map(|r| KeyRow::from_row(r, "k_")).collect()
    }

    /// The live org-level keys, newest first.
    pub async fn org_keys(&self, org_id: &str) -> Result<Vec<KeyRow>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.org_id = $1 AND k.kind = 'org' \
             AND k.revoked_at IS NULL ORDER BY k.id DESC"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(org_id).fetch_all(&self.pool).await?;
        rows.iter().map(|r| KeyRow::from_row(r, "k_")).collect()
    }

    /// Revokes a live key of the org; `project_id` narrows it to a project's keys,
    /// `None` to org-level keys.
    pub async fn revoke_key(&self, org_id: &str, project_id: Option<&str>, key_id: &str) -> Result<()> {
        let done = match project_id {
            Some(project_id) => {
                let project = self.project(org_id, project_id).await?;
                sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE org_id = $2 AND project_id = $3 AND id = $4 \
                     AND revoked_at IS NULL",
                )
                .bind(self.now())
                .bind(org_id)
                .bind(project.id)
                .bind(key_id)
                .execute(&self.writer)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE org_id = $2 AND kind = 'org' AND id = $3 \
                     AND revoked_at IS NULL",
                )
                .bind(self.now())
                .bind(org_id)
                .bind(key_id)
                .execute(&self.writer)
                .await?
            }
        };
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        self.changes.notify(Change::KeysRevoked(vec![key_id.to_owned()]));
        Ok(())
    }

    /// Writes the latest use time of many keys at once (called periodically, so a
    /// request never waits on this write).
    pub async fn record_key_use(&self, uses: &[(String, i64)]) -> Result<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (id, at) in uses {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(*at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
