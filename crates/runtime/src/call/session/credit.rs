//! The call's share of its org's credit. The live calls of an org share its
//! balance: a call starts holding its first minute and asks for one more
//! minute ahead of need; when the org has no more to spare, the call ends as
//! its reservation runs out (the transferred leg included), so the balance
//! cannot go below zero however many calls run at once.

use std::time::Duration;

use switchboard_domain::call::{CallStatus, Disposition, EndedReason, paid_seconds};
use switchboard_domain::money::Micros;

use super::{Ending, Job, JobId, Session};
use crate::call::TransportAction;

/// How long (call time) before its reservation runs out a call asks for more…
const ASK_AHEAD: Duration = Duration::from_secs(20);
/// …and at least this long in real time, however fast the call clock runs, so
/// the answer is back before the reservation ends.
const ASK_AHEAD_REAL: Duration = Duration::from_secs(2);

/// What the call holds of the org's credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Credit {
    reserved: Micros,
    /// A reservation asked for and not answered yet.
    asking: Option<JobId>,
    /// An answer came back short: the org has nothing more to spare.
    exhausted: bool,
}

impl Credit {
    pub(super) fn new(reserved: Micros) -> Self {
        Credit { reserved, asking: None, exhausted: false }
    }
}

impl Session {
    /// How many seconds of the running part (the call, or its transferred
    /// leg) the reservation pays for, and when (real time since the session
    /// started) that part began.
    fn paid_part(&self) -> Option<(i64, Duration)> {
        let credit = self.credit.as_ref()?;
        let answered = self.answered?;
        let rate = self.record.rate_per_minute;
        Some(match &self.transferred {
            None => (paid_seconds(credit.reserved, rate, None), answered),
            Some((_, call, leg)) => {
                let call_seconds = call.as_secs_f64().round() as i64;
                (paid_seconds(credit.reserved, rate, Some(call_seconds)), *leg)
            }
        })
    }

    /// When the reservation runs out, if the credit limits the call.
    pub(super) fn credit_deadline(&self) -> Option<Duration> {
        let (seconds, began) = self.paid_part()?;
        let seconds = u64::try_from(seconds).ok()?;
        Some(began.saturating_add(self.clock.wall(Duration::from_secs(seconds))))
    }

    /// When to ask for more credit: a little before the reservation runs out.
    pub(super) fn extension_due(&self) -> Option<Duration> {
        let credit = self.credit.as_ref()?;
        if credit.asking.is_some() || credit.exhausted {
            return None;
        }
        let ahead = self.clock.wall(ASK_AHEAD).max(ASK_AHEAD_REAL);
        self.credit_deadline().map(|end| end.saturating_sub(ahead))
    }

    /// Asks for one more minute of credit.
    pub(super) fn extend_credit(&mut self) {
        let minute = self.record.rate_per_minute;
        let job = self.run(Job::Reserve(minute));
        if let Some(credit) = &mut self.credit {
            credit.asking = Some(job);
        }
    }

    pub(super) fn on_reserved(&mut self, job: JobId, granted: Micros) {
        let minute = self.record.rate_per_minute;
        if let Some(credit) = self.credit.as_mut().filter(|c| c.asking == Some(job)) {
            credit.asking = None;
            credit.reserved += granted;
            credit.exhausted = granted < minute;
        }
    }

    /// The reservation ran out and the org has no more: the call ends where
    /// its credit does (a transferred leg too).
    pub(super) fn out_of_credit(&mut self) {
        let Some((seconds, _)) = self.paid_part() else { return };
        if self.transferred.is_some() {
            self.transfer_seconds = Some(seconds);
            self.act(TransportAction::HangUp);
            self.end(Ending {
                status: CallStatus::Completed,
                disposition: Disposition::Transferred,
                reason: Some(EndedReason::MaxDuration),
            });
        } else {
            self.cut_at_limit = u64::try_from(seconds).ok().map(Duration::from_secs);
            self.end_by_agent(EndedReason::MaxDuration);
        }
    }
}
