//! Bulk loading of customers (a CRM export, a migration, the memory
//! benchmark): multi-row INSERTs in one transaction.

use sqlx::AssertSqlSafe;
use switchboard_domain::memory::hints::Identifier;
use switchboard_domain::memory::{IntentStatus, VariableWrite};

use super::MemoryScope;
use crate::{Result, Store};

/// Rows per INSERT statement: 500 rows of at most 8 columns stay far below
/// SQLite's 32766 and PostgreSQL's 65535 bound parameters.
const ROWS_PER_INSERT: usize = 500;

/// A customer to load, with what is known about it.
#[derive(Debug, Clone)]
pub struct ImportedCustomer {
    pub customer_ref: String,
    pub identifiers: Vec<Identifier>,
    pub variables: Vec<VariableWrite>,
    /// Names of intents to load as open, with one attempt.
    pub open_intents: Vec<String>,
}

/// `($1, $2, …), ($n, …)` for `rows` rows of `columns` parameters.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let params: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
        format!("({})", params.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// Loads customers into the project in one transaction. An identifier
    /// that already belongs to someone stays theirs.
    pub async fn memory_import_customers(&self, scope: MemoryScope<'_>, customers: &[ImportedCustomer]) -> Result<()> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        for chunk in customers.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO memory_customers (customer_ref, org_id, project_id, created_at, last_call_at) VALUES {}",
                placeholders(chunk.len(), 5)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for c in chunk {
                query = query.bind(&c.customer_ref).bind(scope.org_id).bind(scope.project_id).bind(now).bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        let identifiers: Vec<(&str, &Identifier)> =
            customers.iter().flat_map(|c| c.identifiers.iter().map(move |i| (c.customer_ref.as_str(), i))).collect();
        for chunk in identifiers.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO memory_identities (project_id, kind, name, value, customer_ref, created_at) VALUES {} \
                 ON CONFLICT (project_id, kind, name, value) DO NOTHING",
                placeholders(chunk.len(), 6)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (customer_ref, id) in chunk {
                query = query
                    .bind(scope.project_id)
                    .bind(id.kind.as_str())
                    .bind(id.name.as_str())
                    .bind(id.value.as_str())
                    .bind(*customer_ref)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        let variables: Vec<(&str, &VariableWrite)> =
            customers.iter().flat_map(|c| c.variables.iter().map(move |v| (c.customer_ref.as_str(), v))).collect();
        for chunk in variables.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO memory_variables (customer_ref, name, project_id, value, source, ttl_seconds, updated_at, \
                 expires_at) VALUES {}",
                placeholders(chunk.len(), 8)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (customer_ref, v) in chunk {
                query = query
                    .bind(*customer_ref)
                    .bind(v.key.as_str())
                    .bind(scope.project_id)
                    .bind(v.value.as_str())
                    .bind(v.source.as_deref())
                    .bind(v.ttl_seconds)
                    .bind(now)
                    .bind(v.expires_at(now));
            }
            query.execute(&mut *tx).await?;
        }
        let intents: Vec<(&str, &str)> = customers
            .iter()
            .flat_map(|c| c.open_intents.iter().map(move |i| (c.customer_ref.as_str(), i.as_str())))
            .collect();
        for chunk in intents.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO memory_intents (customer_ref, intent, project_id, status, attempt_count, resolution, \
                 created_at, updated_at) VALUES {}",
                placeholders(chunk.len(), 8)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (customer_ref, intent) in chunk {
                query = query
                    .bind(*customer_ref)
                    .bind(*intent)
                    .bind(scope.project_id)
                    .bind(IntentStatus::Open.as_str())
                    .bind(1_i64)
                    .bind(None::<String>)
                    .bind(now)
                    .bind(now);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_after_each_other() {
        assert_eq!(placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(placeholders(1, 1), "($1)");
    }
}
