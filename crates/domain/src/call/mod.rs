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

pub mod analysis;
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

/// The most seconds the running part of a call may last for its total cost to
/// stay within `budget`: the call itself (`transferred: None`), or its
/// transferred leg after `transferred: Some(call_seconds)` of call.
pub fn paid_seconds(budget: Micros, rate_per_minute: Micros, transferred: Option<i64>) -> i64 {
    if rate_per_minute <= 0 {
        return i64::MAX;
    }
    let cost = |seconds: i64| match transferred {
        None => price_call(seconds, 0, rate_per_minute, None, 0).total_cost,
        Some(call) => price_call(call, seconds, rate_per_minute, None, 0).total_cost,
    };
    // Rounding to hundredths of a minute moves a price by less than a second's
    // worth: start just above the exact answer and step down.
    let mut seconds = (budget.max(0) as i128 * 60 / rate_per_minute as i128) as i64 + 1;
    while seconds > 0 && cost(seconds) > budget {
        seconds -= 1;
    }
    seconds
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
    fn paid_seconds_never_cost_more_than_the_budget() {
        assert_eq!(paid_seconds(150_000, 150_000, None), 60);
        assert_eq!(paid_seconds(0, 150_000, None), 0);
        assert_eq!(paid_seconds(-5, 150_000, None), 0);
        assert_eq!(paid_seconds(1, 0, None), i64::MAX);
        for budget in [1_000, 37_500, 150_000, 449_999, 1_000_001] {
            for rate in [10_000, 120_000, 150_000, 333_333] {
                let s = paid_seconds(budget, rate, None);
                assert!(price_call(s, 0, rate, None, 0).total_cost <= budget, "{budget} {rate} {s}");
                assert!(price_call(s + 2, 0, rate, None, 0).total_cost > budget, "{budget} {rate} {s} is the most");
                let leg = paid_seconds(budget, rate, Some(s / 2));
                assert!(price_call(s / 2, leg, rate, None, 0).total_cost <= budget, "{budget} {rate} leg {leg}");
            }
        }
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
