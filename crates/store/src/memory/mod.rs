//! Caller memory: customers of a project, the identifiers that recognise them,
//! their variables and intents, the calls of `/v1/calls/start` and
//! `/v1/calls/end`, and the org's monthly memory quota.
//!
//! The API and the call runtime use the same entry points, all scoped to one
//! [`MemoryScope`]: [`Store::memory_lookup`] (read-only: who is this, what is
//! open, what do we know), [`Store::memory_start_call`] and
//! [`Store::memory_record_call`] (one transaction each, metered against the
//! quota), [`Store::memory_customer`] and [`Store::memory_erase_customer`].
//! Scoring is the domain's (`switchboard_domain::memory::scoring`).

mod calls;
mod context;
mod customers;
mod identity;
mod import;
mod quota;

pub use customers::{CustomerIdentifier, CustomerIntent, CustomerRecord, CustomerVariable, MemoryCall};
pub use import::ImportedCustomer;

use std::collections::BTreeMap;

use switchboard_domain::memory::Identity;

use switchboard_domain::memory::quota::QuotaStatus;
use switchboard_domain::memory::wire::{CallEndResponse, CallStartResponse, OpenIntent, VariableValue};

pub(crate) use calls::record_call_end_in;

/// What a platform call saves to its caller's memory as it ends: written
/// with the call's end, in the same transaction.
#[derive(Debug, Clone)]
pub struct MemoryEnd {
    pub org_id: String,
    pub project_id: String,
    pub request: switchboard_domain::memory::EndRequest,
    pub rules: switchboard_domain::memory::MemoryRules,
}

/// The tenant every memory operation is confined to: customers belong to a
/// project; the quota is the org's.
#[derive(Debug, Clone, Copy)]
pub struct MemoryScope<'a> {
    pub org_id: &'a str,
    pub project_id: &'a str,
}

/// What is remembered about a caller, without recording anything.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryContext {
    /// The best-matching customer; `None` when nobody matched.
    pub customer_ref: Option<String>,
    pub identity: Identity,
    pub open_intents: Vec<OpenIntent>,
    pub variables: BTreeMap<String, VariableValue>,
}

/// How a `/v1/calls/start` went.
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    Started(CallStartResponse),
    /// The same `call_id` was started before with the same body: its response.
    Replayed(CallStartResponse),
    /// The `call_id` is taken by a different request.
    Duplicate,
    QuotaExhausted(QuotaStatus),
}

/// How a `/v1/calls/end` went.
#[derive(Debug, Clone, PartialEq)]
pub enum EndOutcome {
    Ended(CallEndResponse),
    /// The call was ended before with the same body: its response.
    Replayed(CallEndResponse),
    /// The call was ended before by a different request.
    AlreadyEnded,
    /// The call was started for another customer than `customer_ref`.
    CustomerMismatch,
    /// A standalone end named a `customer_ref` this project does not have.
    UnknownCustomer,
    QuotaExhausted(QuotaStatus),
}
