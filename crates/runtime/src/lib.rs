//! Everything of Switchboard that is not HTTP: live calls (the call service,
//! sessions, transports), messaging channels, phone-number provisioning,
//! knowledge-base crawling, webhook delivery, speech (speech-to-text and
//! text-to-speech providers and the local voice sidecar), and what they share
//! (the language-model client and the SSRF-guarded outbound HTTP client).

pub mod appointments;
pub mod call;
pub mod knowledge;
pub mod llm;
pub mod messaging;
pub mod numbers;
pub mod outbound;
pub mod speech;
pub mod telephony;
pub mod webhooks;
