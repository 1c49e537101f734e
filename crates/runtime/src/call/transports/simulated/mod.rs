//! The simulated carrier: the embedded default telephony, like a carrier's test
//! mode. Outbound calls connect to a scripted callee whose behaviour the
//! destination number decides; inbound calls are injected with a caller script.
//!
//! Magic destination numbers (the last four digits decide):
//!
//! | ends in | outbound call | as a transfer destination |
//! |---|---|---|
//! | `0002` | busy | fails: busy |
//! | `0003` | rings out: no answer | fails: no answer |
//! | `0004` | an answering machine picks up | connects |
//! | `0005` | the carrier fails the call | fails: unreachable |
//! | anything else | answered | connects |

mod carrier;
mod line;
pub mod script;

pub use carrier::{DEFAULT_DIALLED, RingIn, SimulatedCarrier, ring_in};

use crate::call::NotConnected;

/// What happens when the simulated carrier dials a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialOutcome {
    Answer,
    Voicemail,
    NotConnected(NotConnected),
}

/// The outcome of dialling `number`.
pub fn dial_outcome(number: &str) -> DialOutcome {
    match last_four(number) {
        "0002" => DialOutcome::NotConnected(NotConnected::Busy),
        "0003" => DialOutcome::NotConnected(NotConnected::NoAnswer),
        "0004" => DialOutcome::Voicemail,
        "0005" => DialOutcome::NotConnected(NotConnected::Failed),
        _ => DialOutcome::Answer,
    }
}

/// Why a transfer to `number` fails, if it does.
pub fn transfer_failure(number: &str) -> Option<&'static str> {
    match last_four(number) {
        "0002" => Some("destination busy"),
        "0003" => Some("no answer at destination"),
        "0005" => Some("destination unreachable"),
        _ => None,
    }
}

fn last_four(number: &str) -> &str {
    &number[number.len().saturating_sub(4)..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert_eq!(dial_outcome("+15550100002"), DialOutcome::NotConnected(NotConnected::Busy));
        assert_eq!(dial_outcome("+15550100003"), DialOutcome::NotConnected(NotConnected::NoAnswer));
        assert_eq!(dial_outcome("+15550100004"), DialOutcome::Voicemail);
        assert_eq!(dial_outcome("+15550100005"), DialOutcome::NotConnected(NotConnected::Failed));
        assert_eq!(dial_outcome("+31612345678"), DialOutcome::Answer);
        assert_eq!(transfer_failure("+31850000005"), Some("destination unreachable"));
        assert_eq!(transfer_failure("+31850000004"), None);
        assert_eq!(dial_outcome("1"), DialOutcome::Answer);
    }
}
