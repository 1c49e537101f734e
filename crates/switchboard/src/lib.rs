//! The Switchboard server as a library: configuration, the `serve` loop and the
//! operator commands, so tests run the real server on an ephemeral port.

pub mod admin;
pub mod cli;
pub mod config;
pub mod dev;
pub mod server;
pub mod voice;

pub use config::Config;
pub use server::run;
