//! The nodes sharing this database: each records itself when it starts and
//! says it is alive at an interval, so the calls it holds can be told from
//! another node's.

use crate::{Result, Store};

impl Store {
    /// Records that node `id` started with `role` (or started again).
    pub async fn node_started(&self, id: &str, role: &str) -> Result<()> {
        let now = self.now();
        sqlx::query(
            "INSERT INTO nodes (id, role, started_at, heartbeat_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET role = excluded.role, started_at = excluded.started_at, \
             heartbeat_at = excluded.heartbeat_at",
        )
        .bind(id)
        .bind(role)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Node `id` is alive now.
    pub async fn node_heartbeat(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE nodes SET heartbeat_at = $1 WHERE id = $2")
            .bind(self.now())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// When node `id` last said it was alive, if it ever did.
    pub async fn node_heartbeat_at(&self, id: &str) -> Result<Option<i64>> {
        let row =
            sqlx::query("SELECT heartbeat_at FROM nodes WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| crate::rows::int(&r, "heartbeat_at")).transpose()
    }
}
