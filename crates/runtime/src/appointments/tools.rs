//! The appointment tools a model is offered in calls of an agent with
//! `appointments_enabled`: `check_availability`, `book_appointment`,
//! `reschedule_appointment` and `cancel_appointment`. The caller's phone
//! number is the contact: a caller can move or cancel only their own
//! appointments. Every outcome, refusals included, goes back to the model as
//! the tool's JSON result.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use switchboard_domain::appointments::availability::Availability;
use switchboard_domain::appointments::{AppointmentRecord, MINUTE_MS};
use switchboard_store::appointments::AppointmentFilter;

use super::{AppointmentError, Appointments, Booking, Change, Scope};
use crate::llm::ToolSpec;

pub const CHECK_AVAILABILITY: &str = "check_availability";
pub const BOOK_APPOINTMENT: &str = "book_appointment";
pub const RESCHEDULE_APPOINTMENT: &str = "reschedule_appointment";
pub const CANCEL_APPOINTMENT: &str = "cancel_appointment";
/// Every appointment tool, by name.
pub const NAMES: [&str; 4] = [CHECK_AVAILABILITY, BOOK_APPOINTMENT, RESCHEDULE_APPOINTMENT, CANCEL_APPOINTMENT];

/// The title of an appointment the model books without naming one.
const DEFAULT_TITLE: &str = "Appointment";
/// The most days one `check_availability` looks at.
const MAX_DAYS: i64 = 7;

/// The tools as the model sees them.
pub fn specs() -> Vec<ToolSpec> {
    let start = json!({"type": "string", "description": "ISO 8601 start with its UTC offset, as check_availability \
        lists it, e.g. 2027-03-01T10:00:00+01:00"});
    vec![
        ToolSpec {
            name: CHECK_AVAILABILITY.into(),
            description: "List free appointment slots (times with their UTC offset, in the calendar's time zone) \
                          and the caller's own upcoming appointments."
                .into(),
            parameters: json!({"type": "object", "properties": {
                "date": {"type": "string", "description": "First day to look at, YYYY-MM-DD; default today"},
                "days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "description": "Days to look at; default 3"},
                "duration_minutes": {"type": "integer", "description": "Length of the appointment; default one slot"}
            }}),
        },
        ToolSpec {
            name: BOOK_APPOINTMENT.into(),
            description: "Book an appointment for the caller at a free slot.".into(),
            parameters: json!({"type": "object", "properties": {
                "start_time": start,
                "duration_minutes": {"type": "integer"},
                "title": {"type": "string", "description": "What the appointment is for"},
                "name": {"type": "string", "description": "The caller's name"},
                "email": {"type": "string"},
                "notes": {"type": "string"}
            }, "required": ["start_time"]}),
        },
        ToolSpec {
            name: RESCHEDULE_APPOINTMENT.into(),
            description: "Move one of the caller's appointments (default: their next one) to a free slot.".into(),
            parameters: json!({"type": "object", "properties": {
                "appointment_id": {"type": "string"},
                "start_time": start,
                "duration_minutes": {"type": "integer", "description": "Default: keep the current length"}
            }, "required": ["start_time"]}),
        },
        ToolSpec {
            name: CANCEL_APPOINTMENT.into(),
            description: "Cancel one of the caller's appointments (default: their next one).".into(),
            parameters: json!({"type": "object", "properties": {
                "appointment_id": {"type": "string"},
                "reason": {"type": "string"}
            }}),
        },
    ]
}

/// The appointment desk of one call: the service, the call's project, agent
/// and id, the caller's number, and what the embedded brain offered last.
#[derive(Clone)]
pub struct CallDesk {
    pub service: Appointments,
    pub org_id: String,
    pub project_id: String,
    pub agent_id: String,
    /// The call the bookings come from (`None` for a test session).
    pub call_id: Option<String>,
    /// The other party's E.164 number, if known.
    pub caller: Option<String>,
    /// The embedded brain's offer waiting for an answer (`spoken`).
    pub(crate) waiting: std::sync::Arc<super::spoken::Waiting>,
}

fn local(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_default()
}

fn shown(a: &AppointmentRecord, tz: &TimeZone) -> Value {
    json!({
        "appointment_id": a.id,
        "title": a.title,
        "start_time": local(a.start_ms, tz),
        "end_time": local(a.end_ms, tz),
        "weekday": Timestamp::from_millisecond(a.start_ms).map(|t| t.to_zoned(tz.clone()).strftime("%A").to_string()).unwrap_or_default(),
        "status": a.status.as_str(),
    })
}

fn error(message: impl std::fmt::Display) -> Value {
    json!({"error": message.to_string()})
}

/// A time the model gave: with an offset, or a local time in `tz`.
fn parse_time(value: Option<&str>, tz: &TimeZone) -> Result<i64, Value> {
    let value = value.ok_or_else(|| error("start_time is required"))?;
    if let Ok(ts) = value.parse::<Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    value
        .parse::<DateTime>()
        .ok()
        .and_then(|civil| tz.to_zoned(civil).ok())
        .map(|z| z.timestamp().as_millisecond())
        .ok_or_else(|| error("start_time must be an ISO 8601 date and time, e.g. 2027-03-01T10:00:00+01:00"))
}

fn minutes(args: &Value, default: i64) -> Result<i64, Value> {
    match args.get("duration_minutes").filter(|v| !v.is_null()) {
        None => Ok(default),
        Some(v) => {
            v.as_i64().filter(|m| (5..=24 * 60).contains(m)).ok_or_else(|| error("duration_minutes must be 5 to 1440"))
        }
    }
}

fn text(args: &Value, key: &str) -> Option<String> {
    args[key].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl CallDesk {
    fn scope(&self) -> Scope<'_> {
        Scope { org_id: &self.org_id, project_id: &self.project_id }
    }

    async fn availability(&self) -> Result<Availability, Value> {
        self.service.availability(&self.project_id, Some(&self.agent_id)).await.map_err(|e| self.failure(e))
    }

    /// A refusal as the model should hear it; a store failure is logged, not shown.
    fn failure(&self, err: AppointmentError) -> Value {
        match err {
            AppointmentError::Store(err) => {
                tracing::error!(error = %err, "appointment tool failed");
                error("the calendar is not available right now")
            }
            other => error(other),
        }
    }

    /// Runs the tool `name` with the model's arguments; the JSON result.
    pub async fn run(&self, name: &str, args: &Value) -> Value {
        let outcome = match name {
            CHECK_AVAILABILITY => self.check(args).await,
            BOOK_APPOINTMENT => self.book(args).await,
            RESCHEDULE_APPOINTMENT => self.reschedule(args).await,
            CANCEL_APPOINTMENT => self.cancel(args).await,
            other => Err(error(format!("unknown tool {other}"))),
        };
        outcome.unwrap_or_else(|e| e)
    }

    fn caller(&self) -> Result<&str, Value> {
        self.caller.as_deref().ok_or_else(|| error("the caller's phone number is unknown, so nothing can be booked"))
    }

    /// The caller's upcoming active appointments, soonest first.
    pub(super) async fn upcoming(&self) -> Result<Vec<AppointmentRecord>, Value> {
        let Some(caller) = self.caller.clone() else { return Ok(Vec::new()) };
        let now = self.service.store.clock().now_ms();
        let filter = AppointmentFilter { contact_phone: Some(caller), from: Some(now), ..AppointmentFilter::default() };
        let store = self.service.store.clone();
        let mut mine = store
            .appointments(&self.project_id, &filter, None, 100)
            .await
            .map_err(|e| self.failure(AppointmentError::Store(e)))?;
        mine.retain(|a| a.status.is_active());
        mine.sort_by_key(|a| a.start_ms);
        Ok(mine)
    }

    /// The caller's appointment the model named, or their next one.
    async fn mine(&self, args: &Value) -> Result<AppointmentRecord, Value> {
        let caller = self.caller()?.to_owned();
        match text(args, "appointment_id") {
            Some(id) => match self.service.get(&self.project_id, &id).await {
                Ok(a) if a.contact_phone.as_deref() == Some(caller.as_str()) => Ok(a),
                Ok(_) | Err(AppointmentError::NotFound(_)) => Err(error("the caller has no appointment with this id")),
                Err(err) => Err(self.failure(err)),
            },
            None => {
                self.upcoming().await?.into_iter().next().ok_or_else(|| error("the caller has no upcoming appointment"))
            }
        }
    }

    async fn check(&self, args: &Value) -> Result<Value, Value> {
        let availability = self.availability().await?;
        let tz = availability.zone();
        let today = Timestamp::from_millisecond(self.service.store.clock().now_ms())
            .map(|t| t.to_zoned(tz.clone()).date())
            .unwrap_or_default();
        let first = match text(args, "date") {
            Some(date) => date.parse::<Date>().map_err(|_| error("date must be YYYY-MM-DD"))?,
            None => today,
        };
        let days = args["days"].as_i64().unwrap_or(3).clamp(1, MAX_DAYS);
        let duration = minutes(args, availability.slot_minutes)?;
        let (_, slots) = self
            .service
            .free_slots(&self.project_id, Some(&self.agent_id), first, days, Some(duration))
            .await
            .map_err(|e| self.failure(e))?;
        let days: Vec<Value> = slots
            .iter()
            .map(|day| {
                json!({
                    "date": day.date.to_string(),
                    "weekday": day.date.strftime("%A").to_string(),
                    "slots": day.starts.iter().map(|&s| local(s, &tz)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mine: Vec<Value> = self.upcoming().await?.iter().map(|a| shown(a, &tz)).collect();
        Ok(json!({
            "time_zone": availability.time_zone,
            "duration_minutes": duration,
            "days": days,
            "caller_appointments": mine,
        }))
    }

    async fn book(&self, args: &Value) -> Result<Value, Value> {
        let caller = self.caller()?.to_owned();
        let availability = self.availability().await?;
        let tz = availability.zone();
        let start_ms = parse_time(args["start_time"].as_str(), &tz)?;
        let duration = minutes(args, availability.slot_minutes)?;
        let booking = Booking {
            agent_id: Some(self.agent_id.clone()),
            call_id: self.call_id.clone(),
            contact_name: text(args, "name"),
            contact_phone: Some(caller),
            contact_email: text(args, "email"),
            title: text(args, "title").unwrap_or_else(|| DEFAULT_TITLE.to_owned()),
            notes: text(args, "notes"),
            start_ms,
            end_ms: start_ms + duration * MINUTE_MS,
            ..Booking::default()
        };
        let booked = self.service.book(self.scope(), booking).await.map_err(|e| self.failure(e))?;
        Ok(json!({"booked": true, "appointment": shown(&booked, &tz)}))
    }

    async fn reschedule(&self, args: &Value) -> Result<Value, Value> {
        let current = self.mine(args).await?;
        let tz = self.availability().await?.zone();
        let start_ms = parse_time(args["start_time"].as_str(), &tz)?;
        let duration = minutes(args, (current.end_ms - current.start_ms) / MINUTE_MS)?;
        let change = Change { times: Some((start_ms, start_ms + duration * MINUTE_MS)), ..Change::default() };
        let moved = self.service.change(&self.project_id, &current.id, change).await.map_err(|e| self.failure(e))?;
        Ok(json!({"rescheduled": true, "appointment": shown(&moved, &tz)}))
    }

    async fn cancel(&self, args: &Value) -> Result<Value, Value> {
        let current = self.mine(args).await?;
        let tz = self.availability().await?.zone();
        let reason = text(args, "reason").or_else(|| Some("cancelled by the caller during a call".to_owned()));
        let cancelled =
            self.service.cancel(&self.project_id, &current.id, reason).await.map_err(|e| self.failure(e))?;
        Ok(json!({"cancelled": true, "appointment": shown(&cancelled, &tz)}))
    }
}

#[cfg(test)]
mod tests {
    use switchboard_domain::time::parse_iso;

    use super::*;

    #[test]
    fn times_from_the_model_take_an_offset_or_the_calendars_zone() {
        let amsterdam = TimeZone::get("Europe/Amsterdam").unwrap();
        let at = |s: &str| parse_time(Some(s), &amsterdam);
        assert_eq!(at("2027-03-01T10:00:00+01:00"), Ok(parse_iso("2027-03-01T09:00:00Z").unwrap()));
        assert_eq!(at("2027-03-01T09:00:00Z"), Ok(parse_iso("2027-03-01T09:00:00Z").unwrap()));
        assert_eq!(at("2027-07-01T10:00"), Ok(parse_iso("2027-07-01T08:00:00Z").unwrap()), "summer time");
        assert!(at("next tuesday").unwrap_err()["error"].as_str().is_some_and(|e| e.contains("ISO 8601")));
        assert!(parse_time(None, &amsterdam).is_err());
        assert_eq!(local(parse_iso("2027-03-01T09:00:00Z").unwrap(), &amsterdam), "2027-03-01T10:00:00+01:00");
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(minutes(&json!({}), 30), Ok(30));
        assert_eq!(minutes(&json!({"duration_minutes": 45}), 30), Ok(45));
        assert!(minutes(&json!({"duration_minutes": 2}), 30).is_err());
        assert!(minutes(&json!({"duration_minutes": "an hour"}), 30).is_err());
    }
}
