//! Caller memory (Sticky Calls): who is calling, what they called about before,
//! and what is known about them — the pure rules behind `/v1/calls/start`,
//! `/v1/calls/end` and `/v1/customers`, shared by the API and the call runtime.
//!
//! - [`wire`]: the request and response bodies, exactly as the seed documents them.
//! - [`validate`]: limits and the turn of a wire body into a checked request.
//! - [`hints`]: identity hints (ANI, external ids, a known `customer_ref`).
//! - [`scoring`]: confidence, level, recommendation and `sources` of a match.
//! - [`intents`], [`variables`]: how an intent's state and a variable's TTL move.
//! - [`rules`]: everything an operator can tune (the `[memory]` section).
//! - [`quota`]: the monthly memory quota's period and the 402 message.
//! - [`customer_ref`]: new customer references.

pub mod customer_ref;
pub mod hints;
pub mod intents;
pub mod learned;
pub mod quota;
pub mod rules;
pub mod scoring;
pub mod validate;
pub mod variables;
pub mod wire;

pub use hints::{IdentityHints, LineType};
pub use intents::{IntentStatus, IntentUpdate};
pub use rules::MemoryRules;
pub use scoring::{Identity, Level, Recommendation, ScoringWeights};
pub use validate::{EndRequest, Issue, StartRequest};
pub use variables::VariableWrite;
