//! The reminder worker's pass: every active appointment with a contact phone
//! whose reminder offset (from the availability of its agent, else its
//! project) has come gets one SMS, paid and recorded like any `/v1/sms`
//! message. A reminder is claimed in the database before it is sent, so
//! several workers never send it twice; one that cannot be sent (no sender
//! for the country, no credit) is logged and not retried.

use switchboard_domain::appointments::availability::MAX_REMINDER_MINUTES;
use switchboard_domain::appointments::{AppointmentRecord, MINUTE_MS, reminders};
use switchboard_domain::sms::{self, DEFAULT_SENDER_NAME, SenderType};
use switchboard_store::sms::NewSms;
use switchboard_store::{Result, Store};

use super::Appointments;
use crate::messaging::Channels;

/// The most appointments one pass looks at.
const PASS_LIMIT: i64 = 2_000;

/// Sends the reminders that are due; returns how many SMS went out.
pub async fn send_due(store: &Store, channels: &Channels) -> Result<usize> {
    let now = store.clock().now_ms();
    let candidates = store.appointments_to_remind(now, now + MAX_REMINDER_MINUTES * MINUTE_MS, PASS_LIMIT).await?;
    let service = Appointments::new(store.clone());
    let mut sent = 0;
    for appointment in candidates {
        let settings = match service.availability(&appointment.project_id, appointment.agent_id.as_deref()).await {
            Ok(settings) => settings,
            Err(err) => {
                tracing::warn!(appointment_id = appointment.id, error = %err, "no availability for a reminder");
                continue;
            }
        };
        let due = reminders::due_offsets(appointment.start_ms, &settings.reminder_offsets_minutes, now);
        if due.is_empty() || store.claim_reminders(&appointment, &due).await? == 0 {
            continue;
        }
        if remind(store, channels, &appointment).await {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Sends one reminder; whether it went out.
async fn remind(store: &Store, channels: &Channels, appointment: &AppointmentRecord) -> bool {
    let Some(to) = appointment.contact_phone.clone() else { return false };
    let skip = |why: &str| {
        tracing::warn!(appointment_id = appointment.id, reason = why, "appointment reminder not sent");
        false
    };
    let route = match sms::route(&to) {
        Ok(route) => route,
        Err(why) => return skip(&why),
    };
    let (from_number, sender_name) = match route.sender_type {
        SenderType::Alphanumeric => (None, Some(DEFAULT_SENDER_NAME.to_owned())),
        SenderType::LongCode => match store.long_code_sender(&appointment.project_id, &["US", "CA"]).await {
            Ok(Some(number)) => (Some(number), None),
            Ok(None) => return skip("the project has no US or Canadian number to send from"),
            Err(err) => return skip(&err.to_string()),
        },
    };
    let message = NewSms {
        org_id: appointment.org_id.clone(),
        project_id: appointment.project_id.clone(),
        agent_id: appointment.agent_id.clone(),
        to,
        from_number,
        sender_name,
        sender_type: route.sender_type,
        country: route.country,
        body: reminders::text(appointment),
        price: route.price,
        conversation: None,
    };
    match channels.send_sms(store, &message).await {
        Ok(_) => true,
        Err(err) => skip(&err.to_string()),
    }
}
