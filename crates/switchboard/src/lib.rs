//! The Switchboard server as a library: configuration, the `serve` loop and the
//! operator commands, so tests run the real server on an ephemeral port.

pub mod admin;
pub mod bench;
pub mod bench_calls;
pub mod bench_kb;
pub mod bench_load;
pub mod bench_memory;
pub mod bench_server;
pub mod bench_webhooks;
pub mod cli;
pub mod config;
pub mod dev;
mod scratch_db;
pub mod server;

pub use config::Config;
pub use server::run;
