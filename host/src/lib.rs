//! The runner: runs monitoring checks as sandboxed WebAssembly components.
//!
//! Data flows one way (see `ARCHITECTURE.md`):
//! [`config`] → instances; [`catalog`] → plugins; [`resolve`] pairs them
//! and validates; [`sandbox`] runs an instance's component with limits,
//! feeding it [`snapshot`] data; what it submits goes through the
//! [`collector`] and [`aggregator`]; the [`cli`] verbs print it. The
//! [`daemon`] (`runner run`) drives the [`scheduler`], records every run in
//! the [`status`] registry, stages it in the [`sinks`] and serves both
//! through the HTTP [`api`].

pub mod aggregator;
pub mod api;
pub mod catalog;
pub mod cli;
pub mod cmdline_scrub;
pub mod collector;
pub mod config;
pub mod daemon;
pub mod escape;
pub mod goyaml;
pub mod grants;
pub mod pyregex;
pub mod resolve;
pub mod sandbox;
pub mod scheduler;
pub mod scrub;
pub mod sinks;
pub mod snapshot;
pub mod status;
pub mod views;
