//! Real protocol peers for tests: HTTP servers started on 127.0.0.1:0 that play
//! the other side of Switchboard's outbound protocols.

pub mod llm;
pub mod server_url;
pub mod smtp;
pub mod webhook_receiver;
