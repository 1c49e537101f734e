//! The benchmarks of Switchboard as a library, so tests can run each on a
//! small scale: every one drives the real server over HTTP on a throwaway
//! database and reports figures, never a pass or fail on speed.

pub mod api;
pub mod calls;
pub mod kb;
pub mod load;
pub mod memory;
mod receiver;
mod scratch_db;
pub mod server;
pub mod webhooks;
