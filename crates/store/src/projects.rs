//! Projects of an org: create, list, rename, delete (which revokes their keys).

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;

use crate::changes::Change;
use crate::rows::{int, opt_text, text};
use crate::{Error, Result, Store};

#[derive(Debug, Clone)]
pub struct ProjectRow {
    pub id: String,
    pub internal_id: i64,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ProjectRow {
    pub(crate) fn from_row(row: &AnyRow, prefix: &str) -> Result<Self> {
        let col = |c: &str| format!("{prefix}{c}");
        Ok(ProjectRow {
            id: text(row, &col("id"))?,
            internal_id: int(row, &col("internal_id"))?,
            org_id: text(row, &col("org_id"))?,
            name: text(row, &col("name"))?,
            description: opt_text(row, &col("description"))?,
            created_at: int(row, &col("created_at"))?,
            updated_at: int(row, &col("updated_at"))?,
        })
    }
}

pub(crate) const PROJECT_COLUMNS: &str = "p.id AS p_id, p.internal_id AS p_internal_id, p.org_id AS p_org_id, \
    p.name AS p_name, p.description AS p_description, p.created_at AS p_created_at, p.updated_at AS p_updated_at";

pub(crate) async fn insert_project(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    org_id: &str,
    name: &str,
    description: Option<&str>,
    now: i64,
) -> Result<ProjectRow> {
    let id = IdKind::Project.new_id();
    sqlx::query(
        "INSERT INTO projects (id, org_id, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(name)
    .bind(description)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.id = $1");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(&id).fetch_one(&mut **tx).await?;
    ProjectRow::from_row(&row, "p_")
}

impl Store {
    /// Every live project of an org, newest first.
    pub async fn projects(&self, org_id: &str) -> Result<Vec<ProjectRow>> {
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.org_id = $1 AND p.deleted_at IS NULL ORDER BY p.id DESC"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(org_id).fetch_all(&self.pool).await?;
        rows.iter().map(|r| ProjectRow::from_row(r, "p_")).collect()
    }

    pub async fn create_project(&self, org_id: &str, name: &str, description: Option<&str>) -> Result<ProjectRow> {
        let mut tx = self.begin_write().await?;
        let project = insert_project(&mut tx, org_id, name, description, self.now()).await?;
        tx.commit().await?;
        Ok(project)
    }

    /// A live project of the org, by public id or numeric internal id.
    pub async fn project(&self, org_id: &str, id: &str) -> Result<ProjectRow> {
        let by_internal = id.parse::<i64>().ok();
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.org_id = $1 AND p.deleted_at IS NULL \
             AND (p.id = $2 OR p.internal_id = $3)"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(org_id)
            .bind(id)
            .bind(by_internal.unwrap_or(-1))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        ProjectRow::from_row(&row, "p_")
    }

    /// Renames or re-describes a project; `description: Some(None)` clears it.
    pub async fn update_project(
        &self,
        org_id: &str,
        id: &str,
        name: Option<&str>,
        description: Option<Option<&str>>,
    ) -> Result<ProjectRow> {
        let current = self.project(org_id, id).await?;
        let name = name.unwrap_or(&current.name);
        let description = description.unwrap_or(current.description.as_deref());
        sqlx::query("UPDATE projects SET name = $1, description = $2, updated_at = $3 WHERE id = $4 AND org_id = $5")
            .bind(name)
            .bind(description)
            .bind(self.now())
            .bind(&current.id)
            .bind(org_id)
            .execute(&self.writer)
            .await?;
        self.project(org_id, &current.id).await
    }

    /// Deletes a project and revokes all of its keys in the same transaction.
    /// Returns the ids of the revoked keys.
    pub async fn delete_project(&self, org_id: &str, id: &str) -> Result<Vec<String>> {
        let project = self.project(org_id, id).await?;
        let now = self.now();
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE projects SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND org_id = $3")
            .bind(now)
            .bind(&project.id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query("SELECT id FROM api_keys WHERE project_id = $1 AND org_id = $2 AND revoked_at IS NULL")
            .bind(&project.id)
            .bind(org_id)
            .fetch_all(&mut *tx)
            .await?;
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE project_id = $2 AND org_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(&project.id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let revoked = rows.iter().map(|r| text(r, "id")).collect::<Result<Vec<_>>>()?;
        self.changes.notify(Change::KeysRevoked(revoked.clone()));
        Ok(revoked)
    }
}
