//! The embedded brain's booking flow, for agents with appointments and no
//! language model: a caller asks to book, move or cancel; the agent offers
//! the next three free times (or names the appointment it would cancel) and
//! acts on "the first", "the second", "yes" or "no". The offer waits on the
//! call's desk between turns. What is not about appointments is left to the
//! rest of the brain.

use std::sync::{Mutex, PoisonError};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use switchboard_domain::appointments::MINUTE_MS;

use super::tools::CallDesk;
use super::{AppointmentError, Booking, Change};

/// What the agent offered and waits to hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Free starts for a new appointment, or for moving `moving`.
    Offer { moving: Option<String>, starts: Vec<i64>, minutes: i64 },
    /// Whether to cancel this appointment.
    Cancel { id: String },
}

/// The offer of one call, between its turns.
#[derive(Debug, Default)]
pub(crate) struct Waiting(Mutex<Option<Pending>>);

impl Waiting {
    fn take(&self) -> Option<Pending> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn set(&self, pending: Pending) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(pending);
    }
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Book,
    Move,
    Cancel,
}

/// The caller's answer to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// The n-th option (0-based); "yes" is the first.
    Pick(usize),
    No,
}

const SLOTS_OFFERED: usize = 3;
const DAYS_LOOKED_AT: i64 = 7;
const ORDINALS: [&str; SLOTS_OFFERED] = ["the first", "the second", "the third"];

fn words(text: &str) -> Vec<String> {
    text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

fn intent(text: &str) -> Option<Intent> {
    let text = text.to_lowercase();
    if text.contains("cancel") {
        Some(Intent::Cancel)
    } else if text.contains("reschedul") || text.contains("move") || text.contains("change my appointment") {
        Some(Intent::Move)
    } else if text.contains("book") || text.contains("appointment") || text.contains("schedule") {
        Some(Intent::Book)
    } else {
        None
    }
}

fn choice(text: &str) -> Option<Choice> {
    let words = words(text);
    let said = |options: &[&str]| words.iter().any(|w| options.contains(&w.as_str()));
    if said(&["second", "two", "2", "2nd"]) {
        Some(Choice::Pick(1))
    } else if said(&["third", "three", "3", "3rd"]) {
        Some(Choice::Pick(2))
    } else if said(&["first", "one", "1", "1st", "yes", "yeah", "yep", "ok", "okay", "sure"]) {
        Some(Choice::Pick(0))
    } else if said(&["no", "nope", "neither", "none"]) {
        Some(Choice::No)
    } else {
        None
    }
}

/// `Monday 1 March at 10:00`, in `tz`.
fn spoken(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%A %-d %B at %H:%M").to_string())
        .unwrap_or_default()
}

/// `a`, `a or b`, `a, b or c`.
fn either(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

const SORRY: &str = "Sorry, I cannot reach the calendar right now. Please try again later.";

impl CallDesk {
    /// The agent's answer when `text` is about appointments (or answers an
    /// offer); `None` leaves it to the rest of the brain.
    pub async fn converse(&self, text: &str) -> Option<String> {
        if let Some(pending) = self.waiting.take() {
            match (pending, choice(text)) {
                (Pending::Offer { moving, starts, minutes }, Some(Choice::Pick(i))) if i < starts.len() => {
                    return Some(self.take_slot(moving, starts[i], minutes).await);
                }
                (Pending::Cancel { id }, Some(Choice::Pick(_))) => return Some(self.cancel_spoken(&id).await),
                (_, Some(Choice::No)) => return Some("No problem. Is there anything else I can do?".into()),
                _ => {}
            }
        }
        let intent = intent(text)?;
        if self.caller.is_none() {
            return Some("Sorry, I can only book for a caller whose number I can see.".into());
        }
        Some(match intent {
            Intent::Book => self.offer(None).await,
            Intent::Move | Intent::Cancel => match self.upcoming().await {
                Ok(mine) => match (mine.into_iter().next(), intent) {
                    (None, _) => "I cannot find an upcoming appointment for the number you are calling from.".into(),
                    (Some(next), Intent::Move) => self.offer(Some(next.id)).await,
                    (Some(next), _) => {
                        let when = spoken(next.start_ms, &self.zone().await);
                        self.waiting.set(Pending::Cancel { id: next.id });
                        format!("Shall I cancel your appointment on {when}? Please say yes or no.")
                    }
                },
                Err(_) => SORRY.into(),
            },
        })
    }

    async fn zone(&self) -> TimeZone {
        self.service.availability(&self.project_id, Some(&self.agent_id)).await.map_or(TimeZone::UTC, |a| a.zone())
    }

    /// Offers the next free starts (for a new appointment, or to move `moving`).
    async fn offer(&self, moving: Option<String>) -> String {
        let Ok(availability) = self.service.availability(&self.project_id, Some(&self.agent_id)).await else {
            return SORRY.into();
        };
        let tz = availability.zone();
        let current = match &moving {
            Some(id) => self.service.get(&self.project_id, id).await.ok(),
            None => None,
        };
        let minutes = current.as_ref().map_or(availability.slot_minutes, |a| (a.end_ms - a.start_ms) / MINUTE_MS);
        let today = Timestamp::from_millisecond(self.service.store.clock().now_ms())
            .map(|t| t.to_zoned(tz.clone()).date())
            .unwrap_or_default();
        let Ok((_, days)) =
            self.service.free_slots(&self.project_id, Some(&self.agent_id), today, DAYS_LOOKED_AT, Some(minutes)).await
        else {
            return SORRY.into();
        };
        let starts: Vec<i64> = days.iter().flat_map(|d| d.starts.iter().copied()).take(SLOTS_OFFERED).collect();
        if starts.is_empty() {
            return "Sorry, I have no free times in the coming week.".into();
        }
        let times: Vec<String> = starts.iter().map(|&s| spoken(s, &tz)).collect();
        let which = either(&ORDINALS[..starts.len()].iter().map(|o| (*o).to_owned()).collect::<Vec<_>>());
        let verb = if moving.is_some() { "move your appointment to" } else { "book you on" };
        self.waiting.set(Pending::Offer { moving, starts, minutes });
        if times.len() == 1 {
            format!("I can {verb} {}. Shall I do that?", times[0])
        } else {
            format!("I can {verb} {}. Which would you like: {which}?", either(&times))
        }
    }

    async fn take_slot(&self, moving: Option<String>, start: i64, minutes: i64) -> String {
        let tz = self.zone().await;
        let when = spoken(start, &tz);
        let end = start + minutes * MINUTE_MS;
        let done = match moving {
            Some(id) => {
                let change = Change { times: Some((start, end)), ..Change::default() };
                self.service
                    .change(&self.project_id, &id, change)
                    .await
                    .map(|_| format!("Done: your appointment is now on {when}."))
            }
            None => {
                let booking = Booking {
                    agent_id: Some(self.agent_id.clone()),
                    call_id: self.call_id.clone(),
                    contact_phone: self.caller.clone(),
                    title: "Appointment".into(),
                    start_ms: start,
                    end_ms: end,
                    ..Booking::default()
                };
                let scope = super::Scope { org_id: &self.org_id, project_id: &self.project_id };
                self.service.book(scope, booking).await.map(|_| format!("You are booked for {when}."))
            }
        };
        match done {
            Ok(said) => format!("{said} Is there anything else?"),
            Err(AppointmentError::Taken(_) | AppointmentError::Invalid { .. }) => {
                "Sorry, that time can no longer be booked. Ask me again and I will offer other times.".into()
            }
            Err(err) => {
                tracing::warn!(error = %err, "spoken booking failed");
                SORRY.into()
            }
        }
    }

    async fn cancel_spoken(&self, id: &str) -> String {
        let reason = Some("cancelled by the caller during a call".to_owned());
        match self.service.cancel(&self.project_id, id, reason).await {
            Ok(cancelled) => {
                format!("Your appointment on {} is cancelled.", spoken(cancelled.start_ms, &self.zone().await))
            }
            Err(err) => {
                tracing::warn!(error = %err, "spoken cancellation failed");
                SORRY.into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_are_recognised_by_their_words() {
        assert_eq!(intent("I'd like to book an appointment"), Some(Intent::Book));
        assert_eq!(intent("Can I move my appointment?"), Some(Intent::Move));
        assert_eq!(intent("I need to reschedule"), Some(Intent::Move));
        assert_eq!(intent("Please cancel my appointment"), Some(Intent::Cancel));
        assert_eq!(intent("What are your opening hours?"), None);
    }

    #[test]
    fn answers_to_an_offer() {
        assert_eq!(choice("The second one, please"), Some(Choice::Pick(1)));
        assert_eq!(choice("third"), Some(Choice::Pick(2)));
        assert_eq!(choice("Yes please"), Some(Choice::Pick(0)));
        assert_eq!(choice("the first one"), Some(Choice::Pick(0)));
        assert_eq!(choice("No, thanks"), Some(Choice::No));
        assert_eq!(choice("What time is it?"), None);
        assert_eq!(choice("I know"), None, "no is a word, not a part of one");
    }

    #[test]
    fn times_are_spoken_in_the_calendars_zone() {
        let amsterdam = TimeZone::get("Europe/Amsterdam").unwrap();
        let ms = switchboard_domain::time::parse_iso("2027-03-01T09:00:00Z").unwrap();
        assert_eq!(spoken(ms, &amsterdam), "Monday 1 March at 10:00");
        assert_eq!(either(&["a".into(), "b".into(), "c".into()]), "a, b or c");
        assert_eq!(either(&["a".into()]), "a");
    }
}
