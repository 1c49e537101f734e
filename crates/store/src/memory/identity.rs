//! Recognising a caller: which customers the hints point at (through the
//! identifier primary key, O(log n)), creating customers, and linking
//! identifiers nobody owns yet to a customer.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyConnection, AssertSqlSafe};
use switchboard_domain::memory::IdentityHints;
use switchboard_domain::memory::hints::{Identifier, IdentifierKind};
use switchboard_domain::memory::scoring::{Candidate, Evidence};

use super::MemoryScope;
use crate::rows::{int, text};
use crate::{Error, Result};

/// The customers some hint points at, and the identifiers already owned.
pub(super) struct Found {
    pub candidates: Vec<Candidate>,
    pub owned: BTreeSet<Identifier>,
}

impl Found {
    /// The hints' identifiers that belong to nobody yet.
    pub fn unowned(&self, hints: &IdentityHints) -> Vec<Identifier> {
        hints.identifiers().into_iter().filter(|id| !self.owned.contains(id)).collect()
    }
}

/// Looks up every hint of the call in `project_id`.
pub(super) async fn find(conn: &mut AnyConnection, project_id: &str, hints: &IdentityHints) -> Result<Found> {
    let mut by_customer: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut owned = BTreeSet::new();
    if let Some(customer_ref) = &hints.customer_ref
        && let Some(last_call_at) = last_call_at(conn, project_id, customer_ref).await?
    {
        let evidence = Evidence { customer_ref: true, ..Evidence::default() };
        by_customer
            .insert(customer_ref.clone(), Candidate { customer_ref: customer_ref.clone(), last_call_at, evidence });
    }
    let identifiers = hints.identifiers();
    if !identifiers.is_empty() {
        let clauses: Vec<String> = (0..identifiers.len())
            .map(|i| format!("(i.kind = ${} AND i.name = ${} AND i.value = ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "SELECT i.kind, i.name, i.value, i.customer_ref, c.last_call_at FROM memory_identities i \
             JOIN memory_customers c ON c.customer_ref = i.customer_ref \
             WHERE i.project_id = $1 AND ({})",
            clauses.join(" OR ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(project_id);
        for id in &identifiers {
            query = query.bind(id.kind.as_str()).bind(id.name.as_str()).bind(id.value.as_str());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let kind_name = text(&row, "kind")?;
            let kind = IdentifierKind::parse(&kind_name).ok_or_else(|| Error::Corrupt(format!("kind {kind_name}")))?;
            let customer_ref = text(&row, "customer_ref")?;
            let last_call_at = int(&row, "last_call_at")?;
            let candidate = by_customer.entry(customer_ref.clone()).or_insert_with(|| Candidate {
                customer_ref,
                last_call_at,
                evidence: Evidence::default(),
            });
            match kind {
                IdentifierKind::Ani => candidate.evidence.ani = Some(hints.line_type),
                IdentifierKind::ExternalId => candidate.evidence.external_id = true,
            }
            owned.insert(Identifier { kind, name: text(&row, "name")?, value: text(&row, "value")? });
        }
    }
    Ok(Found { candidates: by_customer.into_values().collect(), owned })
}

/// When the customer last called, if the project has it.
pub(super) async fn last_call_at(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_ref: &str,
) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT last_call_at FROM memory_customers WHERE project_id = $1 AND customer_ref = $2")
        .bind(project_id)
        .bind(customer_ref)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| int(&r, "last_call_at")).transpose()
}

pub(super) async fn create_customer(
    conn: &mut AnyConnection,
    scope: MemoryScope<'_>,
    customer_ref: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO memory_customers (customer_ref, org_id, project_id, created_at, last_call_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(customer_ref)
    .bind(scope.org_id)
    .bind(scope.project_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records that the customer called now (for recency); `false` when the
/// project has no such customer (any more).
pub(super) async fn touch_customer(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_ref: &str,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query("UPDATE memory_customers SET last_call_at = $1 WHERE project_id = $2 AND customer_ref = $3")
        .bind(now)
        .bind(project_id)
        .bind(customer_ref)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Links identifiers to a customer; one someone else took meanwhile stays theirs.
pub(super) async fn link(
    conn: &mut AnyConnection,
    project_id: &str,
    customer_ref: &str,
    identifiers: &[Identifier],
    now: i64,
) -> Result<()> {
    if identifiers.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..identifiers.len())
        .map(|i| format!("($1, ${}, ${}, ${}, $2, $3)", 3 * i + 4, 3 * i + 5, 3 * i + 6))
        .collect();
    let sql = format!(
        "INSERT INTO memory_identities (project_id, kind, name, value, customer_ref, created_at) VALUES {} \
         ON CONFLICT (project_id, kind, name, value) DO NOTHING",
        values.join(", ")
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(customer_ref).bind(now);
    for id in identifiers {
        query = query.bind(id.kind.as_str()).bind(id.name.as_str()).bind(id.value.as_str());
    }
    query.execute(&mut *conn).await?;
    Ok(())
}
