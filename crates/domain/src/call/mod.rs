//! Calls: the status, disposition and ended-reason vocabularies of the Calls API,
//! the cost arithmetic of a finished call, and the call record.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::money::Micros;

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Ringing,
    InProgress,
    Completed,
    Failed,
    Busy,
    NoAnswer,
    Canceled,
    Rejected,
}

/// How a call turned out, for reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    Answered,
    NoAnswer,
    Transferred,
    Busy,
    Failed,
    Voicemail,
    Rejected,
}

/// Why an answered call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EndedReason {
    AgentHangup,
    CallerHangup,
    Api,
    Timeout,
    Transfer,
    SilenceTimeout,
    Error,
    MaxDuration,
    /// Inbound to an owned number with no agent assigned: rejected.
    NumberUnassigned,
    /// Inbound to a number the project has released: rejected.
    NumberReleased,
}

/// Which side started the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Inbound,
    Outbound,
}

macro_rules! wire_names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];

            /// The name on the wire and in the database.
            pub const fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(<$ty>::$variant),)* _ => None }
            }
        }
    };
}

wire_names!(CallStatus {
    Ringing => "ringing", InProgress => "in-progress", Completed => "completed", Failed => "failed",
    Busy => "busy", NoAnswer => "no-answer", Canceled => "canceled", Rejected => "rejected",
});
wire_names!(Disposition {
    Answered => "answered", NoAnswer => "no-answer", Transferred => "transferred", Busy => "busy",
    Failed => "failed", Voicemail => "voicemail", Rejected => "rejected",
});
wire_names!(EndedReason {
    AgentHangup => "agent-hangup", CallerHangup => "caller-hangup", Api => "api", Timeout => "timeout",
    Transfer => "transfer", SilenceTimeout => "silence-timeout", Error => "error", MaxDuration => "max-duration",
    NumberUnassigned => "number-unassigned", NumberReleased => "number-released",
});
wire_names!(Direction { Inbound => "inbound", Outbound => "outbound" });

mod record;

pub use record::{
    Brain, CallRecord, ConfigSource, GatherResult, GatherStatus, Latency, Ringing, Role, TranscriptLine, TurnLatency,
};

impl CallStatus {
    /// Whether the call has ended for good.
    pub const fn is_final(self) -> bool {
        !matches!(self, CallStatus::Ringing | CallStatus::InProgress)
    }
}

/// Billable minutes: seconds / 60 rounded to two decimals, in hundredths.
/// 127 s → 212 (2.12 minutes).
pub const fn centi_minutes(duration_seconds: i64) -> i64 {
    // round(d / 60, 2) = round(d * 100 / 60) with halves away from zero.
    (duration_seconds * 100 * 2 + 60) / 120
}

/// What a finished call costs, in micro-euros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallCost {
    pub centi_minutes: i64,
    pub call_cost: Micros,
    pub recording_cost: Micros,
    pub transfer_cost: Micros,
    pub llm_discount: Micros,
    pub total_cost: Micros,
}

/// Prices a call: `call_cost = minutes_used × rate`, recording billed on the
/// answered minutes when it was recorded, the transferred leg billed at the
/// same rate on its own minutes, and `total = call + recording + transfer −
/// llm_discount` (DESIGN §1).
pub fn price_call(
    duration_seconds: i64,
    transfer_duration_seconds: i64,
    rate_per_minute: Micros,
    recording_rate_per_minute: Option<Micros>,
    llm_discount: Micros,
) -> CallCost {
    let minutes = centi_minutes(duration_seconds.max(0));
    let per_minutes = |centi: i64, rate: Micros| (centi * rate + 50) / 100;
    let call_cost = per_minutes(minutes, rate_per_minute);
    let recording_cost = recording_rate_per_minute.map_or(0, |rate| per_minutes(minutes, rate));
    let transfer_cost = per_minutes(centi_minutes(transfer_duration_seconds.max(0)), rate_per_minute);
    CallCost {
        centi_minutes: minutes,
        call_cost,
        recording_cost,
        transfer_cost,
        llm_discount,
        total_cost: call_cost + recording_cost + transfer_cost - llm_discount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::Value::from(s.as_str())));
        }
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.as_str()), Some(*d));
        }
        for r in EndedReason::ALL {
            assert_eq!(EndedReason::parse(r.as_str()), Some(*r));
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::Value::from(r.as_str())));
        }
        assert_eq!(CallStatus::parse("in_progress"), None);
    }

    #[test]
    fn minutes_round_to_two_decimals() {
        assert_eq!(centi_minutes(127), 212);
        assert_eq!(centi_minutes(60), 100);
        assert_eq!(centi_minutes(0), 0);
        assert_eq!(centi_minutes(1), 2); // 0.0166 → 0.02
        assert_eq!(centi_minutes(3), 5); // 0.05
        assert_eq!(centi_minutes(7200), 12000);
    }

    #[test]
    fn call_prices_follow_the_formula() {
        // The seed's example: 127 s at 0.25 → 2.12 min → 0.53.
        let cost = price_call(127, 0, 250_000, None, 0);
        assert_eq!(cost.centi_minutes, 212);
        assert_eq!(cost.call_cost, 530_000);
        assert_eq!(cost.total_cost, 530_000);
        let cost = price_call(60, 30, 150_000, Some(10_000), 5_000);
        assert_eq!(cost.call_cost, 150_000);
        assert_eq!(cost.recording_cost, 10_000);
        assert_eq!(cost.transfer_cost, 75_000);
        assert_eq!(cost.total_cost, 150_000 + 10_000 + 75_000 - 5_000);
        assert_eq!(price_call(0, 0, 150_000, Some(1), 0).total_cost, 0);
    }
}
