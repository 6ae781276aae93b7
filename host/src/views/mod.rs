//! What people see of a process snapshot, shared by the CLI verbs
//! (`runner processes`, `runner connections`) and the daemon's Live
//! Processes page: shown values (command lines always scrubbed), the
//! search, and the processes related to one.

pub mod connections;
pub mod process;
pub mod related;
pub mod search;
