//! Numbers imported from a carrier the customer already has (Twilio), with the
//! carrier credentials they are reached with, kept sealed: the store never sees
//! them in clear, and nothing reads them back for the API.

use sqlx::AssertSqlSafe;
use switchboard_domain::phone_numbers::NumberType;

use crate::phone_numbers::{COLUMNS, PhoneNumberRow};
use crate::rows::text;
use crate::{Result, Store};

/// An imported number to record.
#[derive(Debug, Clone)]
pub struct ImportedNumber {
    /// Chosen by the caller, because the sealed secret is bound to it.
    pub id: String,
    pub project_id: String,
    /// E.164.
    pub phone_number: String,
    pub country_code: String,
    pub number_type: NumberType,
    pub agent_id: Option<String>,
    /// The carrier (`twilio`).
    pub provider: String,
    /// The carrier account the number belongs to (Twilio's account SID).
    pub account_id: String,
    /// The carrier secret (Twilio's auth token), sealed by the caller.
    pub secret_sealed: String,
}

/// A live imported number with its carrier account.
#[derive(Debug, Clone)]
pub struct CarrierNumber {
    pub number: PhoneNumberRow,
    pub account_id: String,
    pub secret_sealed: String,
}

/// Why an import was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportRefusal {
    /// A live number (of any tenant) holds it.
    Taken,
}

impl Store {
    /// Records an imported number and its sealed credentials in one transaction; the
    /// live-number index refuses a number someone holds.
    pub async fn import_number(
        &self,
        org_id: &str,
        new: &ImportedNumber,
    ) -> Result<std::result::Result<PhoneNumberRow, ImportRefusal>> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO phone_numbers (id, org_id, project_id, phone_number, country_code, number_type, agent_id, \
             address_id, city_code, provider, next_billing_at, release_reason, created_at, released_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, $9, NULL, $9, NULL)",
        )
        .bind(&new.id)
        .bind(org_id)
        .bind(&new.project_id)
        .bind(&new.phone_number)
        .bind(&new.country_code)
        .bind(new.number_type.as_str())
        .bind(new.agent_id.as_deref())
        .bind(&new.provider)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(Err(ImportRefusal::Taken)),
            other => other?,
        };
        sqlx::query(
            "INSERT INTO carrier_credentials (phone_number_id, org_id, project_id, provider, account_id, \
             secret_sealed, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.id)
        .bind(org_id)
        .bind(&new.project_id)
        .bind(&new.provider)
        .bind(&new.account_id)
        .bind(&new.secret_sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.phone_number(&new.project_id, &new.id).await.map(Ok)
    }

    /// The live number `e164` imported from `provider`, with its credentials. The one
    /// read not scoped to a tenant: a carrier's webhook names only the dialled number,
    /// which the live-number index makes unambiguous, and the caller must authenticate
    /// the request with the credentials before acting for the number's project.
    pub async fn carrier_number(&self, provider: &str, e164: &str) -> Result<Option<CarrierNumber>> {
        let columns: Vec<String> = COLUMNS.split(',').map(|c| format!("n.{}", c.trim())).collect();
        let sql = format!(
            "SELECT {}, c.account_id, c.secret_sealed FROM phone_numbers n \
             JOIN carrier_credentials c ON c.phone_number_id = n.id \
             WHERE n.phone_number = $1 AND n.provider = $2 AND n.released_at IS NULL",
            columns.join(", ")
        );
        let row = sqlx::query(AssertSqlSafe(sql)).bind(e164).bind(provider).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(CarrierNumber {
            number: PhoneNumberRow::from_row(&row)?,
            account_id: text(&row, "account_id")?,
            secret_sealed: text(&row, "secret_sealed")?,
        }))
    }
}
