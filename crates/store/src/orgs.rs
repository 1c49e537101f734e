//! Organizations: tier, credit balance and voice rate; bootstrapping a new org.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;
use switchboard_domain::keys::{self, KeyKind, KeyScope};
use switchboard_domain::money::Micros;
use switchboard_domain::tier::Tier;

use crate::changes::Change;
use crate::keys::insert_key;
use crate::projects::{ProjectRow, insert_project};
use crate::rows::{AnyQuery, int, opt_int, text};
use crate::{Error, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub tier: Tier,
    pub balance: Micros,
    /// Set by an operator; otherwise the tier's rate applies.
    pub rate_override: Option<Micros>,
    pub credits_expire_at: Option<i64>,
    pub balance_updated_at: i64,
    pub created_at: i64,
}

impl OrgRow {
    pub fn rate_per_minute(&self) -> Micros {
        self.rate_override.unwrap_or_else(|| self.tier.default_rate_per_minute())
    }

    pub fn is_paused(&self) -> bool {
        self.tier.is_paused(self.balance)
    }

    pub(crate) fn from_row(row: &AnyRow, prefix: &str) -> Result<Self> {
        let col = |c: &str| format!("{prefix}{c}");
        let tier_name = text(row, &col("tier"))?;
        Ok(OrgRow {
            id: text(row, &col("id"))?,
            name: text(row, &col("name"))?,
            tier: Tier::parse(&tier_name).ok_or_else(|| Error::Corrupt(format!("tier {tier_name}")))?,
            balance: int(row, &col("balance_micros"))?,
            rate_override: opt_int(row, &col("rate_per_minute_micros"))?,
            credits_expire_at: opt_int(row, &col("credits_expire_at"))?,
            balance_updated_at: int(row, &col("balance_updated_at"))?,
            created_at: int(row, &col("created_at"))?,
        })
    }
}

pub(crate) const ORG_COLUMNS: &str = "o.id AS o_id, o.name AS o_name, o.tier AS o_tier, \
    o.balance_micros AS o_balance_micros, o.rate_per_minute_micros AS o_rate_per_minute_micros, \
    o.credits_expire_at AS o_credits_expire_at, o.balance_updated_at AS o_balance_updated_at, \
    o.created_at AS o_created_at";

/// What `admin bootstrap` creates: an org, its default project, and one key of each kind.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub org: OrgRow,
    pub project: ProjectRow,
    pub org_key: String,
    pub project_key: String,
}

impl Store {
    /// Creates an org on the payg tier with its starting credits, a default
    /// project, an org key and a project key, all in one transaction.
    pub async fn bootstrap_org(&self, name: &str, starting_credits: Micros) -> Result<Bootstrap> {
        let now = self.now();
        let org_id = IdKind::Org.new_id();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO orgs (id, name, tier, balance_micros, rate_per_minute_micros, credits_expire_at, \
             balance_updated_at, created_at, updated_at) VALUES ($1, $2, $3, $4, NULL, NULL, $5, $5, $5)",
        )
        .bind(&org_id)
        .bind(name)
        .bind(Tier::Payg.as_str())
        .bind(starting_credits)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let project = insert_project(&mut tx, &org_id, "Default", None, now).await?;
        let org_key = keys::generate(KeyKind::Org);
        insert_key(&mut tx, &org_id, None, KeyKind::Org, "Bootstrap org key", KeyScope::Full, &org_key, now).await?;
        let project_key = keys::generate(KeyKind::Project);
        insert_key(
            &mut tx,
            &org_id,
            Some(&project.id),
            KeyKind::Project,
            "Bootstrap project key",
            KeyScope::Full,
            &project_key,
            now,
        )
        .await?;
        tx.commit().await?;
        let org = self.org(&org_id).await?;
        Ok(Bootstrap { org, project, org_key: org_key.raw, project_key: project_key.raw })
    }

    pub async fn org(&self, org_id: &str) -> Result<OrgRow> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE o.id = $1");
        let row =
            sqlx::query(AssertSqlSafe(sql)).bind(org_id).fetch_optional(&self.pool).await?.ok_or(Error::NotFound)?;
        OrgRow::from_row(&row, "o_")
    }

    /// Every org, oldest first: for the operator's `admin list-orgs`, never
    /// for a tenant.
    pub async fn all_orgs(&self) -> Result<Vec<OrgRow>> {
        let sql = format!("SELECT {ORG_COLUMNS} FROM orgs o ORDER BY o.id");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(|row| OrgRow::from_row(row, "o_")).collect()
    }

    /// Runs an UPDATE of one org and returns the org after it.
    async fn update_org(&self, org_id: &str, update: AnyQuery<'_>) -> Result<OrgRow> {
        if update.execute(&self.writer).await?.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        self.changes.notify(Change::Org(org_id.to_owned()));
        self.org(org_id).await
    }

    pub async fn set_org_tier(&self, org_id: &str, tier: Tier) -> Result<OrgRow> {
        let sql = "UPDATE orgs SET tier = $1, updated_at = $2 WHERE id = $3";
        self.update_org(org_id, sqlx::query(sql).bind(tier.as_str()).bind(self.now()).bind(org_id)).await
    }

    /// Adds (or, with a negative amount, removes) credits.
    pub async fn add_org_credits(&self, org_id: &str, amount: Micros) -> Result<OrgRow> {
        let sql = "UPDATE orgs SET balance_micros = balance_micros + $1, balance_updated_at = $2, updated_at = $2 \
                   WHERE id = $3";
        self.update_org(org_id, sqlx::query(sql).bind(amount).bind(self.now()).bind(org_id)).await
    }

    pub async fn set_org_rate(&self, org_id: &str, rate: Micros) -> Result<OrgRow> {
        let sql = "UPDATE orgs SET rate_per_minute_micros = $1, updated_at = $2 WHERE id = $3";
        self.update_org(org_id, sqlx::query(sql).bind(rate).bind(self.now()).bind(org_id)).await
    }
}
