//! Pure types and rules of Switchboard: no I/O, no clocks read, nothing async.
//!
//! Everything here is deterministic given its inputs so it can be unit-tested in
//! isolation and shared by the API, the store and the call runtime.

pub mod addresses;
pub mod agent;
pub mod appointments;
pub mod call;
pub mod events;
pub mod extraction;
pub mod ids;
pub mod ivr;
pub mod keys;
pub mod knowledge;
pub mod memory;
pub mod messaging;
pub mod money;
pub mod page;
pub mod phone;
pub mod phone_numbers;
pub mod server_url;
pub mod sms;
pub mod tier;
pub mod time;
pub mod usage;
pub mod validation;
pub mod verify;
pub mod voices;
pub mod webhooks;
