//! Live calls of Switchboard: call sessions, the simulated carrier, the registry
//! of calls in progress, the outbound HTTP client every callback goes through,
//! and the language-model client.

pub mod call;
pub mod carrier;
pub mod channels;
pub mod knowledge;
pub mod llm;
pub mod llm_config;
pub mod outbound;
pub mod server_url;
pub mod sim;
pub mod webhooks;
