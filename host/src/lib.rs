//! The runner: runs monitoring checks as sandboxed WebAssembly components.
//!
//! Data flows one way (see `ARCHITECTURE.md`):
//! [`config`] → instances; [`catalog`] → plugins; [`resolve`] pairs them
//! and validates; [`sandbox`] runs an instance's component with limits,
//! feeding it [`snapshot`] data; what it submits goes through the
//! [`collector`] and [`aggregator`]; the [`cli`] verbs print it.

pub mod aggregator;
pub mod catalog;
pub mod cli;
pub mod cmdline_scrub;
pub mod collector;
pub mod config;
pub mod escape;
pub mod goyaml;
pub mod grants;
pub mod pyregex;
pub mod resolve;
pub mod sandbox;
pub mod scheduler;
pub mod scrub;
pub mod snapshot;
