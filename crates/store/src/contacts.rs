//! Contacts of a project: one per phone number and one per email address, each
//! with its conversation. Deleting a contact deletes its messages, never the
//! caller memory of the same person.

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::ids::IdKind;

use crate::events::Tx;
use crate::rows::{int, json, opt_text, text, to_json};
use crate::{Error, Result, Store};

/// A contact as stored; `email` is lowercased.
#[derive(Debug, Clone)]
pub struct ContactRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub external_ids: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What `POST /v1/contacts` sets.
#[derive(Debug, Clone, Default)]
pub struct NewContact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub external_ids: BTreeMap<String, String>,
}

/// What `PATCH /v1/contacts/:id` changes; `None` leaves a field alone,
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub external_ids: Option<BTreeMap<String, String>>,
}

/// Filters of the contact list: exact phone, exact (lowercased) email.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The message of a duplicate, per field.
pub const DUPLICATE_PHONE: &str = "A contact with this phone already exists in the project.";
pub const DUPLICATE_EMAIL: &str = "A contact with this email already exists in the project.";

const COLUMNS: &str = "id, org_id, project_id, name, phone, email, external_ids, created_at, updated_at";

fn contact_row(row: &AnyRow) -> Result<ContactRow> {
    Ok(ContactRow {
        id: text(row, "id")?,
        org_id: text(row, "org_id")?,
        project_id: text(row, "project_id")?,
        name: opt_text(row, "name")?,
        phone: opt_text(row, "phone")?,
        email: opt_text(row, "email")?,
        external_ids: json(row, "external_ids")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

/// Refuses a phone or email that another contact of the project holds.
async fn check_unique(tx: &mut Tx, project_id: &str, except: &str, contact: &ContactRow) -> Result<()> {
    for (column, value, message) in
        [("phone", &contact.phone, DUPLICATE_PHONE), ("email", &contact.email, DUPLICATE_EMAIL)]
    {
        let Some(value) = value else { continue };
        let sql = format!("SELECT id FROM contacts WHERE project_id = $1 AND {column} = $2 AND id <> $3");
        let taken =
            sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(value).bind(except).fetch_optional(&mut **tx).await?;
        if taken.is_some() {
            return Err(Error::Conflict(message.into()));
        }
    }
    Ok(())
}

/// A unique-index violation that slipped past `check_unique` (a concurrent write).
fn duplicate(err: sqlx::Error) -> Error {
    if Error::is_unique_violation(&err) {
        Error::Conflict("A contact with this phone or email already exists in the project.".into())
    } else {
        err.into()
    }
}

impl Store {
    pub async fn create_contact(&self, org_id: &str, project_id: &str, new: &NewContact) -> Result<ContactRow> {
        let now = self.now();
        let contact = ContactRow {
            id: IdKind::Contact.new_id(),
            org_id: org_id.to_owned(),
            project_id: project_id.to_owned(),
            name: new.name.clone(),
            phone: new.phone.clone(),
            email: new.email.clone(),
            external_ids: new.external_ids.clone(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.begin_write().await?;
        check_unique(&mut tx, project_id, &contact.id, &contact).await?;
        insert_contact(&mut tx, &contact).await?;
        tx.commit().await?;
        Ok(contact)
    }

    pub async fn contact(&self, project_id: &str, id: &str) -> Result<ContactRow> {
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        contact_row(&row)
    }

    /// A page of contacts, newest first; one row more than `limit` is fetched.
    pub async fn contacts(
        &self,
        project_id: &str,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ContactRow>> {
        let mut clause = String::from("project_id = $1");
        let mut n = 2;
        let mut add = |condition: &str| {
            clause.push_str(&format!(" AND {condition} ${n}"));
            n += 1;
        };
        if filter.phone.is_some() {
            add("phone =");
        }
        if filter.email.is_some() {
            add("email =");
        }
        if after.is_some() {
            add("id <");
        }
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE {clause} ORDER BY id DESC LIMIT ${n}");
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(project_id);
        for value in [filter.phone.as_deref(), filter.email.as_deref(), after].into_iter().flatten() {
            query = query.bind(value);
        }
        let rows = query.bind(i64::from(limit) + 1).fetch_all(&self.pool).await?;
        rows.iter().map(contact_row).collect()
    }

    pub async fn update_contact(&self, project_id: &str, id: &str, patch: &ContactPatch) -> Result<ContactRow> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound)?;
        let mut contact = contact_row(&row)?;
        if let Some(name) = &patch.name {
            contact.name = name.clone();
        }
        if let Some(phone) = &patch.phone {
            contact.phone = phone.clone();
        }
        if let Some(email) = &patch.email {
            contact.email = email.clone();
        }
        if let Some(ids) = &patch.external_ids {
            contact.external_ids = ids.clone();
        }
        check_unique(&mut tx, project_id, id, &contact).await?;
        contact.updated_at = self.now();
        sqlx::query(
            "UPDATE contacts SET name = $1, phone = $2, email = $3, external_ids = $4, updated_at = $5 \
             WHERE project_id = $6 AND id = $7",
        )
        .bind(contact.name.as_deref())
        .bind(contact.phone.as_deref())
        .bind(contact.email.as_deref())
        .bind(to_json(&contact.external_ids))
        .bind(contact.updated_at)
        .bind(project_id)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(duplicate)?;
        tx.commit().await?;
        Ok(contact)
    }

    /// Deletes the contact and its messages; caller memory is kept.
    pub async fn delete_contact(&self, project_id: &str, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM contacts WHERE project_id = $1 AND id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        sqlx::query("DELETE FROM messages WHERE project_id = $1 AND contact_id = $2")
            .bind(project_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The contact holding this phone number or (lowercased) email, if any.
    pub async fn contact_by_address(
        &self,
        project_id: &str,
        address: &ContactAddress<'_>,
    ) -> Result<Option<ContactRow>> {
        let (column, value) = address.column();
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE project_id = $1 AND {column} = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(value).fetch_optional(&self.pool).await?;
        row.as_ref().map(contact_row).transpose()
    }

    /// The contact holding this address, created (with only that address)
    /// when there is none. Returns the contact and whether it was created.
    pub async fn contact_for_address(
        &self,
        org_id: &str,
        project_id: &str,
        address: &ContactAddress<'_>,
    ) -> Result<(ContactRow, bool)> {
        if let Some(found) = self.contact_by_address(project_id, address).await? {
            return Ok((found, false));
        }
        let (phone, email) = match address {
            ContactAddress::Phone(p) => (Some((*p).to_owned()), None),
            ContactAddress::Email(e) => (None, Some((*e).to_owned())),
        };
        let new = NewContact { phone, email, ..NewContact::default() };
        match self.create_contact(org_id, project_id, &new).await {
            Ok(created) => Ok((created, true)),
            // Created by a concurrent request in between: use that one.
            Err(Error::Conflict(_)) => {
                self.contact_by_address(project_id, address).await?.map(|c| (c, false)).ok_or(Error::NotFound)
            }
            Err(other) => Err(other),
        }
    }
}

/// How a message finds its contact: by phone (E.164) or by lowercased email.
#[derive(Debug, Clone, Copy)]
pub enum ContactAddress<'a> {
    Phone(&'a str),
    Email(&'a str),
}

impl ContactAddress<'_> {
    fn column(&self) -> (&'static str, &str) {
        match self {
            ContactAddress::Phone(p) => ("phone", p),
            ContactAddress::Email(e) => ("email", e),
        }
    }
}

async fn insert_contact(tx: &mut Tx, c: &ContactRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO contacts (id, org_id, project_id, name, phone, email, external_ids, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&c.id)
    .bind(&c.org_id)
    .bind(&c.project_id)
    .bind(c.name.as_deref())
    .bind(c.phone.as_deref())
    .bind(c.email.as_deref())
    .bind(to_json(&c.external_ids))
    .bind(c.created_at)
    .execute(&mut **tx)
    .await
    .map_err(duplicate)?;
    Ok(())
}
