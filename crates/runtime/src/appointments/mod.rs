//! The appointment service: booking, moving, cancelling and finding free
//! slots, shared by the `/v1/appointments` routes and the in-call tools
//! (`tools`) and the embedded brain's booking flow (`spoken`); the reminder
//! worker's pass is in `reminders`. It loads what a rule needs (availability, booked times, the
//! agent and contact), applies the pure rules of
//! `domain::appointments`, and leaves atomicity to the store.

pub mod reminders;
pub mod spoken;
pub mod tools;

use jiff::civil::Date;
use switchboard_domain::appointments::availability::{Availability, DaySlots, Refusal};
use switchboard_domain::appointments::{AppointmentRecord, MINUTE_MS, Status, check_times};
use switchboard_domain::events::EventType;
use switchboard_domain::ids::IdKind;
use switchboard_store::Store;

/// Why the service refused.
#[derive(Debug, thiserror::Error)]
pub enum AppointmentError {
    /// The appointment, agent, call or contact named does not exist in the project.
    #[error("{0}")]
    NotFound(&'static str),
    /// A field is wrong (or outside the availability): the field and why.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// Another active appointment holds the time (or its buffer).
    #[error("{0}")]
    Taken(String),
    /// The appointment is closed (cancelled, completed, …) and cannot move.
    #[error("{0}")]
    Closed(String),
    #[error(transparent)]
    Store(switchboard_store::Error),
}

pub type Result<T, E = AppointmentError> = std::result::Result<T, E>;

impl From<switchboard_store::Error> for AppointmentError {
    fn from(err: switchboard_store::Error) -> Self {
        match err {
            switchboard_store::Error::Conflict(message) => AppointmentError::Taken(message),
            other => AppointmentError::Store(other),
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> AppointmentError {
    AppointmentError::Invalid { field, message: message.into() }
}

/// The project an appointment belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub org_id: &'a str,
    pub project_id: &'a str,
}

/// A new appointment as asked for; fields already well-formed.
#[derive(Debug, Clone, Default)]
pub struct Booking {
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    pub contact_id: Option<String>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub title: String,
    pub notes: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// Default: the availability's zone.
    pub time_zone: Option<String>,
    pub status: Option<Status>,
    /// Book outside the availability (working hours, notice, advance,
    /// buffer); never past another appointment.
    pub force: bool,
}

/// A change to an appointment; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub title: Option<String>,
    pub notes: Option<Option<String>>,
    pub contact_name: Option<Option<String>>,
    pub contact_phone: Option<Option<String>>,
    pub contact_email: Option<Option<String>>,
    /// A new time: start and end together.
    pub times: Option<(i64, i64)>,
    pub time_zone: Option<String>,
    pub status: Option<Status>,
    pub cancel_reason: Option<String>,
    pub force: bool,
}

/// The appointment service over the store.
#[derive(Clone)]
pub struct Appointments {
    store: Store,
}

impl Appointments {
    pub fn new(store: Store) -> Self {
        Appointments { store }
    }

    /// The availability that applies: the agent's own, else the project's,
    /// else the defaults.
    pub async fn availability(&self, project_id: &str, agent_id: Option<&str>) -> Result<Availability> {
        if let Some(agent) = agent_id
            && let Some(own) = self.store.availability(project_id, Some(agent)).await?
        {
            return Ok(own);
        }
        Ok(self.store.availability(project_id, None).await?.unwrap_or_default())
    }

    /// Refuses an agent id that is not one of the project's agents.
    pub async fn check_agent(&self, project_id: &str, agent_id: &str) -> Result<()> {
        match self.store.agent(project_id, agent_id).await {
            Ok(_) => Ok(()),
            Err(switchboard_store::Error::NotFound) => Err(AppointmentError::NotFound("Agent not found.")),
            Err(err) => Err(err.into()),
        }
    }

    /// The free slots of `days` dates from `first`, `duration_minutes` long
    /// (default: the slot length), with the availability they come from.
    pub async fn free_slots(
        &self,
        project_id: &str,
        agent_id: Option<&str>,
        first: Date,
        days: i64,
        duration_minutes: Option<i64>,
    ) -> Result<(Availability, Vec<DaySlots>)> {
        let availability = self.availability(project_id, agent_id).await?;
        let duration = duration_minutes.unwrap_or(availability.slot_minutes) * MINUTE_MS;
        let (from, to) = availability.span_of(first, days);
        let busy = self.busy(project_id, from, to, None).await?;
        let slots = availability.free_slots(first, days, duration, self.store.clock().now_ms(), &busy);
        Ok((availability, slots))
    }

    async fn busy(&self, project_id: &str, from: i64, to: i64, except: Option<&str>) -> Result<Vec<(i64, i64)>> {
        let booked = self.store.active_appointments(project_id, from, to, except).await?;
        Ok(booked.iter().map(|a| (a.start_ms, a.end_ms)).collect())
    }

    /// Whether `[start, end)` fits the availability beside the project's
    /// other active appointments.
    async fn check_fits(
        &self,
        project_id: &str,
        availability: &Availability,
        (start_ms, end_ms): (i64, i64),
        except: Option<&str>,
    ) -> Result<()> {
        let margin = availability.buffer_minutes * MINUTE_MS;
        let busy = self.busy(project_id, start_ms - margin, end_ms + margin, except).await?;
        availability.check_booking(start_ms, end_ms, self.store.clock().now_ms(), &busy).map_err(
            |refusal| match refusal {
                Refusal::Unbookable(message) => invalid("start_time", message),
                Refusal::Taken(message) => AppointmentError::Taken(message),
            },
        )
    }

    /// Books an appointment: the agent, call and contact must be the project's, the
    /// time must fit the availability (unless `force`) and must not overlap
    /// another active appointment (checked atomically by the store).
    pub async fn book(&self, scope: Scope<'_>, booking: Booking) -> Result<AppointmentRecord> {
        check_times(booking.start_ms, booking.end_ms).map_err(|m| invalid("end_time", m))?;
        if let Some(agent) = &booking.agent_id {
            self.check_agent(scope.project_id, agent).await?;
        }
        if let Some(call) = &booking.call_id {
            match self.store.call(scope.project_id, call).await {
                Ok(_) => {}
                Err(switchboard_store::Error::NotFound) => return Err(AppointmentError::NotFound("Call not found.")),
                Err(err) => return Err(err.into()),
            }
        }
        let mut booking = booking;
        if let Some(contact_id) = &booking.contact_id {
            let contact = match self.store.contact(scope.project_id, contact_id).await {
                Ok(contact) => contact,
                Err(switchboard_store::Error::NotFound) => {
                    return Err(AppointmentError::NotFound("Contact not found."));
                }
                Err(err) => return Err(err.into()),
            };
            booking.contact_name = booking.contact_name.or(contact.name);
            booking.contact_phone = booking.contact_phone.or(contact.phone);
            booking.contact_email = booking.contact_email.or(contact.email);
        }
        let availability = self.availability(scope.project_id, booking.agent_id.as_deref()).await?;
        let status = booking.status.unwrap_or(Status::Scheduled);
        if status.is_active() && !booking.force {
            self.check_fits(scope.project_id, &availability, (booking.start_ms, booking.end_ms), None).await?;
        }
        let now = self.store.clock().now_ms();
        let record = AppointmentRecord {
            id: IdKind::Appointment.new_id(),
            org_id: scope.org_id.to_owned(),
            project_id: scope.project_id.to_owned(),
            agent_id: booking.agent_id,
            call_id: booking.call_id,
            contact_id: booking.contact_id,
            contact_name: booking.contact_name,
            contact_phone: booking.contact_phone,
            contact_email: booking.contact_email,
            title: booking.title,
            notes: booking.notes,
            start_ms: booking.start_ms,
            end_ms: booking.end_ms,
            time_zone: booking.time_zone.unwrap_or(availability.time_zone),
            status,
            cancel_reason: None,
            created_at: now,
            updated_at: now,
        };
        self.store.book_appointment(&record).await?;
        Ok(record)
    }

    /// Changes an appointment. A new time keeps the booking rules (and the
    /// atomic overlap check) and sends `appointment.rescheduled`; becoming
    /// `cancelled` sends `appointment.cancelled` and frees the time. A closed
    /// appointment keeps its time and status.
    pub async fn change(&self, project_id: &str, id: &str, change: Change) -> Result<AppointmentRecord> {
        let current = self.get(project_id, id).await?;
        let mut next = current.clone();
        let moves = change.times.is_some_and(|times| times != (current.start_ms, current.end_ms));
        let status_changes = change.status.is_some_and(|s| s != current.status);
        if !current.status.is_active() && (moves || status_changes) {
            return Err(AppointmentError::Closed(format!(
                "The appointment is {}: it can no longer be moved or change status.",
                current.status.as_str()
            )));
        }
        if let Some((start_ms, end_ms)) = change.times {
            check_times(start_ms, end_ms).map_err(|m| invalid("end_time", m))?;
            (next.start_ms, next.end_ms) = (start_ms, end_ms);
        }
        next.title = change.title.unwrap_or(next.title);
        next.notes = change.notes.unwrap_or(next.notes);
        next.contact_name = change.contact_name.unwrap_or(next.contact_name);
        next.contact_phone = change.contact_phone.unwrap_or(next.contact_phone);
        next.contact_email = change.contact_email.unwrap_or(next.contact_email);
        next.time_zone = change.time_zone.unwrap_or(next.time_zone);
        next.status = change.status.unwrap_or(next.status);
        if next.status == Status::Cancelled && status_changes {
            next.cancel_reason = change.cancel_reason;
        }
        if moves && next.status.is_active() && !change.force {
            let availability = self.availability(project_id, next.agent_id.as_deref()).await?;
            self.check_fits(project_id, &availability, (next.start_ms, next.end_ms), Some(id)).await?;
        }
        next.updated_at = self.store.clock().now_ms().max(current.updated_at + 1);
        let event = if next.status == Status::Cancelled && status_changes {
            Some(EventType::AppointmentCancelled)
        } else if moves {
            Some(EventType::AppointmentRescheduled)
        } else {
            None
        };
        self.store.save_appointment(&next, current.updated_at, event).await?;
        Ok(next)
    }

    /// Cancels an appointment (with an optional reason).
    pub async fn cancel(&self, project_id: &str, id: &str, reason: Option<String>) -> Result<AppointmentRecord> {
        let change = Change { status: Some(Status::Cancelled), cancel_reason: reason, ..Change::default() };
        self.change(project_id, id, change).await
    }

    pub async fn get(&self, project_id: &str, id: &str) -> Result<AppointmentRecord> {
        match self.store.appointment(project_id, id).await {
            Ok(record) => Ok(record),
            Err(switchboard_store::Error::NotFound) => Err(AppointmentError::NotFound("Appointment not found.")),
            Err(err) => Err(err.into()),
        }
    }
}
