//! Phone numbers a project owns: purchase with its first charge, assignment to
//! an agent, release, the 28-day renewals (charged exactly once per cycle, even
//! with several servers on one database), and the calls the carrier could not
//! route to an agent.

use std::collections::HashSet;

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;
use switchboard_domain::phone_numbers::{BILLING_CYCLE_MS, NumberType, PRICE_MICROS, Renewal, renewal};
use switchboard_domain::tier::Tier;

use crate::changes::Change;
use crate::events::Tx;
use crate::rows::{int, opt_int, opt_text, text};
use crate::{Error, Result, Store};

/// A number as stored; `released_at` is set once it is given back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumberRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    /// E.164.
    pub phone_number: String,
    pub country_code: String,
    pub number_type: NumberType,
    pub agent_id: Option<String>,
    pub address_id: Option<String>,
    pub city_code: Option<String>,
    /// `simulated` (bought here and billed every cycle) or the carrier an imported
    /// number belongs to (`twilio`), which bills it itself.
    pub provider: String,
    /// When the next 28-day cycle is charged (bought numbers only).
    pub next_billing_at: i64,
    /// `released` (by the API) or `non_payment` (by the renewal rule).
    pub release_reason: Option<String>,
    pub created_at: i64,
    pub released_at: Option<i64>,
}

pub(crate) const COLUMNS: &str = "id, org_id, project_id, phone_number, country_code, number_type, agent_id, \
    address_id, city_code, provider, next_billing_at, release_reason, created_at, released_at";

/// The provider of numbers bought from the simulated carrier.
pub const SIMULATED: &str = "simulated";

impl PhoneNumberRow {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self> {
        let kind = text(row, "number_type")?;
        Ok(PhoneNumberRow {
            id: text(row, "id")?,
            org_id: text(row, "org_id")?,
            project_id: text(row, "project_id")?,
            phone_number: text(row, "phone_number")?,
            country_code: text(row, "country_code")?,
            number_type: NumberType::parse(&kind).ok_or_else(|| Error::Corrupt(format!("number_type {kind}")))?,
            agent_id: opt_text(row, "agent_id")?,
            address_id: opt_text(row, "address_id")?,
            city_code: opt_text(row, "city_code")?,
            provider: text(row, "provider")?,
            next_billing_at: int(row, "next_billing_at")?,
            release_reason: opt_text(row, "release_reason")?,
            created_at: int(row, "created_at")?,
            released_at: opt_int(row, "released_at")?,
        })
    }
}

/// What a purchase records.
#[derive(Debug, Clone)]
pub struct NewPhoneNumber {
    pub project_id: String,
    pub phone_number: String,
    pub country_code: String,
    pub number_type: NumberType,
    pub address_id: Option<String>,
    pub city_code: Option<String>,
}

/// Why a purchase was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseRefusal {
    /// The balance is below the first cycle's price.
    InsufficientCredits,
    /// Another live row holds the number.
    Taken,
}

/// What the carrier knows about a dialled number, for inbound routing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialled {
    /// A live number of the project.
    Live(Box<PhoneNumberRow>),
    /// The project owned it once and released it.
    Released,
    /// Never a number of the project.
    Unknown,
}

/// What one pass of the renewal worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenewalPass {
    pub charged: usize,
    pub released: usize,
}

impl RenewalPass {
    pub fn is_empty(&self) -> bool {
        self.charged == 0 && self.released == 0
    }
}

async fn number_in(tx: &mut Tx, id: &str) -> Result<PhoneNumberRow> {
    let sql = format!("SELECT {COLUMNS} FROM phone_numbers WHERE id = $1");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(id).fetch_one(&mut **tx).await?;
    PhoneNumberRow::from_row(&row)
}

/// Records the charge of the cycle starting at `period_start`, in the
/// caller's transaction (the debit is the caller's).
async fn record_charge(tx: &mut Tx, number: &PhoneNumberRow, period_start: i64, now: i64) -> Result<()> {
    let cycle = (period_start - number.created_at) / BILLING_CYCLE_MS;
    sqlx::query(
        "INSERT INTO phone_number_charges (phone_number_id, cycle, org_id, project_id, amount_micros, period_start, \
         period_end, charged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&number.id)
    .bind(cycle)
    .bind(&number.org_id)
    .bind(&number.project_id)
    .bind(PRICE_MICROS)
    .bind(period_start)
    .bind(period_start + BILLING_CYCLE_MS)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Debits one cycle's price; with `covered`, only while the balance (less
/// what live calls hold) covers it. Returns whether the balance was debited.
async fn debit(tx: &mut Tx, org_id: &str, now: i64, covered: bool) -> Result<bool> {
    let condition = if covered { " AND balance_micros - reserved_micros >= $1" } else { "" };
    let sql = format!(
        "UPDATE orgs SET balance_micros = balance_micros - $1, balance_updated_at = $2, updated_at = $2 \
         WHERE id = $3{condition}"
    );
    let done = sqlx::query(AssertSqlSafe(sql)).bind(PRICE_MICROS).bind(now).bind(org_id).execute(&mut **tx).await?;
    Ok(done.rows_affected() > 0)
}

impl Store {
    /// The live number `e164` of the project, if it owns one.
    pub async fn live_number(&self, project_id: &str, e164: &str) -> Result<Option<PhoneNumberRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM phone_numbers WHERE project_id = $1 AND phone_number = $2 AND released_at IS NULL"
        );
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(e164).fetch_optional(&self.pool).await?;
        row.as_ref().map(PhoneNumberRow::from_row).transpose()
    }

    /// What `e164` is to the project: live, released, or never its number.
    pub async fn dialled(&self, project_id: &str, e164: &str) -> Result<Dialled> {
        if let Some(live) = self.live_number(project_id, e164).await? {
            return Ok(Dialled::Live(Box::new(live)));
        }
        let released = sqlx::query("SELECT id FROM phone_numbers WHERE project_id = $1 AND phone_number = $2 LIMIT 1")
            .bind(project_id)
            .bind(e164)
            .fetch_optional(&self.pool)
            .await?;
        Ok(if released.is_some() { Dialled::Released } else { Dialled::Unknown })
    }

    /// A live number of the project by id.
    pub async fn phone_number(&self, project_id: &str, id: &str) -> Result<PhoneNumberRow> {
        let sql =
            format!("SELECT {COLUMNS} FROM phone_numbers WHERE project_id = $1 AND id = $2 AND released_at IS NULL");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(id).fetch_optional(&self.pool).await?;
        PhoneNumberRow::from_row(&row.ok_or(Error::NotFound)?)
    }

    /// A page of the project's live numbers, newest first; one extra row tells
    /// whether more exist.
    pub async fn phone_numbers(
        &self,
        project_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PhoneNumberRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM phone_numbers WHERE project_id = $1 AND released_at IS NULL \
             AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(after)
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(PhoneNumberRow::from_row).collect()
    }

    /// Which of `numbers` someone owns now. The carrier's inventory is shared
    /// by every tenant, so this one query is not scoped: it answers only
    /// "taken or not", never by whom.
    pub async fn taken_numbers(&self, numbers: &[String]) -> Result<HashSet<String>> {
        if numbers.is_empty() {
            return Ok(HashSet::new());
        }
        let placeholders: Vec<String> = (1..=numbers.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT phone_number FROM phone_numbers WHERE released_at IS NULL AND phone_number IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for number in numbers {
            query = query.bind(number.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|r| text(r, "phone_number")).collect()
    }

    /// Records a purchase: the first cycle is charged and the number is held,
    /// atomically. The debit only happens while the balance covers the price,
    /// and the live-number index refuses a number someone else holds.
    pub async fn purchase_number(
        &self,
        org_id: &str,
        new: &NewPhoneNumber,
    ) -> Result<std::result::Result<PhoneNumberRow, PurchaseRefusal>> {
        let now = self.now();
        let id = IdKind::PhoneNumber.new_id();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO phone_numbers (id, org_id, project_id, phone_number, country_code, number_type, agent_id, \
             address_id, city_code, next_billing_at, release_reason, created_at, released_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, NULL, $10, NULL)",
        )
        .bind(&id)
        .bind(org_id)
        .bind(&new.project_id)
        .bind(&new.phone_number)
        .bind(&new.country_code)
        .bind(new.number_type.as_str())
        .bind(new.address_id.as_deref())
        .bind(new.city_code.as_deref())
        .bind(now + BILLING_CYCLE_MS)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(Err(PurchaseRefusal::Taken)),
            other => other?,
        };
        if !debit(&mut tx, org_id, now, true).await? {
            return Ok(Err(PurchaseRefusal::InsufficientCredits));
        }
        let number = number_in(&mut tx, &id).await?;
        record_charge(&mut tx, &number, now, now).await?;
        tx.commit().await?;
        self.changes.notify(Change::Org(org_id.to_owned()));
        Ok(Ok(number))
    }

    /// Assigns the number to an agent, or unassigns it with `None`.
    pub async fn assign_number(&self, project_id: &str, id: &str, agent_id: Option<&str>) -> Result<PhoneNumberRow> {
        let done = sqlx::query(
            "UPDATE phone_numbers SET agent_id = $1 WHERE project_id = $2 AND id = $3 AND released_at IS NULL",
        )
        .bind(agent_id)
        .bind(project_id)
        .bind(id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        self.phone_number(project_id, id).await
    }

    /// Gives the number back to the carrier; billing stops. Nothing is refunded.
    pub async fn release_number(&self, project_id: &str, id: &str) -> Result<PhoneNumberRow> {
        let number = self.phone_number(project_id, id).await?;
        let done = sqlx::query(
            "UPDATE phone_numbers SET released_at = $1, release_reason = 'released' \
             WHERE project_id = $2 AND id = $3 AND released_at IS NULL",
        )
        .bind(self.now())
        .bind(project_id)
        .bind(id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(number)
    }

    /// Renews up to `limit` bought numbers whose cycle is due (imported numbers are
    /// billed by their carrier): each cycle is charged
    /// (or the number released for non-payment, see
    /// [`switchboard_domain::phone_numbers::renewal`]) in one transaction that
    /// first moves `next_billing_at` on by 28 days on the condition that it
    /// still holds the value read. A second server renewing the same number
    /// finds the condition false and does nothing, so a cycle is never charged
    /// twice; a number several cycles behind is renewed one cycle per pass.
    pub async fn renew_due_numbers(&self, limit: i64) -> Result<RenewalPass> {
        let now = self.now();
        let sql = format!(
            "SELECT {COLUMNS} FROM phone_numbers WHERE released_at IS NULL AND next_billing_at <= $1 \
             AND provider = '{SIMULATED}' ORDER BY next_billing_at LIMIT $2"
        );
        let due = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(limit).fetch_all(&self.pool).await?;
        let mut pass = RenewalPass::default();
        for row in &due {
            let number = PhoneNumberRow::from_row(row)?;
            let mut tx = self.begin_write().await?;
            let org = sqlx::query("SELECT tier, balance_micros FROM orgs WHERE id = $1")
                .bind(&number.org_id)
                .fetch_one(&mut *tx)
                .await?;
            let tier_name = text(&org, "tier")?;
            let tier = Tier::parse(&tier_name).ok_or_else(|| Error::Corrupt(format!("tier {tier_name}")))?;
            let decision = renewal(tier, int(&org, "balance_micros")?);
            // The change carries the condition `next_billing_at` = what was read.
            let (set, value) = match decision {
                Renewal::Charge => ("next_billing_at = next_billing_at + $1", BILLING_CYCLE_MS),
                Renewal::Release => ("released_at = $1, release_reason = 'non_payment'", now),
            };
            let sql = format!(
                "UPDATE phone_numbers SET {set} WHERE id = $2 AND next_billing_at = $3 AND released_at IS NULL"
            );
            let done = sqlx::query(AssertSqlSafe(sql))
                .bind(value)
                .bind(&number.id)
                .bind(number.next_billing_at)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            match decision {
                Renewal::Charge => {
                    record_charge(&mut tx, &number, number.next_billing_at, now).await?;
                    debit(&mut tx, &number.org_id, now, false).await?;
                    pass.charged += 1;
                }
                Renewal::Release => pass.released += 1,
            }
            tx.commit().await?;
            self.changes.notify(Change::Org(number.org_id.clone()));
        }
        Ok(pass)
    }

    /// How many cycles of the number have been charged, purchase included.
    pub async fn number_charges(&self, project_id: &str, id: &str) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM phone_number_charges WHERE project_id = $1 AND phone_number_id = $2",
        )
        .bind(project_id)
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        int(&row, "n")
    }
}
