//! Outbound HTTP: the SSRF-guarded client and request signing.
//!
//! Every request Switchboard makes to a URL a customer chose (server_url, webhooks, knowledge-base
//! crawls, LLM endpoints) goes through [`OutboundClient`], whose resolver refuses private,
//! loopback, link-local and metadata addresses at connect time. Webhooks and server_url calls
//! carry the headers of [`signature_headers`].

mod address;
pub mod client;
mod policy;
mod resolver;
pub mod signing;

pub use address::{AddressClass, blocked_reason, classify};
pub use client::{OutboundClient, OutboundError, OutboundResponse};
pub use policy::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, OutboundPolicy};
pub use signing::{
    DEFAULT_TOLERANCE_SECS, SECRET_PREFIX, SWITCHBOARD_SIGNATURE_HEADER, SWITCHBOARD_TIMESTAMP_HEADER, SigningError,
    WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER, signature_headers, verify_standard,
    verify_switchboard,
};
