//! Appointments of a project, its availability settings and the secret of
//! its iCalendar feed. Booking and moving are atomic: two active appointments
//! of a project never overlap. On SQLite the check and the write share one
//! `BEGIN IMMEDIATE` transaction on the single writer connection, and
//! triggers refuse an overlapping row whoever writes it. On
//! PostgreSQL a transaction-scoped advisory lock per project orders the
//! project's bookings (so concurrent ones queue instead of deadlocking in the
//! constraint check), and the `appointments_no_overlap` exclusion constraint
//! refuses any overlap that would still reach the table.

use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use switchboard_domain::appointments::availability::Availability;
use switchboard_domain::appointments::{AppointmentRecord, Status};
use switchboard_domain::events::EventType;

use crate::events::{NewEvent, Tx, insert_event};
use crate::rows::{int, json, opt_text, text, to_json};
use crate::{Backend, Error, Result, Store};

/// The message of a booking that overlaps another active appointment.
pub const TAKEN: &str = "Another appointment holds this time.";

const COLUMNS: &str = "id, org_id, project_id, agent_id, call_id, contact_id, contact_name, contact_phone, \
    contact_email, title, notes, start_at, end_at, time_zone, status, cancel_reason, created_at, updated_at";

/// `status IN ('scheduled', 'confirmed')`.
const ACTIVE: &str = "status IN ('scheduled', 'confirmed')";

/// Filters of the appointment list; `from`/`to` bound the start time.
#[derive(Debug, Clone, Default)]
pub struct AppointmentFilter {
    pub status: Option<Status>,
    pub agent_id: Option<String>,
    pub contact_phone: Option<String>,
    /// Appointments starting at or after this instant (ms).
    pub from: Option<i64>,
    /// Appointments starting before this instant (ms).
    pub to: Option<i64>,
}

fn appointment_row(row: &AnyRow) -> Result<AppointmentRecord> {
    let status = text(row, "status")?;
    Ok(AppointmentRecord {
        id: text(row, "id")?,
        org_id: text(row, "org_id")?,
        project_id: text(row, "project_id")?,
        agent_id: opt_text(row, "agent_id")?,
        call_id: opt_text(row, "call_id")?,
        contact_id: opt_text(row, "contact_id")?,
        contact_name: opt_text(row, "contact_name")?,
        contact_phone: opt_text(row, "contact_phone")?,
        contact_email: opt_text(row, "contact_email")?,
        title: text(row, "title")?,
        notes: opt_text(row, "notes")?,
        start_ms: int(row, "start_at")?,
        end_ms: int(row, "end_at")?,
        time_zone: text(row, "time_zone")?,
        status: Status::parse(&status).ok_or_else(|| Error::Corrupt(format!("appointment status {status}")))?,
        cancel_reason: opt_text(row, "cancel_reason")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

/// An overlap the database refused: PostgreSQL's exclusion constraint
/// (`23P01`) or SQLite's trigger, both named `appointments_no_overlap`.
fn overlap(err: sqlx::Error) -> Error {
    match &err {
        sqlx::Error::Database(db)
            if db.code().as_deref() == Some("23P01") || db.message().contains("appointments_no_overlap") =>
        {
            Error::Conflict(TAKEN.into())
        }
        _ => err.into(),
    }
}

/// Refuses `record`'s time when another active appointment of its project
/// (not itself) overlaps it. Closed appointments hold no time.
async fn check_free(tx: &mut Tx, record: &AppointmentRecord) -> Result<()> {
    if !record.status.is_active() {
        return Ok(());
    }
    let sql = format!(
        "SELECT id FROM appointments WHERE project_id = $1 AND {ACTIVE} AND start_at < $2 AND end_at > $3 \
         AND id <> $4 LIMIT 1"
    );
    let taken = sqlx::query(AssertSqlSafe(sql))
        .bind(&record.project_id)
        .bind(record.end_ms)
        .bind(record.start_ms)
        .bind(&record.id)
        .fetch_optional(&mut **tx)
        .await?;
    if taken.is_some() { Err(Error::Conflict(TAKEN.into())) } else { Ok(()) }
}

fn event(kind: EventType, record: &AppointmentRecord) -> Result<NewEvent> {
    Ok(NewEvent {
        event: kind,
        org_id: record.org_id.clone(),
        project_id: Some(record.project_id.clone()),
        agent_id: record.agent_id.clone(),
        call_id: record.call_id.clone(),
        data: serde_json::to_value(record.view()).map_err(|e| Error::Corrupt(e.to_string()))?,
    })
}

impl Store {
    /// A write transaction that holds the project's booking lock (PostgreSQL;
    /// SQLite's write transaction is already exclusive).
    async fn begin_booking(&self, project_id: &str) -> Result<Tx> {
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("appointments:{project_id}"))
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Whether an appointment was booked during the call and is still on.
    pub async fn call_booked_appointment(&self, project_id: &str, call_id: &str) -> Result<bool> {
        let found = sqlx::query(
            "SELECT id FROM appointments WHERE project_id = $1 AND call_id = $2 AND status <> 'cancelled' LIMIT 1",
        )
        .bind(project_id)
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Stores a new appointment and its `appointment.booked` event, unless an
    /// active appointment of the project overlaps it (`Conflict`).
    pub async fn book_appointment(&self, record: &AppointmentRecord) -> Result<()> {
        let mut tx = self.begin_booking(&record.project_id).await?;
        check_free(&mut tx, record).await?;
        let sql = format!(
            "INSERT INTO appointments ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(&record.id)
            .bind(&record.org_id)
            .bind(&record.project_id)
            .bind(record.agent_id.as_deref())
            .bind(record.call_id.as_deref())
            .bind(record.contact_id.as_deref())
            .bind(record.contact_name.as_deref())
            .bind(record.contact_phone.as_deref())
            .bind(record.contact_email.as_deref())
            .bind(&record.title)
            .bind(record.notes.as_deref())
            .bind(record.start_ms)
            .bind(record.end_ms)
            .bind(&record.time_zone)
            .bind(record.status.as_str())
            .bind(record.cancel_reason.as_deref())
            .bind(record.created_at)
            .bind(record.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(overlap)?;
        insert_event(&mut tx, self.now(), &event(EventType::AppointmentBooked, record)?).await?;
        tx.commit().await.map_err(overlap)?;
        self.wake_outbox();
        Ok(())
    }

    /// Writes a changed appointment (and `event`, if any) when it is still as
    /// it was read (`read_at` = its `updated_at` then) and its time is free;
    /// `Conflict` otherwise.
    pub async fn save_appointment(
        &self,
        record: &AppointmentRecord,
        read_at: i64,
        kind: Option<EventType>,
    ) -> Result<()> {
        let mut tx = self.begin_booking(&record.project_id).await?;
        check_free(&mut tx, record).await?;
        let done = sqlx::query(
            "UPDATE appointments SET agent_id = $1, contact_id = $2, contact_name = $3, contact_phone = $4, \
             contact_email = $5, title = $6, notes = $7, start_at = $8, end_at = $9, time_zone = $10, status = $11, \
             cancel_reason = $12, updated_at = $13 WHERE project_id = $14 AND id = $15 AND updated_at = $16",
        )
        .bind(record.agent_id.as_deref())
        .bind(record.contact_id.as_deref())
        .bind(record.contact_name.as_deref())
        .bind(record.contact_phone.as_deref())
        .bind(record.contact_email.as_deref())
        .bind(&record.title)
        .bind(record.notes.as_deref())
        .bind(record.start_ms)
        .bind(record.end_ms)
        .bind(&record.time_zone)
        .bind(record.status.as_str())
        .bind(record.cancel_reason.as_deref())
        .bind(record.updated_at)
        .bind(&record.project_id)
        .bind(&record.id)
        .bind(read_at)
        .execute(&mut *tx)
        .await
        .map_err(overlap)?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict("The appointment changed while this request ran; try again.".into()));
        }
        if let Some(kind) = kind {
            insert_event(&mut tx, self.now(), &event(kind, record)?).await?;
        }
        tx.commit().await.map_err(overlap)?;
        self.wake_outbox();
        Ok(())
    }

    pub async fn appointment(&self, project_id: &str, id: &str) -> Result<AppointmentRecord> {
        let sql = format!("SELECT {COLUMNS} FROM appointments WHERE project_id = $1 AND id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        appointment_row(&row)
    }

    /// A page of appointments, newest booking first; one row more than
    /// `limit` is fetched.
    pub async fn appointments(
        &self,
        project_id: &str,
        filter: &AppointmentFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AppointmentRecord>> {
        let mut clause = String::from("project_id = $1");
        let mut n = 2;
        let mut add = |condition: &str| {
            clause.push_str(&format!(" AND {condition} ${n}"));
            n += 1;
        };
        let texts = [
            filter.status.map(|s| ("status =", s.as_str().to_owned())),
            filter.agent_id.clone().map(|a| ("agent_id =", a)),
            filter.contact_phone.clone().map(|p| ("contact_phone =", p)),
            after.map(|a| ("id <", a.to_owned())),
        ];
        let ints = [filter.from.map(|f| ("start_at >=", f)), filter.to.map(|t| ("start_at <", t))];
        for (condition, _) in texts.iter().flatten() {
            add(condition);
        }
        for (condition, _) in ints.iter().flatten() {
            add(condition);
        }
        let sql = format!("SELECT {COLUMNS} FROM appointments WHERE {clause} ORDER BY id DESC LIMIT ${n}");
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(project_id);
        for (_, value) in texts.into_iter().flatten() {
            query = query.bind(value);
        }
        for (_, value) in ints.into_iter().flatten() {
            query = query.bind(value);
        }
        let rows = query.bind(i64::from(limit) + 1).fetch_all(&self.pool).await?;
        rows.iter().map(appointment_row).collect()
    }

    /// The active appointments of a project that meet `[from, to)`, ordered
    /// by start, except `except` (the one being moved).
    pub async fn active_appointments(
        &self,
        project_id: &str,
        from: i64,
        to: i64,
        except: Option<&str>,
    ) -> Result<Vec<AppointmentRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM appointments WHERE project_id = $1 AND {ACTIVE} AND start_at < $2 AND end_at > $3 \
             AND id <> $4 ORDER BY start_at LIMIT 5000"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(project_id)
            .bind(to)
            .bind(from)
            .bind(except.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(appointment_row).collect()
    }

    /// The appointments of the project's calendar feed: those that end after
    /// `since`, by start, at most `limit`.
    pub async fn calendar_appointments(
        &self,
        project_id: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<AppointmentRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM appointments WHERE project_id = $1 AND end_at > $2 ORDER BY start_at, id LIMIT $3"
        );
        let rows =
            sqlx::query(AssertSqlSafe(sql)).bind(project_id).bind(since).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(appointment_row).collect()
    }

    /// Active appointments of every project with a contact phone that start
    /// in `(now, until]`, soonest first: the candidates for reminders (a
    /// worker's query, across tenants).
    pub async fn appointments_to_remind(&self, now: i64, until: i64, limit: i64) -> Result<Vec<AppointmentRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM appointments WHERE {ACTIVE} AND contact_phone IS NOT NULL \
             AND start_at > $1 AND start_at <= $2 ORDER BY start_at, id LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(until).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(appointment_row).collect()
    }

    /// Claims the reminders of `offsets` for an appointment; how many were
    /// not claimed before (0: nothing to send).
    pub async fn claim_reminders(&self, appointment: &AppointmentRecord, offsets: &[i64]) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut claimed = 0;
        for offset in offsets {
            let done = sqlx::query(
                "INSERT INTO appointment_reminders (appointment_id, offset_minutes, org_id, project_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (appointment_id, offset_minutes) DO NOTHING",
            )
            .bind(&appointment.id)
            .bind(*offset)
            .bind(&appointment.org_id)
            .bind(&appointment.project_id)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
            claimed += done.rows_affected();
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// The availability stored for the project (`agent_id` None) or for one
    /// of its agents, if any was set.
    pub async fn availability(&self, project_id: &str, agent_id: Option<&str>) -> Result<Option<Availability>> {
        let row = sqlx::query("SELECT settings FROM appointment_availability WHERE project_id = $1 AND agent_id = $2")
            .bind(project_id)
            .bind(agent_id.unwrap_or(""))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| json(&row, "settings")).transpose()
    }

    /// Sets the availability of the project (`agent_id` None) or of one agent.
    pub async fn set_availability(
        &self,
        org_id: &str,
        project_id: &str,
        agent_id: Option<&str>,
        settings: &Availability,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO appointment_availability (project_id, agent_id, org_id, settings, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (project_id, agent_id) DO UPDATE SET settings = excluded.settings, \
             updated_at = excluded.updated_at",
        )
        .bind(project_id)
        .bind(agent_id.unwrap_or(""))
        .bind(org_id)
        .bind(to_json(settings))
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an agent's own availability; the project's applies again.
    pub async fn delete_agent_availability(&self, project_id: &str, agent_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM appointment_availability WHERE project_id = $1 AND agent_id = $2")
            .bind(project_id)
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// Sets (or replaces) the SHA-256 of the project's feed token.
    pub async fn set_calendar_feed(&self, org_id: &str, project_id: &str, token_hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO appointment_feeds (project_id, org_id, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (project_id) DO UPDATE SET token_hash = excluded.token_hash, \
             created_at = excluded.created_at",
        )
        .bind(project_id)
        .bind(org_id)
        .bind(token_hash)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Turns the project's feed off: its address stops working.
    pub async fn delete_calendar_feed(&self, project_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM appointment_feeds WHERE project_id = $1")
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if done.rows_affected() == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// When the project's feed token was made, if it has one.
    pub async fn calendar_feed_created(&self, project_id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT created_at FROM appointment_feeds WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| int(&row, "created_at")).transpose()
    }

    /// The project (org id, project id) whose feed token hashes to
    /// `token_hash`. The token is the credential here, so this is the one
    /// lookup that is not scoped by a tenant.
    pub async fn calendar_feed_project(&self, token_hash: &str) -> Result<(String, String)> {
        let row = sqlx::query("SELECT org_id, project_id FROM appointment_feeds WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound)?;
        Ok((text(&row, "org_id")?, text(&row, "project_id")?))
    }
}
